//! Live tasks joined to a compile-time layout (`--layout FILE`): which spawned future type a
//! task is, and how sure that is. tokio's `size.bytes` is `size_of` the future given to spawn,
//! the layout lists the futures that reach a spawn with that size, and the spawn location names
//! the file and line: size first, then the location where several types share a size. Never a
//! silent guess: a task matches exactly, or is ambiguous (with the candidates), or matches
//! nothing (with the reason).

use std::collections::HashMap;

use crate::layout::model::{Future, FutureId, Layout, Origin, Spawn, State};

/// How a match was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// One spawned future type has that size.
    Size,
    /// Several have it; one of them is written at the spawn location.
    SizeAndLocation,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// Index into [`Layout::spawns`].
    Exact {
        spawn: usize,
        how: How,
    },
    /// No spawned future has the task's size, but the future a runtime's `block_on` was given
    /// has (the console shows it as a task, `block_on`): that future, by index into
    /// [`Layout::futures`]. It is no spawned task: no cell.
    BlockOn {
        future: FutureId,
    },
    /// Several spawned futures have the task's size and the location does not tell them apart.
    Ambiguous {
        spawns: Vec<usize>,
    },
    None(NoMatch),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoMatch {
    /// The target does not report the task's size.
    SizeUnknown,
    /// No spawned future of the layout has that size.
    NoSuchSize(u64),
    /// No spawned future has that size, but a coroutine that is not spawned through tokio's
    /// spawn does (a `block_on` root, or one spawned through a wrapper the report shows as
    /// another type): how many, and one of them.
    NotSpawned {
        size: u64,
        count: usize,
        example: String,
    },
}

impl std::fmt::Display for NoMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoMatch::SizeUnknown => write!(f, "the target does not report this task's size"),
            NoMatch::NoSuchSize(s) => write!(
                f,
                "no spawned future of the layout is {s} bytes (is the layout from another build or profile?)"
            ),
            NoMatch::NotSpawned {
                size,
                count,
                example,
            } => write!(
                f,
                "no spawned future is {size} bytes; {count} coroutine(s) of that size reach no tokio spawn in the layout (a block_on root?), e.g. {example}"
            ),
        }
    }
}

/// A layout indexed for matching.
#[derive(Debug, Default)]
pub struct LayoutIndex {
    layout: Layout,
    /// The futures' names, for resolving the coroutines a field's type holds (built once).
    names: crate::layout::link::Index,
    /// Spawn indices by size, one per distinct future (the same type reaching several spawn
    /// functions counts once).
    by_size: HashMap<u64, Vec<usize>>,
}

impl LayoutIndex {
    pub fn new(layout: Layout) -> LayoutIndex {
        let mut by_size: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, s) in layout.spawns.iter().enumerate() {
            let v = by_size.entry(s.size).or_default();
            let dup = v.iter().any(|&j| same_future(&layout.spawns[j], s));
            if !dup {
                v.push(i);
            }
        }
        let names = crate::layout::link::Index::new(&layout);
        LayoutIndex {
            layout,
            names,
            by_size,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The futures' names, indexed (see [`crate::layout::link::Index`]).
    pub fn names(&self) -> &crate::layout::link::Index {
        &self.names
    }

    pub fn spawn(&self, i: usize) -> &Spawn {
        &self.layout.spawns[i]
    }

    pub fn future(&self, id: FutureId) -> Option<&Future> {
        self.layout.futures.get(id)
    }

    /// The future a spawn is (or wraps), when the layout knows it.
    pub fn spawned_future(&self, spawn: usize) -> Option<&Future> {
        self.layout.spawns[spawn]
            .future
            .and_then(|id| self.future(id))
    }

    /// Match a task by its reported size and its spawn location (`file:line:col`, as tokio
    /// reports it); `line_text` is the source line at the location when it could be read.
    pub fn match_task(&self, size: Option<u64>, location: &str, line_text: Option<&str>) -> Match {
        let Some(size) = size else {
            return Match::None(NoMatch::SizeUnknown);
        };
        let Some(candidates) = self.by_size.get(&size) else {
            let roots: Vec<FutureId> = self
                .layout
                .block_on
                .iter()
                .copied()
                .filter(|&id| self.future(id).is_some_and(|f| f.size == size))
                .collect();
            if let [future] = roots[..] {
                return Match::BlockOn { future };
            }
            let mut others = self.layout.futures.iter().filter(|f| f.size == size);
            return Match::None(match others.next() {
                Some(first) => NoMatch::NotSpawned {
                    size,
                    count: 1 + others.count(),
                    example: first.name.clone(),
                },
                None => NoMatch::NoSuchSize(size),
            });
        };
        if let [only] = candidates[..] {
            return Match::Exact {
                spawn: only,
                how: How::Size,
            };
        }
        let at: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| {
                self.spawned_future(i)
                    .is_some_and(|f| written_at(f, location, line_text))
            })
            .collect();
        match at[..] {
            [only] => Match::Exact {
                spawn: only,
                how: How::SizeAndLocation,
            },
            _ => Match::Ambiguous {
                spawns: candidates.clone(),
            },
        }
    }

