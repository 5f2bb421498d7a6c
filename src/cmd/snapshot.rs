//! `asyncmem snapshot`: attach, wait for the first full picture (or read a recording), print
//! it and exit.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::cli::{Format, SnapshotArgs};
use crate::error::{AttachError, Failure};
use crate::model::{Event, Model};
use crate::output::{self, TargetInfo};
use crate::recording;
use crate::session;
use crate::signal;

/// A freshly started `--demo` is still announcing its tasks: by default, wait until its live
/// task count has not changed for this long.
const DEMO_SETTLE: Duration = Duration::from_secs(1);

/// How often the wait loop looks whether the picture is complete.
const POLL: Duration = Duration::from_millis(50);

/// Width of the table when writing to a pipe without `$COLUMNS`.
const PIPE_WIDTH: usize = 120;

/// Run `snapshot`; Ctrl-C gives up (`asyncmem: interrupted`).
pub async fn run(args: SnapshotArgs) -> Result<(), Failure> {
    tokio::select! {
        result = snapshot(&args) => result,
        sig = signal::first(signal::INTERRUPT) => Err(Failure::interrupted(sig.exit_code())),
    }
}

async fn snapshot(args: &SnapshotArgs) -> Result<(), Failure> {
    if let Some(path) = &args.from {
        let state = tokio::task::block_in_place(|| {
            recording::state_at(path, args.at, args.connect.model())
        })
        .map_err(|e| Failure::reading_recording(path, &e))?;
        for note in &state.notes {
            eprintln!("asyncmem: warning: {}", crate::present::escape(note));
        }
        let target = TargetInfo {
            pid: state.header.pid,
            endpoint: format!("{} (recorded)", state.header.endpoint),
        };
        return write_snapshot(args, &state.model, &target);
    }
    let mut session = session::start(&args.target, &args.connect, &args.demo_args).await?;
    let mut model = Model::new(args.connect.model());
    model.pid = session.target.pid;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + args.timeout;
    let wait = args.wait.unwrap_or_default();
    let settle = args
        .settle
        .or(args.target.demo.as_ref().map(|_| DEMO_SETTLE));
    let mut last_change = Instant::now();
    let mut last_live = u64::MAX;
    let mut last_drop: Option<String> = None;
    loop {
        let have_picture =
            model.updates > 0 && (session.target.pid.is_none() || model.last_rss.is_some());
        let settled = settle.is_none_or(|s| last_change.elapsed() >= s);
        if have_picture && started.elapsed() >= wait && settled {
            break;
        }
        let event = tokio::select! {
            e = session.events.recv() => e,
            _ = tokio::time::sleep(POLL) => continue,
            _ = tokio::time::sleep_until(deadline), if model.updates == 0 => {
                // Say why the stream kept dropping, if it did (e.g. over --max-message-size).
                let last = last_drop.map(|r| format!(" (the stream dropped: {r})")).unwrap_or_default();
                return Err(AttachError::Timeout {
                    what: format!("waiting for the first console update from {}{last}", session.target.endpoint),
                    after: args.timeout,
                }.into());
            }
        };
        if let Some(Event::Disconnected { reason, .. }) = &event {
            last_drop = Some(reason.clone());
        }
        match event {
            Some(Event::TargetExited) | None => {
                if model.updates == 0 {
                    return Err(match session.target.pid {
                        Some(pid) => AttachError::TargetExited(pid),
                        None => AttachError::EndpointGone(session.target.endpoint.clone()),
                    }
                    .into());
                }
                // Print what we have: the target is gone.
                break;
            }
            Some(event) => model.apply(event),
        }
        let live = model.counts().live();
        if live != last_live {
            last_live = live;
            last_change = Instant::now();
        }
    }
    write_snapshot(args, &model, &session.target)?;
    drop(session);
    Ok(())
}

fn write_snapshot(args: &SnapshotArgs, model: &Model, target: &TargetInfo) -> Result<(), Failure> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| {
                Failure::caused_by(
                    crate::error::exit::OTHER,
                    format_args!("creating {}", path.display()),
                    &e,
                )
            })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let lints = args.connect.lints();
    match (args.format, args.series) {
        (Format::Json, false) => output::json::write(&mut out, model, target, &lints)?,
        (Format::Table, false) => {
            let width = terminal_width();
            output::table::write(&mut out, model, target, &lints, width, args.limit)?
        }
        (Format::Csv, false) => output::csv::write_tasks(&mut out, model, &lints)?,
        (Format::Csv, true) => output::csv::write_series(&mut out, model)?,
        (Format::Json, true) => {
            let samples: Vec<_> = model.series.samples().collect();
            serde_json::to_writer_pretty(&mut out, &samples)?;
            writeln!(out)?;
        }
        (Format::Table, true) => output::table::write_series(&mut out, model)?,
    }
    out.flush()?;
    Ok(())
}

/// Width for the table: the terminal's, `$COLUMNS`, or [`PIPE_WIDTH`] when writing to a pipe.
fn terminal_width() -> usize {
    if std::io::stdout().is_terminal() {
        if let Ok((w, _)) = crossterm::terminal::size() {
            return usize::from(w).max(40);
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(PIPE_WIDTH)
}
