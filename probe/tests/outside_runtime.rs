//! `asyncmem_probe::init()` called outside any runtime, as `console_subscriber::init()` may be:
//! the tasks of a runtime built afterwards reach a console-api client, sizes included. A second
//! `init()` (a global subscriber is already set) says so on stderr and does not panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

#[test]
fn init_outside_a_runtime_serves_the_tasks_of_a_later_runtime() {
    let (probe, port) = common::probe_on_a_free_port();
    probe.init();
    // Already installed: reported, not a panic.
    asyncmem_probe::init();
    common::fifty_tasks_reach_a_watcher(port);
}
