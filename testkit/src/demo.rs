//! Real demo targets (the `asyncmem-demos` binaries): built once per test process, started on a
//! free console port, killed and reaped on drop.
//!
//! The demos are looked up next to a binary of the same cargo target directory and profile
//! (`next_to`): integration tests pass `env!("CARGO_BIN_EXE_asyncmem")`, which only they have.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::process::{package_bin, spawn_ready};

/// The demo binary `name` next to `next_to`, after building the demos once per process (with
/// the default profile, as `cargo test` builds the tests).
pub fn demo_bin(next_to: &Path, name: &str) -> PathBuf {
    package_bin(next_to, "asyncmem-demos", name)
}

/// A running demo target, killed and reaped on drop.
pub struct Target {
    pub child: Child,
    pub pid: i32,
    pub port: u16,
}

impl Target {
    /// The console endpoint, as asyncmem's `--addr` takes it.
    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo binary `bin` with `args`, its console on 127.0.0.1:`port`, publishing every 100 ms.
pub fn demo_command(bin: &Path, port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["--console-bind", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("TOKIO_CONSOLE_PUBLISH_INTERVAL", "100ms");
    cmd
}

/// Start the demo binary `bin` (see [`demo_bin`]) with `args`, its console on a free port,
/// publishing every 100 ms; returns once the demo has printed its `pid=` line.
pub fn start_demo(bin: &Path, args: &[&str]) -> Target {
    let port = crate::free_port();
    // The tests were written against console-subscriber, the demos' default before the probe:
    // they keep it unless they choose (`--instrument probe|none`).
    let default_instrument: &[&str] = if args.contains(&"--instrument") {
        &[]
    } else {
        &["--instrument", "console-subscriber"]
    };
    let (child, line) = spawn_ready(
        demo_command(bin, port, default_instrument).args(args),
        "the demo",
    );
    assert!(line.starts_with("pid="), "unexpected demo output {line:?}");
    let pid = child.id() as i32;
    Target { child, pid, port }
}
