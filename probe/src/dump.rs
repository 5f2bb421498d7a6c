//! Task dumps (the `taskdump` feature): where every task of the target is parked now.
//!
//! tokio's `Handle::dump()` pauses a runtime's workers, re-polls every task in a tracing mode
//! and gives a trace per task; the probe needs the runtime's handle for it, and takes it itself:
//! the first time a thread enters a task's poll ([`seen_runtime`], once per thread), the
//! handle of the runtime current there is kept. So a program that calls [`crate::init`] before
//! it builds its runtime works. A dump ([`take`]):
//! - runs in a task of the probe's own runtime (a panic in it is an error, not the probe's end),
//!   under a timeout: tokio's dump never ends while a worker is blocked;
//! - refuses a second dump while one runs (a timed-out one included, until it ends);
//! - resolves the backtraces on a blocking thread of the probe's own runtime, never on the
//!   target's workers;
//! - dumps multi-thread runtimes only: tokio takes a `current_thread` runtime's dump only from
//!   inside that runtime, and has open bugs there (tokio#8391); those are named in the notes.
//!
//! Without the feature, or on a platform tokio cannot dump on, [`take`] says so (`cfg(dumps)`,
//! set by the build script, says whether this build can dump).

use std::time::Duration;

use tonic::Status;

use crate::wire::{DumpSummary, TaskTrace};

/// A dump, resolved: its figures and a trace per task.
pub(crate) struct Taken {
    pub summary: DumpSummary,
    pub tasks: Vec<TaskTrace>,
}

/// Why the build cannot dump, when it cannot.
pub const NOT_BUILT: &str = "this target cannot take task dumps: its asyncmem-probe was built without the `taskdump` feature (it needs `asyncmem-probe = { features = [\"taskdump\"] }`, tokio's `taskdump` feature, `--cfg tokio_unstable`, and Linux on x86_64, aarch64, x86 or s390x)";

#[cfg(dumps)]
mod imp {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use tokio::runtime::{Handle, RuntimeFlavor};
    use tonic::Status;

    use super::Taken;
    use crate::wire::{Backtrace, DumpSummary, Frame, TaskTrace};

    /// Frames kept per backtrace (innermost first), backtraces per task, bytes per string.
    const MAX_FRAMES: usize = 128;
    const MAX_BACKTRACES: usize = 16;
    const MAX_TEXT: usize = 512;

    /// The runtimes seen polling a task, one handle each.
    static HANDLES: Mutex<Vec<Handle>> = Mutex::new(Vec::new());
    /// A dump is running (set until it ends, even past its timeout).
    static BUSY: AtomicBool = AtomicBool::new(false);

    thread_local! {
        static SEEN: Cell<bool> = const { Cell::new(false) };
    }

    pub(crate) fn seen_runtime() {
        // tokio takes a multi-thread runtime's dump on a thread of its own, in a runtime of
        // its own: that one is not the target's (and is gone after the dump).
        if BUSY.load(Ordering::Acquire) {
            return;
        }
        let first = SEEN.try_with(|s| !s.replace(true)).unwrap_or(false);
        if !first {
            return;
        }
        let Ok(handle) = Handle::try_current() else {
            return;
        };
        // tokio takes a multi-thread runtime's dump from a current_thread runtime of its own,
        // on an unnamed thread that ends with the dump: not the target's. (A target's own
        // current_thread runtime runs on a named thread: `main`, or one the program named.)
        if handle.runtime_flavor() == RuntimeFlavor::CurrentThread
            && std::thread::current().name().is_none()
        {
            return;
        }
        let mut all = HANDLES.lock().unwrap_or_else(|e| e.into_inner());
        if !all.iter().any(|h| h.id() == handle.id()) {
            all.push(handle);
        }
    }

    /// Clears [`BUSY`] when dropped.
    struct Busy;
    impl Drop for Busy {
        fn drop(&mut self) {
            BUSY.store(false, Ordering::Release);
        }
    }

