//! Drawing `&Model` and `&App` into a frame. Reads only what is on screen.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, Paragraph, Row, Sparkline, Table,
    Wrap,
};
use ratatui::Frame;

use super::app::{App, Mode};
use super::keymap;
use super::theme::Theme;
use crate::error::HOW_TO_INSTRUMENT;
use crate::insight::{self, Reading, Split, LAG_UNRELIABLE_NS};
use crate::model::details::DurationHistogram;
use crate::model::{Connection, Model, TaskState};
use crate::present::columns;
use crate::present::units::{bytes, duration_ns, signed_bytes, tail};
use crate::present::Column;

pub fn draw(frame: &mut Frame, app: &mut App, model: &Model) {
    app.sync(model);
    let theme = Theme { color: app.color };
    let area = frame.area();
    if area.width < 20 || area.height < 4 {
        // Too small for anything but a word: say so in what fits.
        frame.render_widget(
            Paragraph::new("asyncmem: enlarge the terminal").style(theme.warn()),
            area,
        );
        app.page = 1;
        return;
    }
    let chart_height = if area.height >= 24 {
        (area.height / 3).max(8)
    } else {
        0
    };
    let header_height = if model.connection == Connection::RssOnly {
        7
    } else {
        5
    };
    let [header, chart, body, footer] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Length(chart_height),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app, model, theme);
    if chart_height > 0 {
        draw_chart(frame, chart, app, model, theme);
    }
    match app.mode {
        Mode::Details => draw_details(frame, body, app, model, theme),
        Mode::Locations => draw_locations(frame, body, app, model, theme),
        _ => draw_table(frame, body, app, model, theme),
    }
    draw_footer(frame, footer, app, model.playback.is_some(), theme);
    match app.mode {
        Mode::Help => draw_help(frame, area, theme),
        Mode::Warnings => draw_warnings(frame, area, model, theme),
        _ => {}
    }
}

fn kv<'a>(label: &'a str, value: String, theme: Theme) -> [Span<'a>; 2] {
    [
        Span::styled(label, theme.label()),
        Span::styled(value, theme.value()),
    ]
}

