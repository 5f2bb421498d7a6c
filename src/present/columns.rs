//! The task table's columns: one enum, the width and rank of each column in the two layouts
//! (the TUI's and `snapshot --format table`'s), one way to drop columns to fit a width, and one
//! text per cell.

use super::escape::escape;
use super::location;
use super::units::{bytes, duration_ns};
use crate::insight::{self, LintConfig};
use crate::model::time::Nanos;
use crate::model::{Model, Task};

/// A column of a task table: the TUI's tasks view (where it is also a sort key) and
/// `snapshot --format table`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Id,
    TaskId,
    Name,
    State,
    Size,
    /// The heap the task holds (asyncmem-probe's allocator): shown only where it is known.
    Heap,
    Polls,
    Busy,
    Scheduled,
    Idle,
    Wakes,
    Lints,
    Location,
}

impl Column {
    pub const ALL: [Column; 13] = [
        Column::Id,
        Column::TaskId,
        Column::Name,
        Column::State,
        Column::Size,
        Column::Heap,
        Column::Polls,
        Column::Busy,
        Column::Scheduled,
        Column::Idle,
        Column::Wakes,
        Column::Lints,
        Column::Location,
    ];

    /// The TUI's header (the table output writes it in capitals).
    pub fn title(self) -> &'static str {
        match self {
            Column::Id => "ID",
            Column::TaskId => "TID",
            Column::Name => "Name",
            Column::State => "State",
            Column::Size => "Size",
            Column::Heap => "Heap",
            Column::Polls => "Polls",
            Column::Busy => "Busy",
            Column::Scheduled => "Sched",
            Column::Idle => "Idle",
            Column::Wakes => "Wakes",
            Column::Lints => "Lint",
            Column::Location => "Location",
        }
    }

    /// The column `by` steps away among those shown (Heap only where the heap is known).
    pub fn step(self, by: isize, heap: bool) -> Column {
        let shown: Vec<Column> = Column::ALL
            .into_iter()
            .filter(|c| heap || *c != Column::Heap)
            .collect();
        let n = shown.len() as isize;
        let i = shown.iter().position(|c| *c == self).unwrap_or(0) as isize;
        shown[(i + by).rem_euclid(n) as usize]
    }

    pub fn next(self) -> Column {
        let i = Column::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }

    pub fn prev(self) -> Column {
        let i = Column::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Column::ALL[(i + Column::ALL.len() - 1) % Column::ALL.len()]
    }
}

/// A column in a layout: its width, and its rank (how much it matters: the highest rank is
/// dropped first when the width is short). `C` is the kind of column: the task table's
/// [`Column`] or another table's (the TUI's locations view).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec<C = Column> {
    pub column: C,
    pub width: usize,
    pub rank: u8,
}

pub const fn spec<C>(column: C, width: usize, rank: u8) -> Spec<C> {
    Spec {
        column,
        width,
        rank,
    }
}

/// The TUI's tasks view, in display order. Location takes what is left.
pub const TUI: [Spec; 13] = [
    spec(Column::Id, 16, 7),
    spec(Column::TaskId, 6, 8),
    spec(Column::Name, 16, 3),
    spec(Column::State, 9, 2),
    spec(Column::Size, 10, 0),
    spec(Column::Heap, 10, 1),
    spec(Column::Polls, 6, 9),
    spec(Column::Busy, 8, 10),
    spec(Column::Scheduled, 8, 12),
    spec(Column::Idle, 8, 6),
    spec(Column::Wakes, 6, 11),
    spec(Column::Lints, 5, 5),
    spec(Column::Location, 16, 4),
];

