//! `layers`: where a future's bytes hide, for `asyncmem layout` (lesson 7).
//!
//! - `deep`: a connection handler that holds nothing itself; its size comes from an 8 KiB frame
//!   buffer held across an await three async fns down (`deep` -> `session` -> `read_frame`).
//!   The handler's own state is one awaitee, whose own state is one awaitee, whose state holds
//!   the buffer: the layout's awaitee tree shows the path.
//! - `twice`: a 4 KiB argument used after the await: the compiler stores it twice, as the
//!   argument (upvar) and as the local it moves into (rust-lang/rust#62958), so the future is
//!   8 KiB for 4 KiB of data.
//!
//! Buffers are written whole, so that RSS counts them. `--only VARIANT` runs one alone.

use std::hint::black_box;
use std::time::Duration;

use asyncmem_demos::{checksum, fill, spawn_named, Common};
use clap::{Parser, ValueEnum};

const FRAME: usize = 8 * 1024;
const CONFIG: usize = 4 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Variant {
    Deep,
    Twice,
}

#[derive(Parser, Debug)]
#[command(about = "A handler whose bytes sit three awaits down, and an argument stored twice")]
struct Args {
    /// Tasks of each variant.
    #[arg(long, short = 'n', default_value_t = 1000)]
    tasks: usize,
    /// Run only this variant.
    #[arg(long, value_enum)]
    only: Option<Variant>,
    #[command(flatten)]
    common: Common,
}

/// Level 1: the spawned handler; it holds only its awaitee.
async fn deep(nap: Duration) {
    black_box(session(nap).await);
}

/// Level 2: holds only its awaitee too.
async fn session(nap: Duration) -> u64 {
    read_frame(nap).await
}

/// Level 3: the frame buffer is alive across this await.
async fn read_frame(nap: Duration) -> u64 {
    let mut frame = [0u8; FRAME];
    fill(&mut frame);
    tokio::time::sleep(nap).await;
    checksum(&frame)
}

/// The argument is used after the await: stored as the argument and as the local.
async fn twice(config: [u8; CONFIG], nap: Duration) {
    tokio::time::sleep(nap).await;
    black_box(checksum(&config));
}

fn main() {
    let args = Args::parse();
    let nap = args.common.nap();
    let n = args.tasks;
    let runs = |v: Variant| args.only.is_none_or(|only| only == v);
    let (with_deep, with_twice) = (runs(Variant::Deep), runs(Variant::Twice));
    args.common.run(async move {
        if with_deep {
            for _ in 0..n {
                spawn_named("deep", deep(nap));
            }
        }
        if with_twice {
            let mut config = [0u8; CONFIG];
            fill(&mut config);
            for _ in 0..n {
                spawn_named("twice", twice(config, nap));
            }
        }
        eprintln!("layers: {n} tasks of each variant run");
    });
}
