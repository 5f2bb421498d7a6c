//! `asyncmem top`: the live terminal UI, optionally recording the session too.

use std::time::Instant;

use super::{
    attach, finish_recording, need_terminal, new_app, run_tui, start_log, start_recording,
};
use crate::cli::TopArgs;
use crate::error::Failure;
use crate::model::Model;
use crate::session;
use crate::signal;
use crate::ui::app::RecordingStatus;
use crate::ui::Controls;

pub async fn run(args: TopArgs) -> Result<(), Failure> {
    need_terminal("top")?;
    start_log(args.log.as_deref())?;
    let layout = super::load_layout(args.layout.as_deref())?;
    // Attach before taking the terminal, so that errors print plainly.
    let start = session::start_with(&args.target, &args.connect, &args.demo_args, true);
    let mut session = attach(start, signal::first(signal::INTERRUPT)).await?;
    let recorder = match &args.record {
        Some(path) => Some((start_recording(&mut session, path, args.overwrite)?, path)),
        None => None,
    };
    let started = Instant::now();
    let mut cfg = args.connect.model();
    cfg.retain_done = args.retain;
    let mut model = Model::new(cfg);
    model.set_pid(session.target.pid);
    let mut app = new_app(session.target.clone());
    app.lints = args.connect.lints();
    app.layout = layout;
    if let Some((recorder, path)) = &recorder {
        app.recording = Some(RecordingStatus::new(
            path.display().to_string(),
            recorder.progress(),
        ));
    }
    let controls = Controls::Console(session.control.clone());
    let ui = run_tui(&mut app, &mut model, &mut session.events, &controls).await;
    let Some((recorder, path)) = recorder else {
        return ui;
    };
    // The recording is closed however the UI ended; the UI's failure decides the exit code.
    let recorded = finish_recording(recorder, &mut session, path, started).await;
    match (ui, recorded) {
        (Ok(()), recorded) => recorded.map(|summary| eprintln!("{summary}")),
        (Err(ui), Ok(summary)) => Err(ui.then_say(summary)),
        (Err(ui), Err(recorded)) => Err(ui.then(recorded)),
    }
}
