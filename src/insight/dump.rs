//! Where tasks wait, from a task dump: each task's *parked-at* point and the tasks grouped by it.
//!
//! A trace's frames run innermost first: tokio's leaf future (a `Sleep`, a socket read), then
//! the async fns that await it, out to the task's own future. The parked-at point is the
//! innermost frame in the target's own code (not tokio's, std's or a registry or git
//! dependency's); where no frame is (a release build inlines the async fns into the task's
//! poll and their frames are gone), it is the leaf resource, and said so. The outermost own
//! frame is the await the spawned future itself is at (the state its layout names).

use std::collections::HashMap;

use asyncmem_probe::wire::{Frame, TaskTrace};
use serde::Serialize;

use super::layout::{largest_fields, largest_state, LayoutJoin, Match};
use super::locations::{origin, Origin};
use crate::layout::model::{AwaitPoint, Future};
use crate::model::{Model, TaskState};

/// Which kind of point a task is parked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An `.await` in the target's own code (file, line, column).
    Own,
    /// The leaf resource only: the trace has no frame of the target's own code (a release
    /// build inlines them).
    Leaf,
    /// The trace has no frame at all.
    Unknown,
}

/// Where one task is parked. Two are the same point when all but [`ParkedAt::path`] (how the
/// file is shown) are equal.
#[derive(Clone, Debug, Serialize)]
pub struct ParkedAt {
    pub kind: Kind,
    /// The function (`parked::read_request`), without tokio's `{{closure}}` wrappers.
    pub function: String,
    /// For [`Kind::Own`]: the file, line and column of the await. `file` is the path the
    /// debug info gives (absolute, as built).
    pub file: String,
    /// `file` as shown: relative to the target's workspace root where the spawn locations
    /// give it (`demos/src/bin/parked.rs`, see [`source_root`]), a dependency's
    /// `crate-version/path`, or else `file` itself.
    pub path: String,
    pub line: u32,
    pub col: u32,
}

impl PartialEq for ParkedAt {
    fn eq(&self, o: &Self) -> bool {
        (self.kind, &self.function, &self.file, self.line, self.col)
            == (o.kind, &o.function, &o.file, o.line, o.col)
    }
}

impl Eq for ParkedAt {}

impl std::hash::Hash for ParkedAt {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.kind, &self.function, &self.file, self.line, self.col).hash(h);
    }
}

impl ParkedAt {
    /// As one line: `FILE:LINE:COL (function)` or `leaf: tokio::time::Sleep (user frames
    /// inlined)`.
    pub fn text(&self) -> String {
        match self.kind {
            Kind::Own => format!(
                "{}:{}:{} ({})",
                self.path, self.line, self.col, self.function
            ),
            Kind::Leaf if self.function.contains("::") || self.file.is_empty() => {
                format!("leaf: {} (no frame of your code: inlined?)", self.function)
            }
            Kind::Leaf => format!(
                "leaf: {} in {} (no frame of your code: inlined?)",
                self.function, self.path
            ),
            Kind::Unknown => "unknown (an empty trace)".into(),
        }
    }

    /// The same point with its file shown under `root` (see [`shown_file`]).
    pub fn under(mut self, root: Option<&str>) -> Self {
        self.path = shown_file(&self.file, root);
        self
    }

    /// The root its [`ParkedAt::path`] was made relative to, if it was.
    pub fn root(&self) -> Option<&str> {
        self.file
            .strip_suffix(self.path.as_str())
            .filter(|r| r.ends_with('/') && !self.path.starts_with('/'))
    }
}

/// `file` as shown: relative to `root` when under it, else shortened like a spawn location
/// (a dependency's `crate-version/path`, see [`super::short_location`]).
pub fn shown_file(file: &str, root: Option<&str>) -> String {
    match root.and_then(|r| file.strip_prefix(r)) {
        Some(rel) if !rel.is_empty() => rel.to_string(),
        _ => super::short_location(file).into_owned(),
    }
}

