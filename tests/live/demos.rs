//! Each teaching demo, run briefly as a real child process under the instrumentation its lesson
//! uses (asyncmem-probe, the demos' default; console-subscriber where a lesson contrasts it),
//! shows through the real `asyncmem snapshot` the shape and the relations its lesson in
//! `demos/README.md` states: the names it talks about, the locations it explains, and the
//! figures it quotes as bounds, never as measured numbers.

use std::time::{Duration, Instant};

use crate::cli::*;
use crate::common::*;
use serde_json::Value;

/// Demo `name` under `instrument` (`probe` or `console-subscriber`), with `args`.
fn demo(name: &str, instrument: &str, args: &[&str]) -> Target {
    let mut all = vec!["--instrument", instrument];
    all.extend_from_slice(args);
    start_demo(name, &all)
}

/// `asyncmem snapshot --addr TARGET --format json` and `args`, run, its JSON.
fn snapshot_json(addr: &str, args: &[&str]) -> Value {
    let out = asyncmem()
        .args(["snapshot", "--addr", addr, "--format", "json"])
        .args(args)
        .output()
        .expect("running asyncmem");
    json_of(&out)
}

fn snapshot(target: &Target, extra: &[&str]) -> Value {
    let mut args = vec!["--timeout", "30s"];
    args.extend_from_slice(extra);
    snapshot_json(&target.addr(), &args)
}

fn live(json: &Value) -> u64 {
    json["live_tasks"].as_u64().unwrap()
}

fn tasks(json: &Value) -> &Vec<Value> {
    json["tasks"].as_array().unwrap()
}

/// The live tasks named `name`.
fn named<'a>(json: &'a Value, name: &str) -> Vec<&'a Value> {
    tasks(json)
        .iter()
        .filter(|t| t["name"] == name && t["state"] != "done")
        .collect()
}

fn has_lint(task: &Value, lint: &str) -> bool {
    task["lints"].as_array().unwrap().iter().any(|l| l == lint)
}

/// The line (1-based) of the one line of `source` that contains `needle`.
fn line_of(source: &str, needle: &str) -> usize {
    let lines: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{needle:?} on lines {lines:?}");
    lines[0]
}

/// Every location of the snapshot is a line of the demo's own file `bin` (none in the demos'
/// shared lib.rs: its spawn helper and `run` pass their caller's location on), and the
/// `block_on` task is at the demo's `.run(` line, as the lessons explain.
fn locations_are_the_demos_own(json: &Value, bin: &str, source: &str) {
    let file = format!("demos/src/bin/{bin}");
    for l in json["locations"].as_array().unwrap() {
        let loc = l["location"].as_str().unwrap();
        assert!(loc.contains(&file), "a location outside {file}: {l}");
    }
    let block_on: Vec<&Value> = tasks(json)
        .iter()
        .filter(|t| t["kind"] == "block_on")
        .collect();
    assert_eq!(block_on.len(), 1, "{block_on:#?}");
    let run = line_of(source, ".run(async move");
    let at = block_on[0]["location"].as_str().unwrap();
    assert!(at.contains(&format!("{file}:{run}:")), "block_on at {at}");
}

const FAT_VS_SLIM: &str = include_str!("../../demos/src/bin/fat-vs-slim.rs");
const BUF: f64 = 16.0 * 1024.0;

/// Lesson 2: three named variants, each at its own spawn line; only `fat` holds the 16 KiB in
/// its future (and tokio boxed it); the fourth location is the demo's `block_on`.
#[test]
fn fat_vs_slim_holds_the_buffer_only_in_the_fat_handler() {
    let target = demo("fat-vs-slim", "probe", &["-n", "100"]);
    let json = snapshot(&target, &["--settle", "1s"]);
    assert_eq!(json["instrumentation"]["name"], "asyncmem-probe");
    locations_are_the_demos_own(&json, "fat-vs-slim.rs", FAT_VS_SLIM);
    assert_eq!(json["locations"].as_array().unwrap().len(), 4, "{json:#}");
    for variant in ["fat", "slim", "boxed"] {
        let tasks = named(&json, variant);
        assert_eq!(tasks.len(), 100, "tasks named {variant}");
        let line = line_of(FAT_VS_SLIM, &format!("spawn_named(\"{variant}\""));
        for t in &tasks {
            let loc = t["location"].as_str().unwrap();
            assert!(loc.contains(&format!("fat-vs-slim.rs:{line}:")), "{t}");
            let size = t["size_bytes"].as_u64().unwrap();
            let big = variant == "fat";
            assert_eq!(size as f64 >= BUF, big, "{variant}: {t}");
            assert_eq!(t["boxed"], big, "{variant}: {t}");
            assert_eq!(has_lint(t, "large_future"), big, "{variant}: {t}");
        }
    }
    assert_eq!(lint(&json, "large_future")["tasks"], 100);
}

