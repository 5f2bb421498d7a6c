//! `asyncmem snapshot`: attach, wait for the first complete picture (or read a recording),
//! print it and exit. A picture that is not complete when `--timeout` has passed again since
//! the first update (or when the target exits) is printed marked incomplete, with the reason.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::cli::{Format, SnapshotArgs};
use crate::error::{exit, AttachError, Failure};
use crate::insight::layout::LayoutJoin;
use crate::insight::{self, Moment};
use crate::model::time::nanos_of;
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
    // The layout first: a bad file is named before any attach or wait.
    let layout = super::load_layout(args.layout.as_deref())?;
    let layout = layout.as_deref();
    if (args.diff_at.is_some() || args.diff_after.is_some() || args.spikes)
        && args.format == Format::Csv
    {
        return Err(Failure::new(
            exit::USAGE,
            "--diff-at, --diff-after and --spikes print a table or JSON (--format table or json), not CSV",
        ));
    }
    if let Some(path) = &args.from {
        if let Some(diff_at) = args.diff_at {
            return diff_recording(args, path, args.at.unwrap_or_default(), diff_at);
        }
        if args.spikes {
            return spikes(args, path);
        }
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
        return write_snapshot(args, &state.model, &target, None, layout, None);
    }
    let mut session = session::start(&args.target, &args.connect, &args.demo_args).await?;
    let mut model = Model::new(args.connect.model());
    model.set_pid(session.target.pid);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + args.timeout;
    let wait = args.wait.unwrap_or_default();
    let settle = args
        .settle
        .or(args.target.demo.as_ref().map(|_| DEMO_SETTLE));
    // Set at the first update: from then on, wait at most `--timeout` more for a complete
    // picture, then print what there is, marked incomplete.
    let mut complete_by: Option<Instant> = None;
    let mut last_change = Instant::now();
    let mut last_live = u64::MAX;
    let mut last_drop: Option<String> = None;
    let incomplete = loop {
        let rss_in = session.target.pid.is_none() || model.last_rss().is_some();
        let reason = model.incomplete_reason();
        let settled = settle.is_none_or(|s| last_change.elapsed() >= s);
        if model.updates() > 0 && rss_in && started.elapsed() >= wait {
            if reason.is_none() && settled {
                break None;
            }
            if complete_by.is_some_and(|by| Instant::now() >= by) {
                break Some(reason.unwrap_or_else(|| {
                    "the live task count was still changing (a demo still spawning)".into()
                }));
            }
        }
        let event = tokio::select! {
            e = session.events.recv() => e,
            _ = tokio::time::sleep(POLL) => continue,
            _ = tokio::time::sleep_until(deadline), if model.updates() == 0 => {
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
                if model.updates() == 0 {
                    return Err(exited(&session.target).into());
                }
                // Print what we have, and say that it stops short.
                let gone = exited(&session.target);
                let when = started.elapsed();
                let reason = if when < wait {
                    format!(
                        "{gone} {} into the {} --wait",
                        humantime::format_duration(round_ms(when)),
                        humantime::format_duration(wait)
                    )
                } else {
                    format!("{gone} before the picture was complete")
                };
                let reason = match model.incomplete_reason() {
                    Some(more) => format!("{reason} ({more})"),
                    None => reason,
                };
                write_snapshot(args, &model, &session.target, Some(&reason), layout, None)?;
                return Err(Failure::new(
                    exit::TARGET_EXITED,
                    format_args!("{reason}: the snapshot is what was collected until then"),
                ));
            }
            Some(event) => {
                model.apply(event);
                if model.updates() > 0 && complete_by.is_none() {
                    complete_by = Some(Instant::now() + args.timeout);
                }
            }
        }
        let live = model.counts().live();
        if live != last_live {
            last_live = live;
            last_change = Instant::now();
        }
    };
    if let Some(reason) = &incomplete {
        eprintln!(
            "asyncmem: warning: incomplete picture after waiting {}: {}",
            humantime::format_duration(round_ms(started.elapsed())),
            crate::present::escape(reason)
        );
    }
    if let Some(after) = args.diff_after {
        let before = Moment::of(&model);
        let until = tokio::time::Instant::now() + after;
        let mut gone = false;
        while !gone {
            tokio::select! {
                e = session.events.recv() => match e {
                    Some(Event::TargetExited) | None => gone = true,
                    Some(event) => model.apply(event),
                },
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        model.prune_done();
        let d = insight::diff(&before, &Moment::of(&model));
        write_diff(args, &d, &session.target)?;
        if gone {
            return Err(Failure::new(
                exit::TARGET_EXITED,
                format_args!(
                    "{} during --diff-after: the difference is up to its exit",
                    exited(&session.target)
                ),
            ));
        }
        return Ok(());
    }
    let dump = if args.dump {
        let max = args.connect.model().max_tasks;
        let endpoint = crate::source::Endpoint::parse(&session.target.endpoint)?;
        Some(
            crate::source::dump::take(&endpoint, &args.connect.console(), args.dump_timeout, max)
                .await,
        )
    } else {
        None
    };
    let taken = dump.as_ref().and_then(|d| d.as_ref().ok());
    write_snapshot(
        args,
        &model,
        &session.target,
        incomplete.as_deref(),
        layout,
        taken,
    )?;
    drop(session);
    match dump {
        // The picture is printed; the dump's failure is said and has a code of its own.
        Some(Err(e)) => Err(Failure::caused_by(exit::NO_DUMP, "--dump", &e)),
        _ => Ok(()),
    }
}

/// The recording's state `at` after its start (its end: `None`), its notes said on stderr.
fn state_at(
    path: &std::path::Path,
    at: Option<Duration>,
    cfg: crate::model::ModelConfig,
) -> Result<recording::StateAt, Failure> {
    let state = tokio::task::block_in_place(|| recording::state_at(path, at, cfg))
        .map_err(|e| Failure::reading_recording(path, &e))?;
    for note in &state.notes {
        eprintln!("asyncmem: warning: {}", crate::present::escape(note));
    }
    Ok(state)
}

/// What `snapshot` says a recording's target was.
fn recorded(header: &recording::Header) -> TargetInfo {
    TargetInfo {
        pid: header.pid,
        endpoint: format!("{} (recorded)", header.endpoint),
    }
}

/// `--from FILE --at A --diff-at B`: the recording's state at both points, compared.
fn diff_recording(
    args: &SnapshotArgs,
    path: &std::path::Path,
    at: Duration,
    diff_at: Duration,
) -> Result<(), Failure> {
    let before = state_at(path, Some(at), args.connect.model())?;
    let after = state_at(path, Some(diff_at), args.connect.model())?;
    let d = insight::diff(&Moment::of(&before.model), &Moment::of(&after.model));
    write_diff(args, &d, &recorded(&before.header))
}

/// `--from FILE --spikes`: the steepest RSS rises of the whole recording, each with what its
/// two ends' task pictures say grew.
fn spikes(args: &SnapshotArgs, path: &std::path::Path) -> Result<(), Failure> {
    let whole = crate::model::ModelConfig {
        series_window: crate::cli::MAX_DURATION,
        ..args.connect.model()
    };
    let end = state_at(path, None, whole)?;
    let started = end.header.started_at;
    let offset = |at: crate::model::Nanos| {
        Duration::from_nanos(u64::try_from(at.saturating_sub(started)).unwrap_or(0))
    };
    let mut found = insight::spikes(
        &end.model,
        nanos_of(args.spike_window),
        insight::DEFAULT_SPIKES,
    );
    for s in &mut found {
        s.from_seconds = Some(offset(s.from_ns).as_secs_f64());
        s.to_seconds = Some(offset(s.to_ns).as_secs_f64());
        let a = state_at(path, Some(offset(s.from_ns)), args.connect.model())?;
        let b = state_at(path, Some(offset(s.to_ns)), args.connect.model())?;
        let d = insight::diff(&Moment::of(&a.model), &Moment::of(&b.model));
        s.locations = d
            .locations
            .into_iter()
            .filter(|l| l.tasks_change > 0 || l.future_bytes_change > 0)
            .collect();
    }
    let mut out = open_output(args)?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &found)?;
            writeln!(out)?;
        }
        _ => output::table::write_spikes(
            &mut out,
            &found,
            started,
            &recorded(&end.header),
            args.spike_window,
            terminal_width(),
        )?,
    }
    out.flush()?;
    Ok(())
}

