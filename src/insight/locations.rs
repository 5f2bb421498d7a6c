//! Spawn locations: whose code a location is ([`origin`]: the user's own, or a dependency's in
//! the cargo registry, a git checkout or the Rust toolchain), and tasks grouped by location
//! (counts by state and future sizes).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::{Sym, Task, TaskState};

/// Whose code a spawn location is. Paths are the absolute ones tokio reports
/// (`#[track_caller]`'s `file:line:col`); the borrowed parts point into that string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin<'a> {
    /// Not recognised as a dependency: the user's code (a workspace path, or anything else).
    Own,
    /// A crate from a cargo registry: `.../registry/src/REGISTRY-HASH/CRATE-VER/PATH`.
    Registry {
        /// `axum-0.8.9`
        crate_version: &'a str,
        /// `src/serve/mod.rs:389:5`
        path: &'a str,
    },
    /// A git dependency: `.../git/checkouts/REPO-HASH/REV/PATH`.
    Git {
        /// `tokio` (the checkout's directory without its hash)
        repo: &'a str,
        /// `a1b2c3d` (cargo's short revision directory)
        rev: &'a str,
        path: &'a str,
    },
    /// The Rust toolchain's sources: `/rustc/HASH/library/std/src/...`.
    Toolchain {
        /// `library/std/src/thread/mod.rs:10:5`
        path: &'a str,
    },
}

/// The first path component of `s` and the rest (`("a", "b/c")` from `a/b/c`).
fn component(s: &str) -> Option<(&str, &str)> {
    let (first, rest) = s.split_once('/')?;
    (!first.is_empty() && !rest.is_empty()).then_some((first, rest))
}

/// `name-0123abcd...`: the name without cargo's trailing `-HASH` (hex).
fn without_hash(dir: &str) -> &str {
    match dir.rsplit_once('-') {
        Some((name, hash))
            if !name.is_empty()
                && hash.len() >= 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            name
        }
        _ => dir,
    }
}

/// Whether `dir` ends in cargo's `-HASH` (`index.crates.io-1949cf8c6b5b557f`).
fn hashed(dir: &str) -> bool {
    without_hash(dir) != dir
}

/// Whose code `location` is (see [`Origin`]).
pub fn origin(location: &str) -> Origin<'_> {
    if let Some(rest) = location.strip_prefix("/rustc/") {
        if let Some((_hash, path)) = component(rest) {
            return Origin::Toolchain { path };
        }
    }
    // Cargo's home may be anywhere ($CARGO_HOME): look for its layout, not for `~/.cargo`.
    if let Some((_, rest)) = location.rsplit_once("/registry/src/") {
        if let Some((_registry, rest)) = component(rest).filter(|(r, _)| hashed(r)) {
            if let Some((crate_version, path)) = component(rest) {
                return Origin::Registry {
                    crate_version,
                    path,
                };
            }
        }
    }
    if let Some((_, rest)) = location.rsplit_once("/git/checkouts/") {
        if let Some((checkout, rest)) = component(rest).filter(|(c, _)| hashed(c)) {
            if let Some((rev, path)) = component(rest) {
                return Origin::Git {
                    repo: without_hash(checkout),
                    rev,
                    path,
                };
            }
        }
    }
    Origin::Own
}

