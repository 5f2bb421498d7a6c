//! Running the real asyncmem binary and reading what it printed.

use std::process::{Command, ExitStatus, Output};

use crate::common::ASYNCMEM;

pub fn asyncmem() -> Command {
    Command::new(ASYNCMEM)
}

pub fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "asyncmem failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// `asyncmem COMMAND --help` names every one of `needles`; how it exited, for the caller to check.
#[track_caller]
pub fn assert_help_names(command: &str, needles: &[&str]) -> ExitStatus {
    let out = asyncmem().args([command, "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in help:\n{text}");
    }
    out.status
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `asyncmem snapshot FLAG VALUE --format json`, once the live task count has been still for
/// 1 s (giving up on the first update after `timeout`, e.g. "30s").
pub fn settled_snapshot(flag: &str, value: &str, timeout: &str) -> serde_json::Value {
    let out = asyncmem()
        .args([
            "snapshot",
            flag,
            value,
            "--format",
            "json",
            "--settle",
            "1s",
            "--timeout",
            timeout,
        ])
        .output()
        .expect("running asyncmem");
    json_of(&out)
}

pub fn tasks(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["tasks"].as_array().expect("tasks array")
}

pub fn named<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    tasks(json)
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task named {name} in {json:#}"))
}

/// The element of the array `json[array]` whose `key` is `value`.
pub fn entry<'a>(
    json: &'a serde_json::Value,
    array: &str,
    key: &str,
    value: &str,
) -> &'a serde_json::Value {
    json[array]
        .as_array()
        .unwrap_or_else(|| panic!("no array {array} in {json:#}"))
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value} in {array} of {json:#}"))
}

/// The snapshot's entry for lint `name`.
pub fn lint<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    entry(json, "lints", "lint", name)
}

/// The snapshot warns of nothing (else its warnings are shown after `context`).
#[track_caller]
pub fn assert_no_warnings(json: &serde_json::Value, context: &str) {
    assert!(
        json["warnings"]
            .as_array()
            .expect("warnings array")
            .is_empty(),
        "{context}: {:#}",
        json["warnings"]
    );
}

/// The sleepers demo's holders: every task named `sleeper` spawned at its spawn site.
pub fn sleepers_holders(json: &serde_json::Value) -> Vec<&serde_json::Value> {
    tasks(json)
        .iter()
        .filter(|t| {
            t["name"] == "sleeper"
                && t["location"]
                    .as_str()
                    .is_some_and(|l| l.contains("sleepers.rs"))
        })
        .collect()
}
