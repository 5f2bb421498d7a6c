//! A library whose connection handler is spawned inside the library: the spawn is compiled
//! in this crate, not in the binary that calls `serve`.

use std::time::Duration;

/// One connection: a 3 KiB read buffer held across the await.
async fn handle_conn(id: usize) -> usize {
    let buf = [id as u8; 3072];
    tokio::time::sleep(Duration::from_millis(1)).await;
    std::hint::black_box(&buf).len()
}

/// Spawns one handler per connection and waits for them.
pub async fn serve(conns: usize) -> usize {
    let mut handles = Vec::new();
    for id in 0..conns {
        handles.push(tokio::spawn(handle_conn(id)));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap_or(0);
    }
    total
}

/// `size_of_val` of the future `serve` spawns, measured by the compiled code itself.
pub fn conn_future_size() -> usize {
    std::mem::size_of_val(&handle_conn(0))
}
