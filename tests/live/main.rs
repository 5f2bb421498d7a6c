//! The asyncmem CLI against live targets: real demo processes (under console-subscriber or the
//! probe), the real asyncmem binary, a real Prometheus. One test binary, one module per command
//! or concern.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

#[path = "../common/mod.rs"]
mod common;

mod cli;

mod demos;
mod dump;
mod grew;
mod heap;
mod lesson;
mod probe;
mod prometheus;
mod recording;
mod snapshot;
