//! The heap tasks hold in the real `asyncmem top`, in a real pseudo-terminal: the real
//! `conn-buffers` demo counting its heap per task (`asyncmem_probe::Allocator`), its 40
//! connections' read buffers, 4 of them 64 KiB; and the same demo under console-subscriber,
//! whose heap asyncmem cannot know: no Heap column, no heap in the header.

use std::time::Duration;

use crate::common::*;
use asyncmem_testkit::pty::{CommandBuilder, Pty};

const LONG: Duration = Duration::from_secs(30);

fn spawn_top(addr: &str) -> Pty {
    let mut cmd = CommandBuilder::new(ASYNCMEM);
    cmd.args(["top", "--addr", addr]);
    Pty::spawn(cmd)
}

/// The task rows: the lines under the table header, up to the footer's blank line (none before
/// the table is drawn).
fn task_rows(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(header) = lines
        .iter()
        .position(|l| l.contains("State") && l.contains("Size"))
    else {
        return vec![];
    };
    lines[header + 1..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn top_shows_sorts_and_filters_the_heap_tasks_hold() {
    let target = start_demo("conn-buffers", &["--instrument", "probe", "-n", "40"]);
    let mut tui = spawn_top(&target.addr());
    tui.wait_for("the heap in the header and the table", LONG, |s| {
        s.contains("held by") && s.contains("Heap") && s.contains("conn")
    });
    // From Size (the default sort) one step right: the Heap column.
    tui.keys("l");
    tui.wait_for("sorted by heap, a 64 KiB buffer first", LONG, |s| {
        s.contains("Heap▼")
            && task_rows(s)
                .first()
                .is_some_and(|r| r.contains("conn") && r.contains("64.0 KiB"))
    });
    // The four connections that got the large message, and nothing else.
    tui.keys("/heap>32k\r");
    tui.wait_for("the four 64 KiB holders", LONG, |s| {
        s.contains("filter: heap>32k") && task_rows(s).len() == 4
    });
    for row in task_rows(&tui.text()) {
        assert!(row.contains("conn") && row.contains("64.0 KiB"), "{row}");
    }
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
    assert!(tui.restored());
}

#[test]
fn without_the_heap_stream_top_shows_no_heap() {
    let target = start_demo(
        "conn-buffers",
        &["--instrument", "console-subscriber", "-n", "10"],
    );
    let mut tui = spawn_top(&target.addr());
    // block_on, accept, 10 clients and their 10 connections.
    tui.wait_for("the connections", LONG, |s| {
        s.contains("live tasks 22") && task_rows(s).iter().any(|r| r.contains("conn"))
    });
    let text = tui.text();
    assert!(
        !text.contains("Heap") && !text.contains("held by"),
        "{text}"
    );
    tui.keys("q");
    assert_eq!(tui.wait_exit(LONG), 0);
}
