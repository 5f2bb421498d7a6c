//! asyncmem-probe against real demo processes: asyncmem attaches to it as to console-subscriber,
//! a late watcher gets every live task (far past console-subscriber's 4 MiB first message), a
//! stalled watcher is dropped instead of growing the target, a watcher leaving mid-stream is
//! harmless, and the other RPCs (state, pause, resume, task details) answer.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::cli::*;
use crate::common::*;
use console_api::instrument::instrument_client::InstrumentClient;
use console_api::instrument::{
    InstrumentRequest, PauseRequest, ResumeRequest, StateRequest, TaskDetailsRequest, Temporality,
    Update,
};
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A client with tonic's default 4 MiB decode limit, as tokio-console's.
async fn client(target: &Target) -> InstrumentClient<tonic::transport::Channel> {
    InstrumentClient::connect(target.addr())
        .await
        .expect("connecting to the probe")
}

/// Open a `WatchUpdates` stream.
async fn watch_updates(
    c: &mut InstrumentClient<tonic::transport::Channel>,
) -> tonic::Streaming<Update> {
    c.watch_updates(InstrumentRequest {})
        .await
        .expect("WatchUpdates")
        .into_inner()
}

/// Follow `WatchUpdates` until `want` live tasks are known; returns (live, messages). The client
/// decodes at most 4 MiB per message (tonic's default, as tokio-console's): a larger message
/// fails the stream.
async fn watch_until(target: &Target, want: usize, within: Duration) -> (usize, usize) {
    let mut c = client(target).await;
    let mut stream = watch_updates(&mut c).await;
    let (mut live, mut gone) = (HashSet::new(), HashSet::new());
    let mut messages = 0;
    let deadline = tokio::time::Instant::now() + within;
    while live.len() < want {
        let u = match tokio::time::timeout_at(deadline, stream.message()).await {
            Ok(Ok(Some(u))) => u,
            Ok(other) => panic!("stream ended after {messages} messages: {other:?}"),
            Err(_) => break,
        };
        messages += 1;
        let tu = u.task_update.unwrap_or_default();
        for t in tu.new_tasks {
            let id = t.id.expect("a task id").id;
            if !gone.contains(&id) {
                live.insert(id);
            }
        }
        for (id, s) in tu.stats_update {
            if s.dropped_at.is_some() {
                live.remove(&id);
                gone.insert(id);
            }
        }
    }
    (live.len(), messages)
}

fn wait_for_live(target: &Target, want: usize) {
    let rt = runtime();
    let (live, _) = rt.block_on(watch_until(target, want, Duration::from_secs(60)));
    assert!(live >= want, "only {live} of {want} tasks appeared");
}

/// The sleepers demo under the probe with `n` tasks of 64 bytes, once a watcher sees all of them
/// and the demo's own 4.
fn sleepers_all_live(n: usize) -> Target {
    let target = start_demo(
        "sleepers",
        &[
            "-n",
            &n.to_string(),
            "-b",
            "64",
            "--instrument",
            "probe",
            "--ramp",
            "0",
        ],
    );
    wait_for_live(&target, n + 4);
    target
}

