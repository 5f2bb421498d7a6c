//! The fault suite (issue 11 item 16): the real asyncmem binary, as a black box, against real
//! processes that misbehave: fake console servers (`fakes/`, the `fake-console` binary), real
//! demo targets put in bad states, damaged recordings, absurd flags and a real terminal
//! (portable-pty read back through vt100). Each case asserts the exit code, that stderr names
//! the real cause, a bounded time (every child runs under a deadline and is killed past it) and,
//! where the input is large, a bounded peak memory (the child's VmHWM, read from /proc while it
//! runs). Cases that fail today are `#[ignore]`d with the issue 11 item and what is wrong.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use asyncmem_testkit::pty::{CommandBuilder, Pty};

// ---------------------------------------------------------------------------------------------
// Processes: the fakes, the demos, asyncmem itself.

const ASYNCMEM: &str = env!("CARGO_BIN_EXE_asyncmem");

fn fake_bin() -> PathBuf {
    asyncmem_testkit::package_bin(Path::new(ASYNCMEM), "asyncmem-fakes", "fake-console")
}

fn demo_bin(name: &str) -> PathBuf {
    asyncmem_testkit::demo_bin(Path::new(ASYNCMEM), name)
}

/// A child process killed and reaped on drop.
struct Proc {
    child: Child,
    /// What it printed first (the fake's address, the demo's `pid=` line).
    first_line: String,
}

