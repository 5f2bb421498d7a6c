//! `snapshot --format json`: the model as one JSON document with stable names.

use serde::Serialize;

use super::{tasks_by_size, TargetInfo};
use crate::insight::{self, BytesPerTask, LintConfig, LintCounts};
use crate::model::{Counts, Model, Task, TaskState};

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
    /// Whether the picture holds every task of the target (false: see `incomplete_reason`).
    pub complete: bool,
    pub incomplete_reason: Option<String>,
    pub instrumentation: InstrumentationOut,
    pub bytes_per_task: BytesPerTask,
    /// The heap tasks hold, where the target's allocator counts it (null: not known).
    pub heap: Option<HeapOut>,
    /// What live tasks explain of RSS (`insight::explained`).
    pub explained: insight::Explained,
    pub lag: LagOut,
    pub lints: Vec<LintCount>,
    pub warnings: Vec<WarningOut>,
    pub locations: Vec<LocationOut<'a>>,
    /// The per-location history on the chart's axis: the tracked locations and what is folded.
    pub location_history: LocationHistoryOut<'a>,
    pub tasks: Vec<TaskOut<'a>>,
    /// With `--layout FILE`: the live tasks joined to the compile-time layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<super::joined::LayoutSection<'a>>,
    /// With `--dump`: where the tasks are parked (see [`super::dump`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dump: Option<super::dump::DumpSection<'a>>,
}

/// The heap as the target's allocator counts it (asyncmem-probe's `Allocator`).
#[derive(Serialize)]
pub struct HeapOut {
    /// Held by live tasks: bytes, blocks, and the largest peak of one task.
    pub live_tasks: crate::model::HeapBytes,
    /// Live tasks holding any heap.
    pub holding_tasks: u64,
    /// Allocated outside any poll (the runtime's, the main thread's), still live.
    pub outside_tasks: Option<crate::model::HeapBytes>,
    /// Allocated by tasks that have ended, still live.
    pub left_by_ended_tasks: Option<crate::model::HeapBytes>,
}

fn heap_out(model: &Model) -> Option<HeapOut> {
    let h = model.heap();
    Some(HeapOut {
        live_tasks: h.live()?,
        holding_tasks: h.holding_tasks().unwrap_or(0),
        outside_tasks: h.outside_tasks(),
        left_by_ended_tasks: h.left_by_ended_tasks(),
    })
}

#[derive(Serialize)]
pub struct InstrumentationOut {
    pub name: &'static str,
    /// Estimated target RSS the instrumentation adds per live task (null: not known).
    pub estimated_bytes_per_task: Option<u64>,
}

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
    /// The heap its live tasks hold (null: not known): sum, mean over its live tasks, max.
    pub heap_bytes_sum: Option<u64>,
    pub heap_bytes_mean: Option<u64>,
    pub heap_bytes_max: Option<u64>,
}

/// The per-location history (`model::LocationSeries`) summed up: each tracked location's
/// first and last point in the chart's window and its peak; the locations folded into "other".
#[derive(Serialize)]
pub struct LocationHistoryOut<'a> {
    /// Locations with a history of their own (the top K by peak live tasks).
    pub capacity: usize,
    pub samples: usize,
    pub tracked: Vec<TrackedOut<'a>>,
    /// "other" (every location without a column) at the first and last sample.
    pub other_first: Option<crate::model::LocationLive>,
    pub other_last: Option<crate::model::LocationLive>,
    /// Locations with live tasks now that have no column of their own.
    pub folded_locations: usize,
    /// Columns given up so far to a location that rose past them.
    pub displaced: u64,
}

#[derive(Serialize)]
pub struct TrackedOut<'a> {
    pub location: &'a str,
    /// When its column starts (wall clock, ns): before it, the location was in "other".
    pub since_ns: i64,
    pub peak_live_tasks: u64,
    pub first: crate::model::LocationLive,
    pub last: crate::model::LocationLive,
}

