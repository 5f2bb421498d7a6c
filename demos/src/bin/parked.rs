//! `parked`: connection handlers that wait most of their life at a small await, while another
//! await of the same handler holds a 4 KiB buffer; the future is as large as that state, so
//! every parked task pays for a buffer it does not hold (its future's slack).
//!
//! Each handler reads a "request" into a 4 KiB buffer across a short await (`--work`), then
//! waits at its keep-alive sleep for the rest of the demo, with only the request's checksum
//! alive. `--variant slack` (the default) keeps the buffer in the handler's own state;
//! `--variant boxed` awaits the read phase through `Box::pin`, so that its 4 KiB sit on the heap
//! only while a task is in it and the parked future is small. Task dumps (`asyncmem snapshot
//! --dump`) show where each task is parked; build with `--features taskdump` to serve them.

use std::hint::black_box;
use std::time::Duration;

use asyncmem_demos::{checksum, fill, spawn_named, Common};
use clap::{Parser, ValueEnum};

const REQUEST: usize = 4 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Variant {
    /// The buffer is part of the handler's future: every parked task pays 4 KiB of slack.
    Slack,
    /// The read phase is awaited through `Box::pin`: the parked future holds no buffer.
    Boxed,
}

#[derive(Parser, Debug)]
#[command(about = "Handlers parked at a small await while another await holds a 4 KiB buffer")]
struct Args {
    /// Connections (tasks).
    #[arg(long, short = 'n', default_value_t = 1000)]
    tasks: usize,
    #[arg(long, value_enum, default_value_t = Variant::Slack)]
    variant: Variant,
    /// How long the read phase takes (its await holds the buffer).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10ms")]
    work: Duration,
    /// Block one worker thread in a poll for this long, once, 200 ms after start (a task
    /// dump cannot finish meanwhile: tokio needs every worker).
    #[arg(long, value_parser = humantime::parse_duration)]
    block_worker: Option<Duration>,
    #[command(flatten)]
    common: Common,
}

/// Reads a request: the buffer is alive across the await.
async fn read_request(work: Duration) -> u64 {
    let mut buf = [0u8; REQUEST];
    fill(&mut buf);
    tokio::time::sleep(work).await;
    checksum(&buf)
}

/// The read phase in the handler's own state (its largest state), then the keep-alive wait.
async fn connection(work: Duration, keep_alive: Duration) {
    let sum = read_request(work).await;
    tokio::time::sleep(keep_alive).await;
    black_box(sum);
}

/// The same, with the read phase boxed: its state is a heap block while it runs.
async fn connection_boxed(work: Duration, keep_alive: Duration) {
    let sum = Box::pin(read_request(work)).await;
    tokio::time::sleep(keep_alive).await;
    black_box(sum);
}

fn main() {
    let args = Args::parse();
    let keep_alive = args.common.nap();
    let (n, work, variant) = (args.tasks, args.work, args.variant);
    let block = args.block_worker;
    args.common.run(async move {
        if let Some(block) = block {
            spawn_named("blocker", async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                // Blocks the worker that polls it: the mistake a dump must survive.
                std::thread::sleep(block);
            });
        }
        for _ in 0..n {
            match variant {
                Variant::Slack => spawn_named("connection", connection(work, keep_alive)),
                Variant::Boxed => spawn_named("connection", connection_boxed(work, keep_alive)),
            }
        }
        eprintln!("parked: {n} connections ({variant:?})");
    });
}