impl Proc {
    fn start(mut cmd: Command) -> Proc {
        let (child, first_line) = asyncmem_testkit::spawn_ready(&mut cmd, "a helper process");
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

    /// One update announcing `tasks` tasks.
    fn million(tasks: &str) -> Fake {
        Fake::start(&["--mode", "hostile", "--kind", "million", "--tasks", tasks])
    }

    /// The small valid picture (tasks small-1 to small-5), its process exiting after `ms`.
    fn exiting_after(ms: &str) -> Fake {
        Fake::start(&["--mode", "exit-after", "--after", ms])
    }

    /// The small valid picture, served for a minute: longer than any case.
    fn small() -> Fake {
        Fake::exiting_after("60000")
    }

    fn url(&self) -> String {
        format!("http://{}", self.0.first_line)
    }

    fn pid(&self) -> String {
        self.0.pid().to_string()
    }
}

/// A demo target with its console on a free port, publishing every 100 ms.
fn start_demo(name: &str, args: &[&str]) -> (Proc, String) {
    start_demo_on(name, asyncmem_testkit::free_port(), args)
}

/// A demo target with its console on `port`, publishing every 100 ms.
fn start_demo_on(name: &str, port: u16, args: &[&str]) -> (Proc, String) {
    let p = Proc::start(asyncmem_testkit::demo_command(&demo_bin(name), port, args));
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

    /// The peak memory stayed under [`MEMORY_BOUND_KIB`].
    #[track_caller]
    fn within_memory(&self) {
        assert!(
            self.hwm_kib < MEMORY_BOUND_KIB,
            "peak memory {} KiB",
            self.hwm_kib
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

fn text_of(reader: std::thread::JoinHandle<Vec<u8>>) -> String {
    String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned()
}

/// `program args` without `ASYNCMEM_ADDR`, stdin closed, stdout and stderr piped.
fn command(program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_remove("ASYNCMEM_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Wait for `child`, calling `each` with its pid every 10 ms; None if it still runs `limit`
/// after `start` (it is then killed and reaped).
fn wait_bounded(
    child: &mut Child,
    start: Instant,
    limit: Duration,
    mut each: impl FnMut(u32),
) -> Option<ExitStatus> {
    loop {
        each(child.id());
        if let Some(status) = child.try_wait().expect("waiting") {
            return Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run `cmd` (see [`command`]) to its end, its peak memory read while it runs; killed (and the
/// test failed, naming `what`) past `limit`.
fn run_command(mut cmd: Command, what: &str, limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let out = spawn_reader(child.stdout.take().expect("stdout"));
    let err = spawn_reader(child.stderr.take().expect("stderr"));
    let mut hwm_kib = 0;
    let status = wait_bounded(&mut child, start, limit, |pid| {
        if let Some(kib) = vm_hwm_kib(pid) {
            hwm_kib = hwm_kib.max(kib);
        }
    });
    let stderr = text_of(err);
    let Some(status) = status else {
        panic!("{what} still running after {limit:?}; stderr: {stderr}");
    };
    Run {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr,
        elapsed: start.elapsed(),
        hwm_kib,
    }
}

/// Run asyncmem with `args` and `env`, no terminal, killed (and the test failed) past `limit`.
fn run_env(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut cmd = command(ASYNCMEM, args);
    cmd.envs(env.iter().copied());
    run_command(cmd, &format!("asyncmem {args:?}"), limit)
}

fn run(args: &[&str], limit: Duration) -> Run {
    run_env(args, &[], limit)
}

/// `asyncmem snapshot --addr URL ARGS` of `fake`.
fn snapshot(fake: &Fake, args: &[&str], limit: Duration) -> Run {
    run(
        &[&["snapshot", "--addr", &fake.url()][..], args].concat(),
        limit,
    )
}

/// `snapshot --format json` of `fake` with `args`, which must not panic.
fn json_snapshot(fake: &Fake, args: &[&str], limit: Duration) -> Run {
    let r = snapshot(fake, &[args, &["--format", "json"]].concat(), limit);
    r.no_panic();
    r
}

/// The snapshot's tasks.
fn tasks(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["tasks"].as_array().expect("tasks")
}

/// The names of the snapshot's tasks.
fn task_names(json: &serde_json::Value) -> Vec<&str> {
    tasks(json)
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect()
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

/// `path` as an argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Peak memory allowed to asyncmem on the hostile inputs below (each is bounded by
/// `--max-tasks` or small; a leak or an unbounded buffer passes it quickly).
const MEMORY_BOUND_KIB: u64 = 512 * 1024;

// ---------------------------------------------------------------------------------------------
// A real terminal.

/// `program args` in a fresh pty (testkit's 40 x 120), without `ASYNCMEM_ADDR`.
fn tui_of(program: &str, args: &[&str]) -> Pty {
    let mut cmd = CommandBuilder::new(program);
    cmd.args(args);
    cmd.env_remove("ASYNCMEM_ADDR");
    Pty::spawn(cmd)
}

/// `asyncmem args` in a fresh pty.
fn tui(args: &[&str]) -> Pty {
    tui_of(ASYNCMEM, args)
}

/// `asyncmem args` in a fresh pty, once the screen shows `shown` (`what`, within `timeout`).
fn tui_showing(args: &[&str], what: &str, timeout: Duration, shown: &str) -> Pty {
    let tui = tui(args);
    tui.wait_for(what, timeout, |s| s.contains(shown));
    tui
}

/// What the fault suite asks of the terminal asyncmem leaves behind.
trait Restored {
    /// Echo and canonical mode of the pty as `stty` reads them (both on: raw mode is off).
    fn echo_and_icanon(&self) -> (bool, bool);
    /// Echo on and raw mode off (issue 11 item 13).
    fn assert_cooked(&self);
    /// Main screen, cursor shown, and the bytes that leave the alternate screen were written.
    fn assert_restored(&self);
    /// `q`, then exit code 0 within `timeout`.
    fn exit_by_q(&mut self, timeout: Duration);
    /// [`Restored::exit_by_q`], then the terminal restored.
    fn quit_within(&mut self, timeout: Duration);
    /// [`Restored::quit_within`] 5 s.
    fn quit(&mut self) {
        self.quit_within(secs(5));
    }
    /// `sig` to the program: its exit code within 5 s, the terminal restored.
    fn signalled(&mut self, sig: &str) -> u32;
}

impl Restored for Pty {
    fn echo_and_icanon(&self) -> (bool, bool) {
        let tty = self.tty_name().expect("the pty's name");
        let out = Command::new("stty")
            .arg("-F")
            .arg(&tty)
            .arg("-a")
            .output()
            .expect("running stty");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let words: Vec<&str> = text.split([' ', '\n', ';']).collect();
        (words.contains(&"echo"), words.contains(&"icanon"))
    }

    #[track_caller]
    fn assert_cooked(&self) {
        assert_eq!(
            self.echo_and_icanon(),
            (true, true),
            "the terminal was left without echo or in raw mode; screen:\n{}",
            self.text()
        );
    }

    #[track_caller]
    fn assert_restored(&self) {
        let left = || contains(&self.raw(), b"\x1b[?1049l");
        if !self.soon(|| self.screen_restored() && left()) {
            panic!(
                "terminal not restored (alternate screen left: {}); screen:\n{}",
                left(),
                self.text()
            );
        }
    }

    #[track_caller]
    fn exit_by_q(&mut self, timeout: Duration) {
        self.keys("q");
        assert_eq!(self.wait_exit(timeout), 0);
    }

    #[track_caller]
    fn quit_within(&mut self, timeout: Duration) {
        self.exit_by_q(timeout);
        self.assert_restored();
    }

    #[track_caller]
    fn signalled(&mut self, sig: &str) -> u32 {
        signal(self.pid(), sig);
        let code = self.wait_exit(secs(5));
        self.assert_restored();
        code
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

/// How a snapshot names its target.
#[derive(Clone, Copy)]
enum Via {
    Pid,
    Addr,
}

/// `snapshot` of the sleepers demo (named `via`, then `args`) while the demo is stopped: SIGSTOP
/// before, SIGCONT after. The run, and the demo, still running.
fn snapshot_of_a_stopped_demo(via: Via, args: &[&str]) -> (Run, Proc) {
    let (demo, url) = start_demo("sleepers", &["-n", "10"]);
    demo.signal("STOP");
    let pid = demo.pid().to_string();
    let target = match via {
        Via::Pid => ["--pid", &pid],
        Via::Addr => ["--addr", &url],
    };
    let r = run(&[&["snapshot"][..], &target, args].concat(), secs(15));
    demo.signal("CONT");
    (r, demo)
}

/// Short connect and total timeouts, for a target that will not answer.
const IMPATIENT: &[&str] = &["--connect-timeout", "1s", "--timeout", "2s"];

#[test]
fn stopped_target_is_named_as_stopped() {
    let (r, _demo) = snapshot_of_a_stopped_demo(Via::Pid, IMPATIENT);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert_ne!(
        r.code,
        Some(4),
        "a stopped target is not an uninstrumented one: {r:?}"
    );
    assert!(r.stderr.contains("stopped"), "{}", r.stderr);
    assert!(!r.stderr.contains("console-subscriber"), "{}", r.stderr);
}

#[test]
fn stopped_target_gets_its_own_exit_code_at_once() {
    let (r, _demo) = snapshot_of_a_stopped_demo(Via::Pid, &["--connect-timeout", "5s"]);
    assert_eq!(r.code, Some(12), "{r:?}");
    assert!(r.stderr.contains("kill -CONT"), "{}", r.stderr);
    // Read from /proc before trying its sockets: no connect timeout is waited for.
    assert!(r.elapsed < secs(3), "took {:?}", r.elapsed);
}

#[test]
fn stopped_target_behind_an_address_is_named_as_stopped() {
    let (r, demo) = snapshot_of_a_stopped_demo(Via::Addr, IMPATIENT);
    if is_root() || pid_visible(demo.pid()) {
        assert_eq!(r.code, Some(12), "{r:?}");
        assert!(r.stderr.contains("stopped"), "{}", r.stderr);
    } else {
        assert_eq!(r.code, Some(5), "{r:?}");
        assert!(r.stderr.contains("hung"), "{}", r.stderr);
    }
    assert!(!r.stderr.contains("console-subscriber"), "{}", r.stderr);
    assert!(r.elapsed < secs(4), "took {:?}", r.elapsed);
}

/// Whether this user can read `pid`'s file descriptors (what finding it behind an address needs).
fn pid_visible(pid: i32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok()
}

#[test]
fn zombie_target_is_named_as_exited() {
    // `sleep 0` exits at once; the shell, exec'd into `sleep 30`, never reaps it.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 0 & echo $!; exec sleep 30"]);
    let parent = Proc::start(cmd);
    let zombie: i32 = parent.first_line.parse().expect("the child's pid");
    let start = Instant::now();
    while !std::fs::read_to_string(format!("/proc/{zombie}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
    }) {
        assert!(
            start.elapsed() < secs(5),
            "{zombie} did not become a zombie"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = run(&["snapshot", "--pid", &zombie.to_string()], secs(10));
    assert_eq!(r.code, Some(7), "{r:?}");
    assert!(r.stderr.contains("exited"), "{}", r.stderr);
    assert!(!r.stderr.contains("console-subscriber"), "{}", r.stderr);
}

/// `snapshot --pid` of a fake with `listeners` silent listeners, under `--connect-timeout`.
fn snapshot_of_silent_listeners(listeners: &str, connect_timeout: &str, limit: Duration) -> Run {
    let fake = Fake::start(&["--mode", "silent", "--listeners", listeners]);
    let pid = fake.pid();
    run(
        &[
            "snapshot",
            "--pid",
            &pid,
            "--connect-timeout",
            connect_timeout,
        ],
        limit,
    )
}

#[test]
fn a_silent_listener_of_a_pid_is_not_advice_to_instrument() {
    let r = snapshot_of_silent_listeners("2", "1s", secs(10));
    assert_eq!(r.code, Some(4), "{r:?}");
    assert!(r.stderr.contains("no answer"), "{}", r.stderr);
    assert!(!r.stderr.contains("console-subscriber"), "{}", r.stderr);
}

#[test]
fn six_silent_listeners_take_one_connect_timeout_and_each_is_said() {
    let r = snapshot_of_silent_listeners("6", "2s", secs(20));
    assert!(matches!(r.code, Some(4)), "{r:?}");
    // Six listeners, each given 2 s, all at once: about 2 s, not 12.
    assert!(r.elapsed < secs(5), "took {:?}", r.elapsed);
    assert_eq!(r.stderr.matches("no answer").count(), 6, "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Servers that are not tokio consoles.

fn not_a_console(mode: &str) {
    let fake = Fake::start(&["--mode", mode]);
    let r = snapshot(&fake, &["--connect-timeout", "1s"], secs(10));
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

/// `snapshot --pid` of `listeners` silent listeners under a 1 s connect timeout: given up on
/// (exit 4 or 5) within `bound`.
fn silent_listeners_are_bounded(listeners: &str, limit: Duration, bound: Duration) {
    let r = snapshot_of_silent_listeners(listeners, "1s", limit);
    assert!(matches!(r.code, Some(4) | Some(5)), "{r:?}");
    assert!(r.elapsed < bound, "took {:?}", r.elapsed);
}

#[test]
fn silent_listener_of_a_pid_is_bounded_by_the_connect_timeout() {
    silent_listeners_are_bounded("1", secs(10), secs(4));
}

#[test]
fn silent_listeners_of_a_pid_are_tried_at_once() {
    silent_listeners_are_bounded("6", secs(20), secs(3));
}

// ---------------------------------------------------------------------------------------------
// Servers that speak the protocol but send hostile content.

/// `snapshot` of one update announcing `n` tasks (with their stats), under `--max-tasks max`.
fn one_huge_update(n: u64, max: u64, limit: Duration) -> (Run, serde_json::Value) {
    let (n, max_arg) = (n.to_string(), max.to_string());
    let fake = Fake::million(&n);
    let wait = format!("{}s", limit.as_secs());
    let r = json_snapshot(
        &fake,
        &[
            "--max-tasks",
            &max_arg,
            "--connect-timeout",
            &wait,
            "--timeout",
            &wait,
            "--limit",
            "0",
        ],
        limit + secs(10),
    );
    let json = r.json();
    let tasks = tasks(&json).len() as u64;
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
    r.within_memory();
}

#[test]
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
    let args = ["--max-tasks", "500", "--wait", "2s", "--limit", "0"];
    let r = json_snapshot(&fake, &args, secs(20));
    let tasks = tasks(&r.json()).len();
    assert!(tasks <= 500, "{tasks} tasks tracked past --max-tasks 500");
    r.within_memory();
}

#[test]
fn stats_for_unannounced_ids_make_no_tasks() {
    let fake = Fake::hostile("unannounced");
    let r = json_snapshot(&fake, &["--wait", "1500ms", "--limit", "0"], secs(20));
    let json = r.json();
    let names = task_names(&json);
    assert_eq!(names.len(), 10, "only the 10 announced tasks: {names:?}");
    assert!(names.iter().all(|n| n.starts_with("known-")), "{names:?}");
    r.within_memory();
}

/// `snapshot --limit 0` (the table) of the `escapes` fake, which must succeed.
fn escapes_table() -> Run {
    let r = snapshot(&Fake::hostile("escapes"), &["--limit", "0"], secs(15));
    assert_eq!(r.code, Some(0), "{r:?}");
    r
}

#[test]
fn snapshot_table_escapes_control_characters() {
    let r = escapes_table();
    assert_no_control("the snapshot table", &r.stdout);
    // "two\nlines" stays on one row.
    assert!(
        !r.out().lines().any(|l| l.trim_start().starts_with("lines")),
        "a task name split the table:\n{}",
        r.out()
    );
    assert!(r.out().contains("clear"), "{}", r.out());
}

/// What `assert_no_control` does not see (it reads bytes): C1 controls and bidi overrides.
fn assert_no_c1_or_bidi(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| matches!(c, '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect();
    assert!(bad.is_empty(), "{what} holds {bad:?}:\n{text}");
}

#[test]
fn snapshot_table_escapes_c1_controls_and_bidi_overrides() {
    let r = escapes_table();
    assert_no_c1_or_bidi("the snapshot table", &r.out());
    // Made visible, not dropped: the reader sees that the name holds them.
    assert!(r.out().contains("csi\\x9b2Jc1"), "{}", r.out());
    assert!(r.out().contains("bidi\\u{202e}"), "{}", r.out());
    // The location table and the task rows alike: no location splits a line.
    assert!(
        !r.out().lines().any(|l| l.trim_start().starts_with(".rs")),
        "a location split the table:\n{}",
        r.out()
    );
}

/// `top` of the fake `kind`, once the screen shows `shown` (`what`, within 15 s): the fake
/// (keep it) and the terminal.
fn top_of_hostile(kind: &str, what: &str, shown: &str) -> (Fake, Pty) {
    let fake = Fake::hostile(kind);
    let tui = tui_showing(&["top", "--addr", &fake.url()], what, secs(15), shown);
    (fake, tui)
}

#[test]
fn top_details_locations_and_warnings_escape_control_characters() {
    let (_fake, mut tui) = top_of_hostile("escapes", "the hostile tasks", "clear");
    // Every task's details, then the locations view, a drill-down into the hostile location
    // (its path becomes the filter in the footer), and the warnings popup.
    for _ in 0..8 {
        tui.keys("\r");
        tui.keys("\x1b");
        tui.keys("j");
    }
    tui.keys("g");
    tui.keys("\r");
    tui.keys("w");
    std::thread::sleep(Duration::from_millis(500));
    let raw = tui.raw();
    for (bad, what) in [
        (&b"\x1b]0;pwned"[..], "the OSC title"),
        (b"clear\x1b[2J", "ESC [2J of a name"),
        (b"/\x1b[2Jevil", "ESC [2J of a location"),
        (b"evil\n", "a location's newline"),
        (b"bell\x07", "BEL"),
        ("csi\u{9b}".as_bytes(), "a C1 CSI"),
        ("\u{202e}".as_bytes(), "a bidi override"),
    ] {
        assert!(!contains(&raw, bad), "{what} reached the terminal");
    }
    tui.quit();
}

#[test]
fn an_unknown_filter_key_is_an_error_in_the_prompt() {
    let (_fake, mut tui) = top_of_hostile("escapes", "the hostile tasks", "clear");
    tui.keys("/colour:red");
    tui.wait_for("the filter error", secs(5), |s| {
        s.contains("unknown key \"colour\"") && s.contains("lint:")
    });
    tui.keys("\x1b");
    tui.keys("/lint:Q");
    tui.wait_for("the lint error", secs(5), |s| s.contains("W (lost_waker)"));
    tui.keys("\x1b");
    tui.keys("/lint:L");
    // A known key: no error, and the 2 KiB futures are large futures (--large-future 1 KiB).
    tui.wait_for("the filtered tasks", secs(5), |s| {
        !s.contains("expected") && s.contains("clear")
    });
    tui.keys("\r");
    tui.quit();
}

#[test]
fn snapshot_json_keeps_hostile_names_exactly() {
    let fake = Fake::hostile("escapes");
    let json = json_snapshot(&fake, &[], secs(15)).json();
    let names = task_names(&json);
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
    let (_fake, mut tui) = top_of_hostile("escapes", "the hostile tasks", "clear");
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
    tui.quit();
}

#[test]
fn megabyte_names_are_handled_in_bounded_time_and_memory() {
    let fake = Fake::hostile("huge-names");
    let r = snapshot(&fake, &["--limit", "0"], secs(30));
    r.no_panic();
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.elapsed < secs(3), "took {:?}", r.elapsed);
    r.within_memory();
}

/// Still drawing a second later: not exited.
fn still_drawing(tui: &mut Pty) {
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(tui.exit_within(Duration::ZERO), None, "{}", tui.text());
}

#[test]
fn timestamps_backwards_far_ahead_and_out_of_range_do_not_panic() {
    let fake = Fake::hostile("time");
    let json = json_snapshot(&fake, &["--wait", "1s"], secs(15)).json();
    assert_eq!(tasks(&json).len(), 10, "{json:#}");
    // And the table and the TUI draw it.
    let r = snapshot(&fake, &[], secs(15));
    r.no_panic();
    assert_eq!(r.code, Some(0), "{r:?}");
    let top = ["top", "--addr", &fake.url()];
    let mut tui = tui_showing(&top, "the tasks", secs(15), "time-1");
    still_drawing(&mut tui);
    tui.quit();
}

#[test]
fn histograms_that_do_not_decode_leave_the_details_view_drawing() {
    let (_fake, mut tui) = top_of_hostile("histograms", "the tasks", "small-");
    tui.keys("\r");
    tui.wait_for("the details view", secs(5), |s| s.contains("task details"));
    still_drawing(&mut tui);
    assert!(tui.text().contains("task details"), "{}", tui.text());
    tui.keys("\x1b");
    tui.quit();
}

#[test]
fn a_flood_of_updates_keeps_top_responsive_and_bounded() {
    let (fake, mut tui) = top_of_hostile("flood", "the tasks", "flood-");
    // Still drawing: the help overlay opens while the flood goes on.
    tui.keys("?");
    tui.wait_for("the help", secs(3), |s| s.contains("keys (Esc closes)"));
    let hwm = vm_hwm_kib(tui.pid() as u32).unwrap_or(0);
    tui.keys("\x1b");
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(3)), 0, "q must work under a flood");
    tui.assert_restored();
    assert!(hwm < MEMORY_BOUND_KIB, "peak memory {hwm} KiB");
    // And a snapshot ends promptly.
    let r = snapshot(&fake, &[], secs(10));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.elapsed < secs(5), "took {:?}", r.elapsed);
}

// ---------------------------------------------------------------------------------------------
// A target that exits.

#[test]
fn top_says_target_exited() {
    let fake = Fake::exiting_after("1500");
    let mut tui = tui_showing(
        &["top", "--pid", &fake.pid()],
        "the tasks",
        secs(15),
        "small-",
    );
    tui.wait_for("target exited", secs(10), |s| s.contains("target exited"));
    assert!(tui.text().contains("small-1"), "data kept:\n{}", tui.text());
    tui.quit();
}

#[test]
fn snapshot_wait_says_the_target_exited() {
    let fake = Fake::exiting_after("1000");
    let r = run(
        &["snapshot", "--pid", &fake.pid(), "--wait", "5s"],
        secs(15),
    );
    assert!(r.stderr.contains("exited"), "{r:?}");
    // What was collected is printed, marked incomplete, and the exit code says why.
    assert_eq!(r.code, Some(7), "{r:?}");
    assert!(r.out().contains("small-1"), "{r:?}");
    assert!(r.out().contains("INCOMPLETE picture"), "{r:?}");
    assert!(r.elapsed < secs(4), "did not wait out the --wait: {r:?}");
}

#[test]
fn snapshot_wait_json_says_the_target_exited() {
    let fake = Fake::exiting_after("1000");
    let pid = fake.pid();
    let r = run(
        &["snapshot", "--pid", &pid, "--wait", "5s", "-f", "json"],
        secs(15),
    );
    assert_eq!(r.code, Some(7), "{r:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r:?}"));
    assert_eq!(json["complete"], false, "{json}");
    let reason = json["incomplete_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("exited") && reason.contains("--wait"),
        "{reason}"
    );
    assert!(json["live_tasks"].as_u64().is_some_and(|n| n > 0), "{json}");
}

#[test]
fn a_complete_snapshot_says_so() {
    let r = snapshot(&Fake::small(), &["-f", "json"], secs(15));
    let json = r.json();
    assert_eq!(json["complete"], true, "{json}");
    assert!(json["incomplete_reason"].is_null(), "{json}");
    assert!(!r.stderr.contains("incomplete"), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// Recordings.

/// `asyncmem record --addr URL -o OUT ARGS`.
fn record_args<'a>(url: &'a str, out: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    [&["record", "--addr", url, "-o", out][..], args].concat()
}

/// `asyncmem record` of `fake` into `out`, with `args`.
fn record(fake: &Fake, out: &str, args: &[&str], limit: Duration) -> Run {
    run(&record_args(&fake.url(), out, args), limit)
}

/// A short recording of the small fake picture in a fresh temp dir `tag`: the dir and the file.
fn recording(tag: &str) -> (PathBuf, PathBuf) {
    let dir = tempdir(tag);
    let file = dir.join("good.amrec");
    let r = record(
        &Fake::small(),
        arg(&file),
        &["--duration", "1500ms"],
        secs(15),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    (dir, file)
}

/// `replay FILE` in a pty, once the recorded tasks are shown.
fn replaying(file: &Path) -> Pty {
    tui_showing(
        &["replay", arg(file)],
        "the recorded tasks",
        secs(10),
        "small-",
    )
}

/// Whether `replay FILE` in a pty refuses the file (exits non-zero at once) or plays it.
fn replay_refuses(file: &Path) -> bool {
    let mut tui = tui(&["replay", arg(file)]);
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
fn damaged_recordings_get_one_policy_in_replay_and_snapshot() {
    let (dir, good) = recording("damaged");
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
        let snap = run(&["snapshot", "--from", arg(&file)], secs(10));
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
    let (_dir, good) = recording("good");
    let r = run(&["snapshot", "--from", arg(&good)], secs(10));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.out().contains("small-1"), "{}", r.out());
    replaying(&good).quit();
}

#[test]
fn replay_of_a_pipe_plays_or_refuses() {
    let (_dir, good) = recording("pipe");
    let script = format!("exec {ASYNCMEM} replay <(cat {})", good.display());
    let mut tui = tui_of("bash", &["-c", &script]);
    let start = Instant::now();
    loop {
        if tui.text().contains("small-") {
            tui.quit();
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
    let args = ["--overwrite", "--duration", "10s"];
    let r = record(&fake, "/dev/full", &args, secs(15));
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("No space left"), "{}", r.stderr);
    assert!(r.elapsed < secs(3), "took {:?}", r.elapsed);
}

// ---------------------------------------------------------------------------------------------
// Absurd flags.

/// An address nothing listens on: the flags are refused before it is tried.
const NOWHERE: &str = "http://127.0.0.1:1";

fn usage_error(args: &[&str], names: &str) {
    let r = run(args, secs(10));
    r.no_panic();
    assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
    assert!(r.stderr.contains(names), "{args:?}: {}", r.stderr);
}

#[test]
fn huge_timeout_is_a_usage_error() {
    let fake = Fake::small();
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
fn huge_record_duration_is_a_usage_error() {
    let fake = Fake::small();
    let file = tempdir("duration").join("r.amrec");
    let (url, huge) = (fake.url(), ["--duration", "300000000000y"]);
    usage_error(&record_args(&url, arg(&file), &huge), "--duration");
}

#[test]
fn max_message_size_too_small_is_named() {
    let fake = Fake::small();
    let args = ["--max-message-size", "0", "--timeout", "5s"];
    let r = snapshot(&fake, &args, secs(15));
    r.no_panic();
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("max-message-size"), "{}", r.stderr);
    assert!(r.elapsed < secs(3), "took {:?}", r.elapsed);
}

#[test]
fn malformed_addr_is_a_bad_address() {
    usage_error(&["snapshot", "--addr", "http://[::1"], "bad address");
}

#[test]
fn malformed_addrs_are_bad_addresses() {
    for addr in [
        "http://::1:6669",
        "http://[::1:6669",
        "http://[zz]:6669",
        "http://a b:6669",
    ] {
        usage_error(&["snapshot", "--addr", addr], "bad address");
    }
}

#[test]
fn huge_durations_of_every_flag_are_usage_errors() {
    for (command, flag, value) in [
        ("snapshot", "--connect-timeout", "1000000y"),
        ("snapshot", "--wait", "300000000000y"),
        ("snapshot", "--settle", "300000000000y"),
        ("snapshot", "--rss-interval", "1000000y"),
        ("top", "--retain", "300000000000y"),
        ("export", "--fit-window", "300000000000y"),
    ] {
        usage_error(&[command, "--addr", NOWHERE, flag, value], flag);
    }
}

#[test]
fn tiny_max_message_sizes_are_usage_errors() {
    for size in ["1", "100"] {
        let args = ["snapshot", "--addr", NOWHERE, "--max-message-size", size];
        usage_error(&args, "--max-message-size");
    }
}

#[test]
fn a_message_over_max_message_size_is_named() {
    // 5,000 tasks in the first update (about 660 KB): ten times the smallest accepted limit.
    let fake = Fake::million("5000");
    let args = ["--max-message-size", "65536", "--timeout", "3s"];
    let r = snapshot(&fake, &args, secs(40));
    r.no_panic();
    assert_eq!(r.code, Some(9), "{r:?}");
    assert!(
        r.stderr.contains("larger than --max-message-size"),
        "{}",
        r.stderr
    );
}

#[test]
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
fn record_to_a_directory_says_it_is_a_directory() {
    let fake = Fake::small();
    let dir = tempdir("outdir");
    let r = record(&fake, arg(&dir), &["--duration", "1s"], secs(10));
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("directory"), "{}", r.stderr);
    assert!(!r.stderr.contains("--overwrite"), "{}", r.stderr);
}

#[test]
fn at_without_from_is_a_usage_error() {
    usage_error(&["snapshot", "--addr", NOWHERE, "--at", "1s"], "--from");
}

/// Run asyncmem with `args` and `ASYNCMEM_ADDR=addr`.
fn run_with_asyncmem_addr(args: &[&str], addr: &str, limit: Duration) -> Run {
    run_env(args, &[("ASYNCMEM_ADDR", addr)], limit)
}

/// `snapshot ARGS --format json` under `ASYNCMEM_ADDR=addr`.
fn json_with_asyncmem_addr(args: &[&str], addr: &str) -> serde_json::Value {
    let args = [&["snapshot"][..], args, &["--format", "json"]].concat();
    run_with_asyncmem_addr(&args, addr, secs(15)).json()
}

#[test]
fn asyncmem_addr_does_not_beat_an_explicit_pid() {
    let fake = Fake::small();
    let json = json_with_asyncmem_addr(&["--pid", &fake.pid()], NOWHERE);
    assert_eq!(tasks(&json).len(), 5, "{json:#}");
}

#[test]
fn asyncmem_addr_does_not_beat_from_or_demo() {
    let missing = tempdir("envfrom").join("none.amrec");
    let r = run_with_asyncmem_addr(&["snapshot", "--from", arg(&missing)], NOWHERE, secs(10));
    // The recording is read (and is missing), the address is not tried.
    assert_eq!(r.code, Some(10), "{r:?}");
    let r = run_with_asyncmem_addr(&["snapshot", "--demo", "no-such-demo"], NOWHERE, secs(10));
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("unknown demo"), "{}", r.stderr);
}

#[test]
fn no_target_at_all_is_a_usage_error() {
    let r = run(&["snapshot"], secs(10));
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("--pid"), "{}", r.stderr);
}

#[test]
fn an_os_error_is_said_once() {
    let dir = tempdir("oserr");
    let r = run(&["snapshot", "--from", arg(&dir)], secs(10));
    assert_eq!(r.code, Some(10), "{r:?}");
    let said = r.stderr.matches("os error").count();
    assert_eq!(said, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("reading the recording").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn asyncmem_addr_is_used_without_a_flag() {
    let fake = Fake::small();
    let json = json_with_asyncmem_addr(&[], &fake.url());
    assert_eq!(tasks(&json).len(), 5, "{json:#}");
}

// ---------------------------------------------------------------------------------------------
// Pipes, signals and terminals.

/// `asyncmem ARGS`, its stdout read for one line and then closed (what `| head -1` does): its
/// exit status, its stderr and that line; killed (and the test failed) if it does not end
/// within `limit` of the close.
fn into_a_closed_pipe(args: &[&str], limit: Duration) -> (ExitStatus, String, String) {
    let mut child = command(ASYNCMEM, args).spawn().expect("starting asyncmem");
    let err = spawn_reader(child.stderr.take().expect("stderr"));
    let mut line = Vec::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_until(b'\n', &mut line)
        .expect("the first line");
    assert!(!line.is_empty(), "nothing written");
    let status = wait_bounded(&mut child, Instant::now(), limit, |_| {})
        .unwrap_or_else(|| panic!("asyncmem {args:?} did not end after its stdout was closed"));
    let line = String::from_utf8_lossy(&line).into_owned();
    (status, text_of(err), line)
}

#[test]
fn snapshot_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let fake = Fake::hostile("reuse");
    let (status, stderr, line) = into_a_closed_pipe(
        &["snapshot", "--addr", &fake.url(), "--limit", "0"],
        secs(15),
    );
    assert!(line.contains("asyncmem snapshot"), "{line:?}");
    assert!(
        status.code() == Some(0) || status.code() == Some(141) || status.signal() == Some(13),
        "{status:?}: {stderr}"
    );
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
}

#[test]
fn a_large_snapshot_into_a_closed_pipe_exits_141_quietly() {
    // 20,000 rows of CSV: far more than a pipe holds, so a write does meet the closed pipe.
    let fake = Fake::million("20000");
    let url = fake.url();
    let patient = ["--connect-timeout", "20s", "--timeout", "20s"];
    for format in ["csv", "json", "table"] {
        let args = [
            "snapshot", "--addr", &url, "--limit", "0", "--format", format,
        ];
        let (status, stderr, _) = into_a_closed_pipe(&[&args[..], &patient].concat(), secs(20));
        assert_eq!(status.code(), Some(141), "{format}: {status:?}: {stderr}");
        assert_eq!(stderr, "", "{format}");
    }
}

#[test]
fn a_recording_into_a_closed_pipe_ends_quietly() {
    let fake = Fake::hostile("flood");
    let url = fake.url();
    let args = record_args(&url, "/dev/stdout", &["--overwrite", "--duration", "3s"]);
    let (status, stderr, _) = into_a_closed_pipe(&args, secs(20));
    assert_eq!(status.code(), Some(141), "{status:?}: {stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn top_follows_a_restarted_target_behind_its_address() {
    let (first, url) = start_demo("sleepers", &["-n", "10"]);
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let first_pid = first.pid();
    let mut tui = tui(&["top", "--addr", &url]);
    tui.wait_for("connected", secs(20), |t| {
        t.contains("connected") && !t.contains("reconnecting")
    });
    drop(first);
    tui.wait_for("the exit to be shown", secs(20), |t| {
        t.contains(&format!(
            "target {first_pid} exited; waiting for a process at"
        ))
    });
    // Still trying after a while (backoff), not stuck on "target exited".
    std::thread::sleep(secs(2));
    assert!(
        tui.text().contains("reconnecting (attempt"),
        "{}",
        tui.text()
    );
    let (second, _) = start_demo_on("sleepers", port, &["-n", "10"]);
    tui.wait_for("the new process", secs(30), |t| {
        t.contains("● connected") && t.contains("1 warning (w)")
    });
    tui.keys("w");
    tui.wait_for("the restart warning", secs(5), |t| {
        t.contains("restarted 1 time")
    });
    tui.keys("\x1bq");
    assert_eq!(tui.wait_exit(secs(10)), 0);
    drop(second);
}

fn top_restores_the_terminal_on(sig: &str) -> u32 {
    let fake = Fake::small();
    let mut tui = tui_showing(
        &["top", "--addr", &fake.url()],
        "the tasks",
        secs(15),
        "small-",
    );
    let code = tui.signalled(sig);
    tui.assert_cooked();
    code
}

#[test]
fn signals_to_top_restore_the_terminal() {
    // In raw mode Ctrl-C is a key; SIGINT from kill is still a signal.
    for (sig, code) in [("TERM", 143), ("HUP", 129), ("QUIT", 131), ("INT", 130)] {
        assert_eq!(top_restores_the_terminal_on(sig), code, "SIG{sig}");
    }
}

#[test]
fn signals_to_replay_restore_the_terminal() {
    let (_dir, good) = recording("replay-signals");
    for (sig, code) in [("HUP", 129), ("QUIT", 131), ("TERM", 143)] {
        let mut tui = replaying(&good);
        assert_eq!(tui.signalled(sig), code, "SIG{sig}");
        tui.assert_cooked();
    }
}

#[test]
fn replay_without_a_terminal_writes_nothing_to_stdout() {
    let (_dir, good) = recording("replay-no-tty");
    let r = run(&["replay", arg(&good)], secs(10));
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.is_empty(), "stdout: {:?}", r.out());
    assert!(r.stderr.contains("terminal"), "{}", r.stderr);
}

/// `record` to `file` from the fake at `url`, sent `sig` after `after`: its exit code and stderr.
fn record_signalled(url: &str, file: &Path, after: Duration, sig: &str) -> (Option<i32>, String) {
    let mut child = command(ASYNCMEM, &record_args(url, arg(file), &[]))
        .stdout(Stdio::null())
        .spawn()
        .expect("starting asyncmem record");
    let err = spawn_reader(child.stderr.take().expect("stderr"));
    std::thread::sleep(after);
    signal(child.id() as i32, sig);
    let status = wait_bounded(&mut child, Instant::now(), secs(10), |_| {})
        .unwrap_or_else(|| panic!("record did not end within 10 s of SIG{sig}"));
    (status.code(), text_of(err))
}

#[test]
fn record_ends_its_file_cleanly_on_sighup_and_sigquit() {
    let fake = Fake::small();
    let dir = tempdir("record-signals");
    for (sig, outcome) in [("HUP", "hung up"), ("QUIT", "quit")] {
        let file = dir.join(format!("{sig}.amrec"));
        let (code, stderr) = record_signalled(&fake.url(), &file, secs(2), sig);
        assert_eq!(code, Some(0), "SIG{sig}: {stderr}");
        assert!(stderr.contains(&format!("stopped ({outcome})")), "{stderr}");
        let r = run(&["snapshot", "--from", arg(&file)], secs(10));
        assert_eq!(r.code, Some(0), "SIG{sig}: {r:?}");
        assert!(!r.stderr.contains("cut"), "SIG{sig}: {}", r.stderr);
    }
}

#[test]
fn top_without_a_terminal_writes_nothing_to_stdout() {
    let fake = Fake::small();
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

/// The sleepers demo (`-n 10`, then `args`): the demo, its address, and the console updates a
/// snapshot sees from it in 1.5 s.
fn demo_and_its_rate(args: &[&str]) -> (Proc, String, u64) {
    let (demo, addr) = start_demo("sleepers", &[&["-n", "10"][..], args].concat());
    let before = updates_seen(&addr, "1500ms");
    (demo, addr, before)
}

/// The demo at `addr` runs (not paused): it sends at least half the updates in 1.5 s it sent
/// `before`, or the test fails saying `what` (and `when`, after the count).
#[track_caller]
fn assert_running(addr: &str, before: u64, what: &str, when: &str) {
    let after = updates_seen(addr, "1500ms");
    assert!(
        after * 2 >= before,
        "{what}: {after} updates in 1.5 s{when}, {before} before"
    );
}

/// `top` of the demo at `addr`, connected, then paused with Space.
fn paused_top(addr: &str) -> Pty {
    let mut tui = tui(&["top", "--addr", addr]);
    tui.wait_for("connected", secs(20), |s| s.contains("connected"));
    tui.keys(" ");
    tui.wait_for("paused", secs(5), |s| s.contains("PAUSED"));
    tui
}

#[test]
fn top_pause_then_quit_leaves_the_target_running() {
    let (_demo, addr, before) = demo_and_its_rate(&[]);
    assert!(before >= 3, "a live target sends updates: {before}");
    paused_top(&addr).quit();
    assert_running(&addr, before, "the target stayed paused", " after quitting");
}

#[test]
fn top_paused_then_signalled_leaves_the_target_running() {
    let (_demo, addr, before) = demo_and_its_rate(&[]);
    assert!(before >= 3, "a live target sends updates: {before}");
    for (sig, code) in [("TERM", 143), ("INT", 130), ("HUP", 129), ("QUIT", 131)] {
        // Space in a `top` of the demo, then `sig`: exits with `code`, the terminal restored.
        assert_eq!(paused_top(&addr).signalled(sig), code, "SIG{sig}");
        let what = format!("SIG{sig}: the target stayed paused");
        assert_running(&addr, before, &what, "");
    }
}

#[test]
fn a_second_top_shows_the_pause_and_one_space_resumes() {
    // console-subscriber: its pause outlives the watcher that made it. (asyncmem-probe resumes
    // by itself once no watcher is left, so the case cannot arise there.)
    let (_demo, addr, before) = demo_and_its_rate(&["--instrument", "console-subscriber"]);
    // A watcher that paused the target and died without a word (SIGKILL).
    let mut first = paused_top(&addr);
    signal(first.pid(), "KILL");
    first.wait_exit(secs(5));
    assert!(
        updates_seen(&addr, "1500ms") * 2 < before,
        "the target should be paused now"
    );
    let mut second = tui(&["top", "--addr", &addr]);
    second.wait_for("the target's pause", secs(20), |s| {
        s.contains("connected") && s.contains("PAUSED")
    });
    second.keys(" ");
    second.wait_for("the pause to end", secs(5), |s| !s.contains("PAUSED"));
    second.quit();
    let what = "one Space should have resumed the target";
    assert_running(&addr, before, what, "");
}

#[test]
fn a_top_that_did_not_pause_leaves_a_paused_target_paused() {
    // Left as found: only the pause a watcher made is undone when it quits.
    let (_demo, addr, before) = demo_and_its_rate(&[]);
    let mut first = paused_top(&addr);
    let mut second = tui(&["top", "--addr", &addr]);
    second.wait_for("the target's pause", secs(20), |s| s.contains("PAUSED"));
    second.exit_by_q(secs(5));
    assert!(
        updates_seen(&addr, "1500ms") * 2 < before,
        "the first watcher's pause was undone by a second that did not make it"
    );
    first.exit_by_q(secs(5));
    assert!(updates_seen(&addr, "1500ms") * 2 >= before);
}

#[test]
fn replay_and_snapshot_name_the_corrupt_byte() {
    let (dir, good) = recording("corrupt-byte");
    let mut bytes = std::fs::read(&good).expect("the recording");
    // The last byte is the end marker's checksum: damage after every event, snapshot --at
    // early included, is still found.
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let file = dir.join("flipped-end.amrec");
    std::fs::write(&file, bytes).expect("writing");
    let path = arg(&file);
    for args in [
        &["snapshot", "--from", path][..],
        &["snapshot", "--from", path, "--at", "0s"][..],
    ] {
        let r = run(args, secs(10));
        assert_eq!(r.code, Some(10), "{args:?}: {r:?}");
        assert!(r.stderr.contains("corrupt at byte"), "{}", r.stderr);
    }
    let mut tui = tui(&["replay", path]);
    assert_eq!(tui.exit_within(secs(5)), Some(10), "{}", tui.text());
    tui.wait_for("the damage named", secs(3), |s| {
        s.contains("corrupt at byte")
    });
    tui.assert_cooked();
}

#[test]
fn a_cut_recording_plays_up_to_the_cut_and_says_so() {
    let (dir, good) = recording("cut");
    let bytes = std::fs::read(&good).expect("the recording");
    let file = dir.join("cut.amrec");
    std::fs::write(&file, &bytes[..bytes.len() * 2 / 3]).expect("writing");
    let path = arg(&file);
    let r = run(&["snapshot", "--from", path], secs(10));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("cut at byte"), "{}", r.stderr);
    let mut tui = tui(&["replay", path]);
    tui.wait_for("the cut named", secs(10), |s| {
        // (the header's end is past the pty's 120 columns)
        s.contains("small-") && s.contains("the recording is cut at")
    });
    tui.quit();
}

#[test]
fn replay_of_a_fifo_plays_it() {
    let (dir, good) = recording("fifo");
    let fifo = dir.join("rec.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let script = format!("cat {} > {}", good.display(), fifo.display());
    let mut writer = Command::new("bash")
        .args(["-c", &script])
        .spawn()
        .expect("a writer");
    let mut tui = replaying(&fifo);
    // Seeking back reads the recording again: from memory, not from the spent FIFO.
    tui.keys("0");
    tui.keys(" ");
    std::thread::sleep(Duration::from_millis(500));
    assert!(tui.text().contains("small-"), "{}", tui.text());
    tui.quit();
    let _ = writer.wait();
}

/// `script` in bash, no terminal, killed (and the test failed) past `limit`.
fn run_bash(script: &str, limit: Duration) -> Run {
    run_command(
        command("bash", &["-c", script]),
        &format!("{script:?}"),
        limit,
    )
}

/// The flood fake, a file `rec.amrec` in a fresh temp dir `tag`, and a shell line that runs
/// `asyncmem ARGS` (`args(url, file)`) with files limited to 256 KiB: a write past it fails
/// with EFBIG ("File too large") mid-way, as a full disk would, without root.
fn flood_with_files_limited(
    tag: &str,
    args: impl FnOnce(String, String) -> String,
) -> (Fake, PathBuf, String) {
    let fake = Fake::hostile("flood");
    let file = tempdir(tag).join("rec.amrec");
    let args = args(fake.url(), file.display().to_string());
    let script = format!("trap '' XFSZ; ulimit -f 256; exec {ASYNCMEM} {args}");
    (fake, file, script)
}

/// What a recording stopped by a write error must still be: readable up to the error.
fn readable_up_to_the_error(file: &Path) {
    let r = run(&["snapshot", "--from", arg(file)], secs(20));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(!r.stderr.contains("corrupt"), "{}", r.stderr);
}

#[test]
fn record_stops_at_a_write_error_mid_way_and_says_so_at_once() {
    let (_fake, file, script) = flood_with_files_limited("efbig", |url, file| {
        format!("record --addr {url} -o {file} --duration 60s")
    });
    let r = run_bash(&script, secs(30));
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.elapsed < secs(15), "took {:?}", r.elapsed);
    assert!(r.stderr.contains("File too large"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&file.display().to_string()),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("readable"), "{}", r.stderr);
    let len = std::fs::metadata(&file).expect("the file").len();
    assert!(len > 0 && len <= 256 * 1024, "{len} bytes");
    readable_up_to_the_error(&file);
}

#[test]
fn top_record_shows_the_recording_and_its_write_error() {
    let (_fake, file, script) = flood_with_files_limited("top-efbig", |url, file| {
        format!("top --addr {url} --record {file}")
    });
    let mut tui = tui_of("bash", &["-c", &script]);
    tui.wait_for("the write error in the header", secs(20), |s| {
        s.contains("recording stopped (File too large")
    });
    tui.keys("q");
    assert_eq!(tui.wait_exit(secs(10)), 1);
    tui.assert_restored();
    tui.wait_for("the recording's failure", secs(3), |s| {
        s.contains("is incomplete")
    });
    readable_up_to_the_error(&file);
}

#[test]
fn top_record_shows_the_file_and_its_size() {
    let fake = Fake::small();
    let file = tempdir("top-rec").join("rec.amrec");
    let path = arg(&file);
    let mut tui = tui(&["top", "--addr", &fake.url(), "--record", path]);
    tui.wait_for("the recording in the header", secs(20), |s| {
        s.contains(&format!("● rec {path} ")) && s.contains("KiB")
    });
    tui.quit_within(secs(10));
}

/// A tmpfs of `kib` KiB mounted on a fresh directory, unmounted on drop (needs root).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(kib: u32) -> Option<SmallDisk> {
        if !is_root() {
            return None;
        }
        let dir = tempdir("tmpfs");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k"),
                "asyncmem-faults",
            ])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn record_onto_a_disk_that_fills_up_stops_at_once() {
    let Some(disk) = SmallDisk::mount(512) else {
        eprintln!("skipped: mounting a small tmpfs needs root (the EFBIG case covers the path)");
        return;
    };
    let fake = Fake::hostile("flood");
    let file = disk.0.join("rec.amrec");
    let r = record(&fake, arg(&file), &["--duration", "60s"], secs(30));
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.elapsed < secs(15), "took {:?}", r.elapsed);
    assert!(r.stderr.contains("No space left on device"), "{}", r.stderr);
    readable_up_to_the_error(&file);
}

#[test]
fn quitting_a_paused_top_waits_for_resume_a_bounded_time_and_says_so() {
    let (demo, addr) = start_demo("sleepers", &["-n", "10"]);
    let mut tui = paused_top(&addr);
    // A target that cannot answer Resume: quitting still ends, and says what it left.
    demo.signal("STOP");
    let start = Instant::now();
    tui.keys("q");
    let code = tui.wait_exit(secs(6));
    let took = start.elapsed();
    demo.signal("CONT");
    assert_eq!(code, 0);
    assert!(took < secs(4), "quitting took {took:?}");
    tui.assert_restored();
    tui.wait_for("the warning", secs(3), |s| {
        s.contains("may still be paused")
    });
}

// ---------------------------------------------------------------------------------------------
// Numbers that must move.

/// The blocker of the `busy` demo as one JSON snapshot sees it: (state, busy, idle) in ns.
fn blocker(addr: &str) -> Option<(String, u64, u64)> {
    let r = run(&["snapshot", "--addr", addr, "--format", "json"], secs(60));
    let json = r.json();
    let t = json["tasks"]
        .as_array()?
        .iter()
        .find(|t| t["name"].as_str() == Some("blocker"))?
        .clone();
    Some((
        t["state"].as_str()?.to_string(),
        t["busy_ns"].as_u64()?,
        t["idle_ns"].as_u64()?,
    ))
}

#[test]
fn busy_grows_and_idle_does_not_during_one_long_poll() {
    // The blocker sleeps its worker thread for a minute in one poll: long enough for two
    // snapshots on a loaded machine.
    let (_demo, addr) = start_demo(
        "busy",
        &["--block", "60s", "--pause", "200ms", "--spinners", "1"],
    );
    let start = Instant::now();
    let first = loop {
        match blocker(&addr) {
            Some(b) if b.0 == "running" => break b,
            _ if start.elapsed() > secs(40) => panic!("the blocker never ran"),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let between = Instant::now();
    std::thread::sleep(secs(2));
    let second = blocker(&addr).expect("the blocker");
    let waited = between.elapsed();
    assert_eq!(second.0, "running", "still in its minute-long poll");
    let grew = second.1.saturating_sub(first.1);
    assert!(
        grew >= secs(2).as_nanos() as u64 * 9 / 10,
        "busy grew {grew} ns in {waited:?} of one poll: {first:?} -> {second:?}"
    );
    assert!(
        grew <= waited.as_nanos() as u64 + 1_000_000_000,
        "busy grew {grew} ns in {waited:?}: {first:?} -> {second:?}"
    );
    assert!(
        second.2 <= first.2 + 100_000_000,
        "idle grew during the poll: {first:?} -> {second:?}"
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

/// A demo whose console port another process holds stops at once, naming the cause: the
/// instrumentations only say it in their own thread and run on without a console, while the
/// demo announced the other process's listener as its console.
fn demo_on_a_taken_port_exits_naming_it(instrument: &str) {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let addr = holder.local_addr().expect("its address").to_string();
    let program = demo_bin("sleepers");
    let program = arg(&program);
    let args = [
        "--instrument",
        instrument,
        "--console-bind",
        &addr,
        "-n",
        "10",
    ];
    let r = run_command(
        command(program, &args),
        &format!("sleepers {args:?}"),
        secs(5),
    );
    assert_eq!(r.code, Some(3), "{instrument}: {}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("sleepers: cannot serve the console on {addr}"))
            && r.stderr.contains("the port is in use"),
        "{instrument}: {}",
        r.stderr
    );
    // Nothing announced: no `pid=... console=` line that a watcher would trust.
    assert!(
        r.stdout.is_empty(),
        "{instrument}: {:?}",
        String::from_utf8_lossy(&r.stdout)
    );
    drop(holder);
}

#[test]
fn demo_under_console_subscriber_on_a_taken_port_exits_naming_it() {
    demo_on_a_taken_port_exits_naming_it("console-subscriber");
}

#[test]
fn demo_under_the_probe_on_a_taken_port_exits_naming_it() {
    demo_on_a_taken_port_exits_naming_it("probe");
}
