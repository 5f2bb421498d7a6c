//! The compiler's type-size report (`-Zprint-type-sizes`) as text -> [`Layout`].
//!
//! One pass over each crate's text, borrowing from it: only `print-type-size` lines are read
//! (anything else rustc or a build script printed is ignored), and only three kinds of type are
//! parsed in full: coroutines (async fn bodies, async blocks, async closures; the older
//! `[async fn body@..]`, `{generator@..}`, `[static generator@..]` names too), tokio's task
//! `Cell<F, S>`, and the closures of tokio's spawn functions (which name the spawned future
//! types). The lines of every other type are skipped without being split. A line that starts
//! with `print-type-size` but has a shape this parser does not know is an error naming the
//! crate and the line: a half-read report would give sizes that look right and are not.
//! Unknown `key: value` attributes on a known line are ignored (a newer rustc may add some).
//! Linking (awaitees, spawns, cells) is [`super::link`].

use std::collections::HashMap;

use super::link;
use super::model::{Field, FieldKind, Future, FutureKind, Layout, Origin, State, SCHEMA};
use super::CrateReport;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("line {line} of {crate_name}'s type-size report: {what}")]
    Malformed {
        crate_name: String,
        line: usize,
        what: String,
    },
}

const PREFIX: &str = "print-type-size ";
const CELL: &str = "tokio::runtime::task::core::Cell<";

/// A tokio task cell as printed, before linking: `Cell<F', S>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawCell {
    /// `F'`: the future as the cell stores it (`Instrumented<F>`, `Pin<Box<F>>`, `F`).
    pub stored: String,
    pub scheduler: String,
    pub size: u64,
    pub header: u64,
    pub core: u64,
    pub trailer: u64,
    pub end_padding: u64,
}

/// What the parse of all crates gives the linker.
#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    pub futures: Vec<Future>,
    /// `F` of each spawn closure (`spawn_inner<F>`, `spawn_local_inner<F>`), first seen first.
    pub spawned: Vec<&'a str>,
    /// `F` of each scheduler's `block_on<F>` closure, first seen first.
    pub block_on: Vec<&'a str>,
    pub cells: Vec<RawCell>,
    /// Size of every type printed, by name (for spawned futures that are not coroutines).
    pub sizes: HashMap<&'a str, u64>,
}

/// Every crate's report of one build, parsed and linked into one [`Layout`], for a build with
/// `debug_assertions` on (cargo's dev profile). For `--release` use [`assemble_for`]`(.., false)`:
/// tokio boxes a spawned future above 2 KiB with debug assertions and above 16 KiB without, and
/// the report cannot tell which (both branches of tokio's `spawn` are instantiated either way).
pub fn assemble(reports: &[CrateReport]) -> Result<Layout, ReportError> {
    assemble_for(reports, true)
}

/// [`assemble`] for a build whose profile has `debug_assertions` as given.
pub fn assemble_for(
    reports: &[CrateReport],
    debug_assertions: bool,
) -> Result<Layout, ReportError> {
    let mut parsed = Parsed::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut seen_cells: HashMap<&str, ()> = HashMap::new();
    let mut seen_spawned: HashMap<&str, ()> = HashMap::new();
    for report in reports {
        parse_into(
            &report.crate_name,
            &report.text,
            &mut parsed,
            &mut seen,
            &mut seen_cells,
            &mut seen_spawned,
        )?;
    }
    let mut layout = Layout {
        schema: SCHEMA,
        futures: std::mem::take(&mut parsed.futures),
        ..Layout::default()
    };
    link::link(&mut layout, &parsed, link::box_threshold(debug_assertions));
    Ok(layout)
}