    pub(crate) async fn take(
        timeout: Duration,
        longest_poll: Option<(Duration, u64)>,
        tasks: usize,
    ) -> Result<Taken, Status> {
        // tokio's dump meets every worker at a barrier that gives up after 250 ms without
        // undoing its count: with a worker held in a long poll, a later dump can leave a
        // worker waiting for ever (tokio 1.54). Not with a poll under way for this long.
        if let Some((d, task)) = longest_poll.filter(|(d, _)| *d >= super::BLOCKED_POLL) {
            return Err(Status::failed_precondition(format!(
                "a worker of the target has been in one poll for {} ms (tokio task {task}): tokio's dump needs every worker and could leave the runtime stuck waiting for it, so none is taken; a task that blocks its worker (std::thread::sleep, a busy loop, blocking I/O) is the thing to fix (asyncmem's `Y` lint)",
                d.as_millis()
            )));
        }
        if BUSY.swap(true, Ordering::AcqRel) {
            return Err(Status::aborted(
                "another task dump is running (or the last one, which timed out, has not ended yet); try again when it ends",
            ));
        }
        let busy = Busy;
        let handles = HANDLES.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if handles.is_empty() {
            return Err(Status::failed_precondition(
                "no tokio runtime has polled a task since the probe started: nothing to dump yet",
            ));
        }
        let mut notes = Vec::new();
        let multi: Vec<Handle> = handles
            .into_iter()
            .filter(|h| match h.runtime_flavor() {
                RuntimeFlavor::MultiThread => true,
                RuntimeFlavor::CurrentThread => {
                    notes.push(format!(
                        "runtime {} (current_thread) was not dumped: tokio dumps a current_thread runtime only from inside it, with open bugs there (tokio#8391)",
                        h.id()
                    ));
                    false
                }
                _ => {
                    notes.push(format!("runtime {} (another flavour) was not dumped", h.id()));
                    false
                }
            })
            .collect();
        if multi.is_empty() {
            return Err(Status::failed_precondition(format!(
                "no runtime this probe can dump: {}",
                notes.join("; ")
            )));
        }
        // tokio's dump gathers the tasks queued on the workers into one queue that takes no
        // more once it holds 128: with more queued, it spins for ever and the whole runtime
        // stops (see [`QUEUED_SAFE`]). Wait a little for the queues to drain, or refuse.
        let quiet_by = Instant::now() + QUIET_WAIT.min(timeout / 2);
        loop {
            let queued = queued(&multi);
            if queued <= QUEUED_SAFE {
                break;
            }
            if Instant::now() >= quiet_by {
                return Err(Status::failed_precondition(format!(
                    "the target's runtime has {queued} tasks queued to run (still after {} ms): tokio's dump (1.54) gathers the queued tasks into one queue that takes no more than 128 and then spins for ever, stopping the whole runtime, so none is taken while more than {QUEUED_SAFE} are queued; try again when the target is less busy (a program that has just spawned or woken thousands of tasks settles in a few seconds)",
                    QUIET_WAIT.min(timeout / 2).as_millis()
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let runtimes = multi.len() as u32;
        let started = Instant::now();
        // The dump runs in a task of its own that keeps `busy` until it ends: a timeout
        // leaves it running (the target's workers may still be paused), and no second dump
        // starts meanwhile.
        let watched = multi.clone();
        let task = tokio::spawn(async move {
            let mut dumps = Vec::with_capacity(multi.len());
            for h in &multi {
                dumps.push(h.dump().await);
            }
            (dumps, busy)
        });
        // The last part of the timeout tells a stuck runtime from a slow dump: its workers
        // poll nothing while tasks wait in its queues.
        let window = (timeout / 4).min(STUCK_WINDOW);
        let mut task = task;
        let mut polls_before = None;
        let waited = match tokio::time::timeout(timeout - window, &mut task).await {
            Ok(done) => Ok(done),
            Err(_) => {
                polls_before = Some(polls(&watched));
                tokio::time::timeout(window, &mut task).await
            }
        };
        let dumps = match waited {
            Err(_) => {
                let queued = queued(&watched);
                if queued > 0 && polls_before == Some(polls(&watched)) {
                    return Err(Status::deadline_exceeded(format!(
                        "the task dump did not finish within {} ms, and the target's workers polled no task in its last {} ms while {queued} wait in its queues: the target's runtime is stuck, most likely in tokio's dump itself (tokio 1.54 spins for ever when more than 128 tasks are queued as the dump starts: asyncmem-probe waits for the queues to drain first, but tasks woken at that moment can still fill them); the target needs a restart, and no other dump starts meanwhile",
                        timeout.as_millis(),
                        window.as_millis()
                    )));
                }
                return Err(Status::deadline_exceeded(format!(
                    "the task dump did not finish within {} ms: tokio re-polls every task in it ({tasks} now: allow it more with --dump-timeout), or a worker of the target is blocked (std::thread::sleep, a busy loop, a lock); it goes on until it ends, and no other dump starts meanwhile",
                    timeout.as_millis()
                )));
            }
            Ok(Err(e)) => return Err(Status::internal(format!("the task dump failed: {e}"))),
            Ok(Ok(d)) => d,
        };
        // Busy until the answer is resolved, too.
        let (dumps, _busy) = dumps;
        let pause = started.elapsed();
        let resolving = Instant::now();
        // Resolved on a thread of the probe's own, untraced (a blocking task of the probe's
        // runtime would show as one of the target's tasks).
        let (tx, rx) = tokio::sync::oneshot::channel();
        let resolver = std::thread::Builder::new()
            .name("asyncmem-probe-dump".into())
            .spawn(move || {
                let _untraced = tracing::subscriber::set_default(
                    tracing_core::subscriber::NoSubscriber::default(),
                );
                let _ = tx.send(resolve(&dumps));
            });
        if let Err(e) = resolver {
            return Err(Status::internal(format!(
                "cannot start a thread to resolve the dump: {e}"
            )));
        }
        let tasks = rx.await.map_err(|_| {
            Status::internal("resolving the dump's backtraces failed (its thread ended)")
        })?;
        Ok(Taken {
            summary: DumpSummary {
                pause_us: pause.as_micros() as u64,
                resolve_us: resolving.elapsed().as_micros() as u64,
                runtimes,
                tasks: tasks.len() as u64,
                notes,
            },
            tasks,
        })
    }

    /// How many tasks may be queued on a runtime's workers when its dump starts. tokio 1.54's
    /// dump (`steal_all` in `runtime/scheduler/multi_thread/worker/taskdump.rs`) moves every
    /// worker's queued tasks into one new local queue of 256, with `steal_into`, which refuses
    /// once that queue holds more than 128, while `steal_all` loops until each worker's
    /// queue is empty: with more than about 128 queued, the dump's leader spins for ever and
    /// the other workers wait for it at a barrier without a timeout; the runtime stops. Seen
    /// (gdb) on a debug `parked` of 20,000 tasks dumped in its first seconds. Kept well under
    /// 128: the workers may queue more between this check and the dump's barrier (tasks woken
    /// by a timer or I/O at that moment: a residual risk the probe cannot close).
    const QUEUED_SAFE: usize = 32;
    /// How long a dump waits for the queues to drain under [`QUEUED_SAFE`] (at most half its
    /// timeout).
    const QUIET_WAIT: Duration = Duration::from_millis(1000);
    /// At most this last part of a timed-out dump tells a stuck runtime (see [`take`]).
    const STUCK_WINDOW: Duration = Duration::from_millis(500);

    /// The most tasks queued on one runtime: on its workers' queues, and in its global queue,
    /// from which an idle worker takes up to 128 at once into its own (`next_task` in tokio's
    /// `worker.rs`). Each runtime's dump gathers its own.
    fn queued(handles: &[Handle]) -> usize {
        handles
            .iter()
            .map(|h| {
                let m = h.metrics();
                (0..m.num_workers())
                    .map(|w| m.worker_local_queue_depth(w))
                    .sum::<usize>()
                    + m.global_queue_depth()
            })
            .max()
            .unwrap_or(0)
    }

    /// The polls the runtimes' workers have reported so far.
    fn polls(handles: &[Handle]) -> u64 {
        handles
            .iter()
            .map(|h| {
                let m = h.metrics();
                (0..m.num_workers())
                    .map(|w| m.worker_poll_count(w))
                    .sum::<u64>()
            })
            .sum()
    }

    /// Every task's backtraces, symbolized and bounded.
    fn resolve(dumps: &[tokio::runtime::Dump]) -> Vec<TaskTrace> {
        dumps
            .iter()
            .flat_map(|d| d.tasks().iter())
            .map(|t| {
                let backtraces = t.trace().resolve_backtraces();
                let cut = backtraces.len() > MAX_BACKTRACES
                    || backtraces.iter().any(|b| b.frames().count() > MAX_FRAMES);
                TaskTrace {
                    task_id: t.id().to_string().parse().unwrap_or(0),
                    cut,
                    backtraces: backtraces
                        .iter()
                        .take(MAX_BACKTRACES)
                        .map(|b| Backtrace {
                            frames: b
                                .frames()
                                .flat_map(|f| f.symbols())
                                .take(MAX_FRAMES)
                                .map(|s| Frame {
                                    function: bounded(
                                        s.name_demangled().map(without_hash).unwrap_or(""),
                                    ),
                                    file: bounded(
                                        &s.filename()
                                            .map(|p| p.to_string_lossy().into_owned())
                                            .unwrap_or_default(),
                                    ),
                                    line: s.lineno().unwrap_or(0),
                                    col: s.colno().unwrap_or(0),
                                })
                                .collect(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// `s`, cut to [`MAX_TEXT`] bytes at a character boundary.
    fn bounded(s: &str) -> String {
        if s.len() <= MAX_TEXT {
            return s.to_string();
        }
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_string()
    }

    /// `path::f::h0123456789abcdef` -> `path::f` (the symbol's hash is noise to a reader).
    fn without_hash(name: &str) -> &str {
        match name.rsplit_once("::h") {
            Some((head, hash))
                if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                head
            }
            _ => name,
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn symbol_hashes_are_dropped() {
            assert_eq!(
                super::without_hash("demo::handle::{{closure}}::h0123456789abcdef"),
                "demo::handle::{{closure}}"
            );
            assert_eq!(super::without_hash("demo::h"), "demo::h");
            assert_eq!(super::bounded(&"é".repeat(300)).len(), 512);
        }
    }
}

#[cfg(not(dumps))]
mod imp {
    use std::time::Duration;

    use tonic::Status;

    use super::{Taken, NOT_BUILT};

    pub(crate) fn seen_runtime() {}

    pub(crate) async fn take(
        _timeout: Duration,
        _longest_poll: Option<(Duration, u64)>,
        _tasks: usize,
    ) -> Result<Taken, Status> {
        Err(Status::failed_precondition(NOT_BUILT))
    }
}

/// Whether this build can take dumps at all.
pub const ENABLED: bool = cfg!(dumps);

/// Called at the start of every task poll: keeps the runtime's handle the first time a thread
/// polls a task (a thread-local check after that).
pub(crate) fn seen_runtime() {
    imp::seen_runtime();
}

/// Whether a new task span is tokio's own helper of a dump: tokio takes a multi-thread
/// runtime's dump from a `block_on` of its own (in `runtime/handle.rs`). That task is not the
/// target's: recorded, it would show as a transient task after every dump, and the ids around
/// it as tasks never announced.
pub(crate) fn is_dump_helper(attrs: &tracing_core::span::Attributes<'_>) -> bool {
    if !ENABLED {
        return false;
    }
    struct Fields {
        block_on: bool,
        tokio_handle: bool,
    }
    impl tracing_core::field::Visit for Fields {
        fn record_str(&mut self, field: &tracing_core::Field, value: &str) {
            match field.name() {
                "kind" => self.block_on = value == "block_on",
                "loc.file" => {
                    self.tokio_handle =
                        value.ends_with("src/runtime/handle.rs") && value.contains("tokio")
                }
                _ => {}
            }
        }
        fn record_debug(&mut self, field: &tracing_core::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "kind" {
                self.block_on = format!("{value:?}").trim_matches('"') == "block_on";
            }
        }
    }
    let mut f = Fields {
        block_on: false,
        tokio_handle: false,
    };
    attrs.record(&mut f);
    f.block_on && f.tokio_handle
}

/// A poll under way for this long stops a dump before it starts (see [`take`]).
pub const BLOCKED_POLL: Duration = Duration::from_millis(20);

/// A dump of every multi-thread runtime seen, within `timeout`; refused while a poll has been
/// under way for [`BLOCKED_POLL`] or more (`longest_poll`: how long, and the task's tokio id).
/// `tasks`: how many the probe holds (for the messages).
pub(crate) async fn take(
    timeout: Duration,
    longest_poll: Option<(Duration, u64)>,
    tasks: usize,
) -> Result<Taken, Status> {
    imp::take(timeout, longest_poll, tasks).await
}
