//! `--layout FILE` in `snapshot`: what the compile-time layout says about the live tasks, per
//! spawn location and size (the match and how sure it is, the future type, its task cell, its
//! largest state with the await it is parked at and the fields held there), and the bill per
//! task set beside the measured RSS slope. As JSON (`layout`) and as a table section.

use std::io::{self, Write};

use serde::Serialize;

use crate::insight::layout::{
    cell_size, largest_fields, largest_state, How, Joined, LayoutJoin, Match,
};
use crate::insight::{self, Reading};
use crate::layout::model::{AwaitPoint, Field, FieldKind, Future, Layout, State};
use crate::model::{Model, TaskState};
use crate::present::layout::{await_text, field_text, short_type, TYPE_WIDTH};
use crate::present::units::bytes;
use crate::present::{escape, location};

/// Fields listed per state (the largest first).
const FIELDS_SHOWN: usize = 5;

#[derive(Serialize)]
pub struct LayoutSection<'a> {
    /// The layout itself, for the table's text.
    #[serde(skip)]
    pub layout: &'a Layout,
    pub toolchain: &'a str,
    pub package: &'a str,
    pub profile: &'a str,
    pub live_tasks: u64,
    /// Live tasks matched exactly to a spawned future type with a known task cell.
    pub matched_tasks: u64,
    /// Mean over the matched tasks of their cell (future + tokio's header, trailer, padding).
    pub cell_bytes_per_task: Option<u64>,
    /// Mean over the matched tasks of the futures tokio boxed (a heap block beside the cell).
    pub boxed_future_bytes_per_task: Option<u64>,
    /// The instrumentation's estimated bytes per task (as `instrumentation` says).
    pub instrumentation_bytes_per_task: Option<u64>,
    /// Cell + boxed future + instrumentation: what the layout accounts for per matched task.
    pub bytes_per_task: Option<u64>,
    /// The measured RSS slope (bytes per live task), when one was fitted and trusted.
    pub rss_slope_bytes_per_task: Option<f64>,
    /// `bytes_per_task / rss_slope_bytes_per_task`.
    pub share_of_slope: Option<f64>,
    pub locations: Vec<JoinedOut<'a>>,
}

#[derive(Serialize)]
pub struct JoinedOut<'a> {
    pub location: &'a str,
    pub size_bytes: Option<u64>,
    pub live_tasks: u64,
    /// `exact`, `block_on` (the future a runtime's `block_on` was given, which the console
    /// shows as a task), `ambiguous` or `none`.
    #[serde(rename = "match")]
    pub matched: &'static str,
    /// For `exact`: `size` (one spawned type has it) or `size_and_location`.
    pub how: Option<&'static str>,
    /// For `none`: why.
    pub reason: Option<String>,
    /// For `ambiguous`: the types that have the size.
    pub candidates: Vec<&'a str>,
    pub future: Option<&'a str>,
    pub boxed_by_tokio: Option<bool>,
    pub cell_bytes: Option<u64>,
    pub largest_state: Option<StateOut<'a>>,
}

#[derive(Serialize)]
pub struct StateOut<'a> {
    #[serde(skip)]
    pub state: &'a State,
    pub name: &'a str,
    pub size_bytes: u64,
    pub await_point: Option<&'a AwaitPoint>,
    pub fields: Vec<FieldOut<'a>>,
}

#[derive(Serialize)]
pub struct FieldOut<'a> {
    #[serde(skip)]
    pub field: &'a Field,
    pub kind: FieldKind,
    pub name: &'a str,
    pub size_bytes: u64,
    #[serde(rename = "type")]
    pub ty: Option<&'a str>,
}

fn state_out(s: &State) -> StateOut<'_> {
    let fields = largest_fields(s);
    StateOut {
        state: s,
        name: &s.name,
        size_bytes: s.size,
        await_point: s.await_point.as_ref(),
        fields: fields
            .into_iter()
            .take(FIELDS_SHOWN)
            .map(|f| FieldOut {
                field: f,
                kind: f.kind,
                name: &f.name,
                size_bytes: f.size,
                ty: f.ty.as_deref(),
            })
            .collect(),
    }
}

fn joined_out<'a>(join: &'a LayoutJoin, loc: &'a str, j: &Joined) -> JoinedOut<'a> {
    let ix = join.index();
    let mut out = JoinedOut {
        location: loc,
        size_bytes: j.size,
        live_tasks: j.live,
        matched: "none",
        how: None,
        reason: None,
        candidates: vec![],
        future: None,
        boxed_by_tokio: None,
        cell_bytes: None,
        largest_state: None,
    };
    match &j.matched {
        Match::Exact { spawn, how } => {
            let sp = ix.spawn(*spawn);
            out.matched = "exact";
            out.how = Some(match how {
                How::Size => "size",
                How::SizeAndLocation => "size_and_location",
            });
            out.future = Some(
                ix.spawned_future(*spawn)
                    .map_or(&sp.ty, |f: &Future| &f.name),
            );
            out.boxed_by_tokio = Some(sp.boxed_by_tokio);
            out.cell_bytes = cell_size(sp).map(|(_, max)| max);
            out.largest_state = ix
                .spawned_future(*spawn)
                .and_then(largest_state)
                .map(state_out);
        }
        Match::BlockOn { future } => {
            out.matched = "block_on";
            let f = ix.future(*future);
            out.future = f.map(|f| f.name.as_str());
            out.largest_state = f.and_then(largest_state).map(state_out);
        }
        Match::Ambiguous { spawns } => {
            out.matched = "ambiguous";
            out.candidates = spawns.iter().map(|&i| ix.spawn(i).ty.as_str()).collect();
        }
        Match::None(why) => out.reason = Some(why.to_string()),
    }
    out
}

