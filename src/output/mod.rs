//! Headless writers of the model: a table for people, JSON for scripts, CSV for spreadsheets,
//! Prometheus metrics for a fleet.

pub mod csv;
pub mod dump;
pub mod joined;
pub mod json;
pub mod layout;
pub mod prometheus;
pub mod table;

use crate::model::{Model, Task};

/// Tasks in the order people want them: largest future first, unknown sizes last, then by id.
pub fn tasks_by_size(model: &Model) -> Vec<&Task> {
    let mut tasks: Vec<&Task> = model.tasks().collect();
    tasks.sort_unstable_by(|a, b| {
        b.size_bytes
            .cmp(&a.size_bytes)
            .then(a.state().cmp(&b.state()))
            .then(a.console_id.cmp(&b.console_id))
    });
    tasks
}

/// What the headless outputs say about the target beyond the model itself.
#[derive(Clone, Debug)]
pub struct TargetInfo {
    pub pid: Option<i32>,
    pub endpoint: String,
}
