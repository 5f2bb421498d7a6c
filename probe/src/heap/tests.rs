//! The accounting, driven directly: tasks are slots taken as the layer takes them, polls are
//! `enter`/`exit` on the test's threads, blocks come from an `Allocator` of the test's own.
//! (The crate's unit tests also run with an `Allocator` as the global allocator, see lib.rs.)

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Mutex;

use super::*;

static A: Allocator = Allocator::system();

/// Tests that read the process-wide buckets run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A task, as the layer makes one.
fn task() -> u32 {
    // The slot table is used only once an allocator has served something.
    // SAFETY: a non-zero layout; freed at once.
    unsafe {
        let l = Layout::new::<u64>();
        A.dealloc(A.alloc(l), l);
    }
    let s = acquire();
    assert_ne!(s, 0, "a slot");
    s
}

/// Run `f` as a poll of the task of `slot` on this thread.
fn polled<R>(slot: u32, f: impl FnOnce() -> R) -> R {
    enter(slot);
    let out = f();
    exit();
    out
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

struct Block(*mut u8, Layout);
// SAFETY: the tests hand blocks between threads on purpose; nothing else touches them.
unsafe impl Send for Block {}

fn alloc(size: usize) -> Block {
    let l = layout(size, 8);
    // SAFETY: a valid layout (zero size allowed by this allocator).
    let p = unsafe { A.alloc(l) };
    assert!(!p.is_null());
    Block(p, l)
}

fn free(b: Block) {
    // SAFETY: allocated by `A` with this layout, freed once.
    unsafe { A.dealloc(b.0, b.1) }
}

fn live(slot: u32) -> (u64, u64) {
    let s = of_slot(slot);
    (s.live_bytes, s.live_allocs)
}

#[test]
fn a_task_is_charged_for_what_it_allocates_and_credited_when_freed_anywhere() {
    let t = task();
    let a = polled(t, || alloc(10_240));
    let b = polled(t, || alloc(100));
    assert_eq!(live(t), (10_340, 2));
    assert_eq!(polled(t, current_task).map(|s| s.live_bytes), Some(10_340));
    assert_eq!(current_task(), None, "outside a poll");
    // Freed on another thread, outside any poll.
    std::thread::spawn(move || free(a)).join().unwrap();
    assert_eq!(live(t), (100, 1));
    free(b);
    let s = of_slot(t);
    assert_eq!((s.live_bytes, s.live_allocs, s.peak_bytes), (0, 0, 10_340));
    release(t);
}

#[test]
fn allocations_outside_a_poll_are_no_tasks() {
    let t = task();
    let before = live(t);
    let outside = alloc(4096);
    // After the poll ended, the same thread allocates for no task.
    let inside = polled(t, || alloc(64));
    let after_poll = alloc(4096);
    assert_eq!(live(t), (before.0 + 64, before.1 + 1));
    let untracked_block = polled(t, || untracked(|| alloc(512)));
    assert_eq!(live(t), (before.0 + 64, before.1 + 1), "untracked");
    // SAFETY: live blocks of `A` with their layouts.
    let tag_of = |b: &Block| unsafe { slot_of(b.0, b.1) };
    assert_eq!(tag_of(&outside), 0);
    assert_eq!(tag_of(&after_poll), 0);
    assert_eq!(tag_of(&untracked_block), 0);
    assert_eq!(tag_of(&inside), t);
    for b in [outside, inside, after_poll, untracked_block] {
        free(b);
    }
    assert_eq!(live(t), before);
    release(t);
}

#[test]
fn a_task_freeing_another_tasks_block_credits_the_owner() {
    let (a, b) = (task(), task());
    let block = polled(a, || alloc(3000));
    let mine = polled(b, || alloc(10));
    polled(b, || free(block));
    assert_eq!(live(a), (0, 0));
    assert_eq!(live(b), (10, 1));
    free(mine);
    release(a);
    release(b);
}

#[test]
fn realloc_in_a_poll_moves_the_block_to_the_polling_task_outside_keeps_its_owner() {
    let (a, b) = (task(), task());
    let l = layout(100, 8);
    // SAFETY: blocks of `A` with their current layouts, each freed once.
    unsafe {
        let p = polled(a, || A.alloc(l));
        // Grown by its owner: same owner, one block, a new peak.
        let p = polled(a, || A.realloc(p, l, 5000));
        assert_eq!(live(a), (5000, 1));
        assert_eq!(of_slot(a).peak_bytes, 5000);
        // Shrunk outside any poll: still a's.
        let p = A.realloc(p, layout(5000, 8), 1000);
        assert_eq!(live(a), (1000, 1));
        // Grown while b polls: now b's, at its new size.
        let p = polled(b, || A.realloc(p, layout(1000, 8), 20_000));
        assert_eq!(live(a), (0, 0));
        assert_eq!(live(b), (20_000, 1));
        assert!(std::slice::from_raw_parts(p, 100).len() == 100);
        A.dealloc(p, layout(20_000, 8));
    }
    assert_eq!(live(b), (0, 0));
    release(a);
    release(b);
}

#[test]
fn realloc_keeps_the_bytes_and_the_alignment() {
    let t = task();
    for align in [1, 8, 16, 64, 4096] {
        let l = layout(300, align);
        // SAFETY: a block of `A`, filled, grown, read back and freed with its layout.
        unsafe {
            let p = polled(t, || A.alloc(l));
            for i in 0..300 {
                p.add(i).write(i as u8);
            }
            let q = polled(t, || A.realloc(p, l, 70_000));
            assert_eq!(q as usize % align, 0, "align {align}");
            assert!((0..300).all(|i| q.add(i).read() == i as u8));
            assert_eq!(live(t), (70_000, 1));
            A.dealloc(q, layout(70_000, align));
        }
    }
    release(t);
}

#[test]
fn aligned_blocks_are_aligned_and_counted_without_their_padding() {
    let t = task();
    for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096, 1 << 16] {
        for size in [0, 1, 24, 4096, 12_345] {
            let l = layout(size, align);
            // SAFETY: a valid layout; the block is written whole, then freed with it.
            unsafe {
                let p = polled(t, || A.alloc_zeroed(l));
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "size {size} align {align}");
                assert!((0..size).all(|i| p.add(i).read() == 0), "zeroed");
                std::ptr::write_bytes(p, 0xa5, size);
                assert_eq!(live(t), (size as u64, 1));
                A.dealloc(p, l);
            }
            assert_eq!(live(t), (0, 0));
        }
    }
    release(t);
}

