//! The heap each task holds, as asyncmem-probe's allocator counts it (the probe's
//! `asyncmem.probe.Heap/WatchHeap` stream): a side map by console id, so that a target without
//! the allocator, and every task that holds nothing, costs nothing here; the process's heap held
//! by no task; and the sums over live tasks and per spawn location, recomputed when the tasks or
//! the figures change. Unknown is `None`, never 0: a console-subscriber target, or a probe
//! without the allocator, has no heap figures at all.

use std::collections::HashMap;

pub use asyncmem_probe::wire::{HeapFigures, HeapUpdate};

use super::intern::Sym;
use super::task::Task;
use super::time::{self, Nanos};
use super::warnings::WarningKind;
use super::Model;

/// What the heap stream told the model.
#[derive(Clone, Debug, PartialEq)]
pub enum HeapEvent {
    /// Figures of one message; `full` on the first message of a watch: the target's whole
    /// picture starts there (a live task it does not list holds nothing).
    Figures { full: bool, update: HeapUpdate },
    /// The stream could not be read (why): the heap stays unknown.
    Failed(String),
}

/// Live heap of one task, or of a part of the process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HeapBytes {
    /// Bytes of the live blocks.
    pub bytes: u64,
    /// Live blocks (allocations not freed yet).
    pub blocks: u64,
    /// Most bytes held at once since the task's spawn (the probe's peak).
    pub peak_bytes: u64,
}

impl From<HeapFigures> for HeapBytes {
    fn from(f: HeapFigures) -> Self {
        HeapBytes {
            bytes: f.live_bytes,
            blocks: f.live_allocs,
            peak_bytes: f.peak_bytes,
        }
    }
}

/// The heap of one spawn location's live tasks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LocationHeap {
    /// Sum over its live tasks.
    pub bytes: u64,
    /// The most one of its live tasks holds.
    pub max_bytes: u64,
    /// Its live tasks holding any heap.
    pub holding_tasks: u64,
}

/// A task's figures and when (the target's clock) they were reported: they are the task's only
/// if it was created before that, since console ids are reused.
#[derive(Clone, Copy, Debug)]
struct Entry {
    at: Nanos,
    heap: HeapBytes,
}

/// The heap picture of the current connection.
#[derive(Debug, Default)]
pub struct Heap {
    /// The target's probe lists the field `heap_stream` in its metadata entry.
    advertised: bool,
    /// A full picture arrived on this connection: figures are known from here on.
    known: bool,
    /// Why the stream could not be read, if it could not.
    failed: Option<String>,
    /// By console id: the tasks that hold or held heap.
    tasks: HashMap<u64, Entry>,
    outside_tasks: Option<HeapBytes>,
    left_by_ended_tasks: Option<HeapBytes>,
    /// Sums over live tasks at the last refresh.
    live: HeapBytes,
    /// Live tasks holding any heap at the last refresh.
    holding_tasks: u64,
    by_location: HashMap<Sym, LocationHeap>,
    /// Stream messages received.
    updates: u64,
}

impl Heap {
    /// Whether the target offers heap figures (its probe counts heap per task).
    pub fn advertised(&self) -> bool {
        self.advertised
    }

    /// Whether heap figures are known: the stream's first picture arrived.
    pub fn known(&self) -> bool {
        self.known
    }

    /// Why the heap stream could not be read, if it could not.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Heap stream messages received on this connection.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The heap held by live tasks (`None`: unknown).
    pub fn live(&self) -> Option<HeapBytes> {
        self.known.then_some(self.live)
    }

    /// Live tasks holding any heap (`None`: unknown).
    pub fn holding_tasks(&self) -> Option<u64> {
        self.known.then_some(self.holding_tasks)
    }

    /// Heap allocated outside any poll and still live (the runtime's, the main thread's).
    pub fn outside_tasks(&self) -> Option<HeapBytes> {
        self.outside_tasks.filter(|_| self.known)
    }

    /// Heap allocated by tasks that have ended, still live.
    pub fn left_by_ended_tasks(&self) -> Option<HeapBytes> {
        self.left_by_ended_tasks.filter(|_| self.known)
    }

    /// The heap of `location`'s live tasks (`None`: unknown; zero when it holds none).
    pub fn location(&self, location: Sym) -> Option<LocationHeap> {
        self.known
            .then(|| self.by_location.get(&location).copied().unwrap_or_default())
    }

