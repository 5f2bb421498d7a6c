//! RSS explained by live tasks: an estimate of the memory they account for (each task's cell
//! around its future, the box of a future tokio boxed, and the instrumentation's measured cost
//! per task), beside RSS, so that the gap (heap the futures point to, caches, the runtime,
//! memory the allocator keeps) is visible. A lower bound by construction. Where the target's
//! allocator counts heap per task (asyncmem-probe's `Allocator`), the heap live tasks hold is
//! added, and the boxes of futures tokio boxed leave the cell part: tokio allocates such a box
//! in the spawner's poll, so it is already in a task's heap (or, spawned outside any poll, in
//! the heap of no task): counted once, never twice. The allocator does not count task cells.

use serde::Serialize;

use crate::model::series::Sample;
use crate::model::{Counts, Instrumentation, Model};

use super::fit::instrumentation_bytes_per_task;

/// What the live tasks explain of RSS at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Explained {
    /// RSS of the target (null when its `/proc` cannot be read).
    pub rss_bytes: Option<u64>,
    /// The estimate: `cell_bytes + instrumentation_bytes + heap_bytes`.
    pub explained_bytes: u64,
    /// Task cells (header, core around the future, trailer, 128-byte aligned) and the boxes of
    /// futures tokio boxed.
    pub cell_bytes: u64,
    /// Heap held by live tasks, as the target's allocator counts it (null: not known, counted
    /// as 0). When known, `cell_bytes` leaves out the boxes of futures tokio boxed (they are
    /// heap, allocated in the spawner's poll).
    pub heap_bytes: Option<u64>,
    /// Live tasks times the instrumentation's measured cost per task.
    pub instrumentation_bytes: u64,
    /// That cost per task (null: the instrumentation is not known, counted as 0).
    pub instrumentation_bytes_per_task: Option<u64>,
    pub live_tasks: u64,
    /// Live tasks whose future size is not reported: counted as an empty future.
    pub unsized_tasks: u64,
    /// `explained_bytes / rss_bytes` (null without RSS).
    pub share: Option<f64>,
    /// `rss_bytes - explained_bytes` (negative: the estimate is over RSS, e.g. futures whose
    /// pages were never touched).
    pub unexplained_bytes: Option<i64>,
}

/// Explained bytes from a chart sample and the instrumentation: the series beside RSS (cells,
/// instrumentation and, where known, the heap live tasks hold, counted once as in [`explained`]).
pub fn explained_bytes(sample: &Sample, instrumentation: Instrumentation) -> u64 {
    let per_task = instrumentation_bytes_per_task(instrumentation).unwrap_or(0);
    // As `explained`: with heap figures, the heap live tasks hold, and the boxes of futures
    // (heap, in the spawner's figure) out of the cells.
    let (cells, heap) = match sample.heap_bytes {
        Some(heap) => (sample.cell_bytes.saturating_sub(sample.boxed_bytes), heap),
        None => (sample.cell_bytes, 0),
    };
    cells
        .saturating_add(sample.live_tasks.saturating_mul(per_task))
        .saturating_add(heap)
}

/// The heap part: the heap live tasks hold, and the bytes of boxed futures to take out of the
/// cells (they are heap).
#[derive(Clone, Copy, Debug, Default)]
struct HeapPart {
    heap_bytes: Option<u64>,
    boxed_bytes: u64,
}

fn of(
    counts: &Counts,
    rss_bytes: Option<u64>,
    instrumentation: Instrumentation,
    heap: HeapPart,
) -> Explained {
    let per_task = instrumentation_bytes_per_task(instrumentation);
    let live = counts.live();
    let instrumentation_bytes = live.saturating_mul(per_task.unwrap_or(0));
    let cell_bytes = match heap.heap_bytes {
        Some(_) => counts.cell_bytes.saturating_sub(heap.boxed_bytes),
        None => counts.cell_bytes,
    };
    let explained_bytes = cell_bytes
        .saturating_add(instrumentation_bytes)
        .saturating_add(heap.heap_bytes.unwrap_or(0));
    Explained {
        rss_bytes,
        explained_bytes,
        cell_bytes,
        heap_bytes: heap.heap_bytes,
        instrumentation_bytes,
        instrumentation_bytes_per_task: per_task,
        live_tasks: live,
        unsized_tasks: live.saturating_sub(counts.sized),
        share: rss_bytes
            .filter(|r| *r > 0)
            .map(|r| explained_bytes as f64 / r as f64),
        unexplained_bytes: rss_bytes.map(|r| r as i64 - explained_bytes as i64),
    }
}

