//! The fault suite (issue 11 item 16): the real asyncmem binary, as a black box, against real
//! processes that misbehave: fake console servers (`fakes/`, the `fake-console` binary), real
//! demo targets put in bad states, damaged recordings, absurd flags and a real terminal
//! (portable-pty read back through vt100). Each case asserts the exit code, that stderr names
//! the real cause, a bounded time (every child runs under a deadline and is killed past it) and,
//! where the input is large, a bounded peak memory (the child's VmHWM, read from /proc while it
//! runs). Cases that fail today are `#[ignore]`d with the issue 11 item and what is wrong.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};

// ---------------------------------------------------------------------------------------------
// Processes: the fakes, the demos, asyncmem itself.

fn built(package: &str, once: &'static OnceLock<()>, name: &str) -> PathBuf {
    once.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", package, "--bins"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building {package} failed");
    });
    PathBuf::from(env!("CARGO_BIN_EXE_asyncmem")).with_file_name(name)
}

fn fake_bin() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    built("asyncmem-fakes", &BUILT, "fake-console")
}

fn demo_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    built("asyncmem-demos", &BUILT, name)
}

/// A child process killed and reaped on drop.
struct Proc {
    child: Child,
    /// What it printed first (the fake's address, the demo's `pid=` line).
    first_line: String,
}

