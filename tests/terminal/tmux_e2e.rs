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
        // One server per test: tests of this binary run at once, and each kills its own.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Tmux {
            socket: format!("asyncmem-test-{}-{n}", std::process::id()),
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
        self.start_sized(cmd, 120, 40);
    }

    /// Run `cmd` in the session `top`, `width` x `height`.
    fn start_sized(&self, cmd: &str, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        self.tmux(&["new-session", "-d", "-s", "top", "-x", &w, "-y", &h, cmd]);
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

#[test]
fn at_80x24_the_header_wraps_and_the_tables_keep_what_a_lesson_needs() {
    crate::common::demo_bin("sleepers");
    let tmux = Tmux::new();
    let cmd = format!(
        "exec {} top --demo sleepers -- -n 200",
        env!("CARGO_BIN_EXE_asyncmem")
    );
    tmux.start_sized(&cmd, 80, 24);
    // The instrumentation's cost, past 80 columns on one line, is on a row of its own.
    tmux.wait_for("the header, wrapped", |s| {
        s.contains("boxed-32k") && s.lines().any(|l| l.trim_end().ends_with("/task)"))
    });
    let screen = tmux.screen();
    assert!(screen.lines().all(|l| l.chars().count() <= 80), "{screen}");
    // The busy lesson sorts by Wakes: it stays, and the table says what it hides.
    for _ in 0..5 {
        tmux.tmux(&["send-keys", "-t", "top", "Right"]);
    }
    tmux.wait_for("Wakes kept", |s| {
        s.contains("Wakes▼") && s.contains("cols: ←→")
    });
    // The locations view keeps its Location column.
    tmux.tmux(&["send-keys", "-t", "top", "g"]);
    tmux.wait_for("locations with their location", |s| {
        s.contains("Sum▼") && s.contains("sleepers.rs:")
    });
    tmux.tmux(&["send-keys", "-t", "top", "q"]);
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
