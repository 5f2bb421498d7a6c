//! What the probe's integration tests share: a probe on a free port, and a runtime whose 50
//! sleeping tasks of 1,000+ bytes must reach a console-api client with their sizes. Every test
//! binary that uses it runs with the probe's allocator as its global allocator.

#![allow(dead_code, reason = "each test binary uses part of it")]

pub mod heap;

use std::collections::HashMap;
use std::time::Duration;

use console_api::instrument::instrument_client::InstrumentClient;
use console_api::instrument::InstrumentRequest;

#[global_allocator]
static A: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();

/// A probe to serve on 127.0.0.1 at a free port, publishing every 50 ms, and that port.
pub fn probe_on_a_free_port() -> (asyncmem_probe::Builder, u16) {
    let port = asyncmem_testkit::free_port();
    let probe = asyncmem_probe::Builder::default()
        .server_addr(([127, 0, 0, 1], port))
        .publish_interval(Duration::from_millis(50));
    (probe, port)
}

/// Install `probe` as a layer on tracing-subscriber's Registry beside a `fmt` layer, as
/// `console_subscriber::spawn()` is used.
pub fn install_as_layer(probe: asyncmem_probe::Builder) {
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(probe.spawn())
        .with(
            tracing_subscriber::fmt::layer()
                .with_filter(tracing_subscriber::EnvFilter::new("error")),
        )
        .init();
}

/// The runtime the tests' tasks run on: two workers, timers and I/O.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Build a runtime, spawn 50 tasks each holding 1,000 bytes across a long sleep, and wait (at
/// most 20 s) until `WatchUpdates` on `port` has announced all of them with `size.bytes`.
pub fn fifty_tasks_reach_a_watcher(port: u16) {
    let rt = runtime();
    rt.block_on(async move {
        for _ in 0..50 {
            let buf = [7u8; 1000];
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                std::hint::black_box(&buf);
            });
        }
        // The server thread binds on its own: retry until it answers.
        let mut client = None;
        for _ in 0..100 {
            match InstrumentClient::connect(format!("http://127.0.0.1:{port}")).await {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let mut client = client.expect("the probe's server answers");
        let mut stream = client
            .watch_updates(InstrumentRequest {})
            .await
            .expect("WatchUpdates")
            .into_inner();
        let mut sizes: HashMap<u64, u64> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while sizes.values().filter(|&&s| s >= 1000).count() < 50 {
            let u = tokio::time::timeout_at(deadline, stream.message())
                .await
                .expect("50 tasks within 20 s")
                .expect("a message")
                .expect("the stream goes on");
            for t in u.task_update.unwrap_or_default().new_tasks {
                let size = t.fields.iter().find_map(|f| match (&f.name, &f.value) {
                    (
                        Some(console_api::field::Name::StrName(n)),
                        Some(console_api::field::Value::U64Val(v)),
                    ) if n == "size.bytes" => Some(*v),
                    _ => None,
                });
                sizes.insert(t.id.expect("an id").id, size.expect("a size.bytes field"));
            }
        }
    });
    rt.shutdown_background();
}
