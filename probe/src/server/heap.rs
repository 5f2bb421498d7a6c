//! The probe's own gRPC service for the heap tasks hold (when the target uses
//! [`crate::Allocator`]): `asyncmem.probe.Heap/WatchHeap`, served beside console-api's
//! `Instrument` on the same address. tokio-console never calls it, so it changes nothing for
//! tokio-console; asyncmem calls it when the probe's metadata entry lists
//! [`HEAP_STREAM_FIELD`]. Its messages, as a `.proto`:
//!
//! ```proto
//! package asyncmem.probe;
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

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::{Request, Response, Status};

use super::Command;
use crate::HeapStats;

/// The gRPC service name and the method's path.
pub const SERVICE_NAME: &str = "asyncmem.probe.Heap";
pub const WATCH_HEAP_PATH: &str = "/asyncmem.probe.Heap/WatchHeap";
/// The field of the probe's metadata entry that says the heap stream has figures (an
/// [`crate::Allocator`] is in use).
pub const HEAP_STREAM_FIELD: &str = "heap_stream";
/// Tasks per message (about 20 bytes each: messages of ~320 KiB).
pub(crate) const TASKS_PER_UPDATE: usize = 16_384;

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

impl From<HeapStats> for HeapFigures {
    fn from(s: HeapStats) -> Self {
        HeapFigures {
            live_bytes: s.live_bytes,
            live_allocs: s.live_allocs,
            peak_bytes: s.peak_bytes,
        }
    }
}

pub(crate) type HeapTx = mpsc::Sender<Result<HeapUpdate, Status>>;

/// The heap figures now, cut into updates of at most [`TASKS_PER_UPDATE`] tasks: every task
/// holding heap (`delta` false, for a new watcher) or the tasks whose heap moved since the
/// last delta. Each update carries the process-wide figures.
pub(crate) fn updates(delta: bool) -> Vec<HeapUpdate> {
    let now = Some(SystemTime::now().into());
    let outside_tasks = Some(crate::heap::outside_tasks().into());
    let left_by_ended_tasks = Some(crate::heap::left_by_ended_tasks().into());
    let empty = || HeapUpdate {
        now,
        tasks: Vec::new(),
        outside_tasks,
        left_by_ended_tasks,
    };
    let mut out = vec![empty()];
    crate::heap::each_task(delta, |id, stats| {
        if out
            .last()
            .is_some_and(|u| u.tasks.len() >= TASKS_PER_UPDATE)
        {
            out.push(empty());
        }
        if let Some(u) = out.last_mut() {
            u.tasks.push(TaskHeap {
                id,
                heap: Some(stats.into()),
            });
        }
    });
    out
}

/// `WatchHeap` as a tower service, routed beside `Instrument` (hand-written: the probe builds
/// without protoc).
#[derive(Clone)]
pub(crate) struct HeapServer {
    pub(crate) cmds: mpsc::Sender<Command>,
}

impl tonic::server::NamedService for HeapServer {
    const NAME: &'static str = SERVICE_NAME;
}

struct WatchHeap(mpsc::Sender<Command>);

impl tonic::server::ServerStreamingService<HeapRequest> for WatchHeap {
    type Response = HeapUpdate;
    type ResponseStream = ReceiverStream<Result<HeapUpdate, Status>>;
    type Future = BoxFuture<Response<Self::ResponseStream>, Status>;

    fn call(&mut self, _req: Request<HeapRequest>) -> Self::Future {
        let cmds = self.0.clone();
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(super::WATCHER_BUFFER);
            super::send_command(&cmds, Command::Heap(tx))?;
            Ok(Response::new(ReceiverStream::new(rx)))
        })
    }
}

impl<B> Service<http::Request<B>> for HeapServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != WATCH_HEAP_PATH {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let method = WatchHeap(self.cmds.clone());
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.server_streaming(method, req).await)
        })
    }
}
