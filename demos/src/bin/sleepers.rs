//! `sleepers`: N idle tasks, each holding a buffer of B bytes across an `.await` on a long sleep,
//! plus a few named tasks of different sizes (one large enough for tokio to box it).
//!
//! The seed question of asyncmem: what do 10,000 (or 100,000) sleeping tasks really cost?
//! Run it under `asyncmem snapshot --pid <pid>` or with `--instrument none` for a baseline.

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use asyncmem_demos::{spawn_named, Common};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "N idle tasks, each holding B bytes across an await")]
struct Args {
    /// Number of idle sleeper tasks.
    #[arg(long, short = 'n', default_value_t = 10_000)]
    tasks: usize,
    /// Bytes each sleeper holds across its await (compiled sizes only).
    #[arg(long, short = 'b', default_value_t = 1024, value_parser = parse_bytes)]
    bytes: usize,
    /// Spawn the sleepers at this many per second (0: all at once). The default spreads them
    /// over about 5 s, so that RSS can be read against a growing task count (the header's
    /// bytes/task).
    #[arg(long)]
    ramp: Option<usize>,
    /// Instead of one long sleep, the sleepers wake this often (a busy-but-idle server: every
    /// task polled again and again), still holding their bytes.
    #[arg(long, value_parser = humantime::parse_duration)]
    wake: Option<Duration>,
    /// Before spawning the sleepers print `ready` and wait for a line on stdin (`asyncmem
    /// lesson idle-tasks` reads the RSS before the spawn meanwhile).
    #[arg(long)]
    handshake: bool,
    #[command(flatten)]
    common: Common,
}

/// Without `--ramp`, the sleepers are spawned over about this many seconds.
const DEFAULT_RAMP_SECS: usize = 5;
/// ... at no fewer than this many per second (a small `-n` appears at once).
const MIN_RAMP: usize = 1_000;

const SIZES: [usize; 5] = [0, 64, 1024, 4096, 20480];

fn parse_bytes(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if SIZES.contains(&n) => Ok(n),
        _ => Err(format!("compiled sizes are {SIZES:?}")),
    }
}

/// A future that keeps `N` bytes alive across its only `.await`.
async fn hold<const N: usize>(nap: Duration) {
    let buf = [1u8; N];
    tokio::time::sleep(nap).await;
    black_box(&buf);
}

/// Like [`hold`], but waking every `every` until `nap` has passed.
async fn tick<const N: usize>(nap: Duration, every: Duration) {
    let buf = [1u8; N];
    let end = tokio::time::Instant::now() + nap;
    while tokio::time::Instant::now() < end {
        tokio::time::sleep(every).await;
    }
    black_box(&buf);
}

fn spawn_sleeper(bytes: usize, nap: Duration, wake: Option<Duration>) {
    match (bytes, wake) {
        (0, None) => spawn_named("sleeper", hold::<0>(nap)),
        (64, None) => spawn_named("sleeper", hold::<64>(nap)),
        (1024, None) => spawn_named("sleeper", hold::<1024>(nap)),
        (4096, None) => spawn_named("sleeper", hold::<4096>(nap)),
        (20480, None) => spawn_named("sleeper", hold::<20480>(nap)),
        (0, Some(w)) => spawn_named("sleeper", tick::<0>(nap, w)),
        (64, Some(w)) => spawn_named("sleeper", tick::<64>(nap, w)),
        (1024, Some(w)) => spawn_named("sleeper", tick::<1024>(nap, w)),
        (4096, Some(w)) => spawn_named("sleeper", tick::<4096>(nap, w)),
        (20480, Some(w)) => spawn_named("sleeper", tick::<20480>(nap, w)),
        (other, _) => unreachable!("clap restricts --bytes, got {other}"),
    }
}

fn main() {
    let args = Args::parse();
    let common = args.common.clone();
    let nap = common.nap();
    let instrument = common.instrument;
    common.run(async move {
        // Named tasks first, so that they are in the subscriber's first picture.
        spawn_named("tiny", hold::<0>(nap));
        spawn_named("kilobyte", hold::<1024>(nap));
        spawn_named("sixteen-k", hold::<16384>(nap));
        // 32 KiB: over tokio's auto-box threshold in debug (2 KiB) and release (16 KiB) builds.
        spawn_named("boxed-32k", hold::<32768>(nap));
        if args.handshake {
            let _ = writeln!(std::io::stdout(), "ready");
            // Blocking a worker is fine here: nothing else runs yet.
            let _ = std::io::stdin().read_line(&mut String::new());
        }
        let started = std::time::Instant::now();
        let ramp = args
            .ramp
            .unwrap_or_else(|| args.tasks.div_ceil(DEFAULT_RAMP_SECS).max(MIN_RAMP));
        if ramp == 0 {
            for _ in 0..args.tasks {
                spawn_sleeper(args.bytes, nap, args.wake);
            }
        } else {
            // Ten steps a second.
            let per_step = ramp.div_ceil(10);
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
            let mut spawned = 0;
            while spawned < args.tasks {
                tick.tick().await;
                for _ in 0..per_step.min(args.tasks - spawned) {
                    spawn_sleeper(args.bytes, nap, args.wake);
                    spawned += 1;
                }
            }
        }
        eprintln!(
            "sleepers: spawned {} tasks of {} B and 4 named tasks in {} us (instrument: {})",
            args.tasks,
            args.bytes,
            started.elapsed().as_micros(),
            instrument.as_str()
        );
        // What the demo holds, for a watcher without a console (`asyncmem --demo`, RSS only);
        // a reader that went away is no reason to stop.
        let _ = writeln!(std::io::stdout(), "spawned tasks={}", args.tasks + 4);
    });
}
