//! The model: plain Rust, no terminal. It ingests console-api `Update`s and procfs samples and
//! keeps the task table, the state counts, the time series and the warnings that the TUI and
//! every headless command read.

pub mod details;
pub mod intern;
pub mod series;
pub mod task;
pub mod time;
pub mod warnings;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use console_api as proto;
use proto::field::{Name, Value};

pub use details::TaskDetails;
pub use intern::{Interner, Sym};
pub use series::{RssSample, Sample, Series};
pub use task::{Task, TaskKind, TaskState, TaskStats};
pub use time::Nanos;
pub use warnings::{Warning, WarningKind, Warnings};

/// Sizes above this are treated as unknown (and warned about): no real future is this large.
pub const MAX_FUTURE_BYTES: u64 = 1 << 40;

/// Limits and retention of the model.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// How long done tasks stay in the table after they were dropped.
    pub retain_done: Duration,
    /// How much history the time series keeps.
    pub series_window: Duration,
    /// Most samples the series keeps, whatever the window.
    pub max_samples: usize,
    /// Most tasks tracked at once; more are counted in a warning, not stored.
    pub max_tasks: usize,
    /// Most distinct names and locations kept.
    pub max_strings: usize,
    /// Most callsite metadata entries kept.
    pub max_metadata: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            retain_done: Duration::from_secs(6),
            series_window: Duration::from_secs(30 * 60),
            max_samples: 100_000,
            max_tasks: 5_000_000,
            max_strings: 100_000,
            max_metadata: 100_000,
        }
    }
}

/// Tasks by state and the future bytes they hold, kept up to date on every change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub running: u64,
    pub scheduled: u64,
    pub idle: u64,
    pub done: u64,
    /// Sum of future sizes of live (not done) tasks whose size is known.
    pub future_bytes: u64,
    /// Live tasks whose future size is known.
    pub sized: u64,
}

impl Counts {
    pub fn live(&self) -> u64 {
        self.running + self.scheduled + self.idle
    }

    pub fn of(&self, state: TaskState) -> u64 {
        match state {
            TaskState::Running => self.running,
            TaskState::Scheduled => self.scheduled,
            TaskState::Idle => self.idle,
            TaskState::Done => self.done,
        }
    }

    fn slot(&mut self, state: TaskState) -> &mut u64 {
        match state {
            TaskState::Running => &mut self.running,
            TaskState::Scheduled => &mut self.scheduled,
            TaskState::Idle => &mut self.idle,
            TaskState::Done => &mut self.done,
        }
    }

    fn add(&mut self, task: &Task) {
        let state = task.state();
        *self.slot(state) += 1;
        if state != TaskState::Done {
            if let Some(size) = task.size_bytes {
                self.future_bytes = self.future_bytes.wrapping_add(size);
                self.sized += 1;
            }
        }
    }

    /// Mark `task` done at `now` (it ended without telling us), keeping the counts exact.
    fn retire(&mut self, task: &mut Task, now: Nanos) {
        if task.stats.dropped_at == 0 {
            self.remove(task);
            task.stats.dropped_at = now.max(task.stats.created_at).max(1);
            self.add(task);
        }
    }

    fn remove(&mut self, task: &Task) {
        let state = task.state();
        let slot = self.slot(state);
        *slot = slot.saturating_sub(1);
        if state != TaskState::Done {
            if let Some(size) = task.size_bytes {
                self.future_bytes = self.future_bytes.wrapping_sub(size);
                self.sized = self.sized.saturating_sub(1);
            }
        }
    }
}

/// A spawn site's line and column within its file.
type LineCol = (Option<u32>, Option<u32>);

/// How far behind the target the console picture is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lag {
    /// Largest tokio task id in the first picture after attaching.
    pub baseline_task_id: Option<u64>,
    /// Largest tokio task id announced so far.
    pub max_task_id: u64,
    /// Tasks announced with an id above the baseline.
    pub announced_after_baseline: u64,
    /// Age of the oldest task announced in the latest update that announced any (how late the
    /// subscriber tells about new tasks), in nanoseconds.
    pub last_announce_lag_ns: u64,
    /// The largest such age seen.
    pub max_announce_lag_ns: u64,
    /// When (target clock) tasks were last announced.
    pub last_announce_at: Nanos,
}

