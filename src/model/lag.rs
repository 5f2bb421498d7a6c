//! How far behind the target the console picture is: late announcements and missing tasks.

use std::collections::BTreeMap;

use super::time::Nanos;

/// A task announced this long after its spawn was announced late: RSS and the announced task
/// count are out of step (README: "over 2 s"; console-subscriber publishes every second).
pub const LATE_ANNOUNCE_NS: u64 = 2_000_000_000;

/// After a late announcement, the subscriber counts as still announcing for this long: longer
/// than console-subscriber's default publish interval (1 s), so that one more update must
/// arrive without late tasks.
pub const ANNOUNCE_QUIET_NS: i64 = 1_500_000_000;

/// A task created this long before the previous update and announced only now was held back
/// (the subscriber's event buffer is still being drained): it existed at the previous publish
/// but was not in it. The margin covers a task spawned just before a publish.
pub const BACKLOG_MARGIN_NS: i64 = 100_000_000;

/// Runs of at most this many consecutive never-announced tokio ids are not counted as missing
/// tasks. Tokio task ids come from one process-wide counter, and console-subscriber's own
/// runtime takes a few of them for each watcher's connection and each of its streams (gRPC
/// connection, `WatchUpdates`, `WatchState`, details): those tasks are never announced, so
/// every attach (of asyncmem or tokio-console) leaves a short gap (measured: a one-shot
/// `asyncmem snapshot` takes 4 ids; six of them during an 8 s `snapshot --wait` of the `leak`
/// demo left six runs of 4, which the count before this rule read as 24 missing tasks; 16
/// leaves room for `top`'s extra streams). Tasks the subscriber has not
/// announced yet leave long runs; isolated ones lost to a full event buffer are counted by the
/// `dropped_events` warning instead.
pub const WATCHER_ID_RUN: u64 = 16;

/// Most gaps tracked; past it new gaps are not tracked (the estimate stays a lower bound).
const MAX_GAPS: usize = 4096;

/// How far behind the target the console picture is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lag {
    /// Largest tokio task id in the first picture after attaching.
    pub baseline_task_id: Option<u64>,
    /// Largest tokio task id announced so far.
    pub max_task_id: u64,
    /// Tasks announced with an id above the baseline.
    pub announced_after_baseline: u64,
    /// Age of the oldest task announced in the latest update that announced any (how late the
    /// subscriber tells about new tasks), in nanoseconds.
    pub last_announce_lag_ns: u64,
    /// The largest such age seen.
    pub max_announce_lag_ns: u64,
    /// When (target clock) tasks were last announced.
    pub last_announce_at: Nanos,
    /// When (target clock) a task was last announced more than [`LATE_ANNOUNCE_NS`] after its
    /// spawn (0: never).
    pub last_late_at: Nanos,
    /// When (target clock) a task that existed at the previous update was announced (0: never).
    pub last_backlog_at: Nanos,
    /// `now` of the previous update of this connection.
    prev_update_at: Nanos,
    /// Runs of ids above the baseline never announced: first id -> last id (inclusive).
    gaps: BTreeMap<u64, u64>,
}

impl Lag {
    /// The announce lag, if tasks were announced late recently (within 5 s of `now`): the
    /// subscriber is still catching up.
    pub fn current(&self, now: Nanos) -> Option<u64> {
        let recent = now.saturating_sub(self.last_announce_at) < 5_000_000_000;
        (recent && self.last_announce_lag_ns > 0).then_some(self.last_announce_lag_ns)
    }

    /// Whether the subscriber is still announcing tasks that already existed: within
    /// [`ANNOUNCE_QUIET_NS`] of `now`, a task was announced late or one that existed at the
    /// previous update was announced only in a later one.
    pub fn still_announcing(&self, now: Nanos) -> bool {
        let last = self.last_late_at.max(self.last_backlog_at);
        last != 0 && now.saturating_sub(last) < ANNOUNCE_QUIET_NS
    }

    pub(super) fn note_announced(&mut self, task_id: Option<u64>) {
        let Some(tid) = task_id else { return };
        let Some(base) = self.baseline_task_id else {
            self.max_task_id = self.max_task_id.max(tid);
            return;
        };
        if tid > base {
            self.announced_after_baseline += 1;
        }
        if tid > self.max_task_id {
            let from = self.max_task_id.max(base).saturating_add(1);
            if tid > from && self.gaps.len() < MAX_GAPS {
                self.gaps.insert(from, tid - 1);
            }
            self.max_task_id = tid;
            return;
        }
        // An id inside a gap: the gap splits around it.
        let Some((&start, &end)) = self.gaps.range(..=tid).next_back() else {
            return;
        };
        if tid > end {
            return;
        }
        self.gaps.remove(&start);
        if start < tid {
            self.gaps.insert(start, tid - 1);
        }
        if tid < end {
            self.gaps.insert(tid + 1, end);
        }
    }

