//! The RSS-only `--demo` targets (`sleepers --instrument none`, `py-sleepers`) in a real
//! terminal.

use std::time::{Duration, Instant};

use asyncmem_testkit::pty::{CommandBuilder, Pty};

use crate::cli::{asyncmem, stderr_of};
use crate::common::ASYNCMEM;

fn gone_within(pid: u32, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `asyncmem top ARGS` in a real terminal.
fn top(args: &[&str]) -> Pty {
    let mut cmd = CommandBuilder::new(ASYNCMEM);
    cmd.arg("top");
    cmd.args(args);
    Pty::spawn(cmd)
}

/// The pid the header shows.
fn header_pid(screen: &str) -> u32 {
    let after = screen.split(" pid ").nth(1).expect("pid in the header");
    after
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a pid")
}

/// `top --demo NAME -- ARGS` in RSS-only mode with the demo's count; `q` stops the demo too.
fn rss_only_demo(name: &str, args: &[&str], tasks: u64) {
    let mut full = vec!["--demo", name, "--rss-interval", "200ms", "--"];
    full.extend_from_slice(args);
    let mut tui = top(&full);
    let reported = format!("/ {tasks} tasks the target reports");
    tui.wait_for(
        "RSS-only mode with a per-task figure",
        Duration::from_secs(60),
        |s| {
            s.contains("no console: RSS only")
                && s.contains("≈ bytes/task ")
                && s.contains(&reported)
        },
    );
    let screen = tui.text();
    // The demo's own lines (`pid=...`, `spawned tasks=...`) stay out of the TUI.
    assert!(!screen.contains("pid="), "{screen}");
    assert!(!screen.contains("spawned"), "{screen}");
    let line = screen
        .lines()
        .find(|l| l.contains("≈ bytes/task "))
        .unwrap()
        .to_string();
    let figure = line.split("≈ bytes/task ").nth(1).unwrap();
    assert!(!figure.starts_with('-'), "a positive figure: {line}");
    let demo = header_pid(&screen);
    tui.keys("q");
    assert_eq!(tui.wait_exit(Duration::from_secs(10)), 0);
    assert!(
        gone_within(demo, Duration::from_secs(3)),
        "demo {demo} still runs"
    );
}

#[test]
fn demo_sleepers_without_instrumentation_runs_in_rss_only_mode() {
    rss_only_demo("sleepers", &["--instrument", "none", "-n", "2000"], 2004);
}

#[test]
fn demo_py_sleepers_runs_in_rss_only_mode_and_stops_on_quit() {
    rss_only_demo("py-sleepers", &["-n", "2000"], 2000);
}

#[test]
fn snapshot_of_a_demo_without_console_says_so() {
    let out = asyncmem()
        .args([
            "snapshot",
            "--demo",
            "sleepers",
            "--",
            "--instrument",
            "none",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("no tokio console endpoint"), "{err}");
    assert!(
        err.contains("the demo runs without a console endpoint"),
        "{err}"
    );
}
