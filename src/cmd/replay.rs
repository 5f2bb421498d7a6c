//! `asyncmem replay`: the terminal UI on a recording (play, pause, speed, seek).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{need_terminal, new_app, run_tui, start_log};
use crate::cli::ReplayArgs;
use crate::error::{exit, Failure};
use crate::insight;
use crate::model::{Model, ModelConfig};
use crate::output::TargetInfo;
use crate::recording::{self, Scan};
use crate::source::{replay, CHANNEL_CAPACITY};
use crate::ui::app::SpikeAt;
use crate::ui::Controls;

/// The recording's steepest RSS rises over `window` (as `snapshot --from --spikes` finds
/// them), looked for on a thread of their own while the replay starts: the list is set when
/// the whole recording has been read (into a model of its own, dropped after).
fn find_spikes(plan: &replay::Plan, window: Duration) -> Arc<OnceLock<Vec<SpikeAt>>> {
    let found = Arc::new(OnceLock::new());
    let (into, input, start) = (found.clone(), plan.input.clone(), plan.start);
    let window = crate::model::time::nanos_of(window);
    std::thread::spawn(move || {
        let whole = ModelConfig {
            series_window: crate::cli::MAX_DURATION,
            ..ModelConfig::default()
        };
        let mut model = Model::new(whole);
        if let Ok(mut reader) = input.reader() {
            // A broken tail ends the search there, as it ends the replay.
            while let Ok(Some(frame)) = reader.next_frame() {
                model.apply(frame.event);
            }
        }
        let mut list: Vec<SpikeAt> = insight::spikes(&model, window, insight::DEFAULT_SPIKES)
            .iter()
            .enumerate()
            .map(|(i, s)| SpikeAt {
                from: s.from_ns.saturating_sub(start).max(0),
                to: s.to_ns.saturating_sub(start).max(0),
                rss_change_bytes: s.rss_after_bytes as i64 - s.rss_before_bytes as i64,
                rss_bytes_per_second: s.rss_bytes_per_second,
                rank: i + 1,
            })
            .collect();
        list.sort_by_key(|s| s.from);
        let _ = into.set(list);
    });
    found
}

pub async fn run(args: ReplayArgs) -> Result<(), Failure> {
    start_log(args.log.as_deref())?;
    let layout = super::load_layout(args.layout.as_deref())?;
    // A pipe is read once, here, into memory: until its writer ends.
    let (input, scan) = tokio::task::block_in_place(|| {
        let input = replay::Input::open(&args.file)?;
        let scan = Scan::of(input.reader()?);
        Ok((input, scan))
    })
    .map_err(|e| Failure::reading_recording(&args.file, &e))?;
    // The policy `snapshot --from` follows too: a file cut mid-frame plays up to the cut (the
    // header says so); damage before the end (a checksum that does not match, a frame that
    // does not decode) means the bytes are not what asyncmem wrote: refused.
    if let recording::Tail::Broken(e) = &scan.tail {
        if !e.is_truncation() {
            return Err(Failure::reading_recording(&args.file, e));
        }
    }
    if scan.frames == 0 {
        let why = match &scan.tail {
            recording::Tail::Broken(e) => format!(": {e}"),
            _ => String::new(),
        };
        return Err(Failure::new(
            exit::BAD_RECORDING,
            format_args!("the recording {} holds no events{why}", args.file.display()),
        ));
    }
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(Failure::new(
            exit::USAGE,
            "--speed must be a positive number",
        ));
    }
    // After the file's checks: a bad recording is said as such, terminal or not.
    need_terminal("replay")?;
    let plan = replay::Plan::new(input, &scan, args.speed);
    let spikes = find_spikes(&plan, args.spike_window);
    let (tx, mut events) = mpsc::channel(CHANNEL_CAPACITY);
    let (control, control_rx) = mpsc::channel(16);
    tokio::spawn(replay::run(plan, tx, control_rx));
    let target = TargetInfo {
        pid: scan.header.pid,
        endpoint: format!("replay of {}", args.file.display()),
    };
    let cfg = ModelConfig {
        retain_done: args.retain,
        ..ModelConfig::default()
    };
    let mut model = Model::new(cfg);
    model.set_pid(scan.header.pid);
    let mut app = new_app(target);
    app.spikes.found = Some(spikes);
    app.lints.large_future_bytes = args.large_future;
    app.layout = layout;
    run_tui(
        &mut app,
        &mut model,
        &mut events,
        &Controls::Replay(control),
    )
    .await
}
