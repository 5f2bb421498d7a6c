//! Encoding to console-api messages: a record becomes a `Task` and its `Stats` shaped as
//! console-subscriber sends them, histograms become `DurationHistogram`s, and a stream of tasks
//! is cut into `Update`s of at most [`CHUNK_BYTES`].

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use console_api as proto;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use prost::Message;

use crate::store::{Histo, Site, Store, TaskRecord};

/// Largest encoded size aimed at for one `Update` (a chunk closes once it passes this; one
/// task with its stats is a few hundred bytes). tokio-console decodes up to 4 MiB.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;
/// The metadata id of the entry that names the instrumentation (never a callsite address).
pub(crate) const PROBE_META_ID: u64 = 1;
/// The metadata id of the entry that ends a new watcher's initial state (never a callsite
/// address: those are pointers to statics).
pub(crate) const INITIAL_STATE_META_ID: u64 = 2;
/// The field of the probe's entry that promises the end-of-initial-state marker below, so
/// that a watcher knows to wait for it (a probe without it sends its state without one).
pub(crate) const MARKS_INITIAL_STATE_FIELD: &str = "initial_state_marker";
/// Target of the entry registered in the last chunk of a new watcher's initial state: the
/// picture is complete once it arrives. tokio-console keeps metadata it does not use (no task
/// points at this id), so it ignores it.
pub(crate) const INITIAL_STATE_TARGET: &str = "asyncmem_probe::initial_state";

/// Strings and sites of the interned ids, looked up once per id per publish.
pub(super) struct Strings<'a> {
    store: &'a Store,
    cache: HashMap<u32, Option<String>>,
    sites: HashMap<u32, Site>,
}

impl Strings<'_> {
    pub(super) fn new(store: &Store) -> Strings<'_> {
        Strings {
            store,
            cache: HashMap::new(),
            sites: HashMap::new(),
        }
    }

    fn site(&mut self, id: u32) -> Site {
        let store = self.store;
        *self.sites.entry(id).or_insert_with(|| store.site(id))
    }

    fn get(&mut self, id: u32) -> Option<String> {
        if id == 0 {
            return None;
        }
        let store = self.store;
        self.cache
            .entry(id)
            .or_insert_with(|| store.string(id))
            .clone()
    }
}

pub(super) fn field(meta: u64, name: &str, value: proto::field::Value) -> proto::Field {
    proto::Field {
        metadata_id: Some(proto::MetaId { id: meta }),
        name: Some(proto::field::Name::StrName(name.to_string())),
        value: Some(value),
    }
}

/// The console `Task` of a record, its fields shaped as console-subscriber sends them.
pub(super) fn task_proto(t: &TaskRecord, s: &mut Strings<'_>) -> proto::tasks::Task {
    use proto::field::Value;
    let site = s.site(t.site);
    let m = site.meta_id;
    let mut fields = Vec::with_capacity(6);
    fields.push(field(
        m,
        "kind",
        Value::DebugVal(s.get(site.kind).unwrap_or_default()),
    ));
    fields.push(field(
        m,
        "task.name",
        Value::DebugVal(s.get(t.name).unwrap_or_default()),
    ));
    fields.push(field(m, "task.id", Value::U64Val(t.tokio_id)));
    if let Some(f) = s.get(site.fn_name) {
        fields.push(field(m, "fn", Value::DebugVal(f)));
    }
    if t.original_size_bytes != u32::MAX {
        fields.push(field(
            m,
            "original_size.bytes",
            Value::U64Val(t.original_size_bytes as u64),
        ));
    }
    fields.push(field(m, "size.bytes", Value::U64Val(t.size_bytes as u64)));
    let file = s.get(site.file);
    let location = file.map(|file| proto::Location {
        file: Some(file),
        module_path: None,
        line: (site.line != 0).then_some(site.line),
        column: (site.col != 0).then_some(site.col),
    });
    proto::tasks::Task {
        id: Some(proto::Id { id: t.id }),
        kind: proto::tasks::task::Kind::Spawn as i32,
        metadata: Some(proto::MetaId { id: m }),
        parents: Vec::new(),
        fields,
        location,
    }
}

fn duration(ns: u64) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(Duration::from_nanos(ns)).ok()
}

pub(super) fn stats_proto(store: &Store, t: &TaskRecord) -> proto::tasks::Stats {
    let ts = |ns: u64| store.system_time(ns).map(prost_types::Timestamp::from);
    proto::tasks::Stats {
        created_at: ts(t.created),
        dropped_at: ts(t.dropped),
        wakes: t.wakes as u64,
        waker_clones: t.waker_clones as u64,
        waker_drops: t.waker_drops as u64,
        last_wake: ts(t.last_wake),
        poll_stats: Some(proto::PollStats {
            polls: t.polls as u64,
            first_poll: ts(t.first_poll),
            last_poll_started: ts(t.last_poll_started),
            last_poll_ended: ts(t.last_poll_ended),
            busy_time: duration(t.busy_ns),
        }),
        self_wakes: t.self_wakes as u64,
        scheduled_time: duration(t.scheduled_ns),
    }
}

