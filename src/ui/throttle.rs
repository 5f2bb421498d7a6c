//! "Rebuild at most once per ten times its own cost": a rebuild that took 20 ms waits 200 ms
//! before the next, so a huge table is rebuilt now and then instead of on every update, and a
//! small one at once (never sooner than a floor).

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Throttle {
    /// The shortest wait between two rebuilds, however cheap.
    floor: Duration,
    built_at: Option<Instant>,
    last_cost: Duration,
}

impl Throttle {
    pub const fn new(floor: Duration) -> Throttle {
        Throttle {
            floor,
            built_at: None,
            last_cost: Duration::ZERO,
        }
    }

    /// Whether a rebuild is allowed now: never built, or ten times the last one's cost (at least
    /// the floor) has passed since.
    pub fn ready(&self) -> bool {
        let gap = (self.last_cost * 10).max(self.floor);
        self.built_at.is_none_or(|t| t.elapsed() >= gap)
    }

    /// Note a rebuild that began at `started` and has just ended: when it was, what it cost.
    pub fn built(&mut self, started: Instant) {
        self.built_at = Some(Instant::now());
        self.last_cost = started.elapsed();
    }
}
