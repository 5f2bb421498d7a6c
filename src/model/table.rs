//! The task table: a slab of slots with a free list, the index by console id, task uids, the
//! state counts kept exact on every change, and the pruning of done tasks past their retention.

use std::collections::HashMap;

use super::by_location::{ByLocation, Key};
use super::counts::Counts;
use super::intern::Sym;
use super::task::{Task, TaskKind, TaskStats};
use super::time::Nanos;

pub(super) struct Table {
    slots: Vec<Option<Task>>,
    free: Vec<u32>,
    by_console_id: HashMap<u64, u32>,
    next_uid: u64,
    counts: Counts,
    /// Live tasks and future bytes per location, exact like `counts`.
    by_location: ByLocation,
    /// Most tasks held at once.
    max_tasks: usize,
    /// A change counter: it moves whenever the table changes, so views can cache.
    generation: u64,
    /// The earliest `dropped_at` among done tasks at the last pruning pass: no pass is needed
    /// before it expires. `None`: unknown, pass at the next call.
    next_expiry: Option<Nanos>,
}

impl Table {
    pub(super) fn new(max_tasks: usize) -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            by_console_id: HashMap::new(),
            next_uid: 1,
            counts: Counts::default(),
            by_location: ByLocation::default(),
            max_tasks,
            generation: 0,
            next_expiry: None,
        }
    }

    /// An empty table whose generation is past this one's (views cache by generation: it must
    /// keep rising across a reset). Uids start again from 1.
    pub(super) fn rewound(&self) -> Self {
        Table {
            generation: self.generation + 1,
            ..Table::new(self.max_tasks)
        }
    }

    /// Forget every task; uids keep rising.
    pub(super) fn clear(&mut self) {
        self.generation += 1;
        self.slots.clear();
        self.free.clear();
        self.by_console_id.clear();
        self.counts = Counts::default();
        self.by_location.clear();
        self.next_expiry = None;
    }

    /// Note a change the table cannot see by itself (tasks arrived or changed).
    pub(super) fn touch(&mut self) {
        self.generation += 1;
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    pub(super) fn counts(&self) -> Counts {
        self.counts
    }

    pub(super) fn by_location(&self) -> &ByLocation {
        &self.by_location
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether `--max-tasks` tasks are held: a new one would be refused.
    pub(super) fn is_full(&self) -> bool {
        self.len() >= self.max_tasks
    }

    /// Room for `new_tasks` more tasks at once, instead of doubling (and copying) on the way.
    pub(super) fn reserve(&mut self, new_tasks: usize) {
        let more = new_tasks.saturating_sub(self.free.len());
        let room = self.max_tasks.saturating_sub(self.len());
        let spare = self.slots.capacity() - self.slots.len();
        if more.min(room) > spare {
            // Grow by a quarter, not by doubling: a target's initial state arrives in messages
            // of ~1,000 tasks, and doubling left up to half of the table's slots (168 B each)
            // empty. A table this large is a mapping of its own: growing it moves pages.
            let grow = more.max(self.slots.len() / 4).min(room);
            self.slots.reserve_exact(grow);
        }
        self.by_console_id.reserve(new_tasks.min(room));
    }

    /// The slot of the task known by `console_id`.
    pub(super) fn slot_of(&self, console_id: u64) -> Option<u32> {
        self.by_console_id.get(&console_id).copied()
    }

    /// The task known by `console_id`.
    pub(super) fn by_console_id(&self, console_id: u64) -> Option<&Task> {
        self.slot(self.slot_of(console_id)?)
    }

    /// The task in `slot`, if that slot still holds one.
    pub(super) fn slot(&self, slot: u32) -> Option<&Task> {
        self.slots.get(slot as usize).and_then(|t| t.as_ref())
    }

    /// Change the task in `slot` with `f`, keeping the counts exact. False if the slot is empty.
    pub(super) fn update(&mut self, slot: u32, f: impl FnOnce(&mut Task)) -> bool {
        let Some(task) = self.slots.get_mut(slot as usize).and_then(|t| t.as_mut()) else {
            return false;
        };
        let before = Key::of(task);
        self.counts.remove(task);
        f(task);
        self.counts.add(task);
        self.by_location.change(before, Key::of(task));
        note_done(&mut self.next_expiry, task);
        true
    }

    /// Mark the task in `slot` done at `now` (it ended without telling us).
    pub(super) fn retire(&mut self, slot: u32, now: Nanos) {
        if let Some(task) = self.slots.get_mut(slot as usize).and_then(|t| t.as_mut()) {
            let before = Key::of(task);
            self.counts.retire(task, now);
            self.by_location.change(before, Key::of(task));
            note_done(&mut self.next_expiry, task);
        }
    }

    /// Mark done at `now` every task for which `gone` holds.
    pub(super) fn retire_where(&mut self, now: Nanos, gone: impl Fn(&Task) -> bool) {
        for slot in self.slots.iter_mut() {
            let Some(task) = slot else { continue };
            if gone(task) {
                let before = Key::of(task);
                self.counts.retire(task, now);
                self.by_location.change(before, Key::of(task));
                note_done(&mut self.next_expiry, task);
                self.generation += 1;
            }
        }
    }

    /// A task not announced yet, with the next uid.
    pub(super) fn blank(&mut self, console_id: u64) -> Task {
        let uid = self.next_uid;
        self.next_uid += 1;
        Task {
            uid,
            console_id,
            task_id: None,
            name: Sym::NONE,
            location: Sym::NONE,
            kind: TaskKind::Task,
            announced: false,
            boxed: false,
            size_bytes: None,
            stats: TaskStats::default(),
        }
    }

    /// Store `task`, which then answers to its console id. False (and not stored) when the table
    /// is full.
    pub(super) fn insert(&mut self, task: Task) -> bool {
        if self.is_full() {
            return false;
        }
        self.counts.add(&task);
        self.by_location.add(Key::of(&task));
        note_done(&mut self.next_expiry, &task);
        let id = task.console_id;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(task);
                slot
            }
            None => {
                self.slots.push(Some(task));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_console_id.insert(id, slot);
        true
    }

    /// Drop done tasks dropped before `horizon`. A pass visits every slot, so it runs only when
    /// a done task may have expired: `next_expiry` is at most the oldest `dropped_at` of the done
    /// tasks (each pass sets it, each task that becomes done lowers it). With a million live
    /// tasks and one done, an update no longer costs a million visits.
    pub(super) fn prune_done(&mut self, horizon: Nanos) {
        if self.counts.done == 0 {
            self.next_expiry = None;
            return;
        }
        if self.next_expiry.is_some_and(|t| t >= horizon) {
            return;
        }
        let mut oldest: Option<Nanos> = None;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let dropped_at = slot.as_ref().map_or(0, |t| t.stats.dropped_at);
            if dropped_at != 0 && dropped_at >= horizon {
                oldest = Some(oldest.map_or(dropped_at, |o| o.min(dropped_at)));
            }
            let expired = dropped_at != 0 && dropped_at < horizon;
            if expired {
                if let Some(task) = slot.take() {
                    self.counts.remove(&task);
                    self.by_location.remove(Key::of(&task));
                    if self.by_console_id.get(&task.console_id) == Some(&(i as u32)) {
                        self.by_console_id.remove(&task.console_id);
                    }
                    self.free.push(i as u32);
                    self.generation += 1;
                }
            }
        }
        self.next_expiry = oldest;
    }

    /// Tasks held, in no particular order.
    pub(super) fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.slots.iter().flatten()
    }

    /// Tasks held with their slot.
    pub(super) fn slots(&self) -> impl Iterator<Item = (u32, &Task)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i as u32, t)))
    }

    /// Heap bytes of the slots and the index.
    pub(super) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Task>>()
            + self.free.capacity() * 4
            + self.by_console_id.capacity() * (8 + 4 + 1)
            + self.by_location.heap_bytes()
    }
}

/// `task` may have just become done: the next pruning pass may be due earlier.
fn note_done(next_expiry: &mut Option<Nanos>, task: &Task) {
    let dropped_at = task.stats.dropped_at;
    if dropped_at != 0 {
        if let Some(t) = next_expiry {
            *t = (*t).min(dropped_at);
        }
    }
}
