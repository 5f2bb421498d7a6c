//! The header: the target, the connection or the replay position, memory, task counts, the
//! bytes-per-task line and what deserves a look (lints, lag, warnings).

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::app::App;
use super::super::theme::Theme;
use crate::error::HOW_TO_INSTRUMENT;
use crate::insight::{self, Reading, Split, LAG_UNRELIABLE_NS};
use crate::model::{Connection, Counts, Model};
use crate::present::units::{bytes, duration_ns, signed_bytes};

/// A header line as groups of spans: it wraps between groups (a group that does not fit the
/// rest of the row moves whole to the next row), and inside a group only when the group alone
/// is wider than a row. Each group but a line's first starts with its separator.
type Groups = Vec<Vec<Span<'static>>>;

/// A line that wraps only between its words.
fn whole(line: Line<'static>) -> Groups {
    vec![line.spans]
}

/// Where a continued line resumes: indented, so that a wrapped row reads as the line before's.
const INDENT: &str = "   ";

/// The header's rows at `width`: one per line, more where a line wraps. The layout gives the
/// header as many rows as this has (or what the terminal has), and [`draw`] draws them.
pub fn rows(app: &App, model: &Model, width: u16, theme: Theme) -> Vec<Line<'static>> {
    wrap(&lines(app, model, theme), usize::from(width))
}

/// `lines` wrapped to `width` columns: no word is cut unless a word alone is wider than a row.
fn wrap(lines: &[Groups], width: usize) -> Vec<Line<'static>> {
    let indent = if width > 4 * INDENT.len() { INDENT } else { "" };
    let mut out = Vec::new();
    for groups in lines {
        let mut row: Vec<Span<'static>> = Vec::new();
        let mut used = 0;
        // Whether the row holds something past its indent, and whether it continues a line.
        let mut filled = false;
        let mut continued = false;
        let mut next_row = |row: &mut Vec<Span<'static>>, used: &mut usize, filled: &mut bool| {
            out.push(Line::from(std::mem::take(row)));
            row.push(Span::raw(indent));
            *used = indent.len();
            *filled = false;
        };
        for group in groups {
            let group_width: usize = group.iter().map(Span::width).sum();
            if filled && used + group_width > width {
                next_row(&mut row, &mut used, &mut filled);
                continued = true;
            }
            // Words (runs of non-spaces) and the spaces between them, in their styles.
            for (text, style) in group.iter().flat_map(|s| words(&s.content, s.style)) {
                let w = Span::raw(text.as_str()).width();
                let blank = text.starts_with(' ');
                if blank && continued && !filled {
                    continue; // no separator at the start of a continued row
                }
                if used + w > width {
                    if blank {
                        next_row(&mut row, &mut used, &mut filled);
                        continued = true;
                        continue;
                    }
                    if filled {
                        next_row(&mut row, &mut used, &mut filled);
                        continued = true;
                    }
                }
                // A word wider than what is left of an empty row is cut across rows.
                let mut rest = text.as_str();
                while used + Span::raw(rest).width() > width && !rest.is_empty() {
                    let room = width.saturating_sub(used);
                    let (head, tail) = split_at_width(rest, room.max(1));
                    row.push(Span::styled(head.to_string(), style));
                    next_row(&mut row, &mut used, &mut filled);
                    continued = true;
                    rest = tail;
                }
                if !rest.is_empty() {
                    used += Span::raw(rest).width();
                    row.push(Span::styled(rest.to_string(), style));
                    filled = true;
                }
            }
        }
        out.push(Line::from(row));
    }
    out
}

/// `text` as runs of spaces and runs of other characters, each with `style`.
fn words(text: &str, style: Style) -> Vec<(String, Style)> {
    let mut out: Vec<(String, Style)> = Vec::new();
    for c in text.chars() {
        match out.last_mut() {
            Some((w, _)) if w.starts_with(' ') == (c == ' ') => w.push(c),
            _ => out.push((c.to_string(), style)),
        }
    }
    out
}

