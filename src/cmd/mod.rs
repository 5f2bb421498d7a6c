//! The commands, one file each; here what they share: attaching (or giving up on Ctrl-C),
//! `--log`, taking the terminal for the UI and giving it back, starting and closing a
//! recording. Each command's `run` returns a [`Failure`] for `main` to print and exit with.

pub mod export;
pub mod record;
pub mod replay;
pub mod snapshot;
pub mod top;

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::error::{exit, AttachError, Failure};
use crate::model::{Event, Model};
use crate::output::TargetInfo;
use crate::recording::Recorder;
use crate::session::Session;
use crate::signal::{self, Signal};
use crate::source::console::Control;
use crate::ui::App;

/// Attach, or give up when `shutdown` resolves first (`asyncmem: interrupted`).
async fn attach(
    start: impl Future<Output = Result<Session, AttachError>>,
    shutdown: impl Future<Output = Signal>,
) -> Result<Session, Failure> {
    tokio::select! {
        s = start => Ok(s?),
        sig = shutdown => Err(Failure::interrupted(sig.exit_code())),
    }
}

/// `--log FILE`: asyncmem's own logs go there (never to the screen of the TUI).
fn start_log(path: Option<&Path>) -> Result<(), Failure> {
    let Some(path) = path else { return Ok(()) };
    init_log(path).map_err(|e| {
        Failure::new(
            exit::OTHER,
            format_args!("cannot open the log file {}: {e}", path.display()),
        )
    })
}

fn init_log(path: &Path) -> std::io::Result<()> {
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

fn new_app(target: TargetInfo) -> App {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    App::new(target, color)
}

/// Take the terminal, run the UI until the user quits or a signal arrives, give it back.
async fn run_tui(
    app: &mut App,
    model: &mut Model,
    events: &mut mpsc::Receiver<Event>,
    control: &mpsc::Sender<Control>,
) -> Result<(), Failure> {
    // ratatui::init enters raw mode and the alternate screen, and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = ratatui::try_init().map_err(|e| {
        ratatui::restore();
        Failure::new(exit::OTHER, format_args!("this needs a terminal: {e}"))
    })?;
    let mut stopped_by = None;
    let shutdown = async { stopped_by = Some(signal::first(signal::SHUTDOWN).await) };
    let input = ratatui::crossterm::event::EventStream::new();
    let result = crate::ui::run(&mut terminal, app, model, events, control, input, shutdown).await;
    ratatui::restore();
    match (result, stopped_by) {
        (Err(e), _) => Err(Failure::new(exit::OTHER, format_args!("terminal: {e}"))),
        (Ok(_), Some(sig)) => Err(Failure::signalled(sig.exit_code())),
        (Ok(_), None) => Ok(()),
    }
}

/// Record the session to `path` from now on (`--overwrite` replaces an existing file).
fn start_recording(
    session: &mut Session,
    path: &Path,
    overwrite: bool,
) -> Result<Recorder, Failure> {
    session.record(path, overwrite).map_err(|e| {
        let hint = if path.is_dir() {
            " (it is a directory: give a file name)"
        } else if path.exists() && !overwrite {
            " (it exists: pass --overwrite to replace it)"
        } else {
            ""
        };
        Failure::caused_by(
            exit::OTHER,
            format_args!("creating the recording {}{hint}", path.display()),
            &e,
        )
    })
}

/// Close a recording; the line that says what it holds (for the caller to print in turn).
async fn finish_recording(
    recorder: Recorder,
    session: &mut Session,
    path: &Path,
    started: Instant,
) -> Result<String, Failure> {
    match session.stop_recording(recorder).await {
        Ok((frames, bytes)) => Ok(format!(
            "asyncmem: recorded {frames} frames, {bytes} bytes in {:.1} s to {}",
            started.elapsed().as_secs_f64(),
            path.display()
        )),
        // `record -o /dev/stdout | head`: the reader had enough; end quietly.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::broken_pipe()),
        Err(e) => Err(Failure::new(
            exit::OTHER,
            format_args!(
                "the recording {} is incomplete: {e} (the frames written before the error are readable)",
                path.display()
            ),
        )),
    }
}