/// Lesson 2's "compare RSS": one variant per process (`--only`); fat and boxed each cost about
/// their 16 KiB buffer per task more than slim (within 20 %): boxing moved the cost to the heap,
/// it did not remove it.
#[test]
fn fat_vs_slim_only_compares_rss_per_variant() {
    const N: u64 = 1000;
    let rss = |variant: &str| {
        let n = N.to_string();
        let target = demo("fat-vs-slim", "probe", &["-n", &n, "--only", variant]);
        let json = snapshot(&target, &["--settle", "1s"]);
        assert_eq!(named(&json, variant).len() as u64, N, "{variant}");
        assert_eq!(live(&json), N + 1, "only {variant} and block_on: {json:#}");
        assert_eq!(json["locations"].as_array().unwrap().len(), 2);
        json["rss_bytes"].as_u64().unwrap() as f64
    };
    let (fat, slim, boxed) = (rss("fat"), rss("slim"), rss("boxed"));
    let per_task = |more: f64| (more - slim) / N as f64;
    for (variant, extra) in [("fat", per_task(fat)), ("boxed", per_task(boxed))] {
        assert!(
            (extra - BUF).abs() < 0.2 * BUF,
            "{variant} costs {extra:.0} B/task more RSS than slim (fat {fat}, slim {slim}, boxed {boxed})"
        );
    }
    assert!(
        (fat - boxed).abs() < 0.2 * BUF * N as f64,
        "fat {fat}, boxed {boxed}"
    );
}

/// Lesson 4: the leak grows, and its two kinds are named: every `lost-waker` task that has been
/// polled has the lint, no `channel-waiting` task has it, and they come half and half.
#[test]
fn leak_grows_and_its_unwakeable_half_is_flagged() {
    let target = demo("leak", "probe", &["--rate", "20"]);
    std::thread::sleep(Duration::from_millis(1500));
    let first = snapshot(&target, &[]);
    std::thread::sleep(Duration::from_secs(3));
    let second = snapshot(&target, &[]);
    assert!(
        live(&second) >= live(&first) + 40,
        "{} then {}",
        live(&first),
        live(&second)
    );
    assert!(second["rss_bytes"].as_u64() >= first["rss_bytes"].as_u64());
    locations_are_the_demos_own(
        &second,
        "leak.rs",
        include_str!("../../demos/src/bin/leak.rs"),
    );
    let lost = named(&second, "lost-waker");
    let waiting = named(&second, "channel-waiting");
    assert_eq!(
        live(&second),
        (lost.len() + waiting.len() + 1) as u64,
        "every leaked task is named, besides block_on"
    );
    assert!(
        lost.len().abs_diff(waiting.len()) <= 10,
        "{} and {}",
        lost.len(),
        waiting.len()
    );
    for t in &lost {
        let polled = t["polls"].as_u64().unwrap() > 0;
        assert_eq!(has_lint(t, "lost_waker"), polled, "{t}");
    }
    assert!(waiting.iter().all(|t| !has_lint(t, "lost_waker")));
    let flagged = lint(&second, "lost_waker")["tasks"].as_u64().unwrap();
    assert!(flagged as usize <= lost.len() && flagged * 2 + 20 >= live(&second) - 1);
}

