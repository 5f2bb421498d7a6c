//! Whole-app rendering tests: a scripted model (synthetic console updates, RSS samples, keys)
//! drawn into ratatui's `TestBackend` at several sizes, compared with insta snapshots.

use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use tokio::sync::mpsc;

use super::*;
use crate::model::synth::*;
use crate::model::{Event, Model, RssSample};
use crate::output::TargetInfo;

fn target() -> TargetInfo {
    TargetInfo {
        pid: Some(4242),
        endpoint: "http://127.0.0.1:6669".into(),
    }
}

fn located(mut t: PTask, file: &str, line: u32) -> PTask {
    if let Some(l) = t.location.as_mut() {
        l.file = Some(file.into());
        l.line = Some(line);
    }
    t
}

/// A model of a small service: named tasks of several sizes, idle holders, one running, one
/// scheduled, one done, and a minute of RSS rising with the task count.
fn scripted_model() -> Model {
    let mut m = Model::default();
    m.on_connected(Some(4242));
    let mut tasks = vec![
        located(
            ptask(1, 1, 8, Some(32_768), "\"boxed-32k\""),
            "src/server.rs",
            40,
        ),
        located(
            ptask(2, 2, 16_640, None, "\"acceptor\""),
            "src/server.rs",
            12,
        ),
        located(ptask(3, 3, 1_200, None, "\"metrics\""), "src/metrics.rs", 7),
    ];
    let mut stats_list = vec![];
    for i in 10..40u64 {
        tasks.push(located(ptask(i, i, 2_304, None, ""), "src/conn.rs", 88));
    }
    for t in &tasks {
        let id = t.id.as_ref().map(|i| i.id).unwrap_or(0);
        let mut s = stats(SEC);
        s.poll_stats = Some(console_api::PollStats {
            polls: id % 7 + 1,
            first_poll: stamp(SEC + 1_000),
            last_poll_started: stamp(SEC + 2_000 + id as i64),
            last_poll_ended: stamp(SEC + 30_000 + id as i64),
            busy_time: Some(prost_types::Duration {
                seconds: 0,
                nanos: (id * 1_500) as i32,
            }),
        });
        s.wakes = id % 5;
        s.waker_clones = 1;
        match id {
            2 => {
                // running: a poll started after the last one ended
                if let Some(p) = s.poll_stats.as_mut() {
                    p.last_poll_started = stamp(59 * SEC);
                }
            }
            3 => s.last_wake = stamp(59 * SEC),   // scheduled
            39 => s.dropped_at = stamp(58 * SEC), // done, still retained
            _ => {}
        }
        stats_list.push((id, s));
    }
    // The named tasks first, then one connection every two seconds while RSS grows.
    let conns = tasks.split_off(3);
    m.apply_update(&update(SEC, true, tasks, vec![]));
    let mut conns = conns.into_iter();
    for step in 0..=60 {
        if step % 2 == 0 {
            if let Some(t) = conns.next() {
                m.apply_update(&update(step * SEC, false, vec![t], vec![]));
            }
        }
        m.apply_rss(RssSample {
            at: step * SEC,
            rss_bytes: (20 + step as u64 / 2) * 1024 * 1024,
            anon_rss_bytes: (12 + step as u64 / 2) * 1024 * 1024,
            threads: 4,
        });
    }
    m.apply_update(&update(60 * SEC, false, vec![], stats_list));
    m
}

fn render(app: &mut App, model: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| super::render(f, app, model)).unwrap();
    terminal
}

fn key(app: &mut App, model: &mut Model, code: KeyCode) {
    app.on_key(model, KeyEvent::new(code, KeyModifiers::NONE));
}

/// The help popup (`?`), then the warnings popup (`w`), each compared with its snapshot
/// (`help{suffix}`, `warnings{suffix}`) at `size`.
fn help_and_warnings(app: &mut App, model: &mut Model, (w, h): (u16, u16), suffix: &str) {
    key(app, model, KeyCode::Char('?'));
    insta::assert_snapshot!(format!("help{suffix}"), render(app, model, w, h).backend());
    key(app, model, KeyCode::Esc);
    key(app, model, KeyCode::Char('w'));
    insta::assert_snapshot!(
        format!("warnings{suffix}"),
        render(app, model, w, h).backend()
    );
}

fn typed(app: &mut App, model: &mut Model, text: &str) {
    for c in text.chars() {
        key(app, model, KeyCode::Char(c));
    }
}

#[test]
fn overview_wide() {
    let model = scripted_model();
    let mut app = App::new(target(), false);
    insta::assert_snapshot!(render(&mut app, &model, 140, 40).backend());
}

#[test]
fn overview_classic_80x24() {
    let model = scripted_model();
    let mut app = App::new(target(), false);
    insta::assert_snapshot!(render(&mut app, &model, 80, 24).backend());
}

#[test]
fn tiny_terminals_never_panic() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    for (w, h) in [
        (1, 1),
        (2, 1),
        (1, 5),
        (10, 3),
        (19, 4),
        (20, 4),
        (25, 6),
        (40, 10),
    ] {
        render(&mut app, &model, w, h);
        key(&mut app, &mut model, KeyCode::Enter);
        render(&mut app, &model, w, h);
        key(&mut app, &mut model, KeyCode::Char('?'));
        render(&mut app, &model, w, h);
        key(&mut app, &mut model, KeyCode::Esc);
        key(&mut app, &mut model, KeyCode::Esc);
    }
    insta::assert_snapshot!(render(&mut app, &model, 30, 8).backend());
}

#[test]
fn sort_by_name_ascending() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    // Size -> State -> Name: two steps left, then invert to ascending.
    key(&mut app, &mut model, KeyCode::Left);
    key(&mut app, &mut model, KeyCode::Left);
    key(&mut app, &mut model, KeyCode::Char('i'));
    assert_eq!(app.sort, crate::present::Column::Name);
    insta::assert_snapshot!(render(&mut app, &model, 100, 16).backend());
}

