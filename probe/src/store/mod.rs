//! The probe's per-task state: one compact fixed-size record per live task ([`record`]), in
//! sharded slabs ([`shard`]) keyed by tracing span id or addressed by the probe's own span ids
//! ([`span_id`]), plus interned strings and spawn sites ([`intern`]) and the callsites seen.
//! Written by the layer on every spawn, poll, wake and drop; read by the publisher once per tick.

mod intern;
mod record;
mod shard;
mod span_id;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

pub(crate) use intern::Site;
pub(crate) use record::{Histo, Taken, TaskRecord, WATCHED};
pub(crate) use shard::Shard;
pub(crate) use span_id::encode;

use intern::{Interner, Sites};
use record::{Details, DIRTY, HISTOGRAM_MAX_NS, NEW};
use shard::Padded;
use span_id::{decode, MAX_DIRECT_SLOT};

/// Number of shards; a power of two.
const SHARDS: usize = 32;

/// Lock a mutex, recovering the data if another thread panicked while holding it: the probe
/// must never turn a panic elsewhere into one of its own.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The store the layer writes and the publisher reads: the shards, the interned strings and
/// sites, the callsites seen and the histograms of watched tasks.
pub(crate) struct Store {
    base: Instant,
    base_system: SystemTime,
    shards: Box<[Padded]>,
    next_id: AtomicU64,
    interner: Mutex<Interner>,
    sites: Mutex<Sites>,
    /// Callsites the layer saw, in registration order.
    pub callsites: Mutex<Vec<&'static tracing_core::Metadata<'static>>>,
    /// Histograms of watched tasks, by console id.
    pub details: Mutex<HashMap<u64, Details>>,
    /// Cleared when no publisher runs (its runtime could not start): records of dropped tasks
    /// are then freed at once instead of waiting for a tick that never comes.
    pub publisher_alive: AtomicBool,
    /// Span ids are the probe's own ([`encode`]): records are addressed by them directly,
    /// never moved, and the span-id table stays empty.
    direct: bool,
    /// Round robin of shards for threads that spawn (direct mode).
    next_shard: AtomicU64,
    #[cfg(test)]
    pub intern_calls: AtomicU64,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            base: Instant::now(),
            base_system: SystemTime::now(),
            shards: (0..SHARDS)
                .map(|_| Padded(Mutex::new(Shard::default())))
                .collect(),
            next_id: AtomicU64::new(1),
            interner: Mutex::new(Interner::default()),
            sites: Mutex::new(Sites::default()),
            callsites: Mutex::new(Vec::new()),
            details: Mutex::new(HashMap::new()),
            publisher_alive: AtomicBool::new(true),
            direct: false,
            next_shard: AtomicU64::new(0),
            #[cfg(test)]
            intern_calls: AtomicU64::new(0),
        }
    }
}

thread_local! {
    /// The shard this thread's spawns go to (direct mode): a thread's tasks sit side by side.
    static MY_SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}

impl Store {
    /// A store for the probe's own subscriber (see [`encode`]).
    pub fn direct() -> Self {
        Store {
            direct: true,
            ..Store::default()
        }
    }

    /// Direct mode: a new task, with one handle to its span; returns its span id, or None if
    /// the shard is full.
    pub fn insert_direct(&self, mut rec: TaskRecord) -> Option<u64> {
        rec.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        rec.flags = NEW;
        rec.refs = 1;
        let shard_ix = MY_SHARD
            .try_with(|c| match c.get() {
                Some(s) => s,
                None => {
                    let s = self.next_shard.fetch_add(1, Ordering::Relaxed) as usize % SHARDS;
                    c.set(Some(s));
                    s
                }
            })
            .unwrap_or(0);
        let mut shard = lock(&self.shards[shard_ix]);
        // The last slot number is never handed out: all ones is `UNTRACKED`.
        if !shard.has_room_below(MAX_DIRECT_SLOT) {
            crate::heap::release(rec.heap_slot);
            return None;
        }
        crate::heap::set_owner(rec.heap_slot, rec.id);
        let slot = shard.alloc(rec);
        shard.mark(slot);
        Some(encode(shard_ix, slot, rec.id))
    }

    /// Direct mode: the record of span `span` if it is live, under its shard's lock.
    fn direct_slot(&self, span: u64) -> Option<(MutexGuard<'_, Shard>, u32)> {
        let (shard_ix, slot, check) = decode(span)?;
        let mut shard = lock(self.shards.get(shard_ix)?);
        let t = shard.slot(slot)?;
        (!t.is_free() && t.id & 0x7fff_ffff == check && t.dropped == 0).then_some((shard, slot))
    }

