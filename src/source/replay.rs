//! A recording as a source: its events at their recorded pace (or faster), with pause, speed,
//! seek and step driven by the same control channel as a live console connection.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::model::time::Nanos;
use crate::model::{Event, Playback};
use crate::recording::{Frame, Reader, Scan, Tail};
use crate::source::console::Control;

/// Slowest and fastest playback.
pub const MIN_SPEED: f64 = 1.0 / 16.0;
pub const MAX_SPEED: f64 = 1024.0;

/// What the player needs to know of the file before it starts.
#[derive(Clone, Debug)]
pub struct Plan {
    pub path: PathBuf,
    /// Time zero of the recording (ns since the epoch) and its length from there.
    pub start: Nanos,
    pub length: Nanos,
    /// How the recording ends, when not cleanly.
    pub problem: Option<String>,
    pub speed: f64,
}

impl Plan {
    pub fn new(path: PathBuf, scan: &Scan, speed: f64) -> Plan {
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
            path,
            start,
            length,
            problem,
            speed: speed.clamp(MIN_SPEED, MAX_SPEED),
        }
    }
}

struct Player {
    plan: Plan,
    reader: Reader<BufReader<File>>,
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
    let Ok(reader) = Reader::open(&plan.path) else {
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
            Control::Resume => {
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
            Control::WatchDetails(_) | Control::StopDetails => return Ok(()),
        }
        self.reanchor();
        self.status().await
    }

    /// Jump to `target` (recording time): back means replaying from the start, quickly.
    async fn seek_to(&mut self, target: Nanos) -> Result<(), Closed> {
        if target < self.position {
            self.tx.send(Event::Rewind).await.map_err(|_| Closed)?;
            self.reader = Reader::open(&self.plan.path).map_err(|_| Closed)?;
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
