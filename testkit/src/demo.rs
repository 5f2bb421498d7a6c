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

/// The demo binary `name` built with the demos' `taskdump` feature (asyncmem-probe serving task
/// dumps), debug or `release`, in a target directory of its own (`taskdump`, beside `next_to`'s
/// profile directory) so that the workspace's own build keeps the feature off; built once per
/// process, name and profile.
pub fn taskdump_demo_bin(next_to: &Path, name: &str, release: bool) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, bool)>> = std::sync::Mutex::new(Vec::new());
    let dir = next_to
        .parent()
        .and_then(Path::parent)
        .expect("a binary inside target/PROFILE")
        .join("taskdump");
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !built.iter().any(|(n, r)| n == name && *r == release) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "asyncmem-demos", "--bin", name])
            .args(["--features", "taskdump", "--target-dir"])
            .arg(&dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "building the demos with taskdump failed");
        built.push((name.to_string(), release));
    }
    dir.join(if release { "release" } else { "debug" })
        .join(name)
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
