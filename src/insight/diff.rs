//! The difference between two moments: RSS, live tasks, what the tasks explain, and per spawn
//! location the live tasks (and their future bytes) gained and lost, largest change first. A
//! [`Moment`] holds what is needed of a model (its live tasks by identity and location), so
//! that two moments can come from one model at two times (live) or from two models (two points
//! of a recording).

use std::collections::HashMap;

use serde::Serialize;

use crate::model::{Model, Nanos, TaskState};

use super::explained::explained;

/// A task's identity across models: its console id and creation time (a console id is reused
/// only after its task is gone, with another creation time).
type TaskKey = (u64, Nanos);

/// The picture at one moment, enough to compare with another.
#[derive(Clone, Debug, Default)]
pub struct Moment {
    /// `Update.now` of the latest update (target's clock).
    pub at_ns: Nanos,
    pub rss_bytes: Option<u64>,
    pub live_tasks: u64,
    pub future_bytes: u64,
    pub explained_bytes: u64,
    /// Spawn locations, indexed by the tasks.
    locations: Vec<String>,
    /// Each live task: its location's index and its future size (0 when unknown).
    tasks: HashMap<TaskKey, (u32, u64)>,
}

impl Moment {
    /// The model's picture now.
    pub fn of(model: &Model) -> Moment {
        let mut index: HashMap<crate::model::Sym, u32> = HashMap::new();
        let mut locations = Vec::new();
        let mut tasks = HashMap::with_capacity(usize::try_from(model.counts().live()).unwrap_or(0));
        for t in model.tasks().filter(|t| t.state() != TaskState::Done) {
            let loc = *index.entry(t.location).or_insert_with(|| {
                locations.push(model.resolve(t.location).to_string());
                (locations.len() - 1) as u32
            });
            tasks.insert(
                (t.console_id, t.stats.created_at),
                (loc, t.size_bytes.unwrap_or(0)),
            );
        }
        let c = model.counts();
        Moment {
            at_ns: model.now(),
            rss_bytes: model.last_rss().map(|r| r.rss_bytes),
            live_tasks: c.live(),
            future_bytes: c.future_bytes,
            explained_bytes: explained(model).explained_bytes,
            locations,
            tasks,
        }
    }

    /// The location of index `loc`.
    fn location(&self, loc: u32) -> &str {
        self.locations.get(loc as usize).map_or("", String::as_str)
    }
}

/// One location's change between the two moments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LocationChange {
    pub location: String,
    pub tasks_before: u64,
    pub tasks_after: u64,
    /// Live at the second moment and not at the first (spawned in between).
    pub tasks_gained: u64,
    /// Live at the first moment and not at the second (ended in between).
    pub tasks_lost: u64,
    pub future_bytes_gained: u64,
    pub future_bytes_lost: u64,
    /// `tasks_gained - tasks_lost`.
    pub tasks_change: i64,
    /// `future_bytes_gained - future_bytes_lost`.
    pub future_bytes_change: i64,
}

/// One side of the difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    pub at_ns: Nanos,
    pub rss_bytes: Option<u64>,
    pub live_tasks: u64,
    pub future_bytes: u64,
    pub explained_bytes: u64,
}

/// What changed from one moment to another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff {
    pub from: Side,
    pub to: Side,
    pub seconds: f64,
    /// Null when either moment has no RSS reading.
    pub rss_change_bytes: Option<i64>,
    pub live_tasks_change: i64,
    pub future_bytes_change: i64,
    pub explained_change_bytes: i64,
    /// The explained change over the RSS change (null unless RSS grew).
    pub growth_explained: Option<f64>,
    /// Locations whose live tasks changed, largest change of future bytes first, then of
    /// tasks, then of the tasks that came and went.
    pub locations: Vec<LocationChange>,
    /// Locations with live tasks at either moment and no change.
    pub unchanged_locations: usize,
}

fn side(m: &Moment) -> Side {
    Side {
        at_ns: m.at_ns,
        rss_bytes: m.rss_bytes,
        live_tasks: m.live_tasks,
        future_bytes: m.future_bytes,
        explained_bytes: m.explained_bytes,
    }
}