impl Proc {
    fn start(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a helper process");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut first_line)
            .expect("reading the helper's first line");
        Proc {
            child,
            first_line: first_line.trim().to_string(),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: &str) {
        signal(self.pid(), sig);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: i32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{sig} {pid} failed");
}

/// `fake-console` with `args` (e.g. `["--mode", "silent"]`); its URL is [`Fake::url`].
struct Fake(Proc);

impl Fake {
    fn start(args: &[&str]) -> Fake {
        let mut cmd = Command::new(fake_bin());
        cmd.args(args);
        let p = Proc::start(cmd);
        assert!(
            p.first_line.starts_with("127.0.0.1:"),
            "unexpected fake-console output {:?}",
            p.first_line
        );
        Fake(p)
    }

    fn hostile(kind: &str) -> Fake {
        Fake::start(&["--mode", "hostile", "--kind", kind])
    }

    fn url(&self) -> String {
        format!("http://{}", self.0.first_line)
    }
}

/// A demo target with its console on a free port, publishing every 100 ms.
fn start_demo(name: &str, args: &[&str]) -> (Proc, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut cmd = Command::new(demo_bin(name));
    cmd.args(["--console-bind", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("TOKIO_CONSOLE_PUBLISH_INTERVAL", "100ms");
    let p = Proc::start(cmd);
    assert!(p.first_line.starts_with("pid="), "{:?}", p.first_line);
    (p, format!("http://127.0.0.1:{port}"))
}

/// What one asyncmem run did.
struct Run {
    /// None: killed by a signal.
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
    /// Peak resident memory (VmHWM), KiB, as last read before it exited.
    hwm_kib: u64,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("code", &self.code)
            .field("stdout", &self.out())
            .field("stderr", &self.stderr)
            .field("elapsed", &self.elapsed)
            .field("hwm_kib", &self.hwm_kib)
            .finish()
    }
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, Some(0), "asyncmem failed: {self:?}");
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.out()))
    }

    fn no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked"),
            "asyncmem panicked: {}",
            self.stderr
        );
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Run asyncmem with `args` and `env`, no terminal, killed (and the test failed) past `limit`.
fn run_env(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_asyncmem"));
    cmd.args(args)
        .env_remove("ASYNCMEM_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("starting asyncmem");
    let out = spawn_reader(child.stdout.take().expect("stdout"));
    let err = spawn_reader(child.stderr.take().expect("stderr"));
    let mut hwm_kib = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            hwm_kib = hwm_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("waiting for asyncmem") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            panic!("asyncmem {args:?} still running after {limit:?}; stderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned(),
        elapsed: start.elapsed(),
        hwm_kib,
    }
}

fn run(args: &[&str], limit: Duration) -> Run {
    run_env(args, &[], limit)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("asyncmem-faults-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// Peak memory allowed to asyncmem on the hostile inputs below (each is bounded by
/// `--max-tasks` or small; a leak or an unbounded buffer passes it quickly).
const MEMORY_BOUND_KIB: u64 = 512 * 1024;

// ---------------------------------------------------------------------------------------------
// A real terminal.

const ROWS: u16 = 40;
const COLS: u16 = 120;

struct Tui {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    _master: Box<dyn MasterPty + Send>,
}

impl Tui {
    /// `program args` in a fresh pty of ROWS x COLS.
    fn spawn(program: &str, args: &[&str]) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pty");
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("ASYNCMEM_ADDR");
        let child = pair.slave.spawn_command(cmd).expect("spawning in the pty");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            ROWS.try_into().expect("rows"),
            COLS.try_into().expect("cols"),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (feed, keep) = (screen.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut p) = feed.lock() {
                    p.process(&buf[..n]);
                }
                if let Ok(mut r) = keep.lock() {
                    r.extend_from_slice(&buf[..n]);
                }
            }
        });
        Tui {
            child,
            writer,
            screen,
            raw,
            _master: pair.master,
        }
    }

    fn asyncmem(args: &[&str]) -> Tui {
        Tui::spawn(env!("CARGO_BIN_EXE_asyncmem"), args)
    }

    fn pid(&self) -> i32 {
        self.child.process_id().expect("a pid") as i32
    }

    fn text(&self) -> String {
        self.screen.lock().expect("screen").screen().contents()
    }

    fn raw(&self) -> Vec<u8> {
        self.raw.lock().expect("raw").clone()
    }

    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let text = self.text();
            if pred(&text) {
                return;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; screen:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("typing");
        self.writer.flush().expect("typing");
        std::thread::sleep(Duration::from_millis(150));
    }

    /// The exit code, or None if it is still running after `timeout`.
    fn exit_within(&mut self, timeout: Duration) -> Option<u32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting") {
                return Some(status.exit_code());
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> u32 {
        match self.exit_within(timeout) {
            Some(code) => code,
            None => {
                let _ = self.child.kill();
                panic!("did not exit within {timeout:?}; screen:\n{}", self.text());
            }
        }
    }

    /// Main screen, cursor shown, and the bytes that leave the alternate screen were written.
    fn assert_restored(&self) {
        let start = Instant::now();
        loop {
            let ok = {
                let p = self.screen.lock().expect("screen");
                !p.screen().alternate_screen() && !p.screen().hide_cursor()
            };
            let left = contains(&self.raw(), b"\x1b[?1049l");
            if ok && left {
                return;
            }
            if start.elapsed() > secs(3) {
                panic!(
                    "terminal not restored (alternate screen left: {left}); screen:\n{}",
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// No terminal control byte other than newline (and none of ESC, BEL, CR) in `bytes`.
fn assert_no_control(what: &str, bytes: &[u8]) {
    let bad: Vec<(usize, u8)> = bytes
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, b)| (b < 0x20 && b != b'\n') || b == 0x7f)
        .take(5)
        .collect();
    assert!(
        bad.is_empty(),
        "{what} holds raw control bytes {bad:?}:\n{}",
        String::from_utf8_lossy(bytes)
    );
}

// ---------------------------------------------------------------------------------------------
// Wrong pids.

#[test]
fn no_such_pid_exits_3_naming_the_pid() {
    let pid_max: i32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    let pid = (2..pid_max)
        .rev()
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .expect("a free pid");
    let r = run(&["snapshot", "--pid", &pid.to_string()], secs(10));
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.stderr.contains(&format!("no process with pid {pid}")),
        "{}",
        r.stderr
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn pid_1_is_not_a_console_or_not_permitted() {
    let r = run(
        &["snapshot", "--pid", "1", "--connect-timeout", "1s"],
        secs(15),
    );
    if is_root() {
        // Root can read pid 1's sockets: it is simply not a tokio console process.
        assert_eq!(r.code, Some(4), "{r:?}");
        assert!(
            r.stderr.contains("no tokio console endpoint"),
            "{}",
            r.stderr
        );
    } else {
        assert_eq!(r.code, Some(6), "{r:?}");
        assert!(r.stderr.contains("permission denied"), "{}", r.stderr);
    }
}

#[test]
#[ignore = "issue 11 item 12: --pid of a thread id attaches and reports the thread id as the pid"]
fn thread_id_is_refused_or_resolved_to_its_process() {
    let (demo, _) = start_demo("sleepers", &["-n", "10"]);
    let tid = std::fs::read_dir(format!("/proc/{}/task", demo.pid()))
        .expect("the demo's threads")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|&t| t != demo.pid())
        .expect("a thread other than the main one");
    let r = run(
        &["snapshot", "--pid", &tid.to_string(), "--format", "json"],
        secs(20),
    );
    if r.code == Some(0) {
        let json = r.json();
        assert_eq!(
            json["target"]["pid"].as_i64().or(json["pid"].as_i64()),
            Some(demo.pid() as i64),
            "thread {tid} of {} reported as: {}",
            demo.pid(),
            r.out()
        );
    } else {
        assert_eq!(r.code, Some(3), "{r:?}");
        assert!(r.stderr.contains("thread"), "{}", r.stderr);
    }
}

#[test]
#[ignore = "issue 11 item 5: a SIGSTOPped target gets exit 4 'has no tokio console endpoint ... add console-subscriber'"]
fn stopped_target_is_named_as_stopped() {
    let (demo, _) = start_demo("sleepers", &["-n", "10"]);
    demo.signal("STOP");
    let r = run(
        &[
            "snapshot",
            "--pid",
            &demo.pid().to_string(),
            "--connect-timeout",
            "1s",
            "--timeout",
            "2s",
        ],
        secs(15),
    );
    demo.signal("CONT");
    assert_ne!(r.code, Some(0), "{r:?}");
    assert_ne!(
        r.code,
        Some(4),
        "a stopped target is not an uninstrumented one: {r:?}"
    );
    assert!(r.stderr.contains("stopped"), "{}", r.stderr);
    assert!(!r.stderr.contains("console-subscriber"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Servers that are not tokio consoles.

fn not_a_console(mode: &str) {
    let fake = Fake::start(&["--mode", mode]);
    let r = run(
        &["snapshot", "--addr", &fake.url(), "--connect-timeout", "1s"],
        secs(10),
    );
    assert!(matches!(r.code, Some(5) | Some(8)), "{mode}: {r:?}");
    assert!(
        r.stderr.contains(&fake.url()) && r.stderr.contains("not a tokio console endpoint"),
        "{mode}: {}",
        r.stderr
    );
    // Within the connect timeout, with some slack for a loaded machine.
    assert!(r.elapsed < secs(4), "{mode}: took {:?}", r.elapsed);
}

#[test]
fn silent_server_is_not_a_console_within_the_connect_timeout() {
    not_a_console("silent");
}

#[test]
fn garbage_server_is_not_a_console() {
    not_a_console("garbage");
}

#[test]
fn http1_server_is_not_a_console() {
    not_a_console("http1");
}

#[test]
fn silent_listener_of_a_pid_is_bounded_by_the_connect_timeout() {
    let fake = Fake::start(&["--mode", "silent"]);
    let r = run(
        &[
            "snapshot",
            "--pid",
            &fake.0.pid().to_string(),
            "--connect-timeout",
            "1s",
        ],
        secs(10),
    );
    assert!(matches!(r.code, Some(4) | Some(5)), "{r:?}");
    assert!(r.elapsed < secs(4), "took {:?}", r.elapsed);
}

#[test]
#[ignore = "issue 11 item 5: --pid tries a process's listeners one after another: 6 silent listeners with --connect-timeout 1s take 6 s"]
fn silent_listeners_of_a_pid_are_tried_at_once() {
    let fake = Fake::start(&["--mode", "silent", "--listeners", "6"]);
    let r = run(
        &[
            "snapshot",
            "--pid",
            &fake.0.pid().to_string(),
            "--connect-timeout",
            "1s",
        ],
        secs(20),
    );
    assert!(matches!(r.code, Some(4) | Some(5)), "{r:?}");
    assert!(r.elapsed < secs(3), "took {:?}", r.elapsed);
}

// ---------------------------------------------------------------------------------------------
// Servers that speak the protocol but send hostile content.

/// `snapshot` of one update announcing `n` tasks (with their stats), under `--max-tasks max`.
fn one_huge_update(n: u64, max: u64, limit: Duration) -> (Run, serde_json::Value) {
    let fake = Fake::start(&[
        "--mode",
        "hostile",
        "--kind",
        "million",
        "--tasks",
        &n.to_string(),
    ]);
    let wait = format!("{}s", limit.as_secs());
    let r = run(
        &[
            "snapshot",
            "--addr",
            &fake.url(),
            "--max-tasks",
            &max.to_string(),
            "--connect-timeout",
            &wait,
            "--timeout",
            &wait,
            "--format",
            "json",
            "--limit",
            "0",
        ],
        limit + secs(10),
    );
    r.no_panic();
    let json = r.json();
    let tasks = json["tasks"].as_array().expect("tasks").len() as u64;
    assert!(tasks <= max, "{tasks} tasks tracked past --max-tasks {max}");
    assert_eq!(
        json["live_tasks"].as_u64(),
        Some(max),
        "{}",
        json["warnings"]
    );
    assert!(
        json["warnings"].to_string().contains("over --max-tasks"),
        "the tasks not tracked are not said: {}",
        json["warnings"]
    );
    (r, json)
}

#[test]
fn one_update_with_far_more_tasks_than_max_tasks_stays_within_the_bound() {
    let (r, _) = one_huge_update(100_000, 1000, secs(40));
    assert!(
        r.hwm_kib < MEMORY_BOUND_KIB,
        "peak memory {} KiB",
        r.hwm_kib
    );
}

#[test]
#[ignore = "issue 11 item 16: a million tasks in one update: not done within the test's 160 s here (by hand: 109 s, 1.5 GiB peak RSS, in a debug build), and the warnings count 1,980,000 not tracked plus 990,000 'never announced' (each untracked task counted twice, its stats as unannounced)"]
fn a_million_new_tasks_in_one_update_are_counted_once_within_memory() {
    let (n, max) = (1_000_000, 10_000);
    let (r, json) = one_huge_update(n, max, secs(150));
    let warnings = json["warnings"].as_array().expect("warnings");
    let untracked = warnings
        .iter()
        .find(|w| w["kind"] == "task_limit")
        .and_then(|w| w["count"].as_u64());
    assert_eq!(untracked, Some(n - max), "{warnings:?}");
    assert!(
        !warnings.iter().any(|w| w["kind"] == "unannounced_stats"),
        "every task was announced: {warnings:?}"
    );
    assert!(
        r.hwm_kib < MEMORY_BOUND_KIB,
        "peak memory {} KiB",
        r.hwm_kib
    );
}

#[test]
fn reused_ids_stay_within_max_tasks_and_memory() {
    let fake = Fake::hostile("reuse");
    let r = run(
        &[
            "snapshot",
            "--addr",
            &fake.url(),
            "--max-tasks",
            "500",
            "--wait",
            "2s",
            "--format",
            "json",
            "--limit",
            "0",
        ],
        secs(20),
    );
    r.no_panic();
    let json = r.json();
    let tasks = json["tasks"].as_array().expect("tasks").len();
    assert!(tasks <= 500, "{tasks} tasks tracked past --max-tasks 500");
    assert!(
        r.hwm_kib < MEMORY_BOUND_KIB,
        "peak memory {} KiB",
        r.hwm_kib
    );
}

#[test]
fn stats_for_unannounced_ids_make_no_tasks() {
    let fake = Fake::hostile("unannounced");
    let r = run(
        &[
            "snapshot",
            "--addr",
            &fake.url(),
            "--wait",
            "1500ms",
            "--format",
            "json",
            "--limit",
            "0",
        ],
        secs(20),
    );
    r.no_panic();
    let json = r.json();
    let names: Vec<&str> = json["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names.len(), 10, "only the 10 announced tasks: {names:?}");
    assert!(names.iter().all(|n| n.starts_with("known-")), "{names:?}");
    assert!(
        r.hwm_kib < MEMORY_BOUND_KIB,
        "peak memory {} KiB",
        r.hwm_kib
    );
}

#[test]
#[ignore = "issue 11 item 10: the snapshot table writes task names and locations raw (ESC [2J, OSC title, BEL, CR, newline)"]
fn snapshot_table_escapes_control_characters() {
    let fake = Fake::hostile("escapes");
    let r = run(
        &["snapshot", "--addr", &fake.url(), "--limit", "0"],
        secs(15),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_no_control("the snapshot table", &r.stdout);
    // "two\nlines" stays on one row.
    assert!(
        !r.out().lines().any(|l| l.trim_start().starts_with("lines")),
        "a task name split the table:\n{}",
        r.out()
    );
    assert!(r.out().contains("clear"), "{}", r.out());
}

#[test]
fn snapshot_json_keeps_hostile_names_exactly() {
    let fake = Fake::hostile("escapes");
    let r = run(
        &["snapshot", "--addr", &fake.url(), "--format", "json"],
        secs(15),
    );
    let json = r.json();
    let names: Vec<&str> = json["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for want in [
        "clear\x1b[2Jscreen",
        "title\x1b]0;pwned\x07set",
        "two\nlines",
    ] {
        assert!(names.contains(&want), "{want:?} not in {names:?}");
    }
}

#[test]
fn top_escapes_control_characters() {
    let fake = Fake::hostile("escapes");
    let mut tui = Tui::asyncmem(&["top", "--addr", &fake.url()]);
    tui.wait_for("the hostile tasks", secs(15), |s| s.contains("clear"));
    std::thread::sleep(Duration::from_millis(500));
    let raw = tui.raw();
    assert!(
        !contains(&raw, b"\x1b]0;pwned"),
        "the OSC title reached the terminal"
    );
    assert!(
        !contains(&raw, b"clear\x1b[2J"),
        "ESC [2J reached the terminal"
    );
    assert!(!contains(&raw, b"bell\x07"), "BEL reached the terminal");
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(5)), 0);
    tui.assert_restored();
}

#[test]
#[ignore = "issue 11 item 16: a snapshot of 8 tasks with 1 MiB names (and locations) takes 3 to 8 s in a debug build (0.3 s with short names)"]
fn megabyte_names_are_handled_in_bounded_time_and_memory() {
    let fake = Fake::hostile("huge-names");
    let r = run(
        &["snapshot", "--addr", &fake.url(), "--limit", "0"],
        secs(30),
    );
    r.no_panic();
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.elapsed < secs(3), "took {:?}", r.elapsed);
    assert!(
        r.hwm_kib < MEMORY_BOUND_KIB,
        "peak memory {} KiB",
        r.hwm_kib
    );
}

#[test]
fn timestamps_backwards_far_ahead_and_out_of_range_do_not_panic() {
    let fake = Fake::hostile("time");
    let r = run(
        &[
            "snapshot",
            "--addr",
            &fake.url(),
            "--wait",
            "1s",
            "--format",
            "json",
        ],
        secs(15),
    );
    r.no_panic();
    let json = r.json();
    assert_eq!(
        json["tasks"].as_array().expect("tasks").len(),
        10,
        "{json:#}"
    );
    // And the table and the TUI draw it.
    let r = run(&["snapshot", "--addr", &fake.url()], secs(15));
    r.no_panic();
    assert_eq!(r.code, Some(0), "{r:?}");
    let mut tui = Tui::asyncmem(&["top", "--addr", &fake.url()]);
    tui.wait_for("the tasks", secs(15), |s| s.contains("time-1"));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(tui.exit_within(Duration::ZERO), None, "{}", tui.text());
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(5)), 0);
    tui.assert_restored();
}

#[test]
fn histograms_that_do_not_decode_leave_the_details_view_drawing() {
    let fake = Fake::hostile("histograms");
    let mut tui = Tui::asyncmem(&["top", "--addr", &fake.url()]);
    tui.wait_for("the tasks", secs(15), |s| s.contains("small-"));
    tui.keys("\r");
    tui.wait_for("the details view", secs(5), |s| s.contains("task details"));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(tui.exit_within(Duration::ZERO), None, "{}", tui.text());
    assert!(tui.text().contains("task details"), "{}", tui.text());
    tui.keys("\x1b");
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(5)), 0);
    tui.assert_restored();
}

