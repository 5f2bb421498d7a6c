//! The locations view: tasks grouped by spawn location, sorted by the chosen column.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::super::app::{App, LocColumn};
use super::super::theme::Theme;
use crate::insight::Location;
use crate::model::{Model, TaskState};
use crate::present::location;
use crate::present::units::bytes;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let visible = super::table_rows(area);
    let view = &app.locations;
    let widths: Vec<(LocColumn, u16)> = LocColumn::ALL
        .iter()
        .map(|c| (*c, if *c == LocColumn::Location { 20 } else { 9 }))
        .collect();
    let loc_width = super::table::location_width(&widths, area.width);
    let size = |l: &Location, v: u64| {
        if l.sized > 0 {
            bytes(v)
        } else {
            "?".into()
        }
    };
    let rows = view
        .rows
        .iter()
        .enumerate()
        .skip(view.offset)
        .take(visible)
        .map(|(i, l)| {
            let cells = widths.iter().map(|(c, _)| {
                Cell::from(match c {
                    LocColumn::Tasks => l.tasks.to_string(),
                    LocColumn::Live => l.live().to_string(),
                    LocColumn::Idle => l.of(TaskState::Idle).to_string(),
                    LocColumn::SizeMin => size(l, l.size_min),
                    LocColumn::SizeMean => l.size_mean().map_or("?".into(), bytes),
                    LocColumn::SizeMax => size(l, l.size_max),
                    LocColumn::SizeSum => bytes(l.size_sum),
                    LocColumn::Boxed => l.boxed.to_string(),
                    LocColumn::Location => location::fit(model.resolve(l.location), loc_width),
                })
            });
            let style = if i == view.selected {
                theme.selected()
            } else {
                Style::new()
            };
            Row::new(cells).style(style)
        });
    frame.render_widget(
        super::table::sorted(rows, &widths, view.sort, view.descending, theme),
        area,
    );
}
