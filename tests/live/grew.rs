//! What grew: the memory live tasks explain (`explained` in `snapshot`'s JSON) against demos
//! whose answer is known, and the difference between two moments (`--diff-after` live,
//! `--from FILE --at A --diff-at B` on a recording), each a real demo under asyncmem-probe.

use std::thread;

use crate::cli::*;
use crate::common::*;
use serde_json::Value;

/// A probe demo `name` with `args`: its snapshot once settled (JSON).
fn settled(name: &str, args: &[&str]) -> Value {
    let mut all = vec!["--instrument", "probe"];
    all.extend_from_slice(args);
    let target = start_demo(name, &all);
    json_of(
        &asyncmem()
            .args(["snapshot", "--addr", &target.addr(), "--format", "json"])
            .args(["--wait", "3s", "--settle", "2s", "--timeout", "30s"])
            .output()
            .expect("running asyncmem"),
    )
}

fn u(json: &Value, path: &[&str]) -> u64 {
    let mut v = json;
    for p in path {
        v = &v[*p];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("{path:?} not a number in {json}"))
}

/// The share of the RSS growth from `baseline` (the demo without its workload) to `loaded`
/// that the explained bytes account for, with both growths for messages.
fn growth_share(baseline: &Value, loaded: &Value) -> (f64, i64, i64) {
    let rss = u(loaded, &["rss_bytes"]) as i64 - u(baseline, &["rss_bytes"]) as i64;
    let explained = u(loaded, &["explained", "explained_bytes"]) as i64
        - u(baseline, &["explained", "explained_bytes"]) as i64;
    (explained as f64 / rss as f64, explained, rss)
}

/// `snapshot --addr TARGET --format json --diff-after SECONDS`, its JSON.
fn diff_after(target: &Target, seconds: &str) -> Value {
    json_of(
        &asyncmem()
            .args(["snapshot", "--addr", &target.addr(), "--format", "json"])
            .args(["--diff-after", seconds])
            .output()
            .unwrap(),
    )
}

/// A fresh directory for this test's files.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("asyncmem-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `asyncmem record` of `target` into `file` for `duration`; the target stopped after.
fn record(target: Target, file: &std::path::Path, duration: &str) {
    let out = asyncmem()
        .args(["record", "--addr", &target.addr(), "-o"])
        .arg(file)
        .args(["--duration", duration])
        .output()
        .unwrap();
    assert!(out.status.success(), "record: {}", stderr_of(&out));
    drop(target);
}

/// A demo, its workload, the same demo without it, the range the explained share must fall in.
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    std::ops::RangeInclusive<f64>,
);

