//! `asyncmem snapshot` against real instrumented child processes, and every kind of bad input
//! against a real process.

use std::process::{Command, Stdio};

use crate::cli::*;
use crate::common::*;
use serde_json::Value;

const N: usize = 200;

fn check_sleepers_picture(json: &Value, target: &Target) {
    assert_eq!(json["pid"], target.pid);
    assert_eq!(json["endpoint"], target.addr());
    assert!(json["rss_bytes"].as_u64().unwrap() > 0);
    let live = json["live_tasks"].as_u64().unwrap();
    assert!(live >= N as u64 + 4, "live tasks {live} < {}", N + 4);
    // The holders of 4096 bytes: every `sleeper` spawned at the sleepers' spawn site.
    let holders: Vec<&Value> = sleepers_holders(json);
    assert!(holders.len() >= N, "only {} holders", holders.len());
    for t in &holders {
        let size = t["size_bytes"].as_u64().expect("a size");
        assert!(size >= 4096, "a 4096-byte holder reports {size}");
        assert_eq!(t["state"], "idle", "{t}");
        assert!(t["task_id"].as_u64().is_some());
        assert!(t["polls"].as_u64().unwrap() >= 1);
    }
    for name in ["tiny", "kilobyte", "sixteen-k", "boxed-32k"] {
        let t = named(json, name);
        assert_eq!(t["state"], "idle");
        assert!(t["location"].as_str().unwrap().contains("sleepers.rs"));
    }
    let boxed = named(json, "boxed-32k");
    assert_eq!(boxed["boxed"], true);
    assert!(boxed["size_bytes"].as_u64().unwrap() >= 32 * 1024);
    let tiny = named(json, "tiny");
    assert_eq!(tiny["boxed"], false);
    assert!(tiny["size_bytes"].as_u64().unwrap() < 1024);
    // Sorted by size: the boxed 32 KiB future comes first.
    assert_eq!(tasks(json)[0]["name"], "boxed-32k");
    assert_no_warnings(json, "sleepers");
}

#[test]
fn snapshot_by_pid_shows_tasks_sizes_states_and_rss() {
    let target = start_demo("sleepers", &["-n", &N.to_string(), "-b", "4096"]);
    let json = settled_snapshot("--pid", &target.pid.to_string(), "30s");
    check_sleepers_picture(&json, &target);
}

#[test]
fn snapshot_by_addr_finds_the_pid_back() {
    let target = start_demo("sleepers", &["-n", &N.to_string(), "-b", "4096"]);
    let json = settled_snapshot("--addr", &target.addr(), "30s");
    check_sleepers_picture(&json, &target);
}

#[test]
fn table_is_for_people() {
    let target = start_demo("sleepers", &["-n", "50", "-b", "1024"]);
    let out = asyncmem()
        .args([
            "snapshot",
            "--pid",
            &target.pid.to_string(),
            "--settle",
            "1s",
            "--limit",
            "5",
        ])
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(&format!("pid {}", target.pid)), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("memory: RSS")), "{text}");
    let header = lines
        .iter()
        .position(|l| l.contains("STATE") && l.contains("SIZE"))
        .expect("header");
    // The largest future first, with the boxed marker and human units.
    assert!(
        lines[header + 1].contains("boxed-32k") && lines[header + 1].contains("KiB*"),
        "{text}"
    );
    for l in &lines[header..header + 6] {
        assert!(l.chars().count() <= 100, "line wider than COLUMNS: {l:?}");
    }
    assert!(text.contains("more tasks"), "{text}");
}

fn run_fail(args: &[&str]) -> (i32, String) {
    let out = asyncmem().args(args).output().expect("running asyncmem");
    let err = stderr_of(&out);
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout on failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!err.contains("panicked"), "{err}");
    (out.status.code().expect("an exit code, not a signal"), err)
}

