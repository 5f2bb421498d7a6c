//! `snapshot --format table`: a summary and the largest futures first, fitted to the terminal.

use std::io::{self, Write};

use super::units::{bytes, duration_ns};
use super::{tasks_by_size, TargetInfo};
use crate::model::{Model, Task};

/// Fixed columns: id, tokio id, state, size, polls, busy, sched, idle, wakes, name.
const NAME_WIDTH: usize = 16;

fn header(width: usize) -> String {
    let fixed = format!(
        "{:>12} {:>7} {:<9} {:>10} {:>7} {:>8} {:>8} {:>8} {:>6} {:<NAME_WIDTH$}",
        "ID", "TID", "STATE", "SIZE", "POLLS", "BUSY", "SCHED", "IDLE", "WAKES", "NAME"
    );
    let rest = width.saturating_sub(fixed.chars().count() + 1);
    format!("{fixed} {}", fit_left("LOCATION", rest))
}

/// Keep the end of `s` (the file name and line matter most), marking a cut with `…`.
fn fit_left(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let tail: String = s.chars().skip(n - (width - 1)).collect();
    format!("…{tail}")
}

fn fit_right(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let head: String = s.chars().take(width.saturating_sub(1)).collect();
    format!("{head}…")
}

fn row(model: &Model, t: &Task, width: usize) -> String {
    let s = &t.stats;
    let size = match t.size_bytes {
        Some(n) if t.boxed => format!("{}*", bytes(n)),
        Some(n) => bytes(n),
        None => "?".to_string(),
    };
    let tid = t.task_id.map_or_else(|| "-".to_string(), |v| v.to_string());
    let fixed = format!(
        "{:>12} {:>7} {:<9} {:>10} {:>7} {:>8} {:>8} {:>8} {:>6} {:<NAME_WIDTH$}",
        t.console_id,
        tid,
        t.state().as_str(),
        size,
        s.polls,
        duration_ns(s.busy_ns),
        duration_ns(s.scheduled_ns),
        duration_ns(t.idle_ns(model.now)),
        s.wakes,
        fit_right(model.resolve(t.name), NAME_WIDTH),
    );
    let rest = width.saturating_sub(fixed.chars().count() + 1);
    format!("{fixed} {}", fit_left(model.resolve(t.location), rest))
}

/// Write the summary and up to `limit` task rows (0: all) for a terminal `width` wide.
pub fn write(
    out: &mut impl Write,
    model: &Model,
    target: &TargetInfo,
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
    for w in model.warnings.iter() {
        writeln!(out, "warning: {}", w.message())?;
    }
    writeln!(out)?;
    writeln!(out, "{}", header(width))?;
    let tasks = tasks_by_size(model);
    let shown = if limit == 0 {
        tasks.len()
    } else {
        limit.min(tasks.len())
    };
    for t in &tasks[..shown] {
        writeln!(out, "{}", row(model, t, width))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_the_useful_end() {
        assert_eq!(fit_left("src/main.rs:10:5", 100), "src/main.rs:10:5");
        assert_eq!(
            fit_left("demos/src/bin/sleepers.rs:40:9", 12),
            "…ers.rs:40:9"
        );
        assert_eq!(fit_left("abc", 0), "");
        assert_eq!(fit_right("a-very-long-task-name", 8), "a-very-…");
    }
}
