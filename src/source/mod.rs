//! The outside world: where asyncmem's data comes from. Discovery finds a target's console
//! endpoint, `console` streams its updates, `rss` samples its memory from procfs. Each produces
//! [`crate::model::Event`]s on a bounded channel; nothing here knows about the model's insides.

pub mod console;
pub mod decode;
pub mod discover;
pub mod dump;
pub mod endpoint;
pub mod heap;
pub mod replay;
pub mod rss;

pub use endpoint::Endpoint;

/// Capacity of the event channels from the sources (and through a recorder), bounded so that a
/// fast target cannot grow asyncmem's queue.
pub const CHANNEL_CAPACITY: usize = 1024;

/// Whether `pid` is still a running process (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    match procfs::process::Process::new(pid).and_then(|p| p.stat()) {
        Ok(stat) => stat.state != 'Z' && stat.state != 'X',
        Err(_) => false,
    }
}