impl Origin<'_> {
    /// Whether the code is a dependency's (the user cannot change it in place).
    pub fn is_dependency(&self) -> bool {
        *self != Origin::Own
    }

    /// The dependency as a reader names it: `axum 0.8.9`, `tokio (git a1b2c3d)`, `the Rust
    /// standard library (std)`; `None` for the user's own code.
    pub fn dependency(&self) -> Option<String> {
        match *self {
            Origin::Own => None,
            Origin::Registry { crate_version, .. } => Some(match split_version(crate_version) {
                Some((name, version)) => format!("{name} {version}"),
                None => crate_version.to_string(),
            }),
            Origin::Git { repo, rev, .. } => Some(format!("{repo} (git {rev})")),
            Origin::Toolchain { path } => {
                let lib = path
                    .strip_prefix("library/")
                    .and_then(|p| p.split('/').next())
                    .filter(|l| !l.is_empty());
                Some(match lib {
                    Some(lib) => format!("the Rust standard library ({lib})"),
                    None => "the Rust toolchain".to_string(),
                })
            }
        }
    }

    /// The location as it reads best: `axum-0.8.9/src/serve/mod.rs:389:5` (crate-version and
    /// path in the crate), `tokio@a1b2c3d/tokio/src/task/spawn.rs:10:5`,
    /// `rustc/library/std/src/thread/mod.rs:10:5`; the user's own locations unchanged.
    pub fn short<'s>(&self, location: &'s str) -> Cow<'s, str> {
        match *self {
            Origin::Own => Cow::Borrowed(location),
            Origin::Registry {
                crate_version,
                path,
            } => Cow::Owned(format!("{crate_version}/{path}")),
            Origin::Git { repo, rev, path } => Cow::Owned(format!("{repo}@{rev}/{path}")),
            Origin::Toolchain { path } => Cow::Owned(format!("rustc/{path}")),
        }
    }
}

/// `axum-0.8.9` -> (`axum`, `0.8.9`); `tokio-util-0.7.1-alpha.1` -> (`tokio-util`,
/// `0.7.1-alpha.1`): the version starts at the first `-` followed by a digit.
fn split_version(crate_version: &str) -> Option<(&str, &str)> {
    let at = crate_version
        .match_indices('-')
        .map(|(i, _)| i)
        .find(|&i| crate_version[i + 1..].starts_with(|c: char| c.is_ascii_digit()))?;
    Some((&crate_version[..at], &crate_version[at + 1..]))
}

/// A location as shown: [`Origin::short`].
pub fn short_location(location: &str) -> Cow<'_, str> {
    origin(location).short(location)
}

/// Tasks of one spawn location.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub location: Sym,
    pub tasks: u64,
    /// Tasks by state, in [`TaskState::ALL`] order (see [`Location::of`]).
    pub by_state: [u64; TaskState::ALL.len()],
    /// Tasks whose size is known, and their sizes.
    pub sized: u64,
    pub size_min: u64,
    /// Bytes held by its live tasks' futures (what the location costs now).
    pub live_size_sum: u64,
    pub size_max: u64,
    pub size_sum: u64,
    pub boxed: u64,
}

impl Location {
    pub fn size_mean(&self) -> Option<u64> {
        self.size_sum.checked_div(self.sized)
    }

    pub fn live(&self) -> u64 {
        self.tasks - self.of(TaskState::Done)
    }

    /// Its tasks in `state`.
    pub fn of(&self, state: TaskState) -> u64 {
        self.by_state[state as usize]
    }
}

