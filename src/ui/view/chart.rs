//! The chart: RSS and live tasks over the zoomed time window, one pane each.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType};
use ratatui::Frame;

use super::super::app::App;
use super::super::theme::Theme;
use crate::model::Model;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let window = app.window().as_secs_f64();
    let now = model.series().last().map_or(0, |s| s.at);
    let mut rss = Vec::new();
    let mut live = Vec::new();
    for s in model.series().samples() {
        let x = (s.at - now) as f64 / 1e9;
        if x >= -window {
            rss.push((x, s.rss_bytes as f64 / (1024.0 * 1024.0)));
            live.push((x, s.live_tasks as f64));
        }
    }
    let [top, bottom] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
    let x_labels = vec![
        Span::raw(format!("-{}", short_window(window))),
        Span::raw("now"),
    ];
    let mib = |v: f64| format!("{v:.0} MiB");
    let count = |v: f64| format!("{v:.0}");
    // Both panes get y labels of the same width so their time axes line up.
    frame.render_widget(
        pane(
            &rss,
            "RSS",
            &|v| format!("{:>9}", mib(v)),
            theme.rss(),
            None,
            window,
        ),
        top,
    );
    frame.render_widget(
        pane(
            &live,
            "live tasks",
            &|v| format!("{:>9}", count(v)),
            theme.tasks(),
            Some(x_labels),
            window,
        ),
        bottom,
    );
}

/// One pane of the chart: a line over the shared time window, with its own y scale.
fn pane<'a>(
    data: &'a [(f64, f64)],
    name: &str,
    unit: &dyn Fn(f64) -> String,
    style: Style,
    x_labels: Option<Vec<Span<'a>>>,
    window: f64,
) -> Chart<'a> {
    let max = data.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0) * 1.1;
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(style)
        .data(data);
    let mut x_axis = Axis::default().bounds([-window, 0.0]);
    if let Some(labels) = x_labels {
        x_axis = x_axis.labels(labels);
    }
    Chart::new(vec![dataset])
        .block(
            Block::new()
                .borders(Borders::TOP)
                .title(Span::styled(format!(" {name} "), style)),
        )
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