#[test]
fn a_flood_of_updates_keeps_top_responsive_and_bounded() {
    let fake = Fake::hostile("flood");
    let mut tui = Tui::asyncmem(&["top", "--addr", &fake.url()]);
    tui.wait_for("the tasks", secs(15), |s| s.contains("flood-"));
    // Still drawing: the help overlay opens while the flood goes on.
    tui.keys("?");
    tui.wait_for("the help", secs(3), |s| s.contains("keys (Esc closes)"));
    let pid = tui.pid() as u32;
    let hwm = vm_hwm_kib(pid).unwrap_or(0);
    tui.keys("\x1b");
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(3)), 0, "q must work under a flood");
    tui.assert_restored();
    assert!(hwm < MEMORY_BOUND_KIB, "peak memory {hwm} KiB");
    // And a snapshot ends promptly.
    let r = run(&["snapshot", "--addr", &fake.url()], secs(10));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.elapsed < secs(5), "took {:?}", r.elapsed);
}

// ---------------------------------------------------------------------------------------------
// A target that exits.

#[test]
fn top_says_target_exited() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "1500"]);
    let pid = fake.0.pid().to_string();
    let mut tui = Tui::asyncmem(&["top", "--pid", &pid]);
    tui.wait_for("the tasks", secs(15), |s| s.contains("small-"));
    tui.wait_for("target exited", secs(10), |s| s.contains("target exited"));
    assert!(tui.text().contains("small-1"), "data kept:\n{}", tui.text());
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(5)), 0);
    tui.assert_restored();
}

