//! Tasks by state and the future bytes they hold, kept exact on every change of the table.

use super::cost::task_bytes;
use super::task::{Task, TaskState};
use super::time::Nanos;

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
    /// Estimated bytes of live tasks' cells and boxed futures ([`super::cost::task_bytes`]).
    pub cell_bytes: u64,
    /// Of `cell_bytes`, the futures tokio boxed (heap, which the probe's allocator charges to
    /// the spawner: counted once where the heap is known).
    pub boxed_bytes: u64,
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

    pub(super) fn add(&mut self, task: &Task) {
        let state = task.state();
        *self.slot(state) += 1;
        if state != TaskState::Done {
            self.cell_bytes = self
                .cell_bytes
                .wrapping_add(task_bytes(task.size_bytes, task.boxed));
            if task.boxed {
                self.boxed_bytes = self.boxed_bytes.wrapping_add(task.size_bytes.unwrap_or(0));
            }
            if let Some(size) = task.size_bytes {
                self.future_bytes = self.future_bytes.wrapping_add(size);
                self.sized += 1;
            }
        }
    }

    /// Mark `task` done at `now` (it ended without telling us), keeping the counts exact.
    pub(super) fn retire(&mut self, task: &mut Task, now: Nanos) {
        if task.stats.dropped_at == 0 {
            self.remove(task);
            task.stats.dropped_at = now.max(task.stats.created_at).max(1);
            self.add(task);
        }
    }

    pub(super) fn remove(&mut self, task: &Task) {
        let state = task.state();
        let slot = self.slot(state);
        *slot = slot.saturating_sub(1);
        if state != TaskState::Done {
            self.cell_bytes = self
                .cell_bytes
                .wrapping_sub(task_bytes(task.size_bytes, task.boxed));
            if task.boxed {
                self.boxed_bytes = self.boxed_bytes.wrapping_sub(task.size_bytes.unwrap_or(0));
            }
            if let Some(size) = task.size_bytes {
                self.future_bytes = self.future_bytes.wrapping_sub(size);
                self.sized = self.sized.saturating_sub(1);
            }
        }
    }
}
