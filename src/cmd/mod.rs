//! The commands, one file each; here what they share: attaching (or giving up on Ctrl-C),
//! `--log`, taking the terminal for the UI and giving it back, starting and closing a
//! recording. Each command's `run` returns a [`Failure`] for `main` to print and exit with.

pub mod export;
pub mod layout;
pub mod lesson;
pub mod record;
pub mod replay;
pub mod snapshot;
pub mod top;

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::error::{exit, AttachError, Failure};
use crate::model::{Event, Model};
use crate::output::TargetInfo;
use crate::recording::Recorder;
use crate::session::Session;
use crate::signal::{self, Signal};
use crate::source::console;
use crate::ui::{App, Controls};

/// How long quitting waits for the target to answer the Resume that undoes this UI's Pause.
pub const RESUME_WAIT: Duration = Duration::from_secs(2);

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

/// `top` and `replay` draw on a terminal: say so plainly, before anything else happens (and
/// without writing a byte to a stdout that is a file or a pipe).
fn need_terminal(command: &str) -> Result<(), Failure> {
    if std::io::stdout().is_terminal() {
        return Ok(());
    }
    Err(Failure::new(
        exit::OTHER,
        format_args!(
            "`asyncmem {command}` draws on a terminal, and its standard output is not one; for output to a file or a pipe, use `asyncmem snapshot` (or `asyncmem record`)"
        ),
    ))
}

/// Take the terminal, run the UI until the user quits, a signal arrives or the terminal goes
/// away, give it back; then resume the target if this UI left it paused.
async fn run_tui(
    app: &mut App,
    model: &mut Model,
    events: &mut mpsc::Receiver<Event>,
    controls: &Controls,
) -> Result<(), Failure> {
    // ratatui::init enters raw mode and the alternate screen, and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = ratatui::try_init().map_err(|e| {
        let _ = ratatui::try_restore();
        Failure::new(exit::OTHER, format_args!("this needs a terminal: {e}"))
    })?;
    let mut stopped_by = None;
    let shutdown = async { stopped_by = Some(signal::first(signal::SHUTDOWN).await) };
    let input = ratatui::crossterm::event::EventStream::new();
    let result = crate::ui::run(&mut terminal, app, model, events, controls, input, shutdown).await;
    // Never `ratatui::restore`: it prints its own error to a terminal that may be gone (SIGHUP).
    let _ = ratatui::try_restore();
    if app.paused_target {
        if let Controls::Console(control) = controls {
            if let Err(why) = resume_target(control, events).await {
                say(&format!(
                    "asyncmem: warning: the target's console may still be paused for every watcher: {why} (`asyncmem top` and Space resume it)"
                ));
            }
        }
    }
    match (result, stopped_by) {
        (Err(e), _) => Err(Failure::new(exit::OTHER, format_args!("terminal: {e}"))),
        (Ok(_), Some(sig)) => Err(Failure::signalled(sig.exit_code())),
        (Ok(_), None) => Ok(()),
    }
}

/// A line on stderr that is not worth a panic when stderr is a terminal that went away.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Send Resume and wait, at most [`RESUME_WAIT`], for the target's answer; the events that
/// arrive meanwhile are dropped (a source must not block on a full channel).
async fn resume_target(
    control: &mpsc::Sender<console::Control>,
    events: &mut mpsc::Receiver<Event>,
) -> Result<(), String> {
    let (done, answer) = tokio::sync::oneshot::channel();
    let wait = async {
        control
            .send(console::Control::Resume(Some(done)))
            .await
            .map_err(|_| "the console connection is closed".to_string())?;
        match answer.await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the Resume request failed".to_string()),
            Err(_) => Err("the console connection closed before answering Resume".to_string()),
        }
    };
    let drain = async {
        while events.recv().await.is_some() {}
        std::future::pending::<std::convert::Infallible>().await
    };
    tokio::select! {
        r = wait => r,
        never = drain => match never {},
        _ = tokio::time::sleep(RESUME_WAIT) => Err(format!(
            "no answer to Resume within {}",
            humantime::format_duration(RESUME_WAIT)
        )),
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

/// `--layout FILE`, read and indexed (a bad file is a [`crate::error::exit::BAD_LAYOUT`]).
pub fn load_layout(
    path: Option<&std::path::Path>,
) -> Result<Option<std::sync::Arc<crate::insight::layout::LayoutJoin>>, Failure> {
    let Some(path) = path else { return Ok(None) };
    let layout = crate::layout::file::load(path).map_err(|e| Failure::reading_layout(&e))?;
    Ok(Some(std::sync::Arc::new(
        crate::insight::layout::LayoutJoin::new(layout),
    )))
}
