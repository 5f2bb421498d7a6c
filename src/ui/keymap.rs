//! Keys to actions, in one table: the dispatch ([`action`]), the help popup and the footer are
//! all generated from [`BINDINGS`].

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::source::replay::Control;

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
    Open,
    Back,
    TogglePause,
    ZoomIn,
    ZoomOut,
    Help,
    Warnings,
    Locations,
    /// The selected task's future as a tree (with `--layout`).
    Tree,
    /// Where tasks wait: a task dump (asks first when live).
    Dump,
    /// A replay control (ignored when watching a live target).
    Replay(Control),
    /// Set the mark now (or move it here): the locations view shows what changed since.
    Mark,
    ClearMark,
    /// Replay: to the next / previous spike of RSS.
    NextSpike,
    PrevSpike,
}

/// One key press: a key, with Control held or not (other modifiers, such as the Shift of `G`
/// or `?`, are part of the character).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Press {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn key(c: char) -> Press {
    Press {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn ctrl(c: char) -> Press {
    Press {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn code(code: KeyCode) -> Press {
    Press { code, ctrl: false }
}

/// How a binding shows in the footer: its place there, its keys, and its words when watching a
/// live target and when replaying (`None`: not shown in that case).
#[derive(Clone, Copy, Debug)]
pub struct Footer {
    pub order: u8,
    pub keys: &'static str,
    pub live: Option<&'static str>,
    pub replay: Option<&'static str>,
}

const fn both(order: u8, keys: &'static str, what: &'static str) -> Option<Footer> {
    Some(Footer {
        order,
        keys,
        live: Some(what),
        replay: Some(what),
    })
}

const fn live(order: u8, keys: &'static str, what: &'static str) -> Option<Footer> {
    Some(Footer {
        order,
        keys,
        live: Some(what),
        replay: None,
    })
}

const fn replay(order: u8, keys: &'static str, what: &'static str) -> Option<Footer> {
    Some(Footer {
        order,
        keys,
        live: None,
        replay: Some(what),
    })
}

/// One row of the help: the keys as shown, what they do, each press with its action, and its
/// place in the footer.
pub struct Binding {
    pub keys: &'static str,
    pub what: &'static str,
    pub presses: &'static [(Press, Action)],
    pub footer: Option<Footer>,
}

/// Every key of `top`. Order is the help's order.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "q, Ctrl-C",
        what: "quit",
        presses: &[(key('q'), Action::Quit), (ctrl('c'), Action::Quit)],
        footer: both(0, "q", "quit"),
    },
    Binding {
        keys: "↑/k, ↓/j",
        what: "move the selection",
        presses: &[
            (code(KeyCode::Up), Action::Up),
            (key('k'), Action::Up),
            (code(KeyCode::Down), Action::Down),
            (key('j'), Action::Down),
        ],
        footer: None,
    },
    Binding {
        keys: "PgUp, PgDn",
        what: "move a page",
        presses: &[
            (code(KeyCode::PageUp), Action::PageUp),
            (ctrl('u'), Action::PageUp),
            (code(KeyCode::PageDown), Action::PageDown),
            (ctrl('d'), Action::PageDown),
        ],
        footer: None,
    },
    Binding {
        keys: "Home, End/G",
        what: "first / last row",
        presses: &[
            (code(KeyCode::Home), Action::Top),
            (code(KeyCode::End), Action::Bottom),
            (key('G'), Action::Bottom),
        ],
        footer: None,
    },
    Binding {
        keys: "←/h, →/l",
        what: "sort by the previous / next column",
        presses: &[
            (code(KeyCode::Left), Action::SortLeft),
            (key('h'), Action::SortLeft),
            (code(KeyCode::Right), Action::SortRight),
            (key('l'), Action::SortRight),
        ],
        footer: both(8, "←→", "sort"),
    },
    Binding {
        keys: "i",
        what: "invert the sort order",
        presses: &[(key('i'), Action::InvertSort)],
        footer: live(9, "i", "invert"),
    },
    Binding {
        keys: "/",
        what: "filter: text, state:idle, size>4k, polls>=2, boxed",
        presses: &[(key('/'), Action::StartFilter)],
        footer: both(7, "/", "filter"),
    },
    Binding {
        keys: "Esc",
        what: "leave details or help; clear the filter",
        presses: &[(code(KeyCode::Esc), Action::Back)],
        footer: None,
    },
    Binding {
        keys: "Enter",
        what: "details of the selected task; in locations, its tasks",
        presses: &[(code(KeyCode::Enter), Action::Open)],
        footer: both(10, "enter", "details"),
    },
    Binding {
        keys: "g",
        what: "group by spawn location; g again for tasks",
        presses: &[(key('g'), Action::Locations)],
        footer: both(11, "g", "locations"),
    },
    Binding {
        keys: "t",
        what: "with --layout: the task's future as an unfoldable tree",
        presses: &[(key('t'), Action::Tree)],
        footer: None,
    },
    Binding {
        keys: "d",
        what: "where tasks wait: a task dump (asks first), by await",
        presses: &[(key('d'), Action::Dump)],
        footer: None,
    },
    Binding {
        keys: "Space",
        what: "pause / resume (console Pause RPC; the view freezes)",
        presses: &[(key(' '), Action::TogglePause)],
        footer: Some(Footer {
            order: 1,
            keys: "space",
            live: Some("pause"),
            replay: Some("play/pause"),
        }),
    },
    Binding {
        keys: "+, -",
        what: "zoom the chart's time window in / out",
        presses: &[
            (key('+'), Action::ZoomIn),
            (key('='), Action::ZoomIn),
            (key('-'), Action::ZoomOut),
        ],
        footer: live(12, "+-", "zoom"),
    },
    Binding {
        keys: "w",
        what: "list warnings",
        presses: &[(key('w'), Action::Warnings)],
        footer: live(13, "w", "warnings"),
    },
    Binding {
        keys: "m, M",
        what: "set the mark here / clear it; locations show the change since",
        presses: &[(key('m'), Action::Mark), (key('M'), Action::ClearMark)],
        footer: both(15, "m", "mark"),
    },
    Binding {
        keys: "n, N",
        what: "replay: next / previous RSS spike, marked at its start",
        presses: &[(key('n'), Action::NextSpike), (key('N'), Action::PrevSpike)],
        footer: replay(16, "n N", "spikes"),
    },
    Binding {
        keys: "[ ] { }",
        what: "replay: back / forward 10 s, 1 min",
        presses: &[
            (key('['), Action::Replay(Control::Seek(-SHORT_SEEK))),
            (key(']'), Action::Replay(Control::Seek(SHORT_SEEK))),
            (key('{'), Action::Replay(Control::Seek(-LONG_SEEK))),
            (key('}'), Action::Replay(Control::Seek(LONG_SEEK))),
        ],
        footer: replay(2, "[]{}", "±10s/1m"),
    },
    Binding {
        keys: "0",
        what: "replay: back to the start",
        presses: &[(key('0'), Action::Replay(Control::SeekStart))],
        footer: replay(4, "0", "start"),
    },
    Binding {
        keys: ".",
        what: "replay: step to the next update (pauses)",
        presses: &[(key('.'), Action::Replay(Control::Step))],
        footer: replay(5, ".", "step"),
    },
    Binding {
        keys: "<, >",
        what: "replay: half / double speed (Space pauses the replay)",
        presses: &[
            (key('<'), Action::Replay(Control::Slower)),
            (key('>'), Action::Replay(Control::Faster)),
        ],
        footer: replay(6, "< >", "speed"),
    },
    Binding {
        keys: "?",
        what: "this help",
        presses: &[(key('?'), Action::Help)],
        footer: both(20, "?", "help"),
    },
];

/// The action of a key press in the normal (not text-editing) mode.
pub fn action(key: KeyEvent) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let press = Press {
        code: key.code,
        ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
    };
    BINDINGS
        .iter()
        .flat_map(|b| b.presses)
        .find(|(p, _)| *p == press)
        .map(|(_, a)| *a)
}

