//! Spikes found for you: the intervals of the chart where RSS rose fastest (its slope over a
//! window), the few steepest that do not overlap, with the task count and the explained bytes
//! at both ends. Which locations grew in each is the difference of the two moments
//! (`insight::diff`), which the caller takes where it can rebuild them (a recording).

use serde::Serialize;

use crate::model::{Model, Nanos};

use super::diff::LocationChange;

use super::explained::explained_bytes;

/// Intervals a spike finder returns by default.
pub const DEFAULT_SPIKES: usize = 3;

/// An interval where RSS rose fast.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spike {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
    /// From a recording: seconds from its start to `from_ns` and `to_ns` (what `--at` and
    /// `--diff-at` take); null otherwise.
    pub from_seconds: Option<f64>,
    pub to_seconds: Option<f64>,
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    /// RSS change over the interval, per second.
    pub rss_bytes_per_second: f64,
    pub live_tasks_before: u64,
    pub live_tasks_after: u64,
    /// Change of the bytes the live tasks explain (cells, boxed futures, instrumentation).
    pub explained_change_bytes: i64,
    /// Locations whose live tasks changed over the interval, largest change first: filled
    /// by the caller from the two moments (`insight::diff`), empty until then.
    pub locations: Vec<LocationChange>,
}

/// The `count` steepest non-overlapping RSS rises over `window_ns` in the model's chart.
pub fn spikes(model: &Model, window_ns: Nanos, count: usize) -> Vec<Spike> {
    let samples: Vec<_> = model.series().samples().copied().collect();
    let window_ns = window_ns.max(1);
    // (slope, i, j): from sample i to the first j at least a window later.
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    let mut j = 0;
    for (i, a) in samples.iter().enumerate() {
        j = j.max(i + 1);
        while j < samples.len() && samples[j].at - a.at < window_ns {
            j += 1;
        }
        let Some(b) = samples.get(j) else { break };
        let rise = b.rss_bytes as f64 - a.rss_bytes as f64;
        if rise > 0.0 {
            candidates.push((rise / ((b.at - a.at) as f64 / 1e9), i, j));
        }
    }
    candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut chosen: Vec<(f64, usize, usize)> = Vec::new();
    for c in candidates {
        if chosen.len() >= count {
            break;
        }
        if chosen.iter().all(|o| c.2 <= o.1 || c.1 >= o.2) {
            chosen.push(c);
        }
    }
    let instrumentation = model.instrumentation();
    chosen
        .into_iter()
        .map(|(slope, i, j)| {
            let (a, b) = (&samples[i], &samples[j]);
            Spike {
                from_ns: a.at,
                to_ns: b.at,
                from_seconds: None,
                to_seconds: None,
                rss_before_bytes: a.rss_bytes,
                rss_after_bytes: b.rss_bytes,
                rss_bytes_per_second: slope,
                live_tasks_before: a.live_tasks,
                live_tasks_after: b.live_tasks,
                explained_change_bytes: explained_bytes(b, instrumentation) as i64
                    - explained_bytes(a, instrumentation) as i64,
                locations: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synth::*;

    #[test]
    fn the_steepest_rises_that_do_not_overlap() {
        let mut m = Model::default();
        // A steady task at line 10; RSS flat at 10 MiB for 10 s.
        m.apply_update(&update(
            SEC,
            true,
            vec![at_line(1, 64, 10)],
            vec![(1, stats(SEC))],
        ));
        for t in 1..=10 {
            rss(&mut m, t * SEC, 10 << 20);
        }
        // From 10 s to 12 s, 200 tasks of 1 KiB at line 20 and RSS up 4 MiB.
        let tasks = (100..300).map(|i| at_line(i, 1024, 20)).collect();
        let created = (100..300).map(|i| (i, stats(11 * SEC))).collect();
        m.apply_update(&update(11 * SEC, false, tasks, created));
        rss(&mut m, 11 * SEC, 12 << 20);
        rss(&mut m, 12 * SEC, 14 << 20);
        for t in 13..=20 {
            rss(&mut m, t * SEC, 14 << 20);
        }
        // From 20 s to 22 s, RSS up 1 MiB with no task: a slower rise, outside the tasks.
        rss(&mut m, 21 * SEC, (14 << 20) + (1 << 19));
        for t in 22..=25 {
            rss(&mut m, t * SEC, 15 << 20);
        }
        let found = spikes(&m, 2 * SEC, 3);
        assert_eq!(found.len(), 2, "two rises that do not overlap: {found:?}");
        let first = &found[0];
        assert_eq!((first.from_ns, first.to_ns), (10 * SEC, 12 * SEC));
        assert_eq!(first.rss_bytes_per_second, (4 << 20) as f64 / 2.0);
        assert_eq!((first.live_tasks_before, first.live_tasks_after), (1, 201));
        assert!(first.explained_change_bytes >= 200 * 1024, "{first:?}");
        // The second: the rise outside tasks, the tasks did not change; no overlap.
        let second = &found[1];
        assert_eq!(second.from_ns, 20 * SEC);
        assert_eq!(second.explained_change_bytes, 0);
        assert!(found.iter().all(|s| s.rss_bytes_per_second > 0.0));
        for (x, y) in found.iter().zip(found.iter().skip(1)) {
            assert!(x.rss_bytes_per_second >= y.rss_bytes_per_second);
        }
        // A window wider than the chart has nothing to measure.
        assert!(spikes(&m, 60 * SEC, 3).is_empty());
        // A flat chart has no spike.
        let mut flat = Model::default();
        flat.apply_update(&update(SEC, true, vec![], vec![]));
        for t in 1..=10 {
            rss(&mut flat, t * SEC, 1 << 20);
        }
        assert!(spikes(&flat, 2 * SEC, 3).is_empty());
    }
}
