//! Lints on single tasks (something worth a second look) and their counts over a set of tasks.

use std::collections::HashMap;

use super::locations::{origin, Origin};
use crate::model::time::Nanos;
use crate::model::{Model, Sym, Task, TaskKind, TaskState};

/// Futures of at least this many bytes get the large-future lint (the CLI's `--large-future`
/// default).
pub const LARGE_FUTURE_BYTES: u64 = 1024;

/// A task running in one poll for longer than this never yielded.
pub const NEVER_YIELDED_NS: u64 = 1_000_000_000;

/// Something worth a second look about one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lint {
    LargeFuture,
    AutoBoxed,
    LostWaker,
    SelfWakes,
    NeverYielded,
}

impl Lint {
    pub const ALL: [Lint; 5] = [
        Lint::LargeFuture,
        Lint::AutoBoxed,
        Lint::LostWaker,
        Lint::SelfWakes,
        Lint::NeverYielded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Lint::LargeFuture => "large_future",
            Lint::AutoBoxed => "auto_boxed",
            Lint::LostWaker => "lost_waker",
            Lint::SelfWakes => "self_wakes",
            Lint::NeverYielded => "never_yielded",
        }
    }

    /// One letter for the table's marker column.
    pub fn letter(self) -> char {
        match self {
            Lint::LargeFuture => 'L',
            Lint::AutoBoxed => 'B',
            Lint::LostWaker => 'W',
            Lint::SelfWakes => 'S',
            Lint::NeverYielded => 'Y',
        }
    }

    /// What the lint means for a task spawned at a location of `origin`: for a large future in
    /// a dependency's code, that it is the dependency's (the user cannot box its locals), not
    /// the generic advice of [`Lint::explain`].
    pub fn advice(self, large_future_bytes: u64, origin: &Origin) -> String {
        match (self, origin.dependency()) {
            (Lint::LargeFuture, Some(dep)) => format!("large future (>= {large_future_bytes} B) in {dep}: a dependency's future; your part is what you pass to it (the handlers, services and buffers it stores), not its locals"),
            (Lint::AutoBoxed, Some(dep)) => format!("auto-boxed: tokio moved {dep}'s future to the heap: boxing moves the cost, it does not remove it (the size shown is the real one)"),
            _ => self.explain(large_future_bytes),
        }
    }

    pub fn explain(self, large_future_bytes: u64) -> String {
        match self {
            Lint::LargeFuture => format!("large future (>= {large_future_bytes} B): it holds what lives across an .await; scope a buffer to end before it, Box::pin a large awaitee onto the heap"),
            Lint::AutoBoxed => "auto-boxed: tokio moved it to the heap: boxing moves the cost, it does not remove it (the size shown is the real one)".to_string(),
            Lint::LostWaker => "lost waker: idle with no live waker, so nothing can wake it: it will never run again (a leak or a bug)".to_string(),
            Lint::SelfWakes => "self-wakes are over half of its wakes: it wakes itself (yield_now or a busy loop) more than anything else does".to_string(),
            Lint::NeverYielded => "never yielded: running in one poll for over a second, blocking its worker thread".to_string(),
        }
    }
}

/// Lint thresholds.
#[derive(Clone, Copy, Debug)]
pub struct LintConfig {
    pub large_future_bytes: u64,
    pub never_yielded_ns: u64,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            large_future_bytes: LARGE_FUTURE_BYTES,
            never_yielded_ns: NEVER_YIELDED_NS,
        }
    }
}

/// The lints of `t` at time `now`, as a bit set over `Lint::ALL`.
pub fn lints(t: &Task, now: Nanos, cfg: &LintConfig) -> u8 {
    let s = &t.stats;
    let state = t.state();
    let mut bits = 0u8;
    let mut set = |l: Lint| bits |= 1 << (l as u8);
    if t.size_bytes.is_some_and(|b| b >= cfg.large_future_bytes) {
        set(Lint::LargeFuture);
    }
    if t.boxed {
        set(Lint::AutoBoxed);
    }
    if state == TaskState::Idle
        && t.announced
        && t.kind != TaskKind::BlockOn
        && s.polls > 0
        && t.live_wakers() == 0
    {
        set(Lint::LostWaker);
    }
    if s.wakes > 0 && s.self_wakes.saturating_mul(2) > s.wakes {
        set(Lint::SelfWakes);
    }
    if state == TaskState::Running
        && u64::try_from(now.saturating_sub(s.last_poll_started)).unwrap_or(0)
            > cfg.never_yielded_ns
    {
        set(Lint::NeverYielded);
    }
    bits
}

