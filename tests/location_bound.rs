//! A target that spawns from 100,000 distinct locations (issue 14 item 6): the model's memory,
//! counted by a counting global allocator (real bytes, not an estimate), stays bounded. The
//! per-location history keeps K columns + "other" whatever the number of locations, so a sample
//! costs the same bytes with 6 or 100,000 locations; past the interner's bound new locations fold
//! into its overflow symbol, so 200,000 distinct locations take no more than 100,000.
//!
//! One test function: the counter is process-wide, and tests of one binary run in parallel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test: a failed unwrap is a failed test"
)]

use asyncmem::model::{Model, ModelConfig, RssSample, WarningKind, DEFAULT_TRACKED_LOCATIONS};
use asyncmem_testkit::counting::{live, Counting};
use asyncmem_testkit::subscriber as synth;
use asyncmem_testkit::SEC;

#[global_allocator]
static ALLOC: Counting = Counting;

/// A model of `tasks` tasks whose task `i` was spawned at line `site(i)` (one file), and the
/// live bytes it holds (the update it came from dropped).
fn model_of(tasks: usize, site: impl Fn(usize) -> u32) -> (Model, usize) {
    let before = live();
    let mut model = Model::new(ModelConfig::default());
    let mut update = synth::new_tasks(tasks);
    for (i, t) in update
        .task_update
        .as_mut()
        .unwrap()
        .new_tasks
        .iter_mut()
        .enumerate()
    {
        t.location.as_mut().unwrap().line = Some(site(i));
    }
    model.apply_update(&update);
    drop(update);
    let bytes = live() - before;
    (model, bytes)
}

/// Push `n` one-second RSS samples after the model's time plus `from` seconds.
fn samples(model: &mut Model, from: i64, n: i64) {
    let at0 = model.now();
    for k in from..from + n {
        model.apply_rss(RssSample {
            at: at0 + k * SEC,
            rss_bytes: 1 << 30,
            anon_rss_bytes: 1 << 30,
            threads: 4,
        });
    }
}

#[test]
fn a_hundred_thousand_spawn_locations_stay_bounded() {
    const N: usize = 100_000;
    let k = DEFAULT_TRACKED_LOCATIONS;

    // 100,000 locations: K columns of their own, the rest folded into "other" (and said).
    // The interner's default bound is 100,000 strings, names and the file included, so the last
    // few locations share its overflow symbol: nearly N locations, never more than N + 1.
    let (mut many, _) = model_of(N, |i| i as u32 + 1);
    let locations = many.by_location().len();
    assert!(
        (N - 100..=N + 1).contains(&locations),
        "{locations} locations"
    );
    samples(&mut many, 0, 20);
    let series = many.location_series();
    let tracked = series.tracked();
    assert_eq!(tracked.len(), k);
    assert_eq!(series.folded(many.by_location()).count(), locations - k);
    let in_columns: u64 = tracked.iter().map(|c| c.last().live_tasks).sum();
    let other = series.other().last().copied().unwrap();
    assert_eq!(other.live_tasks + in_columns, N as u64);
    assert!(in_columns < 200, "{in_columns} tasks in the {k} columns");

    // The bytes one more sample costs do not depend on the number of locations: 400 samples of
    // the history at 100,000 locations against the same at 6 (the synthetic update's sites).
    let (mut few, _) = model_of(N, |i| 40 + (i % 6) as u32);
    samples(&mut few, 0, 20);
    assert!(few.location_series().tracked().len() <= 6);
    let grow = |m: &mut Model| {
        let before = live();
        samples(m, 20, 400);
        live() - before
    };
    let (grew_many, grew_few) = (grow(&mut many), grow(&mut few));
    // K + 1 columns of 16-byte points plus the times, 420 samples, in VecDeques that double:
    // far below one point per location per sample (100,000 x 16 B x 400 = 640 MB).
    let columns_bound = 2 * 420 * (k + 2) * 16 * 2;
    assert!(
        grew_many <= columns_bound,
        "400 samples at {N} locations took {grew_many} B (bound {columns_bound})"
    );
    assert!(
        grew_many <= grew_few + columns_bound / 2,
        "400 samples: {grew_many} B at {N} locations, {grew_few} B at 6"
    );
    drop((many, few));

    // Twice the interner's bound of distinct locations takes no more than the bound itself: the
    // locations past it fold into the interner's overflow symbol (and are warned about).
    let (at_bound, bytes_at_bound) = model_of(2 * N, |i| (i % N) as u32 + 1);
    drop(at_bound);
    let (past_bound, bytes_past_bound) = model_of(2 * N, |i| i as u32 + 1);
    assert!(past_bound
        .warnings()
        .get(WarningKind::StringLimit)
        .is_some());
    assert!(past_bound.by_location().len() <= N + 1);
    assert!(
        bytes_past_bound <= bytes_at_bound + bytes_at_bound / 50,
        "200,000 distinct locations: {bytes_past_bound} B; 100,000 (each twice): {bytes_at_bound} B"
    );
}