pub(super) fn metadata_proto(
    meta: &'static tracing_core::Metadata<'static>,
) -> proto::register_metadata::NewMetadata {
    proto::register_metadata::NewMetadata {
        id: Some(proto::MetaId {
            id: meta as *const tracing_core::Metadata<'static> as u64,
        }),
        metadata: Some(meta.into()),
    }
}

/// The entry that tells a watcher which instrumentation it talks to (asyncmem reads its
/// target) and what it offers beyond console-api (its field names).
pub(super) fn probe_metadata() -> proto::register_metadata::NewMetadata {
    let mut field_names = vec!["version".into(), MARKS_INITIAL_STATE_FIELD.into()];
    // The heap stream has figures only where the target counts its heap.
    if crate::heap::in_use() {
        field_names.push(super::heap::HEAP_STREAM_FIELD.into());
    }
    proto::register_metadata::NewMetadata {
        id: Some(proto::MetaId { id: PROBE_META_ID }),
        metadata: Some(proto::Metadata {
            name: "asyncmem_probe".into(),
            target: "asyncmem_probe".into(),
            module_path: "asyncmem_probe".into(),
            location: None,
            kind: proto::metadata::Kind::Event as i32,
            level: proto::metadata::Level::Info as i32,
            field_names,
        }),
    }
}

/// The entry that ends a new watcher's initial state (see [`INITIAL_STATE_TARGET`]).
pub(super) fn initial_state_marker() -> proto::register_metadata::NewMetadata {
    proto::register_metadata::NewMetadata {
        id: Some(proto::MetaId {
            id: INITIAL_STATE_META_ID,
        }),
        metadata: Some(proto::Metadata {
            name: "initial_state_complete".into(),
            target: INITIAL_STATE_TARGET.into(),
            module_path: "asyncmem_probe".into(),
            location: None,
            kind: proto::metadata::Kind::Event as i32,
            level: proto::metadata::Level::Info as i32,
            field_names: Vec::new(),
        }),
    }
}

/// Mark `update` as the last chunk of an initial state.
pub(super) fn mark_initial_state_end(update: &mut proto::instrument::Update) {
    update
        .new_metadata
        .get_or_insert_with(Default::default)
        .metadata
        .push(initial_state_marker());
}

/// Cuts a stream of tasks and stats into `Update`s of about [`CHUNK_BYTES`].
pub(super) struct Chunker {
    /// Encoded bytes of the chunks taken so far.
    pub(super) sent: usize,
    now: Option<prost_types::Timestamp>,
    metadata: Option<Vec<proto::register_metadata::NewMetadata>>,
    tasks: Vec<proto::tasks::Task>,
    stats: HashMap<u64, proto::tasks::Stats>,
    bytes: usize,
}

impl Chunker {
    pub(super) fn new(
        now: SystemTime,
        metadata: Vec<proto::register_metadata::NewMetadata>,
    ) -> Self {
        Chunker {
            sent: 0,
            now: Some(now.into()),
            bytes: metadata.iter().map(|m| m.encoded_len() + 4).sum(),
            metadata: Some(metadata),
            tasks: Vec::new(),
            stats: HashMap::new(),
        }
    }

    /// Add a task (its `Task` if new, and its stats); returns a full chunk when there is one.
    pub(super) fn push(
        &mut self,
        task: Option<proto::tasks::Task>,
        id: u64,
        stats: proto::tasks::Stats,
    ) -> Option<proto::instrument::Update> {
        if let Some(t) = task {
            self.bytes += t.encoded_len() + 4;
            self.tasks.push(t);
        }
        // A map entry: the key (up to 11 bytes), the message and its framing.
        self.bytes += stats.encoded_len() + 16;
        self.stats.insert(id, stats);
        (self.bytes >= CHUNK_BYTES).then(|| self.take())
    }

    pub(super) fn take(&mut self) -> proto::instrument::Update {
        self.sent += self.bytes;
        self.bytes = 0;
        proto::instrument::Update {
            now: self.now,
            task_update: Some(proto::tasks::TaskUpdate {
                new_tasks: std::mem::take(&mut self.tasks),
                stats_update: std::mem::take(&mut self.stats),
                dropped_events: 0,
            }),
            resource_update: Some(Default::default()),
            async_op_update: Some(Default::default()),
            new_metadata: self
                .metadata
                .take()
                .map(|metadata| proto::RegisterMetadata { metadata }),
        }
    }
}

