//! The tasks view: the visible window of the sorted, filtered task index, the columns that fit.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::super::app::App;
use super::super::theme::Theme;
use crate::model::{Model, TaskState};
use crate::present::columns;
use crate::present::units::tail;
use crate::present::Column;

/// Columns that fit `width`, least useful dropped first but never `sort` (the column being
/// looked at); Location takes the rest.
pub fn columns(width: u16, sort: Column, heap: bool) -> Vec<(Column, u16)> {
    let layout = columns::with_heap(&columns::TUI, heap || sort == Column::Heap);
    columns::fit_keeping(&layout, usize::from(width), 0, Some(sort))
        .into_iter()
        .map(|c| (c.column, c.width as u16))
        .collect()
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let heap = model.heap().known();
    let cols = columns(area.width, app.sort, heap);
    let all = columns::with_heap(&columns::TUI, heap || app.sort == Column::Heap).len();
    let visible = super::table_rows(area);
    let loc_width = super::table::location_width(&cols, area.width);
    let title_width = Column::Location.title().len() + usize::from(app.sort == Column::Location);
    let note = super::table::hidden_note(all - cols.len(), title_width, loc_width);
    // Lints at the time the header's counts were taken: rows and header agree.
    let lints_at = app.lint_counts.at_or(model.now());
    let rows = app.index.rows()[app.offset.min(app.index.len())..]
        .iter()
        .enumerate()
        .filter_map(|(i, &slot)| Some((i, model.slot(slot)?)))
        .take(visible)
        .map(|(i, t)| {
            let cells = cols.iter().map(|(c, _)| {
                // Escaped and shortened by cell_text: widths count what is drawn.
                let text = columns::cell_text(model, t, *c, &app.lints, lints_at);
                match c {
                    Column::Location => Cell::from(tail(&text, loc_width)),
                    Column::Size if t.boxed => Cell::from(Span::styled(text, theme.boxed())),
                    _ => Cell::from(text),
                }
            });
            let mut style = if t.state() == TaskState::Done {
                theme.done()
            } else {
                Style::new()
            };
            if app.offset + i == app.selected_row {
                style = style.patch(theme.selected());
            }
            Row::new(cells).style(style)
        });
    frame.render_widget(
        super::table::sorted(rows, &cols, app.sort, app.descending, &note, theme),
        area,
    );
}
