//! Keys to actions, in one place; the help screen is generated from this table.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::source::console::Control;

/// Seek steps of a replay.
const SHORT_SEEK: i64 = 10_000_000_000;
const LONG_SEEK: i64 = 60_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    SortLeft,
    SortRight,
    InvertSort,
    StartFilter,
    ClearFilter,
    Open,
    Back,
    TogglePause,
    ZoomIn,
    ZoomOut,
    Help,
    Warnings,
    Locations,
    /// A replay control (ignored when watching a live target).
    Replay(Control),
}

/// (keys as shown in help, what they do, the action). Order is the help's order.
pub const BINDINGS: &[(&str, &str, Action)] = &[
    ("q, Ctrl-C", "quit", Action::Quit),
    ("↑/k, ↓/j", "move the selection", Action::Down),
    ("PgUp, PgDn", "move a page", Action::PageDown),
    ("Home, End/G", "first / last row", Action::Top),
    (
        "←/h, →/l",
        "sort by the previous / next column",
        Action::SortRight,
    ),
    ("i", "invert the sort order", Action::InvertSort),
    (
        "/",
        "filter: text, state:idle, size>4k, polls>=2, boxed",
        Action::StartFilter,
    ),
    (
        "Esc",
        "leave details or help; clear the filter",
        Action::Back,
    ),
    (
        "Enter",
        "details of the selected task; in locations, its tasks",
        Action::Open,
    ),
    (
        "g",
        "group by spawn location (count, states, sizes); g again for tasks",
        Action::Locations,
    ),
    (
        "Space",
        "pause / resume (console Pause RPC; the view freezes)",
        Action::TogglePause,
    ),
    (
        "+, -",
        "zoom the chart's time window in / out",
        Action::ZoomIn,
    ),
    ("w", "list warnings", Action::Warnings),
    (
        "[, ]",
        "replay: back / forward 10 s",
        Action::Replay(Control::Seek(SHORT_SEEK)),
    ),
    (
        "{, }",
        "replay: back / forward 1 min",
        Action::Replay(Control::Seek(LONG_SEEK)),
    ),
    (
        "0",
        "replay: back to the start",
        Action::Replay(Control::SeekStart),
    ),
    (
        ".",
        "replay: step to the next update (pauses)",
        Action::Replay(Control::Step),
    ),
    (
        "<, >",
        "replay: half / double speed (Space pauses the replay)",
        Action::Replay(Control::Faster),
    ),
    ("?", "this help", Action::Help),
];

/// The action of a key press in the normal (not text-editing) mode.
pub fn action(key: KeyEvent) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Action::Quit),
            KeyCode::Char('d') => Some(Action::PageDown),
            KeyCode::Char('u') => Some(Action::PageUp),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home => Action::Top,
        KeyCode::Char('g') => Action::Locations,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Left | KeyCode::Char('h') => Action::SortLeft,
        KeyCode::Right | KeyCode::Char('l') => Action::SortRight,
        KeyCode::Char('i') => Action::InvertSort,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Esc => Action::Back,
        KeyCode::Enter => Action::Open,
        KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::ZoomIn,
        KeyCode::Char('-') => Action::ZoomOut,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('w') => Action::Warnings,
        KeyCode::Char('[') => Action::Replay(Control::Seek(-SHORT_SEEK)),
        KeyCode::Char(']') => Action::Replay(Control::Seek(SHORT_SEEK)),
        KeyCode::Char('{') => Action::Replay(Control::Seek(-LONG_SEEK)),
        KeyCode::Char('}') => Action::Replay(Control::Seek(LONG_SEEK)),
        KeyCode::Char('0') => Action::Replay(Control::SeekStart),
        KeyCode::Char('.') => Action::Replay(Control::Step),
        KeyCode::Char('<') => Action::Replay(Control::Slower),
        KeyCode::Char('>') => Action::Replay(Control::Faster),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_and_repeats_are_ignored() {
        let mut k = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(action(k), Some(Action::Quit));
        k.kind = KeyEventKind::Release;
        assert_eq!(action(k), None);
    }

    #[test]
    fn every_bound_action_is_reachable() {
        for (_, _, a) in BINDINGS {
            let reachable = [
                KeyCode::Char('q'),
                KeyCode::Down,
                KeyCode::PageDown,
                KeyCode::Home,
                KeyCode::Right,
                KeyCode::Char('i'),
                KeyCode::Char('/'),
                KeyCode::Esc,
                KeyCode::Enter,
                KeyCode::Char(' '),
                KeyCode::Char('+'),
                KeyCode::Char('w'),
                KeyCode::Char('?'),
                KeyCode::Char('g'),
                KeyCode::Char(']'),
                KeyCode::Char('}'),
                KeyCode::Char('0'),
                KeyCode::Char('.'),
                KeyCode::Char('>'),
            ]
            .iter()
            .any(|&code| action(KeyEvent::new(code, KeyModifiers::NONE)) == Some(*a));
            assert!(reachable, "{a:?} has no key");
        }
    }
}
