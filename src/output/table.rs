//! `snapshot --format table`: a summary and the largest futures first, fitted to the terminal.

use std::io::{self, Write};

use super::units::{bytes, duration_ns, signed_bytes, tail};
use super::{tasks_by_size, TargetInfo};
use crate::insight::{self, LintConfig, LintCounts, Reading, Split};
use crate::model::{Model, Task};

/// The columns, in display order, with their width and how much they matter (lower is kept
/// longer when the terminal is narrow). LOCATION takes what is left.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Id,
    Tid,
    State,
    Size,
    Polls,
    Busy,
    Sched,
    Idle,
    Wakes,
    Name,
}

const COLS: [(Col, &str, usize, u8); 10] = [
    (Col::Id, "ID", 16, 4),
    (Col::Tid, "TID", 7, 5),
    (Col::State, "STATE", 9, 1),
    (Col::Size, "SIZE", 10, 0),
    (Col::Polls, "POLLS", 7, 6),
    (Col::Busy, "BUSY", 8, 8),
    (Col::Sched, "SCHED", 8, 10),
    (Col::Idle, "IDLE", 8, 7),
    (Col::Wakes, "WAKES", 6, 9),
    (Col::Name, "NAME", 16, 2),
];

/// Narrowest LOCATION column worth showing.
const MIN_LOCATION: usize = 16;

/// The columns that fit `width`, dropping the least important first.
fn layout(width: usize) -> Vec<(Col, &'static str, usize)> {
    let mut keep: Vec<_> = COLS.to_vec();
    let total = |cols: &[(Col, &str, usize, u8)]| cols.iter().map(|c| c.2 + 1).sum::<usize>();
    while keep.len() > 1 && total(&keep) + MIN_LOCATION > width {
        let least = keep
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| c.3)
            .map(|(i, _)| i)
            .unwrap_or(0);
        keep.remove(least);
    }
    keep.into_iter().map(|(c, h, w, _)| (c, h, w)).collect()
}

fn line(cells: &[(String, usize, bool)], location: &str, width: usize) -> String {
    let mut out = String::new();
    for (text, w, left) in cells {
        let text = fit_right(text, *w);
        if *left {
            out.push_str(&format!("{text:<w$} "));
        } else {
            out.push_str(&format!("{text:>w$} "));
        }
    }
    let rest = width.saturating_sub(out.chars().count());
    out.push_str(&tail(location, rest));
    out.trim_end().to_string()
}

