//! Links the parsed report together: each field whose type holds a coroutine gets that
//! coroutine's id (through wrappers: `Instrumented<..>`, `MaybeDone<..>`, `Pin<Box<..>>`,
//! tuples, ...), each future that reaches a tokio spawn becomes a [`Spawn`] with its task cells,
//! and [`tree`] unfolds a state down to the leaf futures.
//!
//! Field types are printed with trimmed paths (`{async fn body of Signal::recv()}` for
//! `{async fn body of tokio::signal::unix::Signal::recv()}`): a name resolves by exact match
//! first, then to the one future whose name it is a trimmed form of (every path in it a suffix,
//! by whole segments, of the path at the same place). Two candidates = not linked: never a guess.

use std::collections::HashMap;

use super::model::{Cell, Field, FieldKind, FutureId, Layout, Spawn, State};
use super::report::{classify, Parsed, RawCell};

/// tokio's `BOX_FUTURE_THRESHOLD` (tokio/src/runtime/mod.rs): a spawned future larger than
/// this is boxed before it goes into the task cell.
pub fn box_threshold(debug_assertions: bool) -> u64 {
    if debug_assertions {
        2048
    } else {
        16384
    }
}

/// Splits generic arguments (or tuple members) at the commas of depth 0.
pub(crate) fn split_args(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = args.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {} // `fn() -> T`
            b'>' | b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = args[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// `head<args>` -> (head, args) when the type ends with its generic list.
fn generic(ty: &str) -> Option<(&str, &str)> {
    let open = ty.find('<')?;
    let inner = ty[open + 1..].strip_suffix('>')?;
    Some((&ty[..open], inner))
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// The future type `F` a tokio spawn closure was instantiated with:
/// `{closure@tokio::task::spawn::spawn_inner<F>::{closure#0}}` (also `spawn_local_inner`,
/// which `spawn_local` and `LocalSet::spawn_local` reach; `JoinSet::spawn` and
/// `Builder::spawn` reach `spawn_inner`).
pub(crate) fn spawned_future(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("{closure@tokio::")?;
    let open = rest.find('<')?;
    let seg = last_segment(&rest[..open]);
    if seg != "spawn_inner" && seg != "spawn_local_inner" {
        return None;
    }
    let inner = rest[open + 1..].strip_suffix(">::{closure#0}}")?;
    let args = split_args(inner);
    (args.len() == 1).then(|| args[0])
}

/// The future a runtime's `block_on` was given: the `F` of
/// `{closure@tokio::runtime::scheduler::multi_thread::MultiThread::block_on<F>::{closure#0}}`
/// (or `current_thread::CurrentThread`), without tokio's `Instrumented<..>` and the
/// `Pin<Box<..>>` it puts a large future in: the future whose size tokio reports.
pub(crate) fn block_on_future(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("{closure@tokio::runtime::scheduler::")?;
    let open = rest.find('<')?;
    let head = &rest[..open];
    if !(head.ends_with("MultiThread::block_on") || head.ends_with("CurrentThread::block_on")) {
        return None;
    }
    let inner = rest[open + 1..].strip_suffix(">::{closure#0}}")?;
    let args = split_args(inner);
    let [f] = args.as_slice() else {
        return None;
    };
    let f = uninstrument(f).unwrap_or(f);
    Some(unbox(f).unwrap_or(f))
}

/// `Pin<Box<X>>` -> X (any path prefix).
fn unbox(ty: &str) -> Option<&str> {
    let (head, arg) = generic(ty)?;
    if last_segment(head) != "Pin" {
        return None;
    }
    let (head, arg) = generic(arg)?;
    (last_segment(head) == "Box").then_some(arg)
}

/// `tracing::instrument::Instrumented<X>` -> X.
fn uninstrument(ty: &str) -> Option<&str> {
    let (head, arg) = generic(ty)?;
    (last_segment(head) == "Instrumented").then_some(arg)
}

/// Wrappers whose argument lives on the heap: a coroutine in them is `boxed`.
const HEAP: [&str; 9] = [
    "Box",
    "Arc",
    "Rc",
    "Vec",
    "VecDeque",
    "FuturesUnordered",
    "FuturesOrdered",
    "JoinAll",
    "SelectAll",
];
/// Types whose arguments are not futures they hold (outputs, markers, weak pointers).
const NOT_HELD: [&str; 6] = [
    "PhantomData",
    "JoinHandle",
    "Weak",
    "NonNull",
    "Unique",
    "AbortHandle",
];

/// The coroutines a value of this type holds, as named in it, each with whether it is behind a
/// pointer. A coroutine's own name is one (its generic arguments are not looked into), a
/// closure holds none that can be told, references and raw pointers hold none.
pub fn held(ty: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    held_into(ty.trim(), false, &mut out, 0);
    out
}

fn held_into<'a>(ty: &'a str, boxed: bool, out: &mut Vec<(&'a str, bool)>, depth: u32) {
    if depth > 64 || ty.is_empty() {
        return;
    }
    if classify(ty).is_some() {
        out.push((ty, boxed));
        return;
    }
    match ty.as_bytes()[0] {
        b'(' => {
            if let Some(inner) = ty.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
                for member in split_args(inner) {
                    held_into(member, boxed, out, depth + 1);
                }
            }
        }
        b'[' => {
            // `[T; N]` holds N values of T; `[T]` behind a pointer never gets here.
            if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                let elem = inner.rsplit_once("; ").map_or(inner, |(e, _)| e);
                held_into(elem, boxed, out, depth + 1);
            }
        }
        b'&' | b'*' | b'{' => {}
        _ => {
            if ty.starts_with("fn(") || ty.starts_with("dyn ") || ty.starts_with("impl ") {
                return;
            }
            let Some((head, args)) = generic(ty) else {
                return;
            };
            let seg = last_segment(head);
            if NOT_HELD.contains(&seg) {
                return;
            }
            let boxed = boxed || HEAP.contains(&seg);
            for arg in split_args(args) {
                held_into(arg, boxed, out, depth + 1);
            }
        }
    }
}

/// One piece of a type name for matching trimmed paths, as byte ranges of the name (so an
/// index can keep the pieces of every name without borrowing it).
#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// The segments of a path (`a::b::C`).
    Path(Vec<(usize, usize)>),
    /// Any other character.
    Other(usize, usize),
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn tokens(s: &str) -> Vec<Token> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_ident(b[i]) {
            let mut segs = Vec::new();
            loop {
                let start = i;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                segs.push((start, i));
                if i + 2 < b.len() && b[i] == b':' && b[i + 1] == b':' && is_ident(b[i + 2]) {
                    i += 2;
                } else {
                    break;
                }
            }
            out.push(Token::Path(segs));
        } else {
            let len = s[i..].chars().next().map_or(1, char::len_utf8);
            out.push(Token::Other(i, i + len));
            i += len;
        }
    }
    out
}

