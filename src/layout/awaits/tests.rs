//! The mapping on captured reports of the corpus crate `tests/corpus/layout/awaits`, against a
//! copy of the exact sources they came from (`tests/fixtures/layout/awaits/`).
//!
//! Captured with (debug, and `--release`, which printed the same entries byte for byte):
//! `RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=/work/wt/corpus-target cargo rustc --lib -- -Zprint-type-sizes`
//! and `... --bin awaits -- -Zprint-type-sizes`, keeping the coroutines that are not tokio's.

use std::path::{Path, PathBuf};

use super::map;
use crate::layout::model::{
    AwaitPoint, Field, FieldKind, Future, FutureKind, Layout, Origin, State,
};
use crate::layout::Sources;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout/awaits")
}

/// A tiny reading of the report, enough for the mapping: names, origins, states, awaitees.
fn futures_of(text: &str, crate_name: &str) -> Vec<Future> {
    let mut out: Vec<Future> = Vec::new();
    for line in text.lines() {
        let body = line.trim_start_matches("print-type-size").trim_start();
        if let Some(rest) = body.strip_prefix("type: `") {
            let name = rest.split("`: ").next().unwrap().to_string();
            let (kind, inner) = if let Some(p) = name.strip_prefix("{async fn body of ") {
                (
                    FutureKind::AsyncFn,
                    p.strip_suffix("()}").unwrap().to_string(),
                )
            } else if let Some(p) = name.strip_prefix("{async block@") {
                (
                    FutureKind::AsyncBlock,
                    p.strip_suffix('}').unwrap().to_string(),
                )
            } else {
                let p = name.strip_prefix("{async closure body@").unwrap();
                (
                    FutureKind::AsyncClosure,
                    p.strip_suffix('}').unwrap().to_string(),
                )
            };
            let origin = if kind == FutureKind::AsyncFn {
                Origin::Path { path: inner }
            } else if let Some((line, col)) = super::names::span_start(&inner) {
                let head = inner.rsplit_once(": ").unwrap().0;
                let file = head.rsplitn(3, ':').nth(2).unwrap().to_string();
                Origin::Span {
                    file,
                    line,
                    col,
                    end_line: 0,
                    end_col: 0,
                }
            } else {
                Origin::Item { path: inner }
            };
            out.push(Future {
                name,
                kind,
                origin,
                crate_name: crate_name.into(),
                size: 0,
                align: 0,
                discriminant: 0,
                end_padding: 0,
                states: Vec::new(),
            });
        } else if let Some(rest) = body.strip_prefix("variant `") {
            let name = rest.split('`').next().unwrap().to_string();
            out.last_mut().unwrap().states.push(State {
                name,
                size: 0,
                fields: Vec::new(),
                await_point: None,
            });
        } else if let Some(rest) = body.strip_prefix("local `.") {
            let name = rest.split('`').next().unwrap().to_string();
            let ty = rest.split_once("type: ").map(|(_, t)| t.to_string());
            if let Some(state) = out.last_mut().and_then(|f| f.states.last_mut()) {
                state.fields.push(Field {
                    kind: FieldKind::Local,
                    name,
                    size: 0,
                    offset: None,
                    align: None,
                    ty,
                    future: None,
                    boxed: false,
                });
            }
        }
    }
    out
}

fn corpus_sources(dir: &Path) -> Sources {
    Sources {
        crates: vec![
            (
                "awaits".into(),
                dir.join("src/bin/awaits.rs"),
                dir.to_path_buf(),
            ),
            (
                "asyncmem_corpus_awaits".into(),
                dir.join("src/lib.rs"),
                dir.to_path_buf(),
            ),
        ],
    }
}

fn corpus_layout() -> Layout {
    corpus_layout_of("debug")
}

