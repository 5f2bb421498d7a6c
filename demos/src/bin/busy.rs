//! `busy`: tasks that cost CPU rather than memory, for the two lints no idle workload shows.
//!
//! - Spinners wake themselves from inside their own poll (a hand-written yield, as a busy loop
//!   polling some condition would), a hundred times between two short sleeps: nearly all their
//!   wakes are self-wakes, and asyncmem flags them `S`.
//! - One blocker calls `std::thread::sleep` inside its poll every few seconds: its worker thread
//!   is stuck and the task stays in one poll for seconds, and asyncmem flags it `Y` (never
//!   yielded) while it lasts.
//!
//! Watch it with `asyncmem top --demo busy`: the S rows, the blocker turning `running` with a Y,
//! and the polls and busy time climbing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use asyncmem_demos::{spawn_named, Common};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Self-waking spinners and a task that blocks its worker thread")]
struct Args {
    /// Tasks that wake themselves in a loop.
    #[arg(long, default_value_t = 20)]
    spinners: usize,
    /// How long the blocker blocks its worker thread each time.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    block: Duration,
    /// Time between two blocks.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pause: Duration,
    #[command(flatten)]
    common: Common,
}

/// Pending once, after waking its own task from inside the poll: a self-wake.
struct SelfWake(bool);

impl Future for SelfWake {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

async fn spin() {
    loop {
        for _ in 0..100 {
            SelfWake(false).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn block(block: Duration, pause: Duration) {
    loop {
        tokio::time::sleep(pause).await;
        // The mistake this demo shows: blocking inside async code.
        std::thread::sleep(block);
    }
}

fn main() {
    let args = Args::parse();
    let (block_for, pause) = (args.block, args.pause);
    args.common.run(async move {
        spawn_named("blocker", block(block_for, pause));
        for _ in 0..args.spinners {
            spawn_named("spinner", spin());
        }
    });
}