/// `snapshot --format table`, in display order; LOCATION follows and takes what is left (at
/// least [`TABLE_MIN_LOCATION`]). It keeps IDLE for less long than the TUI does (rank 7, after
/// ID and TID, where the TUI ranks it 5, before them): one rank for both would change what the
/// table shows at 80 columns.
pub const TABLE: [Spec; 11] = [
    spec(Column::Id, 16, 5),
    spec(Column::TaskId, 7, 6),
    spec(Column::State, 9, 2),
    spec(Column::Size, 10, 0),
    spec(Column::Heap, 10, 1),
    spec(Column::Polls, 7, 7),
    spec(Column::Busy, 8, 9),
    spec(Column::Scheduled, 8, 11),
    spec(Column::Idle, 8, 8),
    spec(Column::Wakes, 6, 10),
    spec(Column::Name, 16, 3),
];

/// `layout` without the Heap column unless `heap` (the target's heap is known): where the
/// target has no allocator, the table is what it was.
pub fn with_heap(layout: &[Spec], heap: bool) -> Vec<Spec> {
    layout
        .iter()
        .copied()
        .filter(|s| heap || s.column != Column::Heap)
        .collect()
}

/// Narrowest LOCATION column worth showing in the table output.
pub const TABLE_MIN_LOCATION: usize = 16;

/// The columns of `layout` that fit `width` with `reserved` characters left over, dropping the
/// highest rank first (one space between columns; at least one column stays).
pub fn fit<C: Copy + PartialEq>(layout: &[Spec<C>], width: usize, reserved: usize) -> Vec<Spec<C>> {
    fit_keeping(layout, width, reserved, None)
}

/// [`fit`], but `keep` (the column a view sorts by: the one being looked at) is never dropped;
/// the next highest rank goes in its place.
pub fn fit_keeping<C: Copy + PartialEq>(
    layout: &[Spec<C>],
    width: usize,
    reserved: usize,
    keep: Option<C>,
) -> Vec<Spec<C>> {
    let mut kept = layout.to_vec();
    let total = |cols: &[Spec<C>]| cols.iter().map(|c| c.width + 1).sum::<usize>();
    while kept.len() > 1 && total(&kept) + reserved > width {
        let Some(least) = kept
            .iter()
            .enumerate()
            .filter(|(_, c)| Some(c.column) != keep)
            .max_by_key(|(_, c)| c.rank)
            .map(|(i, _)| i)
        else {
            break;
        };
        kept.remove(least);
    }
    kept
}

/// A task's future size: `1.5 KiB`, `40.0 KiB*` when tokio boxed it, `?` when unknown.
pub fn size_cell(t: &Task) -> String {
    match t.size_bytes {
        Some(n) if t.boxed => format!("{}*", bytes(n)),
        Some(n) => bytes(n),
        None => "?".into(),
    }
}

/// The heap a task holds: `16.0 KiB`; `-` for a done task (what it left is the process's);
/// `?` where the target's heap is not known.
pub fn heap_cell(model: &Model, t: &Task) -> String {
    match model.heap_of(t) {
        Some(h) => bytes(h.bytes),
        None if model.heap().known() => "-".into(),
        None => "?".into(),
    }
}