/// The footer's key list, when watching a live target or replaying a recording.
pub fn footer(replaying: bool) -> String {
    let mut shown: Vec<(u8, &str, &str)> = BINDINGS
        .iter()
        .filter_map(|b| b.footer)
        .filter_map(|f| {
            let what = if replaying { f.replay } else { f.live };
            what.map(|w| (f.order, f.keys, w))
        })
        .collect();
    shown.sort_by_key(|s| s.0);
    shown
        .iter()
        .map(|(_, keys, what)| format!("{keys} {what}"))
        .collect::<Vec<_>>()
        .join("  ")
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
    fn control_is_its_own_key() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(action(ctrl('c')), Some(Action::Quit));
        assert_eq!(action(ctrl('d')), Some(Action::PageDown));
        assert_eq!(action(ctrl('q')), None);
        let shifted = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(action(shifted), Some(Action::Bottom));
    }

    #[test]
    fn every_press_is_bound_once() {
        let presses: Vec<Press> = BINDINGS
            .iter()
            .flat_map(|b| b.presses)
            .map(|(p, _)| *p)
            .collect();
        for (i, p) in presses.iter().enumerate() {
            assert!(!presses[..i].contains(p), "{p:?} is bound twice");
        }
    }

    #[test]
    fn footers_follow_their_order_and_case() {
        let orders: Vec<u8> = BINDINGS
            .iter()
            .filter_map(|b| b.footer)
            .map(|f| f.order)
            .collect();
        for (i, o) in orders.iter().enumerate() {
            assert!(!orders[..i].contains(o), "footer place {o} is taken twice");
        }
        assert!(footer(false).starts_with("q quit  space pause  "));
        assert!(footer(true).contains("space play/pause  []{} ±10s/1m"));
        assert!(!footer(false).contains("±10s") && !footer(true).contains("zoom"));
    }
}
