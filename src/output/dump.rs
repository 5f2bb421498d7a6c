//! `snapshot --dump`: where the tasks wait, from a task dump. The tasks grouped by parked-at
//! point (count, share of live tasks, their futures' bytes), the dump's own cost (how long it
//! held the target's workers), and in JSON every task's traces.

use std::io::{self, Write};

use serde::Serialize;

use crate::insight::dump::{self as parked, Group, Kind, ParkedAt};
use crate::insight::layout::LayoutJoin;
use crate::model::Model;
use crate::present::units::bytes;
use crate::present::{escape, location};
use crate::source::dump::Dump;

#[derive(Serialize)]
pub struct DumpSection<'a> {
    /// How long the dump held the target's runtime workers (an upper bound of the pause).
    pub pause_ms: f64,
    /// How long resolving the backtraces took (on the probe's own threads, not the target's
    /// workers).
    pub resolve_ms: f64,
    pub runtimes: u32,
    /// Tasks in the dump, and those past `--max-tasks` that were not kept.
    pub tasks: u64,
    pub left_out: u64,
    /// What the target did not dump, and why.
    pub notes: &'a [String],
    /// Tasks whose trace has no frame of the target's own code (release builds).
    pub leaf_only_tasks: u64,
    /// With a layout: the parked futures' bytes that no state they are in uses, summed.
    pub slack_bytes: Option<u64>,
    pub groups: Vec<Group>,
    pub traces: Vec<TaskOut<'a>>,
}

#[derive(Serialize)]
pub struct TaskOut<'a> {
    /// tokio's task id; the console id where the picture knows the task.
    pub task_id: u64,
    pub console_id: Option<u64>,
    pub parked_at: ParkedAt,
    /// The await the spawned future itself is at (its outermost frame in the target's code).
    pub task_await: Option<ParkedAt>,
    /// Frames or backtraces left out past the probe's bounds.
    pub cut: bool,
    pub backtraces: Vec<Vec<FrameOut<'a>>>,
}

#[derive(Serialize)]
pub struct FrameOut<'a> {
    pub function: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub col: u32,
}

pub fn section<'a>(dump: &'a Dump, model: &Model, join: Option<&LayoutJoin>) -> DumpSection<'a> {
    let console_ids: std::collections::HashMap<u64, u64> = model
        .tasks()
        .filter_map(|t| t.task_id.map(|id| (id, t.console_id)))
        .collect();
    let groups = parked::groups(&dump.tasks, model, join);
    let root = parked::source_root(&dump.tasks, model);
    let root = root.as_deref();
    let slack_bytes = groups
        .iter()
        .filter_map(|g| g.slack.as_ref())
        .map(|s| s.slack_bytes)
        .sum();
    let leaf_only_tasks = groups
        .iter()
        .filter(|g| g.parked_at.kind != Kind::Own)
        .map(|g| g.tasks)
        .sum();
    let s = &dump.summary;
    DumpSection {
        pause_ms: s.pause_us as f64 / 1000.0,
        resolve_ms: s.resolve_us as f64 / 1000.0,
        runtimes: s.runtimes,
        tasks: s.tasks,
        left_out: dump.left_out,
        notes: &s.notes,
        leaf_only_tasks,
        slack_bytes: join.map(|_| slack_bytes),
        groups,
        traces: dump
            .tasks
            .iter()
            .map(|t| TaskOut {
                task_id: t.task_id,
                console_id: console_ids.get(&t.task_id).copied(),
                parked_at: parked::parked_at(t).under(root),
                task_await: parked::task_await(t).map(|a| a.under(root)),
                cut: t.cut,
                backtraces: t
                    .backtraces
                    .iter()
                    .map(|b| {
                        b.frames
                            .iter()
                            .map(|f| FrameOut {
                                function: &f.function,
                                file: &f.file,
                                line: f.line,
                                col: f.col,
                            })
                            .collect()
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Groups the table lists (the rest are counted in one line).
const GROUPS_SHOWN: usize = 30;

pub fn write_table(out: &mut impl Write, s: &DumpSection, width: usize) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "task dump: {} tasks of {} runtime(s); the target's workers were held {:.1} ms (backtraces resolved in {:.1} ms on the probe's own threads)",
        s.tasks, s.runtimes, s.pause_ms, s.resolve_ms
    )?;
    for note in s.notes {
        writeln!(out, "  note: {}", escape(note))?;
    }
    if s.left_out > 0 {
        writeln!(out, "  {} tasks past --max-tasks not kept", s.left_out)?;
    }
    if s.leaf_only_tasks > 0 {
        writeln!(
            out,
            "  {} task(s) show only tokio's leaf resource: their traces have no frame of your code (a release build inlines async fns into the task's poll; a debug build, or opt-level 0 for your crate, names each await)",
            s.leaf_only_tasks
        )?;
    }
    writeln!(
        out,
        "{:>8} {:>7} {:>10}  PARKED AT",
        "TASKS", "SHARE", "FUTURES"
    )?;
    let room = width.saturating_sub(30).max(20);
    for g in s.groups.iter().take(GROUPS_SHOWN) {
        writeln!(
            out,
            "{:>8} {:>6.1}% {:>10}  {}",
            g.tasks,
            g.share * 100.0,
            bytes(g.future_bytes),
            location::fit(&escape(&g.parked_at.text()), room)
        )?;
        if let Some(sl) = &g.slack {
            let e = &sl.example;
            let share = e.size.saturating_sub(e.alive) as f64 * 100.0 / e.size.max(1) as f64;
            let holds = e
                .largest_holds
                .as_ref()
                .map_or(String::new(), |(name, size)| {
                    format!(" holds {} {}", escape(name), bytes(*size))
                });
            writeln!(
                out,
                "{:28}{}: {} alive of {} ({share:.0} % slack: {}{holds})",
                "",
                e.state,
                bytes(e.alive),
                bytes(e.size),
                e.largest_state
            )?;
            if e.boxing_saves > 0 {
                writeln!(
                    out,
                    "{:28}boxing that would save about {} per task ({} over these {} tasks)",
                    "",
                    bytes(e.boxing_saves),
                    bytes(e.boxing_saves.saturating_mul(sl.tasks)),
                    sl.tasks
                )?;
            }
        }
    }
    if let Some(total) = s.slack_bytes {
        writeln!(
            out,
            "  with the layout: {} of the parked futures' bytes are slack (paid for a larger state than the one each task is in)",
            bytes(total)
        )?;
    }
    if s.groups.len() > GROUPS_SHOWN {
        let rest: u64 = s.groups[GROUPS_SHOWN..].iter().map(|g| g.tasks).sum();
        writeln!(
            out,
            "{:>8}          {:>10}  ({} more points; JSON has them all)",
            rest,
            "",
            s.groups.len() - GROUPS_SHOWN
        )?;
    }
    Ok(())
}
