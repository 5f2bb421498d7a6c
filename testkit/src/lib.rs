//! Test builders shared by asyncmem's unit tests, integration tests and benches, and by the
//! probe's tests: free ports, helper processes and real demo targets, synthetic console-api
//! updates, and (feature `pty`) a real terminal.
//!
//! This crate does not depend on asyncmem (its unit tests use it: a cycle would give them two
//! copies of asyncmem's types), so everything here speaks console-api and prost types only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failed unwrap is a failed test, with its message"
)]

pub mod counting;
pub mod demo;
pub mod process;
#[cfg(feature = "pty")]
pub mod pty;
pub mod subscriber;
pub mod synth;

use console_api as proto;
use proto::field::{Name, Value};
use proto::instrument::Update;
use proto::tasks::{Stats, Task as PTask, TaskUpdate};

pub use demo::{demo_bin, demo_command, start_demo, taskdump_demo_bin, Target};
pub use process::{package_bin, spawn_ready};

/// Nanoseconds per second, the unit of the synthetic clocks.
pub const SEC: i64 = 1_000_000_000;

/// Nanoseconds as an exact protobuf timestamp (nanos always in 0..1e9, negative times included).
pub fn timestamp(ns: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ns.div_euclid(SEC),
        nanos: ns.rem_euclid(SEC) as i32,
    }
}

/// [`timestamp`] as a message field.
pub fn stamp(ns: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp(ns))
}

/// Nanoseconds as a protobuf duration field.
pub fn duration(ns: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: ns.div_euclid(SEC),
        nanos: ns.rem_euclid(SEC) as i32,
    })
}

/// A field named by string, attached to the callsite `meta`.
pub fn str_field(meta: u64, name: &str, value: Value) -> proto::Field {
    proto::Field {
        name: Some(Name::StrName(name.to_string())),
        value: Some(value),
        metadata_id: Some(proto::MetaId { id: meta }),
    }
}

/// An update at `now` (ns) carrying only tasks: `new_tasks`, the `stats` that changed, and the
/// callsites announced with it (the first update of a connection has them).
pub fn task_update(
    now: i64,
    new_tasks: Vec<PTask>,
    stats: impl IntoIterator<Item = (u64, Stats)>,
    new_metadata: Option<proto::RegisterMetadata>,
) -> Update {
    task_update_at(stamp(now), new_tasks, stats, new_metadata)
}

/// [`task_update`] at any clock reading, none included (the fakes send the wall clock's, and
/// odd ones).
pub fn task_update_at(
    now: Option<prost_types::Timestamp>,
    new_tasks: Vec<PTask>,
    stats: impl IntoIterator<Item = (u64, Stats)>,
    new_metadata: Option<proto::RegisterMetadata>,
) -> Update {
    Update {
        now,
        task_update: Some(TaskUpdate {
            new_tasks,
            stats_update: stats.into_iter().collect(),
            dropped_events: 0,
        }),
        resource_update: None,
        async_op_update: None,
        new_metadata,
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