/// Each demo against itself without its workload: pure sleepers and fat futures are mostly
/// explained, a boxed 16 KiB heap buffer per task is not (the future holds only its pointer),
/// nor is a cache filled by tasks that have ended.
#[test]
fn live_tasks_explain_what_their_futures_hold_and_not_what_they_point_to() {
    let cases: [Case; 4] = [
        ("sleepers", &[], &["-n", "0"], 0.75..=1.15),
        (
            "fat-vs-slim",
            &["--only", "fat"],
            &["--only", "fat", "-n", "0"],
            0.75..=1.15,
        ),
        // The boxed futures' 16 KiB are heap: with the probe's allocator (fat-vs-slim's global
        // allocator) the heap each task holds is known and explained; the futures alone (272 B)
        // would explain under 15 % (tests/live/heap.rs checks the 16,384 B per task).
        (
            "fat-vs-slim",
            &["--only", "boxed"],
            &["--only", "boxed", "-n", "0"],
            0.75..=1.15,
        ),
        (
            "cache-outside",
            &["--entries", "4000", "--rate", "4000"],
            &["--entries", "0"],
            -0.02..=0.05,
        ),
    ];
    let runs: Vec<_> = cases
        .iter()
        .map(|(name, load, base, range)| {
            let (name, load, base) = (name.to_string(), load.to_vec(), base.to_vec());
            let range = range.clone();
            thread::spawn(move || {
                let loaded = settled(&name, &load);
                let baseline = settled(&name, &base);
                (name, load, range, growth_share(&baseline, &loaded), loaded)
            })
        })
        .collect();
    for run in runs {
        let (name, load, range, (share, explained, rss), loaded) = run.join().unwrap();
        assert!(
            rss > 8 << 20,
            "{name} {load:?}: the workload grew RSS by only {rss} B"
        );
        assert!(
            range.contains(&share),
            "{name} {load:?}: the tasks explain {share:.3} of the RSS growth ({explained} of {rss} B), expected {range:?}\n{}",
            loaded["explained"]
        );
        // The parts add up, and the share of the whole RSS is the same figure's.
        let e = &loaded["explained"];
        assert_eq!(
            u(e, &["explained_bytes"]),
            u(e, &["cell_bytes"])
                + u(e, &["instrumentation_bytes"])
                + e["heap_bytes"].as_u64().unwrap_or(0)
        );
        // The heap is known exactly where the demo has the probe's allocator.
        assert_eq!(
            e["heap_bytes"].is_u64(),
            name == "fat-vs-slim",
            "{name}: heap_bytes {}",
            e["heap_bytes"]
        );
        assert_eq!(
            u(e, &["instrumentation_bytes"]),
            u(e, &["live_tasks"]) * u(e, &["instrumentation_bytes_per_task"])
        );
        let whole = e["share"].as_f64().unwrap();
        let expect = u(e, &["explained_bytes"]) as f64 / u(&loaded, &["rss_bytes"]) as f64;
        assert!((whole - expect).abs() < 1e-9, "{e}");
    }
}