/// The lints in a bit set.
pub fn lint_list(bits: u8) -> impl Iterator<Item = Lint> {
    Lint::ALL
        .into_iter()
        .filter(move |l| bits & (1 << (*l as u8)) != 0)
}

/// Live tasks per lint (done tasks are not counted: a count says what is there now), and how
/// many of them were spawned in a dependency's code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LintCounts {
    all: [u64; Lint::ALL.len()],
    dependency: [u64; Lint::ALL.len()],
    /// The model time the lints were computed at: a view showing a task's lints beside these
    /// counts computes them at this time too, so that both agree.
    at: Nanos,
}

impl LintCounts {
    /// The lints of the model's live tasks at the model's time, counted; a location is
    /// classified (own or dependency) once per count.
    pub fn count(model: &Model, cfg: &LintConfig) -> Self {
        let now = model.now();
        let mut counts = LintCounts {
            at: now,
            ..Default::default()
        };
        let mut dependency: HashMap<Sym, bool> = HashMap::new();
        for t in model.tasks() {
            let bits = lints(t, now, cfg);
            if bits == 0 || t.state() == TaskState::Done {
                continue;
            }
            let dep = *dependency
                .entry(t.location)
                .or_insert_with(|| origin(model.resolve(t.location)).is_dependency());
            counts.add_task(t, bits, dep);
        }
        counts
    }

    /// Count one task's lint bits (from [`lints`]) unless it is done; `dependency`: whether it
    /// was spawned in a dependency's code.
    pub fn add_task(&mut self, t: &Task, bits: u8, dependency: bool) {
        if t.state() == TaskState::Done {
            return;
        }
        for l in lint_list(bits) {
            self.all[l as usize] += 1;
            if dependency {
                self.dependency[l as usize] += 1;
            }
        }
    }

    /// Count lint bits as they are (the caller has left out the done tasks).
    pub fn add(&mut self, bits: u8) {
        for l in lint_list(bits) {
            self.all[l as usize] += 1;
        }
    }

    /// Live tasks with `lint`.
    pub fn of(&self, lint: Lint) -> u64 {
        self.all[lint as usize]
    }

    /// Of those, the tasks spawned in a dependency's code.
    pub fn in_dependencies(&self, lint: Lint) -> u64 {
        self.dependency[lint as usize]
    }

    /// The model time of [`LintCounts::count`].
    pub fn at(&self) -> Nanos {
        self.at
    }

    /// [`LintCounts::at`], or `now` before the first count.
    pub fn at_or(&self, now: Nanos) -> Nanos {
        if self.at == 0 {
            now
        } else {
            self.at
        }
    }