/// The target's workspace root as its debug info spells it (`/work/main/`), found by matching
/// the spawn locations the picture knows (relative to the workspace, as rustc records them:
/// `demos/src/bin/parked.rs`) against the dump's files of the target's own code (absolute:
/// `/work/main/demos/src/bin/parked.rs`). `None` when no file matches (absolute spawn
/// locations, none known): the files are then shown whole.
pub fn source_root(tasks: &[TaskTrace], model: &Model) -> Option<String> {
    let spawn_files: std::collections::BTreeSet<&str> = model
        .tasks()
        .map(|t| t.location)
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .map(|sym| file_of_location(model.resolve(sym)))
        .filter(|f| !f.is_empty() && !f.starts_with('/') && origin(f) == Origin::Own)
        .collect();
    if spawn_files.is_empty() {
        return None;
    }
    let own_files: std::collections::BTreeSet<&str> = tasks
        .iter()
        .flat_map(|t| frames(t).iter())
        .filter(|f| f.file.starts_with('/') && is_own(f))
        .map(|f| f.file.as_str())
        .collect();
    // The longest spawn file that ends an own file: the most specific match.
    let mut best: Option<(usize, &str)> = None;
    for own in &own_files {
        for spawn in &spawn_files {
            let Some(root) = own.strip_suffix(spawn).filter(|r| r.ends_with('/')) else {
                continue;
            };
            if best.is_none_or(|(len, _)| spawn.len() > len) {
                best = Some((spawn.len(), root));
            }
        }
    }
    best.map(|(_, root)| root.to_string())
}

/// `src/main.rs:12:5` -> `src/main.rs` (a location without line and column is its file).
fn file_of_location(location: &str) -> &str {
    let mut parts = location.rsplitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(c), Some(l), Some(file))
            if c.bytes().all(|b| b.is_ascii_digit()) && l.bytes().all(|b| b.is_ascii_digit()) =>
        {
            file
        }
        _ => location,
    }
}

/// `demo::handle::{{closure}}::{{closure}}` -> `demo::handle`; generic arguments kept.
fn function_name(f: &str) -> String {
    let mut s = f;
    while let Some(rest) = s.strip_suffix("::{{closure}}") {
        s = rest;
    }
    s.to_string()
}

/// Whether the frame is in the target's own code.
fn is_own(f: &Frame) -> bool {
    if f.file.is_empty() || f.line == 0 {
        return false;
    }
    let name = f.function.as_str();
    let library = ["tokio::", "std::", "core::", "alloc::", "<"]
        .iter()
        .any(|p| name.starts_with(p));
    !library && origin(&f.file) == Origin::Own
}

/// `tokio::time::sleep::Sleep::poll_elapsed` -> `tokio::time::sleep::Sleep`: the path up to its
/// last type (a segment starting with a capital), without generic arguments.
fn leaf_name(function: &str) -> String {
    // `<T as Trait>::method`: the type T.
    let function = match function.strip_prefix('<') {
        Some(inner) => {
            let mut depth = 0usize;
            let end = inner
                .char_indices()
                .find(|&(i, c)| {
                    match c {
                        '<' => depth += 1,
                        '>' if depth == 0 => return true,
                        '>' => depth -= 1,
                        ' ' if depth == 0 => return inner[i..].starts_with(" as "),
                        _ => {}
                    }
                    false
                })
                .map_or(inner.len(), |(i, _)| i);
            &inner[..end]
        }
        None => function,
    };
    let plain: String = {
        let mut depth = 0usize;
        function
            .chars()
            .filter(|&c| {
                match c {
                    '<' => depth += 1,
                    '>' => depth = depth.saturating_sub(1),
                    _ => return depth == 0,
                }
                false
            })
            .collect()
    };
    let segments: Vec<&str> = plain.split("::").collect();
    match segments
        .iter()
        .rposition(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
    {
        Some(i) => segments[..=i].join("::"),
        None => function_name(&plain),
    }
}

/// Whether `file` is in tokio's sources (a registry or git checkout of `tokio`).
fn is_tokio_file(file: &str) -> bool {
    match origin(file) {
        Origin::Registry { crate_version, .. } => crate_version.starts_with("tokio-1"),
        Origin::Git { repo, .. } => repo == "tokio",
        _ => false,
    }
}

/// The frames of a trace's first backtrace (a `join!` has several: the first is the one
/// grouped on; JSON keeps them all).
fn frames(trace: &TaskTrace) -> &[Frame] {
    trace.backtraces.first().map_or(&[], |b| &b.frames)
}

fn own(f: &Frame) -> ParkedAt {
    ParkedAt {
        kind: Kind::Own,
        function: function_name(&f.function),
        file: f.file.clone(),
        path: shown_file(&f.file, None),
        line: f.line,
        col: f.col,
    }
}

/// Where the task is parked (see the module's text).
pub fn parked_at(trace: &TaskTrace) -> ParkedAt {
    let frames = frames(trace);
    if let Some(f) = frames.iter().find(|f| is_own(f)) {
        return own(f);
    }
    // tokio's innermost frame, by its name or its file (a release build's symbols may name
    // the function alone: `poll_elapsed` in tokio's `time/sleep.rs`).
    let leaf = frames
        .iter()
        .find(|f| f.function.starts_with("tokio::") || is_tokio_file(&f.file))
        .or(frames.first());
    match leaf {
        Some(f) => ParkedAt {
            kind: Kind::Leaf,
            function: leaf_name(&f.function),
            file: f.file.clone(),
            path: shown_file(&f.file, None),
            line: f.line,
            col: f.col,
        },
        None => ParkedAt {
            kind: Kind::Unknown,
            function: String::new(),
            file: String::new(),
            path: String::new(),
            line: 0,
            col: 0,
        },
    }
}

/// The await the task's own (spawned) future is at: the outermost frame of the target's code.
pub fn task_await(trace: &TaskTrace) -> Option<ParkedAt> {
    frames(trace).iter().rev().find(|f| is_own(f)).map(own)
}

/// The tasks parked at one point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub parked_at: ParkedAt,
    pub tasks: u64,
    /// Their share of the live tasks of the picture.
    pub share: f64,
    /// Their futures' bytes (`size.bytes`), where the picture knows the task and its size.
    pub future_bytes: u64,
    /// Tasks of the dump that the picture does not know (spawned after it, or not tracked).
    pub unknown_tasks: u64,
    /// The first tasks' tokio ids (at most [`IDS_KEPT`]).
    pub task_ids: Vec<u64>,
    /// With a layout: what of their futures is alive where they are parked, and the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<GroupSlack>,
}

