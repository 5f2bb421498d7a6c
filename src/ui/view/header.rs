//! The header: the target, the connection or the replay position, memory, task counts, the
//! bytes-per-task line and what deserves a look (lints, lag, warnings).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::super::app::App;
use super::super::theme::Theme;
use crate::error::HOW_TO_INSTRUMENT;
use crate::insight::{self, Reading, Split, LAG_UNRELIABLE_NS};
use crate::model::{Connection, Counts, Model};
use crate::present::units::{bytes, duration_ns, signed_bytes};

/// Rows the header takes: two more when it must say there is no console.
pub fn height(model: &Model) -> u16 {
    if *model.connection() == Connection::RssOnly {
        7
    } else {
        5
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
            format!(
                "reconnecting (attempt {attempt}: {})",
                crate::present::escape(reason)
            ),
            theme.warn(),
        ),
        Connection::TargetExited => ("target exited: data kept, q quits".to_string(), theme.bad()),
        Connection::RssOnly => ("no console: RSS only".to_string(), theme.warn()),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
    let c = model.counts();
    let mut lines = vec![
        target_line(app, model, theme),
        memory_line(model, &c, theme),
        futures_line(model, &c, theme),
        fit_line(app, model, theme),
        look_line(app, model, theme),
    ];
    if *model.connection() == Connection::RssOnly {
        lines[3] = rss_only_per_task(model, theme);
        lines.push(Line::from(Span::styled(
            format!(" no tokio console endpoint, so RSS only; {HOW_TO_INSTRUMENT}"),
            theme.warn(),
        )));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
        return;
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The target, the connection (or the replay's position), and whether the view is paused.
fn target_line(app: &App, model: &Model, theme: Theme) -> Line<'static> {
    let pid = app
        .target
        .pid
        .map_or_else(|| "?".to_string(), |p| p.to_string());
    let (conn, conn_style) = match (model.playback(), model.connection()) {
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
            crate::present::escape(model.endpoint().unwrap_or(&app.target.endpoint)).into_owned(),
        ),
        Span::raw("  "),
        Span::styled(conn, conn_style),
    ];
    if let Some(problem) = model.playback().and_then(|p| p.problem.as_ref()) {
        line1.push(Span::styled(
            format!("  {}", crate::present::escape(problem)),
            theme.warn(),
        ));
    }
    if model.playback().is_none() && (app.frozen || model.paused()) {
        line1.push(Span::styled("  ⏸ PAUSED (space resumes)", theme.warn()));
    }
    line1.extend(recording_spans(app, theme));
    Line::from(line1)
}

/// `top --record`: the file and its size so far, or the error that stopped the recording.
fn recording_spans(app: &App, theme: Theme) -> Vec<Span<'static>> {
    let Some(rec) = &app.recording else {
        return Vec::new();
    };
    let progress = rec.progress.borrow();
    let path = printable(&rec.path);
    match &progress.error {
        None => vec![
            Span::styled("  ● rec ", theme.bad()),
            Span::styled(format!("{path} {}", bytes(progress.bytes)), theme.value()),
        ],
        Some(e) => vec![Span::styled(
            format!(
                "  ✖ recording stopped ({}): {path} holds the {} written before",
                printable(e),
                bytes(progress.bytes)
            ),
            theme.bad(),
        )],
    }
}

/// `s` with its control characters shown as U+FFFD (a file name or an OS message may hold any).
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// Memory and the live tasks by state.
fn memory_line(model: &Model, c: &Counts, theme: Theme) -> Line<'static> {
    let rss = model
        .last_rss()
        .map_or_else(|| "?".to_string(), |r| bytes(r.rss_bytes));
    let anon = model
        .last_rss()
        .map_or_else(|| "?".to_string(), |r| bytes(r.anon_rss_bytes));
    let mut line2 = vec![Span::raw(" ")];
    line2.extend(kv("RSS ", rss, theme));
    line2.extend(kv(" (anon ", anon, theme));
    line2.extend(kv(")   live tasks ", c.live().to_string(), theme));
    line2.extend(kv(": ", c.running.to_string(), theme));
    line2.extend(kv(" running ", c.scheduled.to_string(), theme));
    line2.extend(kv(" scheduled ", c.idle.to_string(), theme));
    line2.extend(kv(" idle   done ", c.done.to_string(), theme));
    Line::from(line2)
}

