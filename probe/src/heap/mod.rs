//! The heap a task holds: an opt-in global allocator that charges each allocation to the task
//! being polled on the allocating thread (none outside a poll) and credits it back when the
//! block is freed, from whichever thread or task.
//!
//! ```no_run
//! #[global_allocator]
//! static A: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();
//! ```
//!
//! Each block carries a header of `max(align, 16)` bytes in front of it, holding the slot and
//! generation of the task it is charged to ([`table`]); a free reads the header, so finding the
//! owner costs no lookup and no lock. The counters are atomics in a table of slots, one per
//! live task, set up by the probe's layer at spawn; the layer tells this thread which task it
//! polls. The allocator never allocates, locks or panics: before the probe starts, outside a
//! poll, or in a thread being torn down, allocations are counted as no task's.

mod table;
#[cfg(test)]
mod tests;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

pub use table::HeapStats;
pub(crate) use table::{each_task, set_owner};

/// Smallest header, and the alignment the inner allocator is asked for at least: blocks keep
/// malloc's 16-byte alignment.
const MIN_HEADER: usize = 16;

/// Whether an [`Allocator`] has served an allocation in this process: only then does the
/// layer give tasks a slot.
static IN_USE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The tag of the task this thread polls: slot (low 32 bits) and generation (high); 0 for
    /// none. No destructor, so reading it never registers one (which could allocate).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

fn tag(slot: u32, gen: u32) -> u64 {
    (gen as u64) << 32 | slot as u64
}

#[inline]
fn current() -> u64 {
    CURRENT.try_with(Cell::get).unwrap_or(0)
}

/// Run `f` with no task charged for what it allocates on this thread.
pub(crate) fn untracked<R>(f: impl FnOnce() -> R) -> R {
    let saved = CURRENT.try_with(|c| c.replace(0)).unwrap_or(0);
    let out = f();
    let _ = CURRENT.try_with(|c| c.set(saved));
    out
}

/// The counter a block with header `tag` is charged to: its task's slot while the task it
/// was charged to still holds the slot, else the bucket of ended tasks.
#[inline]
fn counter_of(tag: u64) -> &'static table::Counter {
    let slot = tag as u32;
    if slot == 0 {
        return &table::NO_TASK;
    }
    match table::slot(slot) {
        Some(c) if c.gen.load(Ordering::Relaxed) == (tag >> 32) as u32 => c,
        _ => &table::ENDED,
    }
}

/// A slot for a task being spawned, if an [`Allocator`] is in use (0: none).
pub(crate) fn acquire() -> u32 {
    if !IN_USE.load(Ordering::Relaxed) {
        return 0;
    }
    untracked(table::acquire)
}

/// The task of slot `slot` ended (see [`table::release`]).
pub(crate) fn release(slot: u32) {
    if slot != 0 {
        untracked(|| table::release(slot));
    }
}

/// A poll of the task of slot `slot` starts on this thread.
pub(crate) fn enter(slot: u32) {
    if slot != 0 {
        let t = tag(slot, table::generation(slot));
        let _ = CURRENT.try_with(|c| c.set(t));
    }
}

/// A poll ends on this thread: allocations are no task's until the next poll starts. (A poll
/// nested in another task's poll, as `block_on` inside a task, ends the outer one's charging
/// too: the rest of the outer poll is counted as no task's.)
pub(crate) fn exit() {
    let _ = CURRENT.try_with(|c| c.set(0));
}

#[cfg(test)]
/// The live heap of the task of slot `slot`.
pub(crate) fn of_slot(slot: u32) -> HeapStats {
    table::stats(slot)
}

/// The probe's heap stream: `asyncmem.probe.Heap/WatchHeap`, its messages and names.
pub mod wire {
    pub use crate::server::heap::{
        HeapFigures, HeapRequest, HeapUpdate, TaskHeap, HEAP_STREAM_FIELD, SERVICE_NAME,
        WATCH_HEAP_PATH,
    };
}

/// Whether an [`Allocator`] has served an allocation in this process.
pub fn in_use() -> bool {
    IN_USE.load(Ordering::Relaxed)
}

/// The live heap of the task being polled on this thread; `None` outside a poll, or when the
/// task has no slot (no [`Allocator`] in use when it was spawned).
pub fn current_task() -> Option<HeapStats> {
    let t = current();
    (t as u32 != 0).then(|| counter_of(t).stats())
}

/// Heap allocated outside any task's poll (the runtime's own, the main thread's) and not freed.
/// `peak_bytes` is the most it held at once.
pub fn outside_tasks() -> HeapStats {
    table::NO_TASK.stats()
}

/// Heap that tasks allocated and still live when they ended (handed to another task, leaked,
/// or freed since: then it is no longer counted). `peak_bytes` is not kept (0).
pub fn left_by_ended_tasks() -> HeapStats {
    let mut s = table::ENDED.stats();
    s.peak_bytes = 0;
    s
}

