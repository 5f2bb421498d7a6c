//! The locations view: tasks grouped by spawn location, sorted by the chosen column, with
//! each location's live tasks over the chart window (a sparkline and its change; those folded
//! into "other" say so, and a last row is "other"), and with a mark, what changed since.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::super::app::{App, LocColumn};
use super::super::history::{signed, sparkline};
use super::super::theme::Theme;
use crate::insight::layout::Brief;
use crate::insight::Location;
use crate::model::{Model, TaskState};
use crate::present::columns::{fit_keeping, spec, Spec};
use crate::present::units::{bytes, head};
use crate::present::{escape, location};

/// The columns in display order, with their ranks (the highest is dropped first on a narrow
/// terminal): the location and what lesson 2 compares (sum, count, mean, max, min) stay
/// longest, and with a layout its two columns right after the count, with heap figures their
/// sum; then the change over the window, what changed since the mark, the sparkline. Location
/// takes what the others leave.
const LAYOUT: [Spec<LocColumn>; 19] = [
    spec(LocColumn::Tasks, 9, 3),
    spec(LocColumn::History, HISTORY_WIDTH, 14),
    spec(LocColumn::Change, 7, 10),
    spec(LocColumn::Gained, 7, 12),
    spec(LocColumn::Lost, 7, 15),
    spec(LocColumn::SinceBytes, 10, 11),
    spec(LocColumn::Live, 9, 16),
    spec(LocColumn::Idle, 9, 18),
    spec(LocColumn::SizeMin, 9, 9),
    spec(LocColumn::SizeMean, 9, 6),
    spec(LocColumn::SizeMax, 9, 7),
    spec(LocColumn::SizeSum, 9, 1),
    spec(LocColumn::Boxed, 9, 17),
    spec(LocColumn::State, 32, 4),
    spec(LocColumn::Holds, 20, 5),
    spec(LocColumn::HeapSum, 9, 2),
    spec(LocColumn::HeapMean, 10, 13),
    spec(LocColumn::HeapMax, 9, 8),
    spec(LocColumn::Location, 20, 0),
];

/// Cells of the sparkline.
const HISTORY_WIDTH: usize = 12;

/// Columns that fit `width`, never dropping `sort`; the layout's columns only `with_layout`,
/// the mark's only `marked`, the heap's only `with_heap`.
pub fn columns(
    width: u16,
    sort: LocColumn,
    with_layout: bool,
    marked: bool,
    with_heap: bool,
) -> Vec<(LocColumn, u16)> {
    let shown: Vec<Spec<LocColumn>> = LAYOUT
        .into_iter()
        .filter(|s| s.column.shown(with_layout, marked, with_heap) || s.column == sort)
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
    let marked = app.mark.is_some();
    let widths = columns(
        area.width,
        view.sort,
        view.with_layout,
        marked,
        view.with_heap,
    );
    let shown = LAYOUT
        .iter()
        .filter(|s| {
            s.column.shown(view.with_layout, marked, view.with_heap) || s.column == view.sort
        })
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
    let since = |l: &Location| {
        view.since
            .as_ref()
            .and_then(|s| s.of(model.resolve(l.location)))
    };
    let rows = view
        .rows
        .iter()
        .enumerate()
        .skip(view.offset)
        .take(visible)
        .map(|(i, l)| {
            let (state, holds) = brief_cells(view.brief(l));
            let history = view.history.tracked.get(&l.location);
            let change = since(l);
            let cells = widths.iter().map(|(c, _)| match c {
                // A location without a column of its own is counted in "other" (last row).
                LocColumn::History => match history {
                    Some(h) => Cell::from(sparkline(&h.points, HISTORY_WIDTH)),
                    None if l.live() > 0 => Cell::from("in other").style(theme.label()),
                    None => Cell::from(""),
                },
                c => Cell::from(match c {
                    LocColumn::Tasks => l.tasks.to_string(),
                    LocColumn::Change => history.map_or(String::new(), |h| signed(h.change)),
                    LocColumn::Gained => format!("+{}", change.map_or(0, |c| c.tasks_gained)),
                    LocColumn::Lost => format!("-{}", change.map_or(0, |c| c.tasks_lost)),
                    LocColumn::SinceBytes => {
                        signed_bytes_i(change.map_or(0, |c| c.future_bytes_change))
                    }
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
                    LocColumn::History => String::new(),
                }),
            });
            let style = if i == view.selected {
                theme.selected()
            } else {
                Style::new()
            };
            Row::new(cells).style(style)
        });
    let footnotes = footnotes(app, &widths, loc_width, theme);
    let room = visible.saturating_sub(view.rows.len().saturating_sub(view.offset));
    let rows: Vec<Row> = rows.chain(footnotes.into_iter().take(room)).collect();
    frame.render_widget(
        super::table::sorted(rows, &widths, view.sort, view.descending, &note, theme),
        area,
    );
}

/// The dim rows after the last location: "other" (the locations without a column of their
/// own, summed) and, with a mark, the locations whose tasks all ended since.
fn footnotes<'a>(
    app: &App,
    widths: &[(LocColumn, u16)],
    loc_width: usize,
    theme: Theme,
) -> Vec<Row<'a>> {
    let view = &app.locations;
    let mut out = Vec::new();
    let folded = view
        .rows
        .iter()
        .filter(|l| l.live() > 0 && !view.history.tracked.contains_key(&l.location))
        .count();
    if folded > 0 {
        let other = &view.history.other;
        // The top `capacity` by peak have a column; the rest are summed here.
        let what = format!(
            "other: {folded} location{}",
            if folded == 1 { "" } else { "s" }
        );
        let cells = widths.iter().map(|(c, _)| match c {
            LocColumn::History => sparkline(&other.points, HISTORY_WIDTH),
            LocColumn::Change => signed(other.change),
            LocColumn::Live => other
                .points
                .last()
                .copied()
                .flatten()
                .map_or(String::new(), |v| v.to_string()),
            LocColumn::Location => head(&what, loc_width),
            _ => String::new(),
        });
        out.push(Row::new(cells).style(theme.label()));
    }
    let emptied = view.since.as_ref().map_or(0, |s| s.emptied);
    if emptied > 0 {
        let what = format!("{emptied} location(s) with tasks at the mark have none now");
        let cells = widths.iter().map(|(c, _)| match c {
            LocColumn::Location => head(&what, loc_width),
            _ => String::new(),
        });
        out.push(Row::new(cells).style(theme.label()));
    }
    out
}

/// Signed bytes of a change: `+1.1 MiB`, `-400 B`, `0 B`.
fn signed_bytes_i(v: i64) -> String {
    match v {
        0 => "0 B".into(),
        v if v > 0 => format!("+{}", bytes(v.unsigned_abs())),
        v => format!("-{}", bytes(v.unsigned_abs())),
    }
}