/// `s` split after as many characters as fit `width` columns (at least one).
fn split_at_width(s: &str, width: usize) -> (&str, &str) {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let mut buf = [0; 4];
        let w = Span::raw(&*c.encode_utf8(&mut buf)).width();
        if used + w > width && i > 0 {
            return s.split_at(i);
        }
        used += w;
    }
    (s, "")
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

/// Draw `rows` (from [`rows`] at the area's width).
pub fn draw(frame: &mut Frame, area: Rect, rows: Vec<Line<'static>>) {
    frame.render_widget(Paragraph::new(rows), area);
}

/// The header's lines, unwrapped.
fn lines(app: &App, model: &Model, theme: Theme) -> Vec<Groups> {
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
        lines.push(whole(Line::from(Span::styled(
            format!(" no tokio console endpoint, so RSS only; {HOW_TO_INSTRUMENT}"),
            theme.warn(),
        ))));
    }
    lines
}

/// The target, the connection (or the replay's position), and whether the view is paused.
fn target_line(app: &App, model: &Model, theme: Theme) -> Groups {
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
        vec![
            Span::styled(" asyncmem ", theme.title()),
            Span::styled(" pid ", theme.label()),
            Span::styled(pid, theme.value()),
        ],
        vec![
            Span::raw("  "),
            Span::raw(
                crate::present::escape(model.endpoint().unwrap_or(&app.target.endpoint))
                    .into_owned(),
            ),
        ],
        vec![Span::raw("  "), Span::styled(conn, conn_style)],
    ];
    if let Some(problem) = model.playback().and_then(|p| p.problem.as_ref()) {
        line1.push(vec![Span::styled(
            format!("  {}", crate::present::escape(problem)),
            theme.warn(),
        )]);
    }
    if model.playback().is_none() && (app.frozen || model.paused()) {
        line1.push(vec![Span::styled(
            "  ⏸ PAUSED (space resumes)",
            theme.warn(),
        )]);
    }
    line1.push(recording_spans(app, theme));
    line1
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
fn memory_line(model: &Model, c: &Counts, theme: Theme) -> Groups {
    let rss = model
        .last_rss()
        .map_or_else(|| "?".to_string(), |r| bytes(r.rss_bytes));
    let anon = model
        .last_rss()
        .map_or_else(|| "?".to_string(), |r| bytes(r.anon_rss_bytes));
    let mut memory = vec![Span::raw(" ")];
    memory.extend(kv("RSS ", rss, theme));
    memory.extend(kv(" (anon ", anon, theme));
    memory.push(Span::styled(")", theme.label()));
    let mut live = vec![];
    live.extend(kv("   live tasks ", c.live().to_string(), theme));
    live.extend(kv(": ", c.running.to_string(), theme));
    live.extend(kv(" running ", c.scheduled.to_string(), theme));
    live.extend(kv(" scheduled ", c.idle.to_string(), theme));
    live.push(Span::styled(" idle", theme.label()));
    let done = kv("   done ", c.done.to_string(), theme).to_vec();
    vec![memory, live, done]
}

