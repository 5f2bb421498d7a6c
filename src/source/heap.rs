//! The heap tasks hold: asyncmem-probe's `asyncmem.probe.Heap/WatchHeap` stream, on the same
//! endpoint as the console, asked for only when the target's probe lists the field
//! `heap_stream` in its metadata entry (it counts heap with `asyncmem_probe::Allocator`). A
//! console-subscriber target, or a probe without the allocator, is never asked: its heap stays
//! unknown. Each message is bounded by `--max-message-size`; the model keeps at most
//! `--max-tasks` tasks' figures.

use asyncmem_probe::wire::{HeapRequest, HeapUpdate, HEAP_STREAM_FIELD, WATCH_HEAP_PATH};
use console_api::instrument::Update;
use tokio::sync::mpsc;

use super::console::{channel, ConsoleConfig};
use super::Endpoint;
use crate::model::{probe_lists, Event, HeapEvent};

/// Whether `update` carries the probe's metadata entry listing the heap stream.
pub fn advertised(update: &Update) -> bool {
    update.new_metadata.as_ref().is_some_and(|m| {
        m.metadata
            .iter()
            .filter_map(|n| n.metadata.as_ref())
            .any(|md| probe_lists(md, HEAP_STREAM_FIELD))
    })
}

/// Follow the heap stream of `endpoint` into `tx` until it ends or the receiver goes away. The
/// first message of the watch is a full picture ([`HeapEvent::Figures`] with `full`); a stream
/// that cannot be read is reported once as [`HeapEvent::Failed`] (the heap stays unknown).
pub async fn run(endpoint: Endpoint, cfg: ConsoleConfig, tx: mpsc::Sender<Event>) {
    let failed = |why: String| Event::Heap(Box::new(HeapEvent::Failed(why)));
    let mut stream = match watch(&endpoint, &cfg).await {
        Ok(s) => s,
        Err(why) => {
            let _ = tx.send(failed(why)).await;
            return;
        }
    };
    let mut full = true;
    loop {
        match stream.message().await {
            Ok(Some(update)) => {
                let event = Event::Heap(Box::new(HeapEvent::Figures { full, update }));
                if tx.send(event).await.is_err() {
                    return;
                }
                full = false;
            }
            // The connection ended: the console stream's reconnect starts a new watch.
            Ok(None) => return,
            Err(s) => {
                let too_large = s.message().contains("message length too large");
                // Once figures came, a transport error is the connection ending (the target
                // exited, or the console stream reconnects): not a failure of the stream.
                if !full && !too_large && is_transport(&s) {
                    return;
                }
                let why = if too_large {
                    format!(
                        "a heap message is larger than --max-message-size ({} bytes): raise it",
                        cfg.max_message_bytes
                    )
                } else {
                    format!("the heap stream failed: {:?} {}", s.code(), s.message())
                };
                let _ = tx.send(failed(why)).await;
                return;
            }
        }
    }
}

/// Whether `s` is the connection going away rather than an answer of the target.
fn is_transport(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    )
}

async fn watch(
    endpoint: &Endpoint,
    cfg: &ConsoleConfig,
) -> Result<tonic::Streaming<HeapUpdate>, String> {
    let channel = channel(endpoint, cfg).await.map_err(|e| e.to_string())?;
    let mut grpc =
        tonic::client::Grpc::new(channel).max_decoding_message_size(cfg.max_message_bytes);
    grpc.ready()
        .await
        .map_err(|e| format!("the heap stream: {e}"))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(WATCH_HEAP_PATH);
    let codec = tonic_prost::ProstCodec::<HeapRequest, HeapUpdate>::default();
    let answer = grpc.server_streaming(tonic::Request::new(HeapRequest {}), path, codec);
    match tokio::time::timeout(cfg.connect_timeout, answer).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s)) => Err(format!(
            "the target lists a heap stream but WatchHeap failed: {:?} {}",
            s.code(),
            s.message()
        )),
        Err(_) => Err("WatchHeap did not answer in time".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PROBE_TARGET;
    use console_api as proto;

    fn with_probe_entry(fields: &[&str]) -> Update {
        Update {
            new_metadata: Some(proto::RegisterMetadata {
                metadata: vec![proto::register_metadata::NewMetadata {
                    id: Some(proto::MetaId { id: 7 }),
                    metadata: Some(proto::Metadata {
                        target: PROBE_TARGET.into(),
                        field_names: fields.iter().map(|f| f.to_string()).collect(),
                        ..Default::default()
                    }),
                }],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn asked_only_when_the_probe_lists_the_stream() {
        assert!(advertised(&with_probe_entry(&["version", "heap_stream"])));
        assert!(!advertised(&with_probe_entry(&["version"])));
        assert!(!advertised(&Update::default()));
        // Another callsite naming the field is not the probe's entry.
        let mut other = with_probe_entry(&["heap_stream"]);
        if let Some(md) = other
            .new_metadata
            .as_mut()
            .and_then(|m| m.metadata[0].metadata.as_mut())
        {
            md.target = "my_app".into();
        }
        assert!(!advertised(&other));
    }
}