/// What the live tasks explain of the latest RSS reading.
pub fn explained(model: &Model) -> Explained {
    let heap_bytes = model.heap().live().map(|h| h.bytes);
    let counts = model.counts();
    of(
        &counts,
        model.last_rss().map(|r| r.rss_bytes),
        model.instrumentation(),
        HeapPart {
            heap_bytes,
            boxed_bytes: counts.boxed_bytes,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cost::task_bytes;
    use crate::model::synth::*;
    use crate::model::RssSample;
    use crate::model::Sample;

    /// The chart's line: with heap figures, the heap is added and the boxed futures (heap the
    /// spawner's figure holds) leave the cells; without, the cells as they are.
    #[test]
    fn the_charts_line_counts_the_heap_once() {
        let sample = Sample {
            live_tasks: 2,
            cell_bytes: 16_384 + 2 * 256,
            boxed_bytes: 16_384,
            ..Default::default()
        };
        let unknown = explained_bytes(&sample, Instrumentation::Unknown);
        assert_eq!(unknown, 16_384 + 512);
        let known = Sample {
            heap_bytes: Some(20_000),
            ..sample
        };
        assert_eq!(
            explained_bytes(&known, Instrumentation::Unknown),
            512 + 20_000
        );
    }

    #[test]
    fn cells_boxes_and_instrumentation_add_up() {
        let mut m = Model::default();
        m.set_instrumentation(Instrumentation::Probe);
        m.apply_update(&update(
            SEC,
            true,
            vec![
                ptask(1, 1, 1024, None, ""),
                ptask(2, 2, 8, Some(32_768), ""),
            ],
            vec![(1, stats(SEC)), (2, stats(SEC))],
        ));
        m.apply_rss(RssSample {
            at: SEC,
            rss_bytes: 1 << 20,
            ..Default::default()
        });
        let e = explained(&m);
        let cells = task_bytes(Some(1024), false) + task_bytes(Some(32_768), true);
        assert_eq!(e.cell_bytes, cells);
        assert_eq!(
            cells,
            1280 + 256 + 32_768,
            "the boxed future counts on the heap"
        );
        let probe = super::super::fit::PROBE_BYTES_PER_TASK;
        assert_eq!(e.instrumentation_bytes, 2 * probe);
        assert_eq!(e.explained_bytes, cells + 2 * probe);
        assert_eq!(
            e.unexplained_bytes,
            Some((1 << 20) - (cells + 2 * probe) as i64)
        );
        let share = e.share.unwrap_or_default();
        assert!((share - (cells + 2 * probe) as f64 / (1 << 20) as f64).abs() < 1e-12);
        // The series carries the same figure.
        let last = m.series().last().copied().unwrap_or_default();
        assert_eq!(
            explained_bytes(&last, m.instrumentation()),
            e.explained_bytes
        );
    }

    #[test]
    fn the_heap_adds_once_and_boxes_leave_the_cells() {
        let mut m = Model::default();
        m.set_instrumentation(Instrumentation::Probe);
        m.apply_update(&update(
            SEC,
            true,
            vec![ptask(1, 1, 272, None, ""), ptask(2, 2, 8, Some(32_768), "")],
            vec![(1, stats(SEC)), (2, stats(SEC))],
        ));
        let before = explained(&m);
        assert_eq!(before.heap_bytes, None, "no heap figures: nothing pretends");
        m.apply(crate::model::heap::synth_event(
            2 * SEC,
            true,
            &[(1, 16_384)],
            32_768,
        ));
        let e = explained(&m);
        assert_eq!(e.heap_bytes, Some(16_384));
        assert_eq!(e.cell_bytes, before.cell_bytes - 32_768, "the box is heap");
        assert_eq!(
            e.explained_bytes,
            e.cell_bytes + e.instrumentation_bytes + 16_384
        );
    }

    #[test]
    fn without_rss_there_is_no_share_and_unknown_instrumentation_counts_nothing() {
        let mut m = Model::default();
        m.apply_update(&update(
            SEC,
            true,
            vec![ptask(1, 1, 64, None, "")],
            vec![(1, stats(SEC))],
        ));
        m.set_instrumentation(Instrumentation::Unknown);
        let e = explained(&m);
        assert_eq!(
            (e.rss_bytes, e.share, e.unexplained_bytes),
            (None, None, None)
        );
        assert_eq!(e.instrumentation_bytes_per_task, None);
        assert_eq!(e.explained_bytes, task_bytes(Some(64), false));
    }
}
