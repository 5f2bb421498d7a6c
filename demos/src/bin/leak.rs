//! `leak`: tasks that never complete, a few more every second, each holding a 4 KiB request.
//!
//! Half of them, named `channel-waiting`, wait on a channel whose sender is kept forever (a
//! waker is registered, so they look healthy: only the growing count and RSS give them away);
//! the other half, named `lost-waker`, await a future that registers no waker at all
//! (`std::future::pending`), which asyncmem's lost-waker lint flags. Watch the live task count
//! and the RSS climb together in `asyncmem top --demo leak`.

use std::hint::black_box;
use std::time::Duration;

use asyncmem_demos::{spawn_named, Common};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Tasks that never complete, growing every second")]
struct Args {
    /// Leaked tasks per second.
    #[arg(long, default_value_t = 50)]
    rate: usize,
    #[command(flatten)]
    common: Common,
}

/// A handler stuck on a reply that never comes; its sender lives in `senders` forever.
async fn waits_for_reply(reply: tokio::sync::oneshot::Receiver<u64>) {
    let request = [7u8; 4096];
    let _ = reply.await;
    black_box(&request);
}

/// A handler stuck on a future that registers no waker: nothing can ever wake it.
async fn waits_forever() {
    let request = [9u8; 4096];
    std::future::pending::<()>().await;
    black_box(&request);
}

fn main() {
    let args = Args::parse();
    let rate = args.rate.max(1);
    args.common.run(async move {
        let mut senders = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            for i in 0..rate {
                if i % 2 == 0 {
                    let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
                    senders.push(tx);
                    spawn_named("channel-waiting", waits_for_reply(rx));
                } else {
                    spawn_named("lost-waker", waits_forever());
                }
            }
        }
    });
}