/// The futures' bytes and what the instrumentation costs per task.
fn futures_line(model: &Model, c: &Counts, theme: Theme) -> Groups {
    let mean = c.future_bytes.checked_div(c.sized).unwrap_or(0);
    let mut line3 = vec![Span::raw(" ")];
    line3.extend(kv("futures ", bytes(c.future_bytes), theme));
    line3.extend(kv(" in ", format!("{} sized tasks", c.sized), theme));
    line3.extend(kv(" (mean ", format!("{})", bytes(mean)), theme));
    // The heap live tasks hold, where the target's allocator counts it (nothing otherwise).
    let mut heap = vec![];
    if let Some(h) = model.heap().live() {
        heap.extend(kv("   heap ", bytes(h.bytes), theme));
        heap.extend(kv(
            " held by ",
            format!("{} tasks", model.heap().holding_tasks().unwrap_or(0)),
            theme,
        ));
        if let Some(o) = model.heap().outside_tasks() {
            heap.extend(kv(" (no task's ", format!("{})", bytes(o.bytes)), theme));
        }
    }
    let instr = insight::instrumentation_bytes_per_task(model.instrumentation());
    let mut cost = vec![];
    cost.extend(kv(
        "   instrumentation ",
        model.instrumentation().as_str().to_string(),
        theme,
    ));
    if let Some(b) = instr.filter(|b| *b > 0) {
        cost.push(Span::styled(
            format!(" (~{}/task)", bytes(b)),
            theme.label(),
        ));
    }
    vec![line3, heap, cost]
}

