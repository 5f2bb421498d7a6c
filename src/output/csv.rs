//! CSV for spreadsheets and plotting: one row per task, or one row per chart sample.

use std::io::Write;

use super::json::task_out;
use super::tasks_by_size;
use crate::insight::{self, LintConfig};
use crate::model::series::Sample;
use crate::model::Model;

const TASK_COLUMNS: [&str; 21] = [
    "id",
    "task_id",
    "name",
    "kind",
    "state",
    "size_bytes",
    "boxed",
    "polls",
    "busy_ns",
    "scheduled_ns",
    "idle_ns",
    "wakes",
    "waker_clones",
    "waker_drops",
    "live_wakers",
    "self_wakes",
    "created_at_ns",
    "dropped_at_ns",
    "location",
    "announced",
    "lints",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// One row per task, largest future first (the order of the other outputs); lints are joined
/// with `;`. Unknown values are empty cells.
pub fn write_tasks(out: &mut impl Write, model: &Model, lints: &LintConfig) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TASK_COLUMNS)?;
    for t in tasks_by_size(model) {
        let t = task_out(model, t, insight::lints(t, model.now(), lints));
        w.write_record([
            t.id.to_string(),
            opt(t.task_id),
            t.name.unwrap_or_default().to_string(),
            t.kind.to_string(),
            t.state.to_string(),
            opt(t.size_bytes),
            t.boxed.to_string(),
            t.polls.to_string(),
            t.busy_ns.to_string(),
            t.scheduled_ns.to_string(),
            t.idle_ns.to_string(),
            t.wakes.to_string(),
            t.waker_clones.to_string(),
            t.waker_drops.to_string(),
            t.live_wakers.to_string(),
            t.self_wakes.to_string(),
            opt(t.created_at_ns),
            opt(t.dropped_at_ns),
            t.location.unwrap_or_default().to_string(),
            t.announced.to_string(),
            t.lints.join(";"),
        ])?;
    }
    w.flush()
}

pub const SERIES_COLUMNS: [&str; 11] = [
    "at_ns",
    "seconds",
    "rss_bytes",
    "anon_rss_bytes",
    "threads",
    "running",
    "scheduled",
    "idle",
    "live_tasks",
    "future_bytes",
    "rss_minus_futures_bytes",
];

/// The values of one chart sample, in [`SERIES_COLUMNS`] order; `seconds` since `t0`.
pub fn series_row(s: &Sample, t0: i64) -> [String; 11] {
    [
        s.at.to_string(),
        format!("{:.3}", (s.at - t0) as f64 / 1e9),
        s.rss_bytes.to_string(),
        s.anon_rss_bytes.to_string(),
        s.threads.to_string(),
        s.running.to_string(),
        s.scheduled.to_string(),
        s.idle.to_string(),
        s.live_tasks.to_string(),
        s.future_bytes.to_string(),
        (s.rss_bytes as i128 - s.future_bytes as i128).to_string(),
    ]
}

/// One row per chart sample (RSS beside the task picture at that moment).
pub fn write_series(out: &mut impl Write, model: &Model) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(SERIES_COLUMNS)?;
    let t0 = model.series().samples().next().map_or(0, |s| s.at);
    for s in model.series().samples() {
        w.write_record(series_row(s, t0))?;
    }
    w.flush()
}
