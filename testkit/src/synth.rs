//! Small hand-built console-api updates for tests of the model, the UI and the outputs: one
//! metadata callsite (id 1), tasks with a name, a tokio id and a size, stats with a creation time.

use console_api as proto;
use proto::field::Value;
pub use proto::instrument::Update;
pub use proto::tasks::{Stats, Task as PTask, TaskUpdate};

pub use crate::{stamp, SEC};

/// A field named by string, attached to the `runtime.spawn` callsite (metadata id 1).
pub fn field(name: &str, value: Value) -> proto::Field {
    crate::str_field(1, name, value)
}

/// Task `id` (console id) with tokio id `tokio_id`, `size` bytes (`original` before boxing, if
/// any) and `name`, spawned at src/main.rs:10:5.
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

/// Stats of a task created at `created` (ns) and never polled.
pub fn stats(created: i64) -> Stats {
    Stats {
        created_at: stamp(created),
        ..Default::default()
    }
}

/// The `runtime.spawn` callsite (id 1), as the first update of a connection announces it.
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

/// An update at `now` (ns) with `tasks` new and `stats` changed, carrying the metadata if `meta`.
pub fn update(now: i64, meta: bool, tasks: Vec<PTask>, stats: Vec<(u64, Stats)>) -> Update {
    let metadata = if meta { metadata() } else { None };
    crate::task_update(now, tasks, stats, metadata)
}