#[test]
fn filter_and_details_with_histograms() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    key(&mut app, &mut model, KeyCode::Char('/'));
    typed(&mut app, &mut model, "size>2k");
    key(&mut app, &mut model, KeyCode::Enter);
    assert!(!app.editing_filter);
    // boxed-32k, acceptor, and the 30 conn tasks of 2.25 KiB
    assert_eq!(app.index.len(), 32);
    let filtered = render(&mut app, &model, 100, 14);
    key(&mut app, &mut model, KeyCode::Enter);
    assert_eq!(app.outbox, vec![super::Request::WatchDetails(1)]);
    model.apply(details_of(1));
    insta::assert_snapshot!("filtered", filtered.backend());
    insta::assert_snapshot!("details", render(&mut app, &model, 120, 36).backend());
    key(&mut app, &mut model, KeyCode::Esc);
    assert_eq!(app.mode, app::Mode::Tasks);
    assert!(model.details().is_none());
}

/// The details of console id `id`: the same four-sample histogram for poll and scheduled
/// times.
fn details_of(id: u64) -> Event {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
    for v in [20_000u64, 25_000, 30_000, 900_000] {
        h.record(v).unwrap();
    }
    let mut raw = Vec::new();
    V2Serializer::new().serialize(&h, &mut raw).unwrap();
    let hist = console_api::tasks::DurationHistogram {
        raw_histogram: raw,
        max_value: 900_000,
        high_outliers: 0,
        highest_outlier: None,
    };
    Event::Details(Box::new(console_api::tasks::TaskDetails {
        task_id: Some(console_api::Id { id }),
        now: stamp(60 * SEC),
        poll_times_histogram: Some(
            console_api::tasks::task_details::PollTimesHistogram::Histogram(hist.clone()),
        ),
        scheduled_times_histogram: Some(hist),
    }))
}

#[test]
fn selection_follows_its_task_across_updates() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    render(&mut app, &model, 100, 20);
    key(&mut app, &mut model, KeyCode::Down); // acceptor, second by size
    let uid = app.selected_uid.unwrap();
    assert_eq!(
        model
            .task_by_uid(uid)
            .map(|t| model.resolve(t.name).to_string())
            .as_deref(),
        Some("acceptor")
    );
    // A bigger task arrives: acceptor moves down a row, the selection goes with it.
    model.apply_update(&update(
        61 * SEC,
        false,
        vec![ptask(99, 99, 50_000, None, "\"huge\"")],
        vec![],
    ));
    app.index = Default::default();
    render(&mut app, &model, 100, 20);
    assert_eq!(app.selected_row, 2);
    let slot = app.selected_slot().unwrap();
    assert_eq!(model.slot(slot).unwrap().uid, uid);
}

#[test]
fn help_warnings_and_pause() {
    let mut model = scripted_model();
    // stats for an id never announced: a warning
    model.apply_update(&update(61 * SEC, false, vec![], vec![(777, stats(SEC))]));
    let mut app = App::new(target(), false);
    help_and_warnings(&mut app, &mut model, (100, 30), "");
    key(&mut app, &mut model, KeyCode::Esc);
    key(&mut app, &mut model, KeyCode::Char(' '));
    assert!(app.frozen);
    // while frozen, events wait and the view does not change
    let before = model.counts();
    app.on_event(
        &mut model,
        Event::Update(Box::new(update(
            62 * SEC,
            false,
            vec![ptask(500, 500, 1, None, "")],
            vec![],
        ))),
    );
    assert_eq!(model.counts(), before);
    let paused = render(&mut app, &model, 100, 6);
    insta::assert_snapshot!("paused", paused.backend());
    key(&mut app, &mut model, KeyCode::Char(' '));
    assert_eq!(model.counts().live(), before.live() + 1);
    assert_eq!(
        app.outbox,
        vec![super::Request::PauseTarget, super::Request::ResumeTarget]
    );
}

#[test]
fn no_color_means_no_colors() {
    let model = scripted_model();
    let mut app = App::new(target(), false);
    let t = render(&mut app, &model, 100, 30);
    for cell in t.backend().buffer().content() {
        assert_eq!(
            cell.fg,
            ratatui::style::Color::Reset,
            "colour in NO_COLOR mode at {cell:?}"
        );
    }
    let mut coloured = App::new(target(), true);
    let t = render(&mut coloured, &model, 100, 30);
    assert!(t
        .backend()
        .buffer()
        .content()
        .iter()
        .any(|c| c.fg != ratatui::style::Color::Reset));
}

#[tokio::test]
async fn the_run_loop_applies_events_and_quits_on_q() {
    let mut model = Model::default();
    let mut app = App::new(target(), false);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let (ctl_tx, _ctl_rx) = mpsc::channel(16);
    let ctl_tx = super::Controls::Console(ctl_tx);
    tx.send(Event::Connected { pid: Some(4242) }).await.unwrap();
    tx.send(Event::Update(Box::new(update(
        SEC,
        true,
        vec![ptask(1, 1, 4096, None, "\"solo\"")],
        vec![(1, stats(SEC))],
    ))))
    .await
    .unwrap();
    // Keys arrive after the events have had time to land.
    let keys = futures_util::stream::unfold(0, |n| async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let code = [KeyCode::Char('j'), KeyCode::Char('q')].get(n)?;
        Some((
            Ok(TermEvent::Key(KeyEvent::new(*code, KeyModifiers::NONE))),
            n + 1,
        ))
    });
    let exit = run(
        &mut terminal,
        &mut app,
        &mut model,
        &mut rx,
        &ctl_tx,
        Box::pin(keys),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(exit, Exit::Quit);
    assert_eq!(model.counts().live(), 1);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("solo") && screen.contains("4.0 KiB"),
        "{screen}"
    );
}

#[test]
fn locations_view_groups_and_drills_down() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    key(&mut app, &mut model, KeyCode::Char('g'));
    assert_eq!(app.mode, app::Mode::Locations);
    // By summed future size: the 30 connections (2.25 KiB each) weigh most.
    assert_eq!(
        model.resolve(app.locations.rows[0].location),
        "src/conn.rs:88:5"
    );
    assert_eq!(app.locations.rows[0].tasks, 30);
    insta::assert_snapshot!("locations", render(&mut app, &model, 120, 30).backend());
    key(&mut app, &mut model, KeyCode::Enter);
    assert_eq!(app.mode, app::Mode::Tasks);
    assert_eq!(app.filter, "loc:src/conn.rs:88:5");
    render(&mut app, &model, 120, 30);
    assert_eq!(app.index.len(), 30);
}