/// Every path cut to its last segment: the same for a name and any trimmed form of it.
fn key(s: &str, toks: &[Token]) -> String {
    let mut k = String::with_capacity(s.len());
    for t in toks {
        match t {
            Token::Path(segs) => {
                if let Some(&(a, b)) = segs.last() {
                    k.push_str(&s[a..b]);
                }
            }
            Token::Other(a, b) => k.push_str(&s[*a..*b]),
        }
    }
    k
}

/// Whether `short` is `full` with some paths trimmed (each a suffix by whole segments).
fn trimmed_form_of(short: &str, st: &[Token], full: &str, ft: &[Token]) -> bool {
    st.len() == ft.len()
        && st.iter().zip(ft).all(|(x, y)| match (x, y) {
            (Token::Path(a), Token::Path(b)) => {
                a.len() <= b.len()
                    && a.iter()
                        .rev()
                        .zip(b.iter().rev())
                        .all(|(p, q)| short[p.0..p.1] == full[q.0..q.1])
            }
            (Token::Other(a0, a1), Token::Other(b0, b1)) => short[*a0..*a1] == full[*b0..*b1],
            _ => false,
        })
}

#[cfg(test)]
fn trimmed(short: &str, full: &str) -> bool {
    trimmed_form_of(short, &tokens(short), full, &tokens(full))
}

/// Names of [`Layout::futures`] -> ids, exact and by trimmed form.
#[derive(Debug, Default)]
pub struct Index {
    exact: HashMap<String, FutureId>,
    by_key: HashMap<String, Vec<FutureId>>,
    names: Vec<String>,
    tokens: Vec<Vec<Token>>,
}