/// Lesson 3: a burst of named `request` tasks rises and drains over the named `connection`
/// baseline.
#[test]
fn spike_arrives_and_drains() {
    let start = Instant::now();
    // Under the probe (the demos' default): a snapshot is complete at once. Under
    // console-subscriber the burst is still being announced at 4 s, so a default snapshot waits
    // for the announcing to end, by when the burst has drained.
    let target = demo(
        "spike",
        "probe",
        &[
            "--burst",
            "1500",
            "--first-after",
            "1s",
            "--ramp",
            "500ms",
            "--hold",
            "3s",
            "--period",
            "1h",
            "--baseline",
            "50",
        ],
    );
    let at = |secs: u64| {
        let t = Duration::from_secs(secs);
        if let Some(rest) = t.checked_sub(start.elapsed()) {
            std::thread::sleep(rest);
        }
    };
    at(4);
    let peak = snapshot(&target, &[]);
    at(13);
    let after = snapshot(&target, &[]);
    let requests = |j: &Value| named(j, "request").len();
    assert!(
        requests(&peak) >= 1000,
        "peak of {} requests",
        requests(&peak)
    );
    assert!(
        requests(&after) <= 50,
        "{} requests after the drain",
        requests(&after)
    );
    for j in [&peak, &after] {
        assert_eq!(named(j, "connection").len(), 50);
        for name in ["acceptor", "housekeeping", "listener"] {
            assert_eq!(named(j, name).len(), 1, "{name}");
        }
    }
    locations_are_the_demos_own(
        &peak,
        "spike.rs",
        include_str!("../../demos/src/bin/spike.rs"),
    );
}

/// `asyncmem snapshot --wait 11s` of a sleepers demo spawning 2,000 sleepers over 8 s.
fn watch_sleepers(instrument: &str, bytes: &str) -> std::thread::JoinHandle<Value> {
    let target = demo(
        "sleepers",
        instrument,
        &["-n", "2000", "-b", bytes, "--ramp", "250"],
    );
    std::thread::spawn(move || {
        snapshot_json(
            &target.addr(),
            &["--wait", "11s", "--rss-interval", "250ms"],
        )
    })
}

/// The fitted bytes/task of a snapshot: a good fit, no caveat.
fn slope(j: &Value) -> f64 {
    let bpt = &j["bytes_per_task"];
    // No figure when console-subscriber fell over 2 s behind (a loaded machine): the reason
    // says so.
    let r2 = bpt["r2"]
        .as_f64()
        .unwrap_or_else(|| panic!("no fit: {}", bpt["reason"]));
    assert!(r2 > 0.95, "{bpt}");
    assert!(bpt["caveat"].is_null(), "{bpt}");
    bpt["slope"].as_f64().unwrap()
}

/// Lesson 1, measured: under the probe, the slope of RSS over live tasks separates sleepers
/// holding 64 B from sleepers holding 20 KiB by about the 20,416 bytes they differ by.
#[test]
fn slope_separates_sleepers_by_their_buffer_size() {
    let (a, b) = (
        watch_sleepers("probe", "64"),
        watch_sleepers("probe", "20480"),
    );
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    let diff = slope(&b) - slope(&a);
    assert!(
        (diff - 20_416.0).abs() < 0.1 * 20_416.0,
        "slopes {:.0} and {:.0} differ by {diff:.0}",
        slope(&a),
        slope(&b)
    );
}

/// Lesson 1b, the observer's cost: the same 64-byte sleepers under the probe and under
/// console-subscriber. The futures are the same; console-subscriber's bytes/task is over 30
/// times the probe's; both estimate their own part, and the difference of the slopes is the
/// difference of the estimates (within 10 %).
#[test]
fn the_observer_costs_more_than_it_observes() {
    let (p, c) = (
        watch_sleepers("probe", "64"),
        watch_sleepers("console-subscriber", "64"),
    );
    let (probe, console) = (p.join().unwrap(), c.join().unwrap());
    assert_eq!(probe["instrumentation"]["name"], "asyncmem-probe");
    assert_eq!(console["instrumentation"]["name"], "console-subscriber");
    let mean = |j: &Value| j["bytes_per_task"]["mean_future_bytes"].as_u64().unwrap();
    assert_eq!(mean(&probe), mean(&console), "the same futures");
    let (sp, sc) = (slope(&probe), slope(&console));
    assert!(
        sc > 30.0 * sp,
        "console-subscriber {sc:.0} B/task, probe {sp:.0}"
    );
    let estimate = |j: &Value| {
        j["instrumentation"]["estimated_bytes_per_task"]
            .as_u64()
            .unwrap() as f64
    };
    let (ep, ec) = (estimate(&probe), estimate(&console));
    assert!(
        ((sc - sp) - (ec - ep)).abs() < 0.1 * (ec - ep),
        "slopes {sp:.0} and {sc:.0}, estimates {ep} and {ec}"
    );
}

