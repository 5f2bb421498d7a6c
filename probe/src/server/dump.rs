//! `asyncmem.probe.Dump/TakeDump` (see [`crate::wire`]) as a tower service, routed beside
//! `Instrument` on the same address; hand-written, as the probe builds without protoc. Served
//! in every build: without the `taskdump` feature it answers why there is no dump.

use std::pin::Pin;
use std::time::Duration;

use tokio_stream::Stream;
use tonic::codegen::BoxFuture;
use tonic::{Request, Response, Status};

use super::method::{Method, Routed};

use crate::wire::{
    DumpReply, DumpRequest, DEFAULT_DUMP_TIMEOUT_MS, DEFAULT_TASKS_PER_MESSAGE, DUMP_SERVICE,
    MAX_TASKS_PER_MESSAGE, TAKE_DUMP_PATH,
};

/// The longest timeout a request may ask for.
const MAX_TIMEOUT_MS: u32 = 60_000;

/// The `Dump` service: its task records tell a poll under way for long, which stops a dump
/// (see `crate::dump::take`).
pub(crate) fn server(store: std::sync::Arc<crate::store::Store>) -> Routed<TakeDump> {
    Routed(TakeDump(store))
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<DumpReply, Status>> + Send>>;

#[derive(Clone)]
pub(crate) struct TakeDump(std::sync::Arc<crate::store::Store>);

impl Method for TakeDump {
    const SERVICE: &'static str = DUMP_SERVICE;
    const PATH: &'static str = TAKE_DUMP_PATH;
    type Request = DumpRequest;
}

impl tonic::server::ServerStreamingService<DumpRequest> for TakeDump {
    type Response = DumpReply;
    type ResponseStream = ReplyStream;
    type Future = BoxFuture<Response<Self::ResponseStream>, Status>;

    fn call(&mut self, req: Request<DumpRequest>) -> Self::Future {
        let req = req.into_inner();
        let store = self.0.clone();
        Box::pin(async move {
            let timeout = match req.timeout_ms {
                0 => DEFAULT_DUMP_TIMEOUT_MS,
                t => t.min(MAX_TIMEOUT_MS),
            };
            let per = match req.tasks_per_message {
                0 => DEFAULT_TASKS_PER_MESSAGE,
                n => n.min(MAX_TASKS_PER_MESSAGE),
            } as usize;
            let longest = store
                .longest_poll()
                .map(|(ns, task)| (Duration::from_nanos(ns), task));
            let tasks = store.len();
            let taken =
                crate::dump::take(Duration::from_millis(u64::from(timeout)), longest, tasks)
                    .await?;
            let mut replies = vec![DumpReply {
                summary: Some(taken.summary),
                tasks: Vec::new(),
            }];
            let mut tasks = taken.tasks.into_iter().peekable();
            while tasks.peek().is_some() {
                let chunk: Vec<_> = tasks.by_ref().take(per).collect();
                match replies.last_mut() {
                    Some(last) if last.tasks.is_empty() => last.tasks = chunk,
                    _ => replies.push(DumpReply {
                        summary: None,
                        tasks: chunk,
                    }),
                }
            }
            let stream: ReplyStream = Box::pin(tokio_stream::iter(replies.into_iter().map(Ok)));
            Ok(Response::new(stream))
        })
    }
}
