//! Memory of the target from procfs: VmRSS, anonymous RSS and threads, on a fixed cadence.

use std::time::Duration;

use procfs::process::Process;
use tokio::sync::mpsc;

use crate::model::{time, Event, RssSample};

/// One reading of `/proc/PID/status`. `None` when the process is gone (or a zombie).
pub fn read(pid: i32) -> Option<RssSample> {
    let status = Process::new(pid).ok()?.status().ok()?;
    // A zombie has no memory lines left.
    let rss_kb = status.vmrss?;
    Some(RssSample {
        at: time::now(),
        rss_bytes: rss_kb.saturating_mul(1024),
        anon_rss_bytes: status.rssanon.unwrap_or(0).saturating_mul(1024),
        threads: status.threads,
    })
}

/// Sample `pid` every `interval` until it exits (then send `TargetExited`) or the receiver
/// goes away.
pub async fn run(pid: i32, interval: Duration, tx: mpsc::Sender<Event>) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let event = match read(pid) {
            Some(sample) => Event::Rss(sample),
            None => {
                let _ = tx.send(Event::TargetExited).await;
                return;
            }
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
}
