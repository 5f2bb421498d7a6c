//! What the store holds per task: the fixed-size record and its change flags, the copy a tick
//! takes of a changed record, and the histograms of a watched task.

use hdrhistogram::Histogram;

/// Flag bits of a record.
pub(crate) const DIRTY: u8 = 1;
/// Not yet announced to watchers as a new task.
pub(crate) const NEW: u8 = 2;
/// Someone watches this task's details: record its histograms.
pub(crate) const WATCHED: u8 = 4;

/// One task, in a fixed 128-byte record. Times are nanoseconds since the store's base instant
/// plus one, 0 meaning "never". Counters saturate at `u32::MAX`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TaskRecord {
    /// The task's console id (never reused); 0 marks a free slot.
    pub id: u64,
    /// tokio's own task id (the span field `task.id`).
    pub tokio_id: u64,
    pub created: u64,
    pub dropped: u64,
    pub first_poll: u64,
    pub last_poll_started: u64,
    pub last_poll_ended: u64,
    pub last_wake: u64,
    pub busy_ns: u64,
    pub scheduled_ns: u64,
    /// Interned spawn site: callsite, kind, location, `fn` (see [`Site`]).
    pub site: u32,
    /// Interned `task.name` (0 = unnamed).
    pub name: u32,
    /// `size.bytes`, saturated at `u32::MAX`.
    pub size_bytes: u32,
    /// `original_size.bytes`, or `u32::MAX` when tokio did not box the future.
    pub original_size_bytes: u32,
    pub polls: u32,
    pub wakes: u32,
    pub waker_clones: u32,
    pub waker_drops: u32,
    pub self_wakes: u32,
    /// Handles to the task's span, when the probe's own subscriber counts them.
    pub refs: u32,
    /// The task's slot in the heap counters (0: none, no allocator in use), see
    /// [`crate::heap`].
    pub heap_slot: u32,
    pub flags: u8,
}

impl TaskRecord {
    pub fn is_free(&self) -> bool {
        self.id == 0
    }
}

/// A changed record taken at a tick, and whether it had not been announced before.
pub(crate) struct Taken {
    pub rec: TaskRecord,
    pub was_new: bool,
}

/// Poll-time and scheduled-time histograms of a task someone watches.
pub(crate) struct Details {
    pub poll: Histo,
    pub scheduled: Histo,
}

pub(crate) struct Histo {
    pub hist: Histogram<u64>,
    pub max: u64,
    pub outliers: u64,
    pub max_outlier: Option<u64>,
}

impl Histo {
    pub(super) fn new(max: u64) -> Option<Self> {
        Histogram::new_with_bounds(1, max, 2)
            .ok()
            .map(|hist| Histo {
                hist,
                max,
                outliers: 0,
                max_outlier: None,
            })
    }

    pub fn record(&mut self, ns: u64) {
        let v = if ns > self.max {
            self.outliers += 1;
            self.max_outlier = Some(self.max_outlier.map_or(ns, |m| m.max(ns)));
            self.max
        } else {
            ns.max(1)
        };
        let _ = self.hist.record(v);
    }
}

/// The longest poll or scheduling delay a details histogram resolves (longer ones are clamped
/// and counted as outliers), as console-subscriber does.
pub(super) const HISTOGRAM_MAX_NS: u64 = 1_000_000_000;
