//! The handlers `asyncmem layout` must explain. `server --print-sizes` prints `size_of_val`
//! of each spawned future, as this build compiled it (the tests compare the layout with it);
//! without it, it spawns each once and exits.

use std::time::Duration;

async fn tick() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A 16 KiB buffer held across an await: over tokio's box threshold in debug and release.
async fn fat_handler(id: u64) -> u64 {
    let buf = [id as u8; 16384];
    tick().await;
    std::hint::black_box(&buf)[0] as u64
}

/// Nothing held across the await but the argument.
async fn slim_handler(id: u64) -> u64 {
    tick().await;
    id
}

/// A 4 KiB buffer across an await: boxed by tokio in debug (over 2 KiB), not in release.
async fn medium_handler(id: u64) -> u64 {
    let buf = [id as u8; 4096];
    tick().await;
    std::hint::black_box(&buf)[0] as u64
}

/// The argument is stored twice: as the upvar and as a local kept across the await.
async fn twice_handler(arg: [u8; 1024]) -> u8 {
    tick().await;
    let kept = arg;
    kept[0]
}

/// Its size comes from an async fn three levels down.
async fn deep_handler() -> u64 {
    level1().await
}

async fn level1() -> u64 {
    level2().await
}

async fn level2() -> u64 {
    level3().await
}

async fn level3() -> u64 {
    let buf = [3u8; 8192];
    tick().await;
    std::hint::black_box(&buf)[0] as u64
}

/// Compiled only with the corpus's own `build.rustflags` (`--cfg corpus_flag`).
#[cfg(corpus_flag)]
async fn flagged_handler() -> u64 {
    tick().await;
    7
}

fn print_sizes() {
    println!("fat_handler {}", std::mem::size_of_val(&fat_handler(0)));
    println!("slim_handler {}", std::mem::size_of_val(&slim_handler(0)));
    println!("medium_handler {}", std::mem::size_of_val(&medium_handler(0)));
    println!("twice_handler {}", std::mem::size_of_val(&twice_handler([0; 1024])));
    println!("deep_handler {}", std::mem::size_of_val(&deep_handler()));
    println!("netlib::handle_conn {}", netlib::conn_future_size());
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--print-sizes") {
        print_sizes();
        return;
    }
    let _ = tokio::spawn(fat_handler(1)).await;
    let _ = tokio::spawn(slim_handler(2)).await;
    let _ = tokio::spawn(medium_handler(3)).await;
    let _ = tokio::spawn(twice_handler([4; 1024])).await;
    let _ = tokio::spawn(deep_handler()).await;
    #[cfg(corpus_flag)]
    let _ = tokio::spawn(flagged_handler()).await;
    netlib::serve(2).await;
}
