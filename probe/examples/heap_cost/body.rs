//! What counting the heap per task costs: the same workloads built twice, with the system
//! allocator (`heap_cost_plain`) and with `asyncmem_probe::Allocator` over it
//! (`heap_cost_counted`), both under the probe (`init()` on a free port, no watcher), so that
//! the allocator is the only difference. Modes (`heap_cost_* MODE N [REPS]`, best of REPS):
//!
//! - `task N`: one tokio task allocates and frees N small blocks (16 to 256 bytes, eight
//!   live at a time) and does nothing else: ns per allocation + free, the worst case.
//! - `request N`: one tokio task handles N requests, each a buffer of 16 to 256 bytes filled
//!   from the request, summed, and freed: ns per request.
//! - `tasks N`: the same in two tasks on two workers at once (N each): ns per pair per task.
//! - `outside N`: the same loop on the main thread, outside any poll.
//! - `idle N`: N idle tasks each holding a 64-byte `Vec` across a long sleep: RSS per task
//!   (RSS after the spawn minus RSS before, over N; `/proc/self/statm`).
//!
//! Prints `MODE N value unit`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark: a failed unwrap is a failed run"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Allocate and free `n` small blocks, eight live at a time; returns the elapsed time.
fn churn(n: usize) -> Duration {
    let mut ring: [Option<Vec<u8>>; 8] = Default::default();
    let start = Instant::now();
    for i in 0..n {
        // Sizes 16..=256 in a fixed pattern, so both builds see the same sequence.
        let size = 16 + (i.wrapping_mul(2_654_435_761) >> 7) % 241;
        let v: Vec<u8> = Vec::with_capacity(size);
        ring[i % 8] = Some(black_box(v));
    }
    drop(black_box(ring));
    start.elapsed()
}

/// Handle `n` requests: each fills a new buffer of 16..=256 bytes, sums it and frees it.
fn requests(n: usize) -> Duration {
    let mut total = 0u64;
    let start = Instant::now();
    for i in 0..n {
        let size = 16 + (i.wrapping_mul(2_654_435_761) >> 7) % 241;
        let buf: Vec<u8> = (0..size).map(|j| (i ^ j) as u8).collect();
        total = total.wrapping_add(black_box(&buf).iter().map(|&b| b as u64).sum::<u64>());
    }
    black_box(total);
    start.elapsed()
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn ns_per(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

pub fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "task".into());
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    asyncmem_probe::Builder::default()
        .server_addr(([127, 0, 0, 1], free_port()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (value, unit) = match mode.as_str() {
        "outside" => {
            let best = (0..reps).map(|_| churn(n)).min().expect("a rep");
            (ns_per(best, n), "ns/alloc+free")
        }
        "task" => {
            let best = (0..reps)
                .map(|_| {
                    rt.block_on(async { tokio::spawn(async move { churn(n) }).await.unwrap() })
                })
                .min()
                .expect("a rep");
            (ns_per(best, n), "ns/alloc+free")
        }
        "request" => {
            let best = (0..reps)
                .map(|_| {
                    rt.block_on(async { tokio::spawn(async move { requests(n) }).await.unwrap() })
                })
                .min()
                .expect("a rep");
            (ns_per(best, n), "ns/request")
        }
        "tasks" => {
            let best = (0..reps)
                .map(|_| {
                    rt.block_on(async {
                        let a = tokio::spawn(async move { churn(n) });
                        let b = tokio::spawn(async move { churn(n) });
                        a.await.unwrap().max(b.await.unwrap())
                    })
                })
                .min()
                .expect("a rep");
            (ns_per(best, n), "ns/alloc+free per task, 2 at once")
        }
        "idle" => {
            // Settle the runtime and the probe first.
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
            let before = rss_bytes();
            rt.block_on(async {
                for _ in 0..n {
                    tokio::spawn(async move {
                        let buf = black_box(vec![7u8; 64]);
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        black_box(&buf);
                    });
                }
                // Let every task run its first poll (and allocate its buffer).
                tokio::time::sleep(Duration::from_millis(1500)).await;
            });
            let after = rss_bytes();
            (after.saturating_sub(before) as f64 / n as f64, "B RSS/task")
        }
        other => panic!("unknown mode {other}"),
    };
    println!("{mode} {n} {value:.1} {unit}");
    rt.shutdown_background();
}
