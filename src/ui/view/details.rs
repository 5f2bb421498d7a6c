//! The details of one task: its fields, its lints explained, its poll and scheduled histograms.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Wrap};
use ratatui::Frame;

use super::super::app::App;
use super::super::theme::Theme;
use crate::insight;
use crate::model::details::DurationHistogram;
use crate::model::Model;
use crate::present::units::{bytes, duration_ns};
use crate::present::{escape, location};

fn ago(model: &Model, t: i64) -> String {
    if t == 0 {
        "-".into()
    } else {
        format!(
            "{} ago",
            duration_ns(u64::try_from(model.now().saturating_sub(t)).unwrap_or(0))
        )
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, model: &Model, theme: Theme) {
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
    let where_ = model.resolve(task.location);
    let origin = insight::origin(where_);
    let code = origin
        .dependency()
        .map_or_else(|| "yours".to_string(), |d| format!("a dependency's: {d}"));
    let rows: Vec<(&str, String)> = vec![
        ("console id", task.console_id.to_string()),
        (
            "tokio id",
            task.task_id.map_or_else(|| "-".into(), |v| v.to_string()),
        ),
        ("name", escape(model.resolve(task.name)).into_owned()),
        ("kind", task.kind.as_str().to_string()),
        ("state", task.state().as_str().to_string()),
        ("future size", size),
        ("location", location::display(model.resolve(task.location))),
        ("code", code),
        ("polls", s.polls.to_string()),
        ("busy", duration_ns(task.busy_ns(model.now()))),
        ("scheduled", duration_ns(s.scheduled_ns)),
        ("idle", duration_ns(task.idle_ns(model.now()))),
        ("total", duration_ns(task.total_ns(model.now()))),
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
    let details = model.details().filter(|d| d.console_id == task.console_id);
    // The task's lints first, explained, then its two histograms.
    let lints_at = app.lint_counts.at_or(model.now());
    let lints: Vec<Line> = insight::lint_list(insight::lints(task, lints_at, &app.lints))
        .map(|l| {
            Line::from(Span::styled(
                format!(
                    "[{}] {}",
                    l.letter(),
                    l.advice(app.lints.large_future_bytes, &origin)
                ),
                theme.warn(),
            ))
        })
        .collect();
    // As many rows as the explanations wrap to at this width (at 80 columns one takes four),
    // leaving the histograms at least half of the pane.
    let texts: Vec<String> = lints.iter().map(|l| l.to_string()).collect();
    let lint_height = rows_for(texts.iter().map(String::as_str), right).min(right.height / 2);
    let [lint_area, right] =
        Layout::vertical([Constraint::Length(lint_height), Constraint::Fill(1)]).areas(right);
    frame.render_widget(Paragraph::new(lints).wrap(Wrap { trim: true }), lint_area);
    // With --layout: the future as the compiler laid it out, before the histograms (at most
    // half of what is left).
    let right = match &app.layout {
        Some(join) => {
            let mut text = crate::present::layout::lines(join, task.size_bytes, where_);
            if text.len() > 1 {
                text.push("t: the whole tree, every state, unfoldable".into());
            }
            let rows: usize = text
                .iter()
                .map(|l| wrapped_rows(l, usize::from(right.width)))
                .sum();
            let height = u16::try_from(rows)
                .unwrap_or(u16::MAX)
                .min(right.height / 2);
            let [area, rest] =
                Layout::vertical([Constraint::Length(height), Constraint::Fill(1)]).areas(right);
            let lines: Vec<Line> = text.into_iter().map(Line::from).collect();
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
            rest
        }
        None => right,
    };
    let [poll, sched] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(right);
    histogram(
        frame,
        poll,
        "poll times",
        details.and_then(|d| d.poll_times.as_ref()),
        details.is_some(),
        theme,
    );
    histogram(
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
        frame.render_widget(
            Paragraph::new(escape(err).into_owned()).style(theme.bad()),
            bottom,
        );
    }
}

fn histogram(
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
    let mut parts = vec![
        format!("n {}", hist.len()),
        format!("p50 {}", q(0.5)),
        format!("p90 {}", q(0.9)),
        format!("p99 {}", q(0.99)),
        format!("max {}", duration_ns(hist.max())),
    ];
    if h.high_outliers > 0 {
        parts.push(format!(
            "+{} outliers ≤ {}",
            h.high_outliers,
            duration_ns(h.highest_outlier.unwrap_or(0))
        ));
    }
    // The summary wraps between its figures (at 80 columns the pane is 33 wide: p99 and max
    // go to a second row) and comes first: the bars get the rows it leaves (at 80x24 the
    // scheduled-times pane has two, both the summary's).
    let summary = pack(&parts, usize::from(inner.width));
    let text_rows = u16::try_from(summary.len())
        .unwrap_or(u16::MAX)
        .min(inner.height);
    let [text, bars] =
        Layout::vertical([Constraint::Length(text_rows), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(summary.into_iter().map(Line::from).collect::<Vec<_>>()),
        text,
    );
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

/// The rows `lines` take when wrapped into `area`'s width.
fn rows_for<'a>(lines: impl Iterator<Item = &'a str>, area: Rect) -> u16 {
    let rows: usize = lines
        .map(|l| wrapped_rows(l, usize::from(area.width)))
        .sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// `parts` joined by two spaces into rows of at most `width` columns, a part never split
/// (one wider than a row gets a row of its own).
fn pack(parts: &[String], width: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for part in parts {
        match rows.last_mut() {
            Some(row) if row.chars().count() + 2 + part.chars().count() <= width => {
                row.push_str("  ");
                row.push_str(part);
            }
            _ => rows.push(part.clone()),
        }
    }
    rows
}

/// The rows `text` takes when wrapped at word boundaries into `width` columns (as the
/// paragraph's word wrapping does: a word longer than a row is broken).
fn wrapped_rows(text: &str, width: usize) -> usize {
    if width == 0 {
        return 0;
    }
    let (mut rows, mut col) = (1, 0usize);
    for word in text.split(' ') {
        let w = word.chars().count();
        col = if col == 0 {
            w
        } else if col + 1 + w <= width {
            col + 1 + w
        } else {
            rows += 1;
            w
        };
        while col > width {
            rows += 1;
            col -= width;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::{pack, wrapped_rows};

    #[test]
    fn pack_wraps_between_parts() {
        let parts: Vec<String> = ["n 4", "p50 25.1µs", "p90 901.1µs", "p99 1.0ms", "max 1.0ms"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            pack(&parts, 80),
            ["n 4  p50 25.1µs  p90 901.1µs  p99 1.0ms  max 1.0ms"]
        );
        assert_eq!(
            pack(&parts, 33),
            ["n 4  p50 25.1µs  p90 901.1µs", "p99 1.0ms  max 1.0ms"]
        );
        // A part wider than the row is not split: it gets a row of its own.
        assert_eq!(pack(&parts[..2], 5), ["n 4", "p50 25.1µs"]);
        assert!(pack(&[], 10).is_empty());
    }

    #[test]
    fn wrapped_rows_counts_word_wrapping() {
        assert_eq!(wrapped_rows("", 10), 1);
        assert_eq!(wrapped_rows("one two", 7), 1);
        assert_eq!(wrapped_rows("one two", 6), 2);
        assert_eq!(wrapped_rows("abcdefghijkl", 5), 3);
        assert_eq!(wrapped_rows("a b", 0), 0);
    }
}
