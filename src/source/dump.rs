//! Task dumps from the target: `asyncmem.probe.Dump/TakeDump` (asyncmem-probe with its
//! `taskdump` feature), on the same endpoint as the console. One request, a stream of replies
//! (the summary first, then the tasks in chunks), read within bounds: at most `max_tasks`
//! tasks, each message within `--max-message-size`.

use std::time::Duration;

use asyncmem_probe::wire::{DumpReply, DumpRequest, DEFAULT_TASKS_PER_MESSAGE, TAKE_DUMP_PATH};
use thiserror::Error;
use tonic::Code;

use super::console::{channel, ConsoleConfig};
use super::Endpoint;
use crate::error::AttachError;

/// A dump as the target gave it.
pub use crate::model::TaskDump as Dump;

#[derive(Debug, Error)]
pub enum DumpError {
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// The endpoint has no dump service (console-subscriber, or a probe too old for it).
    #[error("{endpoint} does not serve task dumps (console-subscriber, or an asyncmem-probe without the dump service): dumps need asyncmem-probe with its `taskdump` feature")]
    NotServed { endpoint: String },
    /// The target said why it cannot dump, or that the dump failed.
    #[error("{0}")]
    Refused(String),
    /// The dump did not end in time on the target's side.
    #[error("the task dump timed out: {0}")]
    TimedOut(String),
    /// The connection ended mid-dump (the target exited?).
    #[error("the task dump stopped short: {0}")]
    Broken(String),
}

/// Ask `endpoint` for a dump that may take `timeout` on the target's side; keep at most
/// `max_tasks` tasks, and at most `--max-message-size` bytes of traces in all (a hostile
/// target's dump cannot grow asyncmem past it; the rest is counted as left out).
pub async fn take(
    endpoint: &Endpoint,
    cfg: &ConsoleConfig,
    timeout: Duration,
    max_tasks: usize,
) -> Result<Dump, DumpError> {
    let channel = channel(endpoint, cfg).await?;
    let mut grpc =
        tonic::client::Grpc::new(channel).max_decoding_message_size(cfg.max_message_bytes);
    grpc.ready()
        .await
        .map_err(|e| DumpError::Broken(e.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(TAKE_DUMP_PATH);
    let request = tonic::Request::new(DumpRequest {
        timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        tasks_per_message: DEFAULT_TASKS_PER_MESSAGE,
    });
    let codec = tonic_prost::ProstCodec::<DumpRequest, DumpReply>::default();
    let status = |s: tonic::Status| match s.code() {
        Code::Unimplemented => DumpError::NotServed {
            endpoint: endpoint.to_string(),
        },
        Code::DeadlineExceeded => DumpError::TimedOut(s.message().to_string()),
        Code::FailedPrecondition | Code::Aborted | Code::Internal => {
            DumpError::Refused(s.message().to_string())
        }
        _ => DumpError::Broken(format!("{:?}: {}", s.code(), s.message())),
    };
    // The target's own timeout, plus the time the answer takes to arrive.
    let wait = timeout + cfg.connect_timeout;
    let work = async {
        let mut replies = grpc
            .server_streaming(request, path, codec)
            .await
            .map_err(status)?
            .into_inner();
        let mut dump = Dump::default();
        let mut summary = None;
        let mut kept_bytes = 0usize;
        while let Some(reply) = replies.message().await.map_err(status)? {
            if let Some(s) = reply.summary {
                summary = Some(s);
            }
            for t in reply.tasks {
                let size = prost::Message::encoded_len(&t);
                if dump.tasks.len() < max_tasks && kept_bytes + size <= cfg.max_message_bytes {
                    kept_bytes += size;
                    dump.tasks.push(t);
                } else {
                    dump.left_out += 1;
                }
            }
        }
        dump.summary =
            summary.ok_or_else(|| DumpError::Broken("the answer had no summary".into()))?;
        Ok(dump)
    };
    match tokio::time::timeout(wait, work).await {
        Ok(r) => r,
        Err(_) => Err(DumpError::TimedOut(format!(
            "no complete answer within {} (the target's timeout and the connect timeout)",
            humantime::format_duration(wait)
        ))),
    }
}