/// One crate's text into `parsed`; names already seen (in this crate or an earlier one) are
/// kept once, the first time.
fn parse_into<'a>(
    crate_name: &str,
    text: &'a str,
    parsed: &mut Parsed<'a>,
    seen: &mut HashMap<String, usize>,
    seen_cells: &mut HashMap<&'a str, ()>,
    seen_spawned: &mut HashMap<&'a str, ()>,
) -> Result<(), ReportError> {
    let err = |line: usize, what: String| ReportError::Malformed {
        crate_name: crate_name.to_string(),
        line,
        what,
    };
    // What the lines after a `type:` line belong to.
    enum Cur {
        Skip,
        Future(Future),
        Cell(RawCell),
    }
    let mut cur = Cur::Skip;
    let finish = |cur: Cur, parsed: &mut Parsed<'a>, seen: &mut HashMap<String, usize>| match cur {
        Cur::Skip => {}
        Cur::Future(f) => {
            if !seen.contains_key(&f.name) {
                seen.insert(f.name.clone(), parsed.futures.len());
                parsed.futures.push(f);
            }
        }
        Cur::Cell(c) => parsed.cells.push(c),
    };
    for (index, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix(PREFIX) else {
            continue;
        };
        let number = index + 1;
        if let Some(ty) = rest.strip_prefix("type: `") {
            finish(std::mem::replace(&mut cur, Cur::Skip), parsed, seen);
            let Some(end) = ty.rfind("`: ") else {
                return Err(err(
                    number,
                    "a type line without its closing \"`: \"".into(),
                ));
            };
            let name = &ty[..end];
            let (size, attrs) = bytes_then(&ty[end + 3..])
                .ok_or_else(|| err(number, format!("no size after the type `{name}`")))?;
            parsed.sizes.entry(name).or_insert(size);
            let align = attr(attrs, "alignment").unwrap_or(1);
            if let Some((kind, origin)) = classify(name) {
                if seen.contains_key(name) {
                    continue; // printed by an earlier crate (or twice): keep the first
                }
                cur = Cur::Future(Future {
                    name: name.to_string(),
                    kind,
                    origin,
                    crate_name: crate_name.to_string(),
                    size,
                    align,
                    discriminant: 0,
                    end_padding: 0,
                    states: Vec::new(),
                });
            } else if let Some(args) = name.strip_prefix(CELL) {
                if seen_cells.insert(name, ()).is_some() {
                    continue;
                }
                let args = args.strip_suffix('>').unwrap_or(args);
                let parts = link::split_args(args);
                if parts.len() == 2 {
                    cur = Cur::Cell(RawCell {
                        stored: parts[0].to_string(),
                        scheduler: parts[1].to_string(),
                        size,
                        header: 0,
                        core: 0,
                        trailer: 0,
                        end_padding: 0,
                    });
                }
            } else if let Some(f) = link::spawned_future(name) {
                if seen_spawned.insert(f, ()).is_none() {
                    parsed.spawned.push(f);
                }
            } else if let Some(f) = link::block_on_future(name) {
                if !parsed.block_on.contains(&f) {
                    parsed.block_on.push(f);
                }
            }
            continue;
        }
        match &mut cur {
            Cur::Skip => {}
            Cur::Cell(cell) => {
                let body = rest.trim_start();
                if let Some(v) = body.strip_prefix("end padding: ") {
                    cell.end_padding = bytes(v).ok_or_else(|| err(number, bad(body)))?;
                } else if let Some(named) = body.strip_prefix("field `.") {
                    let (name, size) = name_size(named).ok_or_else(|| err(number, bad(body)))?;
                    match name {
                        "header" => cell.header = size,
                        "core" => cell.core = size,
                        "trailer" => cell.trailer = size,
                        _ => {}
                    }
                }
            }
            Cur::Future(future) => {
                future_line(future, rest).map_err(|what| err(number, what))?;
            }
        }
    }
    finish(cur, parsed, seen);
    Ok(())
}

fn bad(body: &str) -> String {
    format!("unexpected line `{body}`")
}

