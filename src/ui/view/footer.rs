//! The footer: the selection's row, the filter, and the keys (from the keymap's table).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::app::App;
use super::super::keymap;
use super::super::theme::Theme;
use crate::present::escape;

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
        spans.push(Span::styled(keymap::footer(replay), theme.label()));
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}
