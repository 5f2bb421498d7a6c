//! The task table's order: filtered and sorted slots, rebuilt only when the model or the sort or
//! filter changed, and no more often than its own cost allows. A frame reads only the visible
//! rows of it, so drawing costs the same with 100 tasks or 1,000,000.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::throttle::Throttle;

use crate::insight::{self, Filter, LintConfig};
use crate::model::{Model, Sym, Task, TaskState};
use crate::present::Column;

/// The sort key of a task for a column, as a number (strings by their alphabetical rank).
fn key(t: &Task, col: Column, now: i64, ranks: &HashMap<Sym, u64>, lints: &LintConfig) -> u64 {
    let rank = |s: Sym| ranks.get(&s).copied().unwrap_or(0);
    match col {
        Column::Id => t.console_id,
        Column::TaskId => t.task_id.unwrap_or(0),
        Column::Name => rank(t.name),
        Column::State => match t.state() {
            TaskState::Running => 0,
            TaskState::Scheduled => 1,
            TaskState::Idle => 2,
            TaskState::Done => 3,
        },
        // Unknown sizes sort below every known size.
        Column::Size => t.size_bytes.map_or(0, |s| s.saturating_add(1)),
        // Read from the model's side map by the caller ([`heap_key`]).
        Column::Heap => 0,
        Column::Polls => t.stats.polls,
        Column::Busy => t.busy_ns(now),
        Column::Scheduled => t.stats.scheduled_ns,
        Column::Idle => t.idle_ns(now),
        Column::Wakes => t.stats.wakes,
        // By how many lints, then which.
        Column::Lints => {
            let bits = insight::lints(t, now, lints);
            u64::from(bits.count_ones()) << 8 | u64::from(bits)
        }
        Column::Location => rank(t.location),
    }
}

/// The sort key of a task's heap: unknown below every known figure.
fn heap_key(model: &Model, t: &Task) -> u64 {
    model.heap_of(t).map_or(0, |h| h.bytes.saturating_add(1))
}

#[derive(Debug)]
pub struct TaskIndex {
    /// Slots of the shown tasks, in display order.
    rows: Vec<u32>,
    built_generation: u64,
    built_for: Option<(Column, bool, String)>,
    /// Why the filter's text does not parse (then no task is shown): for the filter prompt.
    filter_error: Option<String>,
    throttle: Throttle,
}

impl Default for TaskIndex {
    fn default() -> Self {
        TaskIndex {
            rows: Vec::new(),
            built_generation: u64::MAX,
            built_for: None,
            filter_error: None,
            throttle: Throttle::new(Duration::from_millis(50)),
        }
    }
}

impl TaskIndex {
    pub fn rows(&self) -> &[u32] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Why the current filter does not parse, if it does not.
    pub fn filter_error(&self) -> Option<&str> {
        self.filter_error.as_deref()
    }

    /// Rebuild if needed. A change of sort or filter rebuilds at once; a change of the model
    /// waits until ten times the last rebuild's cost has passed, so a huge table is re-sorted
    /// now and then instead of on every update. Returns whether it rebuilt.
    pub fn refresh(
        &mut self,
        model: &Model,
        sort: Column,
        descending: bool,
        filter_text: &str,
        lints: &LintConfig,
    ) -> bool {
        let wanted = (sort, descending, filter_text.to_string());
        let view_changed = self.built_for.as_ref() != Some(&wanted);
        let model_changed = self.built_generation != model.generation();
        if !view_changed && !model_changed {
            return false;
        }
        if !view_changed && !self.throttle.ready() {
            return false;
        }
        let started = Instant::now();
        self.rebuild(model, &wanted, lints);
        self.throttle.built(started);
        self.built_generation = model.generation();
        self.built_for = Some(wanted);
        true
    }

    fn rebuild(&mut self, model: &Model, view: &(Column, bool, String), lints: &LintConfig) {
        let (sort, descending, filter_text) = (view.0, view.1, view.2.as_str());
        let filter = match Filter::parse(filter_text) {
            Ok(f) => {
                self.filter_error = None;
                f
            }
            Err(e) => {
                self.filter_error = Some(e.to_string());
                self.rows.clear();
                return;
            }
        };
        let ranks = if matches!(sort, Column::Name | Column::Location) {
            let mut syms: Vec<Sym> = model
                .tasks()
                .map(|t| {
                    if sort == Column::Name {
                        t.name
                    } else {
                        t.location
                    }
                })
                .collect();
            syms.sort_unstable();
            syms.dedup();
            syms.sort_by(|a, b| model.resolve(*a).cmp(model.resolve(*b)));
            syms.into_iter()
                .enumerate()
                .map(|(i, s)| (s, i as u64))
                .collect()
        } else {
            HashMap::new()
        };
        let now = model.now();
        // Ties go by tokio task id (spawn order), then by asyncmem's uid: a stable picture.
        // Live tasks before done ones whatever the order (unless sorting by state), so that a
        // burst's finished tasks do not push the live ones off the screen.
        let done_last = sort != Column::State;
        let mut keyed: Vec<(bool, u64, u64, u32)> = model
            .slots()
            .filter(|(_, t)| filter.is_empty() || filter.matches(model, t, lints))
            .map(|(slot, t)| {
                (
                    done_last && t.state() == TaskState::Done,
                    if sort == Column::Heap {
                        heap_key(model, t)
                    } else {
                        key(t, sort, now, &ranks, lints)
                    },
                    t.task_id.unwrap_or(u64::MAX / 2 + t.uid),
                    slot,
                )
            })
            .collect();
        if descending {
            keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        } else {
            keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        }
        self.rows.clear();
        self.rows
            .extend(keyed.into_iter().map(|(_, _, _, slot)| slot));
    }
}
