//! A recording as a source: its events at their recorded pace (or faster), with pause, speed,
//! seek and step driven by its own control channel ([`Control`]).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::model::time::Nanos;
use crate::model::{Event, Playback};
use crate::recording::{Frame, Reader, RecordingError, Scan, Tail};

/// Slowest and fastest playback.
pub const MIN_SPEED: f64 = 1.0 / 16.0;
pub const MAX_SPEED: f64 = 1024.0;

/// What the UI asks of a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Pause,
    /// Play on (from the start again when played to the end).
    Play,
    /// Double / halve the playback speed.
    Faster,
    Slower,
    /// Move by this many nanoseconds (negative: back).
    Seek(i64),
    /// Back to the start.
    SeekStart,
    /// To this position (ns from the recording's start; clamped to it).
    SeekTo(Nanos),
    /// Play up to and including the next console update (and pause).
    Step,
}

/// Largest recording read from a pipe (held in memory, since a pipe is read only once).
pub const MAX_PIPED_BYTES: u64 = 256 * 1024 * 1024;

/// Where a recording's bytes come from: a file (read again to seek back), or what a pipe, a
/// FIFO or another file that cannot be read twice held, read once into memory.
#[derive(Clone, Debug)]
pub enum Input {
    File(PathBuf),
    Memory(Arc<[u8]>),
}

/// A frame reader over an [`Input`].
pub type InputReader = Reader<Box<dyn Read + Send>>;

impl Input {
    /// A regular file is read from disk; anything else (`<(cat file)`, a FIFO, a character
    /// device) is read to its end now, up to [`MAX_PIPED_BYTES`].
    pub fn open(path: &Path) -> Result<Input, RecordingError> {
        Input::open_within(path, MAX_PIPED_BYTES)
    }

    fn open_within(path: &Path, max: u64) -> Result<Input, RecordingError> {
        let file = File::open(path)?;
        if file.metadata()?.is_file() {
            return Ok(Input::File(path.to_path_buf()));
        }
        let mut bytes = Vec::new();
        file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max {
            return Err(RecordingError::TooBigForPipe { max });
        }
        Ok(Input::Memory(bytes.into()))
    }

    /// A reader from the first byte (its header checked).
    pub fn reader(&self) -> Result<InputReader, RecordingError> {
        let r: Box<dyn Read + Send> = match self {
            Input::File(path) => Box::new(BufReader::with_capacity(1 << 16, File::open(path)?)),
            Input::Memory(bytes) => Box::new(std::io::Cursor::new(bytes.clone())),
        };
        Reader::new(r)
    }
}

/// What the player needs to know of the file before it starts.
#[derive(Clone, Debug)]
pub struct Plan {
    pub input: Input,
    /// Time zero of the recording (ns since the epoch) and its length from there.
    pub start: Nanos,
    pub length: Nanos,
    /// How the recording ends, when not cleanly.
    pub problem: Option<String>,
    pub speed: f64,
}

impl Plan {
    pub fn new(input: Input, scan: &Scan, speed: f64) -> Plan {
        let start = scan
            .header
            .started_at
            .min(scan.first_at.unwrap_or(i64::MAX));
        let length = scan.last_at.map_or(0, |t| t.saturating_sub(start).max(0));
        let problem = match &scan.tail {
            Tail::Clean => None,
            Tail::NoEndMarker => {
                Some("no end marker: asyncmem was stopped hard (all whole frames are here)".into())
            }
            Tail::Broken(e) => Some(format!("{e}; replay stops there")),
        };
        Plan {
            input,
            start,
            length,
            problem,
            speed: speed.clamp(MIN_SPEED, MAX_SPEED),
        }
    }
}

struct Player {
    plan: Plan,
    reader: InputReader,
    pending: Option<Frame>,
    /// Recording time (since `start`) of the last frame sent.
    position: Nanos,
    playing: bool,
    speed: f64,
    /// Wall time and recording position when playback last (re)started at this speed.
    anchor: (Instant, Nanos),
    tx: mpsc::Sender<Event>,
}

/// Play `plan` into `tx` until the receiver or the control channel closes.
pub async fn run(plan: Plan, tx: mpsc::Sender<Event>, mut control: mpsc::Receiver<Control>) {
    let Ok(reader) = plan.input.reader() else {
        return;
    };
    let mut p = Player {
        speed: plan.speed,
        plan,
        reader,
        pending: None,
        position: 0,
        playing: true,
        anchor: (Instant::now(), 0),
        tx,
    };
    if p.status().await.is_err() {
        return;
    }
    loop {
        p.fill();
        let due = p.pending.as_ref().map(|f| p.due(f.at));
        if p.pending.is_none() && p.playing {
            // The end: stop the clock there.
            p.playing = false;
            p.position = p.plan.length;
            if p.status().await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if p.playing && due.is_some() => {
                if p.send_pending().await.is_err() {
                    return;
                }
            }
            c = control.recv() => {
                let Some(c) = c else { return };
                if p.control(c).await.is_err() {
                    return;
                }
            }
        }
    }
}

