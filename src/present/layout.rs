//! A task's future as the compile-time layout explains it, as lines of text for the details
//! view: the match and how sure it is, the task cell, the largest state with its await line and
//! the fields held there, and the awaitee tree below it (each awaited coroutine's own largest
//! state, a few levels down).

use crate::insight::layout::{cell_size, largest_fields, largest_state, How, LayoutJoin, Match};
use crate::layout::model::{AwaitPoint, Future, State};
use crate::present::escape;
use crate::present::units::bytes;

/// Levels of the awaitee tree shown below the largest state.
pub const TREE_DEPTH: usize = 3;
/// Fields listed per state.
const FIELDS: usize = 3;

fn await_text(state: &State) -> Option<String> {
    match state.await_point.as_ref()? {
        AwaitPoint::Mapped {
            file,
            line,
            col,
            text,
        } => Some(format!("{}:{line}:{col}  {}", escape(file), escape(text))),
        AwaitPoint::Unmapped { reason } => Some(format!("await not mapped: {}", escape(reason))),
    }
}

fn fields_text(state: &State) -> String {
    let fields = largest_fields(state);
    let shown: Vec<String> = fields
        .iter()
        .take(FIELDS)
        .map(|f| {
            let kind = f.kind.as_str();
            format!("{} {} ({kind})", escape(&f.name), bytes(f.size))
        })
        .collect();
    let more = fields.len().saturating_sub(FIELDS);
    if more > 0 {
        format!("{} +{more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// The lines for the tasks of `location` whose future is `size` bytes.
pub fn lines(join: &LayoutJoin, size: Option<u64>, location: &str) -> Vec<String> {
    let ix = join.index();
    let (spawn, how) = match join.match_at(size, location) {
        Match::Exact { spawn, how } => (spawn, how),
        Match::Ambiguous { spawns } => {
            let names: Vec<String> = spawns
                .iter()
                .map(|&i| escape(&ix.spawn(i).ty).into_owned())
                .collect();
            return vec![format!(
                "layout: ambiguous, {} types of this size: {}",
                names.len(),
                names.join(" | ")
            )];
        }
        Match::None(why) => return vec![format!("layout: no match: {why}")],
    };
    let sp = ix.spawn(spawn);
    let how = match how {
        How::Size => "the only spawned type of this size",
        How::SizeAndLocation => "by size and spawn line",
    };
    let cell = cell_size(sp).map_or(String::new(), |(lo, hi)| {
        if lo == hi {
            format!(", cell {}", bytes(hi))
        } else {
            format!(", cell {}-{}", bytes(lo), bytes(hi))
        }
    });
    let boxed = if sp.boxed_by_tokio {
        ", boxed by tokio"
    } else {
        ""
    };
    let mut out = vec![format!("layout: {} ({how}{cell}{boxed})", escape(&sp.ty))];
    let Some(f) = ix.spawned_future(spawn) else {
        out.push("  (its coroutine is not in the layout)".into());
        return out;
    };
    tree(join, f, 0, &mut out, &mut Vec::new());
    out
}

fn tree(
    join: &LayoutJoin,
    f: &Future,
    depth: usize,
    out: &mut Vec<String>,
    seen: &mut Vec<String>,
) {
    let pad = "  ".repeat(depth);
    let Some(st) = largest_state(f) else {
        return;
    };
    out.push(format!(
        "{pad}largest state {} {} of {}",
        st.name,
        bytes(st.size),
        bytes(f.size)
    ));
    if let Some(at) = await_text(st) {
        out.push(format!("{pad}  at {at}"));
    }
    let held = fields_text(st);
    if !held.is_empty() {
        out.push(format!("{pad}  holds {held}"));
    }
    if depth + 1 >= TREE_DEPTH || seen.contains(&f.name) {
        return;
    }
    seen.push(f.name.clone());
    // Unfold the largest awaited (or held) coroutine of that state, in place, not on the heap.
    let inner = st
        .fields
        .iter()
        .filter(|x| !x.boxed)
        .filter_map(|x| {
            x.future
                .and_then(|id| join.index().future(id))
                .map(|g| (x, g))
        })
        .max_by_key(|(x, _)| x.size);
    if let Some((x, g)) = inner {
        out.push(format!(
            "{pad}  └ {} is {} {}",
            escape(&x.name),
            escape(&g.name),
            bytes(g.size)
        ));
        tree(join, g, depth + 1, out, seen);
    }
}
