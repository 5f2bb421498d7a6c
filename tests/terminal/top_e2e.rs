//! End to end: the real `asyncmem top` binary in a real pseudo-terminal (portable-pty, read back
//! through a vt100 parser), attached to the real sleepers demo under console-subscriber.

use std::time::Duration;

use crate::common::*;
use asyncmem_testkit::pty::{CommandBuilder, Pty};

/// `asyncmem ARGS` in a real terminal, colours on (`NO_COLOR` removed).
fn spawn_tui(args: &[&str]) -> Pty {
    let mut cmd = CommandBuilder::new(ASYNCMEM);
    cmd.args(args);
    cmd.env_remove("NO_COLOR");
    Pty::spawn(cmd)
}

/// The first task row under the table header.
fn first_row(tui: &Pty) -> String {
    let text = tui.text();
    let rows: Vec<&str> = text.lines().collect();
    let header = rows
        .iter()
        .position(|l| l.contains("State") && l.contains("Size"))
        .expect("table header");
    rows[header + 1].to_string()
}

const LONG: Duration = Duration::from_secs(30);

#[test]
fn top_shows_sorts_filters_details_and_quits_cleanly() {
    let target = start_demo("sleepers", &["-n", "100", "-b", "64"]);
    let pid = target.pid.to_string();
    let mut tui = spawn_tui(&["top", "--pid", &pid]);
    tui.wait_for("the header and the named tasks", LONG, |s| {
        s.contains(&format!("pid {pid}"))
            && s.contains("● connected")
            && s.contains("boxed-32k")
            && s.contains("live tasks 10")
    });
    assert!(tui.text().contains("RSS"), "{}", tui.text());
    // Sorted by size by default: the largest future first.
    tui.wait_for("boxed-32k on top", LONG, |_| {
        first_row(&tui).contains("boxed-32k")
    });
    assert!(
        first_row(&tui).contains("KiB*"),
        "boxed marker: {}",
        first_row(&tui)
    );
    // Inverted: the smallest first; inverted back: the largest again.
    tui.keys("i");
    tui.wait_for("ascending order", LONG, |_| {
        !first_row(&tui).contains("boxed-32k")
    });
    tui.keys("i");
    tui.wait_for("descending order", LONG, |_| {
        first_row(&tui).contains("boxed-32k")
    });
    // Sort by another column and back (l moves right, h left).
    tui.keys("l");
    tui.wait_for("sort on Polls", LONG, |s| s.contains("Polls▼"));
    tui.keys("h");
    tui.wait_for("sort on Size", LONG, |s| s.contains("Size▼"));
    // Filter on a name.
    tui.keys("/kilobyte\r");
    tui.wait_for("the filtered table", LONG, |s| {
        s.contains("1/1") && s.contains("filter: kilobyte")
    });
    assert!(first_row(&tui).contains("kilobyte"));
    tui.keys("\x1b");
    tui.wait_for("the filter cleared", LONG, |s| {
        !s.contains("filter: kilobyte")
    });
    // Details of the selected (largest) task, with the histograms from WatchTaskDetails.
    tui.keys("\r");
    tui.wait_for("details with histograms", LONG, |s| {
        s.contains("task details") && s.contains("boxed-32k") && s.contains("n 1  p50")
    });
    assert!(tui.text().contains("boxed"), "{}", tui.text());
    tui.keys("\x1b");
    tui.wait_for("back to the table", LONG, |s| !s.contains("task details"));
    tui.keys("?");
    tui.wait_for("help", LONG, |s| s.contains("keys (Esc closes)"));
    tui.keys("\x1b");
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    assert!(tui.restored(), "terminal not restored:\n{}", tui.text());
}

#[test]
fn target_exit_is_shown_and_data_kept() {
    let mut target = start_demo("sleepers", &["-n", "20"]);
    let pid = target.pid.to_string();
    let mut tui = spawn_tui(&["top", "--pid", &pid]);
    tui.wait_for("the tasks", LONG, |s| s.contains("boxed-32k"));
    let _ = target.child.kill();
    let _ = target.child.wait();
    tui.wait_for("the exit notice", LONG, |s| s.contains("target exited"));
    assert!(
        tui.text().contains("boxed-32k"),
        "data kept:\n{}",
        tui.text()
    );
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    assert!(tui.restored());
}