#[test]
#[ignore = "issue 11 item 7: snapshot --wait exits 0 silently when the target dies mid-wait"]
fn snapshot_wait_says_the_target_exited() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "1000"]);
    let pid = fake.0.pid().to_string();
    let r = run(&["snapshot", "--pid", &pid, "--wait", "5s"], secs(15));
    assert!(r.stderr.contains("exited"), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// Recordings.

/// A short recording of the small fake picture.
fn recording(dir: &Path) -> PathBuf {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    let file = dir.join("good.amrec");
    let r = run(
        &[
            "record",
            "--addr",
            &fake.url(),
            "-o",
            file.to_str().expect("utf-8 path"),
            "--duration",
            "1500ms",
        ],
        secs(15),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    file
}

/// Whether `replay FILE` in a pty refuses the file (exits non-zero at once) or plays it.
fn replay_refuses(file: &Path) -> bool {
    let mut tui = Tui::asyncmem(&["replay", file.to_str().expect("utf-8 path")]);
    match tui.exit_within(secs(3)) {
        Some(code) => code != 0,
        None => {
            tui.keys("q");
            tui.wait_exit(secs(5));
            tui.assert_restored();
            false
        }
    }
}

#[test]
#[ignore = "issue 11 item 14: replay plays a damaged recording that snapshot --from refuses (exit 10)"]
fn damaged_recordings_get_one_policy_in_replay_and_snapshot() {
    let dir = tempdir("damaged");
    let good = recording(&dir);
    let bytes = std::fs::read(&good).expect("the recording");
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    let cases = [
        ("truncated", bytes[..bytes.len() * 2 / 3].to_vec()),
        ("flipped", flipped),
    ];
    for (name, content) in cases {
        let file = dir.join(format!("{name}.amrec"));
        std::fs::write(&file, content).expect("writing");
        let path = file.to_str().expect("utf-8 path");
        let snap = run(&["snapshot", "--from", path], secs(10));
        snap.no_panic();
        let snapshot_refuses = snap.code != Some(0);
        if snapshot_refuses {
            assert_eq!(snap.code, Some(10), "{name}: {snap:?}");
        }
        assert_eq!(
            replay_refuses(&file),
            snapshot_refuses,
            "{name}: replay and snapshot --from disagree (snapshot: {snap:?})"
        );
    }
}

#[test]
fn a_recording_replays_and_snapshots() {
    let dir = tempdir("good");
    let good = recording(&dir);
    let path = good.to_str().expect("utf-8 path");
    let r = run(&["snapshot", "--from", path], secs(10));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.out().contains("small-1"), "{}", r.out());
    let mut tui = Tui::asyncmem(&["replay", path]);
    tui.wait_for("the recorded tasks", secs(10), |s| s.contains("small-"));
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(5)), 0);
    tui.assert_restored();
}

