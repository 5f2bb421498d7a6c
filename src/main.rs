//! The asyncmem binary: parse the command line, run the command, map errors to exit codes.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use asyncmem::cli::{Cli, Command, Format, RecordArgs, ReplayArgs, SnapshotArgs, TopArgs};
use asyncmem::error::{exit, AttachError};
use asyncmem::model::{Event, Model, ModelConfig};
use asyncmem::output::{self, TargetInfo};
use asyncmem::recording::{self, Recorder, RecordingError, Scan};
use asyncmem::session::{self, Session};
use asyncmem::source::console::Control;
use asyncmem::source::replay;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(exit::OTHER, &format!("cannot start the async runtime: {e}")),
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Snapshot(args) => snapshot(args).await,
            Command::Top(args) => top(args).await,
            Command::Record(args) => record(args).await,
            Command::Replay(args) => replay(args).await,
            Command::Export(args) => asyncmem::export::run(args).await,
        }
    });
    // Do not wait for sources blocked on a dead target.
    runtime.shutdown_background();
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn fail(code: i32, message: &str) -> ExitCode {
    eprintln!("asyncmem: error: {message}");
    ExitCode::from(code as u8)
}

fn report(err: &anyhow::Error) -> i32 {
    let code = match (
        err.downcast_ref::<AttachError>(),
        err.downcast_ref::<RecordingError>(),
    ) {
        (Some(e), _) => e.exit_code(),
        (None, Some(_)) => exit::BAD_RECORDING,
        (None, None) => exit::OTHER,
    };
    eprintln!("asyncmem: error: {err:#}");
    code
}

async fn snapshot(args: SnapshotArgs) -> i32 {
    tokio::select! {
        result = run_snapshot(&args) => match result {
            Ok(()) => exit::OK,
            Err(e) => report(&e),
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("asyncmem: interrupted");
            exit::INTERRUPTED
        }
    }
}

