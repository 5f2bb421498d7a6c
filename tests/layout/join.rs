//! `--layout FILE` joined to a live target: the layout of the demos' `fat-vs-slim` (built by
//! `asyncmem layout` from this repository, the same debug profile the test demos run in), and
//! `snapshot --layout` on that demo under the probe: each variant's spawn location matches its
//! future type exactly, and the fat one's largest state holds its 16 KiB buffer at the
//! `sleep(..).await` line of the demo's source.

use std::path::Path;

use asyncmem_testkit::demo::{demo_bin, start_demo};
use serde_json::Value;

use super::{asyncmem, root, shared_dir, stderr};

const FAT_VS_SLIM: &str = include_str!("../../demos/src/bin/fat-vs-slim.rs");

/// The 1-based line of `fat-vs-slim.rs` that contains `needle` (the first one).
fn line_of(needle: &str) -> u64 {
    FAT_VS_SLIM
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
        .unwrap_or_else(|| panic!("{needle} not in fat-vs-slim.rs"))
}

/// `asyncmem layout -p asyncmem-demos --bin BIN --format json` (and `-o out`), in the shared
/// target dir; its stdout.
fn demos_layout(bin: &str, out: Option<&Path>) -> Vec<u8> {
    let mut cmd = asyncmem();
    cmd.args(["layout", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .args(["-p", "asyncmem-demos", "--bin", bin, "--format", "json"])
        .arg("--target-dir")
        .arg(shared_dir());
    if let Some(out) = out {
        cmd.arg("-o").arg(out);
    }
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    o.stdout
}

#[test]
fn snapshot_with_a_layout_explains_each_variant_of_fat_vs_slim() {
    let dir = std::env::temp_dir().join(format!("asyncmem-join-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fat-vs-slim.layout.json");
    demos_layout("fat-vs-slim", Some(&file));
    let bin = demo_bin(Path::new(env!("CARGO_BIN_EXE_asyncmem")), "fat-vs-slim");
    let target = start_demo(&bin, &["--instrument", "probe", "-n", "20"]);
    let o = asyncmem()
        .args([
            "snapshot",
            "--addr",
            &target.addr(),
            "--format",
            "json",
            "--settle",
            "1s",
        ])
        .arg("--layout")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    let section = &json["layout"];
    let entries = section["locations"].as_array().unwrap();
    for variant in ["fat", "slim", "boxed"] {
        let line = line_of(&format!("spawn_named(\"{variant}\""));
        let at = format!("fat-vs-slim.rs:{line}:");
        let e = entries
            .iter()
            .find(|e| e["location"].as_str().unwrap().contains(&at))
            .unwrap_or_else(|| panic!("no layout entry at {at}: {section:#}"));
        assert_eq!(e["live_tasks"], 20, "{e:#}");
        assert_eq!(e["match"], "exact", "{variant}: {e:#}");
        let future = e["future"].as_str().unwrap();
        assert!(
            future.contains(&format!("{variant}()")),
            "{variant}: {future}"
        );
        let state = &e["largest_state"];
        assert!(
            state["name"].as_str().unwrap().starts_with("Suspend"),
            "{e:#}"
        );
        // Every variant is parked at its `sleep(nap).await`, and the report says where.
        let point = &state["await_point"];
        assert_eq!(point["kind"], "mapped", "{variant}: {point:#}");
        let await_line = point["line"].as_u64().unwrap();
        let text = FAT_VS_SLIM.lines().nth(await_line as usize - 1).unwrap();
        assert!(
            text.contains("sleep(nap).await"),
            "{variant}: line {await_line}: {text}"
        );
        let biggest = &state["fields"][0];
        if variant == "fat" {
            assert_eq!(biggest["name"], "buf", "{state:#}");
            assert_eq!(biggest["size_bytes"], 16 * 1024, "{state:#}");
        } else {
            assert!(
                biggest["size_bytes"].as_u64().unwrap() < 1024,
                "{variant}: {state:#}"
            );
        }
        // The cell holds the future (or tokio's box of it) plus tokio's header and trailer.
        let cell = e["cell_bytes"].as_u64().unwrap();
        let size = e["size_bytes"].as_u64().unwrap();
        if e["boxed_by_tokio"] == true {
            assert!(
                cell < size,
                "{variant}: a boxed future's cell holds a pointer: {e:#}"
            );
        } else {
            assert!(cell > size, "{variant}: {e:#}");
        }
    }
    assert!(
        section["matched_tasks"].as_u64().unwrap() >= 60,
        "{section:#}"
    );
    // The demo's body, which the runtime's block_on runs (the console shows it as a task): the
    // future the report says block_on was given, not a spawn, and no other task is left out.
    let roots: Vec<&Value> = entries
        .iter()
        .filter(|e| e["match"] == "block_on")
        .collect();
    assert_eq!(roots.len(), 1, "{section:#}");
    assert!(
        roots[0]["future"].as_str().unwrap().contains("Common::run"),
        "{section:#}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["match"] == "exact" || e["match"] == "block_on"),
        "{section:#}"
    );
    // The table says the same, for people.
    let o = asyncmem()
        .args(["snapshot", "--addr", &target.addr(), "--settle", "1s"])
        .arg("--layout")
        .arg(&file)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("largest state Suspend"), "{table}");
    assert!(table.contains("buf 16.0 KiB (local)"), "{table}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_layout_file_is_named_with_its_own_exit_code() {
    let dir = std::env::temp_dir().join(format!("asyncmem-badlayout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, b"{\"not\": \"a layout\"}").unwrap();
    // Refused before attaching: no target needed.
    let o = asyncmem()
        .args(["snapshot", "--addr", "http://127.0.0.1:1", "--layout"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(asyncmem::error::exit::BAD_LAYOUT),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("not an asyncmem layout file"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Lesson 7: `layers`' `deep` handler holds nothing itself: its bytes are an 8 KiB frame three
/// async fns down, which the awaitee links reach; `twice` stores its 4 KiB argument twice.
#[test]
fn the_layers_demo_shows_the_awaitee_path_and_the_argument_stored_twice() {
    use asyncmem::layout::link::largest_state;
    use asyncmem::layout::model::Layout;
    let layout: Layout = serde_json::from_slice(&demos_layout("layers", None)).unwrap();
    let spawned = |name: &str| {
        let s = layout
            .spawns
            .iter()
            .find(|s| s.ty == format!("{{async fn body of {name}()}}"))
            .unwrap_or_else(|| panic!("{name} is not spawned in the layout"));
        s.future.unwrap()
    };
    // deep -> session -> read_frame, each through the largest state's awaitee.
    let mut id = spawned("deep");
    let mut path = vec![];
    for _ in 0..3 {
        let f = &layout.futures[id];
        path.push(f.name.clone());
        let st = &f.states[largest_state(&layout, id).unwrap()];
        match st
            .fields
            .iter()
            .find(|x| x.name == "__awaitee")
            .and_then(|x| x.future)
        {
            Some(next) if path.len() < 3 => id = next,
            _ => {
                let frame = st.fields.iter().find(|x| x.name == "frame");
                assert_eq!(frame.map(|x| x.size), Some(8 * 1024), "{path:?}: {st:#?}");
            }
        }
    }
    assert!(path[2].contains("read_frame"), "{path:?}");
    let twice = spawned("twice");
    let why = asyncmem::layout::explain::reason(&layout, twice)
        .unwrap()
        .to_string();
    assert!(why.contains("`config` stored twice"), "{why}");
}

/// `top --layout` in a real terminal on the `layers` demo under the probe: the locations view
/// names each location's largest state with its await line and what it holds; a `deep` task's
/// layout view (`t`) unfolds down to the 8 KiB frame three awaits below, and `←` folds it.
#[test]
fn top_with_a_layout_unfolds_a_tasks_future_in_a_real_terminal() {
    use asyncmem_testkit::pty::{CommandBuilder, Pty};
    use std::time::Duration;
    const LONG: Duration = Duration::from_secs(30);
    let dir = std::env::temp_dir().join(format!("asyncmem-top-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("layers.layout.json");
    demos_layout("layers", Some(&file));
    let bin = demo_bin(Path::new(env!("CARGO_BIN_EXE_asyncmem")), "layers");
    let target = start_demo(&bin, &["--instrument", "probe", "-n", "5"]);
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_asyncmem"));
    cmd.args(["top", "--addr", &target.addr(), "--layout"]);
    cmd.arg(&file);
    let mut tui = Pty::spawn(cmd);
    tui.wait_for("the tasks", LONG, |s| {
        s.contains("deep") && s.contains("twice")
    });
    // The locations view: the layout's columns, with each handler's await line.
    tui.keys("g");
    tui.wait_for("the layout's columns", LONG, |s| {
        s.contains("Largest state") && s.contains("@ layers.rs:") && s.contains("config 4.0 KiB")
    });
    // A deep task: its details, then its future as a tree.
    tui.keys("g/name:deep\r");
    tui.wait_for("the deep tasks alone", LONG, |s| {
        s.contains("filter: name:deep")
    });
    tui.keys("\rt");
    tui.wait_for("the layout view down to the frame", LONG, |s| {
        s.contains("future layout")
            && s.contains("▾ {async fn body of read_frame()}")
            && s.contains("frame 8.0 KiB (local)")
    });
    // Fold the root: one future row is left.
    tui.keys("\x1b[D");
    tui.wait_for("the tree folded", LONG, |s| {
        s.contains("▸ {async fn body of deep()}") && !s.contains("read_frame()}")
    });
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    std::fs::remove_dir_all(&dir).ok();
}
