//! Helper processes of the suites: the workspace's binaries built once per test process, and
//! started so that their first line of stdout says they are ready.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};

/// The binary `name` of the workspace package `package`, next to `next_to`, after building the
/// package's binaries once per process (with the default profile, as `cargo test` builds the
/// tests).
pub fn package_bin(next_to: &Path, package: &str, name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if !built.iter().any(|p| p == package) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", package, "--bins"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building {package} failed");
        built.push(package.to_string());
    }
    next_to.with_file_name(name)
}

/// Start `cmd` with stdin closed, stdout piped and stderr dropped, and read the first line it
/// prints (a helper's address, a demo's `pid=` line: what it says once it is ready). `what`
/// names it in a failure.
pub fn spawn_ready(cmd: &mut Command, what: &str) -> (Child, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("reading the first line of {what}: {e}"));
    (child, line)
}
