//! Ingestion of console-api `Update`s: callsite metadata, the fields of new tasks (ids, names,
//! kinds, future sizes), spawn locations, stats, id reuse, reconnects and dropped events.

use std::collections::HashSet;

use console_api as proto;
use proto::field::{Name, Value};

use super::intern::{Interner, Sym};
use super::task::{Task, TaskKind, TaskStats};
use super::time::{self, Nanos};
use super::warnings::WarningKind;
use super::{Instrumentation, Model};

/// Sizes above this are treated as unknown (and warned about): no real future is this large.
pub const MAX_FUTURE_BYTES: u64 = 1 << 40;

/// A spawn site's line and column within its file.
pub(super) type LineCol = (Option<u32>, Option<u32>);

#[derive(Clone, Copy)]
enum FieldKey {
    TaskId,
    Size,
    OriginalSize,
    Name,
    Kind,
}

/// What tokio's span fields say about a task.
#[derive(Default)]
struct Fields {
    task_id: Option<u64>,
    name: Sym,
    kind: Option<TaskKind>,
    size: Option<u64>,
    original_size: Option<u64>,
}

impl Model {
    /// Ingest one console `Update`.
    pub fn apply_update(&mut self, update: &proto::instrument::Update) {
        // The table changes only when tasks arrive, change or go: an empty update (a quiet
        // target) must not make every view re-sort.
        if update
            .task_update
            .as_ref()
            .is_some_and(|t| !t.new_tasks.is_empty() || !t.stats_update.is_empty())
        {
            self.table.touch();
        }
        if let Some(now) = &update.now {
            self.now = self.now.max(time::from_timestamp(now));
        }
        let first_of_connection = self.updates_this_connection == 0;
        self.updates += 1;
        self.updates_this_connection += 1;
        let has_metadata = update
            .new_metadata
            .as_ref()
            .is_some_and(|m| !m.metadata.is_empty());
        if self.instrumentation == Instrumentation::Unknown {
            self.instrumentation = Instrumentation::ConsoleSubscriber;
        }
        if let Some(meta) = &update.new_metadata {
            self.register_metadata(meta);
        }
        let Some(tasks) = &update.task_update else {
            if first_of_connection && !has_metadata {
                self.warnings.add(WarningKind::NoInitialState, 1, self.now);
                self.initial_state.missing = true;
            }
            self.prune_done();
            return;
        };
        if first_of_connection {
            if !has_metadata {
                self.warnings.add(WarningKind::NoInitialState, 1, self.now);
                self.initial_state.missing = true;
            } else if self.updates > 1 {
                // A reconnect with a full picture: tasks we hold that it does not mention
                // ended while we were away.
                self.close_unmentioned(tasks);
            }
        }
        self.table.reserve(tasks.new_tasks.len());
        for task in &tasks.new_tasks {
            self.ingest_task(task);
        }
        for (&id, stats) in &tasks.stats_update {
            self.ingest_stats(id, stats);
        }
        self.track_lag(tasks, first_of_connection);
        if tasks.dropped_events > self.dropped_events {
            let more = tasks.dropped_events - self.dropped_events;
            self.dropped_events = tasks.dropped_events;
            self.warnings
                .add(WarningKind::DroppedEvents, more, self.now);
        }
        self.prune_done();
        self.refresh_heap();
    }

    fn track_lag(&mut self, tasks: &proto::tasks::TaskUpdate, first_of_connection: bool) {
        let table = &self.table;
        let created_at = tasks
            .new_tasks
            .iter()
            .filter_map(|t| t.id.as_ref().map(|i| i.id))
            .filter_map(|id| table.by_console_id(id))
            .map(|t| t.stats.created_at);
        self.lag
            .note_update(self.now, first_of_connection, created_at);
    }

    fn register_metadata(&mut self, meta: &proto::RegisterMetadata) {
        for m in &meta.metadata {
            let (Some(id), Some(md)) = (&m.id, &m.metadata) else {
                self.warnings.add(WarningKind::Malformed, 1, self.now);
                continue;
            };
            if md.target.starts_with("asyncmem_probe") {
                self.instrumentation = Instrumentation::Probe;
            }
            if super::probe_lists(md, super::PROBE_MARKS_INITIAL_STATE) {
                self.initial_state.marker_promised = true;
            }
            if super::probe_lists(md, asyncmem_probe::wire::HEAP_STREAM_FIELD) {
                self.heap_advertised();
            }
            if md.target == super::PROBE_INITIAL_STATE_TARGET {
                self.initial_state.marker_seen = true;
            }
            if self.metadata_fields.len() >= self.cfg.max_metadata {
                continue;
            }
            let names = md
                .field_names
                .iter()
                .map(|n| self.strings.intern(n))
                .collect();
            self.metadata_fields.insert(id.id, names);
        }
    }

