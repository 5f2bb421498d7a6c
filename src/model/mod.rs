//! The model: plain Rust, no terminal. It ingests console-api `Update`s and procfs samples and
//! keeps the task table, the state counts, the time series and the warnings that the TUI and
//! every headless command read.

mod by_location;
pub mod cost;
mod counts;
pub mod details;
mod events;
pub mod heap;
mod ingest;
pub mod intern;
mod lag;
pub mod location_series;
pub mod series;
mod table;
pub mod task;
pub mod time;
pub mod warnings;

use std::collections::HashMap;
use std::time::Duration;

pub use by_location::{ByLocation, LocationLive};
pub use counts::Counts;
pub use details::TaskDetails;
pub use events::{Connection, DumpTaken, Event, Instrumentation, Playback, TaskDump};
pub use heap::{Heap, HeapBytes, HeapEvent, LocationHeap};
pub use ingest::MAX_FUTURE_BYTES;
pub use intern::{Interner, Sym};
pub use lag::{Lag, ANNOUNCE_QUIET_NS, LATE_ANNOUNCE_NS, WATCHER_ID_RUN};
pub use location_series::{LocationHistory, LocationSeries, DEFAULT_TRACKED_LOCATIONS};
pub use series::{RssSample, Sample, Series};
pub use task::{Task, TaskKind, TaskState, TaskStats};
pub use time::Nanos;
pub use warnings::{Warning, WarningKind, Warnings};

use ingest::LineCol;
use table::Table;

// The synthetic builders (`synth`, `use super::*`) name the protocol through these.
#[cfg(test)]
use console_api as proto;
#[cfg(test)]
use proto::field::{Name, Value};

/// How long done tasks stay visible by default (`--retain`).
pub const DEFAULT_RETAIN_DONE: Duration = Duration::from_secs(6);

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
    /// Spawn locations with a history of their own (the top K by peak live tasks); the
    /// others are summed into "other".
    pub tracked_locations: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            retain_done: DEFAULT_RETAIN_DONE,
            series_window: Duration::from_secs(30 * 60),
            max_samples: 100_000,
            max_tasks: 5_000_000,
            max_strings: 100_000,
            max_metadata: 100_000,
            tracked_locations: DEFAULT_TRACKED_LOCATIONS,
        }
    }
}

/// What the current connection's first picture is known to hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InitialState {
    /// The instrumentation promised to mark the end of its initial state (asyncmem-probe).
    pub marker_promised: bool,
    /// The end-of-initial-state marker arrived.
    pub marker_seen: bool,
    /// The first update carried no initial state (console-subscriber over its 4 MiB cap).
    pub missing: bool,
}

/// Target of the metadata entry asyncmem-probe registers in the last chunk of a watcher's
/// initial state (`probe/src/server/encode.rs`: `INITIAL_STATE_TARGET`).
pub const PROBE_INITIAL_STATE_TARGET: &str = "asyncmem_probe::initial_state";
/// Field of the probe's own entry that promises that marker (`MARKS_INITIAL_STATE_FIELD`).
pub const PROBE_MARKS_INITIAL_STATE: &str = "initial_state_marker";
/// Target of asyncmem-probe's own metadata entry (`probe/src/server/encode.rs`), whose field
/// names say what the probe serves beside the console protocol.
pub const PROBE_TARGET: &str = "asyncmem_probe";

/// Whether `md` is asyncmem-probe's own entry and lists `field`.
pub fn probe_lists(md: &console_api::Metadata, field: &str) -> bool {
    md.target == PROBE_TARGET && md.field_names.iter().any(|f| f == field)
}