/// What changed from `a` to `b`. Tasks that started and ended between the two are not seen.
pub fn diff(a: &Moment, b: &Moment) -> Diff {
    let mut by_location: HashMap<&str, LocationChange> = HashMap::new();
    for (key, &(loc, size)) in &a.tasks {
        let l = by_location.entry(a.location(loc)).or_default();
        l.tasks_before += 1;
        if !b.tasks.contains_key(key) {
            l.tasks_lost += 1;
            l.future_bytes_lost += size;
        }
    }
    for (key, &(loc, size)) in &b.tasks {
        let l = by_location.entry(b.location(loc)).or_default();
        l.tasks_after += 1;
        if !a.tasks.contains_key(key) {
            l.tasks_gained += 1;
            l.future_bytes_gained += size;
        }
    }
    let total = by_location.len();
    let mut locations: Vec<LocationChange> = by_location
        .into_iter()
        .filter(|(_, l)| l.tasks_gained + l.tasks_lost > 0)
        .map(|(name, l)| LocationChange {
            location: name.to_string(),
            tasks_change: l.tasks_gained as i64 - l.tasks_lost as i64,
            future_bytes_change: l.future_bytes_gained as i64 - l.future_bytes_lost as i64,
            ..l
        })
        .collect();
    locations.sort_by(|x, y| {
        y.future_bytes_change
            .unsigned_abs()
            .cmp(&x.future_bytes_change.unsigned_abs())
            .then(
                y.tasks_change
                    .unsigned_abs()
                    .cmp(&x.tasks_change.unsigned_abs()),
            )
            .then((y.tasks_gained + y.tasks_lost).cmp(&(x.tasks_gained + x.tasks_lost)))
            .then(x.location.cmp(&y.location))
    });
    let rss_change_bytes = match (a.rss_bytes, b.rss_bytes) {
        (Some(x), Some(y)) => Some(y as i64 - x as i64),
        _ => None,
    };
    let explained_change_bytes = b.explained_bytes as i64 - a.explained_bytes as i64;
    Diff {
        from: side(a),
        to: side(b),
        seconds: (b.at_ns - a.at_ns) as f64 / 1e9,
        rss_change_bytes,
        live_tasks_change: b.live_tasks as i64 - a.live_tasks as i64,
        future_bytes_change: b.future_bytes as i64 - a.future_bytes as i64,
        explained_change_bytes,
        growth_explained: rss_change_bytes
            .filter(|r| *r > 0)
            .map(|r| explained_change_bytes as f64 / r as f64),
        unchanged_locations: total - locations.len(),
        locations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synth::{self, *};

    fn change(d: &Diff, line: u32) -> &LocationChange {
        let name = format!("src/main.rs:{line}:5");
        d.locations
            .iter()
            .find(|l| l.location == name)
            .unwrap_or_else(|| panic!("no change at {name}: {d:?}"))
    }

    #[test]
    fn gained_and_lost_per_location_largest_change_first() {
        let mut m = Model::default();
        // At 1 s: 10 tasks of 100 B at line 10, 5 of 1 KiB at line 20, 3 at line 30.
        let mut tasks: Vec<PTask> = (1..=10).map(|i| at_line(i, 100, 10)).collect();
        tasks.extend((11..=15).map(|i| at_line(i, 1024, 20)));
        tasks.extend((16..=18).map(|i| at_line(i, 64, 30)));
        let created = (1..=18).map(|i| (i, stats(SEC))).collect();
        m.apply_update(&update(SEC, true, tasks, created));
        rss(&mut m, SEC, 10 << 20);
        let a = Moment::of(&m);
        // At 2 s: line 10 loses 4 tasks, line 20 gains 100 tasks of 1 KiB, line 30 is as it was;
        // a task at line 40 is replaced by another there (one gained, one lost, no change).
        let mut dropped = synth::dropped(1..=4, SEC, 2 * SEC);
        let mut new: Vec<PTask> = (100..200).map(|i| at_line(i, 1024, 20)).collect();
        new.push(at_line(300, 50, 40));
        dropped.extend((100..200).map(|i| (i, stats(2 * SEC))));
        dropped.push((300, stats(2 * SEC)));
        m.apply_update(&update(2 * SEC, false, new, dropped));
        rss(&mut m, 2 * SEC, 12 << 20);
        let b = Moment::of(&m);
        let d = diff(&a, &b);
        assert_eq!(d.rss_change_bytes, Some(2 << 20));
        assert_eq!(d.live_tasks_change, 100 + 1 - 4);
        assert_eq!(d.seconds, 1.0);
        let names: Vec<_> = d.locations.iter().map(|l| l.location.as_str()).collect();
        assert_eq!(
            names,
            ["src/main.rs:20:5", "src/main.rs:10:5", "src/main.rs:40:5"],
            "largest change of bytes first; line 30 did not change"
        );
        assert_eq!(d.unchanged_locations, 1);
        let l20 = change(&d, 20);
        assert_eq!(
            (
                l20.tasks_before,
                l20.tasks_after,
                l20.tasks_gained,
                l20.tasks_lost
            ),
            (5, 105, 100, 0)
        );
        assert_eq!(l20.future_bytes_change, 100 * 1024);
        let l10 = change(&d, 10);
        assert_eq!((l10.tasks_change, l10.future_bytes_lost), (-4, 400));
        // The explained change is the cells of the tasks that came and went.
        let explained = d.explained_change_bytes as f64;
        assert_eq!(d.growth_explained, Some(explained / (2 << 20) as f64));
        assert!(explained > 100.0 * 1024.0, "{explained}");
    }

    #[test]
    fn a_reused_console_id_is_another_task() {
        let mut m = Model::default();
        m.apply_update(&update(
            SEC,
            true,
            vec![at_line(7, 64, 10)],
            vec![(7, stats(SEC))],
        ));
        let a = Moment::of(&m);
        // Id 7 ends and is reused by a new task (another tokio id, another creation time).
        let mut gone = stats(SEC);
        gone.dropped_at = stamp(2 * SEC);
        m.apply_update(&update(2 * SEC, false, vec![], vec![(7, gone)]));
        m.apply_update(&update(
            30 * SEC,
            false,
            vec![ptask(7, 70, 64, None, "")],
            vec![(7, stats(30 * SEC))],
        ));
        let b = Moment::of(&m);
        let d = diff(&a, &b);
        assert_eq!(d.live_tasks_change, 0);
        let l = change(&d, 10);
        assert_eq!((l.tasks_gained, l.tasks_lost, l.tasks_change), (1, 1, 0));
        assert_eq!(d.rss_change_bytes, None, "no RSS read: no change claimed");
        assert_eq!(d.growth_explained, None);
    }
}
