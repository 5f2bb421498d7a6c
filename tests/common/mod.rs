//! What both integration-test binaries share: the demo targets of `asyncmem-testkit`, found next
//! to the asyncmem binary under test (only integration tests know its path).

use std::path::{Path, PathBuf};

pub use asyncmem_testkit::{free_port, Target};

/// The asyncmem binary under test; the demos are built next to it.
pub const ASYNCMEM: &str = env!("CARGO_BIN_EXE_asyncmem");

/// The demo binary `name`, the demos built once per test run with the same profile as the tests.
pub fn demo_bin(name: &str) -> PathBuf {
    asyncmem_testkit::demo_bin(Path::new(ASYNCMEM), name)
}

/// Start demo `name` with `args`, its console on a free port, publishing every 100 ms.
pub fn start_demo(name: &str, args: &[&str]) -> Target {
    asyncmem_testkit::start_demo(&demo_bin(name), args)
}