fn location_history(model: &Model) -> LocationHistoryOut<'_> {
    let h = model.location_series();
    LocationHistoryOut {
        capacity: h.capacity(),
        samples: h.len(),
        tracked: h
            .tracked()
            .iter()
            .map(|t| TrackedOut {
                location: model.resolve(t.location),
                since_ns: t.since,
                peak_live_tasks: t.peak_live_tasks,
                first: t.first(),
                last: t.last(),
            })
            .collect(),
        other_first: h.other().next().copied(),
        other_last: h.other().next_back().copied(),
        folded_locations: h.folded(model.by_location()).count(),
        displaced: h.displaced(),
    }
}

/// Tasks by poll state.
#[derive(Serialize)]
pub struct States {
    pub running: u64,
    pub scheduled: u64,
    pub idle: u64,
    pub done: u64,
}

impl States {
    /// The four counts of `of`, by state.
    fn of(of: impl Fn(TaskState) -> u64) -> States {
        States {
            running: of(TaskState::Running),
            scheduled: of(TaskState::Scheduled),
            idle: of(TaskState::Idle),
            done: of(TaskState::Done),
        }
    }
}

impl From<&Counts> for States {
    fn from(c: &Counts) -> States {
        States::of(|s| c.of(s))
    }
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
    /// The heap the task holds (null: not known, or the task is done), its live blocks, and
    /// its peak since spawn.
    pub heap_bytes: Option<u64>,
    pub heap_blocks: Option<u64>,
    pub heap_peak_bytes: Option<u64>,
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

/// One task as a flat record (the JSON's `tasks` and the CSV's rows). `lints`: the task's lint
/// bits (`insight::lints`), computed once by the caller.
pub fn task_out<'a>(model: &'a Model, t: &Task, lints: u8) -> TaskOut<'a> {
    let s = &t.stats;
    let non_empty = |sym| Some(model.resolve(sym)).filter(|s: &&str| !s.is_empty());
    let heap = model.heap_of(t);
    TaskOut {
        id: t.console_id,
        task_id: t.task_id,
        name: non_empty(t.name),
        kind: t.kind.as_str(),
        state: t.state().as_str(),
        size_bytes: t.size_bytes,
        boxed: t.boxed,
        heap_bytes: heap.map(|h| h.bytes),
        heap_blocks: heap.map(|h| h.blocks),
        heap_peak_bytes: heap.map(|h| h.peak_bytes),
        polls: s.polls,
        busy_ns: t.busy_ns(model.now()),
        scheduled_ns: s.scheduled_ns,
        idle_ns: t.idle_ns(model.now()),
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

pub fn snapshot<'a>(
    model: &'a Model,
    target: &'a TargetInfo,
    lint_cfg: &LintConfig,
) -> Snapshot<'a> {
    let c = model.counts();
    let rss = model.last_rss();
    let incomplete = model.incomplete_reason();
    let mut lint_counts = LintCounts::default();
    let tasks: Vec<TaskOut<'a>> = tasks_by_size(model)
        .into_iter()
        .map(|t| {
            let lints = insight::lints(t, model.now(), lint_cfg);
            lint_counts.add_task(t, lints, false);
            task_out(model, t, lints)
        })
        .collect();
    Snapshot {
        pid: target.pid,
        endpoint: &target.endpoint,
        console_now_ns: model.now(),
        rss_bytes: rss.map(|r| r.rss_bytes),
        anon_rss_bytes: rss.map(|r| r.anon_rss_bytes),
        threads: rss.map(|r| r.threads),
        live_tasks: c.live(),
        tasks_by_state: States::from(&c),
        future_bytes: c.future_bytes,
        sized_tasks: c.sized,
        updates: model.updates(),
        complete: incomplete.is_none(),
        incomplete_reason: incomplete,
        instrumentation: InstrumentationOut {
            name: model.instrumentation().as_str(),
            estimated_bytes_per_task: insight::instrumentation_bytes_per_task(
                model.instrumentation(),
            ),
        },
        bytes_per_task: insight::bytes_per_task(model, None),
        heap: heap_out(model),
        explained: insight::explained(model),
        lag: LagOut {
            missing_tasks_estimate: model.lag().missing_estimate(),
            last_announce_lag_ns: model.lag().last_announce_lag_ns,
            max_announce_lag_ns: model.lag().max_announce_lag_ns,
            dropped_events: model
                .warnings()
                .get(crate::model::WarningKind::DroppedEvents)
                .map_or(0, |w| w.count),
        },
        lints: insight::Lint::ALL
            .iter()
            .map(|l| LintCount {
                lint: l.as_str(),
                tasks: lint_counts.of(*l),
                explanation: l.explain(lint_cfg.large_future_bytes),
            })
            .collect(),
        warnings: model
            .warnings()
            .iter()
            .map(|w| WarningOut {
                kind: w.kind.as_str(),
                count: w.count,
                message: w.message(),
            })
            .collect(),
        locations: insight::by_location(model.tasks())
            .into_iter()
            .map(|l| {
                let heap = model.heap().location(l.location);
                LocationOut {
                    location: model.resolve(l.location),
                    tasks: l.tasks,
                    states: States::of(|s| l.of(s)),
                    size_bytes_sum: l.size_sum,
                    size_bytes_min: (l.sized > 0).then_some(l.size_min),
                    size_bytes_mean: l.size_mean(),
                    size_bytes_max: (l.sized > 0).then_some(l.size_max),
                    boxed: l.boxed,
                    heap_bytes_sum: heap.map(|h| h.bytes),
                    heap_bytes_mean: heap.and_then(|h| h.bytes.checked_div(l.live())),
                    heap_bytes_max: heap.map(|h| h.max_bytes),
                }
            })
            .collect(),
        location_history: location_history(model),
        tasks,
        layout: None,
        dump: None,
    }
}