/// The leak demo grows by tasks; the cache demo grows beside them: `--diff-after` tells them
/// apart, and names the leak's two locations as what gained.
#[test]
fn diff_after_names_the_locations_that_grew_and_how_much_they_explain() {
    let leak = thread::spawn(|| {
        let target = start_demo("leak", &["--instrument", "probe", "--rate", "1000"]);
        diff_after(&target, "4s")
    });
    let cache = {
        let target = start_demo(
            "cache-outside",
            &[
                "--instrument",
                "probe",
                "--start-after",
                "1s",
                "--entries",
                "4000",
                "--rate",
                "2000",
            ],
        );
        diff_after(&target, "5s")
    };
    let leak = leak.join().unwrap();
    // 1,000 tasks a second for 4 s, each holding a 4 KiB request: thousands gained, none lost.
    let gained = leak["live_tasks_change"].as_i64().unwrap();
    assert!(gained >= 2000, "{leak}");
    let locations = leak["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 2, "the two leaking spawn lines: {leak}");
    let mut sum = 0;
    for l in locations {
        assert!(l["location"]
            .as_str()
            .unwrap()
            .contains("demos/src/bin/leak.rs"));
        assert_eq!(l["tasks_lost"], 0, "{l}");
        assert!(u(l, &["future_bytes_gained"]) >= u(l, &["tasks_gained"]) * 4096);
        sum += l["tasks_change"].as_i64().unwrap();
    }
    assert_eq!(sum, gained, "the locations account for every task gained");
    let share = leak["growth_explained"].as_f64().unwrap();
    assert!((0.6..=1.4).contains(&share), "leak: {share}: {leak}");
    // The cache: 4,000 entries of 16 KiB arrive, the live tasks barely change.
    let rss = cache["rss_change_bytes"].as_i64().unwrap();
    assert!(rss > 40 << 20, "the cache grew RSS by {rss} B: {cache}");
    let share = cache["growth_explained"].as_f64().unwrap();
    assert!(share < 0.05, "cache: tasks explain {share}: {cache}");
    assert!(
        cache["live_tasks_change"].as_i64().unwrap().abs() < 50,
        "{cache}"
    );
}

/// A recording of the leak demo: `--at 1s --diff-at 5s` gains what four seconds of leaking
/// add, and the table says the same as the JSON.
#[test]
fn diff_at_compares_two_points_of_a_recording() {
    let dir = temp_dir("grew");
    let file = dir.join("leak.amrec");
    let target = start_demo("leak", &["--instrument", "probe", "--rate", "500"]);
    record(target, &file, "7s");
    let diff = |format: &str| {
        asyncmem()
            .args(["snapshot", "--from"])
            .arg(&file)
            .args(["--at", "1s", "--diff-at", "5s", "--format", format])
            .output()
            .unwrap()
    };
    let json = json_of(&diff("json"));
    let gained = json["live_tasks_change"].as_i64().unwrap();
    // 500 a second for 4 s (ticks of one second: 3 to 5 of them).
    assert!((1000..=2600).contains(&gained), "{json}");
    let secs = json["seconds"].as_f64().unwrap();
    assert!((3.0..=4.5).contains(&secs), "{json}");
    assert!(json["rss_change_bytes"].as_i64().unwrap() > 0, "{json}");
    let table = String::from_utf8(diff("table").stdout).unwrap();
    assert!(
        table.contains(&format!("live (+{gained})")),
        "the table and the JSON disagree:\n{table}"
    );
    assert!(table.contains("leak.rs"), "{table}");
    // Asked of a live target, --diff-at is refused: it picks points of a recording.
    let out = asyncmem()
        .args([
            "snapshot",
            "--addr",
            "http://127.0.0.1:1",
            "--diff-at",
            "5s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A recording of the spike demo: `--spikes` finds its bursts, steepest first and not
/// overlapping, and names the burst's spawn line as what grew in the steepest.
#[test]
fn spikes_are_the_bursts_of_the_spike_demo() {
    let dir = temp_dir("spikes");
    let file = dir.join("spike.amrec");
    let target = start_demo(
        "spike",
        &[
            "--instrument",
            "probe",
            "--burst",
            "3000",
            "--period",
            "8s",
            "--first-after",
            "2s",
        ],
    );
    record(target, &file, "16s");
    let json = json_of(
        &asyncmem()
            .args(["snapshot", "--from"])
            .arg(&file)
            .args(["--spikes", "--spike-window", "2s", "--format", "json"])
            .output()
            .unwrap(),
    );
    let spikes = json.as_array().unwrap();
    assert!(!spikes.is_empty() && spikes.len() <= 3, "{json}");
    let slope = |s: &Value| s["rss_bytes_per_second"].as_f64().unwrap();
    for pair in spikes.windows(2) {
        assert!(slope(&pair[0]) >= slope(&pair[1]), "steepest first: {json}");
    }
    for (i, a) in spikes.iter().enumerate() {
        assert!(slope(a) > 0.0);
        for b in &spikes[i + 1..] {
            assert!(
                u(a, &["to_ns"]) <= u(b, &["from_ns"]) || u(b, &["to_ns"]) <= u(a, &["from_ns"]),
                "overlapping: {a} {b}"
            );
        }
    }
    // The steepest is a burst: its requests, spawned at the demo's one `request` line.
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demos/src/bin/spike.rs"),
    )
    .unwrap();
    let line = source
        .lines()
        .position(|l| l.contains("spawn_named(\"request\""))
        .unwrap()
        + 1;
    let top = &spikes[0];
    let grew = &top["locations"][0];
    assert!(
        grew["location"]
            .as_str()
            .unwrap()
            .contains(&format!("spike.rs:{line}:")),
        "{top}"
    );
    assert!(u(grew, &["tasks_gained"]) >= 500, "{top}");
    assert!(u(top, &["live_tasks_after"]) > u(top, &["live_tasks_before"]));
    // Its offsets are what --at and --diff-at take: the same growth, read back as a diff.
    let secs = |k: &str| format!("{}ns", (top[k].as_f64().unwrap() * 1e9).round());
    let diff = json_of(
        &asyncmem()
            .args(["snapshot", "--from"])
            .arg(&file)
            .args([
                "--at",
                &secs("from_seconds"),
                "--diff-at",
                &secs("to_seconds"),
            ])
            .args(["--format", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(diff["locations"][0]["location"], grew["location"], "{diff}");
    assert_eq!(
        diff["locations"][0]["tasks_gained"], grew["tasks_gained"],
        "{diff}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
