//! Compile-time layouts as text, one way for every output: the await line of a state, a field,
//! long generic type names shortened to a width, and a future's layout as a tree (the future,
//! its states, the fields each holds, the coroutines those fields are, and so on down) that a
//! view unfolds and folds. The details view's summary ([`lines`]) is that tree unfolded along
//! the largest state and its largest coroutine; the layout view (`top`, key `t`) lets the user
//! unfold any of it ([`rows`] with the set of open nodes).

use std::collections::HashSet;

use crate::insight::layout::{cell_size, How, LayoutIndex, LayoutJoin, Match};
use crate::layout::link;
use crate::layout::model::{AwaitPoint, Field, FieldKind, FutureId, Layout, State};
use crate::present::escape;
use crate::present::units::bytes;

/// Futures of the awaitee chain the summary unfolds below the root (the root counts).
pub const TREE_DEPTH: usize = 3;
/// Fields the summary lists per state (the layout view lists all).
pub const SUMMARY_FIELDS: usize = 3;
/// Type names longer than this are shortened in tree rows.
pub const TYPE_WIDTH: usize = 72;

/// Where a state is parked, as one line: `at FILE:LINE:COL  TEXT` for a mapped await,
/// `await not mapped: REASON`, `await not mapped` for a suspend state the mapper did not
/// reach, `None` for the states that are not at an await (`Unresumed`, `Returned`, ...).
pub fn await_text(state: &State) -> Option<String> {
    match &state.await_point {
        Some(AwaitPoint::Mapped {
            file,
            line,
            col,
            text,
        }) => Some(format!(
            "at {}:{line}:{col}  {}",
            escape(&crate::insight::short_location(file)),
            escape(text)
        )),
        Some(AwaitPoint::Unmapped { reason }) => {
            Some(format!("await not mapped: {}", escape(reason)))
        }
        None if state.name.starts_with("Suspend") => Some("await not mapped".into()),
        None => None,
    }
}

/// A field as `NAME SIZE (KIND[, TYPE][, boxed])`, the size as `size` writes it; the type is
/// the coroutine's name when the field holds one, shortened to `type_width`.
pub fn field_text(
    layout: &Layout,
    f: &Field,
    size: fn(u64) -> String,
    type_width: usize,
) -> String {
    let ty = f
        .future
        .and_then(|id| layout.futures.get(id))
        .map(|g| g.name.as_str())
        .or(f.ty.as_deref())
        .map_or(String::new(), |t| {
            format!(", {}", escape(&short_type(t, type_width)))
        });
    let boxed = if f.boxed { ", boxed" } else { "" };
    format!(
        "{} {} ({}{ty}{boxed})",
        escape(&f.name),
        size(f.size),
        f.kind.as_str()
    )
}

/// A type name shortened to about `max` characters where it is longer: paths outside `{..}`
/// to their last segment (`tokio::runtime::task::core::Cell<..>` -> `Cell<..>`), then generic
/// arguments elided from the deepest level up (`Cell<Instrumented<…>, Arc<…>>`), then cut.
/// A coroutine's own name (`{async fn body of conn::serve()}`) is kept whole while it can be.
pub fn short_type(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let mut s = strip_paths(name);
    let deepest = depths(&s).max().unwrap_or(0);
    for level in (1..=deepest).rev() {
        if s.chars().count() <= max {
            break;
        }
        s = elide_from(&s, level);
    }
    if s.chars().count() > max {
        s = s.chars().take(max.saturating_sub(1)).collect::<String>() + "…";
    }
    s
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `a::b::C<d::E>` -> `C<E>`, outside braces.
fn strip_paths(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len());
    let mut braces = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '{' => braces += 1,
            '}' => braces = braces.saturating_sub(1),
            _ => {}
        }
        if braces == 0 && ident_char(c) && (i == 0 || !ident_char(chars[i - 1])) {
            let end = (i..chars.len())
                .find(|&j| !ident_char(chars[j]))
                .unwrap_or(chars.len());
            let path_sep = end + 2 < chars.len()
                && chars[end] == ':'
                && chars[end + 1] == ':'
                && ident_char(chars[end + 2]);
            if path_sep {
                i = end + 2;
                continue;
            }
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The `<` nesting depth after each character (`->` is not a closing bracket).
fn depths(s: &str) -> impl Iterator<Item = usize> + '_ {
    let mut depth = 0usize;
    let mut prev = ' ';
    s.chars().map(move |c| {
        match c {
            '<' => depth += 1,
            '>' if prev != '-' => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
        depth
    })
}

/// The arguments of every generic list at `level` (1 = outermost) replaced by `…`.
fn elide_from(s: &str, level: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut prev = ' ';
    for c in s.chars() {
        let closing = c == '>' && prev != '-';
        prev = c;
        if c == '<' {
            depth += 1;
            if depth == level {
                out.push_str("<…");
            } else if depth < level {
                out.push(c);
            }
            continue;
        }
        if closing {
            if depth == level {
                out.push('>');
            } else if depth < level {
                out.push(c);
            }
            depth = depth.saturating_sub(1);
            continue;
        }
        if depth < level {
            out.push(c);
        }
    }
    out
}

/// A node of a future's layout tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A coroutine; `boxed` when the field that holds it holds a pointer to it.
    Future { id: FutureId, boxed: bool },
    /// One of a future's states (an index into its `states`).
    State { future: FutureId, state: usize },
    /// One of a state's fields (an index into its `fields`).
    Field {
        future: FutureId,
        state: usize,
        field: usize,
    },
}

