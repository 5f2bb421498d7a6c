//! `asyncmem lesson idle-tasks`: the seed's table measured on this machine, one command. Idle
//! tokio tasks (uninstrumented, under asyncmem-probe, under console-subscriber), asyncio tasks
//! and bare coroutines, each row one child process measured the same way from `/proc`.
//!
//! The handshake (`sleepers --handshake`, `py-sleepers --handshake`): the child sets itself up
//! (runtime, instrumentation, interpreter), prints `ready` and waits for a line on stdin; the
//! RSS read once it has been still for `--settle` is the baseline. asyncmem writes the line,
//! the child spawns its tasks and prints `spawned tasks=N`; the RSS once still again is the
//! figure with the tasks. One process per row, the baseline of the same process: no second
//! start-up to differ from the first, and nothing of the spawn before the baseline (a `-n 0`
//! run would measure another process; reading RSS at a start-up line races the spawn).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::cli::{IdleTasksArgs, LessonArgs, LessonCommand, LessonFormat};
use crate::demo;
use crate::error::{exit, Failure};
use crate::present::units::bytes;
use crate::signal;
use crate::source::rss;

/// The claim the lesson is about (the seed question), as it is usually made.
pub const CLAIM: &str = "Tokio: hundreds of KB - few MB per 100k; asyncio: ~45-50 MB";
const CLAIM_TOKIO: &str = "hundreds of KB - few MB";
const CLAIM_ASYNCIO: &str = "~45-50 MB";

/// How often RSS is read while waiting for it to settle.
const POLL: Duration = Duration::from_millis(100);
/// Longest wait for a child's `ready` line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the baseline to settle, and for RSS to settle after the spawn
/// (console-subscriber's aggregator takes in 100k new tasks over a minute or more).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for `spawned`: console-subscriber spawned 100k tasks in ~32 s here.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(300);
/// How often progress is said while a phase takes long.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// console-subscriber's own default event buffer (`ConsoleLayer::DEFAULT_EVENT_BUFFER_CAPACITY`).
const SUBSCRIBER_DEFAULT_EVENT_BUFFER: u64 = 1024 * 100;
/// Event-buffer slots the console-subscriber row gives each task: a spawn, its `Sleep`
/// resource and their poll ops pass through it before the aggregator drains it, and with 16 a
/// task a burst of 100,000 spawns dropped none (a watcher counted `dropped_events` 0).
const SUBSCRIBER_EVENTS_PER_TASK: u64 = 16;

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Runtime {
    Tokio,
    Python,
}

/// One row: what runs and how it is named.
struct Spec {
    id: &'static str,
    label: &'static str,
    runtime: Runtime,
    /// What observes the tasks (tokio rows).
    instrumentation: Option<&'static str>,
    demo: &'static str,
    args: &'static [&'static str],
    /// The row runs console-subscriber: its event buffer is sized to the burst (see
    /// [`subscriber_event_buffer`]).
    subscriber: bool,
}

/// The event buffer the console-subscriber row runs with (`TOKIO_CONSOLE_BUFFER_CAPACITY`).
///
/// When the buffer is full, console-subscriber drops the event, and a dropped spawn is a task
/// it never tracks: no stats, no two HdrHistograms, none of its ~52 KB (console-subscriber
/// 0.5, `send_stats` in its lib.rs creates a task's stats only when its spawn event enters the
/// buffer). Under the default buffer a burst of N spawns loses a share of them that depends on
/// how soon the aggregator gets a core, so the figure would change from run to run and
/// undercount what each tracked task costs. Sized to the burst, every task is tracked.
fn subscriber_event_buffer(tasks: u64) -> u64 {
    tasks
        .saturating_mul(SUBSCRIBER_EVENTS_PER_TASK)
        .max(SUBSCRIBER_DEFAULT_EVENT_BUFFER)
}

const SPECS: [Spec; 5] = [
    Spec {
        id: "tokio-none",
        label: "tokio, no instrumentation",
        runtime: Runtime::Tokio,
        instrumentation: Some("none"),
        demo: "sleepers",
        args: &["--instrument", "none"],
        subscriber: false,
    },
    Spec {
        id: "tokio-probe",
        label: "tokio under asyncmem-probe",
        runtime: Runtime::Tokio,
        instrumentation: Some("asyncmem-probe"),
        demo: "sleepers",
        args: &["--instrument", "probe"],
        subscriber: false,
    },
    Spec {
        id: "tokio-console-subscriber",
        label: "tokio under console-subscriber",
        runtime: Runtime::Tokio,
        instrumentation: Some("console-subscriber"),
        demo: "sleepers",
        args: &["--instrument", "console-subscriber"],
        subscriber: true,
    },
    Spec {
        id: "asyncio-tasks",
        label: "Python asyncio, a Task each",
        runtime: Runtime::Python,
        instrumentation: None,
        demo: "py-sleepers",
        args: &[],
        subscriber: false,
    },
    Spec {
        id: "python-bare-coroutines",
        label: "Python, bare coroutines (never run)",
        runtime: Runtime::Python,
        instrumentation: None,
        demo: "py-sleepers",
        args: &["--bare"],
        subscriber: false,
    },
];

