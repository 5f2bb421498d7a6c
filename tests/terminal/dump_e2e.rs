//! End to end: `d` in the real `asyncmem top` (a real pseudo-terminal, read back through a vt100
//! parser), attached to the real `parked` demo built with asyncmem-probe's `taskdump` feature: the
//! question first, then the where-tasks-wait view at the demo's own `.await`, the chain of one
//! point, and back. A probe target without the feature says why, and `top` goes on.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use asyncmem_testkit::pty::{CommandBuilder, Pty};

const LONG: Duration = Duration::from_secs(60);
const PARKED: &str = include_str!("../../demos/src/bin/parked.rs");

/// `asyncmem ARGS` in a real terminal.
fn spawn_tui(args: &[&str]) -> Pty {
    let mut cmd = CommandBuilder::new(ASYNCMEM);
    cmd.args(args);
    Pty::spawn(cmd)
}

/// The screen with its runs of blanks and line ends made one space (a message may wrap).
fn flat(screen: &str) -> String {
    screen.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The 1-based line of `parked.rs` holding `needle`.
fn line_of(needle: &str) -> usize {
    PARKED
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in parked.rs"))
        + 1
}

#[test]
fn d_asks_then_shows_where_tasks_wait_and_a_chain() {
    let bin = asyncmem_testkit::taskdump_demo_bin(Path::new(ASYNCMEM), "parked", false);
    let target = asyncmem_testkit::start_demo(
        &bin,
        &["--instrument", "probe", "-n", "40", "--work", "1ms"],
    );
    let mut tui = spawn_tui(&["top", "--addr", &target.addr()]);
    tui.wait_for("the connections", LONG, |s| {
        s.contains("● connected") && s.contains("live tasks 4")
    });
    // Asked first: the dump pauses the target. Any key but y cancels.
    tui.keys("d");
    tui.wait_for("the question", LONG, |s| s.contains("task dump?"));
    tui.keys("n");
    tui.wait_for("the question gone", LONG, |s| !s.contains("task dump?"));
    assert!(!tui.text().contains("where tasks wait"), "{}", tui.text());
    tui.keys("d");
    tui.wait_for("the question again", LONG, |s| s.contains("task dump?"));
    tui.keys("y");
    // Every connection waits at its keep-alive sleep, named by the demo's own line, relative
    // to the workspace like a spawn location.
    let keep_alive = format!(
        "demos/src/bin/parked.rs:{}:",
        line_of("sleep(keep_alive).await")
    );
    tui.wait_for("the where-tasks-wait view", LONG, |s| {
        s.contains("where tasks wait") && s.contains(&keep_alive)
    });
    let screen = tui.text();
    assert!(
        flat(&screen).contains("held the target's workers"),
        "{screen}"
    );
    assert!(screen.contains("parked::connection"), "{screen}");
    assert!(!screen.contains("/demos/src/bin/parked.rs"), "{screen}");
    // Enter: the chain of the first point, and the tasks parked there.
    tui.keys("\r");
    tui.wait_for("the chain", LONG, |s| {
        s.contains("task(s) parked at") && s.contains("parked::connection::{{closure}}")
    });
    assert!(
        tui.text()
            .contains(&format!("task(s) parked at {keep_alive}")),
        "{}",
        tui.text()
    );
    // Esc closes the chain, then the view.
    tui.keys("\x1b");
    tui.wait_for("the chain closed", LONG, |s| {
        !s.contains("task(s) parked at") && s.contains("where tasks wait")
    });
    tui.keys("\x1b");
    tui.wait_for("the task table", LONG, |s| {
        !s.contains("where tasks wait") && s.contains("connection")
    });
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    assert!(tui.restored(), "terminal not restored:\n{}", tui.text());
}

#[test]
fn a_target_without_dumps_says_why_and_top_goes_on() {
    // The workspace's own build of the demos: asyncmem-probe without its `taskdump` feature.
    let target = start_demo("sleepers", &["--instrument", "probe", "-n", "10"]);
    let mut tui = spawn_tui(&["top", "--addr", &target.addr()]);
    tui.wait_for("the tasks", LONG, |s| s.contains("boxed-32k"));
    tui.keys("d");
    tui.wait_for("the question", LONG, |s| s.contains("task dump?"));
    tui.keys("y");
    tui.wait_for("the refusal", LONG, |s| {
        let s = flat(s);
        s.contains("no task dump:") && s.contains("taskdump")
    });
    // Still live: Esc goes back to the table, and `q` quits cleanly.
    assert!(tui.text().contains("● connected"), "{}", tui.text());
    tui.keys("\x1b");
    tui.wait_for("the task table", LONG, |s| {
        !s.contains("where tasks wait") && s.contains("boxed-32k")
    });
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    assert!(tui.restored(), "terminal not restored:\n{}", tui.text());
}
