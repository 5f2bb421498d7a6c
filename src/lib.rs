//! asyncmem: profile the suspended tasks of a live tokio process.
//!
//! Data flows one way: [`source`] (console stream, procfs sampler, discovery) produces
//! [`model::Event`]s; the [`model`] keeps the picture; [`output`] (and the TUI) read it.
//! [`cmd`] runs each command on top of them: [`session`] wires a target's sources, [`signal`]
//! says when to stop, and an [`error::Failure`] is what `main` prints and exits with.

pub mod cli;
pub mod cmd;
pub mod demo;
pub mod error;
pub mod insight;
pub mod layout;
pub mod malloc;
pub mod model;
pub mod output;
pub mod present;
pub mod recording;
pub mod session;
pub mod signal;
pub mod source;
pub mod ui;