    /// Direct mode: one more handle to the span.
    pub fn retain(&self, span: u64) {
        if let Some((mut shard, slot)) = self.direct_slot(span) {
            if let Some(t) = shard.slot(slot) {
                t.refs = t.refs.saturating_add(1);
            }
        }
    }

    /// Direct mode: one handle fewer; at none the task is dropped (its record kept until a
    /// tick has published it). Returns whether the span closed.
    pub fn release(&self, span: u64, now: u64) -> bool {
        let Some((mut shard, slot)) = self.direct_slot(span) else {
            return false;
        };
        let Some(t) = shard.slot(slot) else {
            return false;
        };
        t.refs = t.refs.saturating_sub(1);
        if t.refs > 0 {
            return false;
        }
        t.dropped = now;
        crate::heap::release(t.heap_slot);
        if self.publisher_alive.load(Ordering::Relaxed) {
            shard.mark(slot);
        } else {
            shard.free_slot(slot);
        }
        true
    }

    /// Now, as stored: nanoseconds since the base, plus one.
    pub fn now(&self) -> u64 {
        (self.base.elapsed().as_nanos() as u64).saturating_add(1)
    }

    /// A stored time as wall-clock time (console's timestamps).
    pub fn system_time(&self, t: u64) -> Option<SystemTime> {
        (t != 0).then(|| self.base_system + Duration::from_nanos(t - 1))
    }