    /// The heap `t` holds: `None` when unknown (no stream, or the task is done: what it left
    /// is in [`Heap::left_by_ended_tasks`]); zero for a live task the stream never listed.
    pub fn of(&self, t: &Task) -> Option<HeapBytes> {
        if !self.known || t.stats.dropped_at != 0 {
            return None;
        }
        Some(self.entry(t).unwrap_or_default())
    }

    fn entry(&self, t: &Task) -> Option<HeapBytes> {
        self.tasks
            .get(&t.console_id)
            .filter(|e| e.at >= t.stats.created_at)
            .map(|e| e.heap)
    }

    /// Heap bytes of the side map, for benchmarks.
    pub fn heap_bytes(&self) -> usize {
        self.tasks.capacity() * (std::mem::size_of::<(u64, Entry)>() + 1)
            + self.by_location.capacity() * (std::mem::size_of::<(Sym, LocationHeap)>() + 1)
    }

    /// Apply one message; the task entries refused over `max_tasks`.
    fn apply(&mut self, full: bool, update: &HeapUpdate, max_tasks: usize) -> u64 {
        let at = update.now.as_ref().map_or(0, time::from_timestamp);
        if full {
            self.tasks.clear();
            self.known = true;
            self.failed = None;
        }
        self.updates += 1;
        let mut refused = 0;
        for t in &update.tasks {
            let heap = HeapBytes::from(t.heap.unwrap_or_default());
            if self.tasks.len() >= max_tasks && !self.tasks.contains_key(&t.id) {
                refused += 1;
                continue;
            }
            self.tasks.insert(t.id, Entry { at, heap });
        }
        if let Some(f) = update.outside_tasks {
            self.outside_tasks = Some(f.into());
        }
        if let Some(f) = update.left_by_ended_tasks {
            self.left_by_ended_tasks = Some(f.into());
        }
        refused
    }
}

impl Model {
    /// The heap the tasks hold, as far as the target counts it.
    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// The heap `t` holds (see [`Heap::of`]).
    pub fn heap_of(&self, t: &Task) -> Option<HeapBytes> {
        self.heap.of(t)
    }

    /// Apply a heap stream event.
    pub(super) fn apply_heap(&mut self, event: HeapEvent) {
        match event {
            HeapEvent::Figures { full, update } => {
                if let Some(now) = &update.now {
                    self.now = self.now.max(time::from_timestamp(now));
                }
                let refused = self.heap.apply(full, &update, self.cfg.max_tasks);
                self.warnings.add(WarningKind::TaskLimit, refused, self.now);
                self.table.touch();
                self.refresh_heap();
            }
            // Figures that stopped coming are not shown as current: the heap is unknown from
            // here on, and a warning says so.
            HeapEvent::Failed(why) => {
                self.heap = Heap {
                    advertised: self.heap.advertised,
                    failed: Some(why),
                    ..Heap::default()
                };
                self.warnings
                    .add(WarningKind::HeapStreamFailed, 1, self.now);
            }
        }
    }

    /// The target's metadata lists the heap stream.
    pub(super) fn heap_advertised(&mut self) {
        self.heap.advertised = true;
    }

    /// Recompute the sums over live tasks and per location, and forget figures no task can
    /// claim any more (their task ended, or was never announced within the retention). A pass
    /// over the side map: only with a heap stream, only after the tasks or the figures changed.
    pub(super) fn refresh_heap(&mut self) {
        if !self.heap.known {
            return;
        }
        let horizon = self
            .now
            .saturating_sub(time::nanos_of(self.cfg.retain_done));
        let table = &self.table;
        let mut live = HeapBytes::default();
        let mut holding = 0;
        let mut by_location: HashMap<Sym, LocationHeap> = HashMap::new();
        self.heap
            .tasks
            .retain(|&id, e| match table.by_console_id(id) {
                Some(t) if t.stats.dropped_at == 0 && e.at >= t.stats.created_at => {
                    let h = e.heap;
                    live.bytes = live.bytes.saturating_add(h.bytes);
                    live.blocks = live.blocks.saturating_add(h.blocks);
                    live.peak_bytes = live.peak_bytes.max(h.peak_bytes);
                    if h.bytes > 0 {
                        holding += 1;
                        let l = by_location.entry(t.location).or_default();
                        l.bytes = l.bytes.saturating_add(h.bytes);
                        l.max_bytes = l.max_bytes.max(h.bytes);
                        l.holding_tasks += 1;
                    }
                    true
                }
                // Not (yet) a live task's: kept for the retention, in case its task is announced
                // after its figures (two streams, two orders).
                _ => e.at >= horizon,
            });
        self.heap.live = live;
        self.heap.holding_tasks = holding;
        self.heap.by_location = by_location;
    }
}