#[test]
fn huge_requests_fail_cleanly_and_change_nothing() {
    let t = task();
    for (size, align) in [
        (isize::MAX as usize - 8, 8),
        (isize::MAX as usize - 4096, 4096),
        (1 << 46, 16),
        (usize::MAX - 15, 1),
    ] {
        let Ok(l) = Layout::from_size_align(size, align) else {
            // Not a layout at all: the caller cannot ask.
            continue;
        };
        // SAFETY: a valid layout; a null answer is allowed.
        let p = polled(t, || unsafe { A.alloc(l) });
        assert!(p.is_null(), "{size} bytes");
        assert_eq!(live(t), (0, 0));
    }
    let b = polled(t, || alloc(64));
    // SAFETY: a block of `A`; growing it past any address space fails and leaves it whole.
    unsafe {
        let q = polled(t, || A.realloc(b.0, b.1, isize::MAX as usize - 4));
        assert!(q.is_null());
    }
    assert_eq!(live(t), (64, 1));
    free(b);
    release(t);
}

#[test]
fn what_an_ended_task_held_is_no_tasks_and_its_slot_starts_afresh() {
    let _serial = serial();
    let t = task();
    let kept = polled(t, || alloc(7777));
    let ended_before = left_by_ended_tasks();
    release(t);
    assert_eq!(live(t), (0, 0));
    let ended = left_by_ended_tasks();
    assert_eq!(ended.live_bytes, ended_before.live_bytes + 7777);
    assert_eq!(ended.live_allocs, ended_before.live_allocs + 1);
    // Whoever has the slot now is not credited for the old block. A slot is reused once
    // more than 64 are waiting, oldest first: free 100 behind it, then take until it comes.
    let behind: Vec<u32> = (0..100).map(|_| task()).collect();
    behind.into_iter().for_each(release);
    let mut slots = Vec::new();
    let reused = loop {
        let s = task();
        slots.push(s);
        if s == t || slots.len() > 1000 {
            break s;
        }
    };
    assert_eq!(reused, t, "slots are reused");
    let fresh = polled(t, || alloc(5));
    free(kept);
    assert_eq!(live(t), (5, 1));
    assert_eq!(left_by_ended_tasks(), ended_before);
    free(fresh);
    for s in slots {
        release(s);
    }
}

