//! Synthetic console-api messages for tests of the model and the UI.
#![allow(dead_code)]

use super::*;
pub use proto::instrument::Update;
pub use proto::tasks::{Stats, Task as PTask, TaskUpdate};

pub const SEC: i64 = 1_000_000_000;

pub fn stamp(ns: Nanos) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: ns / SEC,
        nanos: (ns % SEC) as i32,
    })
}

pub fn field(name: &str, value: Value) -> proto::Field {
    proto::Field {
        name: Some(Name::StrName(name.to_string())),
        value: Some(value),
        metadata_id: Some(proto::MetaId { id: 1 }),
    }
}

pub fn ptask(id: u64, tokio_id: u64, size: u64, original: Option<u64>, name: &str) -> PTask {
    let mut fields = vec![
        field("kind", Value::DebugVal("task".into())),
        field("task.name", Value::DebugVal(name.into())),
        field("task.id", Value::U64Val(tokio_id)),
        field("size.bytes", Value::U64Val(size)),
    ];
    if let Some(o) = original {
        fields.push(field("original_size.bytes", Value::U64Val(o)));
    }
    PTask {
        id: Some(proto::Id { id }),
        metadata: Some(proto::MetaId { id: 1 }),
        kind: 0,
        fields,
        parents: vec![],
        location: Some(proto::Location {
            file: Some("src/main.rs".into()),
            module_path: None,
            line: Some(10),
            column: Some(5),
        }),
    }
}

pub fn stats(created: Nanos) -> Stats {
    Stats {
        created_at: stamp(created),
        ..Default::default()
    }
}

pub fn metadata() -> Option<proto::RegisterMetadata> {
    Some(proto::RegisterMetadata {
        metadata: vec![proto::register_metadata::NewMetadata {
            id: Some(proto::MetaId { id: 1 }),
            metadata: Some(proto::Metadata {
                name: "runtime.spawn".into(),
                field_names: vec!["kind".into(), "task.name".into(), "task.id".into()],
                ..Default::default()
            }),
        }],
    })
}

pub fn update(now: Nanos, meta: bool, tasks: Vec<PTask>, stats: Vec<(u64, Stats)>) -> Update {
    Update {
        now: stamp(now),
        task_update: Some(TaskUpdate {
            new_tasks: tasks,
            stats_update: stats.into_iter().collect(),
            dropped_events: 0,
        }),
        resource_update: None,
        async_op_update: None,
        new_metadata: if meta { metadata() } else { None },
    }
}