pub fn write<'a>(
    out: &mut impl std::io::Write,
    model: &'a Model,
    target: &TargetInfo,
    lint_cfg: &LintConfig,
    incomplete: Option<&str>,
    layout: Option<&crate::insight::layout::LayoutJoin>,
    dump: Option<super::dump::DumpSection<'a>>,
) -> std::io::Result<()> {
    let mut snap = snapshot(model, target, lint_cfg);
    snap.layout = layout.map(|join| super::joined::section(model, join));
    snap.dump = dump;
    if let Some(reason) = incomplete {
        snap.complete = false;
        snap.incomplete_reason = Some(reason.to_string());
    }
    serde_json::to_writer_pretty(&mut *out, &snap)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synth::*;

    #[test]
    fn the_location_history_says_what_is_tracked_and_what_is_folded() {
        // 20 spawn lines, line L with L tasks: the 16 largest get a column, 4 are folded.
        let mut m = Model::default();
        let (mut tasks, mut created, mut id) = (Vec::new(), Vec::new(), 1);
        for line in 1..=20u32 {
            for _ in 0..line {
                tasks.push(at_line(id, 64, line));
                created.push((id, stats(SEC)));
                id += 1;
            }
        }
        m.apply_update(&update(SEC, true, tasks, created));
        rss(&mut m, SEC, 1 << 20);
        rss(&mut m, 2 * SEC, 1 << 20);
        let target = TargetInfo {
            pid: None,
            endpoint: "x".into(),
        };
        let json = serde_json::to_value(snapshot(&m, &target, &LintConfig::default()))
            .expect("serialized");
        let h = &json["location_history"];
        assert_eq!(h["samples"], 2);
        assert_eq!(h["tracked"].as_array().map(Vec::len), Some(16));
        assert_eq!(h["tracked"][0]["location"], "src/main.rs:20:5");
        assert_eq!(h["tracked"][0]["last"]["live_tasks"], 20);
        assert_eq!(h["folded_locations"], 4);
        // Lines 1 to 4 hold 10 tasks: "other".
        assert_eq!(h["other_last"]["live_tasks"], 10);
    }
}
