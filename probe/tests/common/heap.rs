//! The heap scenario the probe's heap tests run under each way of installing the probe: a
//! target whose tasks hold known heap, read over the wire as a watcher reads it
//! (`WatchUpdates` for the tasks' names, `asyncmem.probe.Heap/WatchHeap` for their heap).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use asyncmem_probe::wire::{
    HeapFigures, HeapRequest, HeapUpdate, HEAP_STREAM_FIELD, WATCH_HEAP_PATH,
};
use console_api::instrument::instrument_client::InstrumentClient;
use console_api::instrument::InstrumentRequest;

const HOLDERS: usize = 20;
const EMPTY: usize = 20;
const HELD: u64 = 10 * 1024;

async fn connect(port: u16) -> tonic::transport::Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("an endpoint");
    for _ in 0..100 {
        if let Ok(c) = endpoint.connect().await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the probe's server does not answer");
}

async fn watch_heap(channel: tonic::transport::Channel) -> tonic::Streaming<HeapUpdate> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    grpc.server_streaming(
        tonic::Request::new(HeapRequest {}),
        tonic::codegen::http::uri::PathAndQuery::from_static(WATCH_HEAP_PATH),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .expect("WatchHeap")
    .into_inner()
}

fn debug_field(t: &console_api::tasks::Task, name: &str) -> Option<String> {
    t.fields.iter().find_map(|f| match (&f.name, &f.value) {
        (
            Some(console_api::field::Name::StrName(n)),
            Some(console_api::field::Value::DebugVal(v)),
        ) if n == name => Some(v.clone()),
        _ => None,
    })
}

/// Read heap updates until `done` holds for the figures gathered so far (at most 20 s).
async fn heap_until(
    stream: &mut tonic::Streaming<HeapUpdate>,
    heap: &mut HashMap<u64, HeapFigures>,
    outside: &mut HeapFigures,
    done: impl Fn(&HashMap<u64, HeapFigures>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(heap) {
        let u = tokio::time::timeout_at(deadline, stream.message())
            .await
            .unwrap_or_else(|_| panic!("figures not reached within 20 s: {heap:?}"))
            .expect("a message")
            .expect("the stream goes on");
        for t in u.tasks {
            heap.insert(t.id, t.heap.expect("figures"));
        }
        *outside = u.outside_tasks.expect("process figures");
    }
}

/// With the probe serving on `port` (installed by the caller): 20 tasks holding 10 KiB each
/// across a sleep are read holding exactly that over `WatchHeap`, tasks that hold nothing (and
/// one that spawned 20 others) as holding none; then the holders free their buffers and the
/// next deltas say so, their peaks kept. The spawner is checked to hold less than
/// `spawner_max_bytes` (its children's task cells are not its).
pub fn tasks_holding_heap_are_seen_holding_it_and_then_freeing_it(
    port: u16,
    spawner_max_bytes: u64,
) {
    let rt = super::runtime();
    rt.block_on(async move {
        let release = Arc::new(tokio::sync::Notify::new());
        for i in 0..HOLDERS {
            let release = release.clone();
            tokio::task::Builder::new()
                .name("holder")
                .spawn(async move {
                    // Allocated in the task's poll: the task's.
                    let buf = vec![i as u8; HELD as usize];
                    release.notified().await;
                    drop(std::hint::black_box(buf));
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                })
                .expect("spawned");
        }
        // A task that spawns the empty ones: tokio allocates their task cells in its poll,
        // but they are the runtime's, not the spawner's.
        tokio::task::Builder::new()
            .name("spawner")
            .spawn(async {
                for _ in 0..EMPTY {
                    tokio::task::Builder::new()
                        .name("empty")
                        .spawn(tokio::time::sleep(Duration::from_secs(3600)))
                        .expect("spawned");
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
            })
            .expect("spawned");
        let channel = connect(port).await;

        // Names by console id, and the probe's promise of a heap stream.
        let mut updates = InstrumentClient::new(channel.clone())
            .watch_updates(InstrumentRequest {})
            .await
            .expect("WatchUpdates")
            .into_inner();
        let mut names: HashMap<u64, String> = HashMap::new();
        let mut promised = false;
        while names.len() < HOLDERS + EMPTY + 1 {
            let u = tokio::time::timeout(Duration::from_secs(20), updates.message())
                .await
                .expect("tasks within 20 s")
                .expect("a message")
                .expect("the stream goes on");
            for m in u.new_metadata.map(|m| m.metadata).unwrap_or_default() {
                let m = m.metadata.expect("metadata");
                promised |= m.target == "asyncmem_probe"
                    && m.field_names.iter().any(|f| f == HEAP_STREAM_FIELD);
            }
            for t in u.task_update.unwrap_or_default().new_tasks {
                if let Some(name) = debug_field(&t, "task.name") {
                    names.insert(t.id.expect("an id").id, name);
                }
            }
        }
        assert!(promised, "the probe's entry lists {HEAP_STREAM_FIELD}");
        let holders: Vec<u64> = names
            .iter()
            .filter(|(_, n)| n.contains("holder"))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(holders.len(), HOLDERS);

        let mut stream = watch_heap(channel).await;
        let mut heap = HashMap::new();
        let mut outside = HeapFigures::default();
        heap_until(&mut stream, &mut heap, &mut outside, |h| {
            holders
                .iter()
                .all(|id| h.get(id).is_some_and(|f| f.live_bytes >= HELD))
        })
        .await;
        for id in &holders {
            let f = heap[id];
            // The buffer, and nothing else: the probe's own allocations during the poll
            // (its dirty list, interning) are no task's.
            assert_eq!(
                (f.live_bytes, f.live_allocs),
                (HELD, 1),
                "holder {id}: {f:?}"
            );
        }
        for (id, name) in &names {
            let bytes = heap.get(id).map_or(0, |f| f.live_bytes);
            if name.contains("empty") {
                assert!(bytes < 256, "{name} holds {bytes} B: {:?}", heap.get(id));
            }
            if name.contains("spawner") {
                assert!(
                    bytes < spawner_max_bytes,
                    "{name} holds {bytes} B: {:?}",
                    heap.get(id)
                );
            }
        }
        assert!(
            outside.live_bytes > 0 && outside.live_allocs > 0,
            "the runtime's own heap is no task's: {outside:?}"
        );

        // The holders free their buffers: the deltas bring them down, the peaks stay.
        release.notify_waiters();
        heap_until(&mut stream, &mut heap, &mut outside, |h| {
            holders
                .iter()
                .all(|id| h.get(id).is_some_and(|f| f.live_bytes < HELD))
        })
        .await;
        for id in &holders {
            let f = heap[id];
            assert!(f.live_bytes < 1024, "holder {id} after the free: {f:?}");
            assert!(f.peak_bytes >= HELD, "holder {id}: {f:?}");
        }
    });
    rt.shutdown_background();
}
