//! One-line reasons for a future's size (when one thing dominates its largest state), and the
//! `--max-future SIZE` check.

use std::fmt;

use super::link::largest_state;
use super::model::{AwaitPoint, FieldKind, FutureId, Layout};

/// What "dominates" means: at least this share of the state's bytes.
pub const DOMINANT_PERCENT: u64 = 50;

/// States smaller than this get no reason: a small future needs no explaining (a `Sleep`
/// awaitee is most of a 256-byte state, and nothing to act on).
pub const MIN_STATE_BYTES: u64 = 1024;

/// Why a state is as large as it is, when one thing explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// An argument stored twice in one state: as the upvar and as a local (rust-lang/rust#62958).
    StoredTwice {
        name: String,
        size: u64,
        state: String,
        state_size: u64,
    },
    /// The awaited future is most of the state.
    LargeAwaitee {
        /// The awaitee's type as the report prints it (or the field's name when not printed).
        awaitee: String,
        size: u64,
        state: String,
        state_size: u64,
    },
    /// The branch futures of a `select!`/`join!` (tokio keeps them in a local `futures` and
    /// awaits a `PollFn` over them) are most of the state.
    MacroFutures {
        /// `select!` or `join!` (`try_join!` too).
        macro_name: &'static str,
        size: u64,
        state: String,
        state_size: u64,
    },
    /// One local or upvar (a buffer, most often) is most of the state.
    Held {
        name: String,
        kind: FieldKind,
        size: u64,
        state: String,
        state_size: u64,
    },
}

fn percent(part: u64, whole: u64) -> u64 {
    (part * 100).checked_div(whole).unwrap_or(0)
}

fn dominates(part: u64, whole: u64) -> bool {
    whole > 0 && part * 100 >= whole * DOMINANT_PERCENT
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::StoredTwice {
                name,
                size,
                state,
                state_size,
            } => write!(
                f,
                "argument `{name}` stored twice (upvar and local): 2 x {size} B of {state}'s {state_size} B"
            ),
            Reason::LargeAwaitee {
                awaitee,
                size,
                state,
                state_size,
            } => write!(
                f,
                "awaitee {awaitee} is {size} B ({}% of {state}'s {state_size} B): `Box::pin` it to move it out of this state",
                percent(*size, *state_size)
            ),
            Reason::MacroFutures {
                macro_name,
                size,
                state,
                state_size,
            } => write!(
                f,
                "the futures of a {macro_name} ({size} B, {}% of {state}'s {state_size} B) held across the await: `Box::pin` the large branches",
                percent(*size, *state_size)
            ),
            Reason::Held {
                name,
                kind,
                size,
                state,
                state_size,
            } => {
                let what = match kind {
                    FieldKind::Upvar => "argument/capture",
                    _ => "buffer/local",
                };
                write!(
                    f,
                    "{what} `{name}` ({size} B, {}% of {state}'s {state_size} B) held across the await",
                    percent(*size, *state_size)
                )
            }
        }
    }
}

/// The reason for `future`'s size, from its largest state, when one thing dominates it.
pub fn reason(layout: &Layout, future: FutureId) -> Option<Reason> {
    let f = layout.futures.get(future)?;
    let state = &f.states[largest_state(layout, future)?];
    let whole = state.size;
    if whole < MIN_STATE_BYTES {
        return None;
    }
    let named = |k: FieldKind| {
        state
            .fields
            .iter()
            .filter(move |x| x.kind == k && !x.name.is_empty())
    };
    // The same name as upvar and local: an argument moved into a local of the body.
    for local in named(FieldKind::Local) {
        if local.size > 0
            && named(FieldKind::Upvar).any(|u| u.name == local.name)
            && dominates(2 * local.size, whole)
        {
            return Some(Reason::StoredTwice {
                name: local.name.clone(),
                size: local.size,
                state: state.name.clone(),
                state_size: whole,
            });
        }
    }
    let biggest = state
        .fields
        .iter()
        .filter(|x| x.kind != FieldKind::Padding)
        .max_by_key(|x| x.size)?;
    if !dominates(biggest.size, whole) {
        return None;
    }
    let awaitee = biggest.name == "__awaitee" || biggest.future.is_some();
    if awaitee {
        let name = match (biggest.future, &biggest.ty) {
            (Some(id), _) => layout.futures[id].name.clone(),
            (None, Some(ty)) => ty.clone(),
            (None, None) => format!("`{}`", biggest.name),
        };
        return Some(Reason::LargeAwaitee {
            awaitee: name,
            size: biggest.size,
            state: state.name.clone(),
            state_size: whole,
        });
    }
    if let Some(macro_name) = macro_of(state, &biggest.name) {
        return Some(Reason::MacroFutures {
            macro_name,
            size: biggest.size,
            state: state.name.clone(),
            state_size: whole,
        });
    }
    Some(Reason::Held {
        name: biggest.name.clone(),
        kind: biggest.kind,
        size: biggest.size,
        state: state.name.clone(),
        state_size: whole,
    })
}

