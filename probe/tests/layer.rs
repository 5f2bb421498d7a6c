//! The probe as a layer (`Builder::spawn`) composed with tracing-subscriber's Registry and
//! another layer, as `console_subscriber::spawn()` is used: the tasks reach a console-api
//! client, sizes included.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

#[test]
fn the_layer_composed_with_a_registry_serves_the_tasks() {
    let (probe, port) = common::probe_on_a_free_port();
    common::install_as_layer(probe);
    common::fifty_tasks_reach_a_watcher(port);
}