/// A future's bytes at the await its task is parked at, from the layout: the state there,
/// the bytes alive in it, and the slack (the future's size less those bytes: paid for the
/// largest state, whatever state the task is in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Slack {
    /// The state the await maps to (`Suspend1`).
    pub state: String,
    pub alive: u64,
    pub size: u64,
    /// The largest state and the biggest field it holds.
    pub largest_state: String,
    pub largest_holds: Option<(String, u64)>,
    /// About how much smaller the future would be with that field on the heap (a `Box::pin`
    /// of a large awaitee, a `Box` of a buffer): the largest state less the field plus a
    /// pointer, against the other states.
    pub boxing_saves: u64,
}

/// [`Slack`] summed over a group's tasks that matched a layout future exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupSlack {
    /// One task's figures (the first matched; a group's tasks share a spawn site as a rule).
    pub example: Slack,
    /// Tasks of the group whose figures are summed.
    pub tasks: u64,
    pub alive_bytes: u64,
    pub slack_bytes: u64,
}

/// Whether the dump's `file` (absolute, from debug info) is the layout's `file` (relative to
/// the built workspace, or absolute).
fn same_file(dump: &str, layout: &str) -> bool {
    dump == layout
        || dump
            .strip_suffix(layout)
            .is_some_and(|head| head.ends_with('/'))
}

/// The slack of `future` for a task whose own future is parked at `at`.
pub fn slack(future: &Future, at: &ParkedAt) -> Option<Slack> {
    let state = future.states.iter().find(|st| {
        matches!(&st.await_point, Some(AwaitPoint::Mapped { file, line, col, .. })
            if *line == at.line && (*col == at.col || at.col == 0) && same_file(&at.file, file))
    })?;
    let largest = largest_state(future)?;
    let holds = largest_fields(largest)
        .first()
        .map(|f| (f.name.clone(), f.size));
    let pointer = 8;
    let without = holds.as_ref().map_or(largest.size, |(_, size)| {
        largest.size.saturating_sub(*size) + pointer
    });
    let others = future
        .states
        .iter()
        .filter(|st| !std::ptr::eq(*st, largest))
        .map(|st| st.size)
        .max()
        .unwrap_or(0);
    let overhead = future.size.saturating_sub(largest.size);
    let boxed_size = without.max(others) + overhead;
    Some(Slack {
        state: state.name.clone(),
        alive: state.size,
        size: future.size,
        largest_state: largest.name.clone(),
        largest_holds: holds,
        boxing_saves: future.size.saturating_sub(boxed_size),
    })
}

