//! How far behind the target the console picture is: late announcements and missing tasks.

use super::time::Nanos;

/// How far behind the target the console picture is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
}

impl Lag {
    /// The announce lag, if tasks were announced late recently (within 5 s of `now`): the
    /// subscriber is still catching up.
    pub fn current(&self, now: Nanos) -> Option<u64> {
        let recent = now.saturating_sub(self.last_announce_at) < 5_000_000_000;
        (recent && self.last_announce_lag_ns > 0).then_some(self.last_announce_lag_ns)
    }

    pub(super) fn note_announced(&mut self, task_id: Option<u64>) {
        if let Some(tid) = task_id {
            self.max_task_id = self.max_task_id.max(tid);
            if self.baseline_task_id.is_some_and(|b| tid > b) {
                self.announced_after_baseline += 1;
            }
        }
    }

    /// Tasks the picture is missing, estimated from tokio's sequential task ids: ids between
    /// the first picture's largest and the largest announced since, never announced. A lower
    /// bound (tasks spawned after the largest announced id are not counted).
    pub fn missing_estimate(&self) -> Option<u64> {
        let base = self.baseline_task_id?;
        Some(
            self.max_task_id
                .saturating_sub(base)
                .saturating_sub(self.announced_after_baseline),
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
        let oldest = created_at
            .filter(|&c| c != 0)
            .map(|c| u64::try_from(now.saturating_sub(c)).unwrap_or(0))
            .max();
        if let Some(lag) = oldest {
            self.last_announce_at = now;
            self.last_announce_lag_ns = lag;
            self.max_announce_lag_ns = self.max_announce_lag_ns.max(lag);
        }
    }
}