#[test]
fn replay_header_and_keys() {
    use super::Request;
    use crate::source::replay::Control;
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    // Live: the replay keys do nothing.
    key(&mut app, &mut model, KeyCode::Char(']'));
    assert!(app.outbox.is_empty());
    let mut model = replayed(model);
    insta::assert_snapshot!("replay", render(&mut app, &model, 140, 12).backend());
    for c in [' ', ']', '{', '0', '.', '>', '<'] {
        key(&mut app, &mut model, KeyCode::Char(c));
    }
    assert!(!app.frozen, "a replay pauses its player, not the view");
    assert_eq!(
        app.outbox,
        [
            Control::Pause,
            Control::Seek(10 * SEC),
            Control::Seek(-60 * SEC),
            Control::SeekStart,
            Control::Step,
            Control::Faster,
            Control::Slower,
        ]
        .map(Request::Replay)
        .to_vec()
    );
    // Rewind: everything goes, the position stays, and views see a new generation.
    let generation = model.generation();
    model.apply(Event::Rewind);
    assert_eq!(model.counts().live(), 0);
    assert!(model.playback().is_some());
    assert!(model.generation() > generation);
}

#[test]
fn space_follows_the_pause_state_the_target_reports() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    // Another watcher paused the target: this one shows it, and one Space resumes it.
    app.on_event(&mut model, Event::Paused(true));
    let screen = render(&mut app, &model, 120, 8).backend().to_string();
    assert!(screen.contains("PAUSED (space resumes)"), "{screen}");
    key(&mut app, &mut model, KeyCode::Char(' '));
    assert_eq!(app.outbox, vec![super::Request::ResumeTarget]);
    assert!(!app.frozen && !app.paused_target);
    app.on_event(&mut model, Event::Paused(false));
    // Now live: Space pauses (and freezes the view); what the target says is taken while
    // frozen, so the next Space resumes even after its report.
    app.outbox.clear();
    key(&mut app, &mut model, KeyCode::Char(' '));
    assert!(app.frozen && app.paused_target);
    app.on_event(&mut model, Event::Paused(true));
    assert!(
        model.paused(),
        "a pause report is not held back by the frozen view"
    );
    key(&mut app, &mut model, KeyCode::Char(' '));
    assert_eq!(
        app.outbox,
        vec![super::Request::PauseTarget, super::Request::ResumeTarget]
    );
    assert!(!app.frozen && !app.paused_target);
}

#[test]
fn each_source_gets_only_its_own_requests() {
    use super::{Controls, Request};
    use crate::source::{console, replay};
    let all = [
        Request::WatchDetails(7),
        Request::StopDetails,
        Request::PauseTarget,
        Request::ResumeTarget,
        Request::Replay(replay::Control::Step),
        Request::Replay(replay::Control::Play),
    ];
    let (tx, mut live) = mpsc::channel(16);
    let controls = Controls::Console(tx);
    all.iter().for_each(|r| controls.send(*r));
    let mut got = Vec::new();
    while let Ok(c) = live.try_recv() {
        got.push(format!("{c:?}"));
    }
    assert_eq!(
        got,
        ["WatchDetails(7)", "StopDetails", "Pause", "Resume(None)"]
    );
    assert!(matches!(
        console::Control::Resume(None),
        console::Control::Resume(_)
    ));
    let (tx, mut played) = mpsc::channel(16);
    let controls = Controls::Replay(tx);
    all.iter().for_each(|r| controls.send(*r));
    let mut got = Vec::new();
    while let Ok(c) = played.try_recv() {
        got.push(c);
    }
    assert_eq!(got, [replay::Control::Step, replay::Control::Play]);
}

#[test]
fn a_replay_asks_its_player_and_never_the_console() {
    let mut model = scripted_model();
    model.apply(Event::Playback(crate::model::Playback {
        position: 0,
        length: 10 * SEC,
        speed: 1.0,
        playing: true,
        problem: None,
    }));
    let mut app = App::new(target(), false);
    key(&mut app, &mut model, KeyCode::Enter);
    key(&mut app, &mut model, KeyCode::Esc);
    key(&mut app, &mut model, KeyCode::Char(' '));
    assert_eq!(
        app.outbox,
        vec![super::Request::Replay(
            crate::source::replay::Control::Pause
        )]
    );
    assert!(!app.paused_target);
}

#[test]
fn the_header_shows_a_running_recording_and_its_failure() {
    use crate::recording::Progress;
    let model = scripted_model();
    let mut app = App::new(target(), false);
    let (report, progress) = tokio::sync::watch::channel(Progress {
        frames: 3,
        bytes: 5 * 1024,
        error: None,
    });
    app.recording = Some(super::app::RecordingStatus::new(
        "/tmp/x.amrec".into(),
        progress,
    ));
    let screen = render(&mut app, &model, 140, 8).backend().to_string();
    assert!(screen.contains("● rec /tmp/x.amrec 5.0 KiB"), "{screen}");
    assert!(!app.recording.as_mut().unwrap().failed_since_drawn());
    report.send_modify(|p| p.error = Some("No space left on device (os error 28)".into()));
    assert!(app.recording.as_mut().unwrap().failed_since_drawn());
    assert!(!app.recording.as_mut().unwrap().failed_since_drawn());
    let screen = render(&mut app, &model, 140, 8).backend().to_string();
    assert!(
        screen.contains("✖ recording stopped (No space left on device (os error 28))"),
        "{screen}"
    );
}

#[test]
fn the_header_says_when_the_picture_is_incomplete() {
    let mut model = Model::default();
    model.on_connected(Some(4242));
    let mut app = App::new(target(), false);
    // One console-subscriber update: whether tasks are still being announced shows only later.
    model.apply(Event::Update(Box::new(update(
        SEC,
        true,
        vec![ptask(1, 1, 64, None, "")],
        vec![(1, stats(SEC))],
    ))));
    let screen = render(&mut app, &model, 200, 8).backend().to_string();
    assert!(
        screen.contains("◌ incomplete: one update so far"),
        "{screen}"
    );
    // The scripted service's picture is complete: nothing is said.
    let model = scripted_model();
    let screen = render(&mut app, &model, 200, 8).backend().to_string();
    assert!(!screen.contains("incomplete"), "{screen}");
}

