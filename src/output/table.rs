//! `snapshot --format table`: a summary and the largest futures first, fitted to the terminal.

use std::io::{self, Write};

use super::{tasks_by_size, TargetInfo};
use crate::insight::{self, LintConfig, LintCounts, Reading, Split};
use crate::model::{Model, Task};
use crate::present::columns::{self, Spec};
use crate::present::units::{bytes, duration_ns, head, signed_bytes};
use crate::present::{escape, location, Column};

/// The columns that fit `width`, dropping the least important first.
fn layout(width: usize, heap: bool) -> Vec<Spec> {
    let table = columns::with_heap(&columns::TABLE, heap);
    columns::fit(&table, width, columns::TABLE_MIN_LOCATION)
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
    out.push_str(&location::fit(location, rest));
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
            let text = columns::cell_text(model, t, c.column, lints, model.now());
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
    let pid = pid_text(target);
    writeln!(
        out,
        "asyncmem snapshot: pid {pid} at {}",
        escape(&target.endpoint)
    )?;
    let incomplete = incomplete
        .map(str::to_string)
        .or_else(|| model.incomplete_reason());
    if let Some(reason) = &incomplete {
        writeln!(out, "INCOMPLETE picture: {}", escape(reason))?;
    }
    match model.last_rss() {
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
    if let Some(line) = heap_line(model) {
        writeln!(out, "{line}")?;
    }
    if let Some(line) = explained_line(&insight::explained(model)) {
        writeln!(out, "{line}")?;
    }
    let bpt = crate::insight::bytes_per_task(model, None);
    let instr = insight::instrumentation_bytes_per_task(model.instrumentation());
    writeln!(
        out,
        "instrumentation: {}{}",
        model.instrumentation().as_str(),
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
    let counts = LintCounts::count(model, lint_cfg);
    let lint_line: Vec<String> = counts
        .found()
        .map(|(l, n)| match counts.in_dependencies(l) {
            0 => format!("{} {n}", l.as_str()),
            d if d == n => format!("{} {n} (all in dependencies)", l.as_str()),
            d => format!("{} {n} ({d} in dependencies)", l.as_str()),
        })
        .collect();
    if !lint_line.is_empty() {
        writeln!(out, "lints (live tasks): {}", lint_line.join(", "))?;
    }
    if let Some(missing) = model.lag().missing_estimate().filter(|m| *m > 0) {
        writeln!(out, "lag: ≈{missing} tokio task ids never announced (latest task announced {} after its spawn)", duration_ns(model.lag().last_announce_lag_ns))?;
    }
    for w in model.warnings().iter() {
        writeln!(out, "warning: {}", escape(&w.message()))?;
    }
    let locations = insight::by_location(model.tasks());
    if !locations.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:>8} {:>8} {:>10} {:>10} {:>10}  LOCATION",
            "TASKS", "LIVE", "LIVE SUM", "MEAN", "MAX"
        )?;
        for l in locations.iter().take(5) {
            let fixed = format!(
                "{:>8} {:>8} {:>10} {:>10} {:>10}  ",
                l.tasks,
                l.live(),
                bytes(l.live_size_sum),
                l.size_mean().map_or("?".into(), bytes),
                if l.sized > 0 {
                    bytes(l.size_max)
                } else {
                    "?".into()
                }
            );
            let rest = width.saturating_sub(fixed.chars().count());
            writeln!(
                out,
                "{fixed}{}",
                location::fit(model.resolve(l.location), rest)
            )?;
        }
        if locations.len() > 5 {
            writeln!(out, "… {} more locations", locations.len() - 5)?;
        }
    }
    writeln!(out)?;
    let cols = layout(width, model.heap().known());
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

/// `heap: 6.0 MiB held by 930 live tasks (93 holding any) ...`: the heap the target's
/// allocator counts (asyncmem-probe); `None` where it is not known.
pub fn heap_line(model: &Model) -> Option<String> {
    let h = model.heap();
    let live = h.live()?;
    let part = |b: Option<crate::model::HeapBytes>| b.map_or("?".into(), |b| bytes(b.bytes));
    Some(format!(
        "heap: {} in {} blocks held by live tasks ({} of {} holding any); outside tasks {}, left by ended tasks {}",
        bytes(live.bytes),
        live.blocks,
        h.holding_tasks().unwrap_or(0),
        model.counts().live(),
        part(h.outside_tasks()),
        part(h.left_by_ended_tasks()),
    ))
}

