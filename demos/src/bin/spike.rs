//! `spike`: a burst of short connection-like tasks over a steady baseline.
//!
//! A few hundred idle tasks (long-lived connections, named `connection`) stay for the whole run.
//! Every `--period` an `acceptor` task admits a burst of `--burst` short tasks (named `request`),
//! spread over `--ramp` (about 1.5 s). Each holds a 2 KiB request buffer across a couple of
//! awaits: a sleep of `--hold` standing in for I/O, then a yield, then it finishes. The live task count and the RSS spike, then drain.
//!
//! Two things stand between a burst and a visible drain, and the demo handles both by default:
//! - console-subscriber keeps the stats of a finished task (~50 KB) for `TOKIO_CONSOLE_RETENTION`,
//!   one hour by default: the demo sets it to `--console-retention` (3 s) unless it is set;
//! - the allocator keeps freed memory: a `housekeeping` task calls glibc's `malloc_trim` every
//!   `--trim` (1 s; `0s` never), as long-running services sometimes do.
//!
//! Run it under `asyncmem top --demo spike` (`-- --burst 5000 --period 10s` to change the shape),
//! or with `--instrument none` for the baseline without console-subscriber. With
//! console-subscriber, a burst is announced over several seconds (it absorbs about 64 new tasks
//! per publish tick, ~600 a second at the 100 ms tick `--demo` sets): the live count it shows
//! lags, tasks announced after they finished show up as done, and the default bursts (20,000
//! every 20 s) are more than it keeps up with; `-- --burst 5000` shows a burst whole.

use std::hint::black_box;
use std::time::Duration;

use asyncmem_demos::{spawn_named, Common};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Bursts of short connection-like tasks over a steady idle baseline")]
struct Args {
    /// Short tasks admitted per burst.
    #[arg(long, default_value_t = 20_000)]
    burst: usize,
    /// Time between the starts of two bursts.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
    period: Duration,
    /// Delay before the first burst.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    first_after: Duration,
    /// How long the tasks of one burst take to arrive.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1500ms")]
    ramp: Duration,
    /// How long each short task waits on its simulated I/O while holding its buffer.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    hold: Duration,
    /// Long-lived idle tasks present for the whole run.
    #[arg(long, default_value_t = 300)]
    baseline: usize,
    /// How often `housekeeping` returns freed memory to the OS (glibc `malloc_trim`); 0s: never.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    trim: Duration,
    /// How long console-subscriber keeps finished tasks, unless TOKIO_CONSOLE_RETENTION is set.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    console_retention: Duration,
    #[command(flatten)]
    common: Common,
}

/// Bytes of the request buffer each short task holds across its awaits.
const REQUEST_BYTES: usize = 2048;
/// Bytes of per-connection state each long-lived baseline task holds.
const SESSION_BYTES: usize = 256;
/// The acceptor admits a burst in this many steps, evenly spread over `--ramp`.
const RAMP_STEPS: u32 = 30;

/// A short request: read into a buffer, wait on "I/O", yield once, finish.
async fn request(id: usize, hold: Duration) {
    let mut buf = [0u8; REQUEST_BYTES];
    buf[..8].copy_from_slice(&(id as u64).to_le_bytes());
    tokio::time::sleep(hold).await;
    tokio::task::yield_now().await;
    black_box(&mut buf);
}

/// A long-lived idle connection: a little session state held across a long sleep.
async fn session(nap: Duration) {
    let state = [7u8; SESSION_BYTES];
    tokio::time::sleep(nap).await;
    black_box(&state);
}

/// Admit `burst` requests every `period`, spread over `ramp`.
async fn acceptor(
    burst: usize,
    period: Duration,
    first_after: Duration,
    ramp: Duration,
    hold: Duration,
) {
    let mut next_burst = tokio::time::Instant::now() + first_after;
    let step = ramp / RAMP_STEPS;
    let mut id = 0usize;
    loop {
        tokio::time::sleep_until(next_burst).await;
        next_burst += period;
        let mut admitted = 0usize;
        for k in 1..=RAMP_STEPS as usize {
            // Cumulative target, so the total is exactly `burst` whatever the rounding.
            let target = burst * k / RAMP_STEPS as usize;
            while admitted < target {
                spawn_named("request", request(id, hold));
                id += 1;
                admitted += 1;
            }
            tokio::time::sleep(step).await;
        }
    }
}

/// Wakes every `every` and hands the allocator's free pages back to the OS, so that the RSS
/// drains after a burst. Without trimming it wakes every second all the same (a polled task).
async fn housekeeping(every: Duration) {
    let trim = !every.is_zero();
    let mut tick = tokio::time::interval(if trim { every } else { Duration::from_secs(1) });
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if trim {
            release_free_memory();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim only takes the allocator's own locks; any pad value is valid.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}

fn main() {
    let args = Args::parse();
    if std::env::var_os("TOKIO_CONSOLE_RETENTION").is_none() {
        // Still single-threaded: the runtime and the subscriber start in `Common::run`.
        std::env::set_var(
            "TOKIO_CONSOLE_RETENTION",
            humantime::format_duration(args.console_retention).to_string(),
        );
    }
    let common = args.common.clone();
    let nap = common.nap();
    common.run(async move {
        // Named tasks first, so that they are in the subscriber's first picture.
        spawn_named(
            "acceptor",
            acceptor(
                args.burst,
                args.period,
                args.first_after,
                args.ramp,
                args.hold,
            ),
        );
        spawn_named("housekeeping", housekeeping(args.trim));
        spawn_named("listener", session(nap));
        for _ in 0..args.baseline {
            spawn_named("connection", session(nap));
        }
    });
}