/// A replay of the scripted service, cut short (the header says so).
fn replayed(mut model: Model) -> Model {
    model.apply(Event::Playback(crate::model::Playback {
        position: 83 * SEC,
        length: 3723 * SEC,
        speed: 0.25,
        playing: true,
        problem: Some(
            "the recording is cut at byte 4242, inside a frame; replay stops there".into(),
        ),
    }));
    model
}

/// A target without a console endpoint: a minute of RSS only.
fn rss_only() -> Model {
    let mut m = Model::default();
    m.apply(Event::NoConsole);
    for step in 0..=60 {
        m.apply_rss(RssSample {
            at: step * SEC,
            rss_bytes: (20 + step as u64 / 2) * 1024 * 1024,
            anon_rss_bytes: (12 + step as u64 / 2) * 1024 * 1024,
            threads: 4,
        });
    }
    m
}

/// The words of the header, in order, as drawn at `w` x `h` (in the rows the layout gives it).
fn header_words(app: &mut App, model: &Model, w: u16, h: u16) -> Vec<String> {
    let t = render(app, model, w, h);
    let rect = ratatui::layout::Rect::new(0, 0, w, h);
    let header = super::view::areas(rect, app, model).unwrap().header;
    let buf = t.backend().buffer();
    (header.y..header.bottom())
        .flat_map(|y| {
            let row: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
            row.split_whitespace().map(String::from).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn at_80_columns_the_header_wraps_and_loses_no_word() {
    let mut warned = scripted_model();
    warned.apply_update(&update(61 * SEC, false, vec![], vec![(777, stats(SEC))]));
    for (what, model) in [
        ("live", warned),
        ("replay", replayed(scripted_model())),
        ("rss-only", rss_only()),
    ] {
        let mut app = App::new(target(), false);
        // So wide that no line wraps: every word of every line.
        let all = header_words(&mut app, &model, 1000, 60);
        let narrow = header_words(&mut app, &model, 80, 24);
        assert_eq!(narrow, all, "{what}: the header at 80 columns");
        // It took more rows than lines, from the layout (not a fixed height).
        let rect = ratatui::layout::Rect::new(0, 0, 80, 24);
        let rows = super::view::areas(rect, &app, &model)
            .unwrap()
            .header
            .height;
        let lines = if what == "rss-only" { 6 } else { 5 };
        assert!(rows > lines, "{what}: {rows} rows");
    }
    let model = scripted_model();
    let mut app = App::new(target(), false);
    let words = header_words(&mut app, &model, 80, 24).join(" ");
    assert!(
        words.contains("console-subscriber (~50.9 KiB/task)"),
        "{words}"
    );
    assert!(words.contains("+ other 973 KiB"), "{words}");
}

#[test]
fn at_80x24_the_sorted_column_stays_and_the_table_says_what_it_hides() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    // The busy lesson sorts by Wakes: Size -> Polls -> Busy -> Sched -> Idle -> Wakes.
    for _ in 0..5 {
        key(&mut app, &mut model, KeyCode::Right);
    }
    assert_eq!(app.sort, crate::present::Column::Wakes);
    let t = render(&mut app, &model, 80, 24);
    let screen = t.backend().to_string();
    assert!(screen.contains("Wakes▼"), "{screen}");
    // What it hid to keep Wakes, and how to see it.
    assert!(screen.contains("Location +5 cols: ←→"), "{screen}");
    insta::assert_snapshot!("tasks_by_wakes_80x24", t.backend());
}

#[test]
fn at_80x24_the_locations_view_keeps_its_location() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    key(&mut app, &mut model, KeyCode::Char('g'));
    let t = render(&mut app, &model, 80, 24);
    let screen = t.backend().to_string();
    for loc in [
        "src/conn.rs:88:5",
        "src/server.rs:40:5",
        "src/server.rs:12:5",
    ] {
        assert!(screen.contains(loc), "{loc} missing:\n{screen}");
    }
    assert!(screen.contains("Sum▼"), "{screen}");
    insta::assert_snapshot!("locations_80x24", t.backend());
}

#[test]
fn each_view_at_80x24() {
    let mut model = scripted_model();
    model.apply_update(&update(61 * SEC, false, vec![], vec![(777, stats(SEC))]));
    let mut app = App::new(target(), false);
    render(&mut app, &model, 80, 24);
    key(&mut app, &mut model, KeyCode::Enter);
    model.apply(details_of(1));
    insta::assert_snapshot!("details_80x24", render(&mut app, &model, 80, 24).backend());
    key(&mut app, &mut model, KeyCode::Esc);
    help_and_warnings(&mut app, &mut model, (80, 24), "_80x24");
    let model = replayed(scripted_model());
    let mut app = App::new(target(), false);
    insta::assert_snapshot!("replay_80x24", render(&mut app, &model, 80, 24).backend());
    let model = rss_only();
    let mut app = App::new(target(), false);
    insta::assert_snapshot!("rss_only_80x24", render(&mut app, &model, 80, 24).backend());
}

/// A layout for [`scripted_model`]: the acceptor's future (16,640 B) is one spawned type with
/// a 16 KiB buffer held across its await and an awaitee two levels deep; the connections'
/// size (2,304 B) is shared by two types, so those match ambiguously.
fn scripted_layout() -> crate::layout::model::Layout {
    use crate::layout::model::*;
    let field = |kind, name: &str, size, ty: Option<&str>, future| Field {
        kind,
        name: name.into(),
        size,
        offset: None,
        align: None,
        ty: ty.map(str::to_string),
        future,
        boxed: false,
    };
    let state = |name: &str, size, fields, at: Option<(u32, &str)>| State {
        name: name.into(),
        size,
        fields,
        await_point: at.map(|(line, text)| AwaitPoint::Mapped {
            file: "src/server.rs".into(),
            line,
            col: 31,
            text: text.into(),
        }),
    };
    let future = |name: &str, path: &str, size, states| Future {
        name: name.into(),
        kind: FutureKind::AsyncFn,
        origin: Origin::Path { path: path.into() },
        crate_name: "server".into(),
        size,
        align: 8,
        discriminant: 1,
        end_padding: 0,
        states,
    };
    let spawn = |ty: &str, size, future| Spawn {
        ty: ty.into(),
        size,
        future,
        boxed_by_tokio: false,
        cells: vec![Cell {
            scheduler: "Arc<multi_thread::Handle>".into(),
            size: (size + 88).div_ceil(128) * 128,
            header: 40,
            core: size + 24,
            trailer: 48,
            end_padding: 0,
        }],
    };
    Layout {
        schema: SCHEMA,
        toolchain: "rustc 1.95.0".into(),
        futures: vec![
            future(
                "{async fn body of accept()}",
                "accept",
                16_640,
                vec![
                    state(
                        "Unresumed",
                        16,
                        vec![field(FieldKind::Upvar, "addr", 16, None, None)],
                        None,
                    ),
                    state(
                        "Suspend0",
                        16_632,
                        vec![
                            field(FieldKind::Upvar, "addr", 16, None, None),
                            field(FieldKind::Local, "buf", 16_384, None, None),
                            field(
                                FieldKind::Local,
                                "__awaitee",
                                232,
                                Some("{async fn body of read_frame()}"),
                                Some(1),
                            ),
                        ],
                        Some((20, "let n = read_frame(&mut sock).await?;")),
                    ),
                ],
            ),
            future(
                "{async fn body of read_frame()}",
                "read_frame",
                232,
                vec![state(
                    "Suspend0",
                    224,
                    vec![field(
                        FieldKind::Local,
                        "__awaitee",
                        224,
                        Some("Sleep"),
                        None,
                    )],
                    Some((31, "sleep(backoff).await;")),
                )],
            ),
        ],
        spawns: vec![
            spawn("{async fn body of accept()}", 16_640, Some(0)),
            spawn("{async fn body of conn::serve()}", 2_304, None),
            spawn("{async block@src/conn.rs:200:9: 200:19}", 2_304, None),
        ],
        ..Default::default()
    }
}

/// An app with `--layout` given: [`scripted_layout`].
fn app_with_layout() -> App {
    let mut app = App::new(target(), false);
    app.layout = Some(std::sync::Arc::new(
        crate::insight::layout::LayoutJoin::new(scripted_layout()),
    ));
    app
}

#[test]
fn details_with_a_layout_explain_the_future() {
    let mut model = scripted_model();
    let mut app = app_with_layout();
    render(&mut app, &model, 120, 36);
    key(&mut app, &mut model, KeyCode::Down); // acceptor, 16,640 B
    key(&mut app, &mut model, KeyCode::Enter);
    let t = render(&mut app, &model, 120, 36);
    let screen = format!("{:?}", t.backend());
    assert!(
        screen.contains("Suspend0 16.2 KiB, the largest, at src/server.rs:20:31"),
        "{screen}"
    );
    assert!(screen.contains("buf 16.0 KiB (local)"), "{screen}");
    assert!(screen.contains("read_frame"), "{screen}");
    insta::assert_snapshot!("details_layout", t.backend());
    // t: the whole tree, in a view of its own; → unfolds a folded state, ← folds it, Esc
    // goes back to the details.
    key(&mut app, &mut model, KeyCode::Char('t'));
    let tree = |app: &mut App, model: &Model| {
        let t = render(app, model, 120, 36);
        format!("{:?}", t.backend())
    };
    let screen = tree(&mut app, &model);
    assert!(screen.contains("future layout"), "{screen}");
    assert!(
        screen.contains("▾ {async fn body of accept()} 16.2 KiB"),
        "{screen}"
    );
    assert!(screen.contains("▸ Unresumed"), "{screen}");
    let rows = app.future.rows(app.layout.as_deref());
    let unresumed = rows
        .iter()
        .position(|r| r.text.starts_with("Unresumed"))
        .unwrap();
    for _ in 0..unresumed {
        key(&mut app, &mut model, KeyCode::Down);
    }
    key(&mut app, &mut model, KeyCode::Right);
    let screen = tree(&mut app, &model);
    assert!(screen.contains("▾ Unresumed"), "{screen}");
    let opened = app.future.rows(app.layout.as_deref()).len();
    assert!(opened > rows.len(), "{screen}");
    insta::assert_snapshot!("future_layout_unfolded", {
        let t = render(&mut app, &model, 120, 36);
        t.backend().clone()
    });
    key(&mut app, &mut model, KeyCode::Left);
    assert_eq!(app.future.rows(app.layout.as_deref()).len(), rows.len());
    // ← on a closed row steps to its parent (the root).
    key(&mut app, &mut model, KeyCode::Left);
    assert_eq!(app.future.selected, 0);
    key(&mut app, &mut model, KeyCode::Esc);
    assert_eq!(app.mode, super::app::Mode::Details);
    key(&mut app, &mut model, KeyCode::Esc);
    // A connection: its size is shared by two spawned types; said so, with both.
    key(&mut app, &mut model, KeyCode::Down);
    key(&mut app, &mut model, KeyCode::Enter);
    let t = render(&mut app, &model, 120, 36);
    let screen = format!("{:?}", t.backend());
    assert!(screen.contains("ambiguous, 2 types"), "{screen}");
    // At 80x24 the explanation takes at most half of the right pane; the histograms stay.
    let t = render(&mut app, &model, 80, 24);
    assert!(format!("{:?}", t.backend()).contains("poll times"));
}

/// A task stuck in one poll gets `Y` in the TUI as in `snapshot`: the lint depends on the
/// clock, so it is recounted every second while a task runs, even when the updates change
/// nothing else (they used to wait up to 3 s, and a blocker whose polls last ~3 s was missed).
#[test]
fn a_task_stuck_in_its_poll_gets_never_yielded() {
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    render(&mut app, &model, 160, 30);
    // The acceptor (id 2) has been running since 59 s; an update at 61 s changes nothing.
    let generation = model.generation();
    model.apply_update(&update(61 * SEC, false, vec![], vec![]));
    assert_eq!(model.generation(), generation);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let t = render(&mut app, &model, 160, 30);
    let screen = format!("{:?}", t.backend());
    assert_eq!(
        app.lint_counts.of(crate::insight::Lint::NeverYielded),
        1,
        "{screen}"
    );
}

/// With a layout, the locations view gets each location's largest state, its await line and
/// the biggest field held there; a location whose tasks match no future exactly says why in
/// a word. Without one, those columns are not shown, nor reachable by the sort keys.
#[test]
fn locations_with_a_layout_show_the_largest_state_and_what_it_holds() {
    use super::app::LocColumn;
    let mut model = scripted_model();
    let mut app = app_with_layout();
    render(&mut app, &model, 160, 36);
    key(&mut app, &mut model, KeyCode::Char('g'));
    let t = render(&mut app, &model, 160, 36);
    let screen = format!("{:?}", t.backend());
    assert!(screen.contains("Largest state"), "{screen}");
    assert!(
        screen.contains("Suspend0 16.2 KiB @ server.rs:20"),
        "{screen}"
    );
    assert!(screen.contains("buf 16.0 KiB"), "{screen}");
    assert!(screen.contains("ambiguous"), "{screen}");
    insta::assert_snapshot!("locations_layout", t.backend());
    // Sorting steps through the layout's columns too.
    let mut seen = vec![];
    for _ in 0..LocColumn::ALL.len() {
        key(&mut app, &mut model, KeyCode::Right);
        seen.push(app.locations.sort);
    }
    assert!(seen.contains(&LocColumn::State) && seen.contains(&LocColumn::Holds));
    // Without a layout: neither shown nor sorted by.
    let mut app = App::new(target(), false);
    render(&mut app, &model, 160, 36);
    key(&mut app, &mut model, KeyCode::Char('g'));
    let screen = format!("{:?}", render(&mut app, &model, 160, 36).backend());
    assert!(!screen.contains("Largest state"), "{screen}");
    for _ in 0..LocColumn::ALL.len() {
        key(&mut app, &mut model, KeyCode::Right);
        assert!(!app.locations.sort.needs_layout());
    }
}

/// `d` asks first (any key but y cancels and sends nothing); `y` asks the source for a dump and
/// shows the view waiting; the dump's event fills it: the tasks grouped by the await they are
/// parked at, most first; `Enter` shows a point's chain, innermost frame first.
#[test]
fn a_task_dump_is_asked_for_then_grouped_by_parked_at_point() {
    use asyncmem_probe::wire::{Backtrace, DumpSummary, Frame, TaskTrace};
    let mut model = scripted_model();
    let mut app = App::new(target(), false);
    render(&mut app, &model, 120, 36);
    key(&mut app, &mut model, KeyCode::Char('d'));
    let screen = format!("{:?}", render(&mut app, &model, 120, 36).backend());
    assert!(screen.contains("task dump?"), "{screen}");
    key(&mut app, &mut model, KeyCode::Char('n'));
    assert_eq!(app.mode, super::app::Mode::Tasks);
    assert!(!app.outbox.contains(&super::Request::TakeDump));
    key(&mut app, &mut model, KeyCode::Char('d'));
    key(&mut app, &mut model, KeyCode::Char('y'));
    assert!(app.outbox.contains(&super::Request::TakeDump));
    let screen = format!("{:?}", render(&mut app, &model, 120, 36).backend());
    assert!(screen.contains("taking a task dump"), "{screen}");
    // The dump: every live task of the picture, by its tokio id; the connections at one await,
    // the rest at another, one in tokio's leaf only.
    let frame = |function: &str, file: &str, line: u32| Frame {
        function: function.into(),
        file: file.into(),
        line,
        col: 9,
    };
    let ids: Vec<(u64, String)> = model
        .tasks()
        .filter_map(|t| {
            t.task_id
                .map(|id| (id, model.resolve(t.location).to_string()))
        })
        .collect();
    let tasks: Vec<TaskTrace> = ids
        .iter()
        .enumerate()
        .map(|(i, (id, location))| {
            let frames = if i == 0 {
                vec![frame("tokio::time::sleep::Sleep::poll_elapsed", "", 0)]
            } else if location.contains("conn.rs") {
                vec![
                    frame("tokio::net::tcp::stream::TcpStream::poll_read", "", 0),
                    frame(
                        "server::conn::read_frame::{{closure}}",
                        "/src/server/src/conn.rs",
                        120,
                    ),
                    frame(
                        "server::conn::serve::{{closure}}",
                        "/src/server/src/conn.rs",
                        90,
                    ),
                ]
            } else {
                vec![frame(
                    "server::tick::{{closure}}",
                    "/src/server/src/server.rs",
                    44,
                )]
            };
            TaskTrace {
                task_id: *id,
                backtraces: vec![Backtrace { frames }],
                cut: false,
            }
        })
        .collect();
    let n = tasks.len() as u64;
    model.apply(Event::Dump(Box::new(Ok(crate::model::TaskDump {
        summary: DumpSummary {
            pause_us: 2_300,
            resolve_us: 20_000,
            runtimes: 1,
            tasks: n,
            notes: vec![],
        },
        tasks,
        left_out: 0,
    }))));
    let t = render(&mut app, &model, 120, 36);
    let screen = format!("{:?}", t.backend());
    assert!(
        screen.contains("held the target's workers 2.3 ms"),
        "{screen}"
    );
    assert!(
        screen.contains("conn.rs:120:9 (server::conn::read_frame)"),
        "{screen}"
    );
    assert!(
        screen.contains("leaf: tokio::time::sleep::Sleep"),
        "{screen}"
    );
    assert!(screen.contains("show only tokio's leaf"), "{screen}");
    // Most tasks first: the connections' await heads the table.
    let rows = &app.parked.groups;
    assert!(rows[0].parked_at.text().contains("read_frame"), "{rows:?}");
    assert!(rows.windows(2).all(|w| w[0].tasks >= w[1].tasks));
    // → sorts by the futures' bytes: the boxed 32 KiB task's leaf before the two tasks at
    // server.rs; ← back to tasks.
    key(&mut app, &mut model, KeyCode::Right);
    let g = &app.parked.groups;
    assert!(g.windows(2).all(|w| w[0].future_bytes >= w[1].future_bytes));
    assert!(g[1].parked_at.text().contains("leaf"), "{g:?}");
    let screen = format!("{:?}", render(&mut app, &model, 120, 36).backend());
    assert!(screen.contains("Futures▼"), "{screen}");
    key(&mut app, &mut model, KeyCode::Left);
    assert!(app.parked.groups[2].parked_at.text().contains("leaf"));
    key(&mut app, &mut model, KeyCode::Enter);
    let t = render(&mut app, &model, 120, 36);
    let screen = format!("{:?}", t.backend());
    assert!(
        screen.contains("server::conn::serve::{{closure}}"),
        "{screen}"
    );
    insta::assert_snapshot!("parked_chain", t.backend());
    // Esc closes the chain, then the view.
    key(&mut app, &mut model, KeyCode::Esc);
    assert!(!app.parked.open);
    key(&mut app, &mut model, KeyCode::Esc);
    assert_eq!(app.mode, super::app::Mode::Tasks);
    // A failed dump says why.
    model.apply(Event::Dump(Box::new(Err(
        "does not serve task dumps".into()
    ))));
    key(&mut app, &mut model, KeyCode::Char('d'));
    key(&mut app, &mut model, KeyCode::Char('y'));
    let screen = format!("{:?}", render(&mut app, &model, 120, 36).backend());
    assert!(
        screen.contains("no task dump: does not serve task dumps"),
        "{screen}"
    );
}

/// A service over a minute: connections grow (one every 2 s at `src/conn.rs:88`), a pool of
/// 8 KiB workers shrinks (one ends every 5 s at `src/pool.rs:5`), two steady tasks; RSS rises
/// 256 KiB a second. `steps` are the seconds applied.
fn growing(m: &mut Model, steps: std::ops::RangeInclusive<i64>) {
    for step in steps {
        if step == 0 {
            m.on_connected(Some(4242));
            let mut tasks = vec![
                located(
                    ptask(1, 1, 16_640, None, "\"acceptor\""),
                    "src/server.rs",
                    12,
                ),
                located(ptask(2, 2, 1_200, None, "\"metrics\""), "src/metrics.rs", 7),
            ];
            tasks
                .extend((100..112).map(|i| located(ptask(i, i, 8192, None, ""), "src/pool.rs", 5)));
            let created = [1, 2]
                .into_iter()
                .chain(100..112)
                .map(|i| (i, stats(1)))
                .collect();
            m.apply_update(&update(0, true, tasks, created));
        }
        if step % 2 == 0 {
            let id = 1000 + step as u64;
            // Tokio ids follow on from the pool's (a gap would be tasks never announced).
            let tid = 15 + step as u64 / 2;
            let t = located(ptask(id, tid, 2_304, None, ""), "src/conn.rs", 88);
            m.apply_update(&update(
                step * SEC,
                false,
                vec![t],
                vec![(id, stats(step * SEC))],
            ));
        }
        if step % 5 == 0 && step > 0 {
            let id = 99 + step as u64 / 5;
            m.apply_update(&update(
                step * SEC,
                false,
                vec![],
                dropped(id..=id, 1, step * SEC),
            ));
        }
        m.apply_rss(RssSample {
            at: step * SEC,
            rss_bytes: (20 << 20) + step as u64 * (256 << 10),
            anon_rss_bytes: (12 << 20) + step as u64 * (256 << 10),
            threads: 4,
        });
    }
}

/// The row of `location` in the locations view as drawn (under the table's header).
fn row_of<'a>(screen: &'a str, location: &str) -> &'a str {
    screen
        .lines()
        .skip_while(|l| !l.starts_with("\"Tasks"))
        .find(|l| l.contains(location))
        .unwrap_or_else(|| panic!("no row for {location}:\n{screen}"))
}

