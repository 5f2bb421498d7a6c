//! One shard of the store: task records in a paged slab that never moves them, located by span
//! id, with the free list, the list of slots changed since the last tick, and compaction once
//! most of the shard is free.

use std::collections::HashMap;
use std::sync::Mutex;

use super::record::{TaskRecord, DIRTY};

/// Hashes span ids (already unique integers) with one multiply, instead of SipHash.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let m = (self.0 as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (m as u64) ^ ((m >> 64) as u64)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Records per slab page: pages are allocated whole and never moved, so a growing shard copies
/// nothing and wastes at most one partly filled page.
const PAGE: usize = 256;

/// One shard: records in a paged slab, located by span id.
#[derive(Default)]
pub(crate) struct Shard {
    by_span: IdMap<u32>,
    pages: Vec<Box<[TaskRecord]>>,
    /// Slots handed out so far (the slab's high-water mark).
    len: u32,
    free: Vec<u32>,
    /// Slots changed since the last tick (each at most once, guarded by the DIRTY flag).
    dirty: Vec<u32>,
}

impl Shard {
    pub(super) fn slot(&mut self, slot: u32) -> Option<&mut TaskRecord> {
        let (page, i) = (slot as usize / PAGE, slot as usize % PAGE);
        self.pages.get_mut(page).and_then(|p| p.get_mut(i))
    }

    pub(super) fn slot_ref(&self, slot: u32) -> Option<&TaskRecord> {
        let (page, i) = (slot as usize / PAGE, slot as usize % PAGE);
        self.pages.get(page).and_then(|p| p.get(i))
    }

    pub(super) fn alloc(&mut self, rec: TaskRecord) -> u32 {
        if let Some(slot) = self.free.pop() {
            if let Some(t) = self.slot(slot) {
                *t = rec;
                return slot;
            }
        }
        let slot = self.len;
        if slot as usize / PAGE >= self.pages.len() {
            self.pages
                .push(vec![TaskRecord::default(); PAGE].into_boxed_slice());
        }
        self.len += 1;
        if let Some(t) = self.slot(slot) {
            *t = rec;
        }
        slot
    }

    pub(super) fn mark(&mut self, slot: u32) {
        if let Some(t) = self.slot(slot) {
            if t.flags & DIRTY == 0 {
                t.flags |= DIRTY;
                if self.dirty.len() == self.dirty.capacity() {
                    // Marked from inside a task's poll: the list is the probe's, not the task's.
                    crate::heap::untracked(|| self.dirty.reserve(64));
                }
                self.dirty.push(slot);
            }
        }
    }

    pub(super) fn get_mut(&mut self, span: u64) -> Option<(u32, &mut TaskRecord)> {
        let slot = *self.by_span.get(&span)?;
        self.slot(slot).map(|t| (slot, t))
    }

    pub(super) fn free_slot(&mut self, slot: u32) {
        if let Some(t) = self.slot(slot) {
            *t = TaskRecord::default();
            self.free.push(slot);
        }
    }

    pub(super) fn live(&self) -> usize {
        self.len as usize - self.free.len()
    }

    /// Records in use, with their slots.
    pub(super) fn records_mut(&mut self) -> impl Iterator<Item = &mut TaskRecord> {
        let len = self.len as usize;
        self.pages
            .iter_mut()
            .flat_map(|p| p.iter_mut())
            .take(len)
            .filter(|t| !t.is_free())
    }

    /// Whether a slot below `limit` can still be handed out.
    pub(super) fn has_room_below(&self, limit: u32) -> bool {
        !self.free.is_empty() || self.len < limit
    }

    /// `span` now names `slot`.
    pub(super) fn bind(&mut self, span: u64, slot: u32) {
        self.by_span.insert(span, slot);
    }

    /// `span` names nothing any more; the slot it named.
    pub(super) fn unbind(&mut self, span: u64) -> Option<u32> {
        self.by_span.remove(&span)
    }

    /// The slots changed since the last tick (each once), taken out of the shard.
    pub(super) fn take_dirty(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.dirty)
    }

    /// Slots handed out so far (the slab's high-water mark).
    #[cfg(test)]
    pub(super) fn high_water(&self) -> usize {
        self.len as usize
    }

    /// Copy up to `max` occupied records starting at slot `from` into `out`; returns the slot to
    /// continue from, or None at the end of the shard.
    pub(super) fn copy_live(
        &self,
        from: usize,
        max: usize,
        out: &mut Vec<TaskRecord>,
    ) -> Option<usize> {
        let mut slot = from;
        while slot < self.len as usize {
            if out.len() >= max {
                return Some(slot);
            }
            if let Some(t) = self.slot_ref(slot as u32) {
                if !t.is_free() {
                    out.push(*t);
                }
            }
            slot += 1;
        }
        None
    }

    /// Whether most of the shard is free: worth compacting.
    pub(super) fn mostly_free(&self) -> bool {
        self.free.len() > 4096 && self.free.len() * 2 > self.len as usize
    }

    /// After most tasks of a shard are gone, give its memory back: compact the slab (live records
    /// move down, their span ids are remapped) and shrink the tables.
    pub(super) fn compact(&mut self) {
        if !self.dirty.is_empty() {
            // Dirty slots are referenced by index; compact only between ticks with no changes.
            return;
        }
        let live: Vec<TaskRecord> = self.records_mut().map(|t| *t).collect();
        let mut remap: IdMap<u32> = IdMap::default();
        let mut slot = 0u32;
        let len = self.len as usize;
        for (old, t) in self
            .pages
            .iter()
            .flat_map(|p| p.iter())
            .take(len)
            .enumerate()
        {
            if !t.is_free() {
                remap.insert(old as u64, slot);
                slot += 1;
            }
        }
        for s in self.by_span.values_mut() {
            if let Some(&new) = remap.get(&(*s as u64)) {
                *s = new;
            }
        }
        self.pages = Vec::new();
        self.len = 0;
        self.free = Vec::new();
        for t in live {
            self.alloc(t);
        }
        self.by_span.shrink_to_fit();
    }
}

/// A shard's lock on a cache line of its own, so that threads working on neighbouring shards
/// do not contend for one line.
#[repr(align(128))]
pub(super) struct Padded(pub(super) Mutex<Shard>);

impl std::ops::Deref for Padded {
    type Target = Mutex<Shard>;
    fn deref(&self) -> &Mutex<Shard> {
        &self.0
    }
}