/// Lesson 5: the named spinners wake themselves, the named blocker never yields.
#[test]
fn busy_spinners_wake_themselves_and_the_blocker_never_yields() {
    let target = demo("busy", "probe", &["--spinners", "12"]);
    let lint = |json: &Value, name: &str| lint(json, name)["tasks"].as_u64().unwrap();
    // The blocker is inside its blocking poll 3 s of every 4: within a few snapshots one sees
    // it past the 1 s threshold.
    let start = std::time::Instant::now();
    loop {
        let json = snapshot(&target, &[]);
        let spinners = named(&json, "spinner");
        if spinners.len() == 12
            && lint(&json, "self_wakes") >= 12
            && lint(&json, "never_yielded") == 1
        {
            let blocker = named(&json, "blocker");
            assert_eq!(blocker.len(), 1);
            assert_eq!(blocker[0]["state"], "running");
            assert!(has_lint(blocker[0], "never_yielded"));
            assert!(spinners.iter().all(|t| has_lint(t, "self_wakes")));
            locations_are_the_demos_own(
                &json,
                "busy.rs",
                include_str!("../../demos/src/bin/busy.rs"),
            );
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no snapshot showed 12 self-waking spinners and the blocker never yielding: {json}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The README's first command, headless: the default demo (asyncmem-probe, sleepers spawned
/// over a few seconds) gives a complete picture of its named tasks and a bytes-per-task figure
/// whose parts are all positive and add up.
#[test]
fn the_default_sleepers_demo_gives_a_positive_explained_split() {
    let out = asyncmem()
        .args(["snapshot", "--demo", "sleepers", "--format", "json"])
        .output()
        .expect("running asyncmem");
    let json = json_of(&out);
    assert_eq!(json["complete"], true, "{}", json["incomplete_reason"]);
    assert_eq!(json["instrumentation"]["name"], "asyncmem-probe");
    assert!(live(&json) >= 10_004, "{} live tasks", live(&json));
    assert_eq!(named(&json, "sleeper").len(), 10_000);
    for name in ["tiny", "kilobyte", "sixteen-k", "boxed-32k"] {
        assert_eq!(named(&json, name).len(), 1, "{name}");
    }
    // Lesson 1's sizes: a sleeper holds its 1024-byte buffer besides what `tiny` (no buffer)
    // holds, and the two largest named futures were moved to the heap by tokio.
    let size = |t: &Value| t["size_bytes"].as_u64().unwrap();
    let tiny = size(named(&json, "tiny")[0]);
    assert!(named(&json, "sleeper")
        .iter()
        .all(|t| size(t) >= tiny + 1024 && t["boxed"] == false));
    for name in ["sixteen-k", "boxed-32k"] {
        assert_eq!(named(&json, name)[0]["boxed"], true, "{name}");
    }
    locations_are_the_demos_own(
        &json,
        "sleepers.rs",
        include_str!("../../demos/src/bin/sleepers.rs"),
    );
    let bpt = &json["bytes_per_task"];
    let part = |k: &str| bpt[k].as_f64().unwrap_or_else(|| panic!("no {k}: {bpt}"));
    let (slope, corrected, other) = (
        part("slope"),
        part("corrected_slope"),
        part("other_bytes_per_task"),
    );
    let future = bpt["mean_future_bytes"].as_u64().expect("mean future") as f64;
    let instr = json["instrumentation"]["estimated_bytes_per_task"]
        .as_u64()
        .expect("the probe's cost") as f64;
    assert!(bpt["r2"].as_f64().is_some_and(|r| r > 0.8), "{bpt}");
    assert!(other > 0.0 && corrected > future, "{bpt}");
    assert!((slope - (instr + future + other)).abs() < 1.0, "{bpt}");
    // The comparison is one flag away.
    let out = asyncmem()
        .args(["snapshot", "--demo", "sleepers", "--format", "json", "--"])
        .args(["--instrument", "console-subscriber", "-n", "100"])
        .output()
        .expect("running asyncmem");
    let json = json_of(&out);
    assert_eq!(json["instrumentation"]["name"], "console-subscriber");
}