    /// The lints that some task has, with their counts, in [`Lint::ALL`] order.
    pub fn found(&self) -> impl Iterator<Item = (Lint, u64)> + '_ {
        Lint::ALL
            .into_iter()
            .map(|l| (l, self.of(l)))
            .filter(|(_, n)| *n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insight::test_task as task;

    #[test]
    fn each_lint_fires_on_its_case_only() {
        use crate::model::TaskStats;
        let cfg = LintConfig::default();
        let sec = 1_000_000_000i64;
        let idle = TaskStats {
            created_at: sec,
            polls: 1,
            waker_clones: 1,
            last_poll_started: sec + 1,
            last_poll_ended: sec + 2,
            ..Default::default()
        };
        let of = |t: &Task| lint_list(lints(t, 10 * sec, &cfg)).collect::<Vec<_>>();
        // A small task with these stats has no lint, for the reason `why`.
        let fine = |stats, why: &str| assert_eq!(of(&task(Some(8), false, stats)), vec![], "{why}");
        assert_eq!(of(&task(Some(100), false, idle)), vec![]);
        assert_eq!(of(&task(Some(1024), false, idle)), vec![Lint::LargeFuture]);
        assert_eq!(
            of(&task(Some(40_000), true, idle)),
            vec![Lint::LargeFuture, Lint::AutoBoxed]
        );
        let lost = TaskStats {
            waker_clones: 1,
            waker_drops: 1,
            ..idle
        };
        assert_eq!(of(&task(Some(8), false, lost)), vec![Lint::LostWaker]);
        let selfish = TaskStats {
            wakes: 10,
            self_wakes: 6,
            ..idle
        };
        assert_eq!(of(&task(Some(8), false, selfish)), vec![Lint::SelfWakes]);
        let half = TaskStats {
            wakes: 10,
            self_wakes: 5,
            ..idle
        };
        fine(half, "exactly half is not over half");
        let hog = TaskStats {
            last_poll_started: 2 * sec,
            last_poll_ended: sec,
            ..idle
        };
        assert_eq!(of(&task(Some(8), false, hog)), vec![Lint::NeverYielded]);
        let brief = TaskStats {
            last_poll_started: 10 * sec - 1000,
            last_poll_ended: sec,
            ..idle
        };
        fine(brief, "running briefly is fine");
        let done_lost = TaskStats {
            dropped_at: 3 * sec,
            ..lost
        };
        fine(done_lost, "a done task has no waker to lose");
    }

    #[test]
    fn counts_are_of_live_tasks_and_split_off_dependencies() {
        use crate::model::TaskStats;
        let cfg = LintConfig::default();
        let live = TaskStats {
            created_at: 1,
            polls: 1,
            waker_clones: 1,
            ..Default::default()
        };
        let done = TaskStats {
            dropped_at: 5,
            ..live
        };
        let mut c = LintCounts::default();
        let big = |stats| task(Some(4096), false, stats);
        c.add_task(&big(live), lints(&big(live), 10, &cfg), false);
        c.add_task(&big(live), lints(&big(live), 10, &cfg), true);
        c.add_task(&big(done), lints(&big(done), 10, &cfg), false);
        assert_eq!(c.of(Lint::LargeFuture), 2, "the done task is not counted");
        assert_eq!(c.in_dependencies(Lint::LargeFuture), 1);
    }

    /// The advice is what the lessons show: scoping a buffer removes it from the future,
    /// `Box::pin` moves a large awaitee out of it, and boxing only moves the cost; each text fits
    /// the two lines of 74 columns the details view gives a lint at 120 columns.
    #[test]
    fn the_size_advice_says_what_helps_and_what_boxing_does() {
        let large = Lint::LargeFuture.explain(1024);
        for says in [
            "scope a buffer to end before it",
            "Box::pin a large awaitee onto the heap",
        ] {
            assert!(large.contains(says), "{large}");
        }
        assert!(!large.contains("box big locals"), "{large}");
        let boxed = Lint::AutoBoxed.explain(1024);
        assert!(
            boxed.contains("boxing moves the cost, it does not remove it"),
            "{boxed}"
        );
        for l in Lint::ALL {
            let text = format!("[{}] {}", l.letter(), l.explain(LARGE_FUTURE_BYTES));
            assert!(text.chars().count() <= 140, "{} chars: {text}", text.len());
        }
    }

    #[test]
    fn a_dependencys_large_future_gets_its_own_advice() {
        let reg = "/h/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/serve/mod.rs:389:5";
        let dep = Lint::LargeFuture.advice(1024, &origin(reg));
        assert!(
            dep.contains("in axum 0.8.9: a dependency's future"),
            "{dep}"
        );
        assert!(!dep.contains("scope a buffer"), "{dep}");
        let own = Lint::LargeFuture.advice(1024, &origin("/work/app/src/main.rs:3:1"));
        assert!(own.contains("scope a buffer"), "{own}");
        assert_eq!(
            Lint::SelfWakes.advice(1024, &origin(reg)),
            Lint::SelfWakes.explain(1024)
        );
    }
}