/// Where a node is: the child index at each level from the root (the root is `[]`).
pub type Path = Vec<u16>;

/// One row of the tree as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub depth: usize,
    pub path: Path,
    pub node: Option<Node>,
    pub text: String,
    /// Has children to unfold, and whether they are shown.
    pub foldable: bool,
    pub open: bool,
}

/// A node's children, in the order shown: a future's states (report order, those that hold
/// nothing and are not at an await left out), a state's fields (largest first, padding left
/// out), a field's coroutines.
pub fn children(ix: &LayoutIndex, node: Node) -> Vec<Node> {
    match node {
        Node::Future { id, .. } => ix.future(id).map_or_else(Vec::new, |f| {
            (0..f.states.len())
                .filter(|&i| {
                    let s = &f.states[i];
                    !s.fields.is_empty() || s.name.starts_with("Suspend")
                })
                .map(|state| Node::State { future: id, state })
                .collect()
        }),
        Node::State { future, state } => {
            let Some(st) = state_of(ix, future, state) else {
                return Vec::new();
            };
            // Largest first, as `insight::layout::largest_fields` orders them, by index.
            let mut fields: Vec<usize> = (0..st.fields.len())
                .filter(|&i| st.fields[i].kind != FieldKind::Padding)
                .collect();
            fields.sort_by_key(|&i| std::cmp::Reverse(st.fields[i].size));
            fields
                .into_iter()
                .map(|field| Node::Field {
                    future,
                    state,
                    field,
                })
                .collect()
        }
        Node::Field {
            future,
            state,
            field,
        } => field_of(ix, future, state, field).map_or_else(Vec::new, |f| {
            link::held_by(ix.names(), f)
                .into_iter()
                .map(|(id, boxed)| Node::Future { id, boxed })
                .collect()
        }),
    }
}

fn state_of(ix: &LayoutIndex, future: FutureId, state: usize) -> Option<&State> {
    ix.future(future)?.states.get(state)
}

fn field_of(ix: &LayoutIndex, future: FutureId, state: usize, field: usize) -> Option<&Field> {
    state_of(ix, future, state)?.fields.get(field)
}

/// A node's own line (without indentation or fold marker).
pub fn node_text(ix: &LayoutIndex, node: Node) -> String {
    match node {
        Node::Future { id, boxed } => {
            let Some(f) = ix.future(id) else {
                return "?".into();
            };
            let boxed = if boxed {
                " (boxed: on the heap, not in this state)"
            } else {
                ""
            };
            format!(
                "{} {}{boxed}",
                escape(&short_type(&f.name, TYPE_WIDTH)),
                bytes(f.size)
            )
        }
        Node::State { future, state } => {
            let Some(f) = ix.future(future) else {
                return "?".into();
            };
            let st = &f.states[state];
            let largest = if link::largest_of(&f.states) == Some(state) {
                ", the largest"
            } else {
                ""
            };
            let at = await_text(st).map_or(String::new(), |a| format!(", {a}"));
            format!("{} {}{largest}{at}", st.name, bytes(st.size))
        }
        Node::Field {
            future,
            state,
            field,
        } => field_of(ix, future, state, field).map_or_else(
            || "?".into(),
            |f| field_text(ix.layout(), f, bytes, TYPE_WIDTH),
        ),
    }
}

