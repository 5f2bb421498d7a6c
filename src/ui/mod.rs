//! `asyncmem top`: the live terminal UI. `app` holds the view state, `index` the table order,
//! `view` draws it (one file per screen), `keymap` maps keys; this module runs the loop and owns
//! the terminal.

pub mod app;
pub mod history;
pub mod index;
pub mod keymap;
pub mod theme;
pub mod throttle;
pub mod view;

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::crossterm::event::Event as TermEvent;
use ratatui::{Frame, Terminal};
use tokio::sync::mpsc;

pub use app::App;

use crate::model::{Event, Model};
use crate::source::{console, replay};

/// Redraws are capped at this rate and coalesced: a burst of updates is one frame.
pub const FRAME: Duration = Duration::from_millis(33);

/// Most source events applied between two frames.
const MAX_EVENTS_PER_FRAME: usize = 4096;

/// Bring the view state up to the frame's size ([`App::prepare`]), then draw it.
pub fn render(frame: &mut Frame, app: &mut App, model: &Model) {
    app.prepare(model, frame.area());
    view::draw(frame, app, model);
}

/// What the UI asks of its source; [`Controls`] passes each to the source it is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Live: stream the details of this console id (replacing any other).
    WatchDetails(u64),
    /// Live: stop streaming details.
    StopDetails,
    /// Live: the console `Pause` / `Resume` RPC (the target's aggregator, for every watcher).
    PauseTarget,
    ResumeTarget,
    /// A replay's player.
    Replay(replay::Control),
    /// Live: a task dump (the target's workers pause while it runs).
    TakeDump,
}

/// How long a dump asked from `top` may take on the target's side.
pub const DUMP_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the UI's requests go: a live console connection or a replay's player. A request for
/// the other kind of source is dropped here, so neither source sees the other's requests.
pub enum Controls {
    Console(mpsc::Sender<console::Control>),
    Replay(mpsc::Sender<replay::Control>),
}

impl Controls {
    /// Pass `request` on if it is for this source (never waits: a full channel drops it).
    pub fn send(&self, request: Request) {
        match (self, request) {
            (Controls::Console(tx), r) => {
                let c = match r {
                    Request::WatchDetails(id) => console::Control::WatchDetails(id),
                    Request::StopDetails => console::Control::StopDetails,
                    Request::PauseTarget => console::Control::Pause,
                    Request::ResumeTarget => console::Control::Resume(None),
                    Request::TakeDump => console::Control::TakeDump(DUMP_TIMEOUT),
                    Request::Replay(_) => return,
                };
                let _ = tx.try_send(c);
            }
            (Controls::Replay(tx), Request::Replay(c)) => {
                let _ = tx.try_send(c);
            }
            (Controls::Replay(_), _) => {}
        }
    }
}

/// Why the loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// q or Ctrl-C in the UI.
    Quit,
    /// The shutdown future fired (a signal).
    Shutdown,
    /// The terminal's input closed.
    InputClosed,
}

/// Run the UI until the user quits. Generic over the backend and the input stream so that a test
/// can drive it with a `TestBackend` and scripted keys.
pub async fn run<B, I, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    model: &mut Model,
    events: &mut mpsc::Receiver<Event>,
    controls: &Controls,
    mut input: I,
    shutdown: S,
) -> io::Result<Exit>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    I: Stream<Item = io::Result<TermEvent>> + Unpin,
    S: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut last_clock = Instant::now();
    let mut events_open = true;
    loop {
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            terminal
                .draw(|f| render(f, app, model))
                .map_err(io::Error::other)?;
            dirty = false;
            last_draw = Some(Instant::now());
        }
        for r in app.outbox.drain(..) {
            controls.send(r);
        }
        if app.quit {
            return Ok(Exit::Quit);
        }
        tokio::select! {
            e = events.recv(), if events_open && app.accepts_events() => match e {
                Some(e) => {
                    // A console update that changed no task (a quiet target) changes nothing on
                    // screen: no redraw for it. Anything else (RSS, connection, details) does.
                    let generation = model.generation();
                    let mut other = !matches!(e, Event::Update(_));
                    app.on_event(model, e);
                    let mut n = 1;
                    while n < MAX_EVENTS_PER_FRAME && app.accepts_events() {
                        match events.try_recv() {
                            Ok(e) => {
                                other |= !matches!(e, Event::Update(_));
                                app.on_event(model, e);
                            }
                            Err(_) => break,
                        }
                        n += 1;
                    }
                    dirty |= other || model.generation() != generation;
                }
                None => events_open = false,
            },
            i = input.next() => match i {
                Some(Ok(TermEvent::Key(key))) => {
                    app.on_key(model, key);
                    dirty = true;
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Ok(Exit::InputClosed),
            },
            _ = tick.tick() => {
                // Idle times grow with the clock: refresh once a second even without events.
                if !app.frozen && last_clock.elapsed() >= Duration::from_secs(1) {
                    last_clock = Instant::now();
                    dirty = true;
                }
                // A recording that failed says so at once, frozen or not.
                if app.recording.as_mut().is_some_and(|r| r.failed_since_drawn()) {
                    dirty = true;
                }
            }
            _ = &mut shutdown => return Ok(Exit::Shutdown),
        }
    }
}

#[cfg(test)]
mod tests;