/// One line inside a coroutine's entry.
fn future_line(future: &mut Future, rest: &str) -> Result<(), String> {
    let indent = rest.len() - rest.trim_start_matches(' ').len();
    let body = &rest[indent..];
    if indent <= 4 {
        if let Some(v) = body.strip_prefix("discriminant: ") {
            future.discriminant = bytes(v).ok_or_else(|| bad(body))?;
        } else if let Some(v) = body.strip_prefix("end padding: ") {
            future.end_padding = bytes(v).ok_or_else(|| bad(body))?;
        } else if let Some(v) = body.strip_prefix("variant `") {
            let end = v.find("`: ").ok_or_else(|| bad(body))?;
            let size = bytes(&v[end + 3..]).ok_or_else(|| bad(body))?;
            future.states.push(State {
                name: v[..end].to_string(),
                size,
                fields: Vec::new(),
                await_point: None,
            });
        } else if body.starts_with("padding: ") || body.starts_with("field `") {
            // A coroutine is printed as an enum; these would be a struct's. Nothing to keep.
        } else {
            return Err(bad(body));
        }
        return Ok(());
    }
    let Some(state) = future.states.last_mut() else {
        return Err(format!("a field before any variant: `{body}`"));
    };
    if let Some(v) = body.strip_prefix("padding: ") {
        let size = bytes(v).ok_or_else(|| bad(body))?;
        state.fields.push(Field {
            kind: FieldKind::Padding,
            name: String::new(),
            size,
            offset: None,
            align: None,
            ty: None,
            future: None,
            boxed: false,
        });
        return Ok(());
    }
    let (kind, named) = if let Some(n) = body.strip_prefix("upvar `") {
        (FieldKind::Upvar, n)
    } else if let Some(n) = body.strip_prefix("local `") {
        (FieldKind::Local, n)
    } else if let Some(n) = body.strip_prefix("field `") {
        (FieldKind::Field, n)
    } else {
        return Err(bad(body));
    };
    let end = named.find("`: ").ok_or_else(|| bad(body))?;
    let name = named[..end].strip_prefix('.').unwrap_or(&named[..end]);
    let after = &named[end + 3..];
    // `type:` is last and its value may hold commas: split it off first.
    let (attrs, ty) = match after.find(", type: ") {
        Some(at) => (&after[..at], Some(&after[at + 8..])),
        None => (after, None),
    };
    let (size, attrs) = bytes_then(attrs).ok_or_else(|| bad(body))?;
    state.fields.push(Field {
        kind,
        name: name.to_string(),
        size,
        offset: attr(attrs, "offset"),
        align: attr(attrs, "alignment"),
        ty: ty.map(str::to_string),
        future: None,
        boxed: false,
    });
    Ok(())
}

/// `N bytes` -> N.
fn bytes(s: &str) -> Option<u64> {
    s.strip_suffix(" bytes")?.parse().ok()
}

/// `N bytes, key: v bytes, ...` -> (N, the rest after the first comma).
fn bytes_then(s: &str) -> Option<(u64, &str)> {
    let (head, rest) = match s.find(", ") {
        Some(at) => (&s[..at], &s[at + 2..]),
        None => (s, ""),
    };
    Some((bytes(head)?, rest))
}

/// The value of `key: N bytes` in a comma-separated attribute list.
fn attr(attrs: &str, key: &str) -> Option<u64> {
    attrs
        .split(", ")
        .find_map(|a| a.strip_prefix(key)?.strip_prefix(": ").and_then(bytes))
}

/// `name`: N bytes[, ...]` (after the opening backtick and dot) -> (name, N).
fn name_size(s: &str) -> Option<(&str, u64)> {
    let end = s.find("`: ")?;
    let (size, _) = bytes_then(&s[end + 3..])?;
    Some((&s[..end], size))
}

