//! `asyncmem layout` for real: the real binary builds the corpus workspace `tests/corpus/layout`
//! (tokio, tracing, `--cfg tokio_unstable` in its .cargo/config.toml) and its output is checked
//! against what the corpus binary measures of itself (`server --print-sizes`: `size_of_val` of
//! each spawned future) and against tokio's own source. Every test that builds `server` shares
//! one target directory (`target/corpus-layout`), so the corpus is built once per run; the
//! bad-input cases build small members (`broken`, `noasync`) or nothing. Filter with
//! `cargo test --test layout`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use asyncmem::layout::model::{Future, Layout};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> PathBuf {
    root().join("tests/corpus/layout/Cargo.toml")
}

/// The main target directory (CARGO_TARGET_DIR when set), where the corpus builds live.
fn target_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The target directory every `server` build shares.
fn shared_dir() -> PathBuf {
    target_root().join("corpus-layout")
}

fn asyncmem() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_asyncmem"));
    c.env("CARGO_NET_OFFLINE", "true")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC")
        .stdin(Stdio::null());
    c
}

fn layout(args: &[&str], target_dir: &Path) -> Output {
    asyncmem()
        .arg("layout")
        .arg("--manifest-path")
        .arg(corpus())
        .arg("--target-dir")
        .arg(target_dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Run {
    layout: Layout,
    json: String,
    stderr: String,
}

/// `asyncmem layout -p server --format json`, once for all the tests that read it.
fn server() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let o = layout(&["-p", "server", "--format", "json"], &shared_dir());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let json = String::from_utf8(o.stdout.clone()).unwrap();
        Run {
            layout: serde_json::from_str(&json).unwrap(),
            json,
            stderr: stderr(&o),
        }
    })
}

/// `size_of_val` of each spawned future, as the corpus binary that build made measures it.
fn measured() -> BTreeMap<String, u64> {
    server();
    let out = Command::new(shared_dir().join("debug/server"))
        .arg("--print-sizes")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, size) = l.split_once(' ').unwrap();
            (name.to_string(), size.parse().unwrap())
        })
        .collect()
}

/// The async fn body of `name` (`fat_handler`, `netlib::handle_conn`: crate-qualified names
/// are looked up in that crate's report).
fn future<'a>(layout: &'a Layout, name: &str) -> Option<(usize, &'a Future)> {
    let (krate, f) = match name.split_once("::") {
        Some((k, f)) => (Some(k), f),
        None => (None, name),
    };
    layout.futures.iter().enumerate().find(|(_, fut)| {
        krate.is_none_or(|k| fut.crate_name == k)
            && (fut.name == format!("{{async fn body of {f}()}}")
                || fut.name.ends_with(&format!("::{f}()}}")))
    })
}

