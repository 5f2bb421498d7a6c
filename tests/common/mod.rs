//! Shared test plumbing: build and start real demo targets, run the real asyncmem binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// The demo binaries, built once per test run with the same profile as the tests.
pub fn demo_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "asyncmem-demos", "--bins"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build for the demos");
        assert!(status.success(), "building the demos failed");
    });
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_asyncmem"));
    exe.with_file_name(name)
}

pub fn asyncmem() -> Command {
    Command::new(env!("CARGO_BIN_EXE_asyncmem"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running demo target, killed and reaped on drop.
pub struct Target {
    pub child: Child,
    pub pid: i32,
    pub port: u16,
}

impl Target {
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

/// Start demo `name` with `args`, its console on a free port, publishing every 100 ms.
pub fn start_demo(name: &str, args: &[&str]) -> Target {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut child = Command::new(demo_bin(name))
        .args(["--console-bind", &bind])
        .args(args)
        .env("TOKIO_CONSOLE_PUBLISH_INTERVAL", "100ms")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the demo");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("reading the demo's first line");
    assert!(line.starts_with("pid="), "unexpected demo output {line:?}");
    let pid = child.id() as i32;
    Target { child, pid, port }
}

pub fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "asyncmem failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `asyncmem snapshot FLAG VALUE --format json`, once the live task count has been still for
/// 1 s (giving up on the first update after `timeout`, e.g. "30s").
pub fn settled_snapshot(flag: &str, value: &str, timeout: &str) -> serde_json::Value {
    let out = asyncmem()
        .args([
            "snapshot",
            flag,
            value,
            "--format",
            "json",
            "--settle",
            "1s",
            "--timeout",
            timeout,
        ])
        .output()
        .expect("running asyncmem");
    json_of(&out)
}

pub fn tasks(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["tasks"].as_array().expect("tasks array")
}

pub fn named<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    tasks(json)
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task named {name} in {json:#}"))
}
