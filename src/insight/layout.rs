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
}

impl std::fmt::Display for NoMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoMatch::SizeUnknown => write!(f, "the target does not report this task's size"),
            NoMatch::NoSuchSize(s) => write!(
                f,
                "no spawned future of the layout is {s} bytes (is the layout from another build or profile?)"
            ),
        }
    }
}

/// A layout indexed for matching.
#[derive(Debug, Default)]
pub struct LayoutIndex {
    layout: Layout,
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
        LayoutIndex { layout, by_size }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
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
            return Match::None(NoMatch::NoSuchSize(size));
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

    /// The share of `sizes` (the sizes of live tasks) that some spawned future of the layout
    /// has: near 0 means the layout is from another build.
    pub fn size_coverage<'a>(&self, sizes: impl Iterator<Item = &'a u64>) -> (u64, u64) {
        let (mut known, mut total) = (0, 0);
        for s in sizes {
            total += 1;
            if self.by_size.contains_key(s) {
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

/// The state that makes the future as large as it is (the largest; a suspend state on a tie).
pub fn largest_state(f: &Future) -> Option<&State> {
    f.states.iter().max_by(|a, b| {
        a.size
            .cmp(&b.size)
            .then_with(|| {
                a.name
                    .starts_with("Suspend")
                    .cmp(&b.name.starts_with("Suspend"))
            })
            .then_with(|| b.name.cmp(&a.name))
    })
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
}