/// A global allocator that counts, per tokio task, the heap each task holds. Wraps another
/// [`GlobalAlloc`] (the system allocator by default; jemalloc, mimalloc...):
///
/// ```no_run
/// #[global_allocator]
/// static A: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();
/// ```
///
/// An allocation is charged to the task being polled on the allocating thread (none outside
/// a poll) and credited back on free, on any thread. `realloc` inside a poll moves the block
/// to the polling task; outside any poll the block keeps its owner. Each block costs a
/// header of `max(align, 16)` bytes, not counted in the figures.
pub struct Allocator<A = System> {
    inner: A,
}

impl Allocator<System> {
    /// The system allocator, counted.
    pub const fn system() -> Self {
        Allocator { inner: System }
    }
}

impl<A> Allocator<A> {
    /// `inner`, counted.
    pub const fn new(inner: A) -> Self {
        Allocator { inner }
    }
}

/// The block asked of the inner allocator for `layout`, and the header's size (also its
/// alignment); None if it does not fit in a `Layout`.
#[inline]
fn outer(layout: Layout) -> Option<(Layout, usize)> {
    let h = layout.align().max(MIN_HEADER);
    let size = layout.size().checked_add(h)?;
    Layout::from_size_align(size, h).ok().map(|l| (l, h))
}

impl<A> Allocator<A> {
    /// Tag a block the inner allocator returned at `base` for `layout` and charge it.
    ///
    /// # Safety
    /// `base` is null or a block of `outer(layout)` with header size `h`.
    #[inline]
    unsafe fn finish(base: *mut u8, layout: Layout, h: usize) -> *mut u8 {
        if base.is_null() {
            return base;
        }
        if !IN_USE.load(Ordering::Relaxed) {
            IN_USE.store(true, Ordering::Relaxed);
        }
        let t = current();
        // SAFETY: the block is `h + layout.size()` bytes aligned to `h` (h >= 16, a multiple
        // of 16): `base + h` is inside it or one past its end, and the 8 bytes at
        // `base + h - 16` are the header's, aligned to 8.
        let user = unsafe { base.add(h) };
        // SAFETY: see above.
        unsafe { user.sub(MIN_HEADER).cast::<u64>().write(t) };
        counter_of(t).charge(layout.size() as u64);
        user
    }
}

// SAFETY: every block handed out is a block of the inner allocator (which upholds the
// `GlobalAlloc` contract) offset by its header: aligned to `layout.align()` (the header is a
// multiple of it and the inner block is aligned to the header size), at least
// `layout.size()` bytes, and given back to the inner allocator with the layout it was taken
// with. Nothing here allocates, locks or unwinds.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Allocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((o, h)) = outer(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `o` has a non-zero size (at least the header).
        unsafe { Self::finish(self.inner.alloc(o), layout, h) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let Some((o, h)) = outer(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: as in `alloc`; the header is written over zeroes before the user's bytes.
        unsafe { Self::finish(self.inner.alloc_zeroed(o), layout, h) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The layout was accepted when the block was allocated, so `outer` succeeds.
        let Some((o, h)) = outer(layout) else {
            return;
        };
        // SAFETY: `ptr` came from `alloc` with this layout: its header sits 16 bytes before
        // it and its inner block starts `h` bytes before it.
        let t = unsafe { ptr.sub(MIN_HEADER).cast::<u64>().read() };
        counter_of(t).credit(layout.size() as u64);
        // SAFETY: the inner block, with the layout it was allocated with.
        unsafe { self.inner.dealloc(ptr.sub(h), o) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some((o, h)) = outer(layout) else {
            return std::ptr::null_mut();
        };
        let Some(new_outer) = new_size.checked_add(h) else {
            return std::ptr::null_mut();
        };
        if Layout::from_size_align(new_outer, h).is_err() {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `dealloc`.
        let old_tag = unsafe { ptr.sub(MIN_HEADER).cast::<u64>().read() };
        // SAFETY: the inner block with its layout, and a new size that is a valid layout
        // with the same alignment; it keeps the first bytes, the header among them.
        let base = unsafe { self.inner.realloc(ptr.sub(h), o, new_outer) };
        if base.is_null() {
            // The old block is untouched and still charged.
            return base;
        }
        let cur = current();
        let new_tag = if cur as u32 != 0 { cur } else { old_tag };
        // SAFETY: the new block is `new_outer` bytes aligned to `h`, as in `finish`.
        let user = unsafe { base.add(h) };
        if new_tag != old_tag {
            // SAFETY: as in `finish`.
            unsafe { user.sub(MIN_HEADER).cast::<u64>().write(new_tag) };
        }
        let (old, new) = (layout.size() as u64, new_size as u64);
        let (from, to) = (counter_of(old_tag), counter_of(new_tag));
        if std::ptr::eq(from, to) {
            from.resize(old, new);
        } else {
            from.credit(old);
            to.charge(new);
        }
        user
    }
}
