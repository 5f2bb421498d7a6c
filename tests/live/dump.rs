//! `snapshot --dump` on real targets: the `parked` demo built with asyncmem-probe's `taskdump`
//! feature (in a target directory of its own, `target/taskdump`, so that the workspace's own
//! build keeps the feature off), a probe target built without it, and a console-subscriber
//! target. Where each task is parked must be the `.await` line of the demo's source that it is
//! waiting at; a dump that cannot finish (a worker blocked) must say so and leave the target
//! running; two dumps at once and a target exiting mid-dump must be said too.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cli::*;
use crate::common::*;
use serde_json::Value;

const PARKED: &str = include_str!("../../demos/src/bin/parked.rs");
const NO_DUMP: i32 = 19;

/// The 1-based line of `parked.rs` containing `needle`, and the column of its `await`.
fn await_at(needle: &str) -> (u64, u64) {
    let (i, line) = PARKED
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in parked.rs"));
    let col = line.find(".await").expect("an await on that line") + 2;
    (i as u64 + 1, col as u64)
}

/// `parked` built with `--features taskdump` (debug, or `release`), once per test process.
fn parked_with_dumps(release: bool) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    static BUILT_RELEASE: OnceLock<()> = OnceLock::new();
    let dir = Path::new(ASYNCMEM)
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("taskdump");
    let once = if release { &BUILT_RELEASE } else { &BUILT };
    once.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "-p", "asyncmem-demos", "--bin", "parked"])
            .args(["--features", "taskdump", "--target-dir"])
            .arg(&dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "building parked with taskdump failed");
    });
    dir.join(if release { "release" } else { "debug" })
        .join("parked")
}

fn start_parked(release: bool, args: &[&str]) -> Target {
    let mut all = vec!["--instrument", "probe"];
    all.extend_from_slice(args);
    asyncmem_testkit::start_demo(&parked_with_dumps(release), &all)
}