#[test]
fn asyncmem_attaches_to_a_probe_target_by_pid_and_by_addr() {
    const N: u64 = 200;
    let target = start_demo(
        "sleepers",
        &["-n", &N.to_string(), "-b", "4096", "--instrument", "probe"],
    );
    for (flag, value) in [("--pid", target.pid.to_string()), ("--addr", target.addr())] {
        let json = settled_snapshot(flag, &value, "60s");
        assert_eq!(json["pid"], target.pid);
        assert_eq!(json["instrumentation"]["name"], "asyncmem-probe", "{flag}");
        // The probe's measured cost per task is known to asyncmem (it is subtracted).
        assert!(
            json["instrumentation"]["estimated_bytes_per_task"]
                .as_u64()
                .is_some(),
            "{flag}: {}",
            json["instrumentation"]
        );
        assert!(json["live_tasks"].as_u64().unwrap() >= N + 4, "{flag}");
        let holders: Vec<&Value> = sleepers_holders(&json);
        assert!(
            holders.len() as u64 >= N,
            "{flag}: {} holders",
            holders.len()
        );
        for t in holders {
            assert!(t["size_bytes"].as_u64().unwrap() >= 4096, "{t}");
            assert_eq!(t["state"], "idle", "{t}");
            assert!(t["task_id"].as_u64().is_some(), "{t}");
            assert!(t["polls"].as_u64().unwrap() >= 1, "{t}");
        }
        let boxed = named(&json, "boxed-32k");
        assert_eq!(boxed["boxed"], true, "{boxed}");
        assert!(boxed["size_bytes"].as_u64().unwrap() >= 32 * 1024);
        let tiny = named(&json, "tiny");
        assert_eq!(tiny["boxed"], false);
        assert!(tiny["size_bytes"].as_u64().unwrap() < 1024);
        assert_eq!(tasks(&json)[0]["name"], "boxed-32k");
        assert_no_warnings(&json, flag);
    }
}

