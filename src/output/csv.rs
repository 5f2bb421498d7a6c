//! CSV for spreadsheets and plotting: one row per task, or one row per chart sample.

use std::io::Write;

use super::json::{task_out, TaskOut};
use super::tasks_by_size;
use crate::insight::{self, LintConfig};
use crate::model::series::Sample;
use crate::model::Model;

/// The cell of a task column.
type TaskCell = fn(&TaskOut) -> String;

/// The task columns: each header with its cell, unknown values as empty cells.
const TASK_COLUMNS: [(&str, TaskCell); 24] = [
    ("id", |t| t.id.to_string()),
    ("task_id", |t| opt(t.task_id)),
    ("name", |t| t.name.unwrap_or_default().to_string()),
    ("kind", |t| t.kind.to_string()),
    ("state", |t| t.state.to_string()),
    ("size_bytes", |t| opt(t.size_bytes)),
    ("boxed", |t| t.boxed.to_string()),
    ("heap_bytes", |t| opt(t.heap_bytes)),
    ("heap_blocks", |t| opt(t.heap_blocks)),
    ("heap_peak_bytes", |t| opt(t.heap_peak_bytes)),
    ("polls", |t| t.polls.to_string()),
    ("busy_ns", |t| t.busy_ns.to_string()),
    ("scheduled_ns", |t| t.scheduled_ns.to_string()),
    ("idle_ns", |t| t.idle_ns.to_string()),
    ("wakes", |t| t.wakes.to_string()),
    ("waker_clones", |t| t.waker_clones.to_string()),
    ("waker_drops", |t| t.waker_drops.to_string()),
    ("live_wakers", |t| t.live_wakers.to_string()),
    ("self_wakes", |t| t.self_wakes.to_string()),
    ("created_at_ns", |t| opt(t.created_at_ns)),
    ("dropped_at_ns", |t| opt(t.dropped_at_ns)),
    ("location", |t| t.location.unwrap_or_default().to_string()),
    ("announced", |t| t.announced.to_string()),
    ("lints", |t| t.lints.join(";")),
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// One row per task, largest future first (the order of the other outputs); lints are joined
/// with `;`. Unknown values are empty cells.
pub fn write_tasks(out: &mut impl Write, model: &Model, lints: &LintConfig) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TASK_COLUMNS.map(|(name, _)| name))?;
    for t in tasks_by_size(model) {
        let t = task_out(model, t, insight::lints(t, model.now(), lints));
        w.write_record(TASK_COLUMNS.map(|(_, cell)| cell(&t)))?;
    }
    w.flush()
}

/// The cell of a chart-sample column, given the sample and the first sample's time.
type SampleCell = fn(&Sample, i64) -> String;

/// The chart-sample columns: each header with its value, `seconds` since the first sample.
const SERIES_COLUMNS: [(&str, SampleCell); 12] = [
    ("at_ns", |s, _| s.at.to_string()),
    ("seconds", |s, t0| {
        format!("{:.3}", (s.at - t0) as f64 / 1e9)
    }),
    ("rss_bytes", |s, _| s.rss_bytes.to_string()),
    ("anon_rss_bytes", |s, _| s.anon_rss_bytes.to_string()),
    ("threads", |s, _| s.threads.to_string()),
    ("running", |s, _| s.running.to_string()),
    ("scheduled", |s, _| s.scheduled.to_string()),
    ("idle", |s, _| s.idle.to_string()),
    ("live_tasks", |s, _| s.live_tasks.to_string()),
    ("future_bytes", |s, _| s.future_bytes.to_string()),
    ("heap_bytes", |s, _| opt(s.heap_bytes)),
    ("rss_minus_futures_bytes", |s, _| {
        (s.rss_bytes as i128 - s.future_bytes as i128).to_string()
    }),
];

/// One row per chart sample (RSS beside the task picture at that moment).
pub fn write_series(out: &mut impl Write, model: &Model) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(SERIES_COLUMNS.map(|(name, _)| name))?;
    let t0 = model.series().samples().next().map_or(0, |s| s.at);
    for s in model.series().samples() {
        w.write_record(SERIES_COLUMNS.map(|(_, cell)| cell(s, t0)))?;
    }
    w.flush()
}
