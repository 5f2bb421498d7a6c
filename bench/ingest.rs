//! Ingestion throughput of the model (issue 2).
//!
//! * `ingest/new_tasks_100k`: one console `Update` announcing 100,000 new tasks together with
//!   their stats, applied to a fresh `Model` (the first update of a connection, carrying the
//!   spawn callsite metadata, as console-subscriber sends it).
//! * `ingest/stats_only_100k`: a stats-only `Update` changing the stats of all 100,000 tasks,
//!   applied to a model that already holds them.
//! * `ingest/burst_100k_on_100k`: a later update (not the first of the connection) announcing
//!   100,000 more tasks with their stats to a model that already holds 100,000.
//!
//! The updates are built outside the timed part. Run with
//! `cargo bench --bench ingest -- --warm-up-time 1 --measurement-time 5`.

use std::hint::black_box;

use asyncmem::model::Model;
use console_api as proto;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use proto::field::{Name, Value};
use proto::instrument::Update;
use proto::tasks::{Stats, Task as PTask, TaskUpdate};

const TASKS: usize = 100_000;

/// Synthetic console updates shaped like console-subscriber 0.5's over tokio 1.x.
mod synth {
    use super::*;

    const SEC: i64 = 1_000_000_000;
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

    pub fn stamp(ns: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp {
            seconds: ns / SEC,
            nanos: (ns % SEC) as i32,
        })
    }

    fn duration(ns: i64) -> Option<prost_types::Duration> {
        Some(prost_types::Duration {
            seconds: ns / SEC,
            nanos: (ns % SEC) as i32,
        })
    }

    fn field(name: &str, value: Value) -> proto::Field {
        proto::Field {
            name: Some(Name::StrName(name.to_string())),
            value: Some(value),
            metadata_id: Some(proto::MetaId { id: SPAWN_META }),
        }
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
        Update {
            now: stamp(T0 + 2 * SEC),
            task_update: Some(TaskUpdate {
                new_tasks: (0..n).map(task).collect(),
                stats_update: (0..n).map(|i| (console_id(i), stats(i, 0))).collect(),
                dropped_events: 0,
            }),
            resource_update: None,
            async_op_update: None,
            new_metadata: Some(metadata()),
        }
    }

    /// A later update announcing the tasks `from..from + n` (a spawn burst) with their stats.
    pub fn burst(from: usize, n: usize) -> Update {
        let ids = from..from + n;
        Update {
            now: stamp(T0 + 3 * SEC),
            task_update: Some(TaskUpdate {
                new_tasks: ids.clone().map(task).collect(),
                stats_update: ids.map(|i| (console_id(i), stats(i, 0))).collect(),
                dropped_events: 0,
            }),
            resource_update: None,
            async_op_update: None,
            new_metadata: None,
        }
    }

    /// A later update: no new task, changed stats for all `n` tasks.
    pub fn stats_only(n: usize, round: i64) -> Update {
        Update {
            now: stamp(T0 + (2 + round) * SEC),
            task_update: Some(TaskUpdate {
                new_tasks: vec![],
                stats_update: (0..n).map(|i| (console_id(i), stats(i, round))).collect(),
                dropped_events: 0,
            }),
            resource_update: None,
            async_op_update: None,
            new_metadata: None,
        }
    }
}

fn bench_ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(TASKS as u64));
    // Tens of milliseconds per iteration: flat sampling, 20 samples.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);

    let first = synth::new_tasks(TASKS);
    {
        // The synthetic update must land as intended: every task tracked, nothing warned.
        let mut m = Model::default();
        m.apply_update(&first);
        assert_eq!(m.len(), TASKS);
        assert_eq!(m.counts().live(), TASKS as u64);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }
    group.bench_function("new_tasks_100k", |b| {
        b.iter_batched(
            Model::default,
            |mut model| {
                model.apply_update(black_box(&first));
                model // dropped by criterion outside the timed part
            },
            BatchSize::PerIteration,
        )
    });

    // Two stats rounds, applied alternately, so that every application changes every task.
    let rounds = [synth::stats_only(TASKS, 1), synth::stats_only(TASKS, 2)];
    let mut model = Model::default();
    model.apply_update(&first);
    let mut next = 0;
    group.bench_function("stats_only_100k", |b| {
        b.iter(|| {
            model.apply_update(black_box(&rounds[next]));
            next ^= 1;
        })
    });
    assert_eq!(model.len(), TASKS);
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);
    drop(model);

    // Not the first update: 100k new tasks arrive while the model already holds 100k (a spawn
    // burst after attaching). The setup (a model holding the first 100k) is not timed.
    let burst = synth::burst(TASKS, TASKS);
    let holding = || {
        let mut m = Model::default();
        m.apply_update(&first);
        m
    };
    {
        let mut m = holding();
        m.apply_update(&burst);
        assert_eq!(m.len(), 2 * TASKS);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }
    group.bench_function("burst_100k_on_100k", |b| {
        b.iter_batched(
            holding,
            |mut model| {
                model.apply_update(black_box(&burst));
                model
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_ingest(&mut c);
    c.final_summary();
}