/// Print a difference as table or JSON.
fn write_diff(args: &SnapshotArgs, d: &insight::Diff, target: &TargetInfo) -> Result<(), Failure> {
    let mut out = open_output(args)?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, d)?;
            writeln!(out)?;
        }
        _ => output::table::write_diff(&mut out, d, target, terminal_width(), args.limit)?,
    }
    out.flush()?;
    Ok(())
}

/// Where the output goes: `-o FILE` or standard output.
fn open_output(args: &SnapshotArgs) -> Result<Box<dyn Write>, Failure> {
    Ok(match &args.output {
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
    })
}

/// The error of a target gone: its pid if known, else its endpoint.
fn exited(target: &TargetInfo) -> AttachError {
    match target.pid {
        Some(pid) => AttachError::TargetExited(pid),
        None => AttachError::EndpointGone(target.endpoint.clone()),
    }
}

/// `d` to whole milliseconds, for messages.
fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Print the snapshot; `incomplete`: why the picture is not complete (the table and JSON say
/// so), `None` when it is.
fn write_snapshot(
    args: &SnapshotArgs,
    model: &Model,
    target: &TargetInfo,
    incomplete: Option<&str>,
    layout: Option<&LayoutJoin>,
    dump: Option<&crate::source::dump::Dump>,
) -> Result<(), Failure> {
    let mut out = open_output(args)?;
    let lints = args.connect.lints();
    match (args.format, args.series) {
        (Format::Json, false) => {
            let dump = dump.map(|d| output::dump::section(d, model, layout));
            output::json::write(&mut out, model, target, &lints, incomplete, layout, dump)?
        }
        (Format::Table, false) => {
            let width = terminal_width();
            output::table::write(
                &mut out, model, target, &lints, width, args.limit, incomplete,
            )?;
            if let Some(join) = layout {
                output::joined::write_table(
                    &mut out,
                    &output::joined::section(model, join),
                    width,
                )?;
            }
            if let Some(d) = dump {
                let section = output::dump::section(d, model, layout);
                output::dump::write_table(&mut out, &section, width)?;
            }
        }
        (Format::Csv, false) => output::csv::write_tasks(&mut out, model, &lints)?,
        (Format::Csv, true) => output::csv::write_series(&mut out, model)?,
        (Format::Json, true) => {
            let samples: Vec<_> = model.series().samples().collect();
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