pub fn section<'a>(model: &'a Model, join: &'a LayoutJoin) -> LayoutSection<'a> {
    let live = model
        .tasks()
        .filter(|t| t.state() != TaskState::Done)
        .map(|t| (model.resolve(t.location), t.size_bytes));
    let joined = join.join(live);
    let instr = insight::instrumentation_bytes_per_task(model.instrumentation());
    let bill = join.bill(&joined, instr.unwrap_or(0));
    let slope = match insight::bytes_per_task(model, None).reading() {
        Reading::Fitted(f) => Some(f.slope),
        _ => None,
    };
    let layout = join.index().layout();
    LayoutSection {
        layout,
        toolchain: &layout.toolchain,
        package: &layout.target.package,
        profile: &layout.target.profile,
        live_tasks: bill.tasks,
        matched_tasks: bill.matched,
        cell_bytes_per_task: bill.cell_bytes.checked_div(bill.matched),
        boxed_future_bytes_per_task: bill.boxed_bytes.checked_div(bill.matched),
        instrumentation_bytes_per_task: instr,
        bytes_per_task: instr.and(bill.per_task()),
        rss_slope_bytes_per_task: slope,
        share_of_slope: instr.and(bill.share_of(slope)),
        locations: joined
            .iter()
            .map(|(loc, j)| joined_out(join, loc, j))
            .collect(),
    }
}

/// The table section: one block per (location, size), largest share of live tasks first.
pub fn write_table(out: &mut impl Write, s: &LayoutSection, width: usize) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "layout ({}, {} {}): {} of {} live tasks matched exactly",
        escape(s.toolchain),
        escape(s.package),
        escape(s.profile),
        s.matched_tasks,
        s.live_tasks
    )?;
    if let (Some(cell), Some(total)) = (s.cell_bytes_per_task, s.bytes_per_task) {
        let instr = s.instrumentation_bytes_per_task.unwrap_or(0);
        let share = match (s.share_of_slope, s.rss_slope_bytes_per_task) {
            (Some(share), Some(slope)) => format!(
                ": {:.0} % of the measured {}/task",
                share * 100.0,
                bytes(slope.max(0.0) as u64)
            ),
            _ => " (no trusted RSS slope to compare with)".into(),
        };
        let boxed = s.boxed_future_bytes_per_task.unwrap_or(0);
        writeln!(
            out,
            "  per task: cell {} + future boxed by tokio {} + instrumentation {} = {}{share}",
            bytes(cell),
            bytes(boxed),
            bytes(instr),
            bytes(total)
        )?;
    }
    for j in &s.locations {
        let size = j.size_bytes.map_or("?".into(), bytes);
        let head = format!(
            "  {}  {size} x {} live  {}",
            location::fit(j.location, width.saturating_sub(40).max(20)),
            j.live_tasks,
            j.matched
        );
        match j.matched {
            "exact" | "block_on" => {
                let cell = j
                    .cell_bytes
                    .map_or(String::new(), |c| format!("  cell {}", bytes(c)));
                let boxed = if j.boxed_by_tokio == Some(true) {
                    " (boxed by tokio)"
                } else if j.matched == "block_on" {
                    " (given to the runtime's block_on: no spawned task, no task cell)"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "{head}  {}{boxed}{cell}",
                    escape(&short_type(j.future.unwrap_or("?"), TYPE_WIDTH))
                )?;
                if let Some(st) = &j.largest_state {
                    let at = await_text(st.state).map_or(String::new(), |a| format!(", {a}"));
                    writeln!(
                        out,
                        "      largest state {} {}{at}",
                        st.name,
                        bytes(st.size_bytes)
                    )?;
                    if !st.fields.is_empty() {
                        let fields: Vec<String> = st
                            .fields
                            .iter()
                            .map(|f| field_text(s.layout, f.field, bytes, TYPE_WIDTH))
                            .collect();
                        writeln!(out, "      holds {}", fields.join(", "))?;
                    }
                }
            }
            "ambiguous" => {
                let c: Vec<String> = j
                    .candidates
                    .iter()
                    .map(|c| escape(&short_type(c, TYPE_WIDTH)).into_owned())
                    .collect();
                writeln!(out, "{head} between {}", c.join(" | "))?;
            }
            _ => writeln!(out, "{head}: {}", escape(j.reason.as_deref().unwrap_or("")))?,
        }
    }
    Ok(())
}
