//! The heap a task holds (issue 15), end to end: real demos whose global allocator is
//! `asyncmem_probe::Allocator`, their tasks holding heap of sizes the demos fix, read through the
//! real `asyncmem snapshot --format json` (which follows the probe's `WatchHeap` stream); and a
//! console-subscriber target, whose heap asyncmem cannot know: null, never 0.

use std::time::{Duration, Instant};

use crate::cli::*;
use crate::common::*;
use serde_json::Value;

/// `asyncmem snapshot --addr` of `target` as JSON, once its task count has been still for 1 s.
fn snapshot(target: &Target) -> Value {
    settled_snapshot("--addr", &target.addr(), "30s")
}

/// The live tasks named `name`.
fn live_named<'a>(json: &'a Value, name: &str) -> Vec<&'a Value> {
    tasks(json)
        .iter()
        .filter(|t| t["name"] == name && t["state"] != "done")
        .collect()
}

/// The heap bytes of `tasks` (each one known: a panic names the task that is not).
fn heap_of(tasks: &[&Value]) -> Vec<u64> {
    tasks
        .iter()
        .map(|t| {
            t["heap_bytes"]
                .as_u64()
                .unwrap_or_else(|| panic!("heap not known: {t}"))
        })
        .collect()
}

/// Snapshots of `target` until `done` holds for one (the demo's clients still talking, the
/// heap stream a publish behind), or 30 s: the last one, for the caller's asserts.
fn snapshot_until(target: &Target, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let json = snapshot(target);
        if done(&json) || start.elapsed() > Duration::from_secs(30) {
            return json;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `conn-buffers`: each connection's handler holds a read buffer as large as the largest message
/// it read. 40 connections, one in 10 sent one 64 KiB message: 4 handlers hold exactly 65,536 B
/// in one block, the 36 others exactly the 200 B of their small messages; the sums per task, per
/// location and over the live tasks agree.
#[test]
fn idle_connections_hold_their_largest_message() {
    const N: usize = 40;
    const BIG: u64 = 64 * 1024;
    const SMALL: u64 = 200;
    let target = start_demo(
        "conn-buffers",
        &["--instrument", "probe", "-n", &N.to_string()],
    );
    let settled = |json: &Value| {
        let conns = live_named(json, "conn");
        conns.len() == N
            && conns
                .iter()
                .all(|t| [Some(BIG), Some(SMALL)].contains(&t["heap_bytes"].as_u64()))
    };
    let json = snapshot_until(&target, settled);
    let conns = live_named(&json, "conn");
    assert_eq!(conns.len(), N, "{json:#}");
    let heap = heap_of(&conns);
    let bigs = heap.iter().filter(|h| **h == BIG).count();
    let smalls = heap.iter().filter(|h| **h == SMALL).count();
    assert_eq!((bigs, smalls), (N / 10, N - N / 10), "conn heap: {heap:?}");
    for t in &conns {
        assert_eq!(t["heap_blocks"], 1, "one buffer: {t}");
        assert!(
            t["heap_peak_bytes"].as_u64() >= t["heap_bytes"].as_u64(),
            "{t}"
        );
        assert!(
            t["size_bytes"].as_u64().unwrap() < 1024,
            "a small future: {t}"
        );
    }
    // The location of the handlers sums them, mean and max beside.
    let at = conns[0]["location"].as_str().unwrap();
    let loc = json["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["location"] == at)
        .unwrap_or_else(|| panic!("no location {at}: {json:#}"));
    let sum = heap.iter().sum::<u64>();
    assert_eq!(loc["heap_bytes_sum"], sum, "{loc}");
    assert_eq!(loc["heap_bytes_max"], BIG, "{loc}");
    assert_eq!(loc["heap_bytes_mean"], sum / N as u64, "{loc}");
    // Over every live task: at least the handlers' buffers (the clients and accept hold their
    // sockets' registrations), and every live task's figure is known.
    let all: u64 = heap_of(
        &tasks(&json)
            .iter()
            .filter(|t| t["state"] != "done")
            .collect::<Vec<_>>(),
    )
    .iter()
    .sum();
    let live = &json["heap"]["live_tasks"];
    assert_eq!(live["bytes"], all, "{:#}", json["heap"]);
    assert!(all >= sum);
    assert!(
        json["heap"]["outside_tasks"]["bytes"].as_u64().unwrap() > 0,
        "{:#}",
        json["heap"]
    );
}

/// `fat-vs-slim` (lesson 2's bill in `demos/README.md`): the `boxed` handler's future is small,
/// its 16 KiB buffer is on the heap, where asyncmem now shows it; `fat` holds its buffer in the
/// future (tokio boxed it, in the spawner's poll: the spawner's heap), `slim` holds none.
#[test]
fn the_boxed_handler_holds_its_buffer_on_the_heap() {
    const N: usize = 50;
    const BUF: u64 = 16 * 1024;
    let target = start_demo(
        "fat-vs-slim",
        &["--instrument", "probe", "-n", &N.to_string()],
    );
    let json = snapshot_until(&target, |json| {
        live_named(json, "boxed")
            .iter()
            .all(|t| t["heap_bytes"].as_u64() == Some(BUF))
    });
    for variant in ["fat", "slim", "boxed"] {
        let tasks = live_named(&json, variant);
        assert_eq!(tasks.len(), N, "{variant}");
        let heap = heap_of(&tasks);
        let want = if variant == "boxed" { BUF } else { 0 };
        assert!(heap.iter().all(|h| *h == want), "{variant}: {heap:?}");
        if variant == "boxed" {
            for t in &tasks {
                assert_eq!(t["heap_blocks"], 1, "{t}");
                assert!(t["size_bytes"].as_u64().unwrap() < 1024, "{t}");
            }
        }
    }
    // tokio boxed each `fat` future in `spawn`, in the spawner's poll: `block_on` holds the
    // boxes, one block of the future's size each (and a few blocks of its own).
    let fat = live_named(&json, "fat")[0]["size_bytes"].as_u64().unwrap();
    let block_on: Vec<&Value> = tasks(&json)
        .iter()
        .filter(|t| t["kind"] == "block_on")
        .collect();
    assert_eq!(block_on.len(), 1);
    let (bytes, blocks) = (
        heap_of(&block_on)[0],
        block_on[0]["heap_blocks"].as_u64().unwrap(),
    );
    assert!(
        bytes >= N as u64 * fat && blocks >= N as u64,
        "{}",
        block_on[0]
    );
    assert!(bytes < N as u64 * (fat + 1024), "{}", block_on[0]);
}

/// Under console-subscriber the same demo (its allocator counting, but nobody serving the
/// figures) has no heap stream: every task's heap is null, and so are the totals.
#[test]
fn a_console_subscriber_target_shows_no_heap() {
    let target = start_demo(
        "conn-buffers",
        &["--instrument", "console-subscriber", "-n", "10"],
    );
    let json = snapshot(&target);
    assert_eq!(json["instrumentation"]["name"], "console-subscriber");
    assert!(!tasks(&json).is_empty());
    for t in tasks(&json) {
        assert!(t["heap_bytes"].is_null(), "{t}");
        assert!(t["heap_peak_bytes"].is_null(), "{t}");
    }
    assert!(json["heap"].is_null(), "{:#}", json["heap"]);
    for l in json["locations"].as_array().unwrap() {
        assert!(l["heap_bytes_sum"].is_null(), "{l}");
    }
}

/// `asyncmem record` follows the heap stream too: the recording read back by `snapshot --from`
/// holds the same figures a live snapshot shows (20 connections, 4 of them with the large
/// message).
#[test]
fn a_recording_replays_the_heap() {
    const N: usize = 20;
    let target = start_demo(
        "conn-buffers",
        &[
            "--instrument",
            "probe",
            "-n",
            &N.to_string(),
            "--big-every",
            "5",
        ],
    );
    let dir = std::env::temp_dir().join(format!("asyncmem-heap-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("heap.amrec");
    let rec = asyncmem()
        .args(["record", "--addr", &target.addr(), "--duration", "5s", "-o"])
        .arg(&file)
        .output()
        .expect("running asyncmem record");
    assert!(rec.status.success(), "record failed: {}", stderr_of(&rec));
    let out = asyncmem()
        .args(["snapshot", "--format", "json", "--from"])
        .arg(&file)
        .output()
        .unwrap();
    let json = json_of(&out);
    let _ = std::fs::remove_dir_all(&dir);
    let conns = live_named(&json, "conn");
    assert_eq!(conns.len(), N, "{json:#}");
    let mut heap = heap_of(&conns);
    heap.sort_unstable();
    let mut want = vec![200; N - N / 5];
    want.extend(vec![64 * 1024; N / 5]);
    assert_eq!(heap, want);
    assert!(json["heap"]["outside_tasks"]["bytes"].as_u64().unwrap() > 0);
}