pub struct Model {
    cfg: ModelConfig,
    table: Table,
    strings: Interner,
    /// Location symbols by file, then (line, column): thousands of tasks share a few spawn
    /// sites, so the `file:line:col` string is formatted once per site. Bounded with the interner.
    locations: HashMap<Box<str>, HashMap<LineCol, Sym>>,
    /// Field names of callsites, for fields that name themselves by index.
    metadata_fields: HashMap<u64, Vec<Sym>>,
    series: Series,
    /// Per-location history on the series' time axis.
    location_series: LocationSeries,
    warnings: Warnings,
    /// `Update.now` of the latest update (target's clock); 0 before the first.
    now: Nanos,
    last_rss: Option<RssSample>,
    connection: Connection,
    pid: Option<i32>,
    paused: bool,
    /// Histograms of the watched task, if any.
    details: Option<TaskDetails>,
    lag: Lag,
    instrumentation: Instrumentation,
    /// Updates received, in all and on the current connection.
    updates: u64,
    updates_this_connection: u64,
    /// What the current connection's first picture holds.
    initial_state: InitialState,
    dropped_events: u64,
    /// Set when the events come from a recording.
    playback: Option<Playback>,
    /// The console endpoint, when it was found after the session started.
    endpoint: Option<String>,
    /// Tasks the target says it holds and its RSS before them (RSS-only mode).
    reported: Option<(u64, Option<u64>)>,
    /// The last task dump (`d` in `top`).
    dump: Option<DumpTaken>,
    /// The heap tasks hold, when the target's probe counts it (a side map: none without).
    heap: Heap,
}

impl Default for Model {
    fn default() -> Self {
        Model::new(ModelConfig::default())
    }
}

impl Model {
    /// The target's pid, when known: set once before any event ([`Model::set_pid`]), then
    /// changed only by a reconnection to another process.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// The pid of the target the events will come from (a session's, a recording's).
    pub fn set_pid(&mut self, pid: Option<i32>) {
        self.pid = pid;
    }

    /// Histograms of the watched task, if any arrived.
    pub fn details(&self) -> Option<&TaskDetails> {
        self.details.as_ref()
    }

    /// The last task dump, if one was asked for.
    pub fn dump(&self) -> Option<&DumpTaken> {
        self.dump.as_ref()
    }

    /// Forget the watched task's histograms (the view closed, or watches another task).
    pub fn clear_details(&mut self) {
        self.details = None;
    }

    /// RSS and task counts over time.
    pub fn series(&self) -> &Series {
        &self.series
    }

    /// Live tasks and future bytes per spawn location over time (the top K, and "other"), on
    /// the times of [`Model::series`].
    pub fn location_series(&self) -> &LocationSeries {
        &self.location_series
    }

    /// Live tasks and future bytes per spawn location now.
    pub fn by_location(&self) -> &ByLocation {
        self.table.by_location()
    }

    /// What went wrong or was capped while ingesting, counted by kind.
    pub fn warnings(&self) -> &Warnings {
        &self.warnings
    }

    /// `Update.now` of the latest update (target's clock); 0 before the first.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// The latest procfs sample, if one arrived.
    pub fn last_rss(&self) -> Option<RssSample> {
        self.last_rss
    }

    /// The state of the console connection.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Whether the target's console says it is paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// How late the console announces tasks, and how many it never announced.
    pub fn lag(&self) -> &Lag {
        &self.lag
    }

    /// What instruments the target (probe, console-subscriber, none), as far as known.
    pub fn instrumentation(&self) -> Instrumentation {
        self.instrumentation
    }

    /// Console updates received, over all connections.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// What the current connection's first picture holds.
    pub fn initial_state(&self) -> InitialState {
        self.initial_state
    }

    /// Where a replay stands, when the events come from a recording.
    pub fn playback(&self) -> Option<&Playback> {
        self.playback.as_ref()
    }

    /// The console endpoint, when it was found after the session started.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The task count the target reports (a demo's `tasks=N`) and its RSS before those tasks.
    pub fn reported_tasks(&self) -> Option<(u64, Option<u64>)> {
        self.reported
    }

