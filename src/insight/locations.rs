//! Tasks grouped by spawn location: counts by state and future sizes.

use std::collections::HashMap;

use crate::model::{Sym, Task, TaskState};

/// Tasks of one spawn location.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub location: Sym,
    pub tasks: u64,
    /// Tasks by state, in [`TaskState::ALL`] order (see [`Location::of`]).
    pub by_state: [u64; TaskState::ALL.len()],
    /// Tasks whose size is known, and their sizes.
    pub sized: u64,
    pub size_min: u64,
    pub size_max: u64,
    pub size_sum: u64,
    pub boxed: u64,
}

impl Location {
    pub fn size_mean(&self) -> Option<u64> {
        self.size_sum.checked_div(self.sized)
    }

    pub fn live(&self) -> u64 {
        self.tasks - self.of(TaskState::Done)
    }

    /// Its tasks in `state`.
    pub fn of(&self, state: TaskState) -> u64 {
        self.by_state[state as usize]
    }
}

/// Group tasks by spawn location (live and retained done tasks alike).
pub fn by_location<'a>(tasks: impl Iterator<Item = &'a Task>) -> Vec<Location> {
    let mut map: HashMap<Sym, Location> = HashMap::new();
    for t in tasks {
        let l = map.entry(t.location).or_insert_with(|| Location {
            location: t.location,
            size_min: u64::MAX,
            ..Default::default()
        });
        l.tasks += 1;
        l.by_state[t.state() as usize] += 1;
        if let Some(size) = t.size_bytes {
            l.sized += 1;
            l.size_min = l.size_min.min(size);
            l.size_max = l.size_max.max(size);
            l.size_sum = l.size_sum.saturating_add(size);
        }
        if t.boxed {
            l.boxed += 1;
        }
    }
    let mut out: Vec<Location> = map
        .into_values()
        .map(|mut l| {
            if l.sized == 0 {
                l.size_min = 0;
            }
            l
        })
        .collect();
    out.sort_by(|a, b| {
        b.size_sum
            .cmp(&a.size_sum)
            .then(b.tasks.cmp(&a.tasks))
            .then(a.location.cmp(&b.location))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insight::test_task as task;

    #[test]
    fn states_index_in_their_all_order() {
        for (i, s) in TaskState::ALL.into_iter().enumerate() {
            assert_eq!(s as usize, i, "{s:?}");
        }
    }

    #[test]
    fn locations_aggregate_sizes_and_states() {
        use crate::model::TaskStats;
        let stats = TaskStats {
            created_at: 1,
            ..Default::default()
        };
        let mut a1 = task(Some(100), false, stats);
        a1.location = Sym::NONE;
        let a2 = task(
            Some(300),
            true,
            TaskStats {
                dropped_at: 5,
                ..stats
            },
        );
        let a3 = task(None, false, stats);
        let locs = by_location([a1, a2, a3].iter());
        assert_eq!(locs.len(), 1);
        let l = &locs[0];
        assert_eq!(
            (l.tasks, l.of(TaskState::Idle), l.live(), l.sized, l.boxed),
            (3, 2, 2, 2, 1)
        );
        assert_eq!(
            (l.size_min, l.size_max, l.size_sum, l.size_mean()),
            (100, 300, 400, Some(200))
        );
    }
}