/// `explained: 15.2 MiB of RSS 23.6 MiB (64 %) ...`: what live tasks account for, and the gap;
/// `None` without an RSS reading.
pub fn explained_line(e: &insight::Explained) -> Option<String> {
    let (rss, share, unexplained) = (e.rss_bytes?, e.share?, e.unexplained_bytes?);
    let instr = match e.instrumentation_bytes_per_task {
        Some(_) => format!("instrumentation {}", bytes(e.instrumentation_bytes)),
        None => "instrumentation unknown".into(),
    };
    let unknown = if e.unsized_tasks > 0 {
        format!(", {} of unknown size counted empty", e.unsized_tasks)
    } else {
        String::new()
    };
    let (cells, heap, gap) = match e.heap_bytes {
        Some(h) => (
            "cells",
            format!(" + heap held by tasks {}", bytes(h)),
            "heap of no task, caches, runtime, allocator",
        ),
        None => (
            "cells and boxed futures",
            String::new(),
            "heap the futures point to, caches, runtime, allocator",
        ),
    };
    Some(format!(
        "explained by tasks: {} of RSS {} ({:.0} %): {cells} {} + {instr}{heap}{unknown}; unexplained {} ({gap})",
        bytes(e.explained_bytes),
        bytes(rss),
        share * 100.0,
        bytes(e.cell_bytes),
        signed_bytes(unexplained as f64),
    ))
}

/// The target's pid, or `?`.
fn pid_text(target: &TargetInfo) -> String {
    target
        .pid
        .map_or_else(|| "?".to_string(), |p| p.to_string())
}

/// A signed count: `+12`, `-3`, `0`.
fn signed(v: i64) -> String {
    if v > 0 {
        format!("+{v}")
    } else {
        v.to_string()
    }
}

/// A signed size: `+1.2 MiB`, `-512 B`, `0 B`.
fn signed_size(v: i64) -> String {
    if v > 0 {
        format!("+{}", bytes(v.unsigned_abs()))
    } else {
        signed_bytes(v as f64)
    }
}

/// `snapshot --diff-at` / `--diff-after`: what changed between two moments, the locations
/// whose live tasks changed largest change first (up to `limit`, 0: all).
pub fn write_diff(
    out: &mut impl Write,
    d: &insight::Diff,
    target: &TargetInfo,
    width: usize,
    limit: usize,
) -> io::Result<()> {
    let pid = pid_text(target);
    writeln!(
        out,
        "asyncmem snapshot: what changed over {:.1} s, pid {pid} at {}",
        d.seconds,
        escape(&target.endpoint)
    )?;
    match (d.from.rss_bytes, d.to.rss_bytes, d.rss_change_bytes) {
        (Some(a), Some(b), Some(c)) => writeln!(
            out,
            "memory: RSS {} -> {} ({})",
            bytes(a),
            bytes(b),
            signed_size(c)
        )?,
        _ => writeln!(out, "memory: unknown (no RSS reading at both moments)")?,
    }
    writeln!(
        out,
        "tasks: {} -> {} live ({}); futures {} -> {} ({})",
        d.from.live_tasks,
        d.to.live_tasks,
        signed(d.live_tasks_change),
        bytes(d.from.future_bytes),
        bytes(d.to.future_bytes),
        signed_size(d.future_bytes_change)
    )?;
    let share = d.growth_explained.map_or(String::new(), |g| {
        format!(": {:.0} % of the RSS growth", g * 100.0)
    });
    writeln!(
        out,
        "explained by tasks: {} -> {} ({}){share}",
        bytes(d.from.explained_bytes),
        bytes(d.to.explained_bytes),
        signed_size(d.explained_change_bytes)
    )?;
    writeln!(out)?;
    if d.locations.is_empty() {
        writeln!(
            out,
            "no location's live tasks changed ({} unchanged)",
            d.unchanged_locations
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>8} {:>8} {:>8} {:>8} {:>10} {:>10}  LOCATION",
        "BEFORE", "AFTER", "GAINED", "LOST", "FUTURES+", "FUTURES-"
    )?;
    let shown = if limit == 0 {
        d.locations.len()
    } else {
        limit.min(d.locations.len())
    };
    for l in &d.locations[..shown] {
        let fixed = format!(
            "{:>8} {:>8} {:>8} {:>8} {:>10} {:>10}  ",
            l.tasks_before,
            l.tasks_after,
            signed(l.tasks_gained as i64),
            signed(-(l.tasks_lost as i64)),
            signed_size(l.future_bytes_gained as i64),
            signed_size(-(l.future_bytes_lost as i64)),
        );
        let rest = width.saturating_sub(fixed.chars().count());
        writeln!(out, "{fixed}{}", location::fit(&l.location, rest))?;
    }
    if shown < d.locations.len() {
        writeln!(
            out,
            "… {} more locations changed (--limit 0 shows all)",
            d.locations.len() - shown
        )?;
    }
    writeln!(
        out,
        "({} locations unchanged; tasks that started and ended in between are not counted)",
        d.unchanged_locations
    )?;
    Ok(())
}

/// Locations listed per spike.
const SPIKE_LOCATIONS: usize = 5;