    pub fn new(cfg: ModelConfig) -> Self {
        let window = time::nanos_of(cfg.series_window);
        Model {
            series: Series::new(window, cfg.max_samples),
            location_series: LocationSeries::new(cfg.tracked_locations, window, cfg.max_samples),
            strings: Interner::new(cfg.max_strings),
            table: Table::new(cfg.max_tasks),
            cfg,
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
            initial_state: InitialState::default(),
            dropped_events: 0,
            playback: None,
            endpoint: None,
            reported: None,
            dump: None,
            heap: Heap::default(),
        }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Apply one event from a source.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Update(update) => self.apply_update(&update),
            Event::NotTracked(n) => self.warnings.add(WarningKind::TaskLimit, n, self.now),
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
                let table = self.table.rewound();
                let (pid, playback) = (self.pid, self.playback.take());
                *self = Model {
                    table,
                    pid,
                    playback,
                    ..Model::new(self.cfg.clone())
                };
            }
            Event::Playback(p) => self.playback = Some(p),
            Event::Endpoint(e) => self.endpoint = Some(e),
            Event::TasksReported {
                tasks,
                baseline_rss_bytes,
            } => self.reported = Some((tasks, baseline_rss_bytes)),
            Event::Heap(heap) => self.apply_heap(*heap),
            Event::Dump(outcome) => {
                let seq = self.dump.as_ref().map_or(1, |d| d.seq + 1);
                self.dump = Some(DumpTaken {
                    at: self.now,
                    seq,
                    outcome: *outcome,
                });
            }
        }
    }

    /// A (re)connection. A different pid behind the endpoint means the target restarted: the
    /// old picture is of another process and is cleared.
    pub fn on_connected(&mut self, pid: Option<i32>) {
        if let (Some(old), Some(new)) = (self.pid, pid) {
            if old != new {
                self.reset_tasks();
                self.series.clear();
                self.location_series.clear();
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
        // The heap stream starts anew with the connection (its first message is a full picture).
        self.heap = Heap::default();
        self.updates_this_connection = 0;
        self.initial_state = InitialState::default();
        self.dropped_events = 0;
    }

    fn reset_tasks(&mut self) {
        self.table.clear();
        self.metadata_fields.clear();
        self.lag = Lag::default();
    }

    /// Whether the task table holds the target's first full picture of this connection: an
    /// update arrived and, if the instrumentation marks the end of its initial state, the
    /// marker too. Before it the task count is not the target's.
    pub fn has_picture(&self) -> bool {
        self.updates_this_connection > 0
            && (!self.initial_state.marker_promised || self.initial_state.marker_seen)
    }

    /// Why the picture is not (yet) complete, or `None` when it is: no update yet, a probe's
    /// initial state still arriving, no initial state at all, a subscriber still announcing
    /// tasks that already existed, or tokio ids never announced.
    pub fn incomplete_reason(&self) -> Option<String> {
        if self.connection == Connection::RssOnly {
            return None;
        }
        if self.updates == 0 {
            return Some("no console update arrived yet".into());
        }
        if self.initial_state.missing {
            return Some("the subscriber sent no initial state on attach (over its 4 MiB first-message cap, ~12k live tasks): tasks that existed before attaching are missing".into());
        }
        if self.initial_state.marker_promised && !self.initial_state.marker_seen {
            return Some(format!(
                "the probe's initial state is still arriving ({} tasks so far)",
                self.counts().live()
            ));
        }
        if self.heap.advertised() && !self.heap.known() && self.heap.failed().is_none() {
            return Some("the heap stream's first figures have not arrived yet".into());
        }
        if self.instrumentation == Instrumentation::ConsoleSubscriber {
            if self.updates_this_connection < 2 && self.connection == Connection::Connected {
                return Some("one update so far: whether the subscriber is still announcing tasks shows in the next".into());
            }
            if self.lag.still_announcing(self.now) {
                return Some(format!(
                    "the subscriber is still announcing tasks that already existed (the latest {} after its spawn)",
                    present_ns(self.lag.last_announce_lag_ns)
                ));
            }
        }
        if let Some(missing) = self.lag.missing_estimate().filter(|m| *m > 0) {
            return Some(format!("≈{missing} tokio task ids were never announced"));
        }
        None
    }

    /// Record a procfs sample and add a point to the series, once the task table holds a
    /// picture (or there is no console to wait for): a point before it would pair the full
    /// RSS with a task count of 0 and draw a ramp that never happened.
    pub fn apply_rss(&mut self, sample: RssSample) {
        self.last_rss = Some(sample);
        let rss_only = self.connection == Connection::RssOnly;
        if !rss_only && !self.has_picture() {
            return;
        }
        let c = self.table.counts();
        let pushed = self.series.push(Sample {
            at: sample.at,
            rss_bytes: sample.rss_bytes,
            anon_rss_bytes: sample.anon_rss_bytes,
            threads: sample.threads,
            running: c.running,
            scheduled: c.scheduled,
            idle: c.idle,
            live_tasks: c.live(),
            future_bytes: c.future_bytes,
            cell_bytes: c.cell_bytes,
            heap_bytes: self.heap.live().map(|h| h.bytes),
            boxed_bytes: c.boxed_bytes,
        });
        if pushed {
            let total = LocationLive {
                live_tasks: c.live(),
                future_bytes: c.future_bytes,
            };
            self.location_series
                .push(sample.at, self.table.by_location(), total);
        }
    }

    /// Drop done tasks older than the retention (a pass over the table runs only when one may
    /// have expired).
    pub fn prune_done(&mut self) {
        let horizon = self
            .now
            .saturating_sub(time::nanos_of(self.cfg.retain_done));
        self.table.prune_done(horizon);
    }

    /// Tracked tasks (live and recently done), in no particular order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.table.tasks()
    }

    /// Tracked tasks with their slot, the cheapest handle to find a task again.
    pub fn slots(&self) -> impl Iterator<Item = (u32, &Task)> {
        self.table.slots()
    }

    /// The task in `slot`, if that slot still holds one.
    pub fn slot(&self, slot: u32) -> Option<&Task> {
        self.table.slot(slot)
    }

    /// A change counter: it moves whenever the task table changes, so views can cache.
    pub fn generation(&self) -> u64 {
        self.table.generation()
    }

    pub fn task_by_uid(&self, uid: u64) -> Option<&Task> {
        self.tasks().find(|t| t.uid == uid)
    }

    /// Number of tracked tasks (live and retained done).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn counts(&self) -> Counts {
        self.table.counts()
    }

    /// The counts recomputed from scratch over every task: what `counts()` must always equal.
    pub fn recount(&self) -> Counts {
        let mut c = Counts::default();
        for t in self.tasks() {
            c.add(t);
        }
        c
    }

    /// [`Model::by_location`] as a list sorted by symbol, to compare with
    /// [`Model::regroup_by_location`].
    pub fn by_location_sorted(&self) -> Vec<(Sym, LocationLive)> {
        let mut v: Vec<_> = self.by_location().iter().collect();
        v.sort_unstable_by_key(|(s, _)| *s);
        v
    }

    /// The live tasks grouped by location from scratch: what `by_location` must always equal.
    pub fn regroup_by_location(&self) -> Vec<(Sym, LocationLive)> {
        let mut map: HashMap<Sym, LocationLive> = HashMap::new();
        for t in self.tasks().filter(|t| t.state() != TaskState::Done) {
            let l = map.entry(t.location).or_default();
            l.live_tasks += 1;
            l.future_bytes = l.future_bytes.wrapping_add(t.size_bytes.unwrap_or(0));
        }
        let mut v: Vec<_> = map.into_iter().collect();
        v.sort_unstable_by_key(|(s, _)| *s);
        v
    }

    pub fn resolve(&self, sym: Sym) -> &str {
        self.strings.resolve(sym)
    }

    /// Heap bytes the model holds for its tasks (slots, index, strings), for benchmarks.
    pub fn approx_heap_bytes(&self) -> usize {
        self.table.heap_bytes()
            + self.strings.heap_bytes()
            + self.location_series.heap_bytes()
            + self.heap.heap_bytes()
    }
}

/// For unit tests of what is computed from the model (`insight`): they stage a series, a lag and
/// an instrumentation by hand instead of through a stream of events.
#[cfg(test)]
impl Model {
    pub(crate) fn set_instrumentation(&mut self, instrumentation: Instrumentation) {
        self.instrumentation = instrumentation;
    }

    pub(crate) fn series_mut(&mut self) -> &mut Series {
        &mut self.series
    }

    pub(crate) fn lag_mut(&mut self) -> &mut Lag {
        &mut self.lag
    }
}

/// Nanoseconds as seconds with one decimal ("3.0 s").
fn present_ns(ns: u64) -> String {
    format!("{:.1} s", ns as f64 / 1e9)
}

#[cfg(test)]
pub(crate) mod synth;
#[cfg(test)]
mod tests;