/// For tests: a heap message at `now` (ns) of tasks `(console id, bytes)` in one block each,
/// `outside` bytes held by no task.
#[cfg(test)]
pub(crate) fn synth_event(
    now: i64,
    full: bool,
    tasks: &[(u64, u64)],
    outside: u64,
) -> super::Event {
    let f = |b| HeapFigures {
        live_bytes: b,
        live_allocs: 1,
        peak_bytes: b,
    };
    super::Event::Heap(Box::new(HeapEvent::Figures {
        full,
        update: HeapUpdate {
            now: asyncmem_testkit::stamp(now),
            tasks: tasks
                .iter()
                .map(|&(id, b)| asyncmem_probe::wire::TaskHeap {
                    id,
                    heap: Some(f(b)),
                })
                .collect(),
            outside_tasks: Some(f(outside)),
            left_by_ended_tasks: Some(f(0)),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synth::*;
    use crate::model::{Event, TaskState};
    use asyncmem_probe::wire::TaskHeap;

    fn figures(bytes: u64, blocks: u64) -> HeapFigures {
        HeapFigures {
            live_bytes: bytes,
            live_allocs: blocks,
            peak_bytes: bytes,
        }
    }

    /// A heap message at `now` with `(console id, bytes, blocks)`.
    fn heap(now: i64, full: bool, tasks: &[(u64, u64, u64)]) -> Event {
        Event::Heap(Box::new(HeapEvent::Figures {
            full,
            update: HeapUpdate {
                now: stamp(now),
                tasks: tasks
                    .iter()
                    .map(|&(id, b, n)| TaskHeap {
                        id,
                        heap: Some(figures(b, n)),
                    })
                    .collect(),
                outside_tasks: Some(figures(1000, 3)),
                left_by_ended_tasks: Some(figures(0, 0)),
            },
        }))
    }

    fn three_tasks() -> Model {
        let mut m = Model::default();
        m.apply_update(&update(
            SEC,
            true,
            vec![at_line(1, 64, 10), at_line(2, 64, 10), at_line(3, 64, 20)],
            vec![(1, stats(SEC)), (2, stats(SEC)), (3, stats(SEC))],
        ));
        m
    }

    fn bytes_of(m: &Model, id: u64) -> Option<u64> {
        let t = m.tasks().find(|t| t.console_id == id)?;
        m.heap_of(t).map(|h| h.bytes)
    }

    #[test]
    fn unknown_without_a_stream_never_zero() {
        let m = three_tasks();
        assert_eq!(bytes_of(&m, 1), None);
        assert_eq!(m.heap().live(), None);
        assert_eq!(m.heap().outside_tasks(), None);
        assert_eq!(m.heap().location(Sym::NONE), None);
    }

    #[test]
    fn figures_per_task_sums_and_locations() {
        let mut m = three_tasks();
        m.apply(heap(2 * SEC, true, &[(1, 16_384, 1), (3, 200, 2)]));
        assert_eq!(bytes_of(&m, 1), Some(16_384));
        assert_eq!(
            bytes_of(&m, 2),
            Some(0),
            "a live task not listed holds none"
        );
        assert_eq!(bytes_of(&m, 3), Some(200));
        let live = m.heap().live().unwrap_or_default();
        assert_eq!((live.bytes, live.blocks), (16_584, 3));
        assert_eq!(m.heap().holding_tasks(), Some(2));
        assert_eq!(m.heap().outside_tasks().map(|h| h.bytes), Some(1000));
        let line10 = m.tasks().find(|t| t.console_id == 1).map(|t| t.location);
        let l = m.heap().location(line10.unwrap_or(Sym::NONE));
        assert_eq!(
            l,
            Some(LocationHeap {
                bytes: 16_384,
                max_bytes: 16_384,
                holding_tasks: 1
            })
        );
        // A delta moves one task, leaves the others.
        m.apply(heap(3 * SEC, false, &[(1, 0, 0)]));
        assert_eq!(bytes_of(&m, 1), Some(0));
        assert_eq!(bytes_of(&m, 3), Some(200));
        assert_eq!(m.heap().live().map(|h| h.bytes), Some(200));
        // A new full picture starts over: what it does not list holds none.
        m.apply(heap(4 * SEC, true, &[(2, 50, 1)]));
        assert_eq!(
            (bytes_of(&m, 1), bytes_of(&m, 2), bytes_of(&m, 3)),
            (Some(0), Some(50), Some(0))
        );
    }

    #[test]
    fn a_done_task_holds_none_and_a_reused_id_starts_empty() {
        let mut m = three_tasks();
        m.apply(heap(2 * SEC, true, &[(1, 4096, 1)]));
        m.apply_update(&update(
            3 * SEC,
            false,
            vec![],
            dropped([1].into_iter(), SEC, 3 * SEC),
        ));
        let done = m.tasks().find(|t| t.console_id == 1).map(|t| t.state());
        assert_eq!(done, Some(TaskState::Done));
        assert_eq!(bytes_of(&m, 1), None, "done: what it left is the process's");
        assert_eq!(m.heap().live().map(|h| h.bytes), Some(0));
        // Console id 1 reused by a task created after the figures: they are not its.
        let mut reused = ptask(1, 9, 64, None, "");
        reused.location = at_line(1, 64, 30).location;
        m.apply_update(&update(
            10 * SEC,
            false,
            vec![reused],
            vec![(1, stats(9 * SEC))],
        ));
        let t = m
            .tasks()
            .find(|t| t.console_id == 1 && t.task_id == Some(9));
        assert_eq!(t.and_then(|t| m.heap_of(t)).map(|h| h.bytes), Some(0));
    }

    #[test]
    fn figures_before_their_task_wait_for_it_then_expire() {
        let mut m = three_tasks();
        m.apply(heap(2 * SEC, true, &[(7, 300, 1)]));
        assert_eq!(m.heap().live().map(|h| h.bytes), Some(0));
        m.apply_update(&update(
            2 * SEC,
            false,
            vec![at_line(7, 64, 10)],
            vec![(7, stats(SEC))],
        ));
        assert_eq!(bytes_of(&m, 7), Some(300));
        assert_eq!(m.heap().live().map(|h| h.bytes), Some(300));
        // Figures of an id no task claims go after the retention.
        m.apply(heap(3 * SEC, false, &[(8, 1, 1)]));
        assert_eq!(m.heap().tasks.len(), 2);
        m.apply_update(&update(60 * SEC, false, vec![], vec![]));
        assert_eq!(m.heap().tasks.len(), 1, "id 8's figures expired");
    }

    #[test]
    fn entries_are_bounded_by_max_tasks() {
        let mut m = Model::new(crate::model::ModelConfig {
            max_tasks: 2,
            ..Default::default()
        });
        m.apply(heap(SEC, true, &[(1, 1, 1), (2, 2, 1), (3, 3, 1)]));
        assert_eq!(m.heap().tasks.len(), 2);
        assert!(m.warnings().get(WarningKind::TaskLimit).is_some());
        // Huge figures saturate the sums, never wrap.
        let mut m = three_tasks();
        m.apply(heap(2 * SEC, true, &[(1, u64::MAX, 1), (2, u64::MAX, 1)]));
        assert_eq!(m.heap().live().map(|h| h.bytes), Some(u64::MAX));
    }

    #[test]
    fn a_failed_stream_leaves_the_heap_unknown() {
        let mut m = three_tasks();
        m.apply(heap(2 * SEC, true, &[(1, 4096, 1)]));
        assert_eq!(bytes_of(&m, 1), Some(4096));
        m.apply(Event::Heap(Box::new(HeapEvent::Failed("no".into()))));
        assert_eq!(m.heap().failed(), Some("no"));
        assert_eq!(
            bytes_of(&m, 1),
            None,
            "the last figures are not shown as current"
        );
        assert_eq!(m.heap().live(), None);
        assert!(m.warnings().get(WarningKind::HeapStreamFailed).is_some());
    }
}