impl Lag {
    /// The announce lag, if tasks were announced late recently (within 5 s of `now`): the
    /// subscriber is still catching up.
    pub fn current(&self, now: Nanos) -> Option<u64> {
        let recent = now.saturating_sub(self.last_announce_at) < 5_000_000_000;
        (recent && self.last_announce_lag_ns > 0).then_some(self.last_announce_lag_ns)
    }

    fn note_announced(&mut self, task_id: Option<u64>) {
        if let Some(tid) = task_id {
            self.max_task_id = self.max_task_id.max(tid);
            if self.baseline_task_id.is_some_and(|b| tid > b) {
                self.announced_after_baseline += 1;
            }
        }
    }

    /// Tasks the picture is missing, estimated from tokio's sequential task ids: ids between
    /// the first picture's largest and the largest announced since, never announced. A lower
    /// bound (tasks spawned after the largest announced id are not counted).
    pub fn missing_estimate(&self) -> Option<u64> {
        let base = self.baseline_task_id?;
        Some(
            self.max_task_id
                .saturating_sub(base)
                .saturating_sub(self.announced_after_baseline),
        )
    }
}

/// Which instrumentation the target runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instrumentation {
    /// Not known yet (no console picture).
    Unknown,
    /// console-subscriber (the standard tokio-console instrumentation).
    ConsoleSubscriber,
    /// asyncmem's lean probe (it registers a callsite with target `asyncmem_probe`).
    Probe,
    /// No console endpoint at all: RSS only.
    None,
}

impl Instrumentation {
    pub fn as_str(self) -> &'static str {
        match self {
            Instrumentation::Unknown => "unknown",
            Instrumentation::ConsoleSubscriber => "console-subscriber",
            Instrumentation::Probe => "asyncmem-probe",
            Instrumentation::None => "none",
        }
    }
}

/// Connection to the target's console endpoint, as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Connected,
    /// The stream dropped; a reconnect is under way.
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    /// The target process is gone; the data stays for inspection.
    TargetExited,
    /// No console endpoint: only RSS is read.
    RssOnly,
}

/// What the sources tell the model. The sources produce these; the model is their only reader.
#[derive(Debug)]
pub enum Event {
    Update(Box<proto::instrument::Update>),
    Rss(RssSample),
    /// The console stream (re)connected to `pid` (if known).
    Connected {
        pid: Option<i32>,
    },
    Disconnected {
        attempt: u32,
        reason: String,
    },
    /// The aggregator reported its temporality (paused or live).
    Paused(bool),
    /// Histograms of the task whose details are watched.
    Details(Box<console_api::tasks::TaskDetails>),
    TargetExited,
    /// The target has no console endpoint: only its RSS is read.
    NoConsole,
    /// The console endpoint found after a start without one (RSS-only mode).
    Endpoint(String),
    /// Replay went back in time: forget everything; the events from the start follow.
    Rewind,
    /// Where a replay stands.
    Playback(Playback),
}

/// The position of a replay, for the header.
#[derive(Clone, Debug, PartialEq)]
pub struct Playback {
    /// Time since the recording started, and its whole length.
    pub position: Nanos,
    pub length: Nanos,
    pub speed: f64,
    pub playing: bool,
    /// How the recording ends, when not cleanly (cut, corrupt, no end marker).
    pub problem: Option<String>,
}

pub struct Model {
    cfg: ModelConfig,
    slots: Vec<Option<Task>>,
    free: Vec<u32>,
    by_console_id: HashMap<u64, u32>,
    next_uid: u64,
    counts: Counts,
    strings: Interner,
    /// Location symbols by file, then (line, column): thousands of tasks share a few spawn
    /// sites, so the `file:line:col` string is formatted once per site. Bounded with the interner.
    locations: HashMap<Box<str>, HashMap<LineCol, Sym>>,
    /// Field names of callsites, for fields that name themselves by index.
    metadata_fields: HashMap<u64, Vec<Sym>>,
    pub series: Series,
    pub warnings: Warnings,
    /// `Update.now` of the latest update (target's clock); 0 before the first.
    pub now: Nanos,
    pub last_rss: Option<RssSample>,
    pub connection: Connection,
    pub pid: Option<i32>,
    pub paused: bool,
    /// Histograms of the watched task, if any.
    pub details: Option<TaskDetails>,
    pub lag: Lag,
    pub instrumentation: Instrumentation,
    /// Updates received, in all and on the current connection.
    pub updates: u64,
    updates_this_connection: u64,
    dropped_events: u64,
    generation: u64,
    /// Set when the events come from a recording.
    pub playback: Option<Playback>,
    /// The console endpoint, when it was found after the session started.
    pub endpoint: Option<String>,
    /// The earliest `dropped_at` among done tasks at the last pruning pass: no pass is needed
    /// before it expires. `None`: unknown, pass at the next call.
    next_expiry: Option<Nanos>,
}

