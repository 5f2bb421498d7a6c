//! Synthetic console-api messages for tests of the model and the UI: the builders of the
//! `asyncmem-testkit` dev crate, shared with the integration tests and the benches.

pub use asyncmem_testkit::synth::*;
