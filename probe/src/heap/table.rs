//! The heap counters: one slot of atomics per live task (live bytes and allocations packed in
//! a word, kept as two words by who writes them; the peak, a generation), a bucket for allocations made outside any poll and one
//! for what ended tasks left behind, and the slots' free list. Slots live in pages allocated
//! lazily by the layer (never inside the allocator) and never freed; the allocator only reads
//! the page table and updates atomics, so it takes no lock and allocates nothing.

use std::alloc::Layout;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

/// Live bytes sit in the low 40 bits of a counter word, live allocations in the high 24:
/// one atomic add per allocation and per free. A bucket holding 1 TiB or 16 M blocks at
/// once would wrap into the other field (the totals stay exact modulo 2^64).
const BYTES_BITS: u32 = 40;
const BYTES_MASK: u64 = (1 << BYTES_BITS) - 1;
/// What one block adds to a counter word besides its size.
pub(crate) const ONE_BLOCK: u64 = 1 << BYTES_BITS;

/// Slots per page, and pages: at most `PAGE * PAGES` (4 M) tasks have a slot at once; a task
/// spawned past that has none (its heap is counted as no task's).
const PAGE: usize = 4096;
const PAGES: usize = 1024;
pub(crate) const MAX_SLOTS: u32 = (PAGE * PAGES) as u32;

/// One bucket of live heap: 64 bytes per task slot, a cache line of its own, so that tasks
/// allocating on different threads do not contend for one line (with 40-byte slots, two
/// tasks allocating at once on two workers ran at 0.64 of the plain allocator).
///
/// The live figures are the sum of two words: `own`, written only by the thread that polls
/// the slot's task (a load and a store: no locked instruction in a task's own allocations and
/// frees), and `shared`, updated atomically by everyone else (frees on other threads, and
/// the buckets of no task). Only the sum means anything (either word may wrap).
#[repr(align(64))]
pub(crate) struct Counter {
    /// Live allocations (high bits) and live bytes (low bits), see [`BYTES_BITS`]: what the
    /// thread holding `poller` counted.
    own: AtomicU64,
    /// The same, counted by everyone else.
    shared: AtomicU64,
    /// The most live bytes seen at once since the slot was taken.
    peak: AtomicU64,
    /// The live word as last published (the publisher sends only slots whose word moved).
    sent: AtomicU64,
    /// The console id of the task holding the slot (0: free).
    owner: AtomicU64,
    /// Bumped each time the slot is given back: a block whose tag names an older
    /// generation belongs to a task that ended.
    pub(crate) gen: AtomicU32,
    /// 1 while a thread polls the slot's task and may write `own` (taken at poll start,
    /// given back at its end; a second thread entering the same task meanwhile, as a span
    /// entered from elsewhere, counts through `shared`).
    poller: AtomicU32,
}

/// Live heap of one bucket at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes the program asked for and has not freed (the allocator's tag not included).
    pub live_bytes: u64,
    /// Blocks allocated and not freed.
    pub live_allocs: u64,
    /// The largest `live_bytes` seen (for a task: since it was spawned).
    pub peak_bytes: u64,
}

impl Counter {
    pub(crate) const fn new() -> Counter {
        Counter {
            own: AtomicU64::new(0),
            shared: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            owner: AtomicU64::new(0),
            gen: AtomicU32::new(0),
            poller: AtomicU32::new(0),
        }
    }

    /// The live word: allocations and bytes (see [`BYTES_BITS`]).
    #[inline]
    fn word(&self) -> u64 {
        self.own
            .load(Ordering::Relaxed)
            .wrapping_add(self.shared.load(Ordering::Relaxed))
    }

    /// A block of `size` bytes more; `owned`: counted by the thread holding `poller`.
    #[inline]
    pub(crate) fn charge(&self, size: u64, owned: bool) {
        self.add(ONE_BLOCK.wrapping_add(size), owned);
    }

    /// A block of `size` bytes fewer.
    #[inline]
    pub(crate) fn credit(&self, size: u64, owned: bool) {
        self.add(ONE_BLOCK.wrapping_add(size).wrapping_neg(), owned);
    }

    /// The same block, now `new` bytes instead of `old`.
    #[inline]
    pub(crate) fn resize(&self, old: u64, new: u64, owned: bool) {
        self.add(new.wrapping_sub(old), owned);
    }

    /// Add `delta` (wrapping) to the live word, and raise the peak if the live bytes passed it.
    #[inline]
    fn add(&self, delta: u64, owned: bool) {
        let word = if owned {
            // Only this thread writes `own` while it holds `poller`.
            let own = self.own.load(Ordering::Relaxed).wrapping_add(delta);
            self.own.store(own, Ordering::Relaxed);
            own.wrapping_add(self.shared.load(Ordering::Relaxed))
        } else {
            self.shared
                .fetch_add(delta, Ordering::Relaxed)
                .wrapping_add(delta)
                .wrapping_add(self.own.load(Ordering::Relaxed))
        };
        let live = word & BYTES_MASK;
        // Only growth moves the peak, and a plain load first: the read-modify-write only
        // when it does.
        if live > self.peak.load(Ordering::Relaxed) && (delta as i64) > 0 {
            self.peak.fetch_max(live, Ordering::Relaxed);
        }
    }