/// The files of the shared capture store whose names start with `prefix` and end with `suffix`.
fn captures(prefix: &str, suffix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(shared_dir().join("asyncmem-types"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .collect()
}

/// `BOX_FUTURE_THRESHOLD` of the debug build, read from the tokio source this build compiled
/// (the sidecar of tokio's capture says where that is).
fn tokio_debug_threshold() -> u64 {
    let sidecar = captures("tokio-", ".json")
        .into_iter()
        .next()
        .expect("tokio's capture");
    let side: serde_json::Value = serde_json::from_slice(&std::fs::read(sidecar).unwrap()).unwrap();
    let dir = PathBuf::from(side["cwd"].as_str().unwrap());
    let src = std::fs::read_to_string(dir.join("src/runtime/mod.rs")).unwrap();
    let at = src
        .find("BOX_FUTURE_THRESHOLD: usize = if cfg!(debug_assertions)")
        .unwrap();
    let rest = &src[at..];
    let open = rest.find('{').unwrap();
    let close = rest.find('}').unwrap();
    rest[open + 1..close].trim().parse().unwrap()
}

/// Needs the parser (`report::assemble`, branch layout-parse): until it lands the layout has
/// no futures and this fails.
#[test]
fn every_spawned_handler_has_the_size_it_measures_of_itself() {
    let run = server();
    let sizes = measured();
    assert!(sizes.len() >= 6, "{sizes:?}");
    let threshold = tokio_debug_threshold();
    for (name, size) in &sizes {
        let (id, fut) = future(&run.layout, name)
            .unwrap_or_else(|| panic!("no layout for {name} in:\n{}", run.json));
        assert_eq!(fut.size, *size, "{name}");
        let spawn = run
            .layout
            .spawns
            .iter()
            .find(|s| s.future == Some(id))
            .unwrap_or_else(|| panic!("{name} is not among the spawned futures"));
        assert_eq!(spawn.size, *size, "{name}: {spawn:?}");
        assert_eq!(spawn.boxed_by_tokio, *size > threshold, "{name}: {spawn:?}");
        assert!(!spawn.cells.is_empty(), "{name}: no task cell");
    }
}

/// Needs the parser.
#[test]
fn the_fat_handler_holds_its_16_kib_buffer_across_the_await() {
    let run = server();
    let (_, fat) = future(&run.layout, "fat_handler").expect("fat_handler's layout");
    let suspend = fat
        .states
        .iter()
        .find(|s| s.name == "Suspend0")
        .expect("a Suspend0 state");
    let buf = suspend
        .fields
        .iter()
        .find(|f| f.name == "buf")
        .unwrap_or_else(|| panic!("no buf in {suspend:?}"));
    assert_eq!(buf.size, 16384, "{buf:?}");
    let (_, slim) = future(&run.layout, "slim_handler").expect("slim_handler's layout");
    assert!(slim.size * 16 < fat.size, "{} vs {}", slim.size, fat.size);
}

/// Needs the parser: the spawn inside netlib is compiled in netlib's crate, whose report the
/// build must have captured too.
#[test]
fn the_spawn_in_a_dependency_is_found() {
    let run = server();
    let (id, _) = future(&run.layout, "netlib::handle_conn").expect("netlib's handler");
    assert!(
        run.layout.spawns.iter().any(|s| s.future == Some(id)),
        "{}",
        run.json
    );
}

/// The corpus's own `build.rustflags` reached the compilers (RUSTFLAGS would have replaced
/// them): `--cfg corpus_flag` compiles `flagged_handler`, and with `--cfg tokio_unstable`
/// tokio's `spawn` wraps each future in `tracing::instrument::Instrumented`, which the task
/// cells of the captured report say.
#[test]
fn the_projects_rustflags_are_kept() {
    server();
    let report = captures("server-", ".types")
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .find(|t| t.contains("fat_handler") && t.contains("flagged_handler"))
        .expect("server's report, with flagged_handler: the corpus's --cfg corpus_flag was lost");
    assert!(
        report.contains(
            "core::Cell<tracing::instrument::Instrumented<{async fn body of fat_handler()}>"
        ),
        "no instrumented task cell: the project's rustflags were lost"
    );
    assert_eq!(server().layout.target.package, "server");
    assert!(
        server().layout.toolchain.starts_with("rustc "),
        "{}",
        server().json
    );
}

/// A second run compiles nothing, takes well under the first one's time, gives the same
/// file, and reads no capture but its units' (a capture of another build of `server`, planted
/// in the store, is not read: the number of report lines parsed is the same).
#[test]
fn a_second_run_is_warm_and_reads_only_its_own_captures() {
    let first = server();
    let store = shared_dir().join("asyncmem-types");
    let planted = "{async fn body of planted_stale_handler()}";
    std::fs::write(
        store.join("server-0123456789abcdef.types"),
        format!("print-type-size type: `{planted}`: 99999 bytes, alignment: 1 bytes\n"),
    )
    .unwrap();
    std::fs::write(
        store.join("server-0123456789abcdef.json"),
        serde_json::json!({
            "crate_name": "server", "src_path": "server/src/main.rs", "cwd": "/nowhere",
            "out_dir": "/nowhere/deps", "extra_filename": "-0123456789abcdef", "metadata": "0"
        })
        .to_string(),
    )
    .unwrap();
    // Warm: nothing recompiled (how long it takes is bench/layout.sh's; here other tests may
    // hold the store's lock meanwhile). The same file as the cold run, whatever order the
    // compilers finished in then.
    let o = layout(&["-p", "server", "--format", "json"], &shared_dir());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("(0 compiled now"), "{err}");
    let parsing = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("asyncmem: parsing"))
            .map(str::to_string)
            .unwrap()
    };
    // Same crates, same lines ("N compiled now" aside).
    let lines = |s: &str| parsing(s).rsplit("; ").next().unwrap().to_string();
    assert_eq!(lines(&err), lines(&first.stderr));
    let json = String::from_utf8(o.stdout).unwrap();
    assert_eq!(json, first.json);
    assert!(!json.contains("planted_stale_handler"));
}

/// `-o FILE`: the file gets the layout, stdout nothing, stderr says where.
#[test]
fn output_goes_to_the_file_it_names() {
    let first = server();
    let dir = target_root().join("corpus-layout-out");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("layout.json");
    let _ = std::fs::remove_file(&file);
    let o = layout(
        &["-p", "server", "-f", "json", "-o", file.to_str().unwrap()],
        &shared_dir(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains(&format!("wrote the layout to {}", file.display())));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first.json);
    // No temporary file left beside it.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// Needs the parser for its first half: a limit under the fat handler names it (exit 17);
/// a limit over everything passes.
#[test]
fn max_future_names_each_future_over_it() {
    server();
    let o = layout(&["-p", "server", "--max-future", "1G"], &shared_dir());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = layout(&["-p", "server", "--max-future", "8KiB"], &shared_dir());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(17), "{err}");
    let sizes = measured();
    for (name, size) in sizes {
        let short = name.rsplit("::").next().unwrap();
        assert_eq!(
            err.contains(&format!("{short}()")),
            size > 8192,
            "{name} {size}: {err}"
        );
    }
}

