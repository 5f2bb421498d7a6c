//! Live tasks and their future bytes per spawn location, kept exact on every change of the
//! table: the per-location history reads it at each sample without a pass over the tasks.
//! Bounded by the interner (one entry per location symbol with live tasks).

use std::collections::HashMap;

use super::intern::Sym;
use super::task::Task;

/// Live tasks of one location and the bytes of their futures of known size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LocationLive {
    pub live_tasks: u64,
    pub future_bytes: u64,
}

/// What of a task the per-location counts depend on: its location, whether it is live and its
/// size. A change of anything else (poll stats) leaves the map alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Key {
    location: Sym,
    live: bool,
    size_bytes: u64,
}

impl Key {
    pub(super) fn of(task: &Task) -> Key {
        Key {
            location: task.location,
            live: task.stats.dropped_at == 0,
            size_bytes: task.size_bytes.unwrap_or(0),
        }
    }
}

#[derive(Debug, Default)]
pub struct ByLocation {
    map: HashMap<Sym, LocationLive>,
}

impl ByLocation {
    pub(super) fn add(&mut self, key: Key) {
        if !key.live {
            return;
        }
        let l = self.map.entry(key.location).or_default();
        l.live_tasks += 1;
        l.future_bytes = l.future_bytes.wrapping_add(key.size_bytes);
    }

    pub(super) fn remove(&mut self, key: Key) {
        if !key.live {
            return;
        }
        if let Some(l) = self.map.get_mut(&key.location) {
            l.live_tasks = l.live_tasks.saturating_sub(1);
            l.future_bytes = l.future_bytes.wrapping_sub(key.size_bytes);
            if l.live_tasks == 0 {
                self.map.remove(&key.location);
            }
        }
    }

    /// A task changed from `before` to `after`.
    pub(super) fn change(&mut self, before: Key, after: Key) {
        if before != after {
            self.remove(before);
            self.add(after);
        }
    }

    pub(super) fn clear(&mut self) {
        self.map.clear();
    }

    /// The live tasks of `location` (zero when it has none).
    pub fn get(&self, location: Sym) -> LocationLive {
        self.map.get(&location).copied().unwrap_or_default()
    }

    /// Locations with live tasks, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Sym, LocationLive)> + '_ {
        self.map.iter().map(|(s, l)| (*s, *l))
    }

    /// Distinct locations with live tasks.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Heap bytes of the map, for benchmarks.
    pub fn heap_bytes(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<(Sym, LocationLive)>() + 1)
    }
}
