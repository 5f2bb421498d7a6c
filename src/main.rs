//! The asyncmem binary: parse the command line, run the command, map errors to exit codes.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use asyncmem::cli::{Cli, Command, Format, SnapshotArgs, TopArgs};
use asyncmem::error::{exit, AttachError};
use asyncmem::model::{Event, Model};
use asyncmem::output;
use asyncmem::session;

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
    let code = err
        .downcast_ref::<AttachError>()
        .map_or(exit::OTHER, AttachError::exit_code);
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
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match args.format {
        Format::Json => {
            output::json::write(&mut out, &model, &session.target, &args.connect.lints())?
        }
        Format::Table => {
            let width = terminal_width();
            let lints = args.connect.lints();
            output::table::write(&mut out, &model, &session.target, &lints, width, args.limit)?
        }
    }
    out.flush()?;
    drop(session);
    Ok(())
}

async fn top(args: TopArgs) -> i32 {
    if let Some(path) = &args.log {
        if let Err(e) = init_log(path) {
            eprintln!(
                "asyncmem: error: cannot open the log file {}: {e}",
                path.display()
            );
            return exit::OTHER;
        }
    }
    // Attach before taking the terminal, so that errors print plainly.
    let attached = tokio::select! {
        s = session::start_with(&args.target, &args.connect, &args.demo_args, true) => s,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("asyncmem: interrupted");
            return exit::INTERRUPTED;
        }
    };
    let mut session = match attached {
        Ok(s) => s,
        Err(e) => return report(&e.into()),
    };
    let mut cfg = args.connect.model();
    cfg.retain_done = args.retain;
    let mut model = Model::new(cfg);
    model.pid = session.target.pid;
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut app = asyncmem::ui::App::new(session.target.clone(), color);
    // ratatui::init enters raw mode and the alternate screen, and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            eprintln!("asyncmem: error: top needs a terminal: {e}");
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
    let result = asyncmem::ui::run(
        &mut terminal,
        &mut app,
        &mut model,
        &mut session.events,
        &session.control,
        input,
        shutdown,
    )
    .await;
    ratatui::restore();
    drop(session);
    match result {
        Ok(_) => signal.unwrap_or(exit::OK),
        Err(e) => {
            eprintln!("asyncmem: error: terminal: {e}");
            exit::OTHER
        }
    }
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
