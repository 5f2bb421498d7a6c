//! `fat-vs-slim`: the same handler three ways, N tasks each, suspended at the same `.await`.
//!
//! - `fat`: a 16 KiB buffer lives across the await, so it is stored in the future (and tokio,
//!   seeing a future that large, boxes it);
//! - `slim`: the buffer is used and dropped in a block that ends before the await: only the
//!   checksum survives, the future stays small;
//! - `boxed`: the buffer is on the heap (`Box`) and only the pointer lives in the future: the
//!   future is small, but the 16 KiB are still paid, on the heap, where `size.bytes` cannot see.
//!
//! Every buffer is written whole (a byte pattern, not zeros the allocator could leave
//! untouched), so all of it is resident and RSS counts it. Each variant's tasks are named after
//! it and spawn from its own line, so `g` in `asyncmem top` shows one location each; `--only
//! VARIANT` runs one variant alone, so that the RSS of one process is the cost of one variant.
//!
//! The process counts its heap per task with `asyncmem_probe::Allocator` (its global
//! allocator): under the probe (`--instrument probe`, the default) asyncmem shows each `boxed`
//! task holding its 16 KiB on the heap, beside a small future.

use std::hint::black_box;
use std::time::Duration;

use asyncmem_demos::{checksum, fill, spawn_named, Common};
use clap::{Parser, ValueEnum};

#[global_allocator]
static ALLOCATOR: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();

const BUF: usize = 16 * 1024;

/// One way to write the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Variant {
    Fat,
    Slim,
    Boxed,
}

#[derive(Parser, Debug)]
#[command(
    about = "One handler holding a 16 KiB buffer across an await, dropping it first, or boxing it"
)]
struct Args {
    /// Tasks of each variant.
    #[arg(long, short = 'n', default_value_t = 1000)]
    tasks: usize,
    /// Run only this variant (to compare the RSS of one process per variant).
    #[arg(long, value_enum)]
    only: Option<Variant>,
    #[command(flatten)]
    common: Common,
}

/// The buffer is alive across the await: it is part of the future's state.
async fn fat(nap: Duration) {
    let mut buf = [0u8; BUF];
    fill(&mut buf);
    tokio::time::sleep(nap).await;
    black_box(checksum(&buf));
}

/// The buffer ends with its block, before the await: the future holds only the checksum.
async fn slim(nap: Duration) {
    let sum = {
        let mut buf = [0u8; BUF];
        fill(&mut buf);
        checksum(black_box(&buf))
    };
    tokio::time::sleep(nap).await;
    black_box(sum);
}

/// The buffer is on the heap: the future holds a pointer, the heap holds the 16 KiB.
async fn boxed(nap: Duration) {
    let mut buf = vec![0u8; BUF].into_boxed_slice();
    fill(&mut buf);
    tokio::time::sleep(nap).await;
    black_box(checksum(&buf));
}

fn main() {
    let args = Args::parse();
    let nap = args.common.nap();
    let n = args.tasks;
    let runs = |v: Variant| args.only.is_none_or(|only| only == v);
    let (with_fat, with_slim, with_boxed) = (
        runs(Variant::Fat),
        runs(Variant::Slim),
        runs(Variant::Boxed),
    );
    args.common.run(async move {
        let mut variants = Vec::new();
        if with_fat {
            for _ in 0..n {
                spawn_named("fat", fat(nap));
            }
            variants.push("fat");
        }
        if with_slim {
            for _ in 0..n {
                spawn_named("slim", slim(nap));
            }
            variants.push("slim");
        }
        if with_boxed {
            for _ in 0..n {
                spawn_named("boxed", boxed(nap));
            }
            variants.push("boxed");
        }
        eprintln!("fat-vs-slim: {n} tasks each of {}", variants.join(", "));
    });
}