/// One measured row, as JSON has it.
#[derive(Debug, Serialize)]
struct Row {
    id: &'static str,
    label: &'static str,
    runtime: Runtime,
    instrumentation: Option<&'static str>,
    tasks: u64,
    /// RSS before the spawn, once still.
    baseline_rss_bytes: Option<u64>,
    /// RSS with the tasks, once still.
    settled_rss_bytes: Option<u64>,
    /// (settled - baseline) / tasks.
    per_task_bytes: Option<f64>,
    /// per_task_bytes x 100,000: what the claim is about.
    per_100k_bytes: Option<f64>,
    /// From the go line to the child's `spawned` line.
    spawn_seconds: Option<f64>,
    /// Both readings were still for `--settle` (otherwise the last reading after the timeout).
    settled: bool,
    /// What the claim says for this runtime.
    claim: &'static str,
    /// Why this row could not be measured.
    error: Option<String>,
    /// The console-subscriber row: the event buffer it ran with (`TOKIO_CONSOLE_BUFFER_CAPACITY`,
    /// sized to the burst so that no spawn is dropped; the subscriber's default is 102,400).
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriber_event_buffer: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Report {
    lesson: &'static str,
    claim: &'static str,
    tasks: u64,
    method: String,
    settle_seconds: f64,
    rows: Vec<Row>,
}

pub async fn run(args: LessonArgs) -> Result<(), Failure> {
    match args.lesson {
        LessonCommand::IdleTasks(a) => idle_tasks(a).await,
    }
}

async fn idle_tasks(args: IdleTasksArgs) -> Result<(), Failure> {
    // Children are owned by the measuring future: when a signal wins, dropping it kills and
    // reaps them (see [`Kid`]).
    let measured = tokio::select! {
        rows = measure_all(&args) => rows,
        sig = signal::first(signal::SHUTDOWN) => return Err(Failure::interrupted(sig.exit_code())),
    };
    let report = Report {
        lesson: "idle-tasks",
        claim: CLAIM,
        tasks: args.tasks,
        method: method(&args),
        settle_seconds: args.settle.as_secs_f64(),
        rows: measured,
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        LessonFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        LessonFormat::Table => out.write_all(table(&report).as_bytes())?,
    }
    out.flush()?;
    let failed: Vec<&str> = report
        .rows
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.id)
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        exit::LESSON_INCOMPLETE,
        format_args!(
            "{} of {} rows could not be measured: {} (each row says why)",
            failed.len(),
            report.rows.len(),
            failed.join(", ")
        ),
    ))
}

fn method(args: &IdleTasksArgs) -> String {
    format!(
        "{n} tasks per row, each asleep on a one-hour timer, holding nothing else; per task = (RSS with the tasks - RSS before the spawn) / {n}; RSS is VmRSS from /proc, both readings of the same process; A reading counts once unchanged for {settle}",
        n = args.tasks,
        settle = humantime::format_duration(args.settle)
    )
}

async fn measure_all(args: &IdleTasksArgs) -> Vec<Row> {
    let mut rows = Vec::with_capacity(SPECS.len());
    for (i, spec) in SPECS.iter().enumerate() {
        let step = format!("[{}/{}] {}", i + 1, SPECS.len(), spec.label);
        let mut row = Row {
            id: spec.id,
            label: spec.label,
            runtime: spec.runtime,
            instrumentation: spec.instrumentation,
            tasks: args.tasks,
            baseline_rss_bytes: None,
            settled_rss_bytes: None,
            per_task_bytes: None,
            per_100k_bytes: None,
            spawn_seconds: None,
            settled: false,
            claim: match spec.runtime {
                Runtime::Tokio => CLAIM_TOKIO,
                Runtime::Python => CLAIM_ASYNCIO,
            },
            error: None,
            subscriber_event_buffer: spec.subscriber.then(|| subscriber_event_buffer(args.tasks)),
        };
        if let Err(why) = measure(spec, args, &step, &mut row).await {
            progress(&format!("{step}: not measured: {why}"));
            row.error = Some(why);
        }
        rows.push(row);
    }
    rows
}

/// A line of progress on stderr.
fn progress(line: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "asyncmem lesson: {}",
        crate::present::escape(line)
    );
}

