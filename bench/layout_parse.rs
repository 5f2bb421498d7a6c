//! Parse time of a large type-size report (issue 12: "a 300k-line report in well under a second").
//!
//! * `layout_parse/fixtures_300k`: the two real report excerpts of tests/fixtures/layout/
//!   (corpus + fat-vs-slim, mostly coroutines, task cells and spawn closures: the lines the
//!   parser reads in full) repeated with every type renamed per copy (`src/main.rs` ->
//!   `src/mN.rs`, `body of f` -> `body of mN::f`, `block@x` -> `block@mN/x`), so every copy
//!   is distinct and nothing is
//!   deduplicated away, to at least 300,000 lines, as ten crates' reports.
//! * `layout_parse/file`: when `ASYNCMEM_BENCH_REPORT=PATH` is set, that report (one crate, e.g.
//!   a real full `-Zprint-type-sizes` capture, where most types are skipped unread) repeated
//!   the same way to at least 300,000 lines.
//!
//! The text is built outside the timed part. Run with
//! `cargo bench --bench layout_parse -- --warm-up-time 1 --measurement-time 5`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark: a failed unwrap is a failed run"
)]

use std::hint::black_box;
use std::path::PathBuf;

use asyncmem::layout::report::assemble;
use asyncmem::layout::CrateReport;
use criterion::{Criterion, SamplingMode, Throughput};

const LINES: usize = 300_000;
const CRATES: usize = 10;

/// `base` copied with renamed types until it has `LINES` lines, cut into `CRATES` reports.
fn repeated(base: &str) -> (Vec<CrateReport>, usize) {
    let per_copy = base.lines().count().max(1);
    let copies = LINES.div_ceil(per_copy);
    let per_crate = copies.div_ceil(CRATES);
    let mut reports = Vec::new();
    let mut lines = 0;
    for c in 0..CRATES {
        let mut text = String::new();
        for i in c * per_crate..((c + 1) * per_crate).min(copies) {
            let copy = base
                .replace("src/main.rs", &format!("src/m{i}.rs"))
                .replace("body of ", &format!("body of m{i}::"))
                .replace("block@", &format!("block@m{i}/"));
            lines += copy.lines().count();
            text.push_str(&copy);
        }
        reports.push(CrateReport {
            crate_name: format!("crate{c}"),
            src_path: PathBuf::from("src/main.rs"),
            cwd: PathBuf::from("/"),
            text,
        });
    }
    (reports, lines)
}

fn run(c: &mut Criterion, name: &str, base: &str) {
    let (reports, lines) = repeated(base);
    let layout = assemble(&reports).unwrap();
    let per_copy = assemble(&repeated_one(base)).unwrap();
    // Every copy must have been parsed as distinct futures and spawns.
    assert!(layout.futures.len() >= per_copy.futures.len() * (LINES / base.lines().count()));
    eprintln!(
        "{name}: {lines} lines, {} futures, {} spawns",
        layout.futures.len(),
        layout.spawns.len()
    );
    let mut group = c.benchmark_group("layout_parse");
    group.throughput(Throughput::Elements(lines as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.bench_function(name, |b| b.iter(|| assemble(black_box(&reports)).unwrap()));
    group.finish();
}

fn repeated_one(base: &str) -> Vec<CrateReport> {
    vec![CrateReport {
        crate_name: "one".into(),
        src_path: PathBuf::from("src/main.rs"),
        cwd: PathBuf::from("/"),
        text: base.to_string(),
    }]
}

fn bench_parse(c: &mut Criterion) {
    let fixtures = [
        include_str!("../tests/fixtures/layout/corpus.debug.types"),
        include_str!("../tests/fixtures/layout/fat-vs-slim.debug.types"),
    ]
    .concat();
    run(c, "fixtures_300k", &fixtures);
    if let Ok(path) = std::env::var("ASYNCMEM_BENCH_REPORT") {
        let text = std::fs::read_to_string(&path).unwrap();
        run(c, "file", &text);
    }
}

criterion::criterion_group!(benches, bench_parse);
criterion::criterion_main!(benches);
