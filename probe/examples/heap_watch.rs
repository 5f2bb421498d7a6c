//! Read the heap a probe target's tasks hold, until asyncmem shows it: follows `WatchUpdates`
//! (tasks' names) and `asyncmem.probe.Heap/WatchHeap` (their heap) for a few seconds, then
//! prints, per task name, the live tasks, the heap they hold (sum, mean, max) and the heap held
//! by no task.
//!
//! Usage: `heap_watch ADDR [SECONDS]` (ADDR as `http://127.0.0.1:6669`; 3 s by default).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a tool: a failed unwrap is a failed run, said"
)]

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use asyncmem_probe::wire::{HeapFigures, HeapRequest, HeapUpdate, WATCH_HEAP_PATH};
use console_api::instrument::instrument_client::InstrumentClient;
use console_api::instrument::InstrumentRequest;

fn name_of(t: &console_api::tasks::Task) -> String {
    t.fields
        .iter()
        .find_map(|f| match (&f.name, &f.value) {
            (
                Some(console_api::field::Name::StrName(n)),
                Some(console_api::field::Value::DebugVal(v)),
            ) if n == "task.name" && !v.is_empty() => Some(v.trim_matches('"').to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "(unnamed)".into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().expect("usage: heap_watch ADDR [SECONDS]");
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let channel = tonic::transport::Endpoint::from_shared(addr)
        .expect("an address")
        .connect()
        .await
        .expect("connecting");
    let mut updates = InstrumentClient::new(channel.clone())
        .max_decoding_message_size(256 << 20)
        .watch_updates(InstrumentRequest {})
        .await
        .expect("WatchUpdates")
        .into_inner();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let mut heap_stream: tonic::Streaming<HeapUpdate> = grpc
        .server_streaming(
            tonic::Request::new(HeapRequest {}),
            tonic::codegen::http::uri::PathAndQuery::from_static(WATCH_HEAP_PATH),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .expect("WatchHeap (is the target's probe recent enough?)")
        .into_inner();
    let mut names: HashMap<u64, String> = HashMap::new();
    let mut heap: HashMap<u64, HeapFigures> = HashMap::new();
    let mut outside = HeapFigures::default();
    let mut ended = HeapFigures::default();
    let deadline = tokio::time::sleep(Duration::from_secs(secs));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            u = updates.message() => {
                let Some(u) = u.expect("WatchUpdates") else { break };
                let tasks = u.task_update.unwrap_or_default();
                for t in tasks.new_tasks {
                    names.insert(t.id.expect("an id").id, name_of(&t));
                }
                for (id, s) in tasks.stats_update {
                    if s.dropped_at.is_some() {
                        names.remove(&id);
                        heap.remove(&id);
                    }
                }
            }
            u = heap_stream.message() => {
                let Some(u) = u.expect("WatchHeap") else { break };
                for t in u.tasks {
                    heap.insert(t.id, t.heap.unwrap_or_default());
                }
                outside = u.outside_tasks.unwrap_or_default();
                ended = u.left_by_ended_tasks.unwrap_or_default();
            }
        }
    }
    // name -> (tasks, sum, max)
    let mut by_name: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for (id, name) in &names {
        let bytes = heap.get(id).map_or(0, |f| f.live_bytes);
        let e = by_name.entry(name).or_default();
        e.0 += 1;
        e.1 += bytes;
        e.2 = e.2.max(bytes);
    }
    println!(
        "{:<16} {:>8} {:>14} {:>10} {:>10}",
        "task name", "tasks", "heap sum B", "mean B", "max B"
    );
    for (name, (n, sum, max)) in by_name {
        println!(
            "{name:<16} {n:>8} {sum:>14} {:>10} {max:>10}",
            sum / n.max(1)
        );
    }
    println!(
        "no task: {} B in {} blocks (allocated outside polls), {} B in {} blocks (left by ended tasks)",
        outside.live_bytes, outside.live_allocs, ended.live_bytes, ended.live_allocs
    );
}