/// A recording position as m:ss (h:mm:ss past an hour).
fn clock(ns: i64) -> String {
    let s = ns.max(0) / 1_000_000_000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn speed(x: f64) -> String {
    if x >= 1.0 {
        format!("{x}")
    } else {
        format!("1/{}", (1.0 / x).round())
    }
}

fn connection(c: &Connection, theme: Theme) -> (String, ratatui::style::Style) {
    match c {
        Connection::Connecting => ("connecting".to_string(), theme.warn()),
        Connection::Connected => ("● connected".to_string(), theme.good()),
        Connection::Reconnecting { attempt, reason } => (
            format!("reconnecting (attempt {attempt}: {reason})"),
            theme.warn(),
        ),
        Connection::TargetExited => ("target exited: data kept, q quits".to_string(), theme.bad()),
        Connection::RssOnly => ("no console: RSS only".to_string(), theme.warn()),
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let pid = app
        .target
        .pid
        .map_or_else(|| "?".to_string(), |p| p.to_string());
    let (conn, conn_style) = match (&model.playback, &model.connection) {
        (Some(p), _) => (
            format!(
                "{} {} / {}  ×{}",
                if p.playing { "▶" } else { "⏸" },
                clock(p.position),
                clock(p.length),
                speed(p.speed)
            ),
            theme.good(),
        ),
        (None, c) => connection(c, theme),
    };
    let mut line1 = vec![
        Span::styled(" asyncmem ", theme.title()),
        Span::styled(" pid ", theme.label()),
        Span::styled(pid, theme.value()),
        Span::raw("  "),
        Span::raw(
            model
                .endpoint
                .clone()
                .unwrap_or_else(|| app.target.endpoint.clone()),
        ),
        Span::raw("  "),
        Span::styled(conn, conn_style),
    ];
    if let Some(problem) = model.playback.as_ref().and_then(|p| p.problem.as_ref()) {
        line1.push(Span::styled(format!("  {problem}"), theme.warn()));
    }
    if model.playback.is_none() && (app.frozen || model.paused) {
        line1.push(Span::styled("  ⏸ PAUSED (space resumes)", theme.warn()));
    }
    let c = model.counts();
    let rss = model
        .last_rss
        .map_or_else(|| "?".to_string(), |r| bytes(r.rss_bytes));
    let anon = model
        .last_rss
        .map_or_else(|| "?".to_string(), |r| bytes(r.anon_rss_bytes));
    let mut line2 = vec![Span::raw(" ")];
    line2.extend(kv("RSS ", rss, theme));
    line2.extend(kv(" (anon ", anon, theme));
    line2.extend(kv(")   live tasks ", c.live().to_string(), theme));
    line2.extend(kv(": ", c.running.to_string(), theme));
    line2.extend(kv(" running ", c.scheduled.to_string(), theme));
    line2.extend(kv(" scheduled ", c.idle.to_string(), theme));
    line2.extend(kv(" idle   done ", c.done.to_string(), theme));
    let mean = c.future_bytes.checked_div(c.sized).unwrap_or(0);
    let mut line3 = vec![Span::raw(" ")];
    line3.extend(kv("futures ", bytes(c.future_bytes), theme));
    line3.extend(kv(" in ", format!("{} sized tasks", c.sized), theme));
    line3.extend(kv(" (mean ", format!("{})", bytes(mean)), theme));
    let instr = insight::instrumentation_bytes_per_task(model.instrumentation);
    line3.extend(kv(
        "   instrumentation ",
        model.instrumentation.as_str().to_string(),
        theme,
    ));
    if let Some(b) = instr.filter(|b| *b > 0) {
        line3.push(Span::styled(
            format!(" (~{}/task)", bytes(b)),
            theme.label(),
        ));
    }
    let mut line4 = vec![Span::raw(" ")];
    let bpt = crate::insight::bytes_per_task(model, Some(app.window()));
    match bpt.reading() {
        Reading::Fitted {
            slope,
            r2,
            samples,
            split,
        } => {
            line4.extend(kv("bytes/task ", signed_bytes(slope), theme));
            line4.push(Span::styled(
                format!(" (r² {r2:.2}, {samples} samples)"),
                theme.label(),
            ));
            match split {
                _ if bpt.caveat.is_some() => line4.push(Span::styled(
                    " unreliable while the subscriber lags",
                    theme.warn(),
                )),
                Split::PoorFit => line4.push(Span::styled(
                    " poor fit: RSS does not follow the task count here",
                    theme.warn(),
                )),
                Split::Parts {
                    instrumentation,
                    future,
                    other,
                    ..
                } => {
                    line4.extend(kv(" = instr. ", bytes(instrumentation), theme));
                    line4.extend(kv(" + future ", bytes(future), theme));
                    line4.extend(kv(" + other ", signed_bytes(other), theme));
                }
                Split::Unknown => {}
            }
        }
        Reading::NotFitted { .. } => line4.push(Span::styled(
            "bytes/task: needs the task count to move",
            theme.label(),
        )),
    }
    // Line 5: what deserves a look: lints, the subscriber's lag, warnings.
    let mut line5 = vec![Span::raw(" ")];
    let found: Vec<String> = app
        .lint_counts
        .found()
        .map(|(l, n)| format!("{} {n}", l.letter()))
        .collect();
    if found.is_empty() {
        line5.push(Span::styled("no lints", theme.label()));
    } else {
        line5.push(Span::styled(
            format!("lints {}", found.join("  ")),
            theme.warn(),
        ));
    }
    if let Some(late) = model
        .lag
        .current(model.now)
        .filter(|l| *l > LAG_UNRELIABLE_NS)
    {
        line5.push(Span::styled(
            format!(
                "   subscriber lag: tasks announced {} after spawn",
                duration_ns(late)
            ),
            theme.warn(),
        ));
    }
    // A few unseen ids are tasks of uninstrumented runtimes; many are a picture that lags.
    if let Some(missing) = model.lag.missing_estimate().filter(|m| *m >= 64) {
        line5.push(Span::styled(
            format!("   ≈{missing} task ids never seen"),
            theme.warn(),
        ));
    }
    let n_warn = model.warnings.len();
    if n_warn > 0 {
        line5.push(Span::styled(
            format!(
                "   ⚠ {n_warn} warning{} (w)",
                if n_warn == 1 { "" } else { "s" }
            ),
            theme.warn(),
        ));
    }
    let mut lines = vec![
        Line::from(line1),
        Line::from(line2),
        Line::from(line3),
        Line::from(line4),
        Line::from(line5),
    ];
    if model.connection == Connection::RssOnly {
        lines.push(Line::from(Span::styled(
            format!(" no tokio console endpoint, so RSS only; {HOW_TO_INSTRUMENT}"),
            theme.warn(),
        )));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
        return;
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_chart(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let window = app.window().as_secs_f64();
    let now = model.series.last().map_or(0, |s| s.at);
    let mut rss = Vec::new();
    let mut live = Vec::new();
    for s in model.series.samples() {
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

/// Columns that fit `width`, least useful dropped first; Location takes the rest.
fn columns(width: u16) -> Vec<(Column, u16)> {
    columns::fit(&columns::TUI, usize::from(width), 0)
        .into_iter()
        .map(|c| (c.column, c.width as u16))
        .collect()
}

fn draw_table(frame: &mut Frame, area: Rect, app: &mut App, model: &Model, theme: Theme) {
    let cols = columns(area.width);
    let visible = usize::from(area.height.saturating_sub(1));
    app.page = visible.max(1);
    app.sync(model);
    let arrow = if app.descending { "▼" } else { "▲" };
    let header = Row::new(cols.iter().map(|(c, _)| {
        let title = if *c == app.sort {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_string()
        };
        Cell::from(title)
    }))
    .style(theme.header_row());
    let loc_width = {
        let fixed: u16 = cols
            .iter()
            .filter(|(c, _)| *c != Column::Location)
            .map(|(_, w)| w + 1)
            .sum();
        usize::from(area.width.saturating_sub(fixed))
    };
    let rows = app.index.rows()[app.offset.min(app.index.len())..]
        .iter()
        .enumerate()
        .filter_map(|(i, &slot)| Some((i, model.slot(slot)?)))
        .take(visible)
        .map(|(i, t)| {
            let cells = cols.iter().map(|(c, _)| {
                let text = columns::cell_text(model, t, *c, &app.lints);
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
    let widths = cols.iter().map(|(c, w)| {
        if *c == Column::Location {
            Constraint::Min(*w)
        } else {
            Constraint::Length(*w)
        }
    });
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        area,
    );
}

fn draw_locations(frame: &mut Frame, area: Rect, app: &mut App, model: &Model, theme: Theme) {
    use super::app::LocColumn;
    let visible = usize::from(area.height.saturating_sub(1));
    app.page = visible.max(1);
    app.sync(model);
    let view = &app.locations;
    let arrow = if view.descending { "▼" } else { "▲" };
    let widths: Vec<(LocColumn, u16)> = LocColumn::ALL
        .iter()
        .map(|c| (*c, if *c == LocColumn::Location { 20 } else { 9 }))
        .collect();
    let header = Row::new(widths.iter().map(|(c, _)| {
        let t = if *c == view.sort {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_string()
        };
        Cell::from(t)
    }))
    .style(theme.header_row());
    let fixed: u16 = widths
        .iter()
        .filter(|(c, _)| *c != LocColumn::Location)
        .map(|(_, w)| w + 1)
        .sum();
    let loc_width = usize::from(area.width.saturating_sub(fixed));
    let size = |l: &crate::insight::Location, v: u64| {
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
                    LocColumn::Idle => l.idle.to_string(),
                    LocColumn::SizeMin => size(l, l.size_min),
                    LocColumn::SizeMean => l.size_mean().map_or("?".into(), bytes),
                    LocColumn::SizeMax => size(l, l.size_max),
                    LocColumn::SizeSum => bytes(l.size_sum),
                    LocColumn::Boxed => l.boxed.to_string(),
                    LocColumn::Location => tail(model.resolve(l.location), loc_width),
                })
            });
            let style = if i == view.selected {
                theme.selected()
            } else {
                Style::new()
            };
            Row::new(cells).style(style)
        });
    let constraints = widths.iter().map(|(c, w)| {
        if *c == LocColumn::Location {
            Constraint::Min(*w)
        } else {
            Constraint::Length(*w)
        }
    });
    frame.render_widget(
        Table::new(rows, constraints)
            .header(header)
            .column_spacing(1),
        area,
    );
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App, replay: bool, theme: Theme) {
    let line = if app.editing_filter {
        Line::from(vec![
            Span::styled(" filter: ", theme.warn()),
            Span::raw(app.filter.clone()),
            Span::styled("█", theme.label()),
            Span::styled("  (Enter keeps, Esc clears)", theme.label()),
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
                format!("filter: {} (Esc clears)  ", app.filter),
                theme.warn(),
            ));
        }
        spans.push(Span::styled(keymap::footer(replay), theme.label()));
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn ago(model: &Model, t: i64) -> String {
    if t == 0 {
        "-".into()
    } else {
        format!(
            "{} ago",
            duration_ns(u64::try_from(model.now.saturating_sub(t)).unwrap_or(0))
        )
    }
}

fn draw_details(frame: &mut Frame, area: Rect, app: &mut App, model: &Model, theme: Theme) {
    let block = Block::bordered().title(Span::styled(" task details (Esc back) ", theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(task) = app.selected_uid.and_then(|uid| {
        app.selected_slot()
            .and_then(|s| model.slot(s))
            .filter(|t| t.uid == uid)
            .or_else(|| model.task_by_uid(uid))
    }) else {
        frame.render_widget(
            Paragraph::new("the task is gone (dropped and past --retain)"),
            inner,
        );
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Length(44), Constraint::Fill(1)]).areas(inner);
    let s = &task.stats;
    let size = match task.size_bytes {
        Some(n) if task.boxed => format!("{} ({n} B), boxed", bytes(n)),
        Some(n) => format!("{} ({n} B)", bytes(n)),
        None => "unknown (target reports no sizes)".into(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("console id", task.console_id.to_string()),
        (
            "tokio id",
            task.task_id.map_or_else(|| "-".into(), |v| v.to_string()),
        ),
        ("name", model.resolve(task.name).to_string()),
        ("kind", task.kind.as_str().to_string()),
        ("state", task.state().as_str().to_string()),
        ("future size", size),
        ("location", model.resolve(task.location).to_string()),
        ("polls", s.polls.to_string()),
        ("busy", duration_ns(s.busy_ns)),
        ("scheduled", duration_ns(s.scheduled_ns)),
        ("idle", duration_ns(task.idle_ns(model.now))),
        ("total", duration_ns(task.total_ns(model.now))),
        ("wakes", s.wakes.to_string()),
        ("self-wakes", s.self_wakes.to_string()),
        ("waker clones", s.waker_clones.to_string()),
        ("waker drops", s.waker_drops.to_string()),
        ("live wakers", task.live_wakers().to_string()),
        ("created", ago(model, s.created_at)),
        ("first poll", ago(model, s.first_poll)),
        ("last poll", ago(model, s.last_poll_started)),
        ("last wake", ago(model, s.last_wake)),
        ("dropped", ago(model, s.dropped_at)),
    ];
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:>13} "), theme.label()),
                Span::raw(v),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), left);
    let details = model
        .details
        .as_ref()
        .filter(|d| d.console_id == task.console_id);
    // The task's lints first, explained, then its two histograms.
    let lints: Vec<Line> = insight::lint_list(insight::lints(task, model.now, &app.lints))
        .map(|l| {
            Line::from(Span::styled(
                format!(
                    "[{}] {}",
                    l.letter(),
                    l.explain(app.lints.large_future_bytes)
                ),
                theme.warn(),
            ))
        })
        .collect();
    let lint_height = (lints.len() as u16 * 2).min(right.height / 3);
    let [lint_area, right] =
        Layout::vertical([Constraint::Length(lint_height), Constraint::Fill(1)]).areas(right);
    frame.render_widget(Paragraph::new(lints).wrap(Wrap { trim: true }), lint_area);
    let [poll, sched] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(right);
    draw_histogram(
        frame,
        poll,
        "poll times",
        details.and_then(|d| d.poll_times.as_ref()),
        details.is_some(),
        theme,
    );
    draw_histogram(
        frame,
        sched,
        "scheduled times",
        details.and_then(|d| d.scheduled_times.as_ref()),
        details.is_some(),
        theme,
    );
    if let Some(err) = details.and_then(|d| d.error.as_ref()) {
        let bottom = Rect {
            y: right.bottom().saturating_sub(1),
            height: 1.min(right.height),
            ..right
        };
        frame.render_widget(Paragraph::new(err.as_str()).style(theme.bad()), bottom);
    }
}

fn draw_histogram(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    h: Option<&DurationHistogram>,
    arrived: bool,
    theme: Theme,
) {
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(format!(" {title} "), theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(h) = h else {
        let msg = if arrived {
            "no samples yet"
        } else {
            "waiting for WatchTaskDetails…"
        };
        frame.render_widget(Paragraph::new(msg).style(theme.label()), inner);
        return;
    };
    let hist = &h.histogram;
    if hist.is_empty() {
        frame.render_widget(Paragraph::new("no samples yet").style(theme.label()), inner);
        return;
    }
    let q = |p: f64| duration_ns(hist.value_at_quantile(p));
    let mut summary = format!(
        "n {}  p50 {}  p90 {}  p99 {}  max {}",
        hist.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        duration_ns(hist.max())
    );
    if h.high_outliers > 0 {
        summary.push_str(&format!(
            "  +{} outliers ≤ {}",
            h.high_outliers,
            duration_ns(h.highest_outlier.unwrap_or(0))
        ));
    }
    let [text, bars] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(Paragraph::new(summary), text);
    // Counts in equal-width bins from the smallest to the largest value.
    let n = usize::from(bars.width).max(1);
    // One distinct value: one bar at the left, not a lone bar at the far edge.
    let (lo, hi) = (hist.min(), hist.max().max(hist.min() + 1));
    let single = hist.iter_recorded().nth(1).is_none();
    let mut bins = vec![0u64; n];
    for v in hist.iter_recorded() {
        let x = v.value_iterated_to().clamp(lo, hi);
        let i = if single {
            0
        } else {
            (((x - lo) as f64 / (hi - lo) as f64) * (n - 1) as f64) as usize
        };
        bins[i.min(n - 1)] += v.count_at_value();
    }
    frame.render_widget(Sparkline::default().data(&bins).style(theme.tasks()), bars);
}

fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_help(frame: &mut Frame, area: Rect, theme: Theme) {
    let lines: Vec<Line> = keymap::BINDINGS
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("{:>14}  ", b.keys), theme.value()),
                Span::raw(b.what),
            ])
        })
        .collect();
    let r = popup(area, 96, lines.len() as u16 + 2);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(Span::styled(" keys (Esc closes) ", theme.title()))),
        r,
    );
}

fn draw_warnings(frame: &mut Frame, area: Rect, model: &Model, theme: Theme) {
    let lines: Vec<Line> = if model.warnings.is_empty() {
        vec![Line::from(
            "no warnings: the picture is complete as far as asyncmem can tell",
        )]
    } else {
        model
            .warnings
            .iter()
            .map(|w| Line::from(format!("• {}", w.message())))
            .collect()
    };
    let r = popup(area, 90, 14);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(Span::styled(" warnings (Esc closes) ", theme.warn()))),
        r,
    );
}
