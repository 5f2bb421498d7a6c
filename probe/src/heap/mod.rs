//! The heap a task holds: an opt-in global allocator that charges each allocation to the task
//! being polled on the allocating thread (none outside a poll) and credits it back when the
//! block is freed, from whichever thread or task.
//!
//! ```no_run
//! #[global_allocator]
//! static A: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();
//! ```
//!
//! Each block carries an 8-byte tag after the caller's bytes (at its size rounded up to 8),
//! holding the slot and generation of the task it is charged to ([`table`]); a free reads the
//! tag, so finding the owner costs no lookup and no lock. (A tag in front would cost the
//! block's alignment: 128 bytes for each of tokio's task cells.) The counters are atomics in a
//! table of slots, one per live task, set up by the probe's layer at spawn; the layer tells
//! this thread which task it polls ([`enter`], [`exit`]). The allocator never allocates, locks
//! or panics: before the probe starts and outside a poll, allocations are no task's.

mod table;
#[cfg(test)]
mod tests;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

pub use table::HeapStats;
pub(crate) use table::{each_task, set_owner};

/// Whether an [`Allocator`] has served an allocation in this process: only then does the
/// layer give tasks a slot.
static IN_USE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The tag of the task this thread polls: slot (low 32 bits) and generation (30 bits
    /// above); 0 for none; [`OWNED`] when this thread may count on the slot's own word,
    /// [`SPAWNING`] while a spawn's task cell is awaited. No destructor, so reading it never
    /// registers one (which could allocate).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// The future size of the task this thread is spawning (see [`spawning`]).
    static SPAWN_SIZE: Cell<u64> = const { Cell::new(0) };
}

/// The bit of [`CURRENT`] that says a spawn's task cell is the next large allocation.
const SPAWNING: u64 = 1 << 63;
/// The bit of [`CURRENT`] that says this thread holds the slot's poller right (see
/// [`table::Counter`]): its task's own allocations and frees take no locked instruction.
const OWNED: u64 = 1 << 62;
/// The bits of [`CURRENT`] that make a block's tag.
const TAG_MASK: u64 = OWNED - 1;
const GEN_MASK: u32 = 0x3fff_ffff;

fn tag(slot: u32, gen: u32) -> u64 {
    ((gen & GEN_MASK) as u64) << 32 | slot as u64
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
        Some(c) if c.gen.load(Ordering::Relaxed) & GEN_MASK == (tag >> 32) as u32 => c,
        _ => &table::ENDED,
    }
}

/// This thread is spawning a task whose future is `future_bytes`: tokio allocates its task
/// cell (header, future, trailer: at least that large, aligned to a cache line, 16 bytes or
/// more on every target) right after the task's span, in the spawner's poll. The cell is the
/// runtime's (asyncmem shows it apart), and so is what instrumentation allocates for the new
/// span meanwhile (other layers' span data): from here until that cell, allocations are no
/// task's. A poll starting or ending first calls it off.
pub(crate) fn spawning(future_bytes: u32) {
    if IN_USE.load(Ordering::Relaxed) {
        let _ = SPAWN_SIZE.try_with(|c| c.set(future_bytes as u64));
        let _ = CURRENT.try_with(|c| c.set(c.get() | SPAWNING));
    }
}

/// The least alignment of tokio's task cell on any target (its cache-line padding).
const CELL_MIN_ALIGN: usize = 16;

/// The tag for a block of `layout` while a spawn is pending (`t` has [`SPAWNING`]): no task's;
/// the cell ends the spawn.
#[cold]
fn spawn_tag(t: u64, layout: Layout) -> u64 {
    let cell = SPAWN_SIZE.try_with(Cell::get).unwrap_or(0);
    if layout.size() as u64 >= cell && layout.align() >= CELL_MIN_ALIGN {
        let _ = CURRENT.try_with(|c| c.set(t & !SPAWNING));
    }
    0
}