/// The futures' bytes and what the instrumentation costs per task.
fn futures_line(model: &Model, c: &Counts, theme: Theme) -> Line<'static> {
    let mean = c.future_bytes.checked_div(c.sized).unwrap_or(0);
    let mut line3 = vec![Span::raw(" ")];
    line3.extend(kv("futures ", bytes(c.future_bytes), theme));
    line3.extend(kv(" in ", format!("{} sized tasks", c.sized), theme));
    line3.extend(kv(" (mean ", format!("{})", bytes(mean)), theme));
    let instr = insight::instrumentation_bytes_per_task(model.instrumentation());
    line3.extend(kv(
        "   instrumentation ",
        model.instrumentation().as_str().to_string(),
        theme,
    ));
    if let Some(b) = instr.filter(|b| *b > 0) {
        line3.push(Span::styled(
            format!(" (~{}/task)", bytes(b)),
            theme.label(),
        ));
    }
    Line::from(line3)
}

/// The bytes-per-task slope over the chart's window, and how it splits.
fn fit_line(app: &App, model: &Model, theme: Theme) -> Line<'static> {
    let mut line4 = vec![Span::raw(" ")];
    let bpt = crate::insight::bytes_per_task(model, Some(app.window()));
    match bpt.reading() {
        Reading::Fitted(f) => {
            line4.extend(kv("bytes/task ", signed_bytes(f.slope), theme));
            line4.push(Span::styled(
                format!(" (r² {:.2}, {} samples)", f.r2, f.samples),
                theme.label(),
            ));
            match f.split {
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
        Reading::NotFitted { .. } => match bpt.untrusted {
            Some(why) => line4.push(Span::styled(
                format!("bytes/task: no trustworthy figure yet ({why})"),
                theme.warn(),
            )),
            None => line4.push(Span::styled(
                "bytes/task: needs the task count to move",
                theme.label(),
            )),
        },
    }
    Line::from(line4)
}

/// RSS-only mode: bytes per task from the task count the target reports (`tasks=N`), if any.
fn rss_only_per_task(model: &Model, theme: Theme) -> Line<'static> {
    let Some(r) = insight::reported_per_task(model) else {
        return Line::from(Span::styled(
            " bytes/task: unknown without a console (the target reports no task count)",
            theme.label(),
        ));
    };
    let mut line = vec![Span::raw(" ")];
    line.extend(kv("≈ bytes/task ", signed_bytes(r.bytes_per_task), theme));
    line.push(Span::styled(
        format!(
            " = (RSS {} - {} at start-up) / {} tasks the target reports; no console, not a fit",
            bytes(r.rss_bytes),
            bytes(r.baseline_rss_bytes),
            r.tasks
        ),
        theme.label(),
    ));
    Line::from(line)
}

/// What deserves a look: lints, the subscriber's lag, warnings.
fn look_line(app: &App, model: &Model, theme: Theme) -> Line<'static> {
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
    if let Some(why) = model.incomplete_reason() {
        // As `snapshot` marks its picture: the counts are not yet of every task.
        line5.push(Span::styled(
            format!("   ◌ incomplete: {}", crate::present::escape(&why)),
            theme.warn(),
        ));
    }
    if let Some(late) = model
        .lag()
        .current(model.now())
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
    if let Some(missing) = model.lag().missing_estimate().filter(|m| *m >= 64) {
        line5.push(Span::styled(
            format!("   ≈{missing} task ids never seen"),
            theme.warn(),
        ));
    }
    let n_warn = model.warnings().len();
    if n_warn > 0 {
        line5.push(Span::styled(
            format!(
                "   ⚠ {n_warn} warning{} (w)",
                if n_warn == 1 { "" } else { "s" }
            ),
            theme.warn(),
        ));
    }
    Line::from(line5)
}