/// The nodes open by default: the root, its largest state, and down from there the field that
/// holds the largest coroutine stored in place, that coroutine and its largest state, for
/// `futures` coroutines in all (the root counts); a coroutine already on the path ends it.
pub fn default_open(ix: &LayoutIndex, root: FutureId, futures: usize) -> HashSet<Path> {
    let mut open = HashSet::new();
    let mut path: Path = Vec::new();
    let mut node = Node::Future {
        id: root,
        boxed: false,
    };
    let mut seen = vec![root];
    for _ in 0..futures {
        let Node::Future { id, .. } = node else { break };
        let Some(f) = ix.future(id) else { break };
        open.insert(path.clone());
        let states = children(ix, node);
        let Some(largest) = link::largest_of(&f.states) else {
            break;
        };
        let Some(si) = states
            .iter()
            .position(|n| matches!(n, Node::State { state, .. } if *state == largest))
        else {
            break;
        };
        path.push(si as u16);
        open.insert(path.clone());
        let fields = children(ix, states[si]);
        // The field holding the largest coroutine in place (not behind a pointer).
        let next = fields
            .iter()
            .enumerate()
            .flat_map(|(fi, &n)| {
                children(ix, n)
                    .into_iter()
                    .enumerate()
                    .map(move |(ci, c)| (fi, ci, c))
            })
            .filter_map(|(fi, ci, c)| match c {
                Node::Future { id, boxed: false } if !seen.contains(&id) => {
                    ix.future(id).map(|g| (fi, ci, c, g.size))
                }
                _ => None,
            })
            .max_by_key(|&(fi, ci, _, size)| (size, std::cmp::Reverse((fi, ci))));
        let Some((fi, ci, child, _)) = next else {
            break;
        };
        path.push(fi as u16);
        open.insert(path.clone());
        path.push(ci as u16);
        if let Node::Future { id, .. } = child {
            seen.push(id);
        }
        node = child;
    }
    open
}

/// The rows of the tree below `root` with the nodes in `open` unfolded; `fields` caps the
/// fields listed per state (a `+N more` row says how many were left out).
pub fn rows(
    ix: &LayoutIndex,
    root: FutureId,
    open: &HashSet<Path>,
    fields: Option<usize>,
) -> Vec<Row> {
    let mut out = Vec::new();
    let node = Node::Future {
        id: root,
        boxed: false,
    };
    push_rows(ix, node, Vec::new(), open, fields, &mut out);
    out
}

/// Rows a tree may have at most (a cycle unfolded by hand, a huge state): past it, one row
/// says so.
const MAX_ROWS: usize = 10_000;

