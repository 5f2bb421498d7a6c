//! What the numbers mean: the bytes-per-task slope of RSS over live tasks, per-location
//! aggregates, and lints on single tasks. Pure functions of the model.

use std::collections::HashMap;

use super::series::Sample;
use super::task::{Task, TaskState};
use super::time::Nanos;
use super::Sym;

/// Target RSS that console-subscriber adds per live task, beyond the uninstrumented cost:
/// measured with `bench/observer_cost.sh 20000 64` (52,781 B/task instrumented against 679 B/task
/// without, see bench/RESULTS.md). Two HdrHistograms per task account for most of it.
pub const CONSOLE_SUBSCRIBER_BYTES_PER_TASK: u64 = 52_100;

/// Target RSS that asyncmem-probe adds per live task, beyond the uninstrumented cost: measured
/// with `INSTRUMENTS="none probe" bench/observer_cost.sh 20000 64` (816 and 818 B/task
/// instrumented against 675 and 683 B/task without, two runs; 126 B at 100k, see
/// bench/RESULTS.md). Its 128-byte task record accounts for nearly all of it.
pub const PROBE_BYTES_PER_TASK: u64 = 138;

/// The estimated RSS per live task that the instrumentation itself costs.
pub fn instrumentation_bytes_per_task(i: super::Instrumentation) -> Option<u64> {
    match i {
        super::Instrumentation::ConsoleSubscriber => Some(CONSOLE_SUBSCRIBER_BYTES_PER_TASK),
        super::Instrumentation::None => Some(0),
        super::Instrumentation::Probe => Some(PROBE_BYTES_PER_TASK),
        super::Instrumentation::Unknown => None,
    }
}

/// A least-squares line of RSS (bytes) over live task count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Bytes of RSS per live task.
    pub slope: f64,
    /// RSS at zero tasks.
    pub intercept: f64,
    /// Coefficient of determination, 0..=1.
    pub r2: f64,
    pub samples: usize,
    pub min_tasks: u64,
    pub max_tasks: u64,
}

/// Why no slope could be fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoFit {
    TooFewSamples(usize),
    /// The live task count barely moved: RSS cannot be attributed to tasks.
    TaskCountFlat {
        min: u64,
        max: u64,
    },
}

impl NoFit {
    pub fn reason(&self) -> String {
        match self {
            NoFit::TooFewSamples(n) => format!("{n} samples; at least {MIN_SAMPLES} are needed"),
            NoFit::TaskCountFlat { min, max } => format!(
                "the live task count stayed between {min} and {max}: a slope needs it to move by at least {MIN_TASK_SPAN}"
            ),
        }
    }
}

pub const MIN_SAMPLES: usize = 3;
/// Below this r², a slope explains too little to be split into its parts.
pub const POOR_FIT_R2: f64 = 0.8;
pub const MIN_TASK_SPAN: u64 = 10;

/// Fit RSS over live tasks across `samples`.
pub fn bytes_per_task<'a>(samples: impl Iterator<Item = &'a Sample>) -> Result<Fit, NoFit> {
    let pts: Vec<(f64, f64)> = samples
        .filter(|s| s.rss_bytes > 0)
        .map(|s| (s.live_tasks as f64, s.rss_bytes as f64))
        .collect();
    if pts.len() < MIN_SAMPLES {
        return Err(NoFit::TooFewSamples(pts.len()));
    }
    let min = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min) as u64;
    let max = pts.iter().map(|p| p.0).fold(0.0, f64::max) as u64;
    if max - min < MIN_TASK_SPAN {
        return Err(NoFit::TaskCountFlat { min, max });
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    // RSS that never moved explains nothing: not a perfect fit of a flat line.
    let r2 = if syy == 0.0 {
        0.0
    } else {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    };
    Ok(Fit {
        slope,
        intercept,
        r2,
        samples: pts.len(),
        min_tasks: min,
        max_tasks: max,
    })
}

/// Tasks of one spawn location.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub location: Sym,
    pub tasks: u64,
    pub running: u64,
    pub scheduled: u64,
    pub idle: u64,
    pub done: u64,
    /// Tasks whose size is known, and their sizes.
    pub sized: u64,
    pub size_min: u64,
    pub size_max: u64,
    pub size_sum: u64,
    pub boxed: u64,
}

impl Location {
    pub fn size_mean(&self) -> Option<u64> {
        self.size_sum.checked_div(self.sized)
    }

    pub fn live(&self) -> u64 {
        self.running + self.scheduled + self.idle
    }
}