pub(super) fn histogram_proto(h: &Histo) -> proto::tasks::DurationHistogram {
    let mut raw_histogram = Vec::new();
    if V2Serializer::new()
        .serialize(&h.hist, &mut raw_histogram)
        .is_err()
    {
        raw_histogram.clear();
    }
    proto::tasks::DurationHistogram {
        raw_histogram,
        max_value: h.max,
        high_outliers: h.outliers,
        highest_outlier: h.max_outlier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64) -> TaskRecord {
        TaskRecord {
            id,
            tokio_id: id + 100,
            size_bytes: 4096,
            original_size_bytes: u32::MAX,
            created: 1,
            ..Default::default()
        }
    }

    #[test]
    fn chunks_stay_under_the_limit_and_carry_every_task_once() {
        let store = Store::default();
        let site = store.site_id(Site {
            meta_id: 42,
            file: store.intern("demos/src/bin/sleepers.rs"),
            line: 12,
            ..Default::default()
        });
        let mut strings = Strings::new(&store);
        let mut chunker = Chunker::new(SystemTime::now(), vec![probe_metadata()]);
        let mut chunks = Vec::new();
        for id in 1..=20_000u64 {
            let mut t = rec(id);
            t.site = site;
            if let Some(u) = chunker.push(
                Some(task_proto(&t, &mut strings)),
                id,
                stats_proto(&store, &t),
            ) {
                chunks.push(u);
            }
        }
        chunks.push(chunker.take());
        assert!(chunks.len() > 2, "20k tasks fit in {} chunks", chunks.len());
        let mut ids = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let len = c.encoded_len();
            assert!(len <= CHUNK_BYTES + 4096, "chunk {i} is {len} bytes");
            assert_eq!(
                c.new_metadata.is_some(),
                i == 0,
                "metadata only in the first chunk"
            );
            let tu = c.task_update.as_ref().unwrap();
            for t in &tu.new_tasks {
                let id = t.id.unwrap().id;
                assert!(
                    tu.stats_update.contains_key(&id),
                    "stats travel with their task"
                );
                ids.push(id);
            }
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20_000);
    }

    #[test]
    fn task_fields_mirror_console_subscriber() {
        let store = Store::default();
        let mut t = rec(7);
        t.site = store.site_id(Site {
            meta_id: 42,
            kind: store.intern("task"),
            file: store.intern("src/main.rs"),
            fn_name: 0,
            line: 3,
            col: 9,
        });
        t.name = store.intern("boxed-32k");
        t.original_size_bytes = 32768;
        t.size_bytes = 8;
        let mut strings = Strings::new(&store);
        let p = task_proto(&t, &mut strings);
        let names: Vec<String> = p
            .fields
            .iter()
            .map(|f| match f.name.as_ref().unwrap() {
                proto::field::Name::StrName(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "kind",
                "task.name",
                "task.id",
                "original_size.bytes",
                "size.bytes"
            ]
        );
        assert_eq!(p.fields[3].value, Some(proto::field::Value::U64Val(32768)));
        assert_eq!(
            p.fields[1].value,
            Some(proto::field::Value::DebugVal("boxed-32k".into()))
        );
        assert_eq!(p.metadata, Some(proto::MetaId { id: 42 }));
        let loc = p.location.unwrap();
        assert_eq!(loc.file.as_deref(), Some("src/main.rs"));
        assert_eq!((loc.line, loc.column), (Some(3), Some(9)));
    }

    #[test]
    fn the_end_of_an_initial_state_is_marked_beside_the_probe_entry() {
        let mut first = Chunker::new(SystemTime::now(), vec![probe_metadata()]).take();
        mark_initial_state_end(&mut first);
        let meta = first.new_metadata.expect("metadata").metadata;
        let targets: Vec<_> = meta
            .iter()
            .map(|m| m.metadata.as_ref().expect("metadata").target.as_str())
            .collect();
        assert_eq!(targets, ["asyncmem_probe", INITIAL_STATE_TARGET]);
        let promise = &meta[0].metadata.as_ref().expect("metadata").field_names;
        assert!(promise.iter().any(|f| f == MARKS_INITIAL_STATE_FIELD));
        // A later chunk without metadata gets an entry of its own.
        let mut later = Chunker::new(SystemTime::now(), Vec::new()).take();
        later.new_metadata = None;
        mark_initial_state_end(&mut later);
        assert_eq!(later.new_metadata.expect("metadata").metadata.len(), 1);
    }
}
