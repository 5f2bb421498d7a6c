//! The heap scenario of `common/heap.rs` with the probe as a layer (`Builder::spawn`) on
//! tracing-subscriber's Registry beside a `fmt` layer: polls are seen through the layer's
//! enter and exit, spawns through `on_new_span`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

#[test]
fn the_layer_counts_the_heap_of_tasks_too() {
    let (probe, port) = common::probe_on_a_free_port();
    common::install_as_layer(probe);
    // The Registry stores the children's spans before the probe's hook sees them, so the
    // growth of its span slab (a few blocks, amortized: 4,648 B in 4 blocks for 20 spawns
    // when written) is the spawner's; the children's cells (512 B each) must not be.
    common::heap::tasks_holding_heap_are_seen_holding_it_and_then_freeing_it(port, 20 * 512);
}