/// The tag for a new block of `layout` on this thread.
#[inline]
fn tag_for(layout: Layout) -> u64 {
    let t = current();
    if t & SPAWNING != 0 {
        spawn_tag(t, layout)
    } else {
        t
    }
}

/// Whether the block tagged `t` is charged to the task this thread polls with the poller
/// right (so counted on the slot's own word).
#[inline]
fn owned_by_this_thread(t: u64) -> bool {
    let cur = current();
    cur & OWNED != 0 && cur & TAG_MASK == t
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
    let prev = current();
    let mut t = 0;
    if let Some(c) = table::slot(slot).filter(|_| slot != 0) {
        t = tag(slot, c.gen.load(Ordering::Acquire));
        // Re-entering the task this thread already polls keeps the right it holds.
        if (prev & OWNED != 0 && prev as u32 == slot) || c.take_poller() {
            t |= OWNED;
        }
    }
    if prev & OWNED != 0 && prev as u32 != slot {
        // A poll nested in another task's: that task's right is given back, and the rest of
        // its poll is counted as no task's.
        give_poller(prev);
    }
    let _ = CURRENT.try_with(|c| c.set(t));
}

/// Give back the poller right of the slot of `t`.
fn give_poller(t: u64) {
    if let Some(c) = table::slot(t as u32) {
        c.give_poller();
    }
}

/// A poll ends on this thread: allocations are no task's until the next poll starts. (A poll
/// nested in another task's poll, as `block_on` inside a task, ends the outer one's charging
/// too: the rest of the outer poll is counted as no task's.)
pub(crate) fn exit() {
    let t = CURRENT.try_with(|c| c.replace(0)).unwrap_or(0);
    if t & OWNED != 0 {
        give_poller(t);
    }
}

#[cfg(test)]
/// The live heap of the task of slot `slot`.
pub(crate) fn of_slot(slot: u32) -> HeapStats {
    table::stats(slot)
}

/// Whether an [`Allocator`] has served an allocation in this process.
pub fn in_use() -> bool {
    IN_USE.load(Ordering::Relaxed)
}

