//! `asyncmem lesson idle-tasks` against the real demos and the real python3, and the RSS-only
//! `--demo` targets (`sleepers --instrument none`, `py-sleepers`) in a real terminal.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use asyncmem_testkit::pty::{CommandBuilder, Pty};

use crate::cli::{asyncmem, json_of, stderr_of};
use crate::common::ASYNCMEM;

const ROW_IDS: [&str; 5] = [
    "tokio-none",
    "tokio-probe",
    "tokio-console-subscriber",
    "asyncio-tasks",
    "python-bare-coroutines",
];

fn row<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    crate::cli::entry(json, "rows", "id", id)
}

fn per_task(json: &serde_json::Value, id: &str) -> f64 {
    row(json, id)["per_task_bytes"]
        .as_f64()
        .unwrap_or_else(|| panic!("{id}: no per-task figure in {json:#}"))
}

#[test]
fn idle_tasks_measures_every_row_the_same_way() {
    let out = asyncmem()
        .args(["lesson", "idle-tasks", "-n", "1000", "--format", "json"])
        .output()
        .unwrap();
    let json = json_of(&out);
    assert_eq!(json["lesson"], "idle-tasks");
    assert_eq!(json["tasks"], 1000);
    assert!(
        json["claim"].as_str().unwrap().contains("45-50 MB"),
        "{json:#}"
    );
    let ids: Vec<&str> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ROW_IDS);
    for id in ROW_IDS {
        let r = row(&json, id);
        assert!(r["error"].is_null(), "{id}: {r:#}");
        assert_eq!(r["tasks"], 1000, "{id}");
        let before = r["baseline_rss_bytes"].as_u64().unwrap();
        let after = r["settled_rss_bytes"].as_u64().unwrap();
        assert!(before > 0 && after > before, "{id}: {r:#}");
        let per = per_task(&json, id);
        assert!(per > 0.0, "{id}: {r:#}");
        assert_eq!(r["per_100k_bytes"].as_f64().unwrap(), per * 100_000.0);
        assert!(r["spawn_seconds"].as_f64().unwrap() >= 0.0);
        assert!(r["claim"].is_string(), "{id}");
    }
    // console-subscriber's two histograms per task dwarf the task itself, probe or not.
    let console = per_task(&json, "tokio-console-subscriber");
    assert!(console > per_task(&json, "tokio-probe"), "{json:#}");
    assert!(console > per_task(&json, "tokio-none"), "{json:#}");
    // A Task and its timer cost more than the coroutine object alone.
    assert!(per_task(&json, "asyncio-tasks") > per_task(&json, "python-bare-coroutines"));
    // Progress went to stderr, one step per row.
    let progress = stderr_of(&out);
    for step in ["[1/5]", "[5/5]", "baseline", "with the tasks"] {
        assert!(progress.contains(step), "{step} missing in {progress}");
    }
}

#[test]
fn idle_tasks_console_row_tracks_every_task_of_the_burst() {
    // A tiny inherited event buffer (64 events) would make console-subscriber drop most of the
    // 2,000 spawns, and a dropped spawn is a task it never tracks (30 KB a task measured here,
    // not 53 KB): the row sizes the buffer to the burst over it, so every task is tracked.
    let out = asyncmem()
        .args(["lesson", "idle-tasks", "-n", "2000", "--format", "json"])
        .env("TOKIO_CONSOLE_BUFFER_CAPACITY", "64")
        .output()
        .unwrap();
    let json = json_of(&out);
    let r = row(&json, "tokio-console-subscriber");
    let buffer = r["subscriber_event_buffer"].as_u64().unwrap();
    assert!(buffer >= 16 * 2000, "{r:#}");
    let estimate = asyncmem::insight::fit::CONSOLE_SUBSCRIBER_BYTES_PER_TASK as f64;
    let per = per_task(&json, "tokio-console-subscriber");
    assert!(
        per > 0.9 * estimate,
        "{per} B per task under a {buffer}-event buffer: {r:#}"
    );
    // Only that row runs console-subscriber.
    for id in ["tokio-none", "tokio-probe", "asyncio-tasks"] {
        assert!(
            row(&json, id).get("subscriber_event_buffer").is_none(),
            "{id}"
        );
    }
}

#[test]
fn idle_tasks_without_python3_says_so_and_measures_the_rest() {
    // PATH without python3: the Python rows say why; the tokio demos are found next to asyncmem.
    let out = asyncmem()
        .args(["lesson", "idle-tasks", "-n", "500"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(13), "{}", stderr_of(&out));
    let table = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        table.contains("The claim: \"Tokio: hundreds of KB"),
        "{table}"
    );
    assert!(
        table.contains("tokio (the claim: hundreds of KB - few MB per 100k)"),
        "{table}"
    );
    assert!(
        table.contains("Python (the claim: ~45-50 MB per 100k)"),
        "{table}"
    );
    let line = |label: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("  {label}")))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{table}"))
            .to_string()
    };
    for label in [
        "no instrumentation",
        "under asyncmem-probe",
        "under console-subscriber",
    ] {
        let l = line(label);
        assert!(
            l.contains(" B ") && (l.ends_with(" MB") || l.ends_with(" GB")),
            "{l}"
        );
    }
    for (label, long) in [
        ("asyncio, a Task each", "Python asyncio, a Task each"),
        ("bare coroutines", "Python, bare coroutines"),
    ] {
        assert!(line(label).trim_end().ends_with(" -"), "{}", line(label));
        assert!(
            table.contains(&format!("note: {long}")) && table.contains("python3 is not installed"),
            "{table}"
        );
    }
    let mut body = table.lines().take_while(|l| !l.starts_with("The claim"));
    assert!(
        body.all(|l| l.chars().count() <= 80),
        "wider than 80 columns:\n{table}"
    );
    let err = stderr_of(&out);
    assert!(
        err.contains("2 of 5 rows could not be measured: asyncio-tasks, python-bare-coroutines"),
        "{err}"
    );
}

/// The pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so count from the last ')'.
        let after = &stat[stat.rfind(')').unwrap() + 1..];
        if after.split_whitespace().nth(1) == Some(&parent.to_string()) {
            kids.push(pid);
        }
    }
    kids
}

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

#[test]
fn interrupting_the_lesson_kills_and_reaps_its_child() {
    let mut lesson = Command::new(ASYNCMEM)
        .args(["lesson", "idle-tasks", "-n", "1000", "--settle", "30s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let kid = loop {
        if let Some(kid) = children_of(lesson.id()).first() {
            break *kid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no child started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // The child is settling its baseline (30 s): interrupt the lesson meanwhile.
    std::thread::sleep(Duration::from_millis(500));
    let sent = Command::new("kill")
        .args(["-INT", &lesson.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = lesson.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // Reaped by asyncmem before it exited: not even a zombie is left.
    assert!(gone_within(kid, Duration::from_secs(2)), "child {kid} left");
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