/// `snapshot --from FILE --spikes`: the steepest RSS rises, each with the locations that grew.
/// `started`: the recording's start, from which times are counted.
pub fn write_spikes(
    out: &mut impl Write,
    spikes: &[insight::Spike],
    started: i64,
    target: &TargetInfo,
    window: std::time::Duration,
    width: usize,
) -> io::Result<()> {
    writeln!(
        out,
        "asyncmem snapshot: the steepest RSS rises over {} windows, pid {} at {}",
        humantime::format_duration(window),
        pid_text(target),
        escape(&target.endpoint)
    )?;
    if spikes.is_empty() {
        writeln!(out, "RSS did not rise over any window of the recording")?;
        return Ok(());
    }
    let secs = |at: i64| (at - started) as f64 / 1e9;
    for (n, s) in spikes.iter().enumerate() {
        let rise = s.rss_after_bytes as i64 - s.rss_before_bytes as i64;
        let share = if rise > 0 {
            format!(
                " ({:.0} % of the rise)",
                100.0 * s.explained_change_bytes as f64 / rise as f64
            )
        } else {
            String::new()
        };
        writeln!(out)?;
        writeln!(
            out,
            "{}. {:.1} s to {:.1} s: RSS {} -> {} ({}, {}/s); live tasks {} -> {}; explained by tasks {}{share}",
            n + 1,
            secs(s.from_ns),
            secs(s.to_ns),
            bytes(s.rss_before_bytes),
            bytes(s.rss_after_bytes),
            signed_size(rise),
            bytes(s.rss_bytes_per_second as u64),
            s.live_tasks_before,
            s.live_tasks_after,
            signed_size(s.explained_change_bytes),
        )?;
        if s.locations.is_empty() {
            writeln!(
                out,
                "   no location's live tasks grew: the rise is outside the tasks"
            )?;
            continue;
        }
        writeln!(
            out,
            "   {:>8} {:>8} {:>10}  LOCATION",
            "GAINED", "LOST", "FUTURES"
        )?;
        for l in s.locations.iter().take(SPIKE_LOCATIONS) {
            let fixed = format!(
                "   {:>8} {:>8} {:>10}  ",
                signed(l.tasks_gained as i64),
                signed(-(l.tasks_lost as i64)),
                signed_size(l.future_bytes_change),
            );
            let rest = width.saturating_sub(fixed.chars().count());
            writeln!(out, "{fixed}{}", location::fit(&l.location, rest))?;
        }
        if s.locations.len() > SPIKE_LOCATIONS {
            writeln!(
                out,
                "   … {} more locations grew (--format json lists all)",
                s.locations.len() - SPIKE_LOCATIONS
            )?;
        }
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
    let t0 = model.series().samples().next().map_or(0, |s| s.at);
    for s in model.series().samples() {
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
        let all = layout(200, true);
        assert_eq!(all.len(), columns::TABLE.len());
        assert_eq!(
            layout(200, false).len(),
            columns::TABLE.len() - 1,
            "no heap, no HEAP"
        );
        let narrow: Vec<String> = layout(60, false)
            .iter()
            .map(|c| c.column.title().to_uppercase())
            .collect();
        assert!(
            narrow.contains(&"SIZE".into()) && narrow.contains(&"STATE".into()),
            "{narrow:?}"
        );
        assert!(!narrow.contains(&"SCHED".into()), "{narrow:?}");
        assert!(header(&layout(60, false), 60).chars().count() <= 60);
        assert_eq!(layout(1, false).len(), 1, "always keeps SIZE");
    }

    #[test]
    fn dependency_locations_read_as_crate_and_path_and_lints_count_the_living() {
        use crate::model::synth::*;
        const SEC: i64 = 1_000_000_000;
        let file = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/serve/mod.rs";
        let mut tasks = Vec::new();
        let mut st = Vec::new();
        for id in 1..=3u64 {
            let mut t = ptask(id, id, 4096, None, "\"conn\"");
            if let Some(l) = t.location.as_mut() {
                l.file = Some(file.into());
            }
            tasks.push(t);
            let mut s = stats(SEC);
            if id == 3 {
                s.dropped_at = stamp(2 * SEC);
            }
            st.push((id, s));
        }
        let mut model = Model::default();
        model.apply_update(&update(3 * SEC, true, tasks, st));
        let target = TargetInfo {
            pid: Some(1),
            endpoint: "http://h\x1b]0;x\x07:1".into(),
        };
        let mut out = Vec::new();
        write(
            &mut out,
            &model,
            &target,
            &LintConfig::default(),
            200,
            0,
            None,
        )
        .expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(!text.contains("index.crates.io"), "{text}");
        assert!(text.contains("axum-0.8.9/src/serve/mod.rs:10:5"), "{text}");
        assert!(
            text.contains("large_future 2 (all in dependencies)"),
            "the done task is not counted:\n{text}"
        );
        assert!(text.contains("http://h\\e]0;x\\x07:1"), "{text}");
        // The location table: 3 tasks, 2 live, 8 KiB held by the live ones.
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().take(4).collect::<Vec<_>>()
                    == ["3", "2", "8.0", "KiB"]),
            "{text}"
        );
    }
}
