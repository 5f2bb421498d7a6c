//! Model tests on synthetic console-api messages: dedupe, id reuse, state derivation, late attach.

use super::synth::*;
use super::*;

/// Unnamed tasks `(console id, tokio id, size)`.
fn unnamed(tasks: &[(u64, u64, u64)]) -> Vec<PTask> {
    tasks
        .iter()
        .map(|&(id, tokio_id, size)| ptask(id, tokio_id, size, None, ""))
        .collect()
}

/// The first update of a connection, at 1 s: unnamed tasks `(console id, tokio id, size)`, each
/// with the stats of a task created then.
fn first_update(tasks: &[(u64, u64, u64)]) -> Update {
    let stats = tasks.iter().map(|&(id, ..)| (id, stats(SEC))).collect();
    update(SEC, true, unnamed(tasks), stats)
}

/// An update at `now` (with the metadata if `meta`) announcing unnamed tasks of 8 bytes whose
/// console and tokio ids are `ids`, created at `created`.
fn eight_byte_tasks(
    now: i64,
    meta: bool,
    ids: impl Iterator<Item = u64> + Clone,
    created: i64,
) -> Update {
    let tasks = ids.clone().map(|i| ptask(i, i, 8, None, "")).collect();
    update(now, meta, tasks, ids.map(|i| (i, stats(created))).collect())
}