fn header(cols: &[(Col, &'static str, usize)], width: usize) -> String {
    let cells: Vec<_> = cols
        .iter()
        .map(|&(c, h, w)| (h.to_string(), w, matches!(c, Col::State | Col::Name)))
        .collect();
    line(&cells, "LOCATION", width)
}

fn fit_right(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let head: String = s.chars().take(width.saturating_sub(1)).collect();
    format!("{head}…")
}

fn row(model: &Model, t: &Task, cols: &[(Col, &'static str, usize)], width: usize) -> String {
    let s = &t.stats;
    let cells: Vec<_> = cols
        .iter()
        .map(|&(c, _, w)| {
            let text = match c {
                Col::Id => t.console_id.to_string(),
                Col::Tid => t.task_id.map_or_else(|| "-".to_string(), |v| v.to_string()),
                Col::State => t.state().as_str().to_string(),
                Col::Size => match t.size_bytes {
                    Some(n) if t.boxed => format!("{}*", bytes(n)),
                    Some(n) => bytes(n),
                    None => "?".to_string(),
                },
                Col::Polls => s.polls.to_string(),
                Col::Busy => duration_ns(s.busy_ns),
                Col::Sched => duration_ns(s.scheduled_ns),
                Col::Idle => duration_ns(t.idle_ns(model.now)),
                Col::Wakes => s.wakes.to_string(),
                Col::Name => model.resolve(t.name).to_string(),
            };
            (text, w, matches!(c, Col::State | Col::Name))
        })
        .collect();
    line(&cells, model.resolve(t.location), width)
}

/// Write the summary and up to `limit` task rows (0: all) for a terminal `width` wide.
pub fn write(
    out: &mut impl Write,
    model: &Model,
    target: &TargetInfo,
    lint_cfg: &LintConfig,
    width: usize,
    limit: usize,
) -> io::Result<()> {
    let c = model.counts();
    let pid = target
        .pid
        .map_or_else(|| "?".to_string(), |p| p.to_string());
    writeln!(out, "asyncmem snapshot: pid {pid} at {}", target.endpoint)?;
    match model.last_rss {
        Some(r) => writeln!(
            out,
            "memory: RSS {} (anonymous {}), {} threads",
            bytes(r.rss_bytes),
            bytes(r.anon_rss_bytes),
            r.threads
        )?,
        None => writeln!(out, "memory: unknown (no local pid to read /proc from)")?,
    }
    writeln!(
        out,
        "tasks: {} live ({} running, {} scheduled, {} idle), {} done",
        c.live(),
        c.running,
        c.scheduled,
        c.idle,
        c.done
    )?;
    let mean = c.future_bytes.checked_div(c.sized).unwrap_or(0);
    writeln!(
        out,
        "futures: {} held by {} live tasks of known size (mean {}); * = boxed by tokio",
        bytes(c.future_bytes),
        c.sized,
        bytes(mean)
    )?;
    let bpt = crate::insight::bytes_per_task(model, None);
    let instr = insight::instrumentation_bytes_per_task(model.instrumentation);
    writeln!(
        out,
        "instrumentation: {}{}",
        model.instrumentation.as_str(),
        instr.map_or(String::new(), |b| format!(" (~{} per live task)", bytes(b)))
    )?;
    match bpt.reading() {
        Reading::Fitted {
            slope,
            r2,
            samples,
            split,
        } => {
            write!(
                out,
                "bytes per task: {} (RSS slope over {samples} samples, r2 {r2:.2})",
                signed_bytes(slope),
            )?;
            match split {
                Split::PoorFit => write!(out, "; a poor fit: RSS does not follow the task count")?,
                Split::Parts {
                    without_instrumentation,
                    future,
                    other,
                    ..
                } => write!(
                    out,
                    "; without instrumentation {}: future {} + other {}",
                    signed_bytes(without_instrumentation),
                    bytes(future),
                    signed_bytes(other)
                )?,
                Split::Unknown => {}
            }
            writeln!(out)?;
        }
        Reading::NotFitted { reason } => writeln!(out, "bytes per task: not fitted ({reason})")?,
    }
    let lint_line: Vec<String> = LintCounts::count(model.tasks(), model.now, lint_cfg)
        .found()
        .map(|(l, n)| format!("{} {n}", l.as_str()))
        .collect();
    if !lint_line.is_empty() {
        writeln!(out, "lints: {}", lint_line.join(", "))?;
    }
    if let Some(missing) = model.lag.missing_estimate().filter(|m| *m > 0) {
        writeln!(out, "lag: ≈{missing} tokio task ids never announced (latest task announced {} after its spawn)", duration_ns(model.lag.last_announce_lag_ns))?;
    }
    for w in model.warnings.iter() {
        writeln!(out, "warning: {}", w.message())?;
    }
    let locations = insight::by_location(model.tasks());
    if !locations.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:>8} {:>10} {:>10} {:>10}  LOCATION",
            "TASKS", "SUM", "MEAN", "MAX"
        )?;
        for l in locations.iter().take(5) {
            let fixed = format!(
                "{:>8} {:>10} {:>10} {:>10}  ",
                l.tasks,
                bytes(l.size_sum),
                l.size_mean().map_or("?".into(), bytes),
                if l.sized > 0 {
                    bytes(l.size_max)
                } else {
                    "?".into()
                }
            );
            let rest = width.saturating_sub(fixed.chars().count());
            writeln!(out, "{fixed}{}", tail(model.resolve(l.location), rest))?;
        }
        if locations.len() > 5 {
            writeln!(out, "… {} more locations", locations.len() - 5)?;
        }
    }
    writeln!(out)?;
    let cols = layout(width);
    writeln!(out, "{}", header(&cols, width))?;
    let tasks = tasks_by_size(model);
    let shown = if limit == 0 {
        tasks.len()
    } else {
        limit.min(tasks.len())
    };
    for t in &tasks[..shown] {
        writeln!(out, "{}", row(model, t, &cols, width))?;
    }
    if shown < tasks.len() {
        writeln!(
            out,
            "… {} more tasks (--limit 0 shows all, --format json for scripts)",
            tasks.len() - shown
        )?;
    }
    Ok(())
}

/// The chart's samples as aligned text, oldest first (the CSV's columns, sizes in units).
pub fn write_series(out: &mut impl Write, model: &Model) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>9}  {:>10}  {:>10}  {:>7}  {:>9}  {:>9}  {:>9}  {:>10}  {:>10}",
        "SECONDS", "RSS", "ANON", "THREADS", "RUNNING", "SCHED", "IDLE", "LIVE", "FUTURES"
    )?;
    let t0 = model.series.samples().next().map_or(0, |s| s.at);
    for s in model.series.samples() {
        writeln!(
            out,
            "{:>9.1}  {:>10}  {:>10}  {:>7}  {:>9}  {:>9}  {:>9}  {:>10}  {:>10}",
            (s.at - t0) as f64 / 1e9,
            bytes(s.rss_bytes),
            bytes(s.anon_rss_bytes),
            s.threads,
            s.running,
            s.scheduled,
            s.idle,
            s.live_tasks,
            bytes(s.future_bytes)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_the_useful_end() {
        assert_eq!(tail("src/main.rs:10:5", 100), "src/main.rs:10:5");
        assert_eq!(tail("demos/src/bin/sleepers.rs:40:9", 12), "…ers.rs:40:9");
        assert_eq!(tail("abc", 0), "");
        assert_eq!(fit_right("a-very-long-task-name", 8), "a-very-…");
    }

    #[test]
    fn narrow_terminals_drop_the_least_useful_columns() {
        let all = layout(200);
        assert_eq!(all.len(), COLS.len());
        let narrow: Vec<&str> = layout(60).iter().map(|c| c.1).collect();
        assert!(
            narrow.contains(&"SIZE") && narrow.contains(&"STATE"),
            "{narrow:?}"
        );
        assert!(!narrow.contains(&"SCHED"), "{narrow:?}");
        assert!(header(&layout(60), 60).chars().count() <= 60);
        assert_eq!(layout(1).len(), 1, "always keeps SIZE");
    }
}
