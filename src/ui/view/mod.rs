//! Drawing `&Model` and `&App` into a frame, one file per screen; nothing here changes the app
//! (what depends on the frame's size, such as the page length, is set before, by
//! [`App::prepare`]). Reads only what is on screen.

mod chart;
mod details;
mod footer;
mod future;
mod header;
mod locations;
mod parked;
mod popups;
mod table;
mod tasks;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub use footer::time_of_day;

use super::app::{App, Mode};
use super::theme::Theme;
use crate::model::{Connection, Model};

/// Where each part of the screen goes, or `None` when the terminal is too small for anything
/// but a word.
pub struct Areas {
    pub header: Rect,
    /// What the header shows, wrapped to its width (as many rows as `header` has, or more on a
    /// terminal too short for them all).
    pub header_rows: Vec<Line<'static>>,
    /// Zero height on short terminals.
    pub chart: Rect,
    pub body: Rect,
    pub footer: Rect,
}

/// Rows the body keeps before the chart gives up any: a table header and seven rows; for a
/// task's details, its fields down to its timings.
const MIN_BODY: u16 = 8;
const MIN_BODY_DETAILS: u16 = 15;

/// Fewest rows a chart is drawn in (two panes of a line and an axis each); fewer is none.
const MIN_CHART: u16 = 6;

pub fn areas(area: Rect, app: &App, model: &Model) -> Option<Areas> {
    if area.width < 20 || area.height < 4 {
        return None;
    }
    // The header gets the rows its lines wrap to at this width, leaving the body and the
    // footer two rows and a row on the shortest terminals (a table header and one task).
    let header_rows = header::rows(app, model, area.width, Theme { color: app.color });
    let header_height = u16::try_from(header_rows.len())
        .unwrap_or(u16::MAX)
        .min(area.height - 3);
    // The chart takes a third of a tall terminal, less what the body needs to keep its
    // minimum under a wrapped header, and none rather than a squashed one.
    let chart_height = if area.height >= 24 {
        let left = area.height - header_height - 1;
        let chart = if *model.connection() == Connection::RssOnly {
            // No tasks to list: the chart is the picture, the table keeps its header row.
            left.saturating_sub(2)
        } else {
            let min_body = if matches!(app.mode, Mode::Details | Mode::Future) {
                MIN_BODY_DETAILS
            } else {
                MIN_BODY
            };
            (area.height / 3).max(8).min(left.saturating_sub(min_body))
        };
        if chart >= MIN_CHART {
            chart
        } else {
            0
        }
    } else {
        0
    };
    let [header, chart, body, footer] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Length(chart_height),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Some(Areas {
        header,
        header_rows,
        chart,
        body,
        footer,
    })
}

/// Rows of a table drawn in `body` (one is its header).
pub fn table_rows(body: Rect) -> usize {
    usize::from(body.height.saturating_sub(1))
}

pub fn draw(frame: &mut Frame, app: &App, model: &Model) {
    let theme = Theme { color: app.color };
    let area = frame.area();
    let Some(a) = areas(area, app, model) else {
        // Too small for anything but a word: say so in what fits.
        frame.render_widget(
            Paragraph::new("asyncmem: enlarge the terminal").style(theme.warn()),
            area,
        );
        return;
    };
    header::draw(frame, a.header, a.header_rows);
    if a.chart.height > 0 {
        chart::draw(frame, a.chart, app, model, theme);
    }
    match app.mode {
        Mode::Details => details::draw(frame, a.body, app, model, theme),
        Mode::Locations => locations::draw(frame, a.body, app, model, theme),
        Mode::Future => future::draw(frame, a.body, app, theme),
        Mode::Parked => parked::draw(frame, a.body, app, model, theme),
        _ => tasks::draw(frame, a.body, app, model, theme),
    }
    footer::draw(frame, a.footer, app, model.playback().is_some(), theme);
    match app.mode {
        Mode::Help => popups::help(frame, area, theme),
        Mode::Warnings => popups::warnings(frame, area, model, theme),
        Mode::ConfirmDump => popups::confirm_dump(frame, area, model, theme),
        _ => {}
    }
}