struct Closed;

impl Player {
    /// Read the next frame if none is waiting. A broken tail ends the playback there (the
    /// header shows why).
    fn fill(&mut self) {
        if self.pending.is_none() {
            self.pending = self.reader.next_frame().ok().flatten();
        }
    }

    fn rel(&self, at: Nanos) -> Nanos {
        at.saturating_sub(self.plan.start).max(0)
    }

    /// When a frame recorded at `at` is due, at the current speed.
    fn due(&self, at: Nanos) -> Instant {
        let ahead = self.rel(at).saturating_sub(self.anchor.1).max(0) as f64 / self.speed;
        self.anchor.0 + Duration::from_nanos(ahead.min(1e18) as u64)
    }

    async fn send_pending(&mut self) -> Result<(), Closed> {
        let Some(frame) = self.pending.take() else {
            return Ok(());
        };
        self.position = self.position.max(self.rel(frame.at));
        self.tx.send(frame.event).await.map_err(|_| Closed)?;
        self.status().await
    }

    async fn status(&mut self) -> Result<(), Closed> {
        let status = Playback {
            position: self.position,
            length: self.plan.length,
            speed: self.speed,
            playing: self.playing,
            problem: self.plan.problem.clone(),
        };
        self.tx
            .send(Event::Playback(status))
            .await
            .map_err(|_| Closed)
    }

    fn reanchor(&mut self) {
        self.anchor = (Instant::now(), self.position);
    }

    async fn control(&mut self, c: Control) -> Result<(), Closed> {
        match c {
            Control::Pause => self.playing = false,
            Control::Play => {
                if self.position >= self.plan.length && self.pending.is_none() {
                    // Played to the end: play again from the start.
                    self.seek_to(0).await?;
                }
                self.playing = true;
            }
            Control::Faster => self.speed = (self.speed * 2.0).min(MAX_SPEED),
            Control::Slower => self.speed = (self.speed / 2.0).max(MIN_SPEED),
            Control::Seek(by) => {
                let target = self.position.saturating_add(by);
                self.seek_to(target.clamp(0, self.plan.length)).await?;
            }
            Control::SeekStart => self.seek_to(0).await?,
            Control::SeekTo(at) => self.seek_to(at.clamp(0, self.plan.length)).await?,
            Control::Step => {
                self.playing = false;
                loop {
                    self.fill();
                    let Some(frame) = &self.pending else { break };
                    let update = matches!(frame.event, Event::Update(_));
                    self.send_pending().await?;
                    if update {
                        break;
                    }
                }
            }
        }
        self.reanchor();
        self.status().await
    }

    /// Jump to `target` (recording time): back means replaying from the start, quickly.
    async fn seek_to(&mut self, target: Nanos) -> Result<(), Closed> {
        if target < self.position {
            self.tx.send(Event::Rewind).await.map_err(|_| Closed)?;
            self.reader = self.plan.input.reader().map_err(|_| Closed)?;
            self.pending = None;
            self.position = 0;
        }
        let start = self.plan.start;
        loop {
            self.fill();
            let Some(frame) = self
                .pending
                .take_if(|f| f.at.saturating_sub(start) <= target)
            else {
                break;
            };
            self.tx.send(frame.event).await.map_err(|_| Closed)?;
        }
        self.position = target;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_a_file_is_read_once_and_within_the_bound() {
        // A character device stands for a pipe: it cannot be read twice.
        let endless = Input::open_within(Path::new("/dev/zero"), 4 << 20);
        assert!(
            matches!(endless, Err(RecordingError::TooBigForPipe { max }) if max == 4 << 20),
            "{endless:?}"
        );
        let msg = RecordingError::TooBigForPipe { max: 4 << 20 }.to_string();
        assert!(
            msg.contains("4 MiB") && msg.contains("save it to a file"),
            "{msg}"
        );
        let empty = Input::open_within(Path::new("/dev/null"), 4 << 20);
        assert!(
            matches!(&empty, Ok(Input::Memory(b)) if b.is_empty()),
            "{empty:?}"
        );
        assert!(matches!(
            empty.map(|i| i.reader().map(|_| ())),
            Ok(Err(RecordingError::Empty))
        ));
        let file = Input::open(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("Cargo.toml")
                .as_path(),
        );
        assert!(matches!(file, Ok(Input::File(_))), "{file:?}");
    }
}
