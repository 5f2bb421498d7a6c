//! The chart: RSS and live tasks over the zoomed time window, one pane each. Beside RSS, the
//! memory the live tasks explain ([`crate::insight::explained`]): the gap between the two lines
//! is what they do not. Beside the live tasks, the selected location's (in the locations view).
//! With a mark, a vertical line where it was set.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType};
use ratatui::Frame;

use super::super::app::{App, Mode};
use super::super::theme::Theme;
use crate::insight;
use crate::model::{Connection, Model, Nanos, Sym};
use crate::present::location;
use crate::present::units::bytes;

/// One line of a pane: its points and its style.
struct Trace<'a> {
    data: &'a [(f64, f64)],
    style: Style,
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let window = app.window().as_secs_f64();
    let now = model.series().last().map_or(0, |s| s.at);
    let x_of = |at: Nanos| (at - now) as f64 / 1e9;
    let instrumentation = model.instrumentation();
    // Without a console nothing is known of the tasks: no estimate to draw.
    let tasks_known = *model.connection() != Connection::RssOnly;
    let mut rss = Vec::new();
    let mut explained = Vec::new();
    let mut live = Vec::new();
    for s in model.series().samples() {
        let x = x_of(s.at);
        if x >= -window {
            rss.push((x, mib(s.rss_bytes)));
            if tasks_known {
                explained.push((x, mib(insight::explained_bytes(s, instrumentation))));
            }
            live.push((x, s.live_tasks as f64));
        }
    }
    let selected = selected_location(app);
    let located = selected.map_or_else(Vec::new, |sym| location_points(model, sym, now, window));
    let [upper, lower] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
    let x_labels = vec![
        Span::raw(format!("-{}", short_window(window))),
        Span::raw("now"),
    ];
    // The mark, where it is inside the window: a vertical line across each pane.
    let mark_x = app
        .mark
        .as_ref()
        .map(|m| x_of(m.at_ns))
        .filter(|x| *x >= -window && *x <= 0.0);
    let mib_label = |v: f64| format!("{v:.0} MiB");
    let count = |v: f64| format!("{v:.0}");
    let last = model.series().last();
    let mut rss_title = vec![Span::styled(" RSS ", theme.rss())];
    if let Some(s) = last.filter(|_| tasks_known) {
        let e = insight::explained_bytes(s, instrumentation);
        let share = if s.rss_bytes > 0 {
            format!(" ({:.0} %)", e as f64 / s.rss_bytes as f64 * 100.0)
        } else {
            String::new()
        };
        rss_title.push(Span::styled(
            format!("{} ", bytes(s.rss_bytes)),
            theme.rss(),
        ));
        rss_title.push(Span::styled(
            format!(" explained by tasks {}{share} ", bytes(e)),
            theme.good(),
        ));
    }
    let mut live_title = vec![Span::styled(" live tasks ", theme.tasks())];
    if let Some(sym) = selected.filter(|_| !located.is_empty()) {
        let n = located.last().map_or(0.0, |p| p.1);
        live_title.push(Span::styled(
            format!(" {} {n:.0} ", location::display(model.resolve(sym))),
            theme.boxed(),
        ));
    }
    let rss_max = top(&[&rss, &explained]);
    let live_max = top(&[&live, &located]);
    let rss_mark = mark_x.map(|x| [(x, 0.0), (x, rss_max)]);
    let live_mark = mark_x.map(|x| [(x, 0.0), (x, live_max)]);
    // Both panes get y labels of the same width so their time axes line up.
    frame.render_widget(
        pane(
            &[
                Trace {
                    data: &rss,
                    style: theme.rss(),
                },
                Trace {
                    data: &explained,
                    style: theme.good(),
                },
            ],
            rss_title,
            &|v| format!("{:>9}", mib_label(v)),
            None,
            (window, rss_max),
            rss_mark.as_ref().map(|m| m.as_slice()),
        ),
        upper,
    );
    frame.render_widget(
        pane(
            &[
                Trace {
                    data: &live,
                    style: theme.tasks(),
                },
                Trace {
                    data: &located,
                    style: theme.boxed(),
                },
            ],
            live_title,
            &|v| format!("{:>9}", count(v)),
            Some(x_labels),
            (window, live_max),
            live_mark.as_ref().map(|m| m.as_slice()),
        ),
        lower,
    );
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// The location selected in the locations view, if that view is shown.
fn selected_location(app: &App) -> Option<Sym> {
    if app.mode != Mode::Locations {
        return None;
    }
    let l = &app.locations;
    l.rows.get(l.selected).map(|r| r.location)
}

/// A tracked location's live tasks over the window (none when it has no column).
fn location_points(model: &Model, sym: Sym, now: Nanos, window: f64) -> Vec<(f64, f64)> {
    let series = model.location_series();
    let times: Vec<Nanos> = series.times().copied().collect();
    let tracked = series.tracked();
    let Some(h) = tracked.iter().find(|h| h.location == sym) else {
        return Vec::new();
    };
    let offset = times.len().saturating_sub(h.len());
    h.points()
        .zip(&times[offset..])
        .map(|(p, at)| ((at - now) as f64 / 1e9, p.live_tasks as f64))
        .filter(|(x, _)| *x >= -window)
        .collect()
}

/// The top of a pane's y scale: a tenth above its highest point.
fn top(lines: &[&[(f64, f64)]]) -> f64 {
    lines
        .iter()
        .flat_map(|l| l.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1
}

/// One pane of the chart: its lines over the shared time window (`window` seconds, up to `max`
/// on the y scale), and the mark's vertical line.
fn pane<'a>(
    lines: &[Trace<'a>],
    title: Vec<Span<'a>>,
    unit: &dyn Fn(f64) -> String,
    x_labels: Option<Vec<Span<'a>>>,
    (window, max): (f64, f64),
    mark: Option<&'a [(f64, f64)]>,
) -> Chart<'a> {
    let mut datasets: Vec<Dataset<'a>> = Vec::new();
    if let Some(points) = mark {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new())
                .data(points),
        );
    }
    // Drawn after the mark, so that the data is on top.
    for l in lines.iter().rev() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(l.style)
                .data(l.data),
        );
    }
    let mut x_axis = Axis::default().bounds([-window, 0.0]);
    if let Some(labels) = x_labels {
        x_axis = x_axis.labels(labels);
    }
    Chart::new(datasets)
        .block(Block::new().borders(Borders::TOP).title(Line::from(title)))
        .x_axis(x_axis)
        .y_axis(
            Axis::default()
                .bounds([0.0, max])
                .labels(vec![Span::raw(unit(0.0)), Span::raw(unit(max))]),
        )
        .legend_position(None)
}

fn short_window(secs: f64) -> String {
    if secs >= 60.0 {
        format!("{}m", (secs / 60.0).round())
    } else {
        format!("{secs:.0}s")
    }
}