    /// The share of `sizes` (the sizes of live tasks) that some spawned future (or `block_on`
    /// root) of the layout has: near 0 means the layout is from another build.
    pub fn size_coverage<'a>(&self, sizes: impl Iterator<Item = &'a u64>) -> (u64, u64) {
        let (mut known, mut total) = (0, 0);
        let root_sizes: Vec<u64> = self
            .layout
            .block_on
            .iter()
            .filter_map(|&id| self.future(id).map(|f| f.size))
            .collect();
        for s in sizes {
            total += 1;
            if self.by_size.contains_key(s) || root_sizes.contains(s) {
                known += 1;
            }
        }
        (known, total)
    }
}

fn same_future(a: &Spawn, b: &Spawn) -> bool {
    match (a.future, b.future) {
        (Some(x), Some(y)) => x == y,
        _ => a.ty == b.ty,
    }
}

/// Whether the coroutine is written at the spawn location: an async block that starts on the
/// spawn's line (or the next few: `spawn(\n async move {`), or an async fn called on it by
/// name.
fn written_at(f: &Future, location: &str, line_text: Option<&str>) -> bool {
    let Some((file, line)) = file_line(location) else {
        return false;
    };
    match &f.origin {
        Origin::Span {
            file: ffile,
            line: fline,
            ..
        } => ffile == file && (line..=line + 3).contains(fline),
        Origin::Path { path } => {
            let name = fn_name(path);
            !name.is_empty()
                && line_text.is_some_and(|t| {
                    t.match_indices(name).any(|(i, _)| {
                        let before = t[..i].chars().next_back();
                        let after = t[i + name.len()..].trim_start();
                        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                            && (after.starts_with('(') || after.starts_with("::<"))
                    })
                })
        }
        Origin::Item { .. } => false,
    }
}

/// `file` and `line` of `file:line:col` (the file may itself contain `:`).
fn file_line(location: &str) -> Option<(&str, u32)> {
    let (rest, _col) = location.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    Some((file, line.parse().ok()?))
}