/// Task ids a group lists.
pub const IDS_KEPT: usize = 20;

/// The dump's tasks grouped by parked-at point, most tasks first (then most bytes); with a
/// layout, each group's slack.
pub fn groups(tasks: &[TaskTrace], model: &Model, join: Option<&LayoutJoin>) -> Vec<Group> {
    let known: HashMap<u64, (Option<u64>, &str)> = model
        .tasks()
        .filter(|t| t.state() != TaskState::Done)
        .filter_map(|t| {
            t.task_id
                .map(|id| (id, (t.size_bytes, model.resolve(t.location))))
        })
        .collect();
    // The future of each (location, size), matched once.
    let mut futures: HashMap<(&str, Option<u64>), Option<&Future>> = HashMap::new();
    let live = model.counts().live().max(1) as f64;
    let root = source_root(tasks, model);
    let mut by: HashMap<ParkedAt, Group> = HashMap::new();
    for t in tasks {
        let at = parked_at(t).under(root.as_deref());
        let g = by.entry(at.clone()).or_insert_with(|| Group {
            parked_at: at,
            tasks: 0,
            share: 0.0,
            future_bytes: 0,
            unknown_tasks: 0,
            task_ids: Vec::new(),
            slack: None,
        });
        g.tasks += 1;
        if g.task_ids.len() < IDS_KEPT {
            g.task_ids.push(t.task_id);
        }
        let Some(&(size, location)) = known.get(&t.task_id) else {
            g.unknown_tasks += 1;
            continue;
        };
        g.future_bytes += size.unwrap_or(0);
        let Some(join) = join else { continue };
        let future = *futures.entry((location, size)).or_insert_with(|| {
            match join.match_at(size, location) {
                Match::Exact { spawn, .. } => join.index().spawned_future(spawn),
                _ => None,
            }
        });
        let found = future.zip(task_await(t)).and_then(|(f, at)| slack(f, &at));
        if let Some(sl) = found {
            let gs = g.slack.get_or_insert_with(|| GroupSlack {
                example: sl.clone(),
                tasks: 0,
                alive_bytes: 0,
                slack_bytes: 0,
            });
            gs.tasks += 1;
            gs.alive_bytes += sl.alive;
            gs.slack_bytes += sl.size.saturating_sub(sl.alive);
        }
    }
    let mut out: Vec<Group> = by.into_values().collect();
    for g in &mut out {
        g.share = g.tasks as f64 / live;
    }
    out.sort_by(|a, b| {
        b.tasks
            .cmp(&a.tasks)
            .then(b.future_bytes.cmp(&a.future_bytes))
            .then_with(|| a.parked_at.text().cmp(&b.parked_at.text()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use asyncmem_probe::wire::Backtrace;

    fn frame(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: file.into(),
            line,
            col: 9,
        }
    }

    fn trace(id: u64, frames: Vec<Frame>) -> TaskTrace {
        TaskTrace {
            task_id: id,
            backtraces: vec![Backtrace { frames }],
            cut: false,
        }
    }

    const REGISTRY: &str = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";

    /// tokio's `Sleep`, the innermost frame of a sleeping task.
    fn sleep_leaf() -> Frame {
        frame(
            "tokio::time::sleep::Sleep::poll_elapsed",
            &format!("{REGISTRY}/tokio-1.54.1/src/time/sleep.rs"),
            400,
        )
    }

    /// A debug build's trace: tokio's leaf, then two async fns of the target, then tokio's
    /// task machinery.
    fn debug_trace(id: u64, inner_line: u32) -> TaskTrace {
        trace(
            id,
            vec![
                sleep_leaf(),
                frame(
                    "<tokio::time::sleep::Sleep as core::future::future::Future>::poll",
                    &format!("{REGISTRY}/tokio-1.54.1/src/time/sleep.rs"),
                    450,
                ),
                frame(
                    "parked::read_request::{{closure}}",
                    "/src/demos/src/bin/parked.rs",
                    inner_line,
                ),
                frame(
                    "parked::connection::{{closure}}",
                    "/src/demos/src/bin/parked.rs",
                    52,
                ),
                frame(
                    "tokio::runtime::task::core::Core<T,S>::poll::{{closure}}",
                    &format!("{REGISTRY}/tokio-1.54.1/src/runtime/task/core.rs"),
                    300,
                ),
            ],
        )
    }

    #[test]
    fn the_innermost_own_frame_is_where_a_task_is_parked() {
        let t = debug_trace(7, 45);
        let at = parked_at(&t);
        assert_eq!(at.kind, Kind::Own);
        assert_eq!(at.function, "parked::read_request");
        assert_eq!((at.line, at.col), (45, 9));
        assert_eq!(
            at.text(),
            "/src/demos/src/bin/parked.rs:45:9 (parked::read_request)"
        );
        // The spawned future's own await: the outermost own frame.
        let top = task_await(&t).unwrap();
        assert_eq!(
            (top.function.as_str(), top.line),
            ("parked::connection", 52)
        );
    }

    #[test]
    fn without_own_frames_the_leaf_resource_is_named() {
        // A release build: the user frames are inlined into tokio's poll.
        let t = trace(
            1,
            vec![
                sleep_leaf(),
                frame(
                    "tokio::runtime::task::raw::poll",
                    &format!("{REGISTRY}/tokio-1.54.1/src/runtime/task/raw.rs"),
                    1,
                ),
            ],
        );
        let at = parked_at(&t);
        assert_eq!(at.kind, Kind::Leaf);
        assert_eq!(at.function, "tokio::time::sleep::Sleep");
        assert!(at.text().contains("inlined"), "{}", at.text());
        assert!(task_await(&t).is_none());
        assert_eq!(parked_at(&trace(2, vec![])).kind, Kind::Unknown);
        assert_eq!(
            leaf_name("tokio::net::tcp::stream::TcpStream::poll_read_priv"),
            "tokio::net::tcp::stream::TcpStream"
        );
        assert_eq!(
            leaf_name("<tokio::io::PollEvented<E> as x::Y>::poll"),
            "tokio::io::PollEvented"
        );
    }

    #[test]
    fn own_files_show_relative_to_the_root_the_spawn_locations_give() {
        use crate::model::synth::{at_line, update, SEC};
        // Spawned at `src/main.rs:LINE:5` (relative, as rustc records it); the debug info
        // names `/build/app/src/main.rs`, and a file of another crate of the workspace.
        let mut model = Model::default();
        model.apply_update(&update(SEC, true, vec![at_line(1, 64, 3)], vec![]));
        let t = trace(
            1,
            vec![
                sleep_leaf(),
                frame("app::wait::{{closure}}", "/build/app/src/main.rs", 9),
                frame("app::main::{{closure}}", "/build/app/src/main.rs", 3),
            ],
        );
        let tasks = vec![t];
        assert_eq!(source_root(&tasks, &model).as_deref(), Some("/build/app/"));
        let g = groups(&tasks, &model, None);
        let at = &g[0].parked_at;
        assert_eq!(at.file, "/build/app/src/main.rs");
        assert_eq!(at.path, "src/main.rs");
        assert_eq!(at.text(), "src/main.rs:9:9 (app::wait)");
        assert_eq!(at.root(), Some("/build/app/"));
        // The same point whatever the path shown: grouping and lookups ignore it.
        assert_eq!(*at, parked_at(&tasks[0]));
        // Outside the root, or without one: dependencies shortened, the rest whole.
        let reg = format!("{REGISTRY}/tokio-1.54.1/src/time/sleep.rs");
        assert_eq!(
            shown_file(&reg, Some("/build/app/")),
            "tokio-1.54.1/src/time/sleep.rs"
        );
        assert_eq!(
            shown_file("/other/x.rs", Some("/build/app/")),
            "/other/x.rs"
        );
        assert_eq!(
            shown_file("/build/app/src/main.rs", None),
            "/build/app/src/main.rs"
        );
        // No spawn location matches: no root.
        assert_eq!(source_root(&tasks, &Model::default()), None);
        assert_eq!(file_of_location("src/main.rs:12:5"), "src/main.rs");
        assert_eq!(file_of_location("<unknown>"), "<unknown>");
    }

    #[test]
    fn tasks_group_by_their_point_most_first() {
        let model = Model::new(Default::default());
        let tasks = vec![debug_trace(1, 45), debug_trace(2, 58), debug_trace(3, 58)];
        let g = groups(&tasks, &model, None);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].tasks, g[0].parked_at.line), (2, 58));
        assert_eq!(g[0].task_ids, vec![2, 3]);
        // The empty model knows none of them.
        assert_eq!(g[0].unknown_tasks, 2);
        assert_eq!(g[1].tasks, 1);
    }
}