fn dump(target: &Target, extra: &[&str]) -> Output {
    asyncmem()
        .args([
            "snapshot",
            "--addr",
            &target.addr(),
            "--settle",
            "1s",
            "--dump",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn dump_json(target: &Target, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    json_of(&dump(target, &args))["dump"].clone()
}

/// Wait until the target shows `live` live tasks, then 2 s more: its first polls done (a dump
/// of a busy target is refused, see `a_dump_asked_while_the_target_is_busy_ends`).
fn settled(target: &Target, live: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = asyncmem()
            .args(["snapshot", "--addr", &target.addr(), "--format", "json"])
            .output()
            .unwrap();
        if out.status.success() && json_of(&out)["live_tasks"] == live {
            break;
        }
        assert!(Instant::now() < deadline, "never {live} live tasks");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(2));
}

/// The group of a dump that holds the most tasks.
fn biggest(dump: &Value) -> &Value {
    &dump["groups"][0]
}

#[test]
fn a_debug_build_names_the_await_each_task_is_parked_at() {
    // Quick reads: every connection is past its read and waits at its keep-alive sleep.
    let target = start_parked(false, &["-n", "50", "--work", "1ms"]);
    let d = dump_json(&target, &[]);
    assert_eq!(d["tasks"], 50, "{d:#}");
    assert_eq!(d["leaf_only_tasks"], 0, "{d:#}");
    let g = biggest(&d);
    assert_eq!(g["tasks"], 50, "{d:#}");
    let (line, col) = await_at("sleep(keep_alive).await");
    let at = &g["parked_at"];
    assert_eq!(at["kind"], "own", "{at:#}");
    assert_eq!(
        (at["line"].as_u64(), at["col"].as_u64()),
        (Some(line), Some(col)),
        "{at:#}"
    );
    // Shown relative to the workspace, like spawn locations; JSON keeps the full path.
    assert_eq!(at["path"], "demos/src/bin/parked.rs", "{at:#}");
    let file = at["file"].as_str().unwrap();
    assert!(
        file.starts_with('/') && file.ends_with("/demos/src/bin/parked.rs"),
        "{at:#}"
    );
    assert_eq!(at["function"], "parked::connection", "{at:#}");
    // Every task is known to the picture: its future's bytes are summed.
    assert_eq!(g["unknown_tasks"], 0, "{d:#}");
    assert!(g["future_bytes"].as_u64().unwrap() >= 50 * 4096, "{d:#}");
    // JSON carries each task's whole trace.
    let traces = d["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 50);
    assert!(traces.iter().all(|t| t["console_id"].is_u64()), "{d:#}");
    assert!(traces[0]["backtraces"][0].as_array().unwrap().len() >= 2);
}

#[test]
fn a_task_inside_a_nested_await_is_parked_there_and_its_own_future_at_the_outer_one() {
    // Slow reads: every connection waits inside `read_request`, which its future awaits.
    let target = start_parked(false, &["-n", "20", "--work", "1h"]);
    let d = dump_json(&target, &[]);
    let g = biggest(&d);
    assert_eq!(g["tasks"], 20, "{d:#}");
    let (inner, _) = await_at("sleep(work).await");
    assert_eq!(g["parked_at"]["line"], inner, "{g:#}");
    assert_eq!(g["parked_at"]["function"], "parked::read_request", "{g:#}");
    let (outer, _) = await_at("read_request(work).await");
    assert_eq!(d["traces"][0]["task_await"]["line"], outer, "{d:#}");
    // The table says it for people, and how long the target was held.
    let out = dump(&target, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("task dump: 20 tasks"), "{table}");
    assert!(table.contains("workers were held"), "{table}");
    assert!(
        table.contains(&format!(" demos/src/bin/parked.rs:{inner}:")),
        "{table}"
    );
}

#[test]
fn targets_that_cannot_dump_say_why_and_the_picture_is_still_printed() {
    // A probe built without the feature (the workspace's own build of the demos).
    let probe = start_demo("sleepers", &["--instrument", "probe", "-n", "10"]);
    let out = dump(&probe, &[]);
    assert_eq!(out.status.code(), Some(NO_DUMP), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("`taskdump` feature"),
        "{}",
        stderr_of(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("LOCATION"));
    // console-subscriber has no dump service.
    let console = start_demo("sleepers", &["-n", "10"]);
    let out = dump(&console, &[]);
    assert_eq!(out.status.code(), Some(NO_DUMP), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("does not serve task dumps"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_blocked_worker_stops_the_dump_before_it_starts_and_the_target_goes_on() {
    // One worker is blocked in a poll for 3 s: tokio's dump would wait for it at a barrier that
    // gives up without undoing its count, and could leave a worker stuck. Refused at once.
    let target = start_parked(
        false,
        &["-n", "10", "--work", "1ms", "--block-worker", "3s"],
    );
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let out = dump(&target, &[]);
    assert_eq!(out.status.code(), Some(NO_DUMP), "{}", stderr_of(&out));
    let why = stderr_of(&out);
    assert!(why.contains("in one poll for"), "{why}");
    assert!(why.contains("std::thread::sleep"), "{why}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Once the worker is free again, the target goes on and dumps every task.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = dump(&target, &["--format", "json"]);
        if out.status.success() {
            let d = json_of(&out)["dump"].clone();
            assert!(d["tasks"].as_u64().unwrap() >= 10, "{d:#}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no dump after the block: {}",
            stderr_of(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn two_dumps_at_once_each_answer() {
    // Enough tasks that resolving a dump takes a while: a second request meanwhile is
    // refused (said so), never run beside the first.
    let target = start_parked(false, &["-n", "20000", "--work", "1ms"]);
    settled(&target, 20001);
    let run = || {
        asyncmem()
            .args([
                "snapshot",
                "--addr",
                &target.addr(),
                "--dump",
                "--format",
                "json",
            ])
            // 20,000 tasks take seconds to dump in a debug build; dumped once the demo has
            // spawned them all (its spawning loop is one long poll: a dump refuses to start
            // beside it).
            .args(["--dump-timeout", "60s", "--settle", "1s"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (run(), run());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut ok = 0;
    for out in &outs {
        match out.status.code() {
            Some(0) => ok += 1,
            Some(NO_DUMP) => assert!(
                stderr_of(out).contains("another task dump is running"),
                "{}",
                stderr_of(out)
            ),
            other => panic!("{other:?}: {}", stderr_of(out)),
        }
    }
    assert!(ok >= 1, "neither dump was taken");
    // Dumps leave no trace in the picture: tokio's own helper task of each dump is not the
    // target's (recorded, it showed as a transient task and the ids around it as tasks never
    // announced: the picture was incomplete after a few dumps).
    for _ in 0..4 {
        let out = dump(&target, &["--dump-timeout", "60s"]);
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let json = json_of(
        &asyncmem()
            .args(["snapshot", "--addr", &target.addr(), "--format", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(json["complete"], true, "{}", json["incomplete_reason"]);
    assert_eq!(json["live_tasks"], 20001, "{}", json["live_tasks"]);
}

#[test]
fn a_target_that_exits_mid_dump_is_said() {
    let mut target = start_parked(false, &["-n", "20000", "--work", "1ms"]);
    settled(&target, 20001);
    let child = asyncmem()
        .args([
            "snapshot",
            "--addr",
            &target.addr(),
            "--settle",
            "1s",
            "--dump",
            "--dump-timeout",
            "60s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // About when the picture is complete and the dump runs (a debug build resolves 20,000
    // tasks' backtraces in about 2 s).
    std::thread::sleep(Duration::from_millis(2000));
    target.child.kill().unwrap();
    target.child.wait().unwrap();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    let why = stderr_of(&out);
    match out.status.code() {
        // Gone during the dump, or before the picture was complete: each said.
        Some(NO_DUMP) => assert!(
            why.contains("stopped short") || why.contains("could not") || why.contains("reached"),
            "{why}"
        ),
        Some(7) => assert!(why.contains("exited"), "{why}"),
        // The dump was quicker than the kill.
        Some(0) => {}
        other => panic!("{other:?}: {why}"),
    }
}

/// A release build inlines the async fns into the task's poll: only tokio's leaf is left, and
/// the table says why. (A release build of the demos in `target/taskdump`: minutes on a cold
/// machine.)
#[test]
fn a_release_build_shows_the_leaf_resource_and_says_why() {
    let target = start_parked(true, &["-n", "10", "--work", "1ms"]);
    let d = dump_json(&target, &[]);
    let g = biggest(&d);
    assert_eq!(g["tasks"], 10, "{d:#}");
    assert_eq!(g["parked_at"]["kind"], "leaf", "{g:#}");
    // tokio's leaf, by whatever name the release build's symbols give it.
    let (function, file) = (
        g["parked_at"]["function"].as_str().unwrap(),
        g["parked_at"]["file"].as_str().unwrap(),
    );
    assert!(
        function.contains("Sleep") || (function.contains("poll_elapsed") && file.contains("tokio")),
        "{g:#}"
    );
    assert!(d["leaf_only_tasks"].as_u64().unwrap() >= 10, "{d:#}");
    let table = String::from_utf8_lossy(&dump(&target, &[]).stdout).into_owned();
    assert!(table.contains("release build inlines"), "{table}");
}

/// A dump asked within the first seconds of a 20,000-task debug `parked` (its tasks still in
/// their first polls, thousands queued to run): tokio 1.54's dump spins for ever gathering more
/// than 128 queued tasks, and the target's runtime stops (two runs out of three hung before the
/// probe waited for its queues). Each dump must end within its timeout, taken or refused with
/// the reason, and the target must go on and dump once it settles.
#[test]
fn a_dump_asked_while_the_target_is_busy_ends() {
    let target = start_parked(false, &["-n", "20000", "--work", "1ms"]);
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let out = asyncmem()
            .args(["snapshot", "--addr", &target.addr(), "--settle", "0s"])
            .args(["--dump", "--dump-timeout", "30s", "--format", "json"])
            .output()
            .unwrap();
        // The dump's own timeout, the picture and the connect timeout: never a hang.
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "{:?}",
            started.elapsed()
        );
        let why = stderr_of(&out);
        match out.status.code() {
            Some(0) => outcomes.push("taken"),
            Some(NO_DUMP) => {
                assert!(!why.contains("is stuck"), "the runtime got stuck: {why}");
                assert!(
                    why.contains("queued to run")
                        || why.contains("in one poll for")
                        || why.contains("did not finish within"),
                    "{why}"
                );
                outcomes.push("refused");
            }
            other => panic!("{other:?}: {why}"),
        }
    }
    // The runtime was not left stuck: once settled, the target dumps every task.
    settled(&target, 20001);
    let d = dump_json(&target, &["--dump-timeout", "60s"]);
    assert!(d["tasks"].as_u64().unwrap() >= 20000, "{outcomes:?}");
}

/// A dump that cannot end within its timeout (20,000 tasks of a debug build hold the workers
/// for about 250 ms; allowed 30 ms): said as a timeout with its likely reasons, not as a stuck
/// runtime (the workers poll nothing while tokio traces, which must not read as stuck), and
/// the target goes on: the next dump, allowed enough, is taken.
#[test]
fn a_dump_that_times_out_says_so_and_the_next_one_is_taken() {
    let target = start_parked(false, &["-n", "20000", "--work", "1ms"]);
    settled(&target, 20001);
    let started = Instant::now();
    let out = dump(&target, &["--dump-timeout", "30ms"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(NO_DUMP), "{}", stderr_of(&out));
    let why = stderr_of(&out);
    assert!(why.contains("did not finish within 30 ms"), "{why}");
    assert!(why.contains("--dump-timeout"), "{why}");
    assert!(!why.contains("stuck"), "{why}");
    // The timed-out dump ends by itself; a second one waits for it or is refused meanwhile.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = dump(&target, &["--dump-timeout", "60s", "--format", "json"]);
        if out.status.success() {
            let d = json_of(&out)["dump"].clone();
            assert!(d["tasks"].as_u64().unwrap() >= 20000, "{d:#}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no dump after the timeout: {}",
            stderr_of(&out)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}