/// Whether a printed type is a coroutine that is a future, and where it is in the source.
pub(crate) fn classify(name: &str) -> Option<(FutureKind, Origin)> {
    let (open, close) = match name.as_bytes().first()? {
        b'{' => ('{', '}'),
        b'[' => ('[', ']'),
        _ => return None,
    };
    let inner = name.strip_prefix(open)?.strip_suffix(close)?;
    if let Some(path) = inner.strip_prefix("async fn body of ") {
        let path = path.strip_suffix("()").unwrap_or(path);
        return Some((
            FutureKind::AsyncFn,
            Origin::Path {
                path: path.to_string(),
            },
        ));
    }
    const AT: [(&str, FutureKind); 5] = [
        ("async fn body@", FutureKind::AsyncFn),
        ("async block@", FutureKind::AsyncBlock),
        ("async closure body@", FutureKind::AsyncClosure),
        // Older compilers: async code was a generator, not told apart in the name.
        ("static generator@", FutureKind::AsyncBlock),
        ("generator@", FutureKind::AsyncBlock),
    ];
    let (kind, at) = AT
        .iter()
        .find_map(|(p, k)| inner.strip_prefix(p).map(|at| (*k, at)))?;
    Some((kind, origin_of(at)))
}

/// After the `@`: `file:L:C: L:C` (maybe followed by more, as very old compilers printed),
/// else an item path (`path::f::{closure#0}`).
pub(crate) fn origin_of(at: &str) -> Origin {
    span(at).unwrap_or_else(|| Origin::Item {
        path: at.to_string(),
    })
}

fn span(at: &str) -> Option<Origin> {
    let split = at.rfind(": ")?;
    let (head, tail) = (&at[..split], &at[split + 2..]);
    let tail = tail.split(' ').next()?;
    let (end_line, end_col) = tail.split_once(':')?;
    let mut parts = head.rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next()?;
    if file.is_empty() || file.contains(['{', '<']) {
        return None;
    }
    Some(Origin::Span {
        file: file.to_string(),
        line,
        col,
        end_line: end_line.parse().ok()?,
        end_col: end_col.parse().ok()?,
    })
}

