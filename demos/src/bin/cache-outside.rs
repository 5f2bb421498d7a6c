//! `cache-outside`: memory that grows outside tasks. Short `fill` tasks each compute an entry
//! (a `--entry-bytes` buffer, written whole so that RSS counts it) and put it in a global map,
//! then end; a few idle `connection` tasks stay for the whole run. RSS climbs by the map's
//! size while the live task count stays flat: the tasks explain little of the growth, which is
//! the lesson (a cache, not a task leak; look at what the short tasks leave behind).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use asyncmem_demos::{checksum, fill, spawn_named, Common};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    about = "A global cache filled by short tasks: RSS grows, the tasks explain little of it"
)]
struct Args {
    /// Entries the cache ends with.
    #[arg(long, default_value_t = 8000)]
    entries: usize,
    /// Bytes of one entry.
    #[arg(long, default_value_t = 16 * 1024)]
    entry_bytes: usize,
    /// Entries added (short tasks spawned) per second.
    #[arg(long, default_value_t = 2000)]
    rate: usize,
    /// Idle tasks that stay for the whole run.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Delay before the cache starts filling (so that a watcher sees it grow).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    start_after: Duration,
    #[command(flatten)]
    common: Common,
}

/// The cache: entry key to its bytes, kept for the life of the process.
fn cache() -> &'static Mutex<HashMap<u64, Box<[u8]>>> {
    static CACHE: OnceLock<Mutex<HashMap<u64, Box<[u8]>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A short task: compute one entry, store it, end.
async fn fill_entry(key: u64, bytes: usize) {
    let mut entry = vec![0u8; bytes].into_boxed_slice();
    fill(&mut entry);
    std::hint::black_box(checksum(&entry));
    if let Ok(mut c) = cache().lock() {
        c.insert(key, entry);
    }
}

/// A long-lived idle task, the service's steady part.
async fn connection(nap: Duration) {
    tokio::time::sleep(nap).await;
}

fn main() {
    let args = Args::parse();
    let nap = args.common.nap();
    let (entries, bytes, rate) = (args.entries, args.entry_bytes, args.rate.max(1));
    let (connections, start_after) = (args.connections, args.start_after);
    args.common.run(async move {
        for _ in 0..connections {
            spawn_named("connection", connection(nap));
        }
        tokio::time::sleep(start_after).await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut key = 0u64;
        while (key as usize) < entries {
            tick.tick().await;
            let this_second = rate.min(entries - key as usize);
            for _ in 0..this_second {
                spawn_named("fill", fill_entry(key, bytes));
                key += 1;
            }
        }
        eprintln!("cache-outside: {entries} entries of {bytes} B cached");
    });
}