/// The function's own name in an async fn path: `conn::Session::serve` -> `serve`,
/// `<conn::S as Handler>::serve` -> `serve`, `run<u32>` -> `run`.
fn fn_name(path: &str) -> &str {
    let mut depth = 0usize;
    let mut end = path.len();
    // Strip a trailing generic argument list.
    if path.ends_with('>') {
        for (i, c) in path.char_indices().rev() {
            match c {
                '>' => depth += 1,
                '<' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    let p = &path[..end];
    p.rsplit("::").next().unwrap_or(p)
}

/// The state that makes the future as large as it is (the same choice as the layout table's:
/// [`crate::layout::link::largest_of`]).
pub fn largest_state(f: &Future) -> Option<&State> {
    crate::layout::link::largest_of(&f.states).map(|i| &f.states[i])
}

/// The fields of a state, largest first, without padding.
pub fn largest_fields(state: &State) -> Vec<&crate::layout::model::Field> {
    let mut fields: Vec<_> = state
        .fields
        .iter()
        .filter(|f| f.kind != crate::layout::model::FieldKind::Padding)
        .collect();
    fields.sort_by_key(|f| std::cmp::Reverse(f.size));
    fields
}

/// The task cell tokio allocates for a spawn: one size when every scheduler's cell has it,
/// else the smallest and largest.
pub fn cell_size(spawn: &Spawn) -> Option<(u64, u64)> {
    let min = spawn.cells.iter().map(|c| c.size).min()?;
    let max = spawn.cells.iter().map(|c| c.size).max()?;
    Some((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::model::{Cell, FutureKind};

    fn future(name: &str, origin: Origin, size: u64) -> Future {
        Future {
            name: name.into(),
            kind: FutureKind::AsyncFn,
            origin,
            crate_name: "server".into(),
            size,
            align: 8,
            discriminant: 1,
            end_padding: 0,
            states: vec![],
        }
    }

    fn spawn(ty: &str, size: u64, future: Option<FutureId>, cells: &[u64]) -> Spawn {
        Spawn {
            ty: ty.into(),
            size,
            future,
            boxed_by_tokio: false,
            cells: cells
                .iter()
                .map(|&size| Cell {
                    scheduler: format!("S{size}"),
                    size,
                    header: 40,
                    core: size - 88,
                    trailer: 48,
                    end_padding: 0,
                })
                .collect(),
        }
    }

    fn index() -> LayoutIndex {
        let path = |p: &str| Origin::Path { path: p.into() };
        let span = |l| Origin::Span {
            file: "src/main.rs".into(),
            line: l,
            col: 22,
            end_line: l,
            end_col: 32,
        };
        LayoutIndex::new(Layout {
            schema: 1,
            futures: vec![
                future("{async fn body of fat()}", path("fat"), 16640),
                future(
                    "{async fn body of conn::handle()}",
                    path("conn::handle"),
                    96,
                ),
                future(
                    "{async fn body of <S as H>::serve<u8>()}",
                    path("<S as H>::serve<u8>"),
                    96,
                ),
                future("{async block@src/main.rs:40:22: 40:32}", span(40), 96),
            ],
            spawns: vec![
                spawn("{async fn body of fat()}", 16640, Some(0), &[16896]),
                // The same type through another spawn function: one candidate, not two.
                spawn("{async fn body of fat()}", 16640, Some(0), &[16896]),
                spawn(
                    "{async fn body of conn::handle()}",
                    96,
                    Some(1),
                    &[256, 384],
                ),
                spawn(
                    "{async fn body of <S as H>::serve<u8>()}",
                    96,
                    Some(2),
                    &[256],
                ),
                spawn(
                    "{async block@src/main.rs:40:22: 40:32}",
                    96,
                    Some(3),
                    &[256],
                ),
            ],
            ..Default::default()
        })
    }

    #[test]
    fn one_type_of_that_size_is_exact() {
        let ix = index();
        assert_eq!(
            ix.match_task(Some(16640), "src/main.rs:10:5", None),
            Match::Exact {
                spawn: 0,
                how: How::Size
            }
        );
    }

    #[test]
    fn shared_sizes_are_told_apart_by_the_location_or_left_ambiguous() {
        let ix = index();
        let exact = |spawn| Match::Exact {
            spawn,
            how: How::SizeAndLocation,
        };
        // An async block written on the spawn line (or a line or two below).
        assert_eq!(ix.match_task(Some(96), "src/main.rs:40:5", None), exact(4));
        assert_eq!(ix.match_task(Some(96), "src/main.rs:39:5", None), exact(4));
        // An async fn called by name on the spawn line.
        let line = "    tokio::spawn(conn::handle(stream));";
        assert_eq!(
            ix.match_task(Some(96), "src/net.rs:7:5", Some(line)),
            exact(2)
        );
        let line = "    tokio::spawn(server.serve(x));";
        assert_eq!(
            ix.match_task(Some(96), "src/net.rs:7:5", Some(line)),
            exact(3)
        );
        // A name that merely contains another does not count (`rehandle(` is not `handle(`).
        let line = "    tokio::spawn(rehandle(stream));";
        assert!(matches!(
            ix.match_task(Some(96), "src/net.rs:7:5", Some(line)),
            Match::Ambiguous { spawns } if spawns == vec![2, 3, 4]
        ));
        // No source line: ambiguous, with every candidate.
        assert!(matches!(
            ix.match_task(Some(96), "src/net.rs:7:5", None),
            Match::Ambiguous { spawns } if spawns.len() == 3
        ));
    }

    #[test]
    fn no_match_says_why() {
        let ix = index();
        assert_eq!(
            ix.match_task(None, "src/main.rs:1:1", None),
            Match::None(NoMatch::SizeUnknown)
        );
        let m = ix.match_task(Some(12), "src/main.rs:1:1", None);
        assert_eq!(m, Match::None(NoMatch::NoSuchSize(12)));
        if let Match::None(why) = m {
            assert!(why.to_string().contains("another build"), "{why}");
        }
        assert_eq!(ix.size_coverage([16640, 96, 12, 7].iter()), (2, 4));
        // A coroutine of that size exists but reaches no spawn (a block_on root): said so.
        let mut layout = index().layout;
        layout.futures.push(future(
            "{async block@src/main.rs:5:1: 5:11}",
            Origin::Path {
                path: "main".into(),
            },
            520,
        ));
        let ix = LayoutIndex::new(layout);
        let m = ix.match_task(Some(520), "src/main.rs:5:1", None);
        assert!(
            matches!(
                &m,
                Match::None(NoMatch::NotSpawned {
                    size: 520,
                    count: 1,
                    ..
                })
            ),
            "{m:?}"
        );
        if let Match::None(why) = m {
            assert!(why.to_string().contains("block_on"), "{why}");
        }
        // Known as the future a runtime's block_on was given: matched as that, not a spawn.
        let mut layout = ix.layout.clone();
        layout.block_on = vec![layout.futures.len() - 1];
        let ix = LayoutIndex::new(layout);
        let future = ix.layout.futures.len() - 1;
        assert_eq!(
            ix.match_task(Some(520), "src/main.rs:5:1", None),
            Match::BlockOn { future }
        );
        assert_eq!(ix.size_coverage([520, 7].iter()), (1, 2));
    }

    #[test]
    fn names_and_cells() {
        assert_eq!(fn_name("conn::Session::serve"), "serve");
        assert_eq!(fn_name("<conn::S as Handler>::serve"), "serve");
        assert_eq!(fn_name("run<Vec<u8>>"), "run");
        assert_eq!(fn_name("f"), "f");
        assert_eq!(file_line("C:/x.rs:10:4"), Some(("C:/x.rs", 10)));
        assert_eq!(file_line("nonsense"), None);
        let ix = index();
        assert_eq!(cell_size(ix.spawn(2)), Some((256, 384)));
        assert_eq!(cell_size(&spawn("x", 1, None, &[])), None);
    }

    #[test]
    fn the_largest_state_prefers_a_suspend_state_on_a_tie() {
        let st = |name: &str, size| State {
            name: name.into(),
            size,
            fields: vec![],
            await_point: None,
        };
        let mut f = future("x", Origin::Path { path: "x".into() }, 32);
        f.states = vec![st("Unresumed", 16), st("Suspend0", 16), st("Returned", 16)];
        assert_eq!(largest_state(&f).unwrap().name, "Suspend0");
        f.states.push(st("Suspend1", 24));
        assert_eq!(largest_state(&f).unwrap().name, "Suspend1");
    }

    #[test]
    fn the_join_reads_the_spawn_line_and_bills_the_matched_tasks() {
        let dir = std::env::temp_dir().join(format!("asyncmem-join-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("src/net.rs"),
            "fn x() {\n    tokio::spawn(conn::handle(s));\n}\n",
        )
        .unwrap();
        let mut layout = index().layout;
        // fat is boxed by tokio: its cell holds a pointer, the future is a heap block too.
        layout.spawns[0].boxed_by_tokio = true;
        layout.workspace_root = Some(dir.to_string_lossy().into_owned());
        let join = LayoutJoin::new(layout);
        let tasks = [
            ("src/net.rs:2:5", Some(96)),
            ("src/net.rs:2:5", Some(96)),
            ("src/main.rs:10:5", Some(16640)),
            ("src/main.rs:11:5", None),
            ("src/gone.rs:2:5", Some(96)),
        ];
        let joined = join.join(tasks.into_iter());
        assert_eq!(joined.len(), 4);
        assert_eq!(joined[0].0, "src/net.rs:2:5");
        assert_eq!(joined[0].1.live, 2);
        assert_eq!(
            joined[0].1.matched,
            Match::Exact {
                spawn: 2,
                how: How::SizeAndLocation
            }
        );
        let gone = joined
            .iter()
            .find(|(l, _)| *l == "src/gone.rs:2:5")
            .unwrap();
        assert!(matches!(gone.1.matched, Match::Ambiguous { .. }));
        // Cells: 2 x 384 (the larger scheduler's) + 1 x 16896; instrumentation 100 each.
        let bill = join.bill(&joined, 100);
        assert_eq!(bill.tasks, 5);
        assert_eq!(bill.matched, 3);
        assert_eq!(bill.cell_bytes, 2 * 384 + 16896);
        assert_eq!(bill.boxed_bytes, 16640);
        assert_eq!(bill.per_task(), Some((2 * 384 + 16896 + 16640 + 300) / 3));
        let share = bill
            .share_of(Some(bill.per_task().unwrap() as f64 * 2.0))
            .unwrap();
        assert!((share - 0.5).abs() < 1e-9, "{share}");
        assert_eq!(bill.share_of(None), None);
        assert_eq!(Bill::default().per_task(), None);
    }
}

/// A layout joined to a live picture: the index plus what the matches need from outside the
/// layout (the source line at a spawn location, read once).
#[derive(Debug)]
pub struct LayoutJoin {
    index: LayoutIndex,
    /// Where the layout's relative paths start (the built workspace's root).
    root: Option<std::path::PathBuf>,
    lines: std::sync::Mutex<HashMap<(String, u32), Option<String>>>,
}

/// Source files larger than this are not read for a spawn line.
const MAX_SOURCE_BYTES: u64 = 8 << 20;

/// What the layout says about the tasks of one spawn location that have one size.
#[derive(Clone, Debug, PartialEq)]
pub struct Joined {
    pub size: Option<u64>,
    /// Live tasks of that location with that size.
    pub live: u64,
    pub matched: Match,
}

impl LayoutJoin {
    pub fn new(layout: Layout) -> LayoutJoin {
        let root = layout.workspace_root.as_ref().map(std::path::PathBuf::from);
        LayoutJoin {
            index: LayoutIndex::new(layout),
            root,
            lines: Default::default(),
        }
    }

    pub fn index(&self) -> &LayoutIndex {
        &self.index
    }

    /// Match the tasks of `location` that have `size`.
    pub fn match_at(&self, size: Option<u64>, location: &str) -> Match {
        let line = file_line(location).and_then(|(f, l)| self.line(f, l));
        self.index.match_task(size, location, line.as_deref())
    }

    /// The source line `line` of `file` (relative to the layout's root, or absolute), read
    /// once; `None` when it cannot be read.
    fn line(&self, file: &str, line: u32) -> Option<String> {
        let key = (file.to_string(), line);
        let mut cache = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(&key) {
            return hit.clone();
        }
        let path = std::path::Path::new(file);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.as_ref()?.join(path)
        };
        let text = std::fs::metadata(&path)
            .ok()
            .filter(|m| m.len() <= MAX_SOURCE_BYTES)
            .and_then(|_| std::fs::read_to_string(&path).ok())
            .and_then(|t| {
                t.lines()
                    .nth(usize::try_from(line).ok()?.checked_sub(1)?)
                    .map(str::to_string)
            });
        cache.insert(key, text.clone());
        text
    }

    /// Every (location, size) of the live tasks, matched, largest share of live tasks first.
    pub fn join<'a>(
        &self,
        tasks: impl Iterator<Item = (&'a str, Option<u64>)>,
    ) -> Vec<(&'a str, Joined)> {
        let mut groups: HashMap<(&'a str, Option<u64>), u64> = HashMap::new();
        for key in tasks {
            *groups.entry(key).or_default() += 1;
        }
        let mut out: Vec<(&'a str, Joined)> = groups
            .into_iter()
            .map(|((loc, size), live)| {
                (
                    loc,
                    Joined {
                        size,
                        live,
                        matched: self.match_at(size, loc),
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| {
            b.1.live
                .cmp(&a.1.live)
                .then(a.0.cmp(b.0))
                .then(a.1.size.cmp(&b.1.size))
        });
        out
    }

    /// The bytes the layout accounts for per live task: for each exactly matched task its
    /// cell (the largest scheduler's, future + tokio's header, trailer and padding; for a future
    /// tokio boxed, the cell holds a pointer and the future is a heap block of its own, counted
    /// too), plus `instrumentation` bytes per task; with the tasks it covers.
    pub fn bill(&self, joined: &[(&str, Joined)], instrumentation: u64) -> Bill {
        let mut bill = Bill::default();
        for (_, j) in joined {
            bill.tasks += j.live;
            if let Match::Exact { spawn, .. } = j.matched {
                let sp = self.index.spawn(spawn);
                if let Some((_, cell)) = cell_size(sp) {
                    bill.matched += j.live;
                    bill.cell_bytes += cell.saturating_mul(j.live);
                    if sp.boxed_by_tokio {
                        bill.boxed_bytes += sp.size.saturating_mul(j.live);
                    }
                }
            }
        }
        bill.instrumentation_bytes = instrumentation.saturating_mul(bill.matched);
        bill
    }
}

/// A spawn location's future as the layout explains it, in brief (the locations view's
/// columns): its largest state and where that state is parked, and the biggest field held
/// there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brief {
    /// `Some` when the tasks matched a spawned future exactly; else why not, in a word
    /// (`ambiguous`, `no match`).
    pub state: Result<BriefState, &'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BriefState {
    pub name: String,
    pub size: u64,
    /// `file:line` of its await, when mapped.
    pub at: Option<String>,
    /// The biggest field held in it: name and size.
    pub field: Option<(String, u64)>,
}

impl LayoutJoin {
    /// [`Brief`] of the tasks of `location` whose future is `size` bytes.
    pub fn brief(&self, size: Option<u64>, location: &str) -> Brief {
        let future = match self.match_at(size, location) {
            Match::Exact { spawn, .. } => self.index.spawned_future(spawn),
            Match::BlockOn { future } => self.index.future(future),
            Match::Ambiguous { .. } => {
                return Brief {
                    state: Err("ambiguous"),
                }
            }
            Match::None(_) => {
                return Brief {
                    state: Err("no match"),
                }
            }
        };
        let Some(st) = future.and_then(largest_state) else {
            return Brief {
                state: Err("not in layout"),
            };
        };
        let at = match &st.await_point {
            Some(crate::layout::model::AwaitPoint::Mapped { file, line, .. }) => {
                let name = file.rsplit('/').next().unwrap_or(file);
                Some(format!("{name}:{line}"))
            }
            _ => None,
        };
        Brief {
            state: Ok(BriefState {
                name: st.name.clone(),
                size: st.size,
                at,
                field: largest_fields(st).first().map(|f| (f.name.clone(), f.size)),
            }),
        }
    }
}

/// What the layout explains of the live tasks' memory (see [`LayoutJoin::bill`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bill {
    /// Live tasks looked at, and those matched exactly to a spawned future with a known cell.
    pub tasks: u64,
    pub matched: u64,
    /// Their cells, summed.
    pub cell_bytes: u64,
    /// The futures tokio boxed (a heap block each, beside the cell), summed.
    pub boxed_bytes: u64,
    /// The instrumentation's estimated bytes for them.
    pub instrumentation_bytes: u64,
}

impl Bill {
    /// Mean bytes per matched task: cell + instrumentation.
    pub fn per_task(&self) -> Option<u64> {
        (self.cell_bytes + self.boxed_bytes + self.instrumentation_bytes).checked_div(self.matched)
    }

    /// The share of a measured RSS slope (bytes per task) that [`Bill::per_task`] explains.
    pub fn share_of(&self, slope: Option<f64>) -> Option<f64> {
        let per = self.per_task()? as f64;
        slope.filter(|s| *s > 0.0).map(|s| per / s)
    }
}