#[test]
fn many_threads_and_tasks_end_with_exact_counts() {
    let tasks: Vec<u32> = (0..8).map(|_| task()).collect();
    let handles: Vec<_> = (0..4)
        .map(|th| {
            let tasks = tasks.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..20_000usize {
                    let t = tasks[(i + th) % tasks.len()];
                    let b = polled(t, || alloc(i % 300));
                    // Every other block is freed at once, here, outside any poll.
                    if i % 2 == 0 {
                        free(b);
                    } else {
                        kept.push(b);
                    }
                }
                kept
            })
        })
        .collect();
    let kept: Vec<Block> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let total: u64 = tasks.iter().map(|&t| live(t).0).sum();
    let expected: u64 = kept.iter().map(|b| b.1.size() as u64).sum();
    assert_eq!(total, expected);
    let allocs: u64 = tasks.iter().map(|&t| live(t).1).sum();
    assert_eq!(allocs, kept.len() as u64);
    // Freed by other threads than those that allocated them.
    std::thread::spawn(move || kept.into_iter().for_each(free))
        .join()
        .unwrap();
    assert!(tasks.iter().all(|&t| live(t) == (0, 0)));
    tasks.into_iter().for_each(release);
}

#[test]
fn a_task_entered_on_two_threads_at_once_still_counts_exactly() {
    let t = task();
    enter(t);
    assert_ne!(
        current() & OWNED,
        0,
        "the first poller counts on the own word"
    );
    let theirs = std::thread::spawn(move || {
        polled(t, || {
            assert_eq!(current() & OWNED, 0, "a second one counts atomically");
            for _ in 0..1000 {
                free(alloc(10));
            }
            alloc(100)
        })
    })
    .join()
    .unwrap();
    let mine = alloc(50);
    exit();
    assert_eq!(live(t), (150, 2));
    free(theirs);
    free(mine);
    assert_eq!(live(t), (0, 0));
    // The right was given back at the end of the poll.
    assert!(
        std::thread::spawn(move || polled(t, || current() & OWNED != 0))
            .join()
            .unwrap()
    );
    release(t);
}

#[test]
fn a_poll_nested_in_another_gives_the_outer_tasks_right_back() {
    let (outer, inner) = (task(), task());
    enter(outer);
    let block = alloc(30);
    polled(inner, || free(alloc(1)));
    // The rest of the outer poll is no task's; its right is free for its next poll.
    assert_eq!(current(), 0);
    assert!(
        std::thread::spawn(move || polled(outer, || current() & OWNED != 0))
            .join()
            .unwrap()
    );
    assert_eq!(live(outer), (30, 1));
    free(block);
    assert_eq!(live(outer), (0, 0));
    release(outer);
    release(inner);
}

/// An inner allocator that checks what it is asked: every block given back with the layout it
/// was taken with, aligned at least to 8, and none left over.
struct Checked {
    live_bytes: std::sync::atomic::AtomicI64,
    live_blocks: std::sync::atomic::AtomicI64,
    /// Sum of (size * 31 + align) of the layouts taken, minus those given back.
    layouts: std::sync::atomic::AtomicI64,
}