impl Default for Model {
    fn default() -> Self {
        Model::new(ModelConfig::default())
    }
}

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

/// `task` may have just become done: the next pruning pass may be due earlier.
fn note_done(next_expiry: &mut Option<Nanos>, task: &Task) {
    let dropped_at = task.stats.dropped_at;
    if dropped_at != 0 {
        if let Some(t) = next_expiry {
            *t = (*t).min(dropped_at);
        }
    }
}

impl Model {
    pub fn new(cfg: ModelConfig) -> Self {
        let window = time::nanos_of(cfg.series_window);
        Model {
            series: Series::new(window, cfg.max_samples),
            strings: Interner::new(cfg.max_strings),
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            by_console_id: HashMap::new(),
            next_uid: 1,
            counts: Counts::default(),
            metadata_fields: HashMap::new(),
            locations: HashMap::new(),
            warnings: Warnings::default(),
            now: 0,
            last_rss: None,
            connection: Connection::Connecting,
            pid: None,
            paused: false,
            details: None,
            lag: Lag::default(),
            instrumentation: Instrumentation::Unknown,
            updates: 0,
            updates_this_connection: 0,
            dropped_events: 0,
            generation: 0,
            playback: None,
            endpoint: None,
            next_expiry: None,
        }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Apply one event from a source.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Update(update) => self.apply_update(&update),
            Event::Rss(sample) => self.apply_rss(sample),
            Event::Connected { pid } => self.on_connected(pid),
            Event::Disconnected { attempt, reason } => {
                self.connection = Connection::Reconnecting { attempt, reason }
            }
            Event::Paused(paused) => self.paused = paused,
            Event::Details(msg) => {
                self.details = TaskDetails::from_proto(&msg);
            }
            Event::TargetExited => self.connection = Connection::TargetExited,
            Event::NoConsole => {
                self.connection = Connection::RssOnly;
                self.instrumentation = Instrumentation::None;
            }
            Event::Rewind => {
                // Views cache by generation: it must keep rising across the reset.
                let generation = self.generation + 1;
                let (pid, playback) = (self.pid, self.playback.take());
                *self = Model::new(self.cfg.clone());
                (self.generation, self.pid, self.playback) = (generation, pid, playback);
            }
            Event::Playback(p) => self.playback = Some(p),
            Event::Endpoint(e) => self.endpoint = Some(e),
        }
    }

    /// A (re)connection. A different pid behind the endpoint means the target restarted: the
    /// old picture is of another process and is cleared.
    pub fn on_connected(&mut self, pid: Option<i32>) {
        if let (Some(old), Some(new)) = (self.pid, pid) {
            if old != new {
                self.reset_tasks();
                self.series.clear();
                self.last_rss = None;
                self.warnings
                    .add(WarningKind::TargetRestarted, 1, time::now());
            }
        }
        if pid.is_some() {
            self.pid = pid;
        }
        if self.instrumentation == Instrumentation::None {
            // RSS-only until now: the endpoint appeared.
            self.instrumentation = Instrumentation::Unknown;
        }
        self.connection = Connection::Connected;
        self.updates_this_connection = 0;
        self.dropped_events = 0;
    }

    fn reset_tasks(&mut self) {
        self.generation += 1;
        self.slots.clear();
        self.free.clear();
        self.by_console_id.clear();
        self.counts = Counts::default();
        self.metadata_fields.clear();
        self.lag = Lag::default();
        self.next_expiry = None;
    }

    /// Ingest one console `Update`.
    pub fn apply_update(&mut self, update: &proto::instrument::Update) {
        // The table changes only when tasks arrive, change or go: an empty update (a quiet
        // target) must not make every view re-sort.
        if update
            .task_update
            .as_ref()
            .is_some_and(|t| !t.new_tasks.is_empty() || !t.stats_update.is_empty())
        {
            self.generation += 1;
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
            }
            self.prune_done();
            return;
        };
        if first_of_connection {
            if !has_metadata {
                self.warnings.add(WarningKind::NoInitialState, 1, self.now);
            } else if self.updates > 1 {
                // A reconnect with a full picture: tasks we hold that it does not mention
                // ended while we were away.
                self.close_unmentioned(tasks);
            }
        }
        // Room for the new tasks at once, instead of doubling (and copying) on the way.
        let more = tasks.new_tasks.len().saturating_sub(self.free.len());
        let room = self.cfg.max_tasks.saturating_sub(self.len());
        self.slots.reserve(more.min(room));
        self.by_console_id.reserve(tasks.new_tasks.len().min(room));
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
    }

    fn track_lag(&mut self, tasks: &proto::tasks::TaskUpdate, first_of_connection: bool) {
        if self.lag.baseline_task_id.is_none() {
            if first_of_connection {
                self.lag.baseline_task_id = Some(self.lag.max_task_id);
            }
            return;
        }
        if first_of_connection || tasks.new_tasks.is_empty() {
            return;
        }
        // How old were the tasks announced now when they were announced?
        let oldest = tasks
            .new_tasks
            .iter()
            .filter_map(|t| t.id.as_ref().map(|i| i.id))
            .filter_map(|id| self.by_console_id.get(&id))
            .filter_map(|&slot| self.slots[slot as usize].as_ref())
            .filter(|t| t.stats.created_at != 0)
            .map(|t| u64::try_from(self.now.saturating_sub(t.stats.created_at)).unwrap_or(0))
            .max();
        if let Some(lag) = oldest {
            self.lag.last_announce_at = self.now;
            self.lag.last_announce_lag_ns = lag;
            self.lag.max_announce_lag_ns = self.lag.max_announce_lag_ns.max(lag);
        }
    }

    /// Record a procfs sample and add a point to the series.
    pub fn apply_rss(&mut self, sample: RssSample) {
        self.last_rss = Some(sample);
        let c = self.counts;
        self.series.push(Sample {
            at: sample.at,
            rss_bytes: sample.rss_bytes,
            anon_rss_bytes: sample.anon_rss_bytes,
            threads: sample.threads,
            running: c.running,
            scheduled: c.scheduled,
            idle: c.idle,
            live_tasks: c.live(),
            future_bytes: c.future_bytes,
        });
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
        let now = self.now;
        for slot in self.slots.iter_mut() {
            let Some(task) = slot else { continue };
            if !mentioned.contains(&task.console_id) {
                self.counts.retire(task, now);
                note_done(&mut self.next_expiry, task);
                self.generation += 1;
            }
        }
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
        let file = loc.file.as_deref().unwrap_or("<unknown>");
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
        if let Some(&slot) = self.by_console_id.get(&id) {
            if let Some(existing) = self.slots[slot as usize].as_mut() {
                let same = if existing.task_id.is_some() {
                    existing.task_id == fields.task_id
                } else {
                    existing.location == location && existing.stats.dropped_at == 0
                };
                if !existing.announced {
                    self.counts.remove(existing);
                    fill(existing);
                    self.counts.add(existing);
                    self.lag.note_announced(fields.task_id);
                    return;
                }
                if same {
                    return; // the same task sent again
                }
                // The subscriber reused this id: the task we had is gone.
                self.counts.retire(existing, self.now);
                note_done(&mut self.next_expiry, existing);
            }
        }
        let mut task = self.blank(id);
        fill(&mut task);
        self.insert(task);
        self.lag.note_announced(fields.task_id);
    }

    fn blank(&mut self, console_id: u64) -> Task {
        let uid = self.next_uid;
        self.next_uid += 1;
        Task {
            uid,
            console_id,
            task_id: None,
            name: Sym::NONE,
            location: Sym::NONE,
            kind: TaskKind::Task,
            announced: false,
            boxed: false,
            size_bytes: None,
            stats: TaskStats::default(),
        }
    }

    fn insert(&mut self, task: Task) {
        if self.len() >= self.cfg.max_tasks {
            self.warnings.add(WarningKind::TaskLimit, 1, self.now);
            return;
        }
        self.counts.add(&task);
        note_done(&mut self.next_expiry, &task);
        let id = task.console_id;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(task);
                slot
            }
            None => {
                self.slots.push(Some(task));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_console_id.insert(id, slot);
    }

    fn ingest_stats(&mut self, id: u64, msg: &proto::tasks::Stats) {
        let stats = convert_stats(msg);
        let slot = match self.by_console_id.get(&id) {
            Some(&slot) => {
                let reused = self.slots[slot as usize].as_ref().is_some_and(|t| {
                    t.stats.created_at != 0
                        && stats.created_at != 0
                        && t.stats.created_at != stats.created_at
                        && !t.announced
                });
                if reused {
                    // The subscriber reused this id: the placeholder we had is gone.
                    if let Some(old) = self.slots[slot as usize].as_mut() {
                        self.counts.retire(old, self.now);
                        note_done(&mut self.next_expiry, old);
                    }
                    None
                } else {
                    Some(slot)
                }
            }
            None => None,
        };
        match slot.and_then(|s| self.slots[s as usize].as_mut()) {
            Some(task) => {
                self.counts.remove(task);
                task.stats = stats;
                self.counts.add(task);
                note_done(&mut self.next_expiry, task);
            }
            None => {
                let horizon = self
                    .now
                    .saturating_sub(time::nanos_of(self.cfg.retain_done));
                if stats.dropped_at != 0 && stats.dropped_at < horizon {
                    // Final stats of a task we already let go after its retention: nothing
                    // is missing from the picture.
                    return;
                }
                self.warnings
                    .add(WarningKind::UnannouncedStats, 1, self.now);
                let mut task = self.blank(id);
                task.stats = stats;
                self.insert(task);
            }
        }
    }

    /// Drop done tasks older than the retention. A pass visits every slot, so it runs only when
    /// a done task may have expired: `next_expiry` is at most the oldest `dropped_at` of the done
    /// tasks (each pass sets it, each task that becomes done lowers it). With a million live
    /// tasks and one done, an update no longer costs a million visits.
    pub fn prune_done(&mut self) {
        if self.counts.done == 0 {
            self.next_expiry = None;
            return;
        }
        let horizon = self
            .now
            .saturating_sub(time::nanos_of(self.cfg.retain_done));
        if self.next_expiry.is_some_and(|t| t >= horizon) {
            return;
        }
        let mut oldest: Option<Nanos> = None;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let dropped_at = slot.as_ref().map_or(0, |t| t.stats.dropped_at);
            if dropped_at != 0 && dropped_at >= horizon {
                oldest = Some(oldest.map_or(dropped_at, |o| o.min(dropped_at)));
            }
            let expired = dropped_at != 0 && dropped_at < horizon;
            if expired {
                if let Some(task) = slot.take() {
                    self.counts.remove(&task);
                    if self.by_console_id.get(&task.console_id) == Some(&(i as u32)) {
                        self.by_console_id.remove(&task.console_id);
                    }
                    self.free.push(i as u32);
                    self.generation += 1;
                }
            }
        }
        self.next_expiry = oldest;
    }

    /// Tracked tasks (live and recently done), in no particular order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.slots.iter().flatten()
    }

    /// Tracked tasks with their slot, the cheapest handle to find a task again.
    pub fn slots(&self) -> impl Iterator<Item = (u32, &Task)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i as u32, t)))
    }

    /// The task in `slot`, if that slot still holds one.
    pub fn slot(&self, slot: u32) -> Option<&Task> {
        self.slots.get(slot as usize).and_then(|t| t.as_ref())
    }

    /// A change counter: it moves whenever the task table changes, so views can cache.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn task_by_uid(&self, uid: u64) -> Option<&Task> {
        self.tasks().find(|t| t.uid == uid)
    }

    /// Number of tracked tasks (live and retained done).
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The counts recomputed from scratch over every task: what `counts()` must always equal.
    pub fn recount(&self) -> Counts {
        let mut c = Counts::default();
        for t in self.tasks() {
            c.add(t);
        }
        c
    }

    pub fn resolve(&self, sym: Sym) -> &str {
        self.strings.resolve(sym)
    }

    /// Heap bytes the model holds for its tasks (slots, index, strings), for benchmarks.
    pub fn approx_heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Task>>()
            + self.free.capacity() * 4
            + self.by_console_id.capacity() * (8 + 4 + 1)
            + self.strings.heap_bytes()
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

#[cfg(test)]
pub(crate) mod synth;
#[cfg(test)]
mod tests;