/// `select!`/`join!` when `local` is tokio's `futures` tuple of one: the state awaits a
/// `PollFn` whose closure is in tokio's macros/select.rs or macros/join.rs.
fn macro_of(state: &super::model::State, local: &str) -> Option<&'static str> {
    if local != "futures" {
        return None;
    }
    let ty = state
        .fields
        .iter()
        .find(|x| x.name == "__awaitee")?
        .ty
        .as_deref()?;
    if !ty.contains("PollFn<{closure@") {
        return None;
    }
    if ty.contains("/macros/select.rs:") {
        Some("select!")
    } else if ty.contains("/macros/join.rs:") || ty.contains("/macros/try_join.rs:") {
        Some("join!")
    } else {
        None
    }
}

/// A spawned future over the `--max-future` limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// The spawned type as printed.
    pub ty: String,
    pub size: u64,
    pub max: u64,
    /// Its largest state's name and size, when the future is a coroutine of the layout.
    pub state: Option<(String, u64)>,
    pub await_point: Option<AwaitPoint>,
    pub reason: Option<Reason>,
}

impl fmt::Display for OverLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {} B, over the limit of {} B",
            self.ty, self.size, self.max
        )?;
        if let Some((name, size)) = &self.state {
            write!(f, "; largest state {name} ({size} B)")?;
            match &self.await_point {
                Some(AwaitPoint::Mapped {
                    file, line, col, ..
                }) => write!(f, " at {file}:{line}:{col}")?,
                Some(AwaitPoint::Unmapped { reason }) => write!(f, " (await unmapped: {reason})")?,
                None => {}
            }
        }
        if let Some(r) = &self.reason {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

/// Each spawned future larger than `max` bytes, largest first, with its largest state.
pub fn over_limit(layout: &Layout, max: u64) -> Vec<OverLimit> {
    let mut over: Vec<OverLimit> = layout
        .spawns
        .iter()
        .filter(|s| s.size > max)
        .map(|s| {
            let state = s.future.and_then(|id| {
                let i = largest_state(layout, id)?;
                Some(&layout.futures[id].states[i])
            });
            OverLimit {
                ty: s.ty.clone(),
                size: s.size,
                max,
                state: state.map(|st| (st.name.clone(), st.size)),
                await_point: state.and_then(|st| st.await_point.clone()),
                reason: s.future.and_then(|id| reason(layout, id)),
            }
        })
        .collect();
    over.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.ty.cmp(&b.ty)));
    over
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::model::AwaitPoint;
    use crate::layout::report::one_crate as layout;

    const FAT_VS_SLIM: &str = include_str!("../../tests/fixtures/layout/fat-vs-slim.debug.types");
    const CORPUS: &str = include_str!("../../tests/fixtures/layout/corpus.debug.types");
    const OLD_FIELD: &str = include_str!("../../tests/fixtures/layout/old-field.types");
    /// rustc's own tests/ui/print_type_sizes/async.stdout (rustc 1.95 era), the first entry.
    const ASYNC_ARG: &str = "\
print-type-size type: `{async fn body of test()}`: 16386 bytes, alignment: 1 bytes
print-type-size     discriminant: 1 bytes
print-type-size     variant `Unresumed`: 8192 bytes
print-type-size         upvar `.arg`: 8192 bytes
print-type-size     variant `Suspend0`: 16385 bytes
print-type-size         upvar `.arg`: 8192 bytes
print-type-size         local `.arg`: 8192 bytes
print-type-size         local `.__awaitee`: 1 bytes, type: {async fn body of wait()}
print-type-size     variant `Returned`: 8192 bytes
print-type-size         upvar `.arg`: 8192 bytes
print-type-size     variant `Panicked`: 8192 bytes
print-type-size         upvar `.arg`: 8192 bytes
";

    fn reason_of(l: &Layout, name: &str) -> Option<Reason> {
        reason(l, l.futures.iter().position(|f| f.name == name).unwrap())
    }

    #[test]
    fn a_buffer_held_across_the_await() {
        let l = layout(FAT_VS_SLIM);
        let r = reason_of(&l, "{async fn body of fat()}").unwrap();
        assert_eq!(
            r.to_string(),
            "buffer/local `buf` (16384 B, 98% of Suspend0's 16632 B) held across the await"
        );
        // slim: a 256-byte state, its Sleep awaitee 232 B of it: too small to need a reason.
        assert_eq!(reason_of(&l, "{async fn body of slim()}"), None);
    }

    #[test]
    fn an_argument_stored_twice() {
        let l = layout(ASYNC_ARG);
        let r = reason_of(&l, "{async fn body of test()}").unwrap();
        assert_eq!(
            r.to_string(),
            "argument `arg` stored twice (upvar and local): 2 x 8192 B of Suspend0's 16385 B"
        );
    }

    #[test]
    fn a_large_awaitee_names_the_linked_future() {
        let l = layout(CORPUS);
        let r = reason_of(&l, "{async block@src/main.rs:56:19: 56:29}").unwrap();
        assert_eq!(
            r.to_string(),
            "awaitee {async fn body of middle()} is 1304 B (100% of Suspend0's 1304 B): `Box::pin` it to move it out of this state"
        );
        // A small future gets none, even when one thing is all of it.
        assert_eq!(reason_of(&l, "{async fn body of leaf()}"), None);
        // Older reports print no awaitee type: the field is named instead.
        let old = layout(OLD_FIELD);
        let r = reason_of(&old, "[async fn body@$DIR/large-arg.rs:5:21: 7:2]").unwrap();
        assert!(
            r.to_string()
                .starts_with("awaitee `__awaitee` is 3075 B (100%"),
            "{r}"
        );
    }

    #[test]
    fn select_and_join_branches() {
        let l = layout(CORPUS);
        let r = reason_of(&l, "{async fn body of selecting()}").unwrap();
        assert_eq!(
            r.to_string(),
            "the futures of a select! (1560 B, 98% of Suspend0's 1585 B) held across the await: `Box::pin` the large branches"
        );
        let r = reason_of(&l, "{async fn body of joining()}").unwrap();
        assert!(
            matches!(
                r,
                Reason::MacroFutures {
                    macro_name: "join!",
                    size: 1576,
                    ..
                }
            ),
            "{r}"
        );
    }

    #[test]
    fn nothing_dominates_no_reason() {
        let text = "\
print-type-size type: `{async fn body of even()}`: 9 bytes, alignment: 1 bytes
print-type-size     discriminant: 1 bytes
print-type-size     variant `Suspend0`: 8 bytes
print-type-size         local `.a`: 3 bytes
print-type-size         local `.b`: 3 bytes
print-type-size         local `.__awaitee`: 2 bytes
";
        assert_eq!(reason_of(&layout(text), "{async fn body of even()}"), None);
    }

    #[test]
    fn over_limit_names_each_future_and_its_largest_state() {
        let mut l = layout(CORPUS);
        let over = over_limit(&l, 4096);
        let tys: Vec<_> = over.iter().map(|o| o.ty.as_str()).collect();
        assert_eq!(
            tys,
            [
                "{async fn body of huge()}",
                "{async fn body of mid_sized()}"
            ]
        );
        assert_eq!(over[0].state, Some(("Suspend0".to_string(), 21320)));
        assert!(over_limit(&l, 1 << 20).is_empty());
        // The message: the figure, the limit, the state, its await (when mapped) and the reason.
        let huge = l
            .futures
            .iter()
            .position(|f| f.name == "{async fn body of huge()}")
            .unwrap();
        let s = l.futures[huge]
            .states
            .iter_mut()
            .find(|s| s.name == "Suspend0")
            .unwrap();
        s.await_point = Some(AwaitPoint::Mapped {
            file: "src/main.rs".into(),
            line: 19,
            col: 23,
            text: "let x = middle(n).await;".into(),
        });
        let msg = over_limit(&l, 4096)[0].to_string();
        assert_eq!(
            msg,
            "{async fn body of huge()} is 21328 B, over the limit of 4096 B; largest state Suspend0 (21320 B) at src/main.rs:19:23: buffer/local `buf` (20000 B, 93% of Suspend0's 21320 B) held across the await"
        );
    }
}