impl Index {
    pub fn new(layout: &Layout) -> Index {
        let mut exact = HashMap::with_capacity(layout.futures.len());
        let mut by_key: HashMap<String, Vec<FutureId>> = HashMap::new();
        let mut tokens_of = Vec::with_capacity(layout.futures.len());
        for (id, f) in layout.futures.iter().enumerate() {
            exact.entry(f.name.clone()).or_insert(id);
            let t = tokens(&f.name);
            by_key.entry(key(&f.name, &t)).or_default().push(id);
            tokens_of.push(t);
        }
        let names = layout.futures.iter().map(|f| f.name.clone()).collect();
        Index {
            exact,
            by_key,
            names,
            tokens: tokens_of,
        }
    }

    /// The future a (maybe trimmed) coroutine name names, when exactly one fits.
    pub fn resolve(&self, name: &str) -> Option<FutureId> {
        if let Some(&id) = self.exact.get(name) {
            return Some(id);
        }
        let short = tokens(name);
        let mut fits = self
            .by_key
            .get(&key(name, &short))?
            .iter()
            .copied()
            .filter(|&id| trimmed_form_of(name, &short, &self.names[id], &self.tokens[id]));
        let first = fits.next()?;
        fits.next().is_none().then_some(first)
    }

    /// Every coroutine a type holds that resolves, with whether it is boxed (a `join!` tuple
    /// holds several).
    pub fn resolve_all(&self, ty: &str) -> Vec<(FutureId, bool)> {
        held(ty)
            .into_iter()
            .filter_map(|(n, b)| self.resolve(n).map(|id| (id, b)))
            .collect()
    }

    /// The one coroutine a type holds, resolved, with whether it is boxed; `None` when it holds
    /// none, several, or one that does not resolve.
    pub fn resolve_held(&self, ty: &str) -> Option<(FutureId, bool)> {
        let held = held(ty);
        let [(name, boxed)] = held.as_slice() else {
            return None;
        };
        Some((self.resolve(name)?, *boxed))
    }
}

/// Fills `future`/`boxed` of every field, and `layout.spawns` from the spawn closures and
/// cells the parse found.
pub(crate) fn link(layout: &mut Layout, parsed: &Parsed<'_>, box_threshold: u64) {
    let index = Index::new(layout);
    for future in &mut layout.futures {
        for state in &mut future.states {
            for field in &mut state.fields {
                if field.kind == FieldKind::Padding {
                    continue;
                }
                if let Some((id, boxed)) = field.ty.as_deref().and_then(|t| index.resolve_held(t)) {
                    field.future = Some(id);
                    field.boxed = boxed;
                }
            }
        }
    }
    layout.spawns = spawns(layout, &index, parsed, box_threshold);
    layout.block_on = parsed
        .block_on
        .iter()
        .filter_map(|f| index.resolve_held(f).map(|(id, _)| id))
        .collect();
    layout.block_on.dedup();
}

fn spawns(layout: &Layout, index: &Index, parsed: &Parsed<'_>, threshold: u64) -> Vec<Spawn> {
    // The plain and the boxed instantiation of tokio's spawn name the same future: one Spawn.
    let mut order: Vec<&str> = Vec::new();
    let mut known: HashMap<&str, ()> = HashMap::new();
    for f in &parsed.spawned {
        let plain = unbox(f).unwrap_or(f);
        if known.insert(plain, ()).is_none() {
            order.push(plain);
        }
    }
    // Each cell by the future it stores (boxed or not), once: a lookup per spawn, not a scan.
    let mut by_future: HashMap<&str, Vec<(&RawCell, bool)>> = HashMap::new();
    for cell in &parsed.cells {
        for (plain, boxed) in cell_futures(&cell.stored) {
            by_future.entry(plain).or_default().push((cell, boxed));
        }
    }
    order
        .into_iter()
        .map(|ty| {
            let future = index.resolve_held(ty).map(|(id, _)| id);
            let size = parsed
                .sizes
                .get(ty)
                .copied()
                .or_else(|| future.map(|id| layout.futures[id].size))
                .unwrap_or(0);
            let boxed_by_tokio = size > threshold;
            let cells = by_future
                .get(ty)
                .into_iter()
                .flatten()
                .filter(|(_, boxed)| *boxed == boxed_by_tokio)
                .map(|(c, _)| Cell {
                    scheduler: c.scheduler.clone(),
                    size: c.size,
                    header: c.header,
                    core: c.core,
                    trailer: c.trailer,
                    end_padding: c.end_padding,
                })
                .collect();
            Spawn {
                ty: ty.to_string(),
                size,
                future,
                boxed_by_tokio,
                cells,
            }
        })
        .collect()
}

