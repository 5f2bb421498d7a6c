//! `fat-vs-slim`: the same handler three ways, N tasks each, suspended at the same `.await`.
//!
//! - `fat`: a 16 KiB buffer lives across the await, so it is stored in the future (and tokio,
//!   seeing a future that large, boxes it);
//! - `slim`: the buffer is used and dropped in a block that ends before the await: only the
//!   checksum survives, the future stays small;
//! - `boxed`: the buffer is on the heap (`Box`) and only the pointer lives in the future: the
//!   future is small, but the 16 KiB are still paid, on the heap, where `size.bytes` cannot see.
//!
//! Each variant spawns from its own line, so `g` in `asyncmem top` shows one location each.

use std::hint::black_box;
use std::time::Duration;

use asyncmem_demos::Common;
use clap::Parser;

const BUF: usize = 16 * 1024;

#[derive(Parser, Debug)]
#[command(
    about = "One handler holding a 16 KiB buffer across an await, dropping it first, or boxing it"
)]
struct Args {
    /// Tasks of each variant.
    #[arg(long, short = 'n', default_value_t = 1000)]
    tasks: usize,
    #[command(flatten)]
    common: Common,
}

fn checksum(buf: &[u8]) -> u64 {
    buf.iter().map(|b| u64::from(*b)).sum()
}

/// The buffer is alive across the await: it is part of the future's state.
async fn fat(nap: Duration) {
    let mut buf = [0u8; BUF];
    buf[0] = 1;
    tokio::time::sleep(nap).await;
    black_box(checksum(&buf));
}

/// The buffer ends with its block, before the await: the future holds only the checksum.
async fn slim(nap: Duration) {
    let sum = {
        let mut buf = [0u8; BUF];
        buf[0] = 1;
        checksum(black_box(&buf))
    };
    tokio::time::sleep(nap).await;
    black_box(sum);
}

/// The buffer is on the heap: the future holds a pointer, the heap holds the 16 KiB.
async fn boxed(nap: Duration) {
    let mut buf = vec![0u8; BUF].into_boxed_slice();
    buf[0] = 1;
    tokio::time::sleep(nap).await;
    black_box(checksum(&buf));
}

fn main() {
    let args = Args::parse();
    let nap = args.common.nap();
    let n = args.tasks;
    args.common.run(async move {
        for _ in 0..n {
            tokio::spawn(fat(nap));
        }
        for _ in 0..n {
            tokio::spawn(slim(nap));
        }
        for _ in 0..n {
            tokio::spawn(boxed(nap));
        }
        eprintln!("fat-vs-slim: {n} tasks each of fat, slim and boxed");
    });
}