/// The text of `col` for task `t` (untruncated), safe for a terminal: names and locations are
/// escaped, locations in a dependency shortened ([`location::display`]). Lints are those at
/// `lints_at`: the time the lint counts shown beside the rows were computed at (the model's
/// `now` for a one-shot output), so that rows and counts agree.
pub fn cell_text(
    model: &Model,
    t: &Task,
    col: Column,
    lints: &LintConfig,
    lints_at: Nanos,
) -> String {
    let s = &t.stats;
    match col {
        Column::Id => t.console_id.to_string(),
        Column::TaskId => t.task_id.map_or_else(|| "-".into(), |v| v.to_string()),
        Column::Name => escape(model.resolve(t.name)).into_owned(),
        Column::State => t.state().as_str().to_string(),
        Column::Size => size_cell(t),
        Column::Heap => heap_cell(model, t),
        Column::Polls => s.polls.to_string(),
        Column::Busy => duration_ns(t.busy_ns(model.now())),
        Column::Scheduled => duration_ns(s.scheduled_ns),
        Column::Idle => duration_ns(t.idle_ns(model.now())),
        Column::Wakes => s.wakes.to_string(),
        Column::Lints => insight::lint_list(insight::lints(t, lints_at, lints))
            .map(|l| l.letter())
            .collect(),
        Column::Location => location::display(model.resolve(t.location)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_widths_drop_the_highest_rank_first() {
        assert_eq!(fit(&TUI, 1000, 0), TUI.to_vec());
        let titles = |cols: Vec<Spec>| cols.iter().map(|c| c.column).collect::<Vec<_>>();
        // Scheduled has the highest rank in both layouts: the first to go.
        let all: usize = TUI.iter().map(|c| c.width + 1).sum();
        assert!(!titles(fit(&TUI, all - 1, 0)).contains(&Column::Scheduled));
        assert_eq!(titles(fit(&TUI, all - 1, 0)).len(), TUI.len() - 1);
        assert_eq!(
            titles(fit(&TABLE, 1, TABLE_MIN_LOCATION)),
            vec![Column::Size]
        );
    }

    #[test]
    fn the_kept_column_stays_and_the_next_rank_goes_instead() {
        let titles = |cols: Vec<Spec>| cols.iter().map(|c| c.column).collect::<Vec<_>>();
        // At 80 columns the TUI drops Wakes (the busy lesson sorts by it) ...
        assert!(!titles(fit(&TUI, 80, 0)).contains(&Column::Wakes));
        // ... unless it is the kept column: it stays, and the result still fits.
        let kept = fit_keeping(&TUI, 80, 0, Some(Column::Wakes));
        assert!(titles(kept.clone()).contains(&Column::Wakes));
        assert!(kept.iter().map(|c| c.width + 1).sum::<usize>() <= 80);
        // Too narrow for anything else: the kept column is the one that stays.
        assert_eq!(
            titles(fit_keeping(&TUI, 1, 0, Some(Column::Wakes))),
            vec![Column::Wakes]
        );
        // Keeping nothing is `fit`.
        assert_eq!(fit_keeping(&TUI, 80, 0, None), fit(&TUI, 80, 0));
    }

    #[test]
    fn lint_cells_agree_with_the_counts_at_their_time() {
        use crate::insight::{Lint, LintCounts};
        use crate::model::synth::*;
        const SEC: i64 = 1_000_000_000;
        // One task in a poll since 2 s, one done task with a large future, one idle.
        let tasks = vec![
            ptask(1, 1, 64, None, "\"hog\""),
            ptask(2, 2, 4096, None, "\"gone\""),
            ptask(3, 3, 64, None, "\"idle\""),
        ];
        let mut hog = stats(SEC);
        hog.poll_stats = Some(console_api::PollStats {
            polls: 1,
            first_poll: stamp(2 * SEC),
            last_poll_started: stamp(2 * SEC),
            last_poll_ended: stamp(SEC + 1),
            busy_time: None,
        });
        let mut gone = stats(SEC);
        gone.dropped_at = stamp(3 * SEC);
        let mut model = Model::default();
        model.apply_update(&update(
            4 * SEC,
            true,
            tasks,
            vec![(1, hog), (2, gone), (3, stats(SEC))],
        ));
        let cfg = LintConfig::default();
        let counts = LintCounts::count(&model, &cfg);
        let cells: Vec<String> = model
            .tasks()
            .map(|t| cell_text(&model, t, Column::Lints, &cfg, counts.at()))
            .collect();
        let rows_with = |c: char| cells.iter().filter(|s| s.contains(c)).count() as u64;
        assert_eq!(counts.of(Lint::NeverYielded), 1);
        assert_eq!(counts.of(Lint::NeverYielded), rows_with('Y'));
        // The done task's row keeps its L; the count, of live tasks, does not.
        assert_eq!(rows_with('L'), 1);
        assert_eq!(counts.of(Lint::LargeFuture), 0);
        // Busy of the running task is the poll in progress: 2 s at 4 s.
        let hog = model.tasks().find(|t| t.console_id == 1).expect("hog");
        assert_eq!(
            cell_text(&model, hog, Column::Busy, &cfg, counts.at()),
            "2.00s"
        );
    }
}