#[test]
fn locations_show_their_history_sort_by_growth_and_say_what_other_holds() {
    // Three locations get a column; the fourth (by peak) is folded into "other".
    let mut model = Model::new(crate::model::ModelConfig {
        tracked_locations: 3,
        ..Default::default()
    });
    growing(&mut model, 0..=60);
    let mut app = App::new(target(), false);
    key(&mut app, &mut model, KeyCode::Char('g'));
    // By summed future size the shrinking pool (12 then 0 left... 2 of 8 KiB) is below the
    // connections; sorted by the change over the window, the growth comes first.
    for _ in 0..6 {
        key(&mut app, &mut model, KeyCode::Left);
    }
    assert_eq!(app.locations.sort, app::LocColumn::Change);
    let first = model.resolve(app.locations.rows[0].location).to_string();
    assert_eq!(first, "src/conn.rs:88:5");
    let t = render(&mut app, &model, 120, 30);
    let screen = t.backend().to_string();
    let conn = row_of(&screen, "src/conn.rs:88:5");
    // It got its column at its second task (past the single tasks' peak): +29 from there.
    assert!(conn.contains("+29") && conn.contains('█'), "{conn}");
    let pool = row_of(&screen, "src/pool.rs:5:5");
    assert!(pool.contains("-12"), "{pool}");
    // One of the two single tasks (peak 1) has no column: its row says so, it sorts last, and
    // "other" is the last row.
    let folded: Vec<&str> = ["src/server.rs:12:5", "src/metrics.rs:7:5"]
        .into_iter()
        .filter(|l| row_of(&screen, l).contains("in other"))
        .collect();
    assert_eq!(folded.len(), 1, "{screen}");
    assert!(
        row_of(&screen, "other: 1 location").starts_with("\"          █"),
        "{screen}"
    );
    // The growing location sorts before the one that shrank, the folded one last.
    let table = &screen[screen.find("\"Tasks").unwrap()..];
    let at = |s: &str| table.find(s).unwrap();
    assert!(at("src/conn.rs:88:5") < at("src/pool.rs:5:5"));
    assert!(at("src/pool.rs:5:5") < at(folded[0]));
    // The chart shows the selected location's count beside the total.
    assert!(
        screen.contains("live tasks  src/conn.rs:88:5 31"),
        "{screen}"
    );
    insta::assert_snapshot!("locations_growth", t.backend());
    // The history is over the chart window: + and - zoom it from the locations view too.
    let window = app.window;
    key(&mut app, &mut model, KeyCode::Char('+'));
    assert_eq!((app.mode, app.window), (app::Mode::Locations, window - 1));
}

