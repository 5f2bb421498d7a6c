//! Await cases in a library crate: a spawn helper whose future is instantiated by the binary,
//! and async fns the binary awaits.
#![allow(clippy::all, dead_code, unreachable_code, unused)]

use std::future::Future;

pub async fn lib_leaf(x: u32) -> u32 {
    tokio::task::yield_now().await;
    x + 1
}

pub async fn lib_wrap<F: Future<Output = u32>>(f: F) -> u32 {
    let buf = [1u8; 64];
    let v = f.await;
    let w = lib_leaf(v).await;
    w + buf[3] as u32
}

pub fn lib_spawn<F: Future<Output = u32> + Send + 'static>(f: F) -> tokio::task::JoinHandle<u32> {
    tokio::spawn(lib_wrap(f))
}

pub fn lib_block<F: Future<Output = u32> + Send + 'static>(f: F) -> tokio::task::JoinHandle<u32> {
    let k = 7u32;
    tokio::spawn(async move {
        let a = f.await;
        lib_leaf(a + k).await
    })
}

pub async fn lib_async_spawn<F: Future<Output = u32> + Send + 'static>(f: F) -> u32 {
    let first = lib_leaf(1).await;
    let h = tokio::spawn(async move {
        let v = f.await;
        lib_leaf(v).await
    });
    let helper = |x: u32| x + 1;
    let later = async move { lib_leaf(helper(first)).await };
    h.await.unwrap_or(0) + later.await
}