#[test]
fn no_such_pid() {
    let mut pid = 4_000_000;
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        pid += 1;
    }
    let (code, err) = run_fail(&["snapshot", "--pid", &pid.to_string()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&format!("no process with pid {pid}")), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn process_without_console_says_how_to_instrument() {
    let mut sleep = Command::new("sleep").arg("30").spawn().unwrap();
    let (code, err) = run_fail(&["snapshot", "--pid", &sleep.id().to_string()]);
    let _ = sleep.kill();
    let _ = sleep.wait();
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("console_subscriber::init()"), "{err}");
    assert!(
        err.contains("asyncmem_probe::init()"),
        "the lean probe is the advice: {err}"
    );
    assert!(
        err.contains("tokio_unstable") && err.contains("tracing"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn uninstrumented_tokio_process_has_no_console() {
    let target = start_demo("sleepers", &["-n", "10", "--instrument", "none"]);
    let (code, err) = run_fail(&[
        "snapshot",
        "--pid",
        &target.pid.to_string(),
        "--connect-timeout",
        "2s",
    ]);
    assert_eq!(code, 4, "{err}");
}

#[test]
fn plain_tcp_listener_is_not_a_console() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and answer like a plain text service would.
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            use std::io::Write;
            let mut conn = conn;
            let _ = conn.write_all(b"hello, I am not gRPC\r\n");
        }
    });
    let (code, err) = run_fail(&[
        "snapshot",
        "--addr",
        &format!("http://127.0.0.1:{port}"),
        "--connect-timeout",
        "2s",
    ]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("is not a tokio console endpoint"), "{err}");
}

#[test]
fn silent_listener_is_not_a_console_and_does_not_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(2).flatten().collect();
        std::thread::sleep(std::time::Duration::from_secs(5));
        drop(conns);
    });
    let started = std::time::Instant::now();
    let (code, err) = run_fail(&[
        "snapshot",
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--connect-timeout",
        "1s",
    ]);
    assert_eq!(code, 5, "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "bounded by --connect-timeout"
    );
    drop(held);
}

#[test]
fn closed_port_is_unreachable() {
    let port = free_port();
    let (code, err) = run_fail(&["snapshot", "--addr", &format!("http://127.0.0.1:{port}")]);
    assert_eq!(code, 8, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn bad_address_is_a_usage_error() {
    let (code, err) = run_fail(&["snapshot", "--addr", "not an address"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad address"), "{err}");
}

#[test]
fn exited_target_is_reported() {
    // A child that has exited but is not reaped yet: a zombie, gone for asyncmem's purposes.
    let mut child = Command::new("true").stdout(Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, err) = run_fail(&["snapshot", "--pid", &child.id().to_string()]);
    let _ = child.wait();
    assert_eq!(code, 7, "{err}");
    assert!(err.contains("exited"), "{err}");
}

#[test]
fn target_exiting_before_the_first_picture_is_reported() {
    // The demo exits while asyncmem waits for its console: attach races the exit, and every
    // outcome must be a clean "exited" (7), never a hang or a panic.
    let target = start_demo("sleepers", &["-n", "10", "--exit-after", "200ms"]);
    std::thread::sleep(std::time::Duration::from_millis(400));
    let (code, err) = run_fail(&["snapshot", "--pid", &target.pid.to_string()]);
    assert_eq!(code, 7, "{err}");
}

#[test]
fn permission_denied_on_proc_fd() {
    // Needs root to start a process that a dropped-privilege asyncmem may not inspect.
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !is_root || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv");
        return;
    }
    let target = start_demo("sleepers", &["-n", "10"]);
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_asyncmem"))
        .args(["snapshot", "--pid", &target.pid.to_string()])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn help_documents_exit_codes() {
    assert_help_names(
        "snapshot",
        &[
            "Exit codes:",
            "3    no such process",
            "4    the process has no tokio console endpoint",
            "--format",
            "--wait",
        ],
    );
}