#[test]
fn a_mark_shows_what_changed_since_in_the_locations_view() {
    let mut model = Model::default();
    growing(&mut model, 0..=40);
    let mut app = App::new(target(), false);
    key(&mut app, &mut model, KeyCode::Char('m'));
    let mark_at = model.now();
    growing(&mut model, 41..=60);
    key(&mut app, &mut model, KeyCode::Char('g'));
    let t = render(&mut app, &model, 140, 30);
    let screen = t.backend().to_string();
    assert!(
        screen.contains(&format!(
            "since mark {} UTC",
            super::view::time_of_day(mark_at)
        )),
        "{screen}"
    );
    // From 40 s to 60 s: 10 connections of 2.2 KiB came, 4 pool workers of 8 KiB went.
    let conn = row_of(&screen, "src/conn.rs:88:5");
    assert!(
        conn.contains("+10") && conn.contains("-0") && conn.contains("+22.5 KiB"),
        "{conn}"
    );
    let pool = row_of(&screen, "src/pool.rs:5:5");
    assert!(
        pool.contains("+0") && pool.contains("-4") && pool.contains("-32.0 KiB"),
        "{pool}"
    );
    let steady = row_of(&screen, "src/server.rs:12:5");
    assert!(
        steady.contains("+0") && steady.contains("-0") && steady.contains("0 B"),
        "{steady}"
    );
    insta::assert_snapshot!("locations_since_mark", t.backend());
    // Sorted by the bytes since the mark: the connections first, the pool last.
    while app.locations.sort != app::LocColumn::SinceBytes {
        key(&mut app, &mut model, KeyCode::Left);
    }
    assert_eq!(
        model.resolve(app.locations.rows[0].location),
        "src/conn.rs:88:5"
    );
    let last = app.locations.rows.last().map(|l| model.resolve(l.location));
    assert_eq!(last, Some("src/pool.rs:5:5"));
    // M clears the mark: its columns and the sort on them go.
    key(&mut app, &mut model, KeyCode::Char('M'));
    assert!(app.mark.is_none());
    assert_eq!(app.locations.sort, app::LocColumn::SizeSum);
    let screen = render(&mut app, &model, 140, 30).backend().to_string();
    assert!(
        !screen.contains("since mark") && !screen.contains("+Mark"),
        "{screen}"
    );
}