#[test]
#[ignore = "issue 11 item 14: replay of a pipe (<(cat file)) shows nothing: it reads the file twice"]
fn replay_of_a_pipe_plays_or_refuses() {
    let dir = tempdir("pipe");
    let good = recording(&dir);
    let script = format!(
        "exec {} replay <(cat {})",
        env!("CARGO_BIN_EXE_asyncmem"),
        good.display()
    );
    let mut tui = Tui::spawn("bash", &["-c", &script]);
    let start = Instant::now();
    loop {
        if tui.text().contains("small-") {
            tui.keys("q");
            assert_eq!(tui.wait_exit(secs(5)), 0);
            tui.assert_restored();
            return;
        }
        if let Some(code) = tui.exit_within(Duration::ZERO) {
            assert_eq!(code, 10, "{}", tui.text());
            assert!(tui.text().contains("pipe"), "{}", tui.text());
            return;
        }
        assert!(
            start.elapsed() < secs(8),
            "replay of a pipe neither plays nor refuses:\n{}",
            tui.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn record_onto_a_full_device_says_so_at_once() {
    let fake = Fake::hostile("flood");
    let r = run(
        &[
            "record",
            "--addr",
            &fake.url(),
            "-o",
            "/dev/full",
            "--overwrite",
            "--duration",
            "10s",
        ],
        secs(15),
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("No space left"), "{}", r.stderr);
    assert!(r.elapsed < secs(3), "took {:?}", r.elapsed);
}

// ---------------------------------------------------------------------------------------------
// Absurd flags.

fn usage_error(args: &[&str], names: &str) {
    let r = run(args, secs(10));
    r.no_panic();
    assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
    assert!(r.stderr.contains(names), "{args:?}: {}", r.stderr);
}

#[test]
#[ignore = "issue 11 item 12: --timeout 300000000000y panics (duration overflow), exit 101"]
fn huge_timeout_is_a_usage_error() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    usage_error(
        &[
            "snapshot",
            "--addr",
            &fake.url(),
            "--timeout",
            "300000000000y",
        ],
        "--timeout",
    );
}

#[test]
#[ignore = "issue 11 item 12: record --duration 300000000000y panics (duration overflow), exit 101"]
fn huge_record_duration_is_a_usage_error() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    let dir = tempdir("duration");
    let file = dir.join("r.amrec");
    usage_error(
        &[
            "record",
            "--addr",
            &fake.url(),
            "-o",
            file.to_str().expect("utf-8 path"),
            "--duration",
            "300000000000y",
        ],
        "--duration",
    );
}

#[test]
#[ignore = "issue 11 item 12: --max-message-size 0 ends in exit 9 'waiting for the first console update ... timed out' after --timeout (15 s by default), never naming the cause"]
fn max_message_size_too_small_is_named() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    let r = run(
        &[
            "snapshot",
            "--addr",
            &fake.url(),
            "--max-message-size",
            "0",
            "--timeout",
            "5s",
        ],
        secs(15),
    );
    r.no_panic();
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("max-message-size"), "{}", r.stderr);
    assert!(r.elapsed < secs(3), "took {:?}", r.elapsed);
}

