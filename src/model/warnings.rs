//! What the model noticed about the picture it was given: incomplete, late, lossy or odd input.
//! One entry per kind with a count, so the list stays small whatever the target sends.

use super::time::Nanos;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WarningKind {
    /// The first update of a connection carried no metadata: the subscriber sent no initial
    /// state (console-subscriber caps its first message at 4 MiB, ~12k live tasks).
    NoInitialState,
    /// Stats arrived for console ids never announced as tasks.
    UnannouncedStats,
    /// The subscriber dropped events (its `dropped_events` counter rose).
    DroppedEvents,
    /// Announced tasks without `size.bytes`: the target cannot report future sizes.
    SizesUnknown,
    /// A message part without the ids it needs was skipped.
    Malformed,
    /// More tasks than `--max-tasks`: further tasks are not tracked.
    TaskLimit,
    /// More distinct names or locations than the interner keeps.
    StringLimit,
    /// The process behind the endpoint changed: the picture was reset.
    TargetRestarted,
    /// The target offers heap figures but its heap stream could not be read.
    HeapStreamFailed,
}

impl WarningKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::NoInitialState => "no_initial_state",
            WarningKind::UnannouncedStats => "unannounced_stats",
            WarningKind::DroppedEvents => "dropped_events",
            WarningKind::SizesUnknown => "sizes_unknown",
            WarningKind::Malformed => "malformed",
            WarningKind::TaskLimit => "task_limit",
            WarningKind::StringLimit => "string_limit",
            WarningKind::TargetRestarted => "target_restarted",
            WarningKind::HeapStreamFailed => "heap_stream_failed",
        }
    }

    fn explain(self, count: u64) -> String {
        match self {
            WarningKind::NoInitialState => "the subscriber sent no initial state on attach (over its 4 MiB first-message cap, ~12k live tasks): tasks that existed before attaching are missing".to_string(),
            WarningKind::UnannouncedStats => format!("stats for {count} task ids that were never announced (late attach or lost messages): their names, locations and sizes are unknown"),
            WarningKind::DroppedEvents => format!("the subscriber dropped {count} events: its picture is incomplete"),
            WarningKind::SizesUnknown => format!("{count} tasks without future size: the target needs tokio >= 1.41 built with --cfg tokio_unstable and the `tracing` feature"),
            WarningKind::Malformed => format!("{count} malformed message parts skipped (missing ids)"),
            WarningKind::TaskLimit => format!("{count} tasks not tracked: over --max-tasks"),
            WarningKind::StringLimit => format!("{count} names or locations over the interner's limit, shown as one bucket"),
            WarningKind::TargetRestarted => format!("the target restarted {count} time(s): the picture was reset"),
            WarningKind::HeapStreamFailed => format!("the target's heap stream failed {count} time(s): the heap tasks hold is unknown (a message over --max-message-size? raise it)"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub count: u64,
    pub first_at: Nanos,
    pub last_at: Nanos,
}

impl Warning {
    pub fn message(&self) -> String {
        self.kind.explain(self.count)
    }
}

#[derive(Debug, Default)]
pub struct Warnings {
    list: Vec<Warning>,
}

impl Warnings {
    /// Count `n` more occurrences of `kind` at time `at`.
    pub fn add(&mut self, kind: WarningKind, n: u64, at: Nanos) {
        if n == 0 {
            return;
        }
        match self.list.iter_mut().find(|w| w.kind == kind) {
            Some(w) => {
                w.count = w.count.saturating_add(n);
                w.last_at = at;
            }
            None => self.list.push(Warning {
                kind,
                count: n,
                first_at: at,
                last_at: at,
            }),
        }
    }

    /// Set the count of `kind` to `n` (for counters the target keeps itself).
    pub fn set(&mut self, kind: WarningKind, n: u64, at: Nanos) {
        let current = self.get(kind).map_or(0, |w| w.count);
        if n > current {
            self.add(kind, n - current, at);
        }
    }

    pub fn get(&self, kind: WarningKind) -> Option<&Warning> {
        self.list.iter().find(|w| w.kind == kind)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Warning> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