fn corpus_layout_of(profile: &str) -> Layout {
    let dir = fixtures();
    let mut futures = futures_of(
        &std::fs::read_to_string(dir.join(format!("bin.{profile}.types"))).unwrap(),
        "awaits",
    );
    futures.extend(futures_of(
        &std::fs::read_to_string(dir.join(format!("lib.{profile}.types"))).unwrap(),
        "asyncmem_corpus_awaits",
    ));
    let mut layout = Layout {
        futures,
        ..Layout::default()
    };
    map(&mut layout, &corpus_sources(&dir.join("corpus")));
    layout
}

fn future<'l>(layout: &'l Layout, name: &str) -> &'l Future {
    layout
        .futures
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no future {name}"))
}

/// Each suspend state of a future as `FILE:L:C` or `unmapped: reason`.
fn at(layout: &Layout, name: &str) -> Vec<String> {
    future(layout, name)
        .states
        .iter()
        .filter(|s| s.name.starts_with("Suspend"))
        .map(|s| match s.await_point.as_ref().unwrap() {
            AwaitPoint::Mapped {
                file, line, col, ..
            } => format!("{file}:{line}:{col}"),
            AwaitPoint::Unmapped { reason } => format!("unmapped: {reason}"),
        })
        .collect()
}

/// The bin's lines `L:C`, in state order.
fn bin(lcs: &[&str]) -> Vec<String> {
    lcs.iter()
        .map(|lc| format!("src/bin/awaits.rs:{lc}"))
        .collect()
}

fn text(layout: &Layout, name: &str, state: usize) -> String {
    let f = future(layout, name);
    match f
        .states
        .iter()
        .find(|s| s.name == format!("Suspend{state}"))
    {
        Some(State {
            await_point: Some(AwaitPoint::Mapped { text, .. }),
            ..
        }) => text.clone(),
        other => panic!("{name} Suspend{state}: {other:?}"),
    }
}

