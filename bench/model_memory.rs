//! Real heap bytes the model holds per tracked task (issue 2), measured with a counting global
//! allocator rather than estimated.
//!
//! For each size: live bytes are read (1) before the update is built (baseline, the empty model
//! included), (2) after the update is built, (3) after the model ingested it and (4) after the
//! update was dropped. The model's cost is (4) - (1): the update's own allocations are excluded.
//! Run with `cargo bench --bench model_memory`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark: a failed unwrap is a failed run"
)]

use asyncmem::model::{Model, RssSample, Task};
use asyncmem_testkit::counting::{self, live, Counting};
use asyncmem_testkit::subscriber as synth;

#[global_allocator]
static ALLOC: Counting = Counting;

struct Row {
    tasks: usize,
    update_bytes: usize,
    ingest_delta: usize,
    model_bytes: usize,
    peak_during_ingest: usize,
    estimate: usize,
}

fn measure(tasks: usize) -> Row {
    let baseline = live();
    let mut model = Model::default();
    let update = synth::new_tasks(tasks);
    let built = live();
    counting::reset_peak(built);
    model.apply_update(&update);
    let ingested = live();
    let peak = counting::peak();
    drop(update);
    let after = live();
    assert_eq!(model.len(), tasks);
    assert!(model.warnings().is_empty(), "{:?}", model.warnings());
    let row = Row {
        tasks,
        update_bytes: built - baseline,
        ingest_delta: ingested - built,
        model_bytes: after - baseline,
        peak_during_ingest: peak - built,
        estimate: model.approx_heap_bytes(),
    };
    drop(model);
    row
}

/// Samples of a 30-minute chart at one per second.
const CHART_SAMPLES: i64 = 1800;

/// The model of `tasks` tasks from `sites` distinct spawn locations (the synthetic update's 6,
/// or one line each), then a 30-minute chart of RSS samples: its live bytes per tracked task,
/// with the chart and the per-location history, and the mean time of one sample.
fn with_chart(tasks: usize, distinct_sites: bool) -> (f64, f64, usize) {
    let baseline = live();
    let mut model = Model::default();
    let mut update = synth::new_tasks(tasks);
    if distinct_sites {
        let new = &mut update.task_update.as_mut().unwrap().new_tasks;
        for (i, t) in new.iter_mut().enumerate() {
            t.location.as_mut().unwrap().line = Some(i as u32 + 1);
        }
    }
    model.apply_update(&update);
    drop(update);
    let at0 = model.now();
    let started = std::time::Instant::now();
    for k in 0..CHART_SAMPLES {
        model.apply_rss(RssSample {
            at: at0 + k * 1_000_000_000,
            rss_bytes: 100 << 20,
            anon_rss_bytes: 90 << 20,
            threads: 4,
        });
    }
    let per_sample_us = started.elapsed().as_secs_f64() * 1e6 / CHART_SAMPLES as f64;
    assert_eq!(model.series().len(), CHART_SAMPLES as usize);
    let locations = model.by_location().len();
    let bytes = (live() - baseline) as f64 / tasks as f64;
    drop(model);
    (bytes, per_sample_us, locations)
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to configure.
    let sizes = [10_000usize, 100_000, 1_000_000];
    println!("model_memory: live heap bytes of asyncmem::model::Model (counting global allocator)");
    println!(
        "size_of::<Option<Task>>() = {} B (one slot of the task table)",
        std::mem::size_of::<Option<Task>>()
    );
    println!("columns: update = live bytes of the built Update (excluded); ingest = growth while");
    println!("ingesting (update still alive); model = live bytes after ingest with the update");
    println!("dropped, minus the baseline taken before the update was built; peak = high-water");
    println!("mark above the built update during ingest; estimate = Model::approx_heap_bytes().");
    println!();
    println!(
        "{:>9} | {:>13} | {:>12} | {:>12} | {:>8} | {:>10} | {:>10}",
        "tasks", "update B", "ingest B", "model B", "B/task", "peak B/t", "estimate/t"
    );
    println!("{}", "-".repeat(93));
    let mut worst: f64 = 0.0;
    for &n in &sizes {
        let r = measure(n);
        let per_task = r.model_bytes as f64 / r.tasks as f64;
        worst = worst.max(per_task);
        println!(
            "{:>9} | {:>13} | {:>12} | {:>12} | {:>8.1} | {:>10.1} | {:>10.1}",
            r.tasks,
            r.update_bytes,
            r.ingest_delta,
            r.model_bytes,
            per_task,
            r.peak_during_ingest as f64 / r.tasks as f64,
            r.estimate as f64 / r.tasks as f64,
        );
    }
    println!();
    println!("with a 30-minute chart ({CHART_SAMPLES} samples) and the per-location history:");
    println!(
        "{:>9} | {:>10} | {:>8} | {:>12}",
        "tasks", "locations", "B/task", "µs/sample"
    );
    for (n, distinct) in [(100_000, false), (1_000_000, false), (100_000, true)] {
        let (per_task, us, locations) = with_chart(n, distinct);
        worst = worst.max(per_task);
        println!("{n:>9} | {locations:>10} | {per_task:>8.1} | {us:>12.1}");
    }
    println!();
    println!(
        "goal: <= 550 B per tracked task; worst measured {:.1} B/task: {}",
        worst,
        if worst <= 550.0 { "met" } else { "MISSED" }
    );
}
