//! Time as the console protocol gives it: wall-clock nanoseconds since the Unix epoch, so that
//! console updates (`Update.now`) and procfs samples taken on the same machine share one axis.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (wall clock of the machine).
pub type Nanos = i64;

/// A protobuf timestamp as nanoseconds since the epoch; saturates instead of overflowing.
pub fn from_timestamp(ts: &prost_types::Timestamp) -> Nanos {
    ts.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(ts.nanos))
}

/// A protobuf duration in nanoseconds; negative or absurd values are clamped to zero / u64::MAX.
pub fn from_duration(d: &prost_types::Duration) -> u64 {
    let ns = i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos);
    ns.clamp(0, i128::from(u64::MAX)) as u64
}

/// The wall clock now.
pub fn now() -> Nanos {
    from_system_time(SystemTime::now())
}

pub fn from_system_time(t: SystemTime) -> Nanos {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// `Duration` to nanoseconds, saturating.
pub fn nanos_of(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