#[test]
fn n_in_a_replay_goes_to_a_spike_start_marks_it_and_stops_at_its_end() {
    use super::app::SpikeAt;
    use super::Request;
    use crate::model::Playback;
    use crate::source::replay::Control;
    let mut model = Model::default();
    growing(&mut model, 0..=20);
    let playback = |position: i64, playing: bool| {
        Event::Playback(Playback {
            position,
            length: 60 * SEC,
            speed: 1.0,
            playing,
            problem: None,
        })
    };
    let mut app = App::new(target(), false);
    app.on_event(&mut model, playback(20 * SEC, true));
    let found = std::sync::Arc::new(std::sync::OnceLock::new());
    app.spikes.found = Some(found.clone());
    // Still looking: n does nothing, the footer says so.
    key(&mut app, &mut model, KeyCode::Char('n'));
    assert!(app.outbox.is_empty());
    let screen = render(&mut app, &model, 140, 30).backend().to_string();
    assert!(screen.contains("spikes: reading the recording"), "{screen}");
    let spike = |from: i64, to: i64, rank: usize| SpikeAt {
        from: from * SEC,
        to: to * SEC,
        rss_change_bytes: 4 << 20,
        rss_bytes_per_second: 2.0 * (1 << 20) as f64,
        rank,
    };
    let _ = found.set(vec![spike(10, 12, 2), spike(30, 32, 1)]);
    // At 20 s the next spike ahead is the one at 30 s: pause, go to its start.
    key(&mut app, &mut model, KeyCode::Char('n'));
    assert_eq!(
        app.outbox.drain(..).collect::<Vec<_>>(),
        [Control::Pause, Control::SeekTo(30 * SEC)].map(Request::Replay)
    );
    // The player reports other positions first (frames already sent): nothing yet.
    app.on_event(&mut model, playback(21 * SEC, true));
    assert!(app.mark.is_none() && app.outbox.is_empty());
    // At the start, paused: the mark is set there, and on to the end.
    growing(&mut model, 21..=30);
    app.on_event(&mut model, playback(30 * SEC, false));
    assert_eq!(app.mark.as_ref().map(|m| m.at_ns), Some(model.now()));
    assert_eq!(
        app.outbox.drain(..).collect::<Vec<_>>(),
        [Request::Replay(Control::SeekTo(32 * SEC))]
    );
    growing(&mut model, 31..=32);
    app.on_event(&mut model, playback(32 * SEC, false));
    assert_eq!(app.spikes.current, Some(1));
    let screen = render(&mut app, &model, 140, 30).backend().to_string();
    assert!(
        screen.contains("spike 2/2 (#1 steepest): 0:30.0..0:32.0 RSS +4.0 MiB"),
        "{screen}"
    );
    assert!(screen.contains("since mark"), "{screen}");
    // N: back to the one whose end is behind.
    key(&mut app, &mut model, KeyCode::Char('N'));
    assert_eq!(
        app.outbox.drain(..).collect::<Vec<_>>(),
        [Control::Pause, Control::SeekTo(10 * SEC)].map(Request::Replay)
    );
    // Live, the keys do nothing.
    let mut live = App::new(target(), false);
    let mut model = Model::default();
    growing(&mut model, 0..=5);
    key(&mut live, &mut model, KeyCode::Char('n'));
    assert!(live.outbox.is_empty());
}

