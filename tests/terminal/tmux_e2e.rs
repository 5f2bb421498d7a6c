//! End to end in tmux, as a person would use it: `asyncmem top --demo` in a real terminal,
//! driven with `send-keys` and read with `capture-pane`. (.ci/run installs tmux.)

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "tmux is needed for this test (apt-get install tmux; .ci/run does it)"
        );
        Tmux {
            socket: format!("asyncmem-test-{}", std::process::id()),
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run `cmd` in the session `top`, 120x40, that `screen` reads.
    fn start(&self, cmd: &str) {
        self.tmux(&[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "120",
            "-y",
            "40",
            cmd,
        ]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "top"])
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "timed out waiting for {what}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[test]
fn top_demo_in_tmux_starts_its_demo_and_stops_it_on_quit() {
    crate::common::demo_bin("sleepers");
    let tmux = Tmux::new();
    let status = std::env::temp_dir().join(format!("asyncmem-tmux-{}.status", std::process::id()));
    let _ = std::fs::remove_file(&status);
    let cmd = format!(
        "{} top --demo sleepers -- -n 200 -b 4096; echo $? > {}; sleep 30",
        env!("CARGO_BIN_EXE_asyncmem"),
        status.display()
    );
    tmux.start(&cmd);
    tmux.wait_for("the demo's tasks", |s| {
        s.contains("boxed-32k") && s.contains("● connected")
    });
    let pid: i32 = tmux
        .screen()
        .lines()
        .next()
        .and_then(|l| l.split("pid ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the demo's pid in the header");
    assert!(PathBuf::from(format!("/proc/{pid}")).exists());
    // 4 KiB holders: the largest futures are the named ones, then the holders.
    tmux.wait_for("200 holders of 4 KiB", |s| {
        s.matches("4.2 KiB").count() >= 10
    });
    tmux.tmux(&[
        "send-keys",
        "-t",
        "top",
        "/",
        "s",
        "i",
        "x",
        "t",
        "e",
        "e",
        "n",
        "Enter",
    ]);
    tmux.wait_for("the filter", |s| {
        s.contains("sixteen-k") && !s.contains("boxed-32k")
    });
    tmux.tmux(&["send-keys", "-t", "top", "q"]);
    let start = Instant::now();
    while !status.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "top did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "0");
    // The demo it started is stopped (and reaped) with it.
    let gone = !PathBuf::from(format!("/proc/{pid}")).exists();
    assert!(gone, "the demo {pid} outlived top");
    let _ = std::fs::remove_file(&status);
}

/// Console updates a snapshot of the target at `addr` sees in 1.5 s.
fn updates_in_1500ms(addr: &str) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_asyncmem"))
        .args([
            "snapshot", "--addr", addr, "--wait", "1500ms", "--format", "json",
        ])
        .env_remove("ASYNCMEM_ADDR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["updates"].as_u64().expect("an updates count")
}

#[test]
fn the_terminal_going_away_resumes_the_target_top_paused() {
    let target = crate::common::start_demo("sleepers", &["-n", "10"]);
    let addr = target.addr();
    let before = updates_in_1500ms(&addr);
    assert!(before >= 3, "a live target sends updates: {before}");
    let tmux = Tmux::new();
    let cmd = format!("exec {} top --addr {addr}", env!("CARGO_BIN_EXE_asyncmem"));
    tmux.start(&cmd);
    tmux.wait_for("the connection", |s| s.contains("● connected"));
    tmux.tmux(&["send-keys", "-t", "top", "Space"]);
    tmux.wait_for("the pause", |s| s.contains("PAUSED"));
    let paused = updates_in_1500ms(&addr);
    assert!(paused * 2 < before, "Space pauses: {paused} vs {before}");
    // The pane's terminal closes: asyncmem gets SIGHUP and resumes the target on its way out.
    tmux.tmux(&["kill-session", "-t", "top"]);
    std::thread::sleep(Duration::from_secs(1));
    let after = updates_in_1500ms(&addr);
    assert!(
        after * 2 >= before,
        "the target stayed paused after its watcher's terminal went away: {after} vs {before}"
    );
}
