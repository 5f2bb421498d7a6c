//! A minimal console watcher for the bench: connects to a console endpoint, follows
//! `WatchUpdates`, and reports when it has seen at least N live tasks.
//!
//! Usage: `watch_count ADDR N [TIMEOUT_SECS]`. Prints one line of `key=value` pairs:
//! `seen` (live tasks known at the end), `connect_to_all_ms` (from the watch's start until N live
//! tasks were known, or `timeout`), `after_last_spawn_ms` (from the latest `created_at` among
//! them until then), `messages`, `max_message_bytes`. The decode limit is tokio-console's
//! default (4 MiB), so a larger message fails the watch, as it would fail tokio-console.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark: a failed unwrap is a failed run"
)]

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use console_api::instrument::instrument_client::InstrumentClient;
use console_api::instrument::InstrumentRequest;
use prost::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .expect("usage: watch_count ADDR N [TIMEOUT_SECS]");
    let want: usize = args.next().and_then(|n| n.parse().ok()).expect("N");
    let timeout = Duration::from_secs(args.next().and_then(|t| t.parse().ok()).unwrap_or(60));
    let started = Instant::now();
    let mut client = InstrumentClient::connect(addr).await.expect("connecting");
    let mut stream = client
        .watch_updates(InstrumentRequest {})
        .await
        .expect("WatchUpdates")
        .into_inner();
    let mut live: HashSet<u64> = HashSet::new();
    let mut dropped: HashSet<u64> = HashSet::new();
    let mut last_created = SystemTime::UNIX_EPOCH;
    let (mut messages, mut max_bytes) = (0u64, 0usize);
    let mut outcome = "timeout".to_string();
    let deadline = tokio::time::Instant::now() + timeout;
    while let Ok(next) = tokio::time::timeout_at(deadline, stream.message()).await {
        let update = match next {
            Ok(Some(u)) => u,
            Ok(None) => {
                outcome = "stream_ended".into();
                break;
            }
            Err(e) => {
                outcome = format!("error:{}", e.code() as i32);
                eprintln!("watch_count: {e}");
                break;
            }
        };
        messages += 1;
        max_bytes = max_bytes.max(update.encoded_len());
        if let Some(tu) = update.task_update {
            for t in tu.new_tasks {
                if let Some(id) = t.id {
                    if !dropped.contains(&id.id) {
                        live.insert(id.id);
                    }
                }
            }
            for (id, s) in tu.stats_update {
                if let Some(at) = s.created_at.and_then(|c| SystemTime::try_from(c).ok()) {
                    last_created = last_created.max(at);
                }
                if s.dropped_at.is_some() {
                    live.remove(&id);
                    dropped.insert(id);
                }
            }
        }
        if live.len() >= want {
            let now = SystemTime::now();
            outcome = format!(
                "{} after_last_spawn_ms={}",
                started.elapsed().as_millis(),
                now.duration_since(last_created)
                    .unwrap_or_default()
                    .as_millis()
            );
            break;
        }
    }
    println!(
        "seen={} connect_to_all_ms={} messages={} max_message_bytes={}",
        live.len(),
        outcome,
        messages,
        max_bytes
    );
}