#[test]
fn straight_line_and_operators_follow_source_order() {
    let l = corpus_layout();
    assert_eq!(
        at(&l, "{async fn body of case_straight()}"),
        bin(&["15:17", "16:17", "17:17"])
    );
    assert_eq!(
        text(&l, "{async fn body of case_straight()}", 1),
        "let y = b().await;"
    );
    assert_eq!(
        at(&l, "{async fn body of case_binop()}"),
        bin(&["22:9", "22:21", "22:33"])
    );
    // `d(a().await).await`: the argument's await first, then the call's.
    assert_eq!(
        at(&l, "{async fn body of case_args()}"),
        bin(&["26:11", "26:18", "26:32", "26:39"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_method_args()}"),
        bin(&["276:9", "276:23", "276:38"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_array_tuple()}"),
        bin(&["280:20", "280:31", "281:23", "281:35"])
    );
    // Fields in the order written, not declared.
    assert_eq!(
        at(&l, "{async fn body of case_struct_lit()}"),
        bin(&["271:27", "271:41"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_lazy_bool()}"),
        bin(&["319:9", "319:26", "319:43"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_chain()}"),
        bin(&["253:18", "253:45"])
    );
}

#[test]
fn branches_loops_and_question_marks_follow_source_order() {
    let l = corpus_layout();
    assert_eq!(
        at(&l, "{async fn body of case_if()}"),
        bin(&["30:24", "30:43", "31:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_if_let()}"),
        bin(&["286:31", "287:17", "289:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_match()}"),
        bin(&["36:18", "37:18", "39:25", "40:18"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_match_scrutinee()}"),
        bin(&["46:15", "47:18", "48:18"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_guard()}"),
        bin(&["295:18", "295:35", "296:18"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_loop()}"),
        bin(&["55:18", "60:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_while_let()}"),
        bin(&["65:35", "66:19"])
    );
    assert_eq!(
        text(&l, "{async fn body of case_while_let()}", 0),
        "while let Some(x) = rx.recv().await {"
    );
    assert_eq!(
        at(&l, "{async fn body of case_while_cond()}"),
        bin(&["302:15", "303:18"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_for()}"),
        bin(&["74:19", "76:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_try()}"),
        bin(&["80:18", "81:18", "82:20"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_nested_blocks()}"),
        bin(&["87:21", "89:17", "92:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_labeled()}"),
        bin(&["311:26", "313:13", "315:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_early_return()}"),
        bin(&["97:20", "99:17", "100:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_timeout()}"),
        bin(&["258:63", "259:26"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_sleep()}"),
        bin(&["118:50", "119:17", "120:57"])
    );
}

#[test]
fn assignment_and_let_else_are_numbered_out_of_source_order() {
    let l = corpus_layout();
    // `arr[a().await as usize] = b().await;`: rustc's Suspend0 is b (the right side).
    assert_eq!(
        at(&l, "{async fn body of case_assign()}"),
        bin(&["239:35", "239:13", "241:14"])
    );
    // `let Some(x) = Some(a().await) else { return b().await; };`: the else block first.
    assert_eq!(
        at(&l, "{async fn body of case_let_else()}"),
        bin(&["247:20", "246:28", "249:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_let_else_plain()}"),
        bin(&["323:28", "326:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_let_else_panic()}"),
        bin(&["330:28", "333:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_compound_field()}"),
        bin(&["343:16", "344:15"])
    );
}

#[test]
fn unreachable_awaits_have_no_state() {
    let l = corpus_layout();
    // `return v; b().await` and `loop { sleep.await }; b().await`: b has no state.
    assert_eq!(
        at(&l, "{async fn body of case_unreachable_return()}"),
        bin(&["104:17"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_unreachable_loop()}"),
        bin(&["110:17", "112:54"])
    );
}

#[test]
fn select_and_join_are_one_await_at_the_macro() {
    let l = corpus_layout();
    assert_eq!(
        at(&l, "{async fn body of case_select()}"),
        bin(&["125:17", "126:13", "130:18"])
    );
    assert_eq!(
        text(&l, "{async fn body of case_select()}", 1),
        "let y = tokio::select! {"
    );
    assert_eq!(
        at(&l, "{async fn body of case_join()}"),
        bin(&["134:18", "135:17"])
    );
}

#[test]
fn instrument_and_tokio_main_bodies_are_found_by_their_attribute() {
    let l = corpus_layout();
    // The async fn's own two states are the macro's; the body is the block at the attribute.
    let outer = at(&l, "{async fn body of case_instrument()}");
    assert_eq!(outer.len(), 2);
    assert!(
        outer.iter().all(|p| p.contains("#[tracing::instrument]")),
        "{outer:?}"
    );
    assert_eq!(
        at(&l, "{async block@src/bin/awaits.rs:138:1: 138:23}"),
        bin(&["140:17", "141:14"])
    );
    let main = at(&l, "{async block@src/bin/awaits.rs:363:1: 363:42}");
    assert_eq!(main.len(), 50);
    assert_eq!(main[0], "src/bin/awaits.rs:368:26");
    assert_eq!(
        text(&l, "{async block@src/bin/awaits.rs:363:1: 363:42}", 49),
        "t += asyncmem_corpus_awaits::lib_async_spawn(c()).await;"
    );
}

#[test]
fn blocks_closures_and_async_closures_by_span() {
    let l = corpus_layout();
    // `|x: u32| async move {`: the block's span is `async move` alone.
    assert_eq!(
        at(&l, "{async block@src/bin/awaits.rs:149:22: 149:32}"),
        bin(&["150:22", "151:17"])
    );
    assert_eq!(
        at(&l, "{async block@src/bin/awaits.rs:145:18: 145:28}"),
        bin(&["145:36", "145:48"])
    );
    // An async closure's body is named by the body's span (its `{`).
    assert_eq!(
        at(&l, "{async closure body@src/bin/awaits.rs:159:33: 162:6}"),
        bin(&["160:26", "161:17"])
    );
    assert_eq!(
        at(&l, "{async block@src/bin/awaits.rs:167:15: 167:20}"),
        bin(&["168:21", "169:17"])
    );
    // The enclosing fn does not count the block's awaits.
    assert_eq!(
        at(&l, "{async fn body of case_inner_block()}"),
        bin(&["171:17", "172:13"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_immediate_block()}"),
        bin(&["337:33", "338:13"])
    );
    assert_eq!(
        at(&l, "{async block@src/bin/awaits.rs:337:13: 337:18}"),
        bin(&["337:25"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_closure()}"),
        bin(&["153:18", "154:27"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_boxed()}"),
        bin(&["187:19", "187:31"])
    );
    assert_eq!(
        at(&l, "{async block@src/bin/awaits.rs:182:15: 182:20}"),
        bin(&["184:21"])
    );
    assert_eq!(
        at(&l, "{async fn body of case_recursive_box()}"),
        bin(&["358:20", "360:41", "360:53"])
    );
}

#[test]
fn generics_traits_and_modules_by_path() {
    let l = corpus_layout();
    for inst in ["case_generic<u32>", "case_generic<std::string::String>"] {
        assert_eq!(
            at(&l, &format!("{{async fn body of {inst}()}}")),
            bin(&["176:17", "178:13"])
        );
    }
    assert_eq!(
        at(&l, "{async fn body of <S as Handler>::serve()}"),
        bin(&["213:21", "214:26"])
    );
    // A trait's default method, printed as the impl's.
    assert_eq!(
        at(&l, "{async fn body of <S as Handler>::default_serve()}"),
        bin(&["204:21", "205:26"])
    );
    assert_eq!(
        at(&l, "{async fn body of S::inherent()}"),
        bin(&["220:30", "221:34"])
    );
    assert_eq!(
        at(&l, "{async fn body of sub::in_mod()}"),
        bin(&["227:28", "228:29"])
    );
    assert_eq!(
        at(&l, "{async fn body of sub::inner::deeper()}"),
        bin(&["232:31"])
    );
}

#[test]
fn a_dependency_instantiated_by_the_bin_maps_to_the_dependency() {
    let l = corpus_layout();
    let lib =
        |lcs: &[&str]| -> Vec<String> { lcs.iter().map(|lc| format!("src/lib.rs:{lc}")).collect() };
    // Printed in the bin's report, with the dependency's crate prefix.
    assert_eq!(
        at(
            &l,
            "{async fn body of asyncmem_corpus_awaits::lib_wrap<{async fn body of a()}>()}"
        ),
        lib(&["14:15", "15:25"])
    );
    // A block spawned in a dependency's generic fn: named by item and closure index.
    assert_eq!(
        at(
            &l,
            "{async block@asyncmem_corpus_awaits::lib_block<{async fn body of b()}>::{closure#0}}"
        ),
        lib(&["26:19", "27:25"])
    );
    // In an async fn, the body is {closure#0}; the spawned block {closure#0} in it, the
    // `helper` closure {closure#1}, the `later` block {closure#2}.
    assert_eq!(
        at(&l, "{async block@asyncmem_corpus_awaits::lib_async_spawn<{async fn body of c()}>::{closure#0}::{closure#0}}"),
        lib(&["34:19", "35:21"])
    );
    assert_eq!(
        at(&l, "{async block@asyncmem_corpus_awaits::lib_async_spawn<{async fn body of c()}>::{closure#0}::{closure#2}}"),
        lib(&["38:54"])
    );
    assert_eq!(
        at(
            &l,
            "{async fn body of asyncmem_corpus_awaits::lib_async_spawn<{async fn body of c()}>()}"
        ),
        lib(&["32:29", "39:7", "39:34"])
    );
    // The lib's own report names its items without the prefix.
    assert_eq!(at(&l, "{async fn body of lib_leaf()}"), lib(&["8:30"]));
}

#[test]
fn release_maps_as_debug() {
    // Optimizations run after the coroutine transform: a release build has the same states.
    let debug = corpus_layout_of("debug");
    let release = corpus_layout_of("release");
    assert_eq!(debug.futures.len(), release.futures.len());
    assert_eq!(debug, release);
    let mapped = release
        .futures
        .iter()
        .flat_map(|f| f.states.iter())
        .filter(|s| matches!(s.await_point, Some(AwaitPoint::Mapped { .. })))
        .count();
    assert_eq!(mapped, 194);
}

#[test]
fn awaits_inside_a_macro_are_unmapped() {
    let l = corpus_layout();
    let states = at(&l, "{async fn body of case_macro()}");
    assert_eq!(states.len(), 3);
    for s in &states {
        assert!(
            s.starts_with("unmapped: src/bin/awaits.rs: `await_twice!` at line 198:9"),
            "{s}"
        );
    }
}

/// A future of the corpus with its states' awaitees replaced, as a report of other source
/// would print it.
fn with_awaitees(name: &str, awaitees: &[&str]) -> Layout {
    let mut layout = corpus_layout();
    let f = layout.futures.iter_mut().find(|f| f.name == name).unwrap();
    let mut next = awaitees.iter();
    for s in f
        .states
        .iter_mut()
        .filter(|s| s.name.starts_with("Suspend"))
    {
        s.await_point = None;
        for field in s.fields.iter_mut().filter(|f| f.name == "__awaitee") {
            field.ty = next.next().map(|t| t.to_string());
        }
    }
    let f = f.clone();
    let mut one = Layout {
        futures: vec![f],
        ..Layout::default()
    };
    map(&mut one, &corpus_sources(&fixtures().join("corpus")));
    one
}

#[test]
fn an_awaitee_that_contradicts_the_source_unmaps_the_coroutine() {
    // Had the walk kept source order for the assignment, Suspend0 would be `a`: the
    // awaitee check refuses that order rather than map it.
    let name = "{async fn body of case_assign()}";
    let l = with_awaitees(
        name,
        &[
            "{async fn body of a()}",
            "{async fn body of b()}",
            "{async fn body of c()}",
        ],
    );
    let states = at(&l, name);
    assert_eq!(states.len(), 3);
    for s in &states {
        assert!(
            s.contains("Suspend0 awaits `{async fn body of a()}`, but await #0 in the source (src/bin/awaits.rs:239:35) calls `b`"),
            "{s}"
        );
    }
    // A plain await where the report has a select!'s PollFn, and the other way round.
    let name = "{async fn body of case_select()}";
    let l = with_awaitees(
        name,
        &[
            "{async fn body of a()}",
            "{async fn body of b()}",
            "{async fn body of d()}",
        ],
    );
    assert!(
        at(&l, name)[1].contains("is a `select!`"),
        "{:?}",
        at(&l, name)
    );
    // An awaited async block at another span.
    let name = "{async fn body of case_immediate_block()}";
    let l = with_awaitees(
        name,
        &[
            "{async block@src/bin/awaits.rs:9:9: 9:14}",
            "{async fn body of b()}",
        ],
    );
    assert!(
        at(&l, name)[0].contains("awaits the async block at 337:13"),
        "{:?}",
        at(&l, name)
    );
    // Where the source awaits a variable, the awaitee cannot disagree.
    let name = "{async fn body of case_inner_block()}";
    let l = with_awaitees(name, &["{async fn body of a()}", "Whatever"]);
    assert_eq!(at(&l, name), bin(&["171:17", "172:13"]));
}

#[test]
fn a_count_that_differs_unmaps_the_coroutine() {
    let mut layout = corpus_layout();
    let f = layout
        .futures
        .iter_mut()
        .find(|f| f.name == "{async fn body of case_straight()}")
        .unwrap();
    f.states.retain(|s| s.name != "Suspend2");
    let mut one = Layout {
        futures: vec![f.clone()],
        ..Layout::default()
    };
    map(&mut one, &corpus_sources(&fixtures().join("corpus")));
    let states = at(&one, "{async fn body of case_straight()}");
    assert_eq!(states.len(), 2);
    assert!(
        states[0].contains("the source shows 3 awaits (from src/bin/awaits.rs:15) where the report has 2 suspend states"),
        "{states:?}"
    );
}

#[test]
fn missing_or_odd_sources_are_unmapped_with_the_cause() {
    let root = std::env::temp_dir().join(format!("asyncmem-awaits-odd-{}", std::process::id()));
    let dir = Dir(root.clone());
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/main.rs"),
        "async fn f() { g().await }\nfn broken( {\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("src/ok.rs"),
        "pub async fn h() { g().await }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("src/lib.rs"),
        "#[tracing::instrument]\npub async fn spawns<F>(f: F) { tokio::spawn(async move { f.await }); }\n",
    )
    .unwrap();
    let text = "print-type-size type: `{async fn body of f()}`: 2 bytes, alignment: 1 bytes\n\
                print-type-size     variant `Suspend0`: 1 bytes\n\
                print-type-size type: `{async block@src/ok.rs:1:20: 1:25}`: 2 bytes, alignment: 1 bytes\n\
                print-type-size     variant `Suspend0`: 1 bytes\n\
                print-type-size type: `{async fn body of other::x()}`: 2 bytes, alignment: 1 bytes\n\
                print-type-size     variant `Suspend0`: 1 bytes\n";
    let mut futures = futures_of(text, "odd");
    futures.extend(futures_of(text, "unknown_crate"));
    futures.extend(futures_of(
        "print-type-size type: `{async block@dep::spawns<u8>::{closure#0}::{closure#0}}`: 2 bytes, alignment: 1 bytes\n\
         print-type-size     variant `Suspend0`: 1 bytes\n",
        "odd",
    ));
    let mut layout = Layout {
        futures,
        ..Layout::default()
    };
    let sources = Sources {
        crates: vec![
            (
                "odd".into(),
                dir.path().join("src/main.rs"),
                dir.path().to_path_buf(),
            ),
            (
                "dep".into(),
                dir.path().join("src/lib.rs"),
                dir.path().to_path_buf(),
            ),
        ],
    };
    map(&mut layout, &sources);
    let reasons: Vec<String> = layout
        .futures
        .iter()
        .map(|f| match &f.states[0].await_point {
            Some(AwaitPoint::Unmapped { reason }) => reason.clone(),
            other => panic!("{}: {other:?}", f.name),
        })
        .collect();
    assert!(
        reasons[0].starts_with("src/main.rs:2:12 does not parse"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("no async block, async closure or attribute starts at src/ok.rs:1:20"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].starts_with("src/main.rs:2:12 does not parse"),
        "{}",
        reasons[2]
    );
    assert_eq!(
        reasons[3],
        "the build's sources do not list crate `unknown_crate`"
    );
    // A closure index into a fn an attribute macro rewrites is not counted.
    let last = reasons.last().unwrap();
    assert!(
        last.contains("the attribute at src/lib.rs:1 may rewrite the body"),
        "{last}"
    );
}

/// A scratch directory, removed when the test ends.
struct Dir(PathBuf);

impl Dir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_fat_vs_slim_demo_maps_fully() {
    // The brief's debug report of `demos`' fat-vs-slim bin (top crate only), with the demos
    // sources it was built from.
    let dir = fixtures().join("demos");
    let report = std::fs::read_to_string(dir.join("fat-vs-slim.debug.types")).unwrap();
    let mut layout = Layout {
        futures: futures_of(&report, "fat_vs_slim"),
        ..Layout::default()
    };
    let sources = Sources {
        crates: vec![
            (
                "fat_vs_slim".into(),
                dir.join("demos/src/bin/fat-vs-slim.rs"),
                dir.clone(),
            ),
            (
                "asyncmem_demos".into(),
                dir.join("demos/src/lib.rs"),
                dir.clone(),
            ),
        ],
    };
    map(&mut layout, &sources);
    let bin = "demos/src/bin/fat-vs-slim.rs";
    assert_eq!(
        at(&layout, "{async fn body of fat()}"),
        [format!("{bin}:62:29")]
    );
    assert_eq!(
        text(&layout, "{async fn body of fat()}", 0),
        "tokio::time::sleep(nap).await;"
    );
    let run = "{async block@asyncmem_demos::Common::run<{async block@demos/src/bin/fat-vs-slim.rs:95:21: 95:31}>::{closure#0}}";
    assert_eq!(at(&layout, run), ["demos/src/lib.rs:133:13"]);
    assert_eq!(text(&layout, run, 0), "tokio::select! {");
    let inner = "{async block@asyncmem_demos::Common::run<{async block@demos/src/bin/fat-vs-slim.rs:95:21: 95:31}>::{closure#0}::{closure#0}}";
    assert_eq!(
        at(&layout, inner),
        ["demos/src/lib.rs:130:22", "demos/src/lib.rs:131:46"]
    );
    assert_eq!(
        at(
            &layout,
            "{async block@asyncmem_demos::wait_for_end::{closure#0}::{closure#0}}"
        ),
        ["demos/src/lib.rs:183:46", "demos/src/lib.rs:184:44"]
    );
    let unmapped: Vec<&str> = layout
        .futures
        .iter()
        .flat_map(|f| f.states.iter())
        .filter(|s| matches!(s.await_point, Some(AwaitPoint::Unmapped { .. })))
        .map(|s| s.name.as_str())
        .collect();
    assert!(unmapped.is_empty(), "{unmapped:?}");
}

#[test]
fn modules_declared_in_macros_and_types_printed_at_their_reexport() {
    // As tokio does: `cfg_x! { mod chan; }`, and `chan::bounded::Rx` printed as `chan::Rx`
    // (another `Rx::recv` elsewhere makes a search by name alone ambiguous).
    let dir =
        Dir(std::env::temp_dir().join(format!("asyncmem-awaits-mods-{}", std::process::id())));
    std::fs::create_dir_all(dir.path().join("src/chan")).unwrap();
    std::fs::write(
        dir.path().join("src/lib.rs"),
        "macro_rules! cfg_x { ($($i:item)*) => { $($i)* } }\ncfg_x! {\n    pub mod chan;\n}\n\
         pub mod other { pub struct Rx; impl Rx { pub async fn recv(&self) -> u8 { 0 } } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("src/chan/mod.rs"),
        "mod bounded;\npub use bounded::Rx;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("src/chan/bounded.rs"),
        "pub struct Rx;\nimpl Rx {\n    pub async fn recv(&self) -> u8 {\n        poll_fn(|_| todo!()).await\n    }\n}\n",
    )
    .unwrap();
    let text = "print-type-size type: `{async fn body of dep::chan::Rx::recv()}`: 2 bytes, alignment: 1 bytes\n\
                print-type-size     variant `Suspend0`: 1 bytes\n\
                print-type-size         local `.__awaitee`: 1 bytes, type: PollFn<{closure@dep::chan::bounded::Rx::recv::{closure#0}::{closure#0}}>\n";
    let mut layout = Layout {
        futures: futures_of(text, "user"),
        ..Layout::default()
    };
    let sources = Sources {
        crates: vec![
            (
                "user".into(),
                dir.path().join("src/main.rs"),
                dir.path().to_path_buf(),
            ),
            (
                "dep".into(),
                dir.path().join("src/lib.rs"),
                dir.path().to_path_buf(),
            ),
        ],
    };
    map(&mut layout, &sources);
    assert_eq!(
        at(&layout, "{async fn body of dep::chan::Rx::recv()}"),
        ["src/chan/bounded.rs:4:30"]
    );
}