#[test]
fn ingests_tasks_with_sizes_names_and_locations() {
    let mut m = Model::default();
    m.apply_update(&update(
        10 * SEC,
        true,
        vec![
            ptask(1, 100, 1024, None, ""),
            ptask(2, 101, 8, Some(32_768), "\"boxed-32k\""),
        ],
        vec![(1, stats(SEC)), (2, stats(SEC))],
    ));
    assert_eq!(m.len(), 2);
    let boxed = m.tasks().find(|t| t.console_id == 2).unwrap();
    assert!(boxed.boxed);
    assert_eq!(boxed.size_bytes, Some(32_768));
    assert_eq!(m.resolve(boxed.name), "boxed-32k");
    assert_eq!(m.resolve(boxed.location), "src/main.rs:10:5");
    assert_eq!(boxed.task_id, Some(101));
    let plain = m.tasks().find(|t| t.console_id == 1).unwrap();
    assert!(!plain.boxed);
    assert_eq!(plain.size_bytes, Some(1024));
    assert!(plain.name.is_none());
    let c = m.counts();
    assert_eq!(c.idle, 2);
    assert_eq!(c.future_bytes, 1024 + 32_768);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn duplicate_task_is_deduplicated() {
    let mut m = Model::default();
    m.apply_update(&first_update(&[(1, 100, 64)]));
    // the incremental resend of the same task
    m.apply_update(&update(2 * SEC, false, unnamed(&[(1, 100, 64)]), vec![]));
    assert_eq!(m.len(), 1);
    assert_eq!(m.counts().live(), 1);
    assert_eq!(m.counts().future_bytes, 64);
}

#[test]
fn reused_console_id_starts_a_new_task() {
    let mut m = Model::default();
    m.apply_update(&first_update(&[(7, 100, 64)]));
    let first_uid = m.tasks().next().unwrap().uid;
    // same console id, different tokio task: the old one is gone
    m.apply_update(&update(
        2 * SEC,
        false,
        unnamed(&[(7, 200, 128)]),
        vec![(7, stats(2 * SEC))],
    ));
    assert_eq!(m.len(), 2);
    let old = m.task_by_uid(first_uid).unwrap();
    assert_eq!(old.state(), TaskState::Done);
    let new = m.tasks().find(|t| t.task_id == Some(200)).unwrap();
    assert_ne!(new.uid, first_uid);
    assert_eq!(new.state(), TaskState::Idle);
    assert_eq!(new.stats.created_at, 2 * SEC);
    assert_eq!(m.counts().live(), 1);
    assert_eq!(m.counts().done, 1);
    assert_eq!(m.counts().future_bytes, 128);
}

#[test]
fn states_follow_stats() {
    let mut m = Model::default();
    m.apply_update(&first_update(&[(1, 1, 0)]));
    let mut s = stats(SEC);
    s.poll_stats = Some(proto::PollStats {
        polls: 3,
        last_poll_started: stamp(2 * SEC),
        ..Default::default()
    });
    m.apply_update(&update(2 * SEC, false, vec![], vec![(1, s)]));
    assert_eq!(m.counts().running, 1);
    if let Some(p) = s.poll_stats.as_mut() {
        p.last_poll_ended = stamp(3 * SEC);
    }
    s.last_wake = stamp(4 * SEC);
    m.apply_update(&update(4 * SEC, false, vec![], vec![(1, s)]));
    assert_eq!(m.counts().scheduled, 1);
    s.dropped_at = stamp(5 * SEC);
    m.apply_update(&update(5 * SEC, false, vec![], vec![(1, s)]));
    assert_eq!(m.counts().done, 1);
    assert_eq!(m.counts().live(), 0);
    assert_eq!(m.counts().future_bytes, 0);
    // retention: pruned 6 s after its drop
    m.apply_update(&update(12 * SEC, false, vec![], vec![]));
    assert_eq!(m.len(), 0);
    assert_eq!(m.counts(), Counts::default());
}

#[test]
fn late_attach_is_detected() {
    let mut m = Model::default();
    // first update: no metadata, stats for ids never announced
    m.apply_update(&update(
        SEC,
        false,
        vec![],
        vec![(5, stats(SEC)), (6, stats(SEC))],
    ));
    assert!(m.warnings.get(WarningKind::NoInitialState).is_some());
    assert_eq!(
        m.warnings
            .get(WarningKind::UnannouncedStats)
            .map(|w| w.count),
        Some(2)
    );
    // the placeholders still count as live tasks, of unknown size
    assert_eq!(m.counts().live(), 2);
    assert_eq!(m.counts().sized, 0);
    // a later announcement fills a placeholder instead of adding a task
    m.apply_update(&update(2 * SEC, false, unnamed(&[(5, 50, 256)]), vec![]));
    assert_eq!(m.len(), 2);
    assert_eq!(m.counts().future_bytes, 256);
}

#[test]
fn full_initial_state_raises_no_late_attach_warning() {
    let mut m = Model::default();
    m.apply_update(&first_update(&[(1, 1, 8)]));
    assert!(m.warnings.get(WarningKind::NoInitialState).is_none());
}

#[test]
fn reconnect_closes_tasks_that_ended_meanwhile() {
    let mut m = Model::default();
    m.on_connected(Some(42));
    m.apply_update(&first_update(&[(1, 1, 8), (2, 2, 8)]));
    m.on_connected(Some(42));
    m.apply_update(&update(
        3 * SEC,
        true,
        vec![ptask(1, 1, 8, None, "")],
        vec![(1, stats(SEC))],
    ));
    assert_eq!(m.counts().live(), 1);
    assert_eq!(m.counts().done, 1);
    // a different pid behind the endpoint: a restart, the picture starts over
    m.on_connected(Some(43));
    assert_eq!(m.len(), 0);
    assert!(m.warnings.get(WarningKind::TargetRestarted).is_some());
}

#[test]
fn missing_sizes_and_dropped_events_are_warned() {
    let mut m = Model::default();
    let mut t = ptask(1, 1, 8, None, "");
    t.fields
        .retain(|f| !matches!(&f.name, Some(Name::StrName(n)) if n == "size.bytes"));
    let mut u = update(SEC, true, vec![t], vec![]);
    if let Some(tu) = u.task_update.as_mut() {
        tu.dropped_events = 7;
    }
    m.apply_update(&u);
    assert_eq!(m.tasks().next().unwrap().size_bytes, None);
    assert!(m.warnings.get(WarningKind::SizesUnknown).is_some());
    assert_eq!(m.warnings.get(WarningKind::DroppedEvents).unwrap().count, 7);
}

/// A model with room for 3 tasks after a first update announcing tasks 1 to 10 with `stats`.
fn ten_tasks_for_three_slots(stats: Vec<(u64, Stats)>) -> Model {
    let mut m = Model::new(ModelConfig {
        max_tasks: 3,
        ..Default::default()
    });
    let tasks = (1..=10).map(|i| ptask(i, i, 8, None, "")).collect();
    m.apply_update(&update(SEC, true, tasks, stats));
    m
}

#[test]
fn task_limit_bounds_the_table() {
    let m = ten_tasks_for_three_slots(vec![]);
    assert_eq!(m.len(), 3);
    assert_eq!(m.warnings.get(WarningKind::TaskLimit).unwrap().count, 7);
}

#[test]
fn a_task_over_the_limit_is_counted_once_with_its_stats() {
    let stats = (1..=10).map(|i| (i, self::stats(SEC / 2))).collect();
    let mut m = ten_tasks_for_three_slots(stats);
    // The next tick's stats of the same untracked tasks are not new tasks either.
    let again = (4..=10).map(|i| (i, self::stats(SEC / 2))).collect();
    m.apply_update(&update(2 * SEC, false, vec![], again));
    assert_eq!(m.len(), 3);
    assert_eq!(m.warnings.get(WarningKind::TaskLimit).unwrap().count, 7);
    assert!(m.warnings.get(WarningKind::UnannouncedStats).is_none());
}

#[test]
fn fields_named_by_index_resolve_through_metadata() {
    let mut m = Model::default();
    let mut t = ptask(1, 9, 8, None, "");
    t.fields = vec![proto::Field {
        name: Some(Name::NameIdx(2)),
        value: Some(Value::U64Val(99)),
        metadata_id: Some(proto::MetaId { id: 1 }),
    }];
    m.apply_update(&update(SEC, true, vec![t], vec![]));
    assert_eq!(m.tasks().next().unwrap().task_id, Some(99));
}

#[test]
fn rss_samples_align_with_counts() {
    let mut m = Model::default();
    m.apply_update(&first_update(&[(1, 1, 100)]));
    m.apply_rss(RssSample {
        at: 2 * SEC,
        rss_bytes: 10_000,
        anon_rss_bytes: 5_000,
        threads: 3,
    });
    let s = m.series.last().unwrap();
    assert_eq!(
        (s.rss_bytes, s.live_tasks, s.future_bytes, s.idle),
        (10_000, 1, 100, 1)
    );
}

#[test]
fn lag_and_missing_tasks_are_estimated_from_tokio_ids() {
    let mut m = Model::default();
    m.apply_update(&eight_byte_tasks(SEC, true, 1..=5, SEC));
    assert_eq!(m.lag.baseline_task_id, Some(5));
    assert_eq!(m.lag.missing_estimate(), Some(0));
    assert_eq!(m.instrumentation, Instrumentation::ConsoleSubscriber);
    // tasks 40 and 41 arrive 10 s after they were created; 6 to 39 never did
    m.apply_update(&update(
        12 * SEC,
        false,
        unnamed(&[(40, 40, 8), (41, 41, 8)]),
        vec![(40, stats(2 * SEC)), (41, stats(3 * SEC))],
    ));
    assert_eq!(m.lag.max_task_id, 41);
    assert_eq!(m.lag.missing_estimate(), Some(34));
    assert_eq!(m.lag.last_announce_lag_ns, 10 * SEC as u64);
    // 6 to 20 arrive late: fewer missing
    m.apply_update(&eight_byte_tasks(13 * SEC, false, 6..=20, 2 * SEC));
    assert_eq!(m.lag.missing_estimate(), Some(19));
    assert_eq!(m.lag.max_announce_lag_ns, 11 * SEC as u64);
    assert!(m
        .incomplete_reason()
        .is_some_and(|r| r.contains("announcing")));
    // 21 to 23 too: the 16 ids left are a watcher's run, not missing tasks
    m.apply_update(&eight_byte_tasks(14 * SEC, false, 21..=23, 14 * SEC));
    assert_eq!(m.lag.missing_estimate(), Some(0));
    // Quiet for longer than a publish interval: complete.
    m.apply_update(&update(15 * SEC, false, vec![], vec![]));
    assert_eq!(m.incomplete_reason(), None);
}

/// A first update of the probe: its own entry (promising the end marker if `promise`).
fn probe_update(at: i64, promise: bool, ids: std::ops::Range<u64>) -> Update {
    let mut u = eight_byte_tasks(at, true, ids, SEC);
    if let Some(meta) = u.new_metadata.as_mut() {
        let md = meta.metadata[0].metadata.as_mut().unwrap();
        md.target = "asyncmem_probe".into();
        if promise {
            md.field_names.push(PROBE_MARKS_INITIAL_STATE.into());
        }
    }
    u
}

fn end_marker(u: &mut Update) {
    let marker = proto::register_metadata::NewMetadata {
        id: Some(proto::MetaId { id: 2 }),
        metadata: Some(proto::Metadata {
            target: PROBE_INITIAL_STATE_TARGET.into(),
            ..Default::default()
        }),
    };
    u.new_metadata
        .get_or_insert_with(Default::default)
        .metadata
        .push(marker);
}

#[test]
fn a_probe_picture_is_complete_at_its_end_marker_and_the_series_waits_for_it() {
    let mut m = Model::default();
    m.on_connected(Some(1));
    let rss = |at| RssSample {
        at,
        rss_bytes: 50_000_000,
        anon_rss_bytes: 40_000_000,
        threads: 3,
    };
    // RSS read before any picture: no point at 0 tasks.
    m.apply_rss(rss(SEC));
    assert!(m.series.is_empty());
    m.apply_update(&probe_update(SEC, true, 1..1000));
    assert!(m
        .incomplete_reason()
        .is_some_and(|r| r.contains("initial state is still arriving")));
    // Chunks of the initial state are not a picture either.
    m.apply_rss(rss(2 * SEC));
    assert!(m.series.is_empty());
    let mut last = update(
        2 * SEC,
        false,
        (1000..2000).map(|i| ptask(i, i, 8, None, "")).collect(),
        vec![],
    );
    last.new_metadata = None;
    end_marker(&mut last);
    m.apply_update(&last);
    assert_eq!(m.incomplete_reason(), None);
    m.apply_rss(rss(3 * SEC));
    assert_eq!(m.series.last().map(|s| s.live_tasks), Some(1999));
    // A reconnect waits for the marker again.
    m.on_connected(Some(1));
    m.apply_update(&probe_update(4 * SEC, true, 1..10));
    assert!(m.incomplete_reason().is_some());
    // A probe that promises no marker (older) is complete at its first update.
    let mut old = Model::default();
    old.apply_update(&probe_update(SEC, false, 1..10));
    assert_eq!(old.incomplete_reason(), None);
}

#[test]
fn no_initial_state_is_an_incomplete_picture() {
    let mut m = Model::default();
    m.on_connected(Some(1));
    let mut u = update(SEC, true, vec![ptask(5, 5, 8, None, "")], vec![]);
    u.new_metadata = None;
    m.apply_update(&u);
    assert!(m
        .incomplete_reason()
        .is_some_and(|r| r.contains("no initial state")));
}

#[test]
fn the_probe_names_itself_in_its_metadata() {
    let mut m = Model::default();
    let mut u = update(SEC, true, vec![], vec![]);
    if let Some(meta) = u.new_metadata.as_mut() {
        meta.metadata[0].metadata.as_mut().unwrap().target = "asyncmem_probe".into();
    }
    m.apply_update(&u);
    assert_eq!(m.instrumentation, Instrumentation::Probe);
}

#[test]
fn quiet_updates_do_not_change_the_generation() {
    let mut m = Model::default();
    m.apply_update(&first_update(&[(1, 1, 8)]));
    let g = m.generation();
    m.apply_update(&update(2 * SEC, false, vec![], vec![]));
    assert_eq!(m.generation(), g, "an empty update changes nothing");
    let mut s = stats(SEC);
    s.dropped_at = stamp(3 * SEC);
    m.apply_update(&update(3 * SEC, false, vec![], vec![(1, s)]));
    assert!(m.generation() > g);
    let g = m.generation();
    m.apply_update(&update(20 * SEC, false, vec![], vec![]));
    assert_eq!(m.len(), 0, "pruned");
    assert!(m.generation() > g, "pruning is a change");
}

#[test]
fn per_location_counts_stay_exact_through_drops_reuse_and_pruning() {
    let mut m = Model::default();
    let tasks = (1..=30)
        .map(|i| at_line(i, 100 * i, 10 + (i % 3) as u32))
        .collect();
    let created = (1..=30).map(|i| (i, stats(SEC))).collect();
    m.apply_update(&update(SEC, true, tasks, created));
    assert_eq!(m.by_location().len(), 3);
    let check = |m: &Model| {
        assert_eq!(m.by_location_sorted(), m.regroup_by_location());
        let cells: u64 = m
            .tasks()
            .filter(|t| t.state() != TaskState::Done)
            .map(|t| cost::task_bytes(t.size_bytes, t.boxed))
            .sum();
        assert_eq!(m.counts().cell_bytes, cells);
    };
    check(&m);
    // Ten dropped, one id reused by a task at another line.
    let mut dropped = super::synth::dropped(1..=10, SEC, 2 * SEC);
    let mut reuse = at_line(11, 7, 99);
    reuse.fields[2] = field("task.id", proto::field::Value::U64Val(1011));
    dropped.push((11, stats(2 * SEC)));
    m.apply_update(&update(2 * SEC, false, vec![reuse], dropped));
    check(&m);
    assert_eq!(
        m.by_location().len(),
        4,
        "the reused id's task is at line 99"
    );
    // Past the retention the done tasks are pruned: nothing live changes.
    m.apply_update(&update(60 * SEC, false, vec![], vec![]));
    m.prune_done();
    check(&m);
    assert_eq!(m.counts().done, 0);
}

#[test]
fn the_location_series_shares_the_charts_times() {
    let mut m = Model::default();
    let tasks = (1..=6)
        .map(|i| at_line(i, 64, 10 + (i % 2) as u32))
        .collect();
    let created = (1..=6).map(|i| (i, stats(SEC))).collect();
    m.apply_update(&update(SEC, true, tasks, created));
    for at in [SEC, 2 * SEC, SEC, 3 * SEC] {
        m.apply_rss(RssSample {
            at,
            rss_bytes: 1 << 20,
            ..Default::default()
        });
    }
    let times: Vec<_> = m.series().samples().map(|s| s.at).collect();
    assert_eq!(times, [SEC, 2 * SEC, 3 * SEC], "the late sample is ignored");
    assert_eq!(
        m.location_series().times().copied().collect::<Vec<_>>(),
        times
    );
    let tracked = m.location_series().tracked();
    assert_eq!(tracked.len(), 2);
    assert!(tracked.iter().all(|h| h.last().live_tasks == 3));
    assert_eq!(
        m.series().last().map(|s| s.cell_bytes),
        Some(6 * cost::task_bytes(Some(64), false))
    );
}
