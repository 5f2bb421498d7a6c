//! `snapshot --format json`: the model as one JSON document with stable names.

use serde::Serialize;

use super::{tasks_by_size, TargetInfo};
use crate::model::insight::{self, LintConfig};
use crate::model::{Model, Task};

#[derive(Serialize)]
pub struct Snapshot<'a> {
    pub pid: Option<i32>,
    pub endpoint: &'a str,
    /// `Update.now` of the latest console update, nanoseconds since the Unix epoch.
    pub console_now_ns: i64,
    pub rss_bytes: Option<u64>,
    pub anon_rss_bytes: Option<u64>,
    pub threads: Option<u64>,
    pub live_tasks: u64,
    pub tasks_by_state: States,
    /// Sum of the future sizes of live tasks whose size is known.
    pub future_bytes: u64,
    /// Live tasks whose future size is known.
    pub sized_tasks: u64,
    pub updates: u64,
    pub instrumentation: InstrumentationOut,
    pub bytes_per_task: BytesPerTask,
    pub lag: LagOut,
    pub lints: Vec<LintCount>,
    pub warnings: Vec<WarningOut>,
    pub locations: Vec<LocationOut<'a>>,
    pub tasks: Vec<TaskOut<'a>>,
}

#[derive(Serialize)]
pub struct InstrumentationOut {
    pub name: &'static str,
    /// Estimated target RSS the instrumentation adds per live task (null: not known).
    pub estimated_bytes_per_task: Option<u64>,
}

/// The slope of RSS over live tasks, and how it splits.
#[derive(Serialize, Default)]
pub struct BytesPerTask {
    /// Bytes of RSS per live task (null when no line could be fitted; see `reason`).
    pub slope: Option<f64>,
    pub intercept_bytes: Option<f64>,
    pub r2: Option<f64>,
    pub samples: usize,
    pub min_tasks: Option<u64>,
    pub max_tasks: Option<u64>,
    /// Mean future size of live tasks (the part of a task's cost that is its state).
    pub mean_future_bytes: Option<u64>,
    /// The slope less the instrumentation's estimated share.
    pub corrected_slope: Option<f64>,
    /// The corrected slope less the mean future: task cell, heap the future points to, ...
    pub other_bytes_per_task: Option<f64>,
    pub reason: Option<String>,
    /// Why the slope should not be trusted now, if it should not (the subscriber announces
    /// tasks late, so RSS and the task count are out of step).
    pub caveat: Option<String>,
}

/// Announce lag past which RSS and the announced task count are out of step.
pub const LAG_CAVEAT_NS: u64 = 2_000_000_000;

#[derive(Serialize)]
pub struct LagOut {
    /// Tokio task ids between the first picture's largest and the largest announced since that
    /// were never announced (a lower bound of the tasks the picture misses).
    pub missing_tasks_estimate: Option<u64>,
    pub last_announce_lag_ns: u64,
    pub max_announce_lag_ns: u64,
    pub dropped_events: u64,
}

#[derive(Serialize)]
pub struct LintCount {
    pub lint: &'static str,
    pub tasks: u64,
    pub explanation: String,
}

#[derive(Serialize)]
pub struct LocationOut<'a> {
    pub location: &'a str,
    pub tasks: u64,
    pub states: States,
    pub size_bytes_sum: u64,
    pub size_bytes_min: Option<u64>,
    pub size_bytes_mean: Option<u64>,
    pub size_bytes_max: Option<u64>,
    pub boxed: u64,
}

#[derive(Serialize)]
pub struct States {
    pub running: u64,
    pub scheduled: u64,
    pub idle: u64,
    pub done: u64,
}

#[derive(Serialize)]
pub struct WarningOut {
    pub kind: &'static str,
    pub count: u64,
    pub message: String,
}

#[derive(Serialize)]
pub struct TaskOut<'a> {
    pub id: u64,
    pub task_id: Option<u64>,
    pub name: Option<&'a str>,
    pub kind: &'static str,
    pub state: &'static str,
    pub size_bytes: Option<u64>,
    pub boxed: bool,
    pub polls: u64,
    pub busy_ns: u64,
    pub scheduled_ns: u64,
    pub idle_ns: u64,
    pub wakes: u64,
    pub waker_clones: u64,
    pub waker_drops: u64,
    pub live_wakers: u64,
    pub self_wakes: u64,
    pub created_at_ns: Option<i64>,
    pub dropped_at_ns: Option<i64>,
    pub location: Option<&'a str>,
    pub announced: bool,
    pub lints: Vec<&'static str>,
}

fn nonzero(t: i64) -> Option<i64> {
    (t != 0).then_some(t)
}

/// `lints`: the task's lint bits (`insight::lints`), computed once by the caller.
fn task_out<'a>(model: &'a Model, t: &Task, lints: u8) -> TaskOut<'a> {
    let s = &t.stats;
    let non_empty = |sym| Some(model.resolve(sym)).filter(|s: &&str| !s.is_empty());
    TaskOut {
        id: t.console_id,
        task_id: t.task_id,
        name: non_empty(t.name),
        kind: t.kind.as_str(),
        state: t.state().as_str(),
        size_bytes: t.size_bytes,
        boxed: t.boxed,
        polls: s.polls,
        busy_ns: s.busy_ns,
        scheduled_ns: s.scheduled_ns,
        idle_ns: t.idle_ns(model.now),
        wakes: s.wakes,
        waker_clones: s.waker_clones,
        waker_drops: s.waker_drops,
        live_wakers: t.live_wakers(),
        self_wakes: s.self_wakes,
        created_at_ns: nonzero(s.created_at),
        dropped_at_ns: nonzero(s.dropped_at),
        location: non_empty(t.location),
        announced: t.announced,
        lints: insight::lint_list(lints).map(|l| l.as_str()).collect(),
    }
}

