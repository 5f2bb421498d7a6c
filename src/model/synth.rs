//! Synthetic console-api messages for tests of the model and the UI: the builders of the
//! `asyncmem-testkit` dev crate, shared with the integration tests and the benches.

pub use asyncmem_testkit::synth::*;

/// Task `id` (tokio id the same) of `size` bytes, unnamed, spawned at `src/main.rs:LINE:5`.
pub fn at_line(id: u64, size: u64, line: u32) -> PTask {
    let mut t = ptask(id, id, size, None, "");
    if let Some(l) = t.location.as_mut() {
        l.line = Some(line);
    }
    t
}

/// Final stats of tasks `ids`, created at `created` and dropped at `at`.
pub fn dropped(ids: impl Iterator<Item = u64>, created: i64, at: i64) -> Vec<(u64, Stats)> {
    ids.map(|i| {
        let mut s = stats(created);
        s.dropped_at = stamp(at);
        (i, s)
    })
    .collect()
}

/// Feed `m` an RSS reading of `rss_bytes` at `at`.
pub fn rss(m: &mut super::Model, at: i64, rss_bytes: u64) {
    m.apply_rss(super::RssSample {
        at,
        rss_bytes,
        ..Default::default()
    });
}