    /// Tasks the picture is missing, estimated from tokio's sequential task ids: ids between
    /// the first picture's largest and the largest announced since, never announced, in runs
    /// longer than [`WATCHER_ID_RUN`] (shorter runs are the subscriber's own tasks). A lower
    /// bound (tasks spawned after the largest announced id are not counted).
    pub fn missing_estimate(&self) -> Option<u64> {
        self.baseline_task_id?;
        Some(
            self.gaps
                .iter()
                .map(|(s, e)| e - s + 1)
                .filter(|&run| run > WATCHER_ID_RUN)
                .fold(0u64, u64::saturating_add),
        )
    }

    /// Account for one update. `created_at` yields the creation time (0: unknown) of each task
    /// the update announced, as the table holds it now; it is read only when the update counts.
    pub(super) fn note_update(
        &mut self,
        now: Nanos,
        first_of_connection: bool,
        created_at: impl Iterator<Item = Nanos>,
    ) {
        let prev = std::mem::replace(&mut self.prev_update_at, now);
        if self.baseline_task_id.is_none() {
            if first_of_connection {
                self.baseline_task_id = Some(self.max_task_id);
            }
            return;
        }
        if first_of_connection {
            return;
        }
        // How old were the tasks announced now when they were announced?
        let earliest = created_at.filter(|&c| c != 0).min();
        if earliest.is_some_and(|c| prev != 0 && c < prev.saturating_sub(BACKLOG_MARGIN_NS)) {
            self.last_backlog_at = now;
        }
        let oldest = earliest.map(|c| u64::try_from(now.saturating_sub(c)).unwrap_or(0));
        if let Some(lag) = oldest {
            self.last_announce_at = now;
            self.last_announce_lag_ns = lag;
            self.max_announce_lag_ns = self.max_announce_lag_ns.max(lag);
            if lag > LATE_ANNOUNCE_NS {
                self.last_late_at = now;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lag_after(base: u64, ids: impl IntoIterator<Item = u64>) -> Lag {
        let mut lag = Lag::default();
        lag.note_announced(Some(base));
        lag.note_update(1, true, std::iter::empty());
        for id in ids {
            lag.note_announced(Some(id));
        }
        lag
    }

    #[test]
    fn short_runs_of_unannounced_ids_are_the_subscribers_own() {
        // Ten attaches of a watcher, each taking a few ids between the target's tasks.
        let ids = (0..10).flat_map(|k| (0..20).map(move |i| 101 + k * 25 + i));
        let lag = lag_after(100, ids);
        assert_eq!(lag.missing_estimate(), Some(0), "{lag:?}");
    }

    #[test]
    fn long_runs_are_missing_tasks_and_fill_in_as_they_arrive() {
        let lag = lag_after(100, [1_101]);
        assert_eq!(lag.missing_estimate(), Some(1_000));
        // Announced late, out of order: the run splits; what is left short is not counted.
        let lag = lag_after(100, (101..=1_090).chain([1_101]));
        assert_eq!(lag.missing_estimate(), Some(0), "{lag:?}");
        let lag = lag_after(100, (101..=500).chain([1_101]));
        assert_eq!(lag.missing_estimate(), Some(600));
        // The same id again (reuse by a hostile server) changes nothing.
        let lag = lag_after(100, [1_101, 1_101, 600, 600]);
        assert_eq!(lag.missing_estimate(), Some(999));
    }

    #[test]
    fn late_announcements_keep_the_subscriber_announcing_for_a_while() {
        let sec = 1_000_000_000i64;
        let mut lag = lag_after(1, []);
        lag.note_update(10 * sec, false, [7 * sec].into_iter());
        assert!(lag.still_announcing(10 * sec));
        assert!(lag.still_announcing(11 * sec));
        assert!(!lag.still_announcing(12 * sec));
        // A fresh task announced in time is not late.
        let mut lag = lag_after(1, []);
        lag.note_update(10 * sec, false, [10 * sec - sec / 2].into_iter());
        assert!(!lag.still_announcing(10 * sec));
        // One that existed at the previous update (9.5 s) but comes only now (10.5 s) was held
        // back, however young: the subscriber is still draining its backlog.
        lag.note_update(10 * sec + sec / 2, false, [9 * sec].into_iter());
        assert!(lag.still_announcing(10 * sec + sec / 2));
        assert!(!lag.still_announcing(12 * sec + sec / 2));
    }
}
