//! The locations view: tasks grouped by spawn location, sorted by the chosen column.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::super::app::{App, LocColumn};
use super::super::theme::Theme;
use crate::insight::layout::Brief;
use crate::insight::Location;
use crate::model::{Model, TaskState};
use crate::present::columns::{fit_keeping, spec, Spec};
use crate::present::units::bytes;
use crate::present::{escape, location};

/// The columns in display order, with their ranks (the highest is dropped first on a narrow
/// terminal): the location and what lesson 2 compares (sum, count, mean, max, min) stay
/// longest, and with a layout its two columns right after the count. Location takes what the
/// others leave.
const LAYOUT: [Spec<LocColumn>; 14] = [
    spec(LocColumn::Tasks, 9, 3),
    spec(LocColumn::Live, 9, 11),
    spec(LocColumn::Idle, 9, 13),
    spec(LocColumn::SizeMin, 9, 9),
    spec(LocColumn::SizeMean, 9, 6),
    spec(LocColumn::SizeMax, 9, 8),
    spec(LocColumn::SizeSum, 9, 1),
    spec(LocColumn::Boxed, 9, 12),
    spec(LocColumn::State, 32, 4),
    spec(LocColumn::Holds, 20, 5),
    spec(LocColumn::HeapSum, 9, 2),
    spec(LocColumn::HeapMean, 10, 10),
    spec(LocColumn::HeapMax, 9, 7),
    spec(LocColumn::Location, 20, 0),
];

/// Columns that fit `width`, never dropping `sort`; the layout's columns only `with_layout`,
/// the heap's only `with_heap`.
pub fn columns(
    width: u16,
    sort: LocColumn,
    with_layout: bool,
    with_heap: bool,
) -> Vec<(LocColumn, u16)> {
    let shown: Vec<Spec<LocColumn>> = LAYOUT
        .into_iter()
        .filter(|s| s.column.shown(with_layout, with_heap) || s.column == sort)
        .collect();
    fit_keeping(&shown, usize::from(width), 0, Some(sort))
        .into_iter()
        .map(|c| (c.column, c.width as u16))
        .collect()
}

/// The layout's columns of a row: the largest state (`Suspend0 16.2 KiB @ file.rs:50`) and
/// the biggest field held there (`buf 16.0 KiB`); a word where the tasks matched no future
/// exactly.
fn brief_cells(brief: Option<&Brief>) -> (String, String) {
    match brief.map(|b| &b.state) {
        None => (String::new(), String::new()),
        Some(Err(why)) => ((*why).to_string(), String::new()),
        Some(Ok(s)) => {
            let at =
                s.at.as_ref()
                    .map_or(String::new(), |a| format!(" @ {}", escape(a)));
            let holds = s.field.as_ref().map_or(String::new(), |(n, b)| {
                format!("{} {}", escape(n), bytes(*b))
            });
            (format!("{} {}{at}", s.name, bytes(s.size)), holds)
        }
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let visible = super::table_rows(area);
    let view = &app.locations;
    let widths = columns(area.width, view.sort, view.with_layout, view.with_heap);
    let shown = LAYOUT
        .iter()
        .filter(|s| s.column.shown(view.with_layout, view.with_heap) || s.column == view.sort)
        .count();
    let heap = |l: &Location| model.heap().location(l.location);
    let heap_text = |v: Option<u64>| v.map_or("?".into(), bytes);
    let loc_width = super::table::location_width(&widths, area.width);
    let title_width =
        LocColumn::Location.title().len() + usize::from(view.sort == LocColumn::Location);
    let note = super::table::hidden_note(shown - widths.len(), title_width, loc_width);
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
            let (state, holds) = brief_cells(view.brief(l));
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
                    LocColumn::State => state.clone(),
                    LocColumn::Holds => holds.clone(),
                    LocColumn::HeapSum => heap_text(heap(l).map(|h| h.bytes)),
                    LocColumn::HeapMean => {
                        heap_text(heap(l).and_then(|h| h.bytes.checked_div(l.live())))
                    }
                    LocColumn::HeapMax => heap_text(heap(l).map(|h| h.max_bytes)),
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
        super::table::sorted(rows, &widths, view.sort, view.descending, &note, theme),
        area,
    );
}
