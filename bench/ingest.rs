//! Ingestion throughput of the model (issue 2).
//!
//! * `ingest/new_tasks_100k`: one console `Update` announcing 100,000 new tasks together with
//!   their stats, applied to a fresh `Model` (the first update of a connection, carrying the
//!   spawn callsite metadata, as console-subscriber sends it).
//! * `ingest/stats_only_100k`: a stats-only `Update` changing the stats of all 100,000 tasks,
//!   applied to a model that already holds them.
//! * `ingest/burst_100k_on_100k`: a later update (not the first of the connection) announcing
//!   100,000 more tasks with their stats to a model that already holds 100,000.
//!
//! The updates are built outside the timed part. Run with
//! `cargo bench --bench ingest -- --warm-up-time 1 --measurement-time 5`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark: a failed unwrap is a failed run"
)]

use std::hint::black_box;

use asyncmem::model::Model;
use asyncmem_testkit::subscriber as synth;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};

const TASKS: usize = 100_000;

fn bench_ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(TASKS as u64));
    // Tens of milliseconds per iteration: flat sampling, 20 samples.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);

    let first = synth::new_tasks(TASKS);
    {
        // The synthetic update must land as intended: every task tracked, nothing warned.
        let mut m = Model::default();
        m.apply_update(&first);
        assert_eq!(m.len(), TASKS);
        assert_eq!(m.counts().live(), TASKS as u64);
        assert!(m.warnings().is_empty(), "{:?}", m.warnings());
    }
    group.bench_function("new_tasks_100k", |b| {
        b.iter_batched(
            Model::default,
            |mut model| {
                model.apply_update(black_box(&first));
                model // dropped by criterion outside the timed part
            },
            BatchSize::PerIteration,
        )
    });

    // Two stats rounds, applied alternately, so that every application changes every task.
    let rounds = [synth::stats_only(TASKS, 1), synth::stats_only(TASKS, 2)];
    let mut model = Model::default();
    model.apply_update(&first);
    let mut next = 0;
    group.bench_function("stats_only_100k", |b| {
        b.iter(|| {
            model.apply_update(black_box(&rounds[next]));
            next ^= 1;
        })
    });
    assert_eq!(model.len(), TASKS);
    assert!(model.warnings().is_empty(), "{:?}", model.warnings());
    drop(model);

    // Not the first update: 100k new tasks arrive while the model already holds 100k (a spawn
    // burst after attaching). The setup (a model holding the first 100k) is not timed.
    let burst = synth::burst(TASKS, TASKS);
    let holding = || {
        let mut m = Model::default();
        m.apply_update(&first);
        m
    };
    {
        let mut m = holding();
        m.apply_update(&burst);
        assert_eq!(m.len(), 2 * TASKS);
        assert!(m.warnings().is_empty(), "{:?}", m.warnings());
    }
    group.bench_function("burst_100k_on_100k", |b| {
        b.iter_batched(
            holding,
            |mut model| {
                model.apply_update(black_box(&burst));
                model
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_ingest(&mut c);
    c.final_summary();
}