/// A child of the lesson: killed and reaped when dropped, on every path out (an error, the
/// next row, a signal that drops the measuring future).
struct Kid {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    /// The last lines of its stderr, to say why it stopped.
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Kid {
    fn start(spec: &Spec, args: &IdleTasksArgs) -> Result<Kid, String> {
        let (mut cmd, tokio_demo): (Command, bool) =
            demo::command(spec.demo).map_err(|e| e.to_string())?;
        let program = cmd.get_program().to_string_lossy().into_owned();
        let n = args.tasks.to_string();
        if tokio_demo {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port for the console: {e}"))?
                .port();
            cmd.args(["--console-bind", &format!("127.0.0.1:{port}")])
                .args(["--ramp", "0", "-b", "0", "-n", &n]);
        } else {
            cmd.args(["-b", "0", "-n", &n]);
        }
        if spec.subscriber {
            // Over an inherited value too: the row measures every task tracked.
            cmd.env(
                "TOKIO_CONSOLE_BUFFER_CAPACITY",
                subscriber_event_buffer(args.tasks).to_string(),
            );
        }
        let mut child = cmd
            .args(spec.args)
            .arg("--handshake")
            // As `--demo` and the tests run it: console-subscriber's aggregator takes in a
            // burst of new tasks a batch per publish tick, ten times sooner at 100 ms.
            .env("TOKIO_CONSOLE_PUBLISH_INTERVAL", "100ms")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {program}: {}",
                    demo::spawn_error(&program, &e)
                )
            })?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::unbounded_channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(err) = child.stderr.take() {
            let keep = stderr.clone();
            std::thread::spawn(move || keep_tail(err, &keep));
        }
        Ok(Kid {
            child,
            stdin,
            lines,
            stderr,
        })
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Why the child is gone: its exit status and the end of its stderr.
    fn gone(&mut self) -> String {
        let status = match self.child.try_wait() {
            Ok(Some(s)) => s.to_string(),
            _ => "it closed its output".to_string(),
        };
        let tail = self
            .stderr
            .lock()
            .map(|t| t.join(" | "))
            .unwrap_or_default();
        if tail.is_empty() {
            format!("the child exited ({status})")
        } else {
            format!("the child exited ({status}): {tail}")
        }
    }

    /// Wait for a line of stdout that starts with `prefix`.
    async fn line(&mut self, prefix: &str, limit: Duration, step: &str) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut next_say = Instant::now() + PROGRESS_EVERY;
        loop {
            let wait = tokio::time::timeout(POLL * 10, self.lines.recv());
            match tokio::time::timeout_at(deadline, wait).await {
                Err(_) => {
                    return Err(format!(
                        "no `{prefix}` line within {}",
                        humantime::format_duration(limit)
                    ))
                }
                Ok(Ok(Some(line))) if line.starts_with(prefix) => return Ok(line),
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => {
                    // Let the exit status arrive before saying it.
                    tokio::time::sleep(POLL).await;
                    return Err(self.gone());
                }
                Ok(Err(_)) => {}
            }
            if Instant::now() >= next_say {
                next_say = Instant::now() + PROGRESS_EVERY;
                let rss = rss::read(self.pid()).map_or("?".into(), |s| bytes(s.rss_bytes));
                progress(&format!("{step}: waiting for `{prefix}`, RSS {rss}"));
            }
        }
    }

    /// RSS once it has not changed for `still` (or the last reading after [`SETTLE_TIMEOUT`],
    /// `false`).
    async fn settled_rss(&mut self, still: Duration, step: &str) -> Result<(u64, bool), String> {
        let start = Instant::now();
        let mut last = None;
        let mut since = Instant::now();
        let mut next_say = Instant::now() + PROGRESS_EVERY;
        loop {
            let Some(now) = rss::read(self.pid()).map(|s| s.rss_bytes) else {
                return Err(self.gone());
            };
            if last != Some(now) {
                last = Some(now);
                since = Instant::now();
            } else if since.elapsed() >= still {
                return Ok((now, true));
            }
            if start.elapsed() >= SETTLE_TIMEOUT {
                return Ok((now, false));
            }
            if Instant::now() >= next_say {
                next_say = Instant::now() + PROGRESS_EVERY;
                progress(&format!("{step}: RSS {} and still moving", bytes(now)));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn go(&mut self) -> Result<(), String> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("the child's stdin is gone".into());
        };
        stdin
            .write_all(b"go\n")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("telling the child to spawn: {e}"))
    }
}

/// Keep the last lines of a child's stderr.
fn keep_tail(err: impl Read, keep: &std::sync::Mutex<Vec<String>>) {
    for line in BufReader::new(err).lines() {
        let Ok(line) = line else { return };
        if let Ok(mut tail) = keep.lock() {
            tail.push(line);
            let over = tail.len().saturating_sub(4);
            tail.drain(..over);
        }
    }
}