    fn close_unmentioned(&mut self, update: &proto::tasks::TaskUpdate) {
        let mentioned: HashSet<u64> = update
            .new_tasks
            .iter()
            .filter_map(|t| t.id.as_ref().map(|i| i.id))
            .chain(update.stats_update.keys().copied())
            .collect();
        self.table
            .retire_where(self.now, |task| !mentioned.contains(&task.console_id));
    }

    /// Which of the task fields asyncmem reads this field is, if any.
    fn field_key(&self, field: &proto::Field) -> Option<FieldKey> {
        let name = match field.name.as_ref()? {
            Name::StrName(s) => s.as_str(),
            Name::NameIdx(i) => {
                let meta = field.metadata_id.as_ref()?.id;
                let sym = *self
                    .metadata_fields
                    .get(&meta)?
                    .get(usize::try_from(*i).ok()?)?;
                self.strings.resolve(sym)
            }
        };
        Some(match name {
            "task.id" => FieldKey::TaskId,
            "size.bytes" => FieldKey::Size,
            "original_size.bytes" => FieldKey::OriginalSize,
            "task.name" => FieldKey::Name,
            "kind" => FieldKey::Kind,
            _ => return None,
        })
    }

    fn parse_fields(&mut self, task: &proto::tasks::Task) -> Fields {
        let mut f = Fields::default();
        for field in &task.fields {
            let Some(value) = &field.value else { continue };
            let Some(key) = self.field_key(field) else {
                continue;
            };
            match (key, value) {
                (FieldKey::TaskId, Value::U64Val(v)) => f.task_id = Some(*v),
                (FieldKey::TaskId, Value::I64Val(v)) => f.task_id = u64::try_from(*v).ok(),
                (FieldKey::Size, Value::U64Val(v)) => f.size = Some(*v),
                (FieldKey::OriginalSize, Value::U64Val(v)) => f.original_size = Some(*v),
                (FieldKey::Name, Value::DebugVal(s) | Value::StrVal(s)) => {
                    f.name = self.strings.intern(unquote(s));
                }
                (FieldKey::Kind, Value::DebugVal(s) | Value::StrVal(s)) => {
                    f.kind = Some(TaskKind::parse(s))
                }
                _ => {}
            }
        }
        f
    }

    fn location_of(&mut self, task: &proto::tasks::Task) -> Sym {
        let Some(loc) = &task.location else {
            return Sym::NONE;
        };
        let file = super::intern::clip(loc.file.as_deref().unwrap_or("<unknown>"));
        let file = &*file;
        let key = (loc.line, loc.column);
        if let Some(&sym) = self.locations.get(file).and_then(|m| m.get(&key)) {
            return sym;
        }
        let s = match (loc.line, loc.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file.to_string(),
        };
        let sym = self.strings.intern(&s);
        if sym != Interner::OVERFLOW_SYM {
            self.locations
                .entry(file.into())
                .or_default()
                .insert(key, sym);
        }
        sym
    }

