//! `conn-buffers`: idle connections holding heap. A server in the process accepts N
//! connections from clients in the same process; each connection task reads length-prefixed
//! messages into a read buffer that grows to the largest message it has seen and is never
//! shrunk, then waits, idle, for the next message. Most clients send a few small messages; one
//! in `--big-every` also sends one large message (`--big`, 64 KiB by default) and then goes
//! quiet like the others. Every connection task's future is the same small size, but the ones
//! that once saw a large message hold it on the heap for as long as they live: the part of a
//! task's bill `size.bytes` cannot see. With `--shrink` the handler gives its buffer back after
//! each message (`shrink_to(4096)`), and the idle connections hold about 4 KiB each.
//!
//! The process counts its heap per task with `asyncmem_probe::Allocator` (its global
//! allocator): with `--instrument probe` (the default) a watcher reads it over the probe's
//! `asyncmem.probe.Heap/WatchHeap` stream.

use std::hint::black_box;
use std::time::Duration;

use asyncmem_demos::{spawn_named, Common};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static ALLOCATOR: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();

/// Bytes of a small message.
const SMALL: usize = 200;
/// What a shrinking handler keeps of its buffer between messages.
const KEEP: usize = 4096;

#[derive(Parser, Debug)]
#[command(about = "Idle connections whose read buffers keep the largest message they saw")]
struct Args {
    /// Connections.
    #[arg(long, short = 'n', default_value_t = 1000)]
    connections: usize,
    /// Bytes of the large message.
    #[arg(long, default_value_t = 64 * 1024)]
    big: usize,
    /// One connection in this many gets the large message.
    #[arg(long, default_value_t = 10)]
    big_every: usize,
    /// The handler shrinks its buffer after each message.
    #[arg(long)]
    shrink: bool,
    #[command(flatten)]
    common: Common,
}

/// A connection's handler: read `len: u32` then `len` bytes into `buf`, reply with their sum,
/// for ever. `buf` grows to the largest message and, unless `shrink`, stays that large.
async fn serve(mut stream: TcpStream, shrink: bool) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let Ok(len) = stream.read_u32().await else {
            return;
        };
        let len = len as usize;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        if stream.read_exact(&mut buf[..len]).await.is_err() {
            return;
        }
        let sum: u64 = buf[..len].iter().map(|&b| u64::from(b)).sum();
        if stream.write_u64(sum).await.is_err() {
            return;
        }
        if shrink {
            buf.truncate(KEEP);
            buf.shrink_to(KEEP);
        }
    }
}

/// A client: a few small messages, the large one if `big` > 0, then quiet until the end.
async fn client(addr: std::net::SocketAddr, big: usize, nap: Duration) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return;
    };
    let mut sizes = vec![SMALL; 3];
    if big > 0 {
        sizes.push(big);
    }
    for size in sizes {
        let msg: Vec<u8> = (0..size).map(|i| (i % 251) as u8 + 1).collect();
        let sent = async {
            stream.write_u32(size as u32).await?;
            stream.write_all(&msg).await?;
            stream.read_u64().await
        };
        if sent.await.is_err() {
            return;
        }
    }
    // Keep the connection open, idle.
    tokio::time::sleep(nap).await;
    black_box(&stream);
}

#[allow(
    clippy::expect_used,
    reason = "a demo whose listener cannot bind on loopback has nothing to show: it stops with the cause"
)]
fn main() {
    let args = Args::parse();
    let nap = args.common.nap();
    let (n, big, every, shrink) = (
        args.connections,
        args.big,
        args.big_every.max(1),
        args.shrink,
    );
    args.common.run(async move {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a listener on loopback");
        let addr = listener.local_addr().expect("its address");
        spawn_named("accept", async move {
            while let Ok((stream, _)) = listener.accept().await {
                spawn_named("conn", serve(stream, shrink));
            }
        });
        let mut bigs = 0;
        for i in 0..n {
            let size = if i % every == 0 { big } else { 0 };
            bigs += usize::from(size > 0);
            spawn_named("client", client(addr, size, nap));
        }
        eprintln!(
            "conn-buffers: {n} connections, {bigs} of them sent one {big}-byte message{}",
            if shrink {
                "; handlers shrink their buffers"
            } else {
                ""
            }
        );
    });
}