async fn measure(
    spec: &Spec,
    args: &IdleTasksArgs,
    step: &str,
    row: &mut Row,
) -> Result<(), String> {
    progress(&format!("{step}: starting"));
    let mut kid = Kid::start(spec, args)?;
    kid.line("ready", READY_TIMEOUT, step).await?;
    let (baseline, still_before) = kid.settled_rss(args.settle, step).await?;
    row.baseline_rss_bytes = Some(baseline);
    progress(&format!(
        "{step}: baseline {}; spawning {} tasks",
        bytes(baseline),
        args.tasks
    ));
    let spawn_started = Instant::now();
    kid.go()?;
    kid.line("spawned", SPAWN_TIMEOUT, step).await?;
    row.spawn_seconds = Some(spawn_started.elapsed().as_secs_f64());
    let (with_tasks, still_after) = kid.settled_rss(args.settle, step).await?;
    row.settled_rss_bytes = Some(with_tasks);
    row.settled = still_before && still_after;
    let per_task = (with_tasks as f64 - baseline as f64) / args.tasks as f64;
    row.per_task_bytes = Some(per_task);
    row.per_100k_bytes = Some(per_task * 100_000.0);
    progress(&format!(
        "{step}: {} with the tasks: {:.0} B per task{}",
        bytes(with_tasks),
        per_task,
        if row.settled {
            ""
        } else {
            " (RSS did not settle: the last reading)"
        }
    ));
    Ok(())
}

/// Decimal megabytes (gigabytes from 1000 MB), as the claim counts.
fn megabytes(b: f64) -> String {
    if b.abs() >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else {
        format!("{:.1} MB", b / 1e6)
    }
}

/// The row's name under its runtime's heading in the table.
fn short_label(id: &str) -> &'static str {
    match id {
        "tokio-none" => "no instrumentation",
        "tokio-probe" => "under asyncmem-probe",
        "tokio-console-subscriber" => "under console-subscriber",
        "asyncio-tasks" => "asyncio, a Task each",
        _ => "bare coroutines (never run)",
    }
}

/// The table, 80 columns wide: one heading per runtime with what the claim says for it, the
/// rows under it.
fn table(report: &Report) -> String {
    let mut s = format!(
        "asyncmem lesson idle-tasks: what {} idle tasks cost, measured here\n{}.\n\n",
        report.tasks,
        report.method.replace("; ", ".\n")
    );
    s.push_str(&format!(
        "{:<30}{:>10}{:>11}{:>10}{:>12}\n",
        "", "before", "with tasks", "per task", "per 100k"
    ));
    let mut notes = Vec::new();
    let mut heading = None;
    for r in &report.rows {
        if heading != Some(r.runtime) {
            heading = Some(r.runtime);
            let name = match r.runtime {
                Runtime::Tokio => "tokio",
                Runtime::Python => "Python",
            };
            s.push_str(&format!("{name} (the claim: {} per 100k)\n", r.claim));
        }
        let label = format!("  {}", short_label(r.id));
        let (Some(before), Some(after), Some(per_task), Some(per_100k), None) = (
            r.baseline_rss_bytes,
            r.settled_rss_bytes,
            r.per_task_bytes,
            r.per_100k_bytes,
            &r.error,
        ) else {
            let why = r.error.as_deref().unwrap_or("not measured");
            s.push_str(&format!(
                "{label:<30}{:>10}{:>11}{:>10}{:>12}\n",
                "-", "-", "-", "-"
            ));
            notes.push(format!("{}: {}", r.label, crate::present::escape(why)));
            continue;
        };
        if let Some(buffer) = r.subscriber_event_buffer {
            notes.push(format!(
                "{}: its event buffer raised to {buffer} events\n  (TOKIO_CONSOLE_BUFFER_CAPACITY; default {SUBSCRIBER_DEFAULT_EVENT_BUFFER}): a spawn it drops when\n  the buffer is full is a task it never tracks, and under the default the\n  figure varied with how many it dropped",
                r.label
            ));
        }
        let mark = if r.settled { "" } else { "~" };
        if !r.settled {
            notes.push(format!(
                "{}: ~ RSS was still moving after {}: the last reading",
                r.label,
                humantime::format_duration(SETTLE_TIMEOUT)
            ));
        }
        s.push_str(&format!(
            "{label:<30}{:>10}{:>11}{:>10}{:>12}\n",
            bytes(before),
            bytes(after),
            format!("{mark}{per_task:.0} B"),
            format!("{mark}{}", megabytes(per_100k)),
        ));
    }
    s.push_str(&format!("\nThe claim: \"{}\".\n", report.claim));
    for n in notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s
}