/// Group tasks by spawn location (live and retained done tasks alike).
pub fn by_location<'a>(tasks: impl Iterator<Item = &'a Task>) -> Vec<Location> {
    let mut map: HashMap<Sym, Location> = HashMap::new();
    for t in tasks {
        let l = map.entry(t.location).or_insert_with(|| Location {
            location: t.location,
            size_min: u64::MAX,
            ..Default::default()
        });
        l.tasks += 1;
        match t.state() {
            TaskState::Running => l.running += 1,
            TaskState::Scheduled => l.scheduled += 1,
            TaskState::Idle => l.idle += 1,
            TaskState::Done => l.done += 1,
        }
        if let Some(size) = t.size_bytes {
            l.sized += 1;
            l.size_min = l.size_min.min(size);
            l.size_max = l.size_max.max(size);
            l.size_sum = l.size_sum.saturating_add(size);
        }
        if t.boxed {
            l.boxed += 1;
        }
    }
    let mut out: Vec<Location> = map
        .into_values()
        .map(|mut l| {
            if l.sized == 0 {
                l.size_min = 0;
            }
            l
        })
        .collect();
    out.sort_by(|a, b| {
        b.size_sum
            .cmp(&a.size_sum)
            .then(b.tasks.cmp(&a.tasks))
            .then(a.location.cmp(&b.location))
    });
    out
}

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

    pub fn explain(self, large_future_bytes: u64) -> String {
        match self {
            Lint::LargeFuture => format!("large future (>= {large_future_bytes} B): everything alive across an .await is stored in it; drop or box big locals before awaiting"),
            Lint::AutoBoxed => "auto-boxed: the future was so large that tokio moved it to the heap (an extra allocation); the size shown is the real one".to_string(),
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
            large_future_bytes: 1024,
            never_yielded_ns: 1_000_000_000,
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
        && t.kind != super::TaskKind::BlockOn
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(tasks: u64, rss: u64) -> Sample {
        Sample {
            live_tasks: tasks,
            rss_bytes: rss,
            ..Default::default()
        }
    }

    #[test]
    fn exact_line_is_recovered() {
        let s: Vec<Sample> = (0..20)
            .map(|i| sample(i * 100, 10_000_000 + i * 100 * 700))
            .collect();
        let f = bytes_per_task(s.iter()).unwrap();
        assert!((f.slope - 700.0).abs() < 1e-6, "{f:?}");
        assert!((f.intercept - 10_000_000.0).abs() < 1e-3);
        assert!((f.r2 - 1.0).abs() < 1e-9);
        assert_eq!((f.samples, f.min_tasks, f.max_tasks), (20, 0, 1900));
    }

    #[test]
    fn noisy_line_has_a_lower_fit() {
        // 4 KiB per task, with +-64 KiB of alternating noise.
        let s: Vec<Sample> = (0..50)
            .map(|i| {
                let noise: i64 = if i % 2 == 0 { 65_536 } else { -65_536 };
                sample(
                    1000 + i * 50,
                    (50_000_000 + (1000 + i * 50) as i64 * 4096 + noise) as u64,
                )
            })
            .collect();
        let f = bytes_per_task(s.iter()).unwrap();
        assert!((f.slope - 4096.0).abs() < 100.0, "{f:?}");
        assert!(f.r2 > 0.9 && f.r2 < 1.0, "{f:?}");
    }

    #[test]
    fn two_slopes_are_told_apart() {
        let small: Vec<Sample> = (0..10)
            .map(|i| sample(i * 1000, 5_000_000 + i * 1000 * 1_300))
            .collect();
        let big: Vec<Sample> = (0..10)
            .map(|i| sample(i * 1000, 5_000_000 + i * 1000 * 5_400))
            .collect();
        let d =
            bytes_per_task(big.iter()).unwrap().slope - bytes_per_task(small.iter()).unwrap().slope;
        assert!((d - 4_100.0).abs() < 1.0);
    }

    fn task(size: Option<u64>, boxed: bool, stats: crate::model::TaskStats) -> Task {
        Task {
            uid: 1,
            console_id: 1,
            task_id: Some(1),
            name: Sym::NONE,
            location: Sym::NONE,
            kind: crate::model::TaskKind::Task,
            announced: true,
            boxed,
            size_bytes: size,
            stats,
        }
    }

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
        assert_eq!(
            of(&task(Some(8), false, half)),
            vec![],
            "exactly half is not over half"
        );
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
        assert_eq!(
            of(&task(Some(8), false, brief)),
            vec![],
            "running briefly is fine"
        );
        let done_lost = TaskStats {
            dropped_at: 3 * sec,
            ..lost
        };
        assert_eq!(
            of(&task(Some(8), false, done_lost)),
            vec![],
            "a done task has no waker to lose"
        );
    }

    #[test]
    fn locations_aggregate_sizes_and_states() {
        use crate::model::TaskStats;
        let stats = TaskStats {
            created_at: 1,
            ..Default::default()
        };
        let mut a1 = task(Some(100), false, stats);
        a1.location = Sym::NONE;
        let a2 = task(
            Some(300),
            true,
            TaskStats {
                dropped_at: 5,
                ..stats
            },
        );
        let a3 = task(None, false, stats);
        let locs = by_location([a1, a2, a3].iter());
        assert_eq!(locs.len(), 1);
        let l = &locs[0];
        assert_eq!((l.tasks, l.idle, l.done, l.sized, l.boxed), (3, 2, 1, 2, 1));
        assert_eq!(
            (l.size_min, l.size_max, l.size_sum, l.size_mean()),
            (100, 300, 400, Some(200))
        );
    }

    #[test]
    fn refuses_to_fit_what_cannot_be_fitted() {
        assert_eq!(
            bytes_per_task([sample(1, 1), sample(2, 2)].iter()),
            Err(NoFit::TooFewSamples(2))
        );
        let flat: Vec<Sample> = (0..10)
            .map(|i| sample(500 + i % 3, 1_000_000 + i))
            .collect();
        assert!(matches!(
            bytes_per_task(flat.iter()),
            Err(NoFit::TaskCountFlat { min: 500, max: 502 })
        ));
        // RSS that never moves while tasks come and go: slope 0, and no fit to speak of
        let flat_rss: Vec<Sample> = (0..10).map(|i| sample(i * 100, 7_000_000)).collect();
        let f = bytes_per_task(flat_rss.iter()).unwrap();
        assert_eq!((f.slope, f.r2), (0.0, 0.0));
        // samples without RSS (no local pid) are not data
        let no_rss: Vec<Sample> = (0..10).map(|i| sample(i * 100, 0)).collect();
        assert_eq!(bytes_per_task(no_rss.iter()), Err(NoFit::TooFewSamples(0)));
    }
}
