//! `record`, `snapshot --from` and bad recordings, against the real sleepers demo under
//! console-subscriber and the real asyncmem binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::cli::*;
use crate::common::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("asyncmem-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start_record(args: &[&str]) -> Child {
    asyncmem()
        .arg("record")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting asyncmem record")
}

fn wait_output(child: Child, timeout: Duration) -> std::process::Output {
    let pid = child.id();
    let start = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if start.elapsed() > timeout {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("asyncmem record did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap()
}

fn from(path: &Path, extra: &[&str]) -> std::process::Output {
    asyncmem()
        .args(["snapshot", "--from"])
        .arg(path)
        .args(extra)
        .output()
        .unwrap()
}

/// Sizes of the live tasks, sorted.
fn live_sizes(snapshot: &serde_json::Value) -> Vec<u64> {
    let mut sizes: Vec<u64> = snapshot["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] != "done")
        .map(|t| t["size_bytes"].as_u64().unwrap_or(0))
        .collect();
    sizes.sort_unstable();
    sizes
}

/// Record a few seconds of a demo and take a live snapshot meanwhile.
fn record_demo(dir: &Path) -> (PathBuf, serde_json::Value) {
    let target = start_demo("sleepers", &["-n", "150"]);
    let file = dir.join("demo.amrec");
    let rec = start_record(&[
        "--addr",
        &target.addr(),
        "-o",
        file.to_str().unwrap(),
        "--duration",
        "6s",
    ]);
    let live = json_of(
        &asyncmem()
            .args(["snapshot", "--addr", &target.addr(), "--format", "json"])
            .args(["--wait", "3s", "--settle", "1s"])
            .output()
            .unwrap(),
    );
    let out = wait_output(rec, Duration::from_secs(60));
    assert!(out.status.success(), "record failed: {}", stderr_of(&out));
    assert!(stderr_of(&out).contains("recorded"), "{}", stderr_of(&out));
    (file, live)
}

#[test]
fn a_recording_says_what_the_live_snapshot_said() {
    let dir = temp_dir("rec-live");
    let (file, live) = record_demo(&dir);
    let recorded = json_of(&from(&file, &["--format", "json"]));
    assert!(live["live_tasks"].as_u64().unwrap() >= 150, "{live}");
    assert_eq!(recorded["live_tasks"], live["live_tasks"]);
    assert_eq!(recorded["future_bytes"], live["future_bytes"]);
    assert_eq!(live_sizes(&recorded), live_sizes(&live));
    assert_eq!(recorded["pid"], live["pid"]);

    // One CSV row per task, with the header.
    let csv = from(&file, &["--format", "csv"]);
    assert!(csv.status.success(), "{}", stderr_of(&csv));
    let text = String::from_utf8(csv.stdout).unwrap();
    let rows: Vec<_> = text.lines().collect();
    assert!(rows[0].starts_with("id,task_id,name,kind,state,size_bytes"));
    assert_eq!(rows.len() - 1, recorded["tasks"].as_array().unwrap().len());
    assert!(text.contains("boxed-32k"));

    // The chart as CSV: about one sample per RSS reading (1 s), RSS above zero.
    let series = from(&file, &["--series", "--format", "csv"]);
    let text = String::from_utf8(series.stdout).unwrap();
    let rows: Vec<_> = text.lines().skip(1).collect();
    assert!(rows.len() >= 4, "{text}");
    let rss: u64 = rows
        .last()
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(rss > 1 << 20, "{text}");

    // --at: early in the recording fewer seconds have passed than at its end.
    let early = json_of(&from(&file, &["--format", "json", "--at", "1500ms"]));
    assert!(early["console_now_ns"].as_i64() < recorded["console_now_ns"].as_i64());
    let past = from(&file, &["--format", "json", "--at", "1h"]);
    assert!(
        stderr_of(&past).contains("past the end"),
        "{}",
        stderr_of(&past)
    );
    assert_eq!(json_of(&past)["live_tasks"], recorded["live_tasks"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recordings_survive_the_target_exiting_sigterm_and_sigkill() {
    let dir = temp_dir("rec-stop");
    for how in ["target exits", "SIGTERM", "SIGKILL"] {
        let mut target = start_demo("sleepers", &["-n", "40"]);
        let file = dir.join(format!("{}.amrec", how.replace(' ', "-")));
        let rec = start_record(&[
            "--pid",
            &target.pid.to_string(),
            "-o",
            file.to_str().unwrap(),
        ]);
        // Until the tasks are in the file.
        let start = Instant::now();
        loop {
            let out = from(&file, &["--format", "json"]);
            if out.status.success() && json_of(&out)["live_tasks"].as_u64() >= Some(40) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{how}: tasks never recorded"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let signal = match how {
            "target exits" => {
                let _ = target.child.kill();
                let _ = target.child.wait();
                None
            }
            "SIGTERM" => Some("-TERM"),
            _ => Some("-KILL"),
        };
        if let Some(sig) = signal {
            let status = std::process::Command::new("kill")
                .args([sig, &rec.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        let out = wait_output(rec, Duration::from_secs(30));
        match how {
            "SIGKILL" => assert_eq!(out.status.code(), None, "killed"),
            _ => assert!(out.status.success(), "{how}: {}", stderr_of(&out)),
        }
        let snap = from(&file, &["--format", "json"]);
        let json = json_of(&snap);
        assert!(json["live_tasks"].as_u64() >= Some(40), "{how}: {json}");
        // Only a hard kill leaves a recording without its end marker: the frames are all there.
        assert!(stderr_of(&snap).is_empty(), "{how}: {}", stderr_of(&snap));
        if how == "target exits" {
            assert!(stderr_of(&out).contains("the target exited"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_recordings_fail_clearly_and_cut_ones_keep_what_they_hold() {
    let dir = temp_dir("rec-bad");
    let (file, _) = record_demo(&dir);
    let bytes = std::fs::read(&file).unwrap();
    let expect_fail = |name: &str, content: &[u8], needle: &str| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        for cmd in [&["snapshot", "--from"][..], &["replay"][..]] {
            let out = asyncmem().args(cmd).arg(&path).output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(10),
                "{name} {cmd:?}: {}",
                stderr_of(&out)
            );
            assert!(
                stderr_of(&out).contains(needle),
                "{name} {cmd:?}: {}",
                stderr_of(&out)
            );
        }
    };
    expect_fail("empty.amrec", b"", "empty");
    expect_fail(
        "text.amrec",
        b"hello, this is not a recording\n",
        "not an asyncmem recording",
    );
    let mut future = bytes.clone();
    future[12] = 99;
    expect_fail("future.amrec", &future, "version 99 is newer");
    let mut corrupt = bytes.clone();
    let at = bytes.len() * 3 / 5;
    corrupt[at] ^= 0x5a;
    let out = from(&dir.join("x"), &[]);
    assert_eq!(out.status.code(), Some(10), "a missing file");
    let path = dir.join("corrupt.amrec");
    std::fs::write(&path, &corrupt).unwrap();
    let out = from(&path, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("corrupt at byte"),
        "{}",
        stderr_of(&out)
    );

    // Cut inside its last frames (the file format: a 12-byte signature, version, header length,
    // header, checksum; then frames of length, body, checksum): what came before is read, with
    // a warning naming the byte where the cut frame starts.
    let le = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let mut starts = vec![18 + le(14) + 4];
    while *starts.last().unwrap() < bytes.len() {
        let at = *starts.last().unwrap();
        starts.push(at + 8 + le(at));
    }
    assert_eq!(starts.pop(), Some(bytes.len()), "frames tile the file");
    let victim = starts[starts.len() - 3];
    let cut = dir.join("cut.amrec");
    std::fs::write(&cut, &bytes[..victim + 11]).unwrap();
    let out = from(&cut, &["--format", "json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!("cut at byte {victim}")),
        "{}",
        stderr_of(&out)
    );
    let json = json_of(&out);
    assert!(json["live_tasks"].as_u64() > Some(0), "{json}");
    let _ = std::fs::remove_dir_all(&dir);
}