/// The slope of the model's series, split into instrumentation, future and the rest.
/// Over the last `window` of the series, or all of it.
pub fn bytes_per_task(model: &Model, window: Option<std::time::Duration>) -> BytesPerTask {
    let c = model.counts();
    let mean_future = c.future_bytes.checked_div(c.sized);
    let last = model.series.last().map_or(0, |s| s.at);
    let from = window.map_or(i64::MIN, |w| {
        last.saturating_sub(crate::model::time::nanos_of(w))
    });
    match insight::bytes_per_task(model.series.samples().filter(|s| s.at >= from)) {
        Ok(fit) => {
            let corrected = insight::instrumentation_bytes_per_task(model.instrumentation)
                .map(|i| fit.slope - i as f64);
            BytesPerTask {
                slope: Some(fit.slope),
                intercept_bytes: Some(fit.intercept),
                r2: Some(fit.r2),
                samples: fit.samples,
                min_tasks: Some(fit.min_tasks),
                max_tasks: Some(fit.max_tasks),
                mean_future_bytes: mean_future,
                corrected_slope: corrected,
                other_bytes_per_task: corrected.zip(mean_future).map(|(c, m)| c - m as f64),
                reason: None,
                caveat: model.lag.current(model.now).filter(|l| *l > LAG_CAVEAT_NS).map(|l| {
                    format!(
                        "the subscriber announces tasks {} after they are spawned: RSS and the task count are out of step",
                        crate::output::units::duration_ns(l)
                    )
                }),
            }
        }
        Err(why) => BytesPerTask {
            samples: model.series.len(),
            mean_future_bytes: mean_future,
            reason: Some(why.reason()),
            ..Default::default()
        },
    }
}

pub fn snapshot<'a>(
    model: &'a Model,
    target: &'a TargetInfo,
    lint_cfg: &LintConfig,
) -> Snapshot<'a> {
    let c = model.counts();
    let rss = model.last_rss;
    let mut lint_counts = [0u64; insight::Lint::ALL.len()];
    let tasks: Vec<TaskOut<'a>> = tasks_by_size(model)
        .into_iter()
        .map(|t| {
            let lints = insight::lints(t, model.now, lint_cfg);
            for l in insight::lint_list(lints) {
                lint_counts[l as usize] += 1;
            }
            task_out(model, t, lints)
        })
        .collect();
    Snapshot {
        pid: target.pid,
        endpoint: &target.endpoint,
        console_now_ns: model.now,
        rss_bytes: rss.map(|r| r.rss_bytes),
        anon_rss_bytes: rss.map(|r| r.anon_rss_bytes),
        threads: rss.map(|r| r.threads),
        live_tasks: c.live(),
        tasks_by_state: States {
            running: c.running,
            scheduled: c.scheduled,
            idle: c.idle,
            done: c.done,
        },
        future_bytes: c.future_bytes,
        sized_tasks: c.sized,
        updates: model.updates,
        instrumentation: InstrumentationOut {
            name: model.instrumentation.as_str(),
            estimated_bytes_per_task: insight::instrumentation_bytes_per_task(
                model.instrumentation,
            ),
        },
        bytes_per_task: bytes_per_task(model, None),
        lag: LagOut {
            missing_tasks_estimate: model.lag.missing_estimate(),
            last_announce_lag_ns: model.lag.last_announce_lag_ns,
            max_announce_lag_ns: model.lag.max_announce_lag_ns,
            dropped_events: model
                .warnings
                .get(crate::model::WarningKind::DroppedEvents)
                .map_or(0, |w| w.count),
        },
        lints: insight::Lint::ALL
            .iter()
            .map(|l| LintCount {
                lint: l.as_str(),
                tasks: lint_counts[*l as usize],
                explanation: l.explain(lint_cfg.large_future_bytes),
            })
            .collect(),
        warnings: model
            .warnings
            .iter()
            .map(|w| WarningOut {
                kind: w.kind.as_str(),
                count: w.count,
                message: w.message(),
            })
            .collect(),
        locations: insight::by_location(model.tasks())
            .into_iter()
            .map(|l| LocationOut {
                location: model.resolve(l.location),
                tasks: l.tasks,
                states: States {
                    running: l.running,
                    scheduled: l.scheduled,
                    idle: l.idle,
                    done: l.done,
                },
                size_bytes_sum: l.size_sum,
                size_bytes_min: (l.sized > 0).then_some(l.size_min),
                size_bytes_mean: l.size_mean(),
                size_bytes_max: (l.sized > 0).then_some(l.size_max),
                boxed: l.boxed,
            })
            .collect(),
        tasks,
    }
}

pub fn write(
    out: &mut impl std::io::Write,
    model: &Model,
    target: &TargetInfo,
    lint_cfg: &LintConfig,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &snapshot(model, target, lint_cfg))?;
    writeln!(out)
}