#[test]
#[ignore = "issue 11 item 12: --addr 'http://[::1' is reported as unreachable (exit 8), not a bad address"]
fn malformed_addr_is_a_bad_address() {
    usage_error(&["snapshot", "--addr", "http://[::1"], "bad address");
}

#[test]
#[ignore = "issue 11 item 12: an unknown --demo name is a 'bad address' with the address hint '(expected http://HOST:PORT or file:///PATH)' after the list of demos"]
fn unknown_demo_lists_the_demos() {
    let r = run(&["snapshot", "--demo", "no-such-demo"], secs(10));
    r.no_panic();
    assert_eq!(r.code, Some(2), "{r:?}");
    for demo in ["sleepers", "busy", "spike", "leak", "fat-vs-slim"] {
        assert!(r.stderr.contains(demo), "{demo} not listed: {}", r.stderr);
    }
    assert!(
        !r.stderr.contains("http://"),
        "the address hint: {}",
        r.stderr
    );
}

#[test]
#[ignore = "issue 11 item 12: record -o DIR suggests --overwrite"]
fn record_to_a_directory_says_it_is_a_directory() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    let dir = tempdir("outdir");
    let r = run(
        &[
            "record",
            "--addr",
            &fake.url(),
            "-o",
            dir.to_str().expect("utf-8 path"),
            "--duration",
            "1s",
        ],
        secs(10),
    );
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("directory"), "{}", r.stderr);
    assert!(!r.stderr.contains("--overwrite"), "{}", r.stderr);
}