    pub fn shard_of(&self, span: u64) -> &Mutex<Shard> {
        // Fibonacci hashing: span ids from the registry are dense in their low bits.
        let h = span.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARDS.trailing_zeros());
        &self.shards[h as usize]
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    #[cfg(test)]
    pub fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        lock(&self.shards[i])
    }

    pub fn intern(&self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        #[cfg(test)]
        self.intern_calls.fetch_add(1, Ordering::Relaxed);
        lock(&self.interner).intern(s)
    }

    pub fn string(&self, id: u32) -> Option<String> {
        lock(&self.interner).get(id)
    }

    /// The index of a spawn site, interning it on first sight (1-based; 0 when the table is
    /// full).
    pub fn site_id(&self, site: Site) -> u32 {
        lock(&self.sites).id(site)
    }

    pub fn site(&self, id: u32) -> Site {
        lock(&self.sites).get(id)
    }

    /// A new task: a record with the next console id, marked new and dirty.
    pub fn insert(&self, span: u64, mut rec: TaskRecord) {
        rec.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        rec.flags = NEW;
        crate::heap::set_owner(rec.heap_slot, rec.id);
        let mut shard = lock(self.shard_of(span));
        let slot = shard.alloc(rec);
        shard.bind(span, slot);
        shard.mark(slot);
    }

    /// Apply `f` to the live task of span `span`; returns whether there was one.
    pub fn update(&self, span: u64, f: impl FnOnce(&mut TaskRecord)) -> bool {
        if self.direct {
            let Some((mut shard, slot)) = self.direct_slot(span) else {
                return false;
            };
            if let Some(t) = shard.slot(slot) {
                f(t);
            }
            shard.mark(slot);
            return true;
        }
        let mut shard = lock(self.shard_of(span));
        let Some((slot, t)) = shard.get_mut(span) else {
            return false;
        };
        f(t);
        shard.mark(slot);
        true
    }

    /// The task of span `span` was dropped: keep its record until a tick has published it.
    pub fn close(&self, span: u64, now: u64) -> Option<(u64, u8)> {
        let mut shard = lock(self.shard_of(span));
        let slot = shard.unbind(span)?;
        let t = shard.slot(slot)?;
        t.dropped = now;
        crate::heap::release(t.heap_slot);
        let out = (t.id, t.flags);
        if self.publisher_alive.load(Ordering::Relaxed) {
            shard.mark(slot);
        } else {
            shard.free_slot(slot);
        }
        Some(out)
    }

    /// Take every record changed since the last tick out of shard `i`, clearing their flags;
    /// dropped tasks' slots are freed (their last state is in the returned copy).
    #[cfg(test)]
    pub fn take_dirty(&self, i: usize, out: &mut Vec<Taken>) {
        let slots = self.dirty_slots(i);
        self.take_slots(i, &slots, out);
        self.tick_done(i);
    }

    /// The slots of shard `i` changed since the last tick (each once), taken out of the shard.
    pub fn dirty_slots(&self, i: usize) -> Vec<u32> {
        lock(&self.shards[i]).take_dirty()
    }

    /// Copy out the records of `slots` (from [`Store::dirty_slots`]) that are still marked
    /// changed, clearing their flags; dropped tasks' slots are freed (their last state is in
    /// the copy). Called in batches, so that the shard's lock is held for one batch at a time.
    pub fn take_slots(&self, i: usize, slots: &[u32], out: &mut Vec<Taken>) {
        let mut shard = lock(&self.shards[i]);
        for &slot in slots {
            let Some(t) = shard.slot(slot) else {
                continue;
            };
            // A slot freed and reused since it was listed: its new task is in the new list.
            if t.is_free() || t.flags & DIRTY == 0 {
                continue;
            }
            let was_new = t.flags & NEW != 0;
            t.flags &= !(DIRTY | NEW);
            let rec = *t;
            if rec.dropped != 0 {
                shard.free_slot(slot);
            }
            out.push(Taken { rec, was_new });
        }
    }

    /// A tick has taken shard `i`'s changes: give its memory back if most of it is free.
    pub fn tick_done(&self, i: usize) {
        let mut shard = lock(&self.shards[i]);
        // Direct span ids name slots: those records never move.
        if !self.direct && shard.mostly_free() {
            shard.compact();
        }
    }

    /// Copy up to `max` occupied records of shard `i` starting at slot `from`; returns the
    /// slot to continue from, or None at the end of the shard.
    pub fn copy_live(
        &self,
        i: usize,
        from: usize,
        max: usize,
        out: &mut Vec<TaskRecord>,
    ) -> Option<usize> {
        lock(&self.shards[i]).copy_live(from, max, out)
    }

    /// The longest poll under way now: how long it has run (ns) and the task's tokio id.
    pub fn longest_poll(&self) -> Option<(u64, u64)> {
        let now = self.now();
        let mut longest: Option<(u64, u64)> = None;
        for s in self.shards.iter() {
            let mut shard = lock(s);
            for t in shard.records_mut() {
                if t.dropped == 0 && t.last_poll_started > t.last_poll_ended {
                    let d = now.saturating_sub(t.last_poll_started);
                    if longest.is_none_or(|(l, _)| d > l) {
                        longest = Some((d, t.tokio_id));
                    }
                }
            }
        }
        longest
    }

    /// Set or clear the WATCHED flag of the task with console id `id`; false if there is none.
    fn flag_watched(&self, id: u64, on: bool) -> bool {
        for s in self.shards.iter() {
            let mut shard = lock(s);
            let found = match shard.records_mut().find(|t| t.id == id) {
                Some(t) if on => {
                    t.flags |= WATCHED;
                    true
                }
                Some(t) => {
                    t.flags &= !WATCHED;
                    true
                }
                None => false,
            };
            if found {
                return true;
            }
        }
        false
    }

    /// Start recording the histograms of task `id`; false if there is no such task.
    pub fn watch(&self, id: u64) -> bool {
        let (Some(poll), Some(scheduled)) =
            (Histo::new(HISTOGRAM_MAX_NS), Histo::new(HISTOGRAM_MAX_NS))
        else {
            return false;
        };
        let fresh = {
            let mut details = lock(&self.details);
            let fresh = !details.contains_key(&id);
            details.entry(id).or_insert(Details { poll, scheduled });
            fresh
        };
        if self.flag_watched(id, true) {
            return true;
        }
        if fresh {
            lock(&self.details).remove(&id);
        }
        false
    }

    /// Stop recording the histograms of task `id`.
    pub fn unwatch(&self, id: u64) {
        self.flag_watched(id, false);
        lock(&self.details).remove(&id);
    }

    /// Number of live (not yet freed) records.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).live()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> TaskRecord {
        TaskRecord {
            size_bytes: 64,
            original_size_bytes: u32::MAX,
            ..Default::default()
        }
    }

    /// A store with a task for each of `spans`.
    fn store_of(spans: std::ops::RangeInclusive<u64>) -> Store {
        let s = Store::default();
        for span in spans {
            s.insert(span, rec());
        }
        s
    }

    /// What every shard has changed, appended to `out`.
    fn take_all_dirty(s: &Store, out: &mut Vec<Taken>) {
        for i in 0..s.shard_count() {
            s.take_dirty(i, out);
        }
    }

    #[test]
    fn a_record_is_compact() {
        assert!(
            std::mem::size_of::<TaskRecord>() <= 128,
            "{}",
            std::mem::size_of::<TaskRecord>()
        );
    }

    #[test]
    fn new_changed_and_dropped_tasks_are_taken_once_and_dropped_slots_reused() {
        let s = store_of(1..=100);
        let mut out = Vec::new();
        take_all_dirty(&s, &mut out);
        assert_eq!(out.len(), 100);
        assert!(out.iter().all(|t| t.was_new));
        let mut ids: Vec<u64> = out.iter().map(|t| t.rec.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 100);

        // Nothing changed: nothing taken.
        out.clear();
        take_all_dirty(&s, &mut out);
        assert!(out.is_empty());

        // Two polls and a drop.
        assert!(s.update(7, |t| t.polls += 1));
        assert!(s.update(7, |t| t.polls += 1));
        assert!(s.close(9, s.now()).is_some());
        assert!(!s.update(9, |t| t.polls += 1), "a closed span is gone");
        take_all_dirty(&s, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|t| !t.was_new));
        assert_eq!(s.len(), 99);
        // The span id is reused by a new task, which gets a new console id.
        s.insert(9, rec());
        out.clear();
        take_all_dirty(&s, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rec.id, 101);
        assert_eq!(s.len(), 100);
    }

    #[test]
    fn direct_ids_name_their_record_and_die_with_it() {
        let s = Store::direct();
        let a = s.insert_direct(rec()).expect("room");
        let b = s.insert_direct(rec()).expect("room");
        assert_ne!(a, b);
        assert_ne!(a, crate::layer::UNTRACKED);
        assert!(s.update(a, |t| t.polls += 1));
        // Two handles: the first release does not close.
        s.retain(a);
        assert!(!s.release(a, s.now()));
        assert!(s.release(a, s.now()));
        assert!(!s.update(a, |t| t.polls += 1), "a closed span is gone");
        assert!(!s.update(crate::layer::UNTRACKED, |t| t.polls += 1));
        let mut out = Vec::new();
        take_all_dirty(&s, &mut out);
        assert_eq!(out.len(), 2);
        let dropped = out
            .iter()
            .find(|t| t.rec.dropped != 0)
            .expect("a dropped task");
        assert_eq!(dropped.rec.polls, 1);
        // The freed slot is reused by a new task: the old id does not reach it.
        let c = s.insert_direct(rec()).expect("room");
        assert_eq!(c & 0xffff_ffff, a & 0xffff_ffff, "same shard and slot");
        assert!(!s.update(a, |t| t.polls += 1));
        assert!(s.update(c, |t| t.polls += 1));
        assert!(s.update(b, |t| t.polls += 1));
    }

    #[test]
    fn copy_live_walks_every_record_in_batches() {
        let s = store_of(1..=1000);
        let mut seen = 0;
        for i in 0..s.shard_count() {
            let mut from = 0;
            loop {
                let mut batch = Vec::new();
                let next = s.copy_live(i, from, 7, &mut batch);
                assert!(batch.len() <= 7);
                seen += batch.len();
                match next {
                    Some(n) => from = n,
                    None => break,
                }
            }
        }
        assert_eq!(seen, 1000);
    }

    #[test]
    fn a_mostly_empty_shard_is_compacted() {
        let s = store_of(1..=200_000);
        let mut out = Vec::new();
        take_all_dirty(&s, &mut out);
        for span in 1..=199_000u64 {
            s.close(span, s.now());
        }
        for _ in 0..2 {
            out.clear();
            take_all_dirty(&s, &mut out);
        }
        assert_eq!(s.len(), 1000);
        let slots: usize = (0..s.shard_count()).map(|i| s.shard(i).high_water()).sum();
        assert!(slots < 10_000, "{slots} slots kept for 1000 tasks");
        // Every survivor is still reachable by its span id.
        for span in 199_001..=200_000u64 {
            assert!(s.update(span, |t| t.polls += 1));
        }
    }

    #[test]
    fn interned_strings_round_trip() {
        let s = Store::default();
        let a = s.intern("sleepers.rs");
        assert_eq!(s.intern("sleepers.rs"), a);
        assert_eq!(s.intern(""), 0);
        assert_eq!(s.string(a).as_deref(), Some("sleepers.rs"));
        assert_eq!(s.string(0), None);
    }
}
