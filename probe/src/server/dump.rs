//! `asyncmem.probe.Dump/TakeDump` (see [`crate::wire`]) as a tower service, routed beside
//! `Instrument` on the same address; hand-written, as the probe builds without protoc. Served
//! in every build: without the `taskdump` feature it answers why there is no dump.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio_stream::Stream;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::{Request, Response, Status};

use crate::wire::{
    DumpReply, DumpRequest, DEFAULT_DUMP_TIMEOUT_MS, DEFAULT_TASKS_PER_MESSAGE, DUMP_SERVICE,
    MAX_TASKS_PER_MESSAGE, TAKE_DUMP_PATH,
};

/// The longest timeout a request may ask for.
const MAX_TIMEOUT_MS: u32 = 60_000;

#[derive(Clone)]
pub(crate) struct DumpServer {
    /// The task records: a poll under way for long stops a dump (see `crate::dump::take`).
    pub(crate) store: std::sync::Arc<crate::store::Store>,
}

impl tonic::server::NamedService for DumpServer {
    const NAME: &'static str = DUMP_SERVICE;
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<DumpReply, Status>> + Send>>;

struct TakeDump(std::sync::Arc<crate::store::Store>);

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

impl<B> Service<http::Request<B>> for DumpServer
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
        if req.uri().path() != TAKE_DUMP_PATH {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let store = self.store.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.server_streaming(TakeDump(store), req).await)
        })
    }
}
