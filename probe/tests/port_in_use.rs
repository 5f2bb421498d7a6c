//! A probe whose port is taken reports it and lets the host run: tasks spawn, run and finish.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::Duration;

/// The probe's allocator is on under every probe test.
#[global_allocator]
static A: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();

#[test]
fn a_port_in_use_does_not_stop_the_host() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("its address").port();
    asyncmem_probe::Builder::default()
        .server_addr(([127, 0, 0, 1], port))
        .publish_interval(Duration::from_millis(20))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let total = rt.block_on(async {
        let mut sum = 0u64;
        for round in 0..5u64 {
            let handles: Vec<_> = (0..2000u64)
                .map(|i| {
                    tokio::spawn(async move {
                        tokio::task::yield_now().await;
                        i + round
                    })
                })
                .collect();
            for h in handles {
                sum += h.await.expect("the task ran");
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        sum
    });
    let expected: u64 = (0..5u64)
        .map(|r| (0..2000u64).map(|i| i + r).sum::<u64>())
        .sum();
    assert_eq!(total, expected);
    // The listener we hold is still ours: the probe did not take it over.
    assert_eq!(taken.local_addr().expect("still bound").port(), port);
}