/// The futures a cell may store, each with whether boxed: `F` or `Pin<Box<F>>`, either maybe
/// in tokio's own `Instrumented<..>` (its `tracing` feature under `tokio_unstable`). Both
/// readings of an outer `Instrumented<..>` are kept (the user's or tokio's): a spawn matches
/// the one that is exactly its type.
fn cell_futures(stored: &str) -> Vec<(&str, bool)> {
    let read = |t| match unbox(t) {
        Some(plain) => (plain, true),
        None => (t, false),
    };
    let mut out = vec![read(stored)];
    if let Some(inner) = uninstrument(stored) {
        out.push(read(inner));
    }
    out
}

/// A state unfolded down to the leaf futures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub future: FutureId,
    /// The state of `future` this node shows (its largest, for a child), by index.
    pub state: Option<usize>,
    /// The field of the parent's state that holds this future (empty at the root).
    pub via: String,
    pub boxed: bool,
    /// True when this future is already on the path from the root (a cycle): not unfolded.
    pub cycle: bool,
    pub children: Vec<Node>,
}

/// The awaitee tree of `future` in `state` (`None`: its largest state), `depth` levels down
/// (0 = the root alone). A child is shown in its largest state; each field holding several
/// coroutines (a `join!` tuple) gives a child for each one that resolves.
pub fn tree(layout: &Layout, future: FutureId, state: Option<usize>, depth: u32) -> Option<Node> {
    tree_in(layout, &Index::new(layout), future, state, depth)
}

/// [`tree`] with the layout's [`Index`] built once by the caller (a view drawn every frame
/// keeps it).
pub fn tree_in(
    layout: &Layout,
    index: &Index,
    future: FutureId,
    state: Option<usize>,
    depth: u32,
) -> Option<Node> {
    let f = layout.futures.get(future)?;
    let state = state.or_else(|| largest_state(layout, future));
    if let Some(s) = state {
        if s >= f.states.len() {
            return None;
        }
    }
    let mut path = vec![future];
    Some(unfold(
        layout,
        index,
        future,
        state,
        String::new(),
        false,
        depth,
        &mut path,
    ))
}

#[allow(clippy::too_many_arguments, reason = "one recursive step of tree()")]
fn unfold(
    layout: &Layout,
    index: &Index,
    future: FutureId,
    state: Option<usize>,
    via: String,
    boxed: bool,
    depth: u32,
    path: &mut Vec<FutureId>,
) -> Node {
    let mut node = Node {
        future,
        state,
        via,
        boxed,
        cycle: false,
        children: Vec::new(),
    };
    let (Some(s), true) = (state, depth > 0) else {
        return node;
    };
    for field in &layout.futures[future].states[s].fields {
        for (child, child_boxed) in held_by(index, field) {
            if path.contains(&child) {
                let mut leaf = unfold(
                    layout,
                    index,
                    child,
                    None,
                    field.name.clone(),
                    child_boxed,
                    0,
                    path,
                );
                leaf.cycle = true;
                node.children.push(leaf);
                continue;
            }
            path.push(child);
            let child_state = largest_state(layout, child);
            node.children.push(unfold(
                layout,
                index,
                child,
                child_state,
                field.name.clone(),
                child_boxed,
                depth - 1,
                path,
            ));
            path.pop();
        }
    }
    node
}

/// The coroutines a field holds: the one the linker found, else every one its type names that
/// resolves (a `join!` tuple's).
pub fn held_by(index: &Index, field: &Field) -> Vec<(FutureId, bool)> {
    match (field.future, &field.ty) {
        (Some(id), _) => vec![(id, field.boxed)],
        (None, Some(ty)) => index.resolve_all(ty),
        (None, None) => Vec::new(),
    }
}

