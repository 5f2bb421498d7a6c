//! `snapshot --format table`: a summary and the largest futures first, fitted to the terminal.

use std::io::{self, Write};

use super::{tasks_by_size, TargetInfo};
use crate::insight::{self, LintConfig, LintCounts, Reading, Split};
use crate::model::{Model, Task};
use crate::present::columns::{self, Spec};
use crate::present::units::{bytes, duration_ns, head, signed_bytes, tail};
use crate::present::Column;

/// The columns that fit `width`, dropping the least important first.
fn layout(width: usize) -> Vec<Spec> {
    columns::fit(&columns::TABLE, width, columns::TABLE_MIN_LOCATION)
}

/// STATE and NAME are text and read from the left; the numbers line up on the right.
fn left_aligned(c: Column) -> bool {
    matches!(c, Column::State | Column::Name)
}

fn line(cells: &[(String, usize, bool)], location: &str, width: usize) -> String {
    let mut out = String::new();
    for (text, w, left) in cells {
        let text = head(text, *w);
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

fn header(cols: &[Spec], width: usize) -> String {
    let cells: Vec<_> = cols
        .iter()
        .map(|c| {
            (
                c.column.title().to_uppercase(),
                c.width,
                left_aligned(c.column),
            )
        })
        .collect();
    line(&cells, "LOCATION", width)
}

fn row(model: &Model, t: &Task, cols: &[Spec], lints: &LintConfig, width: usize) -> String {
    let cells: Vec<_> = cols
        .iter()
        .map(|c| {
            let text = columns::cell_text(model, t, c.column, lints);
            (text, c.width, left_aligned(c.column))
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
    incomplete: Option<&str>,
) -> io::Result<()> {
    let c = model.counts();
    let pid = target
        .pid
        .map_or_else(|| "?".to_string(), |p| p.to_string());
    writeln!(out, "asyncmem snapshot: pid {pid} at {}", target.endpoint)?;
    let incomplete = incomplete
        .map(str::to_string)
        .or_else(|| model.incomplete_reason());
    if let Some(reason) = &incomplete {
        writeln!(out, "INCOMPLETE picture: {reason}")?;
    }
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
        Reading::Fitted(f) => {
            write!(
                out,
                "bytes per task: {} (RSS slope over {} samples, r2 {:.2})",
                signed_bytes(f.slope),
                f.samples,
                f.r2,
            )?;
            match f.split {
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
        Reading::NotFitted { reason } => writeln!(out, "bytes per task: none ({reason})")?,
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
        writeln!(out, "{}", row(model, t, &cols, lint_cfg, width))?;
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
    fn narrow_terminals_drop_the_least_useful_columns() {
        let all = layout(200);
        assert_eq!(all.len(), columns::TABLE.len());
        let narrow: Vec<String> = layout(60)
            .iter()
            .map(|c| c.column.title().to_uppercase())
            .collect();
        assert!(
            narrow.contains(&"SIZE".into()) && narrow.contains(&"STATE".into()),
            "{narrow:?}"
        );
        assert!(!narrow.contains(&"SCHED".into()), "{narrow:?}");
        assert!(header(&layout(60), 60).chars().count() <= 60);
        assert_eq!(layout(1).len(), 1, "always keeps SIZE");
    }
}