async fn run_snapshot(args: &SnapshotArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.from {
        let state = tokio::task::block_in_place(|| {
            recording::state_at(path, args.at, args.connect.model())
        })
        .with_context(|| format!("reading the recording {}", path.display()))?;
        for note in &state.notes {
            eprintln!("asyncmem: warning: {note}");
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
    // A freshly started demo is still announcing its tasks: wait until the count settles.
    let settle = args.settle.or(args
        .target
        .demo
        .as_ref()
        .map(|_| std::time::Duration::from_secs(1)));
    let mut last_change = Instant::now();
    let mut last_live = u64::MAX;
    loop {
        let have_picture =
            model.updates > 0 && (session.target.pid.is_none() || model.last_rss.is_some());
        let settled = settle.is_none_or(|s| last_change.elapsed() >= s);
        if have_picture && started.elapsed() >= wait && settled {
            break;
        }
        let event = tokio::select! {
            e = session.events.recv() => e,
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => continue,
            _ = tokio::time::sleep_until(deadline), if model.updates == 0 => {
                return Err(AttachError::Timeout {
                    what: format!("waiting for the first console update from {}", session.target.endpoint),
                    after: args.timeout,
                }.into());
            }
        };
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

fn write_snapshot(args: &SnapshotArgs, model: &Model, target: &TargetInfo) -> anyhow::Result<()> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
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

/// Close a recording and say what it holds; the exit code to use if it failed.
async fn finish_recording(
    recorder: Recorder,
    session: &mut Session,
    path: &std::path::Path,
    started: Instant,
) -> i32 {
    match session.stop_recording(recorder).await {
        Ok((frames, bytes)) => {
            eprintln!(
                "asyncmem: recorded {frames} frames, {bytes} bytes in {:.1} s to {}",
                started.elapsed().as_secs_f64(),
                path.display()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!(
                "asyncmem: error: the recording {} is incomplete: {e} (the frames written before the error are readable)",
                path.display()
            );
            exit::OTHER
        }
    }
}

async fn record(args: RecordArgs) -> i32 {
    let mut session =
        match attach(session::start(&args.target, &args.connect, &args.demo_args)).await {
            Ok(s) => s,
            Err(code) => return code,
        };
    let recorder = match session.record(&args.output, args.overwrite) {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    let started = Instant::now();
    eprintln!(
        "asyncmem: recording {} (pid {}) to {}{}; Ctrl-C stops",
        session.target.endpoint,
        session.target.pid.map_or("?".into(), |p| p.to_string()),
        args.output.display(),
        args.duration.map_or(String::new(), |d| format!(
            " for {}",
            humantime::format_duration(d)
        )),
    );
    let mut model = Model::new(args.connect.model());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let why = loop {
        tokio::select! {
            e = session.events.recv() => match e {
                Some(Event::TargetExited) | None => break "the target exited",
                Some(e) => model.apply(e),
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => break "--duration elapsed",
            _ = tokio::signal::ctrl_c() => break "interrupted",
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => break "terminated",
        }
    };
    let c = model.counts();
    eprintln!(
        "asyncmem: stopped ({why}): {} updates, {} tasks seen ({} live at the end)",
        model.updates,
        c.live() + c.done,
        c.live()
    );
    finish_recording(recorder, &mut session, &args.output, started).await
}

async fn replay(args: ReplayArgs) -> i32 {
    if let Err(code) = start_log(args.log.as_deref()) {
        return code;
    }
    let scan = match tokio::task::block_in_place(|| Scan::file(&args.file)) {
        Ok(s) => s,
        Err(e) => {
            return report(
                &anyhow::Error::new(e)
                    .context(format!("reading the recording {}", args.file.display())),
            )
        }
    };
    if scan.frames == 0 {
        let why = match &scan.tail {
            recording::Tail::Broken(e) => format!(": {e}"),
            _ => String::new(),
        };
        eprintln!(
            "asyncmem: error: the recording {} holds no events{why}",
            args.file.display()
        );
        return exit::BAD_RECORDING;
    }
    if !(args.speed.is_finite() && args.speed > 0.0) {
        eprintln!("asyncmem: error: --speed must be a positive number");
        return exit::USAGE;
    }
    let plan = replay::Plan::new(args.file.clone(), &scan, args.speed);
    let (tx, mut events) = tokio::sync::mpsc::channel(session::CHANNEL_CAPACITY);
    let (control, control_rx) = tokio::sync::mpsc::channel(16);
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
    model.pid = scan.header.pid;
    let mut app = new_app(target);
    app.lints.large_future_bytes = args.large_future;
    run_tui(&mut app, &mut model, &mut events, &control).await
}

fn new_app(target: TargetInfo) -> asyncmem::ui::App {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    asyncmem::ui::App::new(target, color)
}

async fn top(args: TopArgs) -> i32 {
    if let Err(code) = start_log(args.log.as_deref()) {
        return code;
    }
    // Attach before taking the terminal, so that errors print plainly.
    let start = session::start_with(&args.target, &args.connect, &args.demo_args, true);
    let mut session = match attach(start).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let recorder = match &args.record {
        Some(path) => match session.record(path, args.overwrite) {
            Ok(r) => Some(r),
            Err(e) => return report(&e),
        },
        None => None,
    };
    let started = Instant::now();
    let mut cfg = args.connect.model();
    cfg.retain_done = args.retain;
    let mut model = Model::new(cfg);
    model.pid = session.target.pid;
    let mut app = new_app(session.target.clone());
    app.lints = args.connect.lints();
    let code = run_tui(&mut app, &mut model, &mut session.events, &session.control).await;
    match (recorder, &args.record) {
        (Some(recorder), Some(path)) => {
            let recorded = finish_recording(recorder, &mut session, path, started).await;
            if code == exit::OK {
                recorded
            } else {
                code
            }
        }
        _ => code,
    }
}

/// Take the terminal, run the UI until the user quits or a signal arrives, give it back.
async fn run_tui(
    app: &mut asyncmem::ui::App,
    model: &mut Model,
    events: &mut tokio::sync::mpsc::Receiver<Event>,
    control: &tokio::sync::mpsc::Sender<Control>,
) -> i32 {
    // ratatui::init enters raw mode and the alternate screen, and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            eprintln!("asyncmem: error: this needs a terminal: {e}");
            return exit::OTHER;
        }
    };
    let mut signal = None;
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => signal = Some(exit::TERMINATED),
            _ = tokio::signal::ctrl_c() => signal = Some(exit::INTERRUPTED),
        }
    };
    let input = ratatui::crossterm::event::EventStream::new();
    let result =
        asyncmem::ui::run(&mut terminal, app, model, events, control, input, shutdown).await;
    ratatui::restore();
    match result {
        Ok(_) => signal.unwrap_or(exit::OK),
        Err(e) => {
            eprintln!("asyncmem: error: terminal: {e}");
            exit::OTHER
        }
    }
}

/// Attach, or give up on Ctrl-C; the exit code when it did not attach (the error printed).
async fn attach(
    start: impl std::future::Future<Output = Result<Session, AttachError>>,
) -> Result<Session, i32> {
    tokio::select! {
        s = start => s.map_err(|e| report(&e.into())),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("asyncmem: interrupted");
            Err(exit::INTERRUPTED)
        }
    }
}

/// `--log FILE`: asyncmem's own logs go there (never to the screen of the TUI).
fn start_log(path: Option<&std::path::Path>) -> Result<(), i32> {
    let Some(path) = path else { return Ok(()) };
    init_log(path).map_err(|e| {
        eprintln!(
            "asyncmem: error: cannot open the log file {}: {e}",
            path.display()
        );
        exit::OTHER
    })
}

fn init_log(path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ASYNCMEM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    Ok(())
}

/// Width for the table: the terminal's, `$COLUMNS`, or 120 when writing to a pipe.
fn terminal_width() -> usize {
    if std::io::stdout().is_terminal() {
        if let Ok((w, _)) = crossterm::terminal::size() {
            return usize::from(w).max(40);
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(120)
}