#[test]
fn sigterm_and_ctrl_c_restore_the_terminal() {
    let target = start_demo("sleepers", &["-n", "20"]);
    let pid = target.pid.to_string();
    let tui = spawn_tui(&["top", "--pid", &pid]);
    tui.wait_for("the tasks", LONG, |s| s.contains("boxed-32k"));
    let top_pid = tui.pid();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &top_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut tui = tui;
    assert_eq!(tui.wait_exit(LONG), 143);
    assert!(tui.restored(), "terminal not restored:\n{}", tui.text());

    let mut tui = spawn_tui(&["top", "--pid", &pid]);
    tui.wait_for("the tasks", LONG, |s| s.contains("boxed-32k"));
    tui.keys("\x03"); // Ctrl-C as the keyboard sends it in raw mode
    assert_eq!(tui.wait_exit(LONG), 0);
    assert!(tui.restored());
}

#[test]
fn a_process_without_console_is_watched_in_rss_only_mode() {
    // Any language: a Python process holding ~48 MiB.
    let mut py = std::process::Command::new("python3")
        .args([
            "-c",
            "import time; x = bytearray(48 * 1024 * 1024); time.sleep(120)",
        ])
        .spawn()
        .unwrap();
    let mut tui = spawn_tui(&["top", "--pid", &py.id().to_string()]);
    tui.wait_for("the RSS-only banner", LONG, |s| {
        s.contains("so RSS only")
            && s.contains("console_subscriber::init()")
            && s.contains("instrumentation none")
    });
    // The header's RSS holds the interpreter and the sleeping coroutines.
    tui.wait_for("its RSS", LONG, |s| {
        s.lines()
            .filter_map(|l| l.trim().strip_prefix("RSS "))
            .any(|rest| {
                rest.split(" MiB")
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|mib| mib >= 48.0)
            })
    });
    tui.keys("q");
    let code = tui.wait_exit(LONG);
    let _ = py.kill();
    let _ = py.wait();
    assert_eq!(code, 0);
    assert!(tui.restored());
}

