//! A real probe target with `asyncmem_probe::Allocator` as its global allocator (as every
//! test binary that uses `common`), the probe installed by `init()`: the heap scenario of
//! `common/heap.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

#[test]
fn tasks_holding_heap_are_seen_holding_it_and_then_freeing_it() {
    let (probe, port) = common::probe_on_a_free_port();
    probe.init();
    common::heap::tasks_holding_heap_are_seen_holding_it_and_then_freeing_it(port, 256);
}
