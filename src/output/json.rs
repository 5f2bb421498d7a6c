//! `snapshot --format json`: the model as one JSON document with stable names.

use serde::Serialize;

use super::{tasks_by_size, TargetInfo};
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
    pub warnings: Vec<WarningOut>,
    pub tasks: Vec<TaskOut<'a>>,
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
}

fn nonzero(t: i64) -> Option<i64> {
    (t != 0).then_some(t)
}

fn task_out<'a>(model: &'a Model, t: &Task) -> TaskOut<'a> {
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
    }
}

pub fn snapshot<'a>(model: &'a Model, target: &'a TargetInfo) -> Snapshot<'a> {
    let c = model.counts();
    let rss = model.last_rss;
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
        warnings: model
            .warnings
            .iter()
            .map(|w| WarningOut {
                kind: w.kind.as_str(),
                count: w.count,
                message: w.message(),
            })
            .collect(),
        tasks: tasks_by_size(model)
            .into_iter()
            .map(|t| task_out(model, t))
            .collect(),
    }
}

pub fn write(
    out: &mut impl std::io::Write,
    model: &Model,
    target: &TargetInfo,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &snapshot(model, target))?;
    writeln!(out)
}