/// The index of a future's largest state, if it has any (see [`largest_of`]).
pub fn largest_state(layout: &Layout, future: FutureId) -> Option<usize> {
    largest_of(&layout.futures.get(future)?.states)
}

/// The index of the largest of `states`: among equals a suspend state (the one a parked task
/// is in, with an await line), else the first.
pub fn largest_of(states: &[State]) -> Option<usize> {
    let suspend = |i: usize| states[i].name.starts_with("Suspend");
    let mut best: Option<usize> = None;
    for (i, s) in states.iter().enumerate() {
        let better = best.is_none_or(|b| {
            s.size > states[b].size || (s.size == states[b].size && suspend(i) && !suspend(b))
        });
        if better {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_args_respects_nesting_and_arrows() {
        assert_eq!(
            split_args("A<B, C>, (D, E), fn(&()) -> &(), {async block@f.rs:1:2: 3:4}"),
            vec![
                "A<B, C>",
                "(D, E)",
                "fn(&()) -> &()",
                "{async block@f.rs:1:2: 3:4}"
            ]
        );
    }

    #[test]
    fn held_sees_through_wrappers_and_not_through_pointers() {
        let t = "tracing::instrument::Instrumented<{async fn body of a()}>";
        assert_eq!(held(t), vec![("{async fn body of a()}", false)]);
        let t = "std::pin::Pin<std::boxed::Box<{async fn body of a()}>>";
        assert_eq!(held(t), vec![("{async fn body of a()}", true)]);
        let t = "(MaybeDone<{async fn body of a()}>, MaybeDone<{async block@x.rs:1:2: 1:9}>)";
        assert_eq!(
            held(t),
            vec![
                ("{async fn body of a()}", false),
                ("{async block@x.rs:1:2: 1:9}", false)
            ]
        );
        assert!(held("std::pin::Pin<&mut {async fn body of a()}>").is_empty());
        assert!(held("PollFn<{closure@run<{async block@x.rs:1:2: 1:9}>::{closure#0}}>").is_empty());
        assert!(held("std::marker::PhantomData<{async fn body of a()}>").is_empty());
        assert!(held("Sleep").is_empty());
        // A coroutine's generic arguments are its own business.
        let t = "{async block@m::run<{async block@x.rs:1:2: 1:9}>::{closure#0}}";
        assert_eq!(held(t), vec![(t, false)]);
    }

    #[test]
    fn trimmed_forms() {
        assert!(trimmed(
            "{async fn body of Signal::recv()}",
            "{async fn body of tokio::signal::unix::Signal::recv()}"
        ));
        // A suffix by characters is not a suffix by segments.
        assert!(!trimmed(
            "{async fn body of nal::recv()}",
            "{async fn body of tokio::signal::unix::Signal::recv()}"
        ));
        assert!(!trimmed(
            "{async fn body of Other::recv()}",
            "{async fn body of tokio::signal::unix::Signal::recv()}"
        ));
        assert!(trimmed(
            "{async block@Common::run<{async block@demos/src/bin/f.rs:95:21: 95:31}>::{closure#0}}",
            "{async block@asyncmem_demos::Common::run<{async block@demos/src/bin/f.rs:95:21: 95:31}>::{closure#0}}"
        ));
    }

    #[test]
    fn block_on_future_names() {
        let inner = "{async block@asyncmem_demos::Common::run<{async block@demos/src/bin/layers.rs:71:21: 71:31}>::{closure#0}}";
        for (sched, wrapped) in [
            (
                "multi_thread::MultiThread",
                format!("tracing::instrument::Instrumented<{inner}>"),
            ),
            (
                "current_thread::CurrentThread",
                format!(
                    "tracing::instrument::Instrumented<std::pin::Pin<std::boxed::Box<{inner}>>>"
                ),
            ),
            (
                "multi_thread::MultiThread",
                "{async fn body of main()}".to_string(),
            ),
        ] {
            let name = format!("{{closure@tokio::runtime::scheduler::{sched}::block_on<{wrapped}>::{{closure#0}}}}");
            let want = if wrapped.contains("main()") {
                "{async fn body of main()}"
            } else {
                inner
            };
            assert_eq!(block_on_future(&name), Some(want), "{name}");
        }
        // The closures inside it and the park thread's block_on are not the runtime's.
        let nested = format!("{{closure@tokio::runtime::scheduler::current_thread::CurrentThread::block_on<{inner}>::{{closure#0}}::{{closure#0}}}}");
        assert_eq!(block_on_future(&nested), None);
        let park = format!(
            "{{closure@tokio::runtime::park::CachedParkThread::block_on<{inner}>::{{closure#0}}}}"
        );
        assert_eq!(block_on_future(&park), None);
    }

    #[test]
    fn spawned_future_names() {
        assert_eq!(
            spawned_future(
                "{closure@tokio::task::spawn::spawn_inner<{async fn body of fat()}>::{closure#0}}"
            ),
            Some("{async fn body of fat()}")
        );
        assert_eq!(
            spawned_future("{closure@tokio::task::local::spawn_local_inner<std::pin::Pin<std::boxed::Box<{async block@src/main.rs:61:38: 61:43}>>>::{closure#0}}"),
            Some("std::pin::Pin<std::boxed::Box<{async block@src/main.rs:61:38: 61:43}>>")
        );
        // The closures inside it, and tokio's with_current wrapper of it, are not spawns.
        assert_eq!(
            spawned_future("{closure@tokio::task::local::spawn_local_inner<{async block@src/main.rs:61:38: 61:43}>::{closure#1}}"),
            None
        );
        assert_eq!(
            spawned_future("{closure@tokio::runtime::context::current::with_current<{closure@tokio::task::spawn::spawn_inner<{async fn body of fat()}>::{closure#0}}, tokio::task::JoinHandle<()>>::{closure#0}}"),
            None
        );
    }
}

#[cfg(test)]
mod linking {
    use super::*;
    use crate::layout::report::{assemble, assemble_for};
    use crate::layout::CrateReport;

    const FAT_VS_SLIM: &str = include_str!("../../tests/fixtures/layout/fat-vs-slim.debug.types");
    const CORPUS: &str = include_str!("../../tests/fixtures/layout/corpus.debug.types");

    fn report(text: &str) -> CrateReport {
        CrateReport {
            crate_name: "x".into(),
            src_path: "src/main.rs".into(),
            cwd: "/".into(),
            text: text.into(),
        }
    }

    fn id(layout: &Layout, name: &str) -> usize {
        layout.futures.iter().position(|f| f.name == name).unwrap()
    }

    fn awaitee(layout: &Layout, future: &str, state: &str) -> Option<usize> {
        let f = &layout.futures[id(layout, future)];
        let s = f.states.iter().find(|s| s.name == state).unwrap();
        s.fields
            .iter()
            .find(|x| x.name == "__awaitee")
            .unwrap()
            .future
    }

    #[test]
    fn awaitees_link_directly_and_through_instrumented() {
        let l = assemble(&[report(CORPUS)]).unwrap();
        let middle = id(&l, "{async fn body of middle()}");
        assert_eq!(
            awaitee(&l, "{async fn body of huge()}", "Suspend0"),
            Some(middle)
        );
        // #[tracing::instrument]: the fn body awaits `Instrumented<{async block@..}>`.
        let block = id(&l, "{async block@src/main.rs:29:1: 29:23}");
        assert_eq!(
            awaitee(&l, "{async fn body of traced()}", "Suspend0"),
            Some(block)
        );
        assert_eq!(
            awaitee(&l, "{async block@src/main.rs:29:1: 29:23}", "Suspend0"),
            Some(middle)
        );
    }

    #[test]
    fn trimmed_awaitee_names_resolve_to_the_full_name() {
        let l = assemble(&[report(CORPUS)]).unwrap();
        let full = "{async fn body of tokio::task::LocalSet::run_until<{async block@src/main.rs:60:25: 60:30}>()}";
        let run_until = id(&l, full);
        let main = "{async block@src/main.rs:48:17: 48:22}";
        let f = &l.futures[id(&l, main)];
        let linked: Vec<_> = f
            .states
            .iter()
            .flat_map(|s| &s.fields)
            .filter(|x| {
                x.ty.as_deref()
                    .is_some_and(|t| t.contains("LocalSet::run_until"))
            })
            .map(|x| x.future)
            .collect();
        assert!(!linked.is_empty());
        assert!(linked.iter().all(|&x| x == Some(run_until)));
    }

    /// Two futures whose trimmed form is the same: an awaitee printed that way is not linked;
    /// with one of them gone it is.
    #[test]
    fn ambiguous_trimmed_names_are_not_linked() {
        let entry = |name: &str| {
            format!(
                "print-type-size type: `{name}`: 2 bytes, alignment: 1 bytes\n\
                 print-type-size     discriminant: 1 bytes\n\
                 print-type-size     variant `Unresumed`: 0 bytes\n"
            )
        };
        let waiter = "print-type-size type: `{async fn body of w()}`: 3 bytes, alignment: 1 bytes\n\
                      print-type-size     discriminant: 1 bytes\n\
                      print-type-size     variant `Suspend0`: 2 bytes\n\
                      print-type-size         local `.__awaitee`: 2 bytes, type: {async fn body of Signal::recv()}\n";
        let a = entry("{async fn body of a::Signal::recv()}");
        let b = entry("{async fn body of b::Signal::recv()}");
        let other = entry("{async fn body of c::Other::recv()}");
        let both = assemble(&[report(&format!("{waiter}{a}{b}{other}"))]).unwrap();
        assert_eq!(awaitee(&both, "{async fn body of w()}", "Suspend0"), None);
        let one = assemble(&[report(&format!("{waiter}{a}{other}"))]).unwrap();
        let target = id(&one, "{async fn body of a::Signal::recv()}");
        assert_eq!(
            awaitee(&one, "{async fn body of w()}", "Suspend0"),
            Some(target)
        );
        // Same last segment, other type: never linked.
        let wrong = assemble(&[report(&format!("{waiter}{other}"))]).unwrap();
        assert_eq!(awaitee(&wrong, "{async fn body of w()}", "Suspend0"), None);
    }

    #[test]
    fn boxed_awaitees_are_marked() {
        let text = "print-type-size type: `{async fn body of w()}`: 16 bytes, alignment: 8 bytes\n\
                    print-type-size     discriminant: 1 bytes\n\
                    print-type-size     variant `Suspend0`: 8 bytes\n\
                    print-type-size         local `.__awaitee`: 8 bytes, type: Pin<Box<{async fn body of big()}>>\n\
                    print-type-size type: `{async fn body of m::big()}`: 9000 bytes, alignment: 1 bytes\n\
                    print-type-size     variant `Unresumed`: 0 bytes\n";
        let l = assemble(&[report(text)]).unwrap();
        let f = &l.futures[id(&l, "{async fn body of w()}")].states[0].fields[0];
        assert_eq!(f.future, Some(id(&l, "{async fn body of m::big()}")));
        assert!(f.boxed);
    }

    #[test]
    fn spawns_with_cells_and_tokio_boxing() {
        let debug = assemble(&[report(FAT_VS_SLIM)]).unwrap();
        let tys: Vec<_> = debug.spawns.iter().map(|s| s.ty.as_str()).collect();
        assert_eq!(
            tys,
            [
                "{async fn body of fat()}",
                "{async fn body of boxed()}",
                "{async fn body of slim()}"
            ]
        );
        let fat = &debug.spawns[0];
        assert_eq!(fat.size, 16640);
        assert_eq!(fat.future, Some(id(&debug, "{async fn body of fat()}")));
        // Debug build: over 2 KiB, so tokio boxes it; the cell holds `Pin<Box<..>>`.
        assert!(fat.boxed_by_tokio);
        assert_eq!(fat.cells.len(), 2);
        for c in &fat.cells {
            assert_eq!(
                (c.size, c.header, c.core, c.trailer, c.end_padding),
                (256, 40, 80, 48, 88)
            );
        }
        let slim = &debug.spawns[2];
        assert!(!slim.boxed_by_tokio);
        assert_eq!(slim.cells.len(), 2);
        for c in &slim.cells {
            assert_eq!(c.size, 512);
            assert_eq!(c.header + c.core + c.trailer + c.end_padding, c.size);
            assert!(c.scheduler.contains("Handle"));
        }
        // Without debug assertions tokio boxes above 16 KiB: fat (16640 B) still, a 6 KiB one not.
        let release = assemble_for(&[report(FAT_VS_SLIM)], false).unwrap();
        assert!(release.spawns[0].boxed_by_tokio);
        let corpus = assemble_for(&[report(CORPUS)], false).unwrap();
        let mid = corpus
            .spawns
            .iter()
            .find(|s| s.ty == "{async fn body of mid_sized()}")
            .unwrap();
        assert_eq!(mid.size, 6264);
        assert!(!mid.boxed_by_tokio);
        assert!(mid.cells.iter().all(|c| c.size == 6528));
        let corpus_debug = assemble(&[report(CORPUS)]).unwrap();
        let mid = corpus_debug.spawns.iter().find(|s| s.ty == mid.ty).unwrap();
        assert!(mid.boxed_by_tokio);
        assert!(mid.cells.iter().all(|c| c.size == 256));
    }

    #[test]
    fn every_kind_of_spawn_is_found() {
        let l = assemble(&[report(CORPUS)]).unwrap();
        let mut tys: Vec<_> = l.spawns.iter().map(|s| s.ty.as_str()).collect();
        tys.sort_unstable();
        assert_eq!(
            tys,
            [
                "{async block@src/main.rs:54:30: 54:40}", // tokio::spawn(async move ..)
                "{async block@src/main.rs:56:19: 56:29}", // JoinSet::spawn
                "{async block@src/main.rs:58:65: 58:70}", // Builder::name().spawn
                "{async block@src/main.rs:61:38: 61:43}", // spawn_local
                "{async fn body of huge()}",
                "{async fn body of joining()}",
                "{async fn body of mid_sized()}",
                "{async fn body of selecting()}",
                "{async fn body of traced()}",
            ]
        );
        assert!(l
            .spawns
            .iter()
            .all(|s| s.future.is_some() && !s.cells.is_empty()));
        let local = l.spawns.iter().find(|s| s.ty.contains("61:38")).unwrap();
        assert!(local
            .cells
            .iter()
            .any(|c| c.scheduler.contains("local::Shared")));
    }

    #[test]
    fn tree_unfolds_to_the_leaves() {
        let l = assemble(&[report(CORPUS)]).unwrap();
        let traced = id(&l, "{async fn body of traced()}");
        let t = tree(&l, traced, None, 10).unwrap();
        let mut chain = vec![l.futures[t.future].name.clone()];
        let mut n = &t;
        while let Some(c) = n.children.first() {
            chain.push(l.futures[c.future].name.clone());
            n = c;
        }
        assert_eq!(
            chain,
            [
                "{async fn body of traced()}",
                "{async block@src/main.rs:29:1: 29:23}",
                "{async fn body of middle()}",
                "{async fn body of leaf()}",
            ]
        );
        assert_eq!(t.children[0].via, "__awaitee");
        // depth limits it.
        let short = tree(&l, traced, None, 1).unwrap();
        assert_eq!(short.children.len(), 1);
        assert!(short.children[0].children.is_empty());
        assert!(tree(&l, traced, Some(99), 1).is_none());
    }

    #[test]
    fn tree_guards_cycles() {
        let text = "print-type-size type: `{async fn body of m::a()}`: 16 bytes, alignment: 8 bytes\n\
                    print-type-size     variant `Suspend0`: 8 bytes\n\
                    print-type-size         local `.__awaitee`: 8 bytes, type: Pin<Box<{async fn body of b()}>>\n\
                    print-type-size type: `{async fn body of m::b()}`: 16 bytes, alignment: 8 bytes\n\
                    print-type-size     variant `Suspend0`: 8 bytes\n\
                    print-type-size         local `.__awaitee`: 8 bytes, type: Pin<Box<{async fn body of a()}>>\n";
        let l = assemble(&[report(text)]).unwrap();
        let t = tree(&l, 0, None, 50).unwrap();
        let b = &t.children[0];
        assert!(!b.cycle && b.boxed);
        assert_eq!(b.children.len(), 1);
        assert!(b.children[0].cycle);
        assert!(b.children[0].children.is_empty());
    }
}