/// Group tasks by spawn location (live and retained done tasks alike).
pub fn by_location<'a>(tasks: impl Iterator<Item = &'a Task>) -> Vec<Location> {
    let mut map: HashMap<Sym, Location> = HashMap::new();
    for t in tasks {
        let l = map.entry(t.location).or_insert_with(|| Location {
            location: t.location,
            size_min: u64::MAX,
            ..Default::default()
        });
        l.tasks += 1;
        l.by_state[t.state() as usize] += 1;
        if let Some(size) = t.size_bytes {
            l.sized += 1;
            l.size_min = l.size_min.min(size);
            l.size_max = l.size_max.max(size);
            l.size_sum = l.size_sum.saturating_add(size);
            if t.state() != TaskState::Done {
                l.live_size_sum = l.live_size_sum.saturating_add(size);
            }
        }
        if t.boxed {
            l.boxed += 1;
        }
    }
    let mut out: Vec<Location> = map
        .into_values()
        .map(|mut l| {
            if l.sized == 0 {
                l.size_min = 0;
            }
            l
        })
        .collect();
    out.sort_by(|a, b| {
        b.live_size_sum
            .cmp(&a.live_size_sum)
            .then(b.size_sum.cmp(&a.size_sum))
            .then(b.tasks.cmp(&a.tasks))
            .then(a.location.cmp(&b.location))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insight::test_task as task;

    #[test]
    fn states_index_in_their_all_order() {
        for (i, s) in TaskState::ALL.into_iter().enumerate() {
            assert_eq!(s as usize, i, "{s:?}");
        }
    }

    #[test]
    fn locations_aggregate_sizes_and_states() {
        use crate::model::TaskStats;
        let stats = TaskStats {
            created_at: 1,
            ..Default::default()
        };
        let mut a1 = task(Some(100), false, stats);
        a1.location = Sym::NONE;
        let a2 = task(
            Some(300),
            true,
            TaskStats {
                dropped_at: 5,
                ..stats
            },
        );
        let a3 = task(None, false, stats);
        let locs = by_location([a1, a2, a3].iter());
        assert_eq!(locs.len(), 1);
        let l = &locs[0];
        assert_eq!(
            (l.tasks, l.of(TaskState::Idle), l.live(), l.sized, l.boxed),
            (3, 2, 2, 2, 1)
        );
        assert_eq!(
            (l.size_min, l.size_max, l.size_sum, l.size_mean()),
            (100, 300, 400, Some(200))
        );
        assert_eq!(l.live_size_sum, 100, "the done task's 300 B are not held");
    }

    #[test]
    fn registry_git_and_toolchain_locations_are_dependencies() {
        let reg = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/serve/mod.rs:389:5";
        let o = origin(reg);
        assert_eq!(
            o,
            Origin::Registry {
                crate_version: "axum-0.8.9",
                path: "src/serve/mod.rs:389:5"
            }
        );
        assert!(o.is_dependency());
        assert_eq!(o.dependency().as_deref(), Some("axum 0.8.9"));
        assert_eq!(short_location(reg), "axum-0.8.9/src/serve/mod.rs:389:5");
        // Each location with the dependency it names and its short form.
        for (location, dependency, short) in [
            // Another CARGO_HOME, another registry, a hyphenated crate with a pre-release.
            (
                "/opt/cargo/registry/src/github.com-1ecc6299db9ec823/tokio-util-0.7.1-alpha.1/src/lib.rs:1:1",
                "tokio-util 0.7.1-alpha.1",
                "tokio-util-0.7.1-alpha.1/src/lib.rs:1:1",
            ),
            // A git dependency, at its commit.
            (
                "/home/u/.cargo/git/checkouts/tokio-377c595163f99a10/a1b2c3d/tokio/src/task/spawn.rs:10:5",
                "tokio (git a1b2c3d)",
                "tokio@a1b2c3d/tokio/src/task/spawn.rs:10:5",
            ),
            // The toolchain's standard library.
            (
                "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/thread/mod.rs:10:5",
                "the Rust standard library (std)",
                "rustc/library/std/src/thread/mod.rs:10:5",
            ),
        ] {
            assert_eq!(origin(location).dependency().as_deref(), Some(dependency));
            assert_eq!(short_location(location), short);
        }
    }

    #[test]
    fn the_users_code_is_its_own() {
        for own in [
            "/work/app/src/main.rs:40:9",
            "src/main.rs:1:1",
            "demos/src/bin/sleepers.rs:40:9",
            "/home/u/registry/src/lib.rs:1:1", // a project named registry
            "/home/u/registry/src/a/b/c.rs:1:1", // no registry directory with a hash
            "/home/u/git/checkouts/a/b/c.rs:1:1",
            "/rustc/", // too short to be the toolchain's
            "",
            "<unknown>",
        ] {
            assert_eq!(origin(own), Origin::Own, "{own}");
            assert_eq!(short_location(own), own);
            assert_eq!(origin(own).dependency(), None);
        }
        assert_eq!(without_hash("tokio-377c595163f99a10"), "tokio");
        assert_eq!(without_hash("my-repo"), "my-repo");
    }
}
