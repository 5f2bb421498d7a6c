//! The probe's heap stream, `asyncmem.probe.Heap/WatchHeap` (messages in [`crate::wire`]):
//! the heap of the tasks of a target that uses [`crate::Allocator`], served beside
//! console-api's `Instrument` on the same address. tokio-console never calls it, so nothing
//! changes for it; asyncmem calls it when the probe's metadata entry lists
//! [`HEAP_STREAM_FIELD`].

use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxFuture;
use tonic::{Request, Response, Status};

use super::method::{Method, Routed};
use super::Command;
pub(crate) use crate::wire::HEAP_STREAM_FIELD;
use crate::wire::{HeapRequest, HeapUpdate, TaskHeap, HEAP_SERVICE, WATCH_HEAP_PATH};

/// Tasks per message (about 20 bytes each: messages of ~320 KiB).
pub(crate) const TASKS_PER_UPDATE: usize = 16_384;

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

/// The `Heap` service: each watcher gets its stream from the publisher.
pub(crate) fn server(cmds: mpsc::Sender<Command>) -> Routed<WatchHeap> {
    Routed(WatchHeap(cmds))
}

#[derive(Clone)]
pub(crate) struct WatchHeap(mpsc::Sender<Command>);

impl Method for WatchHeap {
    const SERVICE: &'static str = HEAP_SERVICE;
    const PATH: &'static str = WATCH_HEAP_PATH;
    type Request = HeapRequest;
}

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
