//! Synthetic console-api updates shaped like console-subscriber 0.5's over tokio 1.x, at the
//! scale of the benches: 100,000s of tasks from a handful of spawn sites, their stats moving on
//! from round to round.

use console_api as proto;
use proto::field::Value;
use proto::instrument::Update;
use proto::tasks::{Stats, Task as PTask};

use crate::{duration, stamp, task_update, SEC};

/// Wall clock of the synthetic target (late 2025), in nanoseconds.
pub const T0: i64 = 1_764_000_000 * SEC;
/// `MetaId` of the `runtime.spawn` callsite (console-subscriber uses the metadata address).
const SPAWN_META: u64 = 0x5581_2a4c_7e10;
/// The spawn sites every task comes from: a handful, as in a real program.
const LOCATIONS: [(&str, u32, u32); 6] = [
    ("demos/src/bin/sleepers.rs", 44, 22),
    ("demos/src/bin/sleepers.rs", 45, 23),
    ("demos/src/bin/sleepers.rs", 46, 25),
    ("demos/src/bin/sleepers.rs", 47, 25),
    ("demos/src/bin/sleepers.rs", 48, 26),
    ("demos/src/bin/sleepers.rs", 59, 10),
];
const SIZES: [u64; 6] = [16, 80, 1040, 4112, 20496, 1040];
const NAMES: [&str; 4] = ["tiny", "kilobyte", "sixteen-k", "boxed-32k"];

fn field(name: &str, value: Value) -> proto::Field {
    crate::str_field(SPAWN_META, name, value)
}

/// A span id as tracing-subscriber's registry hands them out (slab index + 1, shard bits).
pub fn console_id(i: usize) -> u64 {
    let i = i as u64;
    ((i & 1) << 38 | (i >> 1)) + 1
}

pub fn task(i: usize) -> PTask {
    let site = i % LOCATIONS.len();
    let (file, line, column) = LOCATIONS[site];
    // Tokio records `task.name = %name.unwrap_or_default()`: empty for almost every task.
    let name = if i < NAMES.len() { NAMES[i] } else { "" };
    PTask {
        id: Some(proto::Id { id: console_id(i) }),
        metadata: Some(proto::MetaId { id: SPAWN_META }),
        kind: proto::tasks::task::Kind::Spawn as i32,
        fields: vec![
            field("kind", Value::DebugVal("task".into())),
            field("task.name", Value::DebugVal(name.into())),
            field("task.id", Value::U64Val(i as u64 + 1)),
            field("size.bytes", Value::U64Val(SIZES[site])),
        ],
        parents: vec![],
        location: Some(proto::Location {
            file: Some(file.into()),
            module_path: None,
            line: Some(line),
            column: Some(column),
        }),
    }
}

/// A full stats snapshot of task `i`; `round` moves every counter and timestamp on.
/// Most tasks are idle (sleeping), one in 16 was woken and is scheduled.
pub fn stats(i: usize, round: i64) -> Stats {
    let created = T0 + (i as i64) * 1_000;
    let polls = 1 + round as u64;
    let first_poll = created + 20_000;
    let last_poll_started = created + round * SEC + 30_000;
    let last_poll_ended = last_poll_started + 4_000;
    let scheduled = i % 16 == 0;
    let last_wake = if scheduled {
        last_poll_ended + 100_000
    } else {
        last_poll_started - 1_000
    };
    Stats {
        created_at: stamp(created),
        dropped_at: None,
        wakes: polls - 1 + u64::from(scheduled),
        waker_clones: polls,
        waker_drops: polls - 1,
        last_wake: if round > 0 || scheduled {
            stamp(last_wake)
        } else {
            None
        },
        poll_stats: Some(proto::PollStats {
            polls,
            first_poll: stamp(first_poll),
            last_poll_started: stamp(last_poll_started),
            last_poll_ended: stamp(last_poll_ended),
            busy_time: duration(polls as i64 * 4_000),
        }),
        self_wakes: 0,
        scheduled_time: duration(polls as i64 * 10_000),
    }
}

fn metadata() -> proto::RegisterMetadata {
    proto::RegisterMetadata {
        metadata: vec![proto::register_metadata::NewMetadata {
            id: Some(proto::MetaId { id: SPAWN_META }),
            metadata: Some(proto::Metadata {
                name: "runtime.spawn".into(),
                target: "tokio::task".into(),
                module_path: "tokio::task".into(),
                location: Some(proto::Location {
                    file: Some("tokio/src/util/trace.rs".into()),
                    module_path: Some("tokio::util::trace".into()),
                    line: Some(16),
                    column: None,
                }),
                kind: proto::metadata::Kind::Span as i32,
                level: proto::metadata::Level::Trace as i32,
                field_names: [
                    "kind",
                    "task.name",
                    "task.id",
                    "original_size.bytes",
                    "size.bytes",
                    "loc.file",
                    "loc.line",
                    "loc.col",
                ]
                .map(String::from)
                .to_vec(),
            }),
        }],
    }
}

/// The first update of a connection: metadata, `n` new tasks and their stats.
pub fn new_tasks(n: usize) -> Update {
    task_update(
        T0 + 2 * SEC,
        (0..n).map(task).collect(),
        (0..n).map(|i| (console_id(i), stats(i, 0))),
        Some(metadata()),
    )
}

/// A later update announcing the tasks `from..from + n` (a spawn burst) with their stats.
pub fn burst(from: usize, n: usize) -> Update {
    let ids = from..from + n;
    task_update(
        T0 + 3 * SEC,
        ids.clone().map(task).collect(),
        ids.map(|i| (console_id(i), stats(i, 0))),
        None,
    )
}

/// A later update: no new task, changed stats for all `n` tasks.
pub fn stats_only(n: usize, round: i64) -> Update {
    task_update(
        T0 + (2 + round) * SEC,
        vec![],
        (0..n).map(|i| (console_id(i), stats(i, round))),
        None,
    )
}