fn push_rows(
    ix: &LayoutIndex,
    node: Node,
    path: Path,
    open: &HashSet<Path>,
    fields: Option<usize>,
    out: &mut Vec<Row>,
) {
    if out.len() >= MAX_ROWS {
        return;
    }
    let kids = children(ix, node);
    let is_open = open.contains(&path);
    out.push(Row {
        depth: path.len(),
        path: path.clone(),
        node: Some(node),
        text: node_text(ix, node),
        foldable: !kids.is_empty(),
        open: is_open && !kids.is_empty(),
    });
    if !is_open {
        return;
    }
    let cap = match node {
        Node::State { .. } => fields.unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    for (i, child) in kids.iter().enumerate().take(cap) {
        let mut p = path.clone();
        p.push(i as u16);
        push_rows(ix, *child, p, open, fields, out);
    }
    if kids.len() > cap {
        out.push(Row {
            depth: path.len() + 1,
            path: Vec::new(),
            node: None,
            text: format!("+{} more", kids.len() - cap),
            foldable: false,
            open: false,
        });
    }
    if out.len() == MAX_ROWS {
        out.push(Row {
            depth: 0,
            path: Vec::new(),
            node: None,
            text: format!("(more than {MAX_ROWS} rows: fold some)"),
            foldable: false,
            open: false,
        });
    }
}

/// A row as text: indentation, a fold marker (`▾` open, `▸` closed) and the node's line.
pub fn row_text(row: &Row) -> String {
    let marker = match (row.foldable, row.open) {
        (true, true) => "▾ ",
        (true, false) => "▸ ",
        _ => "  ",
    };
    format!("{}{marker}{}", "  ".repeat(row.depth), row.text)
}

/// What the layout says of the tasks of `location` whose future is `size` bytes: the match
/// line, and the future when one matched exactly.
pub struct Explained {
    /// `layout: TYPE (how, cell, boxed)`, or why there is no exact match.
    pub head: String,
    pub root: Option<FutureId>,
}

pub fn explain(join: &LayoutJoin, size: Option<u64>, location: &str) -> Explained {
    let ix = join.index();
    let (spawn, how) = match join.match_at(size, location) {
        Match::Exact { spawn, how } => (spawn, how),
        Match::Ambiguous { spawns } => {
            let names: Vec<String> = spawns
                .iter()
                .map(|&i| escape(&short_type(&ix.spawn(i).ty, TYPE_WIDTH)).into_owned())
                .collect();
            return Explained {
                head: format!(
                    "layout: ambiguous, {} types of this size: {}",
                    names.len(),
                    names.join(" | ")
                ),
                root: None,
            };
        }
        Match::BlockOn { future } => {
            let name = ix.future(future).map_or("?".into(), |f| {
                escape(&short_type(&f.name, TYPE_WIDTH)).into_owned()
            });
            return Explained {
                head: format!(
                    "layout: {name} (the future given to the runtime's block_on: no spawned task, no task cell)"
                ),
                root: Some(future),
            };
        }
        Match::None(why) => {
            return Explained {
                head: format!("layout: no match: {why}"),
                root: None,
            }
        }
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
    let root = sp.future.filter(|&id| ix.future(id).is_some());
    let mut head = format!(
        "layout: {} ({how}{cell}{boxed})",
        escape(&short_type(&sp.ty, TYPE_WIDTH))
    );
    if root.is_none() {
        head.push_str("; its coroutine is not in the layout");
    }
    Explained { head, root }
}

/// The details view's summary for the tasks of `location` whose future is `size` bytes: the
/// match, then the tree unfolded along the largest state and its largest coroutine,
/// [`TREE_DEPTH`] coroutines down, [`SUMMARY_FIELDS`] fields a state.
pub fn lines(join: &LayoutJoin, size: Option<u64>, location: &str) -> Vec<String> {
    let e = explain(join, size, location);
    let mut out = vec![e.head];
    if let Some(root) = e.root {
        let ix = join.index();
        let open = default_open(ix, root, TREE_DEPTH);
        // The other states stay out of the summary (the layout view lists them).
        out.extend(
            rows(ix, root, &open, Some(SUMMARY_FIELDS))
                .iter()
                .filter(|r| r.open || !matches!(r.node, Some(Node::State { .. })))
                .map(row_text),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::report::one_crate;

    const LAYERS: &str = include_str!("../../tests/fixtures/layout/corpus.debug.types");

    #[test]
    fn short_types_keep_what_fits_and_the_coroutine_names() {
        assert_eq!(short_type("Vec<u8>", 10), "Vec<u8>");
        let cell = "tokio::runtime::task::core::Cell<tracing::instrument::Instrumented<{async fn body of conn::serve()}>, std::sync::Arc<tokio::runtime::scheduler::multi_thread::handle::Handle>>";
        assert_eq!(
            short_type(cell, 100),
            "Cell<Instrumented<{async fn body of conn::serve()}>, Arc<Handle>>"
        );
        assert_eq!(short_type(cell, 40), "Cell<Instrumented<…>, Arc<…>>");
        assert_eq!(short_type(cell, 12), "Cell<…>");
        assert_eq!(short_type(cell, 5), "Cell…");
        // `->` is not a bracket.
        let f = "std::boxed::Box<dyn std::ops::Fn(u8) -> std::vec::Vec<u8>>";
        assert_eq!(short_type(f, 30), "Box<dyn Fn(u8) -> Vec<u8>>");
        assert_eq!(short_type(f, 12), "Box<…>");
    }

    #[test]
    fn the_default_tree_follows_the_largest_state_down_and_folds_the_rest() {
        let l = one_crate(LAYERS);
        let ix = LayoutIndex::new(l);
        let root = ix
            .layout()
            .futures
            .iter()
            .position(|f| f.name == "{async fn body of traced()}")
            .unwrap();
        let open = default_open(&ix, root, 10);
        let all = rows(&ix, root, &open, None);
        // The open futures: the awaitee chain from the root down to the leaf.
        let futures: Vec<&str> = all
            .iter()
            .filter(|r| matches!(r.node, Some(Node::Future { .. })) && r.open)
            .map(|r| &r.text[..=r.text.rfind('}').unwrap()])
            .collect();
        assert_eq!(
            futures,
            [
                "{async fn body of traced()}",
                "{async block@src/main.rs:29:1: 29:23}",
                "{async fn body of middle()}",
                "{async fn body of leaf()}",
            ]
        );
        // Each open future shows its largest state open, the others closed.
        assert!(all
            .iter()
            .any(|r| r.text.starts_with("Suspend0 1.3 KiB, the largest")));
        assert!(all
            .iter()
            .any(|r| r.text.starts_with("Suspend1") && r.foldable && !r.open));
        let text: Vec<String> = all.iter().map(row_text).collect();
        assert!(text[0].starts_with("▾ {async fn body of traced()}"));
        assert!(text.iter().any(|t| t.starts_with("  ▸ Suspend1")));
        // The default depth stops the chain: 2 futures open, the third folded.
        let two = rows(&ix, root, &default_open(&ix, root, 2), None);
        let open_futures = two
            .iter()
            .filter(|r| matches!(r.node, Some(Node::Future { .. })) && r.open)
            .count();
        assert_eq!(open_futures, 2);
        // Capped: a +N more row where a state has more fields than the cap.
        let capped = rows(&ix, root, &open, Some(0));
        assert!(capped
            .iter()
            .all(|r| !matches!(r.node, Some(Node::Field { .. }))));
        // Closing the root leaves one row.
        let one = rows(&ix, root, &HashSet::new(), None);
        assert_eq!(one.len(), 1);
        assert!(one[0].foldable && !one[0].open);
    }
}
