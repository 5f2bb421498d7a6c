//! `--demo`: start a bundled demo workload as a child process, attach to it, stop it on exit.
//!
//! A demo says on its first line of stdout where it stands: `pid=P console=URL|none
//! instrument=I`; a later line with `tasks=N` says how many tasks it holds (RSS-only mode turns
//! that into a per-task figure). Its stdout is read to the end by a thread of its own, its
//! stderr goes nowhere: nothing a demo prints reaches the screen of the TUI.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::AttachError;
use crate::source::console::{self, Attached, ConsoleConfig};
use crate::source::{alive, rss, Endpoint};

/// The tokio demos: binaries built next to asyncmem.
pub const DEMOS: &[&str] = &[
    "sleepers",
    "fat-vs-slim",
    "spike",
    "leak",
    "busy",
    "layers",
    "cache-outside",
    "conn-buffers",
];

/// The Python demos: scripts compiled into asyncmem, run by `python3 -c`.
pub const PY_DEMOS: &[(&str, &str)] =
    &[("py-sleepers", include_str!("../demos/python/sleepers.py"))];

/// The interpreter of the Python demos (looked up on PATH).
pub const PYTHON: &str = "python3";

/// How long a demo may take to print its start-up line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running demo child; killed and reaped on drop.
pub struct Demo {
    child: Child,
    /// `None`: the demo runs without a console endpoint (`--instrument none`, Python).
    endpoint: Option<Endpoint>,
    reported: watch::Receiver<Option<Reported>>,
}

/// What a demo says it holds: `tasks=N` on its stdout, and the RSS read when it announced
/// itself, before its workload started (if it could be read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reported {
    pub tasks: u64,
    pub baseline_rss_bytes: Option<u64>,
}

/// Every demo name, for messages.
fn all_names() -> String {
    DEMOS
        .iter()
        .copied()
        .chain(PY_DEMOS.iter().map(|(name, _)| *name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tokio demo binaries are built next to asyncmem (same cargo target directory).
fn demo_path(name: &str) -> Result<PathBuf, AttachError> {
    let exe = std::env::current_exe().map_err(|e| AttachError::Unreachable {
        endpoint: name.to_string(),
        detail: e.to_string(),
    })?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        return Err(AttachError::Unreachable {
            endpoint: path.display().to_string(),
            detail: "demo not built: run `cargo build --release --workspace` first".into(),
        });
    }
    Ok(path)
}

/// The command that runs demo `name` (its own flags still to add), and whether it is a
/// tokio demo (which takes `--console-bind`).
pub fn command(name: &str) -> Result<(Command, bool), AttachError> {
    if let Some((_, script)) = PY_DEMOS.iter().find(|(n, _)| *n == name) {
        let mut cmd = Command::new(PYTHON);
        cmd.args(["-c", script]);
        return Ok((cmd, false));
    }
    if !DEMOS.contains(&name) {
        return Err(AttachError::UnknownDemo {
            name: name.to_string(),
            list: all_names(),
        });
    }
    Ok((Command::new(demo_path(name)?), true))
}

/// Why a demo's program did not start, said for a person: `python3` missing is the common one.
pub fn spawn_error(program: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound && program == PYTHON {
        format!("{PYTHON} is not installed or not on PATH ({e}): the Python demos need it")
    } else {
        e.to_string()
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `tasks=N` in a demo's line.
pub fn tasks_in(line: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix("tasks="))
        .and_then(|n| n.parse().ok())
}

/// Read a demo's stdout to its end: the first line goes to `first` (with the RSS read right
/// after it arrived), each `tasks=N` to `reported`.
fn read_stdout(
    stdout: ChildStdout,
    pid: i32,
    first: std_mpsc::Sender<String>,
    reported: watch::Sender<Option<Reported>>,
) {
    let mut baseline = None;
    for (i, line) in BufReader::new(stdout).lines().enumerate() {
        let Ok(line) = line else { return };
        if i == 0 {
            baseline = rss::read(pid).map(|s| s.rss_bytes);
            let _ = first.send(line.clone());
        }
        if let Some(tasks) = tasks_in(&line) {
            let _ = reported.send(Some(Reported {
                tasks,
                baseline_rss_bytes: baseline,
            }));
        }
    }
}

impl Demo {
    pub fn start(name: &str, args: &[String]) -> Result<Demo, AttachError> {
        let (mut cmd, tokio_demo) = command(name)?;
        let program = cmd.get_program().to_string_lossy().into_owned();
        let fail = |detail: String| AttachError::Unreachable {
            endpoint: format!("demo {name}"),
            detail,
        };
        let port = free_port().map_err(|e| fail(e.to_string()))?;
        if tokio_demo {
            cmd.args(["--console-bind", &format!("127.0.0.1:{port}")]);
        }
        let mut child = cmd
            .args(args)
            // Absorb task events ten times faster than the default 1 s tick.
            .env("TOKIO_CONSOLE_PUBLISH_INTERVAL", "100ms")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(spawn_error(&program, &e)))?;
        let pid = child.id() as i32;
        let (first_tx, first_rx) = std_mpsc::channel();
        let (reported_tx, reported) = watch::channel(None);
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || read_stdout(stdout, pid, first_tx, reported_tx));
        }
        let mut demo = Demo {
            child,
            endpoint: None,
            reported,
        };
        // The demo prints `pid=... console=...` once its endpoint is set up (or none).
        let first = match first_rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                return Err(AttachError::TargetExited(pid));
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                return Err(AttachError::Timeout {
                    what: format!("waiting for demo {name} to start"),
                    after: START_TIMEOUT,
                });
            }
        };
        let without_console = first.split_whitespace().any(|w| w == "console=none");
        if tokio_demo && !without_console {
            demo.endpoint = Some(Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port,
            });
        }
        Ok(demo)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Whether the demo serves a console endpoint (not with `--instrument none`, nor Python).
    pub fn has_console(&self) -> bool {
        self.endpoint.is_some()
    }

    /// What the demo says it holds, as it says it.
    pub fn reported(&self) -> watch::Receiver<Option<Reported>> {
        self.reported.clone()
    }

    /// Attach once the demo's server is up (it binds shortly after start).
    pub async fn attach(&self, cfg: &ConsoleConfig) -> Result<Attached, AttachError> {
        let Some(endpoint) = &self.endpoint else {
            return Err(AttachError::NoConsole {
                pid: self.pid(),
                tried: "none: the demo runs without a console endpoint".into(),
            });
        };
        let deadline = Instant::now() + cfg.connect_timeout;
        loop {
            match console::attach(endpoint, cfg).await {
                Ok(a) => return Ok(a),
                Err(e) => {
                    if !alive(self.pid()) {
                        return Err(AttachError::TargetExited(self.pid()));
                    }
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demo_line_says_its_tasks() {
        assert_eq!(tasks_in("spawned tasks=10004"), Some(10004));
        assert_eq!(
            tasks_in("pid=1 console=none instrument=none tasks=7"),
            Some(7)
        );
        assert_eq!(tasks_in("pid=1 console=none instrument=none"), None);
        assert_eq!(tasks_in("tasks=lots"), None);
    }

    #[test]
    fn an_unknown_demo_lists_the_python_ones_too() {
        let Err(AttachError::UnknownDemo { list, .. }) = command("nope") else {
            panic!("nope is not a demo")
        };
        assert!(
            list.contains("sleepers") && list.contains("py-sleepers"),
            "{list}"
        );
    }
}
