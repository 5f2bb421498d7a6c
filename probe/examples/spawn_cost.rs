//! Where the probe's spawn cost goes: spawn N idle tasks on a current-thread runtime (no other
//! worker competing) and time the spawn loop and the tasks' first polls, under one of
//! `none` (no subscriber), `probe-layer` (the probe's layer without `init`'s fmt layer), `registry` (tracing-subscriber's Registry with a layer that does
//! nothing, filtered like the probe: what any Registry-based instrumentation pays), or
//! `probe` (`asyncmem_probe` on a free port). Needs `--cfg tokio_unstable`, as the probe.
//! Usage: `spawn_cost MODE N [REPS]`; prints the best of REPS rounds (default 5).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark: a failed unwrap is a failed run"
)]

use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;

struct Nothing;
impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Nothing {}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "probe".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    match mode.as_str() {
        "none" => {}
        "registry" => tracing_subscriber::registry()
            .with(Nothing.with_filter(asyncmem_probe::ProbeFilter))
            .init(),
        "probe" => asyncmem_probe::Builder::default()
            .server_addr(([127, 0, 0, 1], free_port()))
            .init(),
        // The probe's layer alone, without the fmt layer `init` adds for RUST_LOG.
        "probe-layer" => tracing_subscriber::registry()
            .with(
                asyncmem_probe::Builder::default()
                    .server_addr(([127, 0, 0, 1], free_port()))
                    .spawn(),
            )
            .init(),
        other => panic!("unknown mode {other}"),
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (mut best_spawn, mut best_poll) = (Duration::MAX, Duration::MAX);
    for _ in 0..reps {
        let (spawn, poll) = rt.block_on(async {
            let t = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_secs(3600))))
                .collect();
            let spawn = t.elapsed();
            let t = Instant::now();
            // Tasks run in spawn order: once this one has run, every task reached its await.
            let _ = tokio::spawn(async {}).await;
            let poll = t.elapsed();
            for h in &handles {
                h.abort();
            }
            for h in handles {
                let _ = h.await;
            }
            (spawn, poll)
        });
        best_spawn = best_spawn.min(spawn);
        best_poll = best_poll.min(poll);
    }
    println!(
        "mode={mode} n={n} spawn_ns_per_task={} first_poll_ns_per_task={}",
        best_spawn.as_nanos() / n as u128,
        best_poll.as_nanos() / n as u128
    );
}