#[test]
fn a_late_watcher_gets_all_of_20k_live_tasks_in_chunks_under_4_mib() {
    const N: usize = 20_000;
    // Wait until the target has spawned them all, then attach late.
    let target = sleepers_all_live(N);
    let rt = runtime();
    let started = Instant::now();
    let (live, messages) = rt.block_on(watch_until(&target, N + 4, Duration::from_secs(30)));
    assert!(
        live >= N + 4,
        "a late watcher saw {live} of {} tasks",
        N + 4
    );
    assert!(
        messages >= 2,
        "the initial state came in {messages} message(s)"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // asyncmem itself, attached late, sees them all and warns of nothing.
    let json = settled_snapshot("--addr", &target.addr(), "60s");
    assert!(json["live_tasks"].as_u64().unwrap() >= (N + 4) as u64);
    assert_no_warnings(&json, "a late asyncmem");
}

#[test]
fn a_default_snapshot_of_a_probe_target_waits_for_the_whole_initial_state() {
    const N: usize = 20_000;
    // Many chunks of 256 KiB: the first one alone holds ~1,200 tasks.
    let target = sleepers_all_live(N);
    let out = asyncmem()
        .args(["snapshot", "--pid", &target.pid.to_string(), "-f", "json"])
        .output()
        .expect("running asyncmem");
    let json = json_of(&out);
    assert_eq!(json["complete"], true, "{}", json["incomplete_reason"]);
    assert!(
        json["live_tasks"].as_u64().unwrap() >= (N + 4) as u64,
        "a default snapshot printed {} of {} tasks",
        json["live_tasks"],
        N + 4
    );
    assert!(String::from_utf8_lossy(&out.stderr).is_empty(), "{out:?}");
}

#[test]
fn a_stalled_watcher_is_dropped_and_the_others_keep_their_updates() {
    // Bursts of short tasks: every publish tick (100 ms) has news.
    let target = start_demo(
        "spike",
        &[
            "--instrument",
            "probe",
            "--burst",
            "2000",
            "--period",
            "1s",
            "--first-after",
            "0s",
            "--ramp",
            "200ms",
            "--hold",
            "300ms",
            "--baseline",
            "100",
        ],
    );
    let rt = runtime();
    rt.block_on(async {
        let mut c = client(&target).await;
        // Open a watch and never read it while the target publishes ~80 updates.
        let mut stalled = watch_updates(&mut c).await;
        tokio::time::sleep(Duration::from_secs(8)).await;
        // Meanwhile another watcher is served as usual.
        let (live, _) = watch_until(&target, 100, Duration::from_secs(20)).await;
        assert!(live >= 100, "a healthy watcher saw {live} tasks");
        // What the stalled one holds: its few buffered messages, then the end of the stream.
        let mut buffered = 0;
        let ended = loop {
            match tokio::time::timeout(Duration::from_secs(3), stalled.message()).await {
                // Still served: it would go on for ever.
                Ok(Ok(Some(_))) if buffered >= 200 => break false,
                Ok(Ok(Some(_))) => buffered += 1,
                Ok(Ok(None)) | Ok(Err(_)) => break true,
                Err(_) => break false,
            }
        };
        assert!(
            ended,
            "the stalled watcher is still served ({buffered} messages read)"
        );
        assert!(
            buffered < 40,
            "{buffered} messages were buffered for a stalled watcher"
        );
    });
    assert!(
        target_alive(&target),
        "the target died with a stalled watcher"
    );
}

fn target_alive(target: &Target) -> bool {
    std::path::Path::new(&format!("/proc/{}", target.pid)).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", target.pid))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn watchers_leaving_mid_stream_are_harmless() {
    const N: usize = 20_000;
    let target = sleepers_all_live(N);
    let rt = runtime();
    rt.block_on(async {
        for _ in 0..5 {
            let mut c = client(&target).await;
            let mut s = watch_updates(&mut c).await;
            // One chunk of the initial state, then hang up.
            let first = s.message().await.expect("a first message");
            assert!(first.is_some());
            drop(s);
            drop(c);
        }
    });
    assert!(target_alive(&target));
    let json = settled_snapshot("--addr", &target.addr(), "60s");
    assert!(json["live_tasks"].as_u64().unwrap() >= (N + 4) as u64);
}

#[test]
fn state_pause_resume_and_task_details_answer() {
    let target = start_demo("leak", &["--instrument", "probe", "--rate", "20"]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = client(&target).await;
        let mut state = c
            .watch_state(StateRequest {})
            .await
            .expect("WatchState")
            .into_inner();
        let s = state.message().await.unwrap().unwrap();
        assert_eq!(s.temporality, Temporality::Live as i32);

        let mut updates = watch_updates(&mut c).await;
        let first = updates.message().await.unwrap().unwrap();
        let tu = first.task_update.unwrap();
        let task = tu
            .new_tasks
            .into_iter()
            .find(|t| {
                let id = t.id.unwrap().id;
                tu.stats_update
                    .get(&id)
                    .is_some_and(|s| s.dropped_at.is_none())
            })
            .expect("a live task in the first picture");

        c.pause(PauseRequest {}).await.expect("Pause");
        let s = state.message().await.unwrap().unwrap();
        assert_eq!(s.temporality, Temporality::Paused as i32);
        // Drain what was sent before the pause, then nothing comes while paused.
        while let Ok(next) =
            tokio::time::timeout(Duration::from_millis(300), updates.message()).await
        {
            assert!(matches!(next, Ok(Some(_))), "the stream ended: {next:?}");
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(600), updates.message())
                .await
                .is_err(),
            "an update arrived while paused"
        );
        c.resume(ResumeRequest {}).await.expect("Resume");
        let s = state.message().await.unwrap().unwrap();
        assert_eq!(s.temporality, Temporality::Live as i32);
        // Paused changes come now, new tasks among them (leak spawns 20 per second).
        let u = tokio::time::timeout(Duration::from_secs(2), updates.message())
            .await
            .expect("an update after resuming")
            .unwrap()
            .unwrap();
        assert!(!u.task_update.unwrap().new_tasks.is_empty());

        let mut details = c
            .watch_task_details(TaskDetailsRequest { id: task.id })
            .await
            .expect("WatchTaskDetails")
            .into_inner();
        let d = details.message().await.unwrap().unwrap();
        assert_eq!(d.task_id, task.id);
        let Some(console_api::tasks::task_details::PollTimesHistogram::Histogram(h)) =
            d.poll_times_histogram
        else {
            panic!("no poll-times histogram: {:?}", d.poll_times_histogram);
        };
        let mut deser = hdrhistogram::serialization::Deserializer::new();
        let hist: hdrhistogram::Histogram<u64> = deser
            .deserialize(&mut &h.raw_histogram[..])
            .expect("a V2 HdrHistogram");
        assert_eq!(hist.high(), h.max_value);

        let missing = c
            .watch_task_details(TaskDetailsRequest {
                id: Some(console_api::Id { id: u64::MAX }),
            })
            .await
            .expect_err("details of a task that does not exist");
        assert_eq!(missing.code(), tonic::Code::NotFound);
    });
}
