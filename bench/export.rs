//! What one scrape of `asyncmem export` costs: rendering the Prometheus text of a model.
//!
//! * `export/render_100k_6_sites`: 100,000 live tasks from 6 spawn sites (the synthetic
//!   console-subscriber updates of `asyncmem_testkit::subscriber`), default settings (top 20
//!   locations).
//! * `export/render_100k_10k_sites`: the same tasks spread over 10,000 spawn sites, so that the
//!   top-K cut and the `other` sum do real work.
//!
//! The models are built outside the timed part. Run with
//! `cargo bench --bench export -- --warm-up-time 1 --measurement-time 5`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark: a failed unwrap is a failed run"
)]

use std::hint::black_box;

use asyncmem::model::Model;
use asyncmem::output::prometheus::{self, Config};
use asyncmem::output::TargetInfo;
use asyncmem_testkit::subscriber as synth;
use criterion::{Criterion, SamplingMode, Throughput};

const TASKS: usize = 100_000;

fn model(sites: Option<u32>) -> Model {
    let mut update = synth::new_tasks(TASKS);
    if let (Some(sites), Some(tasks)) = (sites, update.task_update.as_mut()) {
        for (i, t) in tasks.new_tasks.iter_mut().enumerate() {
            if let Some(loc) = t.location.as_mut() {
                loc.line = Some(1 + i as u32 % sites);
            }
        }
    }
    let mut m = Model::default();
    m.apply_update(&update);
    assert_eq!(m.counts().live(), TASKS as u64);
    m
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("export");
    group.throughput(Throughput::Elements(TASKS as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    let target = TargetInfo {
        pid: Some(1234),
        endpoint: "http://127.0.0.1:6669".into(),
    };
    let cfg = Config::default();
    for (name, sites) in [
        ("render_100k_6_sites", None),
        ("render_100k_10k_sites", Some(10_000)),
    ] {
        let m = model(sites);
        let text = prometheus::render(&m, &target, &cfg);
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        eprintln!("{name}: {} bytes, {series} series", text.len());
        group.bench_function(name, |b| {
            b.iter(|| prometheus::render(black_box(&m), &target, &cfg))
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_render(&mut c);
    c.final_summary();
}
