//! The footer: the selection's row, the filter, the mark and (replaying) the spike shown, and
//! the keys (from the keymap's table).
//! Where the keys do not all fit, whole entries go from the end and the last (`? help`, which
//! lists them all) stays.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::app::App;
use super::super::keymap;
use super::super::theme::Theme;
use crate::present::escape;
use crate::present::units::bytes;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, replay: bool, theme: Theme) {
    let line = if app.editing_filter {
        Line::from(vec![
            Span::styled(" filter: ", theme.warn()),
            Span::raw(escape(&app.filter).into_owned()),
            Span::styled("█", theme.label()),
            match app.index.filter_error() {
                Some(e) => Span::styled(format!("  {}", escape(e)), theme.bad()),
                None => Span::styled("  (Enter keeps, Esc clears)", theme.label()),
            },
        ])
    } else {
        let mut spans = vec![Span::styled(
            format!(
                " {}/{} ",
                (app.selected_row + 1).min(app.index.len()),
                app.index.len()
            ),
            theme.value(),
        )];
        if !app.filter.is_empty() {
            spans.push(Span::styled(
                format!("filter: {} (Esc clears)  ", escape(&app.filter)),
                theme.warn(),
            ));
        }
        if let Some(e) = app.index.filter_error() {
            spans.push(Span::styled(format!("{}  ", escape(e)), theme.bad()));
        }
        if let Some(s) = spike_note(app, replay) {
            spans.push(Span::styled(s, theme.warn()));
        }
        if let Some(m) = &app.mark {
            spans.push(Span::styled(
                format!("since mark {} UTC  ", time_of_day(m.at_ns)),
                theme.warn(),
            ));
        }
        let used: usize = spans.iter().map(Span::width).sum();
        let room = usize::from(area.width).saturating_sub(used);
        spans.push(Span::styled(
            fit_keys(&keymap::footer(replay), room),
            theme.label(),
        ));
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The wall clock's time of day of `ns` (since the epoch), UTC: `18:40:12`.
pub fn time_of_day(ns: i64) -> String {
    let s = ns.div_euclid(1_000_000_000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// In a replay: where the spikes stand (being looked for, none, or the one shown).
fn spike_note(app: &App, replay: bool) -> Option<String> {
    if !replay {
        return None;
    }
    let nav = &app.spikes;
    nav.found.as_ref()?;
    let Some(list) = nav.list() else {
        return Some("spikes: reading the recording…  ".into());
    };
    if list.is_empty() {
        return Some("no RSS spike in the recording  ".into());
    }
    let Some(s) = nav.current.and_then(|i| list.get(i).map(|s| (i, s))) else {
        return Some(format!("{} spikes (n)  ", list.len()));
    };
    let (i, s) = s;
    let sign = if s.rss_change_bytes < 0 { "-" } else { "+" };
    Some(format!(
        "spike {}/{} (#{} steepest): {}..{} RSS {sign}{}  ",
        i + 1,
        list.len(),
        s.rank,
        clock(s.from),
        clock(s.to),
        bytes(s.rss_change_bytes.unsigned_abs()),
    ))
}

/// A recording position as m:ss.s.
fn clock(ns: i64) -> String {
    let tenths = ns.max(0) / 100_000_000;
    format!("{}:{:02}.{}", tenths / 600, tenths / 10 % 60, tenths % 10)
}

/// The footer's key entries (`keys what`, two spaces apart) that fit `room` columns: the first
/// ones in order, then always the last.
fn fit_keys(keys: &str, room: usize) -> String {
    let entries: Vec<&str> = keys.split("  ").collect();
    let width = |s: &str| Span::raw(s).width();
    if width(keys) <= room {
        return keys.to_string();
    }
    let Some((last, first)) = entries.split_last() else {
        return String::new();
    };
    let mut shown: Vec<&str> = Vec::new();
    let mut used = width(last);
    for e in first {
        if used + width(e) + 2 > room {
            break;
        }
        used += width(e) + 2;
        shown.push(e);
    }
    shown.push(last);
    shown.join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_key_stays_when_the_keys_do_not_fit() {
        let keys = keymap::footer(false);
        assert_eq!(fit_keys(&keys, 500), keys);
        let short = fit_keys(&keys, 40);
        assert!(Span::raw(short.as_str()).width() <= 40, "{short}");
        assert!(
            short.starts_with("q quit  ") && short.ends_with("  ? help"),
            "{short}"
        );
        // Whole entries only: every one shown is one of the keymap's.
        assert!(short.split("  ").all(|e| keys.split("  ").any(|k| k == e)));
    }
}
