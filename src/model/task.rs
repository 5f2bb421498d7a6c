//! One task as asyncmem tracks it: identity, what tokio told about its future, and its poll stats.

use super::intern::Sym;
use super::time::Nanos;

/// Poll state, derived as tokio-console derives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// Inside `poll` right now.
    Running,
    /// Woken, waiting in the run queue.
    Scheduled,
    /// Suspended at an `.await`: what asyncmem is about.
    Idle,
    /// Dropped (completed or cancelled).
    Done,
}

impl TaskState {
    pub const ALL: [TaskState; 4] = [
        TaskState::Running,
        TaskState::Scheduled,
        TaskState::Idle,
        TaskState::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Scheduled => "scheduled",
            TaskState::Idle => "idle",
            TaskState::Done => "done",
        }
    }
}

/// What spawned the task (tokio's `kind` span field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskKind {
    Task,
    Local,
    Blocking,
    BlockOn,
    Other,
}

impl TaskKind {
    pub fn parse(s: &str) -> TaskKind {
        match s.trim_matches('"') {
            "task" => TaskKind::Task,
            "local" => TaskKind::Local,
            "blocking" => TaskKind::Blocking,
            "block_on" => TaskKind::BlockOn,
            _ => TaskKind::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Task => "task",
            TaskKind::Local => "local",
            TaskKind::Blocking => "blocking",
            TaskKind::BlockOn => "block_on",
            TaskKind::Other => "other",
        }
    }
}

/// The latest full `Stats` snapshot of a task, flattened. Timestamps are wall-clock nanoseconds;
/// 0 means "not yet" (no real task event happens at the epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskStats {
    pub polls: u64,
    pub busy_ns: u64,
    pub scheduled_ns: u64,
    pub wakes: u64,
    pub waker_clones: u64,
    pub waker_drops: u64,
    pub self_wakes: u64,
    pub created_at: Nanos,
    pub dropped_at: Nanos,
    pub last_wake: Nanos,
    pub first_poll: Nanos,
    pub last_poll_started: Nanos,
    pub last_poll_ended: Nanos,
}

/// A tracked task. `uid` is asyncmem's own key: unique for the life of the model, so that a
/// console id reused by the subscriber starts a new task and a selection survives updates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub uid: u64,
    /// Console's span-based id (reused after the task is dropped).
    pub console_id: u64,
    /// Tokio's own task id (`task.id` field), when the target reports it.
    pub task_id: Option<u64>,
    pub name: Sym,
    pub location: Sym,
    pub kind: TaskKind,
    /// Whether the subscriber sent the `Task` itself (false: only stats seen so far).
    pub announced: bool,
    /// Whether tokio boxed the future because it was large (`original_size.bytes` present).
    pub boxed: bool,
    /// Real size of the future in bytes; `None` when the target does not report it.
    pub size_bytes: Option<u64>,
    pub stats: TaskStats,
}

impl Task {
    pub fn state(&self) -> TaskState {
        let s = &self.stats;
        if s.dropped_at != 0 {
            TaskState::Done
        } else if s.last_poll_started > s.last_poll_ended {
            TaskState::Running
        } else if s.last_wake > s.last_poll_started {
            TaskState::Scheduled
        } else {
            TaskState::Idle
        }
    }

    /// Live wakers: clones minus drops.
    pub fn live_wakers(&self) -> u64 {
        self.stats
            .waker_clones
            .saturating_sub(self.stats.waker_drops)
    }

    /// Time since creation (until drop, or `now`), in nanoseconds.
    pub fn total_ns(&self, now: Nanos) -> u64 {
        let s = &self.stats;
        if s.created_at == 0 {
            return 0;
        }
        let end = if s.dropped_at != 0 { s.dropped_at } else { now };
        u64::try_from(end.saturating_sub(s.created_at)).unwrap_or(0)
    }

    /// Time spent in `poll` until `now`: the reported busy time of the polls that ended, plus,
    /// while the task is running, the poll in progress (since `last_poll_started`). Without it a
    /// task stuck in one long poll would read as frozen busy and growing idle until the poll
    /// ends.
    pub fn busy_ns(&self, now: Nanos) -> u64 {
        let s = &self.stats;
        let current = if self.state() == TaskState::Running {
            u64::try_from(now.saturating_sub(s.last_poll_started)).unwrap_or(0)
        } else {
            0
        };
        s.busy_ns.saturating_add(current)
    }

    /// Time neither polled nor waiting to be polled: suspended.
    pub fn idle_ns(&self, now: Nanos) -> u64 {
        self.total_ns(now)
            .saturating_sub(self.busy_ns(now))
            .saturating_sub(self.stats.scheduled_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(stats: TaskStats) -> Task {
        Task {
            uid: 1,
            console_id: 1,
            task_id: None,
            name: Sym::NONE,
            location: Sym::NONE,
            kind: TaskKind::Task,
            announced: true,
            boxed: false,
            size_bytes: None,
            stats,
        }
    }

    #[test]
    fn state_derivation() {
        // A task created at 10: (last poll started, last poll ended, last wake, dropped at).
        let cases = [
            ((0, 0, 0, 0), TaskState::Idle),
            ((20, 15, 0, 0), TaskState::Running),
            ((20, 25, 30, 0), TaskState::Scheduled),
            // woken before its last poll
            ((20, 25, 18, 0), TaskState::Idle),
            ((20, 15, 0, 40), TaskState::Done),
        ];
        for ((started, ended, woken, dropped), state) in cases {
            let stats = TaskStats {
                created_at: 10,
                last_poll_started: started,
                last_poll_ended: ended,
                last_wake: woken,
                dropped_at: dropped,
                ..Default::default()
            };
            assert_eq!(task(stats).state(), state, "{stats:?}");
        }
    }

    #[test]
    fn idle_time_is_the_rest() {
        let t = task(TaskStats {
            created_at: 1_000,
            busy_ns: 100,
            scheduled_ns: 50,
            ..Default::default()
        });
        assert_eq!(t.total_ns(2_000), 1_000);
        assert_eq!(t.idle_ns(2_000), 850);
        assert_eq!(t.idle_ns(500), 0, "clock skew saturates, never wraps");
    }

    #[test]
    fn a_long_poll_grows_busy_not_idle() {
        // Idle from 1,000 to 5,000, then in one poll since 5,000 that has not ended.
        let t = task(TaskStats {
            created_at: 1_000,
            busy_ns: 100,
            last_poll_started: 5_000,
            last_poll_ended: 4_000,
            ..Default::default()
        });
        assert_eq!(t.state(), TaskState::Running);
        assert_eq!(t.busy_ns(6_000), 1_100);
        assert_eq!(t.busy_ns(9_000), 4_100, "busy grows while the poll lasts");
        assert_eq!(t.idle_ns(6_000), t.idle_ns(9_000), "idle does not");
        assert_eq!(
            t.busy_ns(4_000),
            100,
            "a clock behind the poll's start adds nothing"
        );
        // Once the poll ended, the reported busy time is the whole of it.
        let ended = task(TaskStats {
            last_poll_ended: 9_000,
            busy_ns: 4_100,
            ..t.stats
        });
        assert_eq!(ended.busy_ns(20_000), 4_100);
    }
}