/// With heap figures (a probe target with its allocator): the Heap column, sortable, and the
/// header's heap held by live tasks; without them neither shows (the other snapshots).
#[test]
fn the_heap_column_and_header_where_the_heap_is_known() {
    let mut model = scripted_model();
    model.apply(crate::model::heap::synth_event(
        2 * SEC,
        true,
        &[(3, 65_536), (2, 200)],
        4096,
    ));
    let mut app = App::new(target(), false);
    key(&mut app, &mut model, KeyCode::Right);
    assert_eq!(app.sort, crate::present::Column::Heap);
    let t = render(&mut app, &model, 120, 30);
    let screen = t.backend().to_string();
    assert!(screen.contains("Heap▼"), "{screen}");
    assert!(screen.contains("64.0 KiB"), "{screen}");
    assert!(screen.contains("heap 64.2 KiB held by 2 tasks"), "{screen}");
    insta::assert_snapshot!("tasks_by_heap_120x30", t.backend());
    // The locations view: the heap of each location's live tasks, sum, mean and max.
    key(&mut app, &mut model, KeyCode::Char('g'));
    let t = render(&mut app, &model, 160, 30);
    let screen = t.backend().to_string();
    assert!(screen.contains("Heap mean"), "{screen}");
    insta::assert_snapshot!("locations_heap_160x30", t.backend());
}