    /// Take the right to write `own` for a poll on this thread; false if another thread has it.
    pub(crate) fn take_poller(&self) -> bool {
        self.poller
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Give back the right taken by [`Counter::take_poller`].
    pub(crate) fn give_poller(&self) {
        self.poller.store(0, Ordering::Release);
    }

    pub(crate) fn stats(&self) -> HeapStats {
        let w = self.word();
        HeapStats {
            live_bytes: w & BYTES_MASK,
            live_allocs: w >> BYTES_BITS,
            peak_bytes: self.peak.load(Ordering::Relaxed),
        }
    }
}

type Page = [Counter; PAGE];

/// Allocations made outside any task's poll (slot 0 of every header).
pub(crate) static NO_TASK: Counter = Counter::new();
/// What tasks left behind when they ended (blocks they allocated, freed later or never).
pub(crate) static ENDED: Counter = Counter::new();
static TABLE: [AtomicPtr<Page>; PAGES] = [const { AtomicPtr::new(std::ptr::null_mut()) }; PAGES];
/// The next slot never handed out (slot 0 means "no task").
static NEXT: AtomicU32 = AtomicU32::new(1);
/// Slots given back, reused oldest first so that a late free racing an end is long gone
/// before its slot has a new task.
static FREE: Mutex<std::collections::VecDeque<u32>> = Mutex::new(std::collections::VecDeque::new());

/// The counter of `slot`, if its page exists. Never allocates.
#[inline]
pub(crate) fn slot(slot: u32) -> Option<&'static Counter> {
    let page = TABLE.get(slot as usize / PAGE)?.load(Ordering::Acquire);
    if page.is_null() {
        return None;
    }
    // SAFETY: a non-null page pointer was published (Release) by `ensure_page` after the page
    // was zero-initialised (all-zero atomics are valid counters), and pages are never freed.
    let page: &'static Page = unsafe { &*page };
    page.get(slot as usize % PAGE)
}

/// Allocate the page of `slot` if it is missing. Called by the layer (outside the allocator);
/// false if memory for it could not be had.
fn ensure_page(slot: u32) -> bool {
    let Some(entry) = TABLE.get(slot as usize / PAGE) else {
        return false;
    };
    if !entry.load(Ordering::Acquire).is_null() {
        return true;
    }
    let layout = Layout::new::<Page>();
    // The page is the probe's, not the task's being polled: charge it to no task.
    let page = super::untracked(|| {
        // SAFETY: the layout has a non-zero size.
        unsafe { std::alloc::alloc_zeroed(layout) }
    }) as *mut Page;
    if page.is_null() {
        return false;
    }
    match entry.compare_exchange(
        std::ptr::null_mut(),
        page,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => true,
        Err(_) => {
            // Another thread published the page first: ours is unused.
            // SAFETY: `page` came from `alloc_zeroed` with this layout and was never shared.
            super::untracked(|| unsafe { std::alloc::dealloc(page as *mut u8, layout) });
            true
        }
    }
}

fn free_list() -> std::sync::MutexGuard<'static, std::collections::VecDeque<u32>> {
    FREE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A slot for a new task (0 if none is left). Its counters start at zero.
pub(crate) fn acquire() -> u32 {
    // Reuse a given-back slot only once enough are waiting (see `FREE`).
    let reused = {
        let mut free = free_list();
        if free.len() > 64 {
            free.pop_front()
        } else {
            None
        }
    };
    let s = match reused {
        Some(s) => s,
        None => {
            let s = NEXT.fetch_add(1, Ordering::Relaxed);
            if s >= MAX_SLOTS {
                NEXT.store(MAX_SLOTS, Ordering::Relaxed);
                return free_list().pop_front().unwrap_or_default();
            }
            s
        }
    };
    if !ensure_page(s) {
        free_list().push_back(s);
        return 0;
    }
    s
}

/// The task of `s` ended: what it still holds moves to [`ENDED`], later frees of its blocks
/// are credited there, and the slot is free for another task.
pub(crate) fn release(s: u32) {
    let Some(c) = slot(s).filter(|_| s != 0) else {
        return;
    };
    // First the generation, so that frees from now on go to ENDED; then the residue.
    c.gen.fetch_add(1, Ordering::AcqRel);
    let residue = c
        .own
        .swap(0, Ordering::AcqRel)
        .wrapping_add(c.shared.swap(0, Ordering::AcqRel));
    c.peak.store(0, Ordering::Relaxed);
    c.poller.store(0, Ordering::Release);
    c.sent.store(0, Ordering::Relaxed);
    c.owner.store(0, Ordering::Relaxed);
    ENDED.shared.fetch_add(residue, Ordering::Relaxed);
    free_list().push_back(s);
}

#[allow(dead_code, reason = "read by the heap stream (next)")]
#[cfg(test)]
/// The live heap of slot `s` (zero for slot 0 or an unknown slot).
pub(crate) fn stats(s: u32) -> HeapStats {
    match slot(s).filter(|_| s != 0) {
        Some(c) => c.stats(),
        None => HeapStats::default(),
    }
}

/// Slot `s` now holds the task with console id `id` (what the publisher names it by).
pub(crate) fn set_owner(s: u32, id: u64) {
    if let Some(c) = slot(s).filter(|_| s != 0) {
        c.owner.store(id, Ordering::Relaxed);
    }
}

/// Call `f` with the console id and live heap of every task slot whose heap moved since the
/// last call with `mark` (or of every task slot holding heap when `!mark`, for a new watcher,
/// without marking).
pub(crate) fn each_task(mark: bool, mut f: impl FnMut(u64, HeapStats)) {
    let end = NEXT.load(Ordering::Relaxed).min(MAX_SLOTS);
    for s in 1..end {
        let Some(c) = slot(s) else {
            continue;
        };
        let owner = c.owner.load(Ordering::Relaxed);
        if owner == 0 {
            continue;
        }
        let w = c.word();
        if mark {
            if c.sent.swap(w, Ordering::Relaxed) == w {
                continue;
            }
        } else if w == 0 {
            continue;
        }
        f(owner, c.stats());
    }
}