    fn ingest_task(&mut self, msg: &proto::tasks::Task) {
        let Some(id) = msg.id.as_ref().map(|i| i.id) else {
            self.warnings.add(WarningKind::Malformed, 1, self.now);
            return;
        };
        // Parsing the fields and the location below leaves the table as it is: the slot holds.
        let known = self.table.slot_of(id);
        if known.is_none() && self.table.is_full() {
            // Not tracked: said once, before its strings take room in the interner.
            self.warnings.add(WarningKind::TaskLimit, 1, self.now);
            return;
        }
        let fields = self.parse_fields(msg);
        let location = self.location_of(msg);
        let kind =
            fields
                .kind
                .unwrap_or(if msg.kind == proto::tasks::task::Kind::Blocking as i32 {
                    TaskKind::Blocking
                } else {
                    TaskKind::Task
                });
        let (mut size_bytes, boxed) = match (fields.original_size, fields.size) {
            (Some(orig), _) => (Some(orig), true),
            (None, size) => (size, false),
        };
        if size_bytes.is_some_and(|s| s > MAX_FUTURE_BYTES) {
            // No future is a terabyte: a hostile or broken sender. Keep sums meaningful.
            self.warnings.add(WarningKind::Malformed, 1, self.now);
            size_bytes = None;
        }
        if size_bytes.is_none() {
            self.warnings.add(WarningKind::SizesUnknown, 1, self.now);
        }
        if fields.name == Interner::OVERFLOW_SYM || location == Interner::OVERFLOW_SYM {
            self.warnings.add(WarningKind::StringLimit, 1, self.now);
        }
        let fill = |t: &mut Task| {
            t.task_id = fields.task_id;
            t.name = fields.name;
            t.location = location;
            t.kind = kind;
            t.boxed = boxed;
            t.size_bytes = size_bytes;
            t.announced = true;
        };
        if let Some(slot) = known {
            if let Some(existing) = self.table.slot(slot) {
                let same = if existing.task_id.is_some() {
                    existing.task_id == fields.task_id
                } else {
                    existing.location == location && existing.stats.dropped_at == 0
                };
                if !existing.announced {
                    self.table.update(slot, fill);
                    self.lag.note_announced(fields.task_id);
                    return;
                }
                if same {
                    return; // the same task sent again
                }
                // The subscriber reused this id: the task we had is gone.
                self.table.retire(slot, self.now);
            }
        }
        let mut task = self.table.blank(id);
        fill(&mut task);
        self.insert(task);
        self.lag.note_announced(fields.task_id);
    }

    fn ingest_stats(&mut self, id: u64, msg: &proto::tasks::Stats) {
        let stats = convert_stats(msg);
        let slot = match self.table.slot_of(id) {
            Some(slot) => {
                let reused = self.table.slot(slot).is_some_and(|t| {
                    t.stats.created_at != 0
                        && stats.created_at != 0
                        && t.stats.created_at != stats.created_at
                        && !t.announced
                });
                if reused {
                    // The subscriber reused this id: the placeholder we had is gone.
                    self.table.retire(slot, self.now);
                    None
                } else {
                    Some(slot)
                }
            }
            None => None,
        };
        let updated = slot.is_some_and(|slot| self.table.update(slot, |task| task.stats = stats));
        if updated {
            return;
        }
        let horizon = self
            .now
            .saturating_sub(time::nanos_of(self.cfg.retain_done));
        if stats.dropped_at != 0 && stats.dropped_at < horizon {
            // Final stats of a task we already let go after its retention: nothing
            // is missing from the picture.
            return;
        }
        if self.table.is_full() {
            // The table is full: these are the stats of a task it could not take (counted
            // once, as not tracked, when it was announced), or of one it would refuse now.
            // Counting them again as unannounced would count each untracked task twice.
            return;
        }
        self.warnings
            .add(WarningKind::UnannouncedStats, 1, self.now);
        let mut task = self.table.blank(id);
        task.stats = stats;
        self.insert(task);
    }

    fn insert(&mut self, task: Task) {
        if !self.table.insert(task) {
            self.warnings.add(WarningKind::TaskLimit, 1, self.now);
        }
    }
}

/// `"name"` (a Debug-formatted string) to `name`.
fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

fn ts(t: &Option<prost_types::Timestamp>) -> Nanos {
    t.as_ref().map_or(0, time::from_timestamp)
}

fn dur(d: &Option<prost_types::Duration>) -> u64 {
    d.as_ref().map_or(0, time::from_duration)
}

fn convert_stats(s: &proto::tasks::Stats) -> TaskStats {
    let poll = s.poll_stats.as_ref();
    TaskStats {
        polls: poll.map_or(0, |p| p.polls),
        busy_ns: poll.map_or(0, |p| dur(&p.busy_time)),
        scheduled_ns: dur(&s.scheduled_time),
        wakes: s.wakes,
        waker_clones: s.waker_clones,
        waker_drops: s.waker_drops,
        self_wakes: s.self_wakes,
        created_at: ts(&s.created_at),
        dropped_at: ts(&s.dropped_at),
        last_wake: ts(&s.last_wake),
        first_poll: poll.map_or(0, |p| ts(&p.first_poll)),
        last_poll_started: poll.map_or(0, |p| ts(&p.last_poll_started)),
        last_poll_ended: poll.map_or(0, |p| ts(&p.last_poll_ended)),
    }
}
