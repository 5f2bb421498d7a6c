//! The real `asyncmem top` in a real terminal: a pseudo-terminal read through a vt100 parser, and
//! tmux driven as a person would. One test binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

#[path = "../common/mod.rs"]
mod common;

mod dump_e2e;
mod heap_e2e;
mod tmux_e2e;
mod top_e2e;
