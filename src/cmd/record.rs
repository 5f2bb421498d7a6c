//! `asyncmem record`: everything the model is fed, to a file, until `--duration`, a signal or
//! the target's exit (each ends with a complete file and exit 0), or a write error (said at
//! once; exit 1, the frames before the error readable).

use std::time::Instant;

use super::{attach, finish_recording, start_recording};
use crate::cli::RecordArgs;
use crate::error::Failure;
use crate::model::{Event, Model};
use crate::session;
use crate::signal;

pub async fn run(args: RecordArgs) -> Result<(), Failure> {
    let start = session::start(&args.target, &args.connect, &args.demo_args);
    let mut session = attach(start, signal::first(signal::INTERRUPT)).await?;
    let recorder = start_recording(&mut session, &args.output, args.overwrite)?;
    let started = Instant::now();
    eprintln!(
        "asyncmem: recording {} (pid {}) to {}{}; Ctrl-C stops",
        crate::present::escape(&session.target.endpoint),
        session.target.pid.map_or("?".into(), |p| p.to_string()),
        args.output.display(),
        args.duration.map_or(String::new(), |d| format!(
            " for {}",
            humantime::format_duration(d)
        )),
    );
    let mut model = Model::new(args.connect.model());
    let mut shutdown = std::pin::pin!(signal::first(signal::SHUTDOWN));
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let mut progress = recorder.progress();
    let why = loop {
        tokio::select! {
            e = session.events.recv() => match e {
                Some(Event::TargetExited) | None => break "the target exited",
                Some(e) => model.apply(e),
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => break "--duration elapsed",
            sig = &mut shutdown => break sig.outcome(),
            // Err: the recorder ended with the events, said by the first branch.
            Ok(_) = progress.wait_for(|p| p.error.is_some()) => break "writing the recording failed",
        }
    };
    let c = model.counts();
    eprintln!(
        "asyncmem: stopped ({why}): {} updates, {} tasks seen ({} live at the end)",
        model.updates(),
        c.live() + c.done,
        c.live()
    );
    let summary = finish_recording(recorder, &mut session, &args.output, started).await?;
    eprintln!("{summary}");
    Ok(())
}