/// The bytes-per-task slope over the chart's window, and how it splits.
fn fit_line(app: &App, model: &Model, theme: Theme) -> Groups {
    let mut line4 = vec![Span::raw(" ")];
    let mut split = vec![];
    let bpt = crate::insight::bytes_per_task(model, Some(app.window()));
    match bpt.reading() {
        Reading::Fitted(f) => {
            line4.extend(kv("bytes/task ", signed_bytes(f.slope), theme));
            line4.push(Span::styled(
                format!(" (r² {:.2}, {} samples)", f.r2, f.samples),
                theme.label(),
            ));
            match f.split {
                _ if bpt.caveat.is_some() => split.push(Span::styled(
                    " unreliable while the subscriber lags",
                    theme.warn(),
                )),
                Split::PoorFit => split.push(Span::styled(
                    " poor fit: RSS does not follow the task count here",
                    theme.warn(),
                )),
                Split::Parts {
                    instrumentation,
                    future,
                    other,
                    ..
                } => {
                    split.extend(kv(" = instr. ", bytes(instrumentation), theme));
                    split.extend(kv(" + future ", bytes(future), theme));
                    split.extend(kv(" + other ", signed_bytes(other), theme));
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
    let mut groups = vec![line4, split];
    if let Some(layout) = layout_spans(app, &bpt, theme) {
        groups.push(layout);
    }
    groups
}

/// With `--layout`: what the layout accounts for per live task (cell + the future's heap block
/// where tokio boxed it + instrumentation) and its share of the measured bytes/task.
fn layout_spans(
    app: &App,
    bpt: &crate::insight::BytesPerTask,
    theme: Theme,
) -> Option<Vec<Span<'static>>> {
    let bill = app.layout_bill?;
    let mut spans = vec![Span::raw("  ")];
    let Some(per) = bill.per_task() else {
        spans.push(Span::styled(
            "layout: no live task matched exactly",
            theme.label(),
        ));
        return Some(spans);
    };
    spans.extend(kv("layout ", format!("{}/task", bytes(per)), theme));
    let slope = match bpt.reading() {
        Reading::Fitted(f) if bpt.caveat.is_none() => Some(f.slope),
        _ => None,
    };
    let matched = if bill.matched < bill.tasks {
        format!(" ({} of {} live tasks matched)", bill.matched, bill.tasks)
    } else {
        String::new()
    };
    let share = match bill.share_of(slope) {
        Some(share) => format!(" = {:.0} % of bytes/task", share * 100.0),
        None => ", no trusted bytes/task to compare".into(),
    };
    spans.push(Span::styled(format!("{share}{matched}"), theme.label()));
    Some(spans)
}

/// RSS-only mode: bytes per task from the task count the target reports (`tasks=N`), if any.
fn rss_only_per_task(model: &Model, theme: Theme) -> Groups {
    let Some(r) = insight::reported_per_task(model) else {
        return whole(Line::from(Span::styled(
            " bytes/task: unknown without a console (the target reports no task count)",
            theme.label(),
        )));
    };
    let mut line = vec![Span::raw(" ")];
    line.extend(kv("≈ bytes/task ", signed_bytes(r.bytes_per_task), theme));
    let explained = vec![Span::styled(
        format!(
            " = (RSS {} - {} at start-up) / {} tasks the target reports; no console, not a fit",
            bytes(r.rss_bytes),
            bytes(r.baseline_rss_bytes),
            r.tasks
        ),
        theme.label(),
    )];
    vec![line, explained]
}

/// What deserves a look: lints, the subscriber's lag, warnings.
fn look_line(app: &App, model: &Model, theme: Theme) -> Groups {
    let mut line5 = vec![vec![Span::raw(" ")]];
    let found: Vec<String> = app
        .lint_counts
        .found()
        .map(|(l, n)| format!("{} {n}", l.letter()))
        .collect();
    if found.is_empty() {
        line5[0].push(Span::styled("no lints", theme.label()));
    } else {
        line5[0].push(Span::styled(
            format!("lints {}", found.join("  ")),
            theme.warn(),
        ));
    }
    if let Some(why) = model.incomplete_reason() {
        // As `snapshot` marks its picture: the counts are not yet of every task.
        line5.push(vec![Span::styled(
            format!("   ◌ incomplete: {}", crate::present::escape(&why)),
            theme.warn(),
        )]);
    }
    if let Some(late) = model
        .lag()
        .current(model.now())
        .filter(|l| *l > LAG_UNRELIABLE_NS)
    {
        line5.push(vec![Span::styled(
            format!(
                "   subscriber lag: tasks announced {} after spawn",
                duration_ns(late)
            ),
            theme.warn(),
        )]);
    }
    // A few unseen ids are tasks of uninstrumented runtimes; many are a picture that lags.
    if let Some(missing) = model.lag().missing_estimate().filter(|m| *m >= 64) {
        line5.push(vec![Span::styled(
            format!("   ≈{missing} task ids never seen"),
            theme.warn(),
        )]);
    }
    let n_warn = model.warnings().len();
    if n_warn > 0 {
        line5.push(vec![Span::styled(
            format!(
                "   ⚠ {n_warn} warning{} (w)",
                if n_warn == 1 { "" } else { "s" }
            ),
            theme.warn(),
        )]);
    }
    line5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn wrapped_rows_fit_their_width_and_keep_every_word() {
        let lines: Vec<Groups> = vec![
            vec![
                vec![Span::raw(" asyncmem "), Span::raw(" pid 4242")],
                vec![Span::raw("  http://[::1]:6669/a-very-long-endpoint-path")],
                vec![Span::raw("  ● connected")],
            ],
            whole(Line::from(
                " no tokio console endpoint, so RSS only; ⚠ wide ⏸ signs",
            )),
        ];
        let words = |rows: &[Line]| -> Vec<String> {
            rows.iter()
                .flat_map(|l| {
                    text(l)
                        .split_whitespace()
                        .map(String::from)
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let all = words(&wrap(&lines, 1000));
        for width in 1..120 {
            let rows = wrap(&lines, width);
            for r in &rows {
                assert!(r.width() <= width, "{width}: {:?}", text(r));
            }
            // Rows concatenated give the words back (a word cut across rows is rejoined).
            let joined: String = words(&rows).concat();
            assert_eq!(joined, all.concat(), "at {width}");
            if width >= 60 {
                // Wide enough for each word: none is cut.
                assert_eq!(words(&rows), all, "at {width}");
            }
        }
        // A group that fits moves whole: the endpoint is not split from its line's rest.
        let rows = wrap(&lines, 50);
        assert_eq!(text(&rows[0]), " asyncmem  pid 4242");
        assert_eq!(
            text(&rows[1]),
            "   http://[::1]:6669/a-very-long-endpoint-path"
        );
        assert_eq!(text(&rows[2]), "   ● connected");
    }
}