#[test]
fn a_path_without_cargo_toml_is_said() {
    let dir = target_root().join("corpus-layout-empty-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let o = asyncmem()
        .args(["layout", "--manifest-path"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(14), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("{}: no Cargo.toml there", dir.display())));
    // Not a package: a Cargo.toml cargo cannot read.
    std::fs::write(dir.join("Cargo.toml"), "this is not toml [").unwrap();
    let o = asyncmem()
        .args(["layout", "--manifest-path"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(14), "{}", stderr(&o));
    assert!(stderr(&o).contains("cargo cannot read"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_package_or_binary_lists_what_there_is() {
    let dir = shared_dir();
    let o = layout(&["-p", "nosuch"], &dir);
    assert_eq!(o.status.code(), Some(14), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no package \"nosuch\""),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("server, netlib"), "{}", stderr(&o));
    let o = layout(&["-p", "server", "--bin", "nosuch"], &dir);
    assert_eq!(o.status.code(), Some(14), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("has no bin \"nosuch\" (its bins: server)"),
        "{}",
        stderr(&o)
    );
    // A workspace of several packages and no default: which one?
    let o = layout(&[], &dir);
    assert_eq!(o.status.code(), Some(14), "{}", stderr(&o));
    assert!(stderr(&o).contains("pass -p with one of"), "{}", stderr(&o));
}

#[test]
fn a_crate_that_does_not_build_shows_the_compilers_error() {
    let o = layout(&["-p", "broken"], &shared_dir());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(15), "{err}");
    assert!(err.contains("error[E0308]: mismatched types"), "{err}");
    assert!(err.contains("broken/src/main.rs:4"), "{err}");
    assert!(err.contains("the build failed"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_crate_without_async_code_says_so() {
    let o = layout(&["-p", "noasync", "--format", "json"], &shared_dir());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("no async code found"), "{err}");
    let l: Layout = serde_json::from_slice(&o.stdout).unwrap();
    assert!(l.futures.is_empty() && l.spawns.is_empty());
    assert_eq!(l.target.package, "noasync");
}

/// A toolchain that refuses `-Z` options whatever RUSTC_BOOTSTRAP says: a `rustc` that runs
/// the real one, without RUSTC_BOOTSTRAP when it is given the report's flag, so that the
/// refusal is the real compiler's own.
#[test]
fn a_toolchain_that_refuses_the_report_is_said() {
    let dir = target_root().join("corpus-layout-refused");
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("rustc-refusing");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \" $* \" in\n  *' -Zprint-type-sizes '*) exec env -u RUSTC_BOOTSTRAP rustc \"$@\" ;;\n  *) exec rustc \"$@\" ;;\nesac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = asyncmem()
        .env("RUSTC", &fake)
        .arg("layout")
        .arg("--manifest-path")
        .arg(corpus())
        .arg("--target-dir")
        .arg(dir.join("target"))
        .args(["-p", "noasync"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(16), "{err}");
    assert!(
        err.contains("the toolchain refuses the type-size report")
            && err.contains("only accepted on the nightly compiler"),
        "{err}"
    );
}

/// Processes whose environment names `store` (asyncmem's wrappers, cargo, rustc of one build).
fn processes_of(store: &Path) -> Vec<i32> {
    let needle = format!("ASYNCMEM_LAYOUT_DIR={}", store.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

/// Ctrl-C while it builds: cargo and every compiler stop, nothing is written at `-o`.
#[test]
fn ctrl_c_stops_the_build_and_writes_nothing() {
    let dir = target_root().join("corpus-layout-interrupt");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("target");
    let out = dir.join("layout.json");
    let mut child = asyncmem()
        .arg("layout")
        .arg("--manifest-path")
        .arg(corpus())
        .arg("--target-dir")
        .arg(&target)
        .args(["-p", "server", "-o"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let store = target.join("asyncmem-types");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait for a compiler of this build to run.
    while processes_of(&store).len() < 2 {
        assert!(Instant::now() < deadline, "the build did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id() as i32;
    // SAFETY: signals the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let stop = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if stop.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("asyncmem did not stop within 15 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("asyncmem: interrupted"), "{err}");
    assert!(!out.exists());
    let left = processes_of(&store);
    assert!(left.is_empty(), "still running: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
mod join;