// SAFETY: forwards to the system allocator with the same layouts.
unsafe impl GlobalAlloc for Checked {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        assert!(l.align() >= 8);
        self.live_bytes.fetch_add(l.size() as i64, Relaxed);
        self.live_blocks.fetch_add(1, Relaxed);
        self.layouts
            .fetch_add(l.size() as i64 * 31 + l.align() as i64, Relaxed);
        // SAFETY: the caller's layout.
        unsafe { std::alloc::System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        use std::sync::atomic::Ordering::Relaxed;
        self.live_bytes.fetch_sub(l.size() as i64, Relaxed);
        self.live_blocks.fetch_sub(1, Relaxed);
        self.layouts
            .fetch_sub(l.size() as i64 * 31 + l.align() as i64, Relaxed);
        // SAFETY: the caller's block and layout.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
}

#[test]
fn a_wrapped_allocator_gets_every_block_back_with_its_layout() {
    use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
    static WRAPPED: Allocator<Checked> = Allocator::new(Checked {
        live_bytes: AtomicI64::new(0),
        live_blocks: AtomicI64::new(0),
        layouts: AtomicI64::new(0),
    });
    let t = task();
    // SAFETY: blocks of WRAPPED with their current layouts, each freed once; realloc goes
    // through the trait's default (alloc, copy, dealloc) of the inner allocator.
    unsafe {
        let mut blocks = Vec::new();
        for (i, align) in [1, 8, 16, 128, 4096].into_iter().enumerate() {
            let l = layout(100 * i + 3, align);
            let p = polled(t, || WRAPPED.alloc(l));
            assert_eq!(p as usize % align, 0);
            blocks.push((p, l));
        }
        assert_eq!(live(t).1, 5);
        let (p, l) = blocks.pop().unwrap();
        let q = polled(t, || WRAPPED.realloc(p, l, 9000));
        blocks.push((q, layout(9000, l.align())));
        let inner = WRAPPED.inner.live_bytes.load(Relaxed) as u64;
        let charged = live(t).0;
        // The tag: 8 to 15 bytes a block.
        assert!(
            (charged + 5 * 8..=charged + 5 * 15).contains(&inner),
            "{inner} for {charged}"
        );
        for (p, l) in blocks {
            WRAPPED.dealloc(p, l);
        }
    }
    assert_eq!(live(t), (0, 0));
    assert_eq!(WRAPPED.inner.live_bytes.load(Relaxed), 0);
    assert_eq!(WRAPPED.inner.live_blocks.load(Relaxed), 0);
    assert_eq!(
        WRAPPED.inner.layouts.load(Relaxed),
        0,
        "each block back with its layout"
    );
    release(t);
}

/// What `each_task` reports of the slots of `ids`, by id.
fn reported(mark: bool, ids: &[(u32, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    each_task(mark, |id, s| {
        if ids.iter().any(|&(_, i)| i == id) {
            out.push((id, s.live_bytes));
        }
    });
    out.sort();
    out
}

#[test]
fn deltas_list_the_tasks_whose_heap_moved_and_a_full_state_every_task_holding_heap() {
    let _serial = serial();
    // Console ids no other test uses.
    let ids: Vec<(u32, u64)> = (0..3).map(|i| (task(), 1 << 40 | i)).collect();
    for &(slot, id) in &ids {
        set_owner(slot, id);
    }
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let ba = polled(a.0, || alloc(100));
    let bb = polled(b.0, || alloc(200));
    // A full state: every task holding heap, nothing marked.
    assert_eq!(reported(false, &ids), [(a.1, 100), (b.1, 200)]);
    // The first delta: what moved since the slots were taken.
    assert_eq!(reported(true, &ids), [(a.1, 100), (b.1, 200)]);
    assert_eq!(reported(true, &ids), [], "nothing moved");
    // b frees its block from another thread, c allocates: both in the next delta, a not.
    std::thread::spawn(move || free(bb)).join().unwrap();
    let bc = polled(c.0, || alloc(300));
    assert_eq!(reported(true, &ids), [(b.1, 0), (c.1, 300)]);
    // A full state skips the tasks holding nothing (b).
    assert_eq!(reported(false, &ids), [(a.1, 100), (c.1, 300)]);
    free(ba);
    free(bc);
    assert_eq!(reported(true, &ids), [(a.1, 0), (c.1, 0)]);
    // An ended task is no longer reported.
    for &(slot, _) in &ids {
        release(slot);
    }
    assert_eq!(reported(false, &ids), []);
    assert_eq!(reported(true, &ids), []);
}
