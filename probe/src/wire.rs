//! The messages of the probe's own gRPC services, beside console-api's `Instrument` on the same
//! address (tokio-console never calls them, so nothing changes for it). Hand-written prost
//! messages: the probe and asyncmem build without protoc. As a `.proto`:
//!
//! ```proto
//! package asyncmem.probe;
//!
//! // Task dumps (the probe's `taskdump` feature): where every task is parked now.
//! service Dump { rpc TakeDump(DumpRequest) returns (stream DumpReply); }
//! message DumpRequest {
//!   uint32 timeout_ms = 1;             // 0: 2000
//!   uint32 tasks_per_message = 2;      // 0: 1000
//! }
//! message DumpReply {
//!   DumpSummary summary = 1;           // in the first message only
//!   repeated TaskTrace tasks = 2;
//! }
//! message DumpSummary {
//!   uint64 pause_us = 1;               // how long the dump held the runtimes' workers
//!   uint64 resolve_us = 2;             // symbolizing, on the probe's own threads
//!   uint32 runtimes = 3;               // runtimes dumped
//!   uint64 tasks = 4;                  // tasks in the dump, in all messages
//!   repeated string notes = 5;         // what was not dumped, and why
//! }
//! message TaskTrace {
//!   uint64 task_id = 1;                // tokio's task::Id (the console's `task.id` field)
//!   repeated Backtrace backtraces = 2; // one per leaf future polled (several for join!)
//!   bool cut = 3;                      // frames or backtraces left out past the bounds
//! }
//! message Backtrace { repeated Frame frames = 1; }  // innermost first
//! message Frame { string function = 1; string file = 2; uint32 line = 3; uint32 col = 4; }
//!
//! // The heap each task holds (a target with `asyncmem_probe::Allocator`; the probe's metadata
//! // entry then lists the field `heap_stream`).
//! service Heap { rpc WatchHeap(HeapRequest) returns (stream HeapUpdate); }
//! message HeapRequest {}
//! message HeapUpdate {
//!   google.protobuf.Timestamp now = 1;
//!   // Tasks (by console `Task.id`) whose heap moved since the last update, with their
//!   // current figures; a new watcher first gets every task holding heap. A live task never
//!   // listed holds none.
//!   repeated TaskHeap tasks = 2;
//!   HeapFigures outside_tasks = 3;       // allocated outside any poll, still live
//!   HeapFigures left_by_ended_tasks = 4; // allocated by tasks that have ended, still live
//! }
//! message TaskHeap { uint64 id = 1; HeapFigures heap = 2; }
//! message HeapFigures { uint64 live_bytes = 1; uint64 live_allocs = 2; uint64 peak_bytes = 3; }
//! ```
//!
//! Errors are gRPC statuses: `FAILED_PRECONDITION` when the target cannot dump (built without
//! the feature, no runtime seen yet, only `current_thread` runtimes), `ABORTED` while another
//! dump runs, `DEADLINE_EXCEEDED` when the dump did not finish in time (a worker blocked).

/// The dump service's name and its method's path.
pub const DUMP_SERVICE: &str = "asyncmem.probe.Dump";
pub const TAKE_DUMP_PATH: &str = "/asyncmem.probe.Dump/TakeDump";

/// What a dump may take when the request does not say.
pub const DEFAULT_DUMP_TIMEOUT_MS: u32 = 2_000;
/// Tasks per [`DumpReply`] when the request does not say (and the most it may ask).
pub const DEFAULT_TASKS_PER_MESSAGE: u32 = 1_000;
pub const MAX_TASKS_PER_MESSAGE: u32 = 10_000;

#[derive(Clone, PartialEq, prost::Message)]
pub struct DumpRequest {
    #[prost(uint32, tag = "1")]
    pub timeout_ms: u32,
    #[prost(uint32, tag = "2")]
    pub tasks_per_message: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DumpReply {
    #[prost(message, optional, tag = "1")]
    pub summary: Option<DumpSummary>,
    #[prost(message, repeated, tag = "2")]
    pub tasks: Vec<TaskTrace>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DumpSummary {
    #[prost(uint64, tag = "1")]
    pub pause_us: u64,
    #[prost(uint64, tag = "2")]
    pub resolve_us: u64,
    #[prost(uint32, tag = "3")]
    pub runtimes: u32,
    #[prost(uint64, tag = "4")]
    pub tasks: u64,
    #[prost(string, repeated, tag = "5")]
    pub notes: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskTrace {
    #[prost(uint64, tag = "1")]
    pub task_id: u64,
    #[prost(message, repeated, tag = "2")]
    pub backtraces: Vec<Backtrace>,
    #[prost(bool, tag = "3")]
    pub cut: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Backtrace {
    #[prost(message, repeated, tag = "1")]
    pub frames: Vec<Frame>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    #[prost(string, tag = "1")]
    pub function: String,
    #[prost(string, tag = "2")]
    pub file: String,
    #[prost(uint32, tag = "3")]
    pub line: u32,
    #[prost(uint32, tag = "4")]
    pub col: u32,
}

/// The heap service's name and its method's path.
pub const HEAP_SERVICE: &str = "asyncmem.probe.Heap";
pub const WATCH_HEAP_PATH: &str = "/asyncmem.probe.Heap/WatchHeap";
/// The field of the probe's metadata entry that says the heap stream has figures (an
/// [`crate::Allocator`] is in use).
pub const HEAP_STREAM_FIELD: &str = "heap_stream";

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeapRequest {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeapUpdate {
    #[prost(message, optional, tag = "1")]
    pub now: Option<prost_types::Timestamp>,
    #[prost(message, repeated, tag = "2")]
    pub tasks: Vec<TaskHeap>,
    #[prost(message, optional, tag = "3")]
    pub outside_tasks: Option<HeapFigures>,
    #[prost(message, optional, tag = "4")]
    pub left_by_ended_tasks: Option<HeapFigures>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskHeap {
    /// The task's console id (`Task.id` of `WatchUpdates`).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(message, optional, tag = "2")]
    pub heap: Option<HeapFigures>,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct HeapFigures {
    #[prost(uint64, tag = "1")]
    pub live_bytes: u64,
    #[prost(uint64, tag = "2")]
    pub live_allocs: u64,
    #[prost(uint64, tag = "3")]
    pub peak_bytes: u64,
}

impl From<crate::HeapStats> for HeapFigures {
    fn from(s: crate::HeapStats) -> Self {
        HeapFigures {
            live_bytes: s.live_bytes,
            live_allocs: s.live_allocs,
            peak_bytes: s.peak_bytes,
        }
    }
}