/// One crate's report text, assembled (for the tests of this room).
#[cfg(test)]
pub(crate) fn one_crate(text: &str) -> Layout {
    assemble(&[CrateReport {
        crate_name: "x".into(),
        src_path: "src/main.rs".into(),
        cwd: "/".into(),
        text: text.into(),
    }])
    .unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::model::{AwaitPoint, FieldKind};
    use std::path::PathBuf;

    pub(crate) fn report(crate_name: &str, text: &str) -> CrateReport {
        CrateReport {
            crate_name: crate_name.to_string(),
            src_path: PathBuf::from("src/main.rs"),
            cwd: PathBuf::from("/"),
            text: text.to_string(),
        }
    }

    pub(crate) const FAT_VS_SLIM: &str =
        include_str!("../../tests/fixtures/layout/fat-vs-slim.debug.types");
    pub(crate) const CORPUS: &str = include_str!("../../tests/fixtures/layout/corpus.debug.types");
    const OLD_FIELD: &str = include_str!("../../tests/fixtures/layout/old-field.types");
    const OLD_GENERATOR_FIELD: &str =
        include_str!("../../tests/fixtures/layout/old-generator-field.types");
    const GENERATOR: &str = include_str!("../../tests/fixtures/layout/generator.types");

    pub(crate) fn id(layout: &Layout, name: &str) -> usize {
        layout
            .futures
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("no future {name}"))
    }

    #[test]
    fn current_format_async_fn() {
        let layout = assemble(&[report("fat_vs_slim", FAT_VS_SLIM)]).unwrap();
        assert_eq!(layout.schema, SCHEMA);
        let fat = &layout.futures[id(&layout, "{async fn body of fat()}")];
        assert_eq!(fat.kind, FutureKind::AsyncFn);
        assert_eq!(fat.origin, Origin::Path { path: "fat".into() });
        assert_eq!(fat.crate_name, "fat_vs_slim");
        assert_eq!(
            (fat.size, fat.align, fat.discriminant, fat.end_padding),
            (16640, 8, 1, 7)
        );
        let names: Vec<_> = fat.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Unresumed", "Suspend0", "Returned", "Panicked"]);
        let s0 = &fat.states[1];
        assert_eq!(s0.size, 16632);
        assert_eq!(s0.await_point, None);
        let f: Vec<_> = s0
            .fields
            .iter()
            .map(|f| {
                (
                    f.kind,
                    f.name.as_str(),
                    f.size,
                    f.offset,
                    f.align,
                    f.ty.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            f,
            [
                (FieldKind::Upvar, "nap", 16, Some(0), Some(8), None),
                (FieldKind::Local, "buf", 16384, None, None, None),
                (
                    FieldKind::Local,
                    "__awaitee",
                    232,
                    None,
                    None,
                    Some("Sleep")
                ),
            ]
        );
        // `Sleep` is not a coroutine: not linked.
        assert_eq!(s0.fields[2].future, None);
    }

    #[test]
    fn padding_unnamed_fields_and_item_origins() {
        let layout = assemble(&[report("fat_vs_slim", FAT_VS_SLIM)]).unwrap();
        let name = "{async block@asyncmem_demos::Common::run<{async block@demos/src/bin/fat-vs-slim.rs:95:21: 95:31}>::{closure#0}}";
        let run = &layout.futures[id(&layout, name)];
        assert_eq!(run.kind, FutureKind::AsyncBlock);
        assert_eq!(
            run.origin,
            Origin::Item {
                path: "asyncmem_demos::Common::run<{async block@demos/src/bin/fat-vs-slim.rs:95:21: 95:31}>::{closure#0}".into()
            }
        );
        let s0 = &run.states[1];
        assert!(s0
            .fields
            .iter()
            .any(|f| f.kind == FieldKind::Padding && f.size == 1 && f.name.is_empty()));
        let unnamed = s0
            .fields
            .iter()
            .find(|f| f.name == ".coroutine_field3")
            .unwrap();
        assert_eq!((unnamed.size, unnamed.ty.as_deref()), (1, Some("bool")));
    }

    #[test]
    fn span_origins() {
        let layout = assemble(&[report("lp_corpus", CORPUS)]).unwrap();
        let b = &layout.futures[id(&layout, "{async block@src/main.rs:29:1: 29:23}")];
        assert_eq!(
            b.origin,
            Origin::Span {
                file: "src/main.rs".into(),
                line: 29,
                col: 1,
                end_line: 29,
                end_col: 23
            }
        );
    }

    #[test]
    fn older_field_form_and_bracket_names() {
        let layout = assemble(&[report("old", OLD_FIELD)]).unwrap();
        assert_eq!(layout.futures.len(), 2);
        let f = &layout.futures[1];
        assert_eq!(f.name, "[async fn body@$DIR/large-arg.rs:9:30: 11:2]");
        assert_eq!(f.kind, FutureKind::AsyncFn);
        assert_eq!(
            f.origin,
            Origin::Span {
                file: "$DIR/large-arg.rs".into(),
                line: 9,
                col: 30,
                end_line: 11,
                end_col: 2
            }
        );
        assert_eq!(f.states[0].name, "Suspend0");
        let kinds: Vec<_> = f.states[0]
            .fields
            .iter()
            .map(|x| (x.kind, x.name.as_str(), x.size))
            .collect();
        assert_eq!(
            kinds,
            [
                (FieldKind::Field, "t", 1024),
                (FieldKind::Field, "__awaitee", 2050)
            ]
        );
    }

    #[test]
    fn older_generator_field_names() {
        let layout = assemble(&[report("old", OLD_GENERATOR_FIELD)]).unwrap();
        assert_eq!(layout.futures.len(), 2);
        let f = &layout.futures[1];
        assert_eq!(f.states.len(), 6);
        let s1 = &f.states[2];
        assert_eq!((s1.name.as_str(), s1.size), ("Suspend1", 3076));
        let names: Vec<_> = s1
            .fields
            .iter()
            .map(|x| (x.kind, x.name.as_str(), x.size))
            .collect();
        assert_eq!(
            names,
            [
                (FieldKind::Upvar, "fut", 1025),
                (FieldKind::Padding, "", 1026),
                (FieldKind::Local, ".generator_field4", 1),
                (FieldKind::Local, "__awaitee", 1025),
            ]
        );
    }

    #[test]
    fn generator_names() {
        let layout = assemble(&[report("old", GENERATOR)]).unwrap();
        let f = &layout.futures[0];
        assert_eq!(f.kind, FutureKind::AsyncBlock);
        assert!(matches!(
            &f.origin,
            Origin::Span {
                line: 10,
                col: 5,
                ..
            }
        ));
        assert_eq!(f.states.last().unwrap().name, "Suspend0");
    }

    #[test]
    fn async_closures_and_other_coroutines() {
        assert_eq!(
            classify("{async closure body@src/a.rs:3:5: 3:30}").map(|c| c.0),
            Some(FutureKind::AsyncClosure)
        );
        // The closure that holds the captures is not the coroutine, nor are plain and gen ones.
        assert_eq!(classify("{async closure@src/a.rs:3:5: 3:30}"), None);
        assert_eq!(classify("{coroutine@src/a.rs:3:5: 3:30}"), None);
        assert_eq!(classify("{gen block@src/a.rs:3:5: 3:30}"), None);
        assert_eq!(classify("{closure@src/a.rs:3:5: 3:30}"), None);
    }

    #[test]
    fn same_name_from_two_crates_is_kept_once() {
        let one = assemble(&[report("a", CORPUS)]).unwrap();
        let two = assemble(&[report("a", CORPUS), report("b", CORPUS)]).unwrap();
        assert_eq!(one.futures.len(), two.futures.len());
        assert!(two.futures.iter().all(|f| f.crate_name == "a"));
        assert_eq!(one.spawns.len(), two.spawns.len());
        assert_eq!(one.spawns, two.spawns);
    }

    #[test]
    fn other_lines_are_ignored_and_malformed_ones_named() {
        let noisy = format!("   Compiling x v0.1.0\nwarning: unused\n{FAT_VS_SLIM}\nrandom text");
        let a = assemble(&[report("x", &noisy)]).unwrap();
        let b = assemble(&[report("x", FAT_VS_SLIM)]).unwrap();
        assert_eq!(a, b);
        let bad = "print-type-size type: `{async fn body of f()}`: 8 bytes, alignment: 1 bytes\n\
                   print-type-size     discriminant: 1 bytes\n\
                   print-type-size     variant `Suspend0`: many bytes\n";
        let err = assemble(&[report("mycrate", bad)]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3 of mycrate's"), "{msg}");
        assert!(msg.contains("variant `Suspend0`: many bytes"), "{msg}");
        let bad = "print-type-size type: `{async fn body of f()}`: 8 bytes, alignment: 1 bytes\n\
                   print-type-size         local `.x`: 1 bytes\n";
        let msg = assemble(&[report("c", bad)]).unwrap_err().to_string();
        assert!(
            msg.contains("line 2 of c's") && msg.contains("before any variant"),
            "{msg}"
        );
        let bad = "print-type-size type: `{async fn body of f()";
        assert!(assemble(&[report("c", bad)]).is_err());
    }

    #[test]
    fn await_points_are_left_for_the_mapper() {
        let layout = assemble(&[report("x", CORPUS)]).unwrap();
        assert!(layout
            .futures
            .iter()
            .flat_map(|f| &f.states)
            .all(|s| s.await_point.is_none()));
        let _ = AwaitPoint::Unmapped {
            reason: String::new(),
        };
    }
}