#[test]
fn top_records_and_replay_plays_it_back() {
    let dir = std::env::temp_dir().join(format!("asyncmem-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("top.amrec");
    let file_arg = file.to_str().unwrap();
    let target = start_demo("sleepers", &["-n", "20"]);
    let mut tui = spawn_tui(&["top", "--addr", &target.addr(), "--record", file_arg]);
    tui.wait_for("the tasks", LONG, |s| s.contains("boxed-32k"));
    std::thread::sleep(Duration::from_secs(3));
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    drop(target);

    // Played back at 4x: the same tasks, then pause, rewind, step, jump to the end.
    let mut tui = spawn_tui(&["replay", file_arg, "--speed", "4"]);
    tui.wait_for("the replay header", LONG, |s| {
        s.contains("replay of") && s.contains("×4")
    });
    tui.wait_for("the tasks", LONG, |s| s.contains("boxed-32k"));
    tui.keys(" ");
    tui.wait_for("paused", LONG, |s| s.contains("⏸"));
    tui.keys("0");
    tui.wait_for("the start", LONG, |s| {
        s.contains("live tasks 0") && !s.contains("boxed-32k")
    });
    // Step update by update until the tasks are announced (the first updates may hold none).
    let mut steps = 0;
    while tui.text().contains("live tasks 0") {
        assert!(
            steps < 50,
            "stepping never showed the tasks:\n{}",
            tui.text()
        );
        tui.keys(".");
        steps += 1;
    }
    assert!(tui.text().contains("⏸"), "stepping keeps the replay paused");
    tui.keys("}");
    tui.wait_for("the end", LONG, |s| s.contains("boxed-32k"));
    tui.keys(">");
    tui.wait_for("double speed", LONG, |s| s.contains("×8"));
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    assert!(tui.restored(), "terminal not restored:\n{}", tui.text());

    // A recording cut mid-frame replays everything before the cut and says where it was cut.
    let bytes = std::fs::read(&file).unwrap();
    let cut = dir.join("cut.amrec");
    std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
    let mut tui = spawn_tui(&["replay", cut.to_str().unwrap(), "--speed", "16"]);
    tui.wait_for("the cut notice", LONG, |s| s.contains("cut at byte"));
    tui.wait_for("the tasks", LONG, |s| s.contains("boxed-32k"));
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_console_that_opens_late_is_picked_up_and_named() {
    // The same pid is first a shell (no console), then, after `exec`, the sleepers demo.
    let port = free_port();
    let script = format!(
        "sleep 3; exec {} --console-bind 127.0.0.1:{port} -n 20",
        demo_bin("sleepers").display()
    );
    // Killed on drop, also when an assertion fails (after `exec` the pid is the demo's).
    let late = Target {
        child: std::process::Command::new("sh")
            .args(["-c", &script])
            .env("TOKIO_CONSOLE_PUBLISH_INTERVAL", "100ms")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
        pid: 0,
        port,
    };
    let mut tui = spawn_tui(&["top", "--pid", &late.child.id().to_string()]);
    tui.wait_for("the RSS-only banner", LONG, |s| s.contains("so RSS only"));
    tui.wait_for("the tasks, once the console opened", LONG, |s| {
        s.contains("boxed-32k")
    });
    let endpoint = format!("127.0.0.1:{port}");
    tui.wait_for("the endpoint in the header", LONG, |s| {
        s.lines().next().is_some_and(|l| l.contains(&endpoint))
    });
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    drop(late);
}

/// The locations view's row for a location (the first row under the table's header naming it).
fn location_row(text: &str, location: &str) -> Option<String> {
    text.lines()
        .skip_while(|l| !(l.starts_with("Tasks") && l.contains("Location")))
        .find(|l| l.contains(location))
        .map(str::to_string)
}

#[test]
fn replay_jumps_to_a_spike_and_the_mark_shows_what_grew() {
    crate::common::demo_bin("spike");
    let dir = std::env::temp_dir().join(format!("asyncmem-spikes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("spike.amrec");
    let file_arg = file.to_str().unwrap();
    // A real recording of the spike demo: two bursts of 3,000 requests, 6 s apart.
    let status = std::process::Command::new(ASYNCMEM)
        .args([
            "record",
            "--demo",
            "spike",
            "-o",
            file_arg,
            "--duration",
            "14s",
        ])
        .args([
            "--",
            "--burst",
            "3000",
            "--period",
            "6s",
            "--first-after",
            "3s",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "record: {status}");

    let mut tui = spawn_tui(&["replay", file_arg, "--speed", "2", "--spike-window", "2s"]);
    tui.wait_for("the spikes found", LONG, |s| s.contains("spikes (n)"));
    // n: to the next spike's start (marked there), then its end; paused. The spikes are in
    // time order and a start-up rise can be one of the three (no task gained there): go on to
    // the steepest, which is one of the bursts.
    let mut steepest = 0;
    for i in 1..=3 {
        tui.keys("n");
        let at = format!("spike {i}/");
        tui.wait_for(&format!("at spike {i}"), LONG, |s| {
            s.contains(&at) && s.contains("since mark") && s.contains("⏸")
        });
        if tui.text().contains("#1 steepest") {
            steepest = i;
            break;
        }
    }
    assert!(steepest > 0, "no steepest spike:\n{}", tui.text());
    // The locations view: the requests' location gained tasks since the mark.
    tui.keys("g");
    tui.wait_for("the requests gained since the mark", LONG, |s| {
        s.contains("+Mark")
            && location_row(s, "spike.rs:").is_some_and(|r| {
                r.split_whitespace()
                    .any(|w| w.strip_prefix('+').and_then(|n| n.parse::<u64>().ok()) > Some(0))
            })
    });
    // The sparkline is drawn for the tracked locations.
    assert!(
        tui.text().contains("History") && tui.text().contains('█'),
        "{}",
        tui.text()
    );
    // Away to a neighbouring spike (n, or N from the last) and back.
    let (away, back, other) = if steepest == 1 {
        ("n", "N", 2)
    } else {
        ("N", "n", steepest - 1)
    };
    let (there, here) = (format!("spike {other}/"), format!("spike {steepest}/"));
    tui.keys(away);
    tui.wait_for("at the neighbouring spike", LONG, |s| s.contains(&there));
    tui.keys(back);
    tui.wait_for("back at the steepest", LONG, |s| s.contains(&here));
    // M clears the mark and its columns; m sets it again.
    tui.keys("M");
    tui.wait_for("no mark", LONG, |s| {
        !s.contains("since mark") && !s.contains("+Mark")
    });
    tui.keys("m");
    tui.wait_for("a mark again", LONG, |s| {
        s.contains("since mark") && s.contains("+Mark")
    });
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    assert!(tui.restored(), "terminal not restored:\n{}", tui.text());
    let _ = std::fs::remove_dir_all(&dir);
}