#[test]
#[ignore = "issue 11 item 12: --at without --from is ignored (here: exit 8, cannot reach the address)"]
fn at_without_from_is_a_usage_error() {
    usage_error(
        &["snapshot", "--addr", "http://127.0.0.1:1", "--at", "1s"],
        "--from",
    );
}

#[test]
#[ignore = "issue 11 item 12: ASYNCMEM_ADDR in the environment makes snapshot --pid fail with 'cannot be used with --addr'"]
fn asyncmem_addr_does_not_beat_an_explicit_pid() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    let pid = fake.0.pid().to_string();
    let r = run_env(
        &["snapshot", "--pid", &pid, "--format", "json"],
        &[("ASYNCMEM_ADDR", "http://127.0.0.1:1")],
        secs(15),
    );
    let json = r.json();
    assert_eq!(
        json["tasks"].as_array().expect("tasks").len(),
        5,
        "{json:#}"
    );
}

#[test]
fn asyncmem_addr_is_used_without_a_flag() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    let r = run_env(
        &["snapshot", "--format", "json"],
        &[("ASYNCMEM_ADDR", &fake.url())],
        secs(15),
    );
    let json = r.json();
    assert_eq!(
        json["tasks"].as_array().expect("tasks").len(),
        5,
        "{json:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Pipes, signals and terminals.

#[test]
#[ignore = "issue 11 item 12: snapshot | head exits 1 with 'Broken pipe'"]
fn snapshot_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let fake = Fake::hostile("reuse");
    let mut child = Command::new(env!("CARGO_BIN_EXE_asyncmem"))
        .args(["snapshot", "--addr", &fake.url(), "--limit", "0"])
        .env_remove("ASYNCMEM_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting asyncmem");
    let err = spawn_reader(child.stderr.take().expect("stderr"));
    {
        // What `head -1` does: read one line, close the pipe.
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the first line");
        assert!(line.contains("asyncmem snapshot"), "{line:?}");
    }
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting") {
            break s;
        }
        if start.elapsed() > secs(15) {
            let _ = child.kill();
            panic!("asyncmem did not end after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert!(
        status.code() == Some(0) || status.code() == Some(141) || status.signal() == Some(13),
        "{status:?}: {stderr}"
    );
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
}

fn top_restores_the_terminal_on(sig: &str) -> u32 {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    let mut tui = Tui::asyncmem(&["top", "--addr", &fake.url()]);
    tui.wait_for("the tasks", secs(15), |s| s.contains("small-"));
    signal(tui.pid(), sig);
    let code = tui.wait_exit(secs(5));
    tui.assert_restored();
    code
}