/// The live heap of the task being polled on this thread; `None` outside a poll, or when the
/// task has no slot (no [`Allocator`] in use when it was spawned).
pub fn current_task() -> Option<HeapStats> {
    let t = current() & TAG_MASK;
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
/// to the polling task; outside any poll the block keeps its owner. Each block costs an
/// 8-byte tag after it (its size rounded up to 8), not counted in the figures.
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

/// The size of the tag after each block, and the least alignment asked of the inner allocator
/// (so that the tag is aligned).
const TAG: usize = 8;

/// Where the tag of a block of `size` bytes sits: the size rounded up to [`TAG`]; None if
/// that overflows.
#[inline]
fn tag_offset(size: usize) -> Option<usize> {
    Some(size.checked_add(TAG - 1)? & !(TAG - 1))
}

/// The block asked of the inner allocator for `size` bytes aligned to `align`, and where its
/// tag sits; None if it does not fit in a `Layout`.
#[inline]
fn outer(size: usize, align: usize) -> Option<(Layout, usize)> {
    let at = tag_offset(size)?;
    let l = Layout::from_size_align(at.checked_add(TAG)?, align.max(TAG)).ok()?;
    Some((l, at))
}

/// The tag of a block of `size` bytes at `ptr`.
///
/// # Safety
/// `ptr` is a live block of an [`Allocator`] of `size` bytes.
#[inline]
unsafe fn read_tag(ptr: *mut u8, size: usize) -> u64 {
    let at = tag_offset(size).unwrap_or(0);
    // SAFETY: the block was allocated as `outer(size, _)`: its tag is the 8 bytes at `at`,
    // inside it and aligned to 8 (the block is aligned to at least 8, `at` is a multiple of 8).
    unsafe { ptr.add(at).cast::<u64>().read() }
}

/// Set the tag of a block of the inner allocator at `ptr`, allocated as `outer(size, _)`.
///
/// # Safety
/// As [`read_tag`]; the block is not shared yet or is the caller's.
#[inline]
unsafe fn write_tag(ptr: *mut u8, size: usize, tag: u64) {
    let at = tag_offset(size).unwrap_or(0);
    // SAFETY: as in `read_tag`.
    unsafe { ptr.add(at).cast::<u64>().write(tag) }
}

#[cfg(test)]
/// The slot a block of `layout` at `ptr` is charged to.
pub(crate) unsafe fn slot_of(ptr: *mut u8, layout: Layout) -> u32 {
    // SAFETY: the caller's.
    unsafe { read_tag(ptr, layout.size()) as u32 }
}

/// Tag a block the inner allocator returned for `layout` with the polling task, and charge it.
///
/// # Safety
/// `ptr` is null or a block of `outer(layout.size(), layout.align())`.
#[inline]
unsafe fn finish(ptr: *mut u8, layout: Layout) -> *mut u8 {
    if ptr.is_null() {
        return ptr;
    }
    if !IN_USE.load(Ordering::Relaxed) {
        IN_USE.store(true, Ordering::Relaxed);
    }
    let t = tag_for(layout);
    // SAFETY: a new block of that layout, not yet handed out.
    unsafe { write_tag(ptr, layout.size(), t & TAG_MASK) };
    counter_of(t & TAG_MASK).charge(layout.size() as u64, t & OWNED != 0);
    ptr
}

// SAFETY: every block handed out is a block of the inner allocator (which upholds the
// `GlobalAlloc` contract) asked with the same alignment (or 8, if more) and 8 to 15 bytes
// more, for the tag after the caller's bytes; it is given back to the inner allocator with
// the layout it was taken with. Nothing here allocates, locks or unwinds.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Allocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((o, _)) = outer(layout.size(), layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `o` has a non-zero size (at least the tag); `finish` gets its block.
        unsafe { finish(self.inner.alloc(o), layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let Some((o, _)) = outer(layout.size(), layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: as in `alloc`; the tag is written after the caller's (zeroed) bytes.
        unsafe { finish(self.inner.alloc_zeroed(o), layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The layout was accepted when the block was allocated, so `outer` succeeds.
        let Some((o, _)) = outer(layout.size(), layout.align()) else {
            return;
        };
        // SAFETY: `ptr` came from this allocator with this layout.
        let t = unsafe { read_tag(ptr, layout.size()) };
        counter_of(t).credit(layout.size() as u64, owned_by_this_thread(t));
        // SAFETY: the inner block, with the layout it was allocated with.
        unsafe { self.inner.dealloc(ptr, o) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some((o, _)) = outer(layout.size(), layout.align()) else {
            return std::ptr::null_mut();
        };
        let Some((n, _)) = outer(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `ptr` came from this allocator with this layout.
        let old_tag = unsafe { read_tag(ptr, layout.size()) };
        // SAFETY: the inner block with its layout, and a new size that makes a valid layout
        // with the same alignment.
        let p = unsafe { self.inner.realloc(ptr, o, n.size()) };
        if p.is_null() {
            // The old block is untouched and still charged.
            return p;
        }
        let cur = current() & !SPAWNING;
        let new_tag = if cur as u32 != 0 {
            cur & TAG_MASK
        } else {
            old_tag
        };
        // SAFETY: the block is now `outer(new_size, align)`, ours until returned: its tag
        // moves with its end.
        unsafe { write_tag(p, new_size, new_tag) };
        let (old, new) = (layout.size() as u64, new_size as u64);
        let (from, to) = (counter_of(old_tag), counter_of(new_tag));
        if std::ptr::eq(from, to) {
            from.resize(old, new, owned_by_this_thread(old_tag));
        } else {
            from.credit(old, owned_by_this_thread(old_tag));
            to.charge(new, owned_by_this_thread(new_tag));
        }
        p
    }
}
