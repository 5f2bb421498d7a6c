//! What the sources tell the model (`Event`), and the connection, instrumentation and replay
//! position of the target as the model knows them.

use console_api as proto;

use super::series::RssSample;
use super::time::Nanos;

/// Which instrumentation the target runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instrumentation {
    /// Not known yet (no console picture).
    Unknown,
    /// console-subscriber (the standard tokio-console instrumentation).
    ConsoleSubscriber,
    /// asyncmem's lean probe (it registers a callsite with target `asyncmem_probe`).
    Probe,
    /// No console endpoint at all: RSS only.
    None,
}

impl Instrumentation {
    pub fn as_str(self) -> &'static str {
        match self {
            Instrumentation::Unknown => "unknown",
            Instrumentation::ConsoleSubscriber => "console-subscriber",
            Instrumentation::Probe => "asyncmem-probe",
            Instrumentation::None => "none",
        }
    }
}

/// Connection to the target's console endpoint, as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Connected,
    /// The stream dropped; a reconnect is under way.
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    /// The target process is gone; the data stays for inspection.
    TargetExited,
    /// No console endpoint: only RSS is read.
    RssOnly,
}

/// What the sources tell the model. The sources produce these; the model is their only reader.
#[derive(Debug)]
pub enum Event {
    Update(Box<proto::instrument::Update>),
    /// Tasks an update announced that were not decoded: over `--max-tasks`
    /// ([`crate::source::decode`]).
    NotTracked(u64),
    Rss(RssSample),
    /// The console stream (re)connected to `pid` (if known).
    Connected {
        pid: Option<i32>,
    },
    Disconnected {
        attempt: u32,
        reason: String,
    },
    /// The aggregator reported its temporality (paused or live).
    Paused(bool),
    /// Histograms of the task whose details are watched.
    Details(Box<console_api::tasks::TaskDetails>),
    TargetExited,
    /// The target has no console endpoint: only its RSS is read.
    NoConsole,
    /// How many tasks the target says it holds (a demo's `tasks=N` line), and its RSS before
    /// it started them, if read: RSS-only mode's per-task figure.
    TasksReported {
        tasks: u64,
        baseline_rss_bytes: Option<u64>,
    },
    /// The console endpoint found after a start without one (RSS-only mode).
    Endpoint(String),
    /// Replay went back in time: forget everything; the events from the start follow.
    Rewind,
    /// Where a replay stands.
    Playback(Playback),
    /// Heap figures from the probe's heap stream (a target with its allocator).
    Heap(Box<super::heap::HeapEvent>),
    /// A task dump the target gave (`d` in `top`), or why it gave none.
    Dump(Box<Result<TaskDump, String>>),
}

/// A task dump as the target gave it (asyncmem-probe's `asyncmem.probe.Dump`): its figures
/// and a trace per task, innermost frame first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskDump {
    pub summary: asyncmem_probe::wire::DumpSummary,
    pub tasks: Vec<asyncmem_probe::wire::TaskTrace>,
    /// Tasks past `--max-tasks`, not kept.
    pub left_out: u64,
}

/// The last dump and when it came (the model's clock), numbered so that a view sees a new one.
#[derive(Clone, Debug, PartialEq)]
pub struct DumpTaken {
    pub at: Nanos,
    pub seq: u64,
    pub outcome: Result<TaskDump, String>,
}

/// The position of a replay, for the header.
#[derive(Clone, Debug, PartialEq)]
pub struct Playback {
    /// Time since the recording started, and its whole length.
    pub position: Nanos,
    pub length: Nanos,
    pub speed: f64,
    pub playing: bool,
    /// How the recording ends, when not cleanly (cut, corrupt, no end marker).
    pub problem: Option<String>,
}