#[test]
fn sigterm_to_top_restores_the_terminal() {
    assert_eq!(top_restores_the_terminal_on("TERM"), 143);
}

#[test]
#[ignore = "issue 11 item 13: SIGHUP leaves raw mode, no echo and the alternate screen on"]
fn sighup_to_top_restores_the_terminal() {
    top_restores_the_terminal_on("HUP");
}

#[test]
#[ignore = "issue 11 item 13: SIGQUIT leaves raw mode, no echo and the alternate screen on"]
fn sigquit_to_top_restores_the_terminal() {
    top_restores_the_terminal_on("QUIT");
}

#[test]
#[ignore = "issue 11 item 13: top with no terminal writes an escape sequence to stdout"]
fn top_without_a_terminal_writes_nothing_to_stdout() {
    let fake = Fake::start(&["--mode", "exit-after", "--after", "60000"]);
    let r = run(&["top", "--addr", &fake.url()], secs(10));
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.is_empty(), "stdout: {:?}", r.out());
    assert!(r.stderr.contains("terminal"), "{}", r.stderr);
}

/// Console updates a snapshot sees in `wait` from the demo at `addr`.
fn updates_seen(addr: &str, wait: &str) -> u64 {
    let r = run(
        &[
            "snapshot", "--addr", addr, "--wait", wait, "--format", "json",
        ],
        secs(20),
    );
    r.json()["updates"].as_u64().expect("an updates count")
}

#[test]
#[ignore = "issue 11 item 4: quitting top after Space leaves the target's aggregator paused"]
fn top_pause_then_quit_leaves_the_target_running() {
    let (_demo, addr) = start_demo("sleepers", &["-n", "10"]);
    let before = updates_seen(&addr, "1500ms");
    assert!(before >= 3, "a live target sends updates: {before}");
    let mut tui = Tui::asyncmem(&["top", "--addr", &addr]);
    tui.wait_for("connected", secs(20), |s| s.contains("connected"));
    tui.keys(" ");
    tui.wait_for("paused", secs(5), |s| s.contains("PAUSED"));
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(5)), 0);
    tui.assert_restored();
    let after = updates_seen(&addr, "1500ms");
    assert!(
        after * 2 >= before,
        "the target stayed paused: {after} updates in 1.5 s after quitting, {before} before"
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 11 item 15: the probe on a Unix socket.

/// A probe-instrumented demo serving on the Unix socket `sock` (`TOKIO_CONSOLE_BIND=file://`).
fn start_probe_demo_on(sock: &Path) -> Proc {
    let mut cmd = Command::new(demo_bin("sleepers"));
    cmd.args(["--instrument", "probe", "-n", "30"])
        .env("TOKIO_CONSOLE_BIND", format!("file://{}", sock.display()))
        .env("TOKIO_CONSOLE_PUBLISH_INTERVAL", "100ms");
    let p = Proc::start(cmd);
    assert!(
        p.first_line.starts_with("pid=") && p.first_line.contains("console=file://"),
        "{:?}",
        p.first_line
    );
    p
}

/// `snapshot` of the demo at `addr`: its live task count.
fn live_tasks_at(args: &[&str]) -> u64 {
    let mut all = vec!["snapshot"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let r = run(&all, secs(30));
    r.no_panic();
    let json = r.json();
    assert_eq!(json["instrumentation"]["name"], "asyncmem-probe", "{json}");
    json["live_tasks"].as_u64().expect("live_tasks")
}

#[test]
fn probe_serves_on_a_unix_socket_that_snapshot_attaches_to() {
    let dir = tempdir("probe-uds");
    let sock = dir.join("console.sock");
    let demo = start_probe_demo_on(&sock);
    let addr = format!("file://{}", sock.display());
    assert!(live_tasks_at(&["--addr", &addr]) >= 30);
    // Found from the pid too (its listening Unix socket in /proc/PID/net/unix).
    assert!(live_tasks_at(&["--pid", &demo.pid().to_string()]) >= 30);
    drop(demo);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn probe_replaces_a_stale_socket_file() {
    let dir = tempdir("probe-stale");
    let sock = dir.join("console.sock");
    // A socket file nobody listens on, as a killed process leaves it.
    drop(std::os::unix::net::UnixListener::bind(&sock).expect("binding a socket"));
    assert!(sock.exists());
    let _demo = start_probe_demo_on(&sock);
    assert!(live_tasks_at(&["--addr", &format!("file://{}", sock.display())]) >= 30);
    let _ = std::fs::remove_dir_all(&dir);
}
