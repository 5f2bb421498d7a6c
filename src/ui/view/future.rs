//! The layout view (`t`, with `--layout`): one task's future as a tree of its states, the
//! fields each holds and the coroutines those are, the selected row highlighted; → or Enter
//! unfolds, ← folds (the keys act in `App`, the rows come from `present::layout`).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::super::app::App;
use super::super::theme::Theme;
use crate::present::layout::row_text;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let block = Block::bordered().title(Span::styled(
        " future layout (↑↓ move, → unfold, ← fold, Esc back) ",
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let view = &app.future;
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(view.head.clone(), theme.label()))),
        head,
    );
    let rows = view.rows(app.layout.as_deref());
    if rows.is_empty() {
        return;
    }
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(view.offset)
        .take(usize::from(body.height))
        .map(|(i, r)| {
            let text = row_text(r);
            if i == view.selected {
                Line::from(Span::styled(text, theme.selected()))
            } else {
                Line::from(text)
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}
