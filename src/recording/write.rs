//! Writing recordings: one frame per event, each with one `write` to the file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Header, Kind, MAGIC, MAX_REASON_BYTES, VERSION};
use crate::model::time::{self, Nanos};
use crate::model::{Event, HeapEvent};

pub struct Writer {
    file: File,
    buf: Vec<u8>,
    pub frames: u64,
    pub bytes: u64,
}

impl Writer {
    /// Create `path` and write the header. An existing file is kept (an error) unless
    /// `overwrite`: a recording is evidence, and evidence is not replaced by accident.
    pub fn create(path: &Path, header: &Header, overwrite: bool) -> io::Result<Writer> {
        let mut opts = OpenOptions::new();
        opts.write(true);
        if overwrite {
            opts.create(true).truncate(true);
        } else {
            opts.create_new(true);
        }
        let file = opts.open(path)?;
        Writer::new(file, header)
    }

    pub fn new(mut file: File, header: &Header) -> io::Result<Writer> {
        let json = serde_json::to_vec(header).map_err(io::Error::other)?;
        let mut buf = Vec::with_capacity(json.len() + 22);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&(json.len() as u32).to_le_bytes());
        buf.extend_from_slice(&json);
        buf.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
        file.write_all(&buf)?;
        Ok(Writer {
            file,
            bytes: buf.len() as u64,
            buf,
            frames: 0,
        })
    }

    /// Append one event received at `at` (RSS samples carry their own time).
    pub fn write(&mut self, at: Nanos, event: &Event) -> io::Result<()> {
        self.buf.clear();
        encode_frame(&mut self.buf, at, event);
        if self.buf.is_empty() {
            return Ok(()); // not a recorded kind
        }
        self.flush_frame()
    }

    /// Write the end marker and make the file durable; the frames and bytes written in all.
    pub fn finish(mut self) -> io::Result<(u64, u64)> {
        self.buf.clear();
        encode_body(&mut self.buf, Kind::End, time::now(), |_| {});
        self.flush_frame()?;
        self.file.sync_all()?;
        Ok((self.frames, self.bytes))
    }

    /// After a failed write: cut what part of the frame reached the file (best effort), so that
    /// the file ends with its last whole frame.
    fn cut_partial_frame(&mut self) {
        if let Err(e) = self.file.set_len(self.bytes) {
            tracing::warn!("cannot cut the partial frame off the recording: {e}");
        }
    }

    fn flush_frame(&mut self) -> io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.frames += 1;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }
}

/// Append the frame of `event` to `buf`.
pub fn encode_frame(buf: &mut Vec<u8>, at: Nanos, event: &Event) {
    match event {
        Event::Update(u) => encode_body(buf, Kind::Update, at, |b| {
            // The fields of `Update` that asyncmem uses, with their protobuf tags: resources
            // and async ops are left out (where tasks sleep on timers, they are 90 % of
            // each update, and nothing in asyncmem reads them).
            use prost::encoding::message::encode;
            if let Some(m) = &u.now {
                encode(1, m, b);
            }
            if let Some(m) = &u.task_update {
                encode(2, m, b);
            }
            if let Some(m) = &u.new_metadata {
                encode(5, m, b);
            }
        }),
        Event::Rss(s) => encode_body(buf, Kind::Rss, s.at, |b| {
            prost::encoding::encode_varint(s.rss_bytes, b);
            prost::encoding::encode_varint(s.anon_rss_bytes, b);
            prost::encoding::encode_varint(s.threads, b);
        }),
        Event::Connected { pid } => encode_body(buf, Kind::Connected, at, |b| {
            // 0: unknown; otherwise pid + 1 (pids are positive, but keep any i32 exact).
            let v = pid.map_or(0, |p| u64::from(p as u32) + 1);
            prost::encoding::encode_varint(v, b);
        }),
        Event::Disconnected { attempt, reason } => encode_body(buf, Kind::Disconnected, at, |b| {
            prost::encoding::encode_varint(u64::from(*attempt), b);
            b.extend_from_slice(truncate_utf8(reason, MAX_REASON_BYTES).as_bytes());
        }),
        Event::NotTracked(n) => encode_body(buf, Kind::NotTracked, at, |b| {
            prost::encoding::encode_varint(*n, b);
        }),
        Event::Paused(p) => encode_body(buf, Kind::Paused, at, |b| b.push(u8::from(*p))),
        Event::Details(d) => encode_body(buf, Kind::Details, at, |b| d.encode(b).unwrap_or(())),
        Event::TargetExited => encode_body(buf, Kind::TargetExited, at, |_| {}),
        Event::NoConsole => encode_body(buf, Kind::NoConsole, at, |_| {}),
        Event::Dump(outcome) => encode_body(buf, Kind::Dump, at, |b| match &**outcome {
            Ok(d) => {
                b.push(0);
                prost::encoding::encode_varint(d.left_out, b);
                let reply = asyncmem_probe::wire::DumpReply {
                    summary: Some(d.summary.clone()),
                    tasks: d.tasks.clone(),
                };
                reply.encode(b).unwrap_or(());
            }
            Err(why) => {
                b.push(1);
                b.extend_from_slice(truncate_utf8(why, MAX_REASON_BYTES).as_bytes());
            }
        }),
        Event::Heap(heap) => encode_body(buf, Kind::Heap, at, |b| match &**heap {
            HeapEvent::Figures { full, update } => {
                b.push(u8::from(*full));
                update.encode(b).unwrap_or(());
            }
            HeapEvent::Failed(why) => {
                b.push(2);
                b.extend_from_slice(truncate_utf8(why, MAX_REASON_BYTES).as_bytes());
            }
        }),
        // Replay's own events are not recorded, nor the late endpoint (the header has it).
        Event::Rewind | Event::Playback(_) | Event::Endpoint(_) | Event::TasksReported { .. } => {}
    }
}

fn encode_body(buf: &mut Vec<u8>, kind: Kind, at: Nanos, payload: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.push(kind as u8);
    buf.extend_from_slice(&at.to_le_bytes());
    payload(buf);
    let body = &buf[start + 4..];
    let len = body.len() as u32;
    let crc = crc32fast::hash(body);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&crc.to_le_bytes());
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// How a recording goes: what is written so far, and the error that stopped it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub frames: u64,
    pub bytes: u64,
    /// Set when a write failed: the recording stopped there (the frames before it are whole).
    pub error: Option<String>,
}

/// Records the events that pass through it (between a session's sources and its consumer).
pub struct Recorder {
    task: JoinHandle<io::Result<Writer>>,
    stop: tokio::sync::oneshot::Sender<()>,
    progress: watch::Receiver<Progress>,
}

impl Recorder {
    /// Put a recorder on `events`; the returned receiver gets every event after it is written.
    /// A write error stops the recording at once (in [`Recorder::progress`], and reported by
    /// [`Recorder::finish`]), not the events.
    pub fn tee(
        mut events: mpsc::Receiver<Event>,
        mut writer: Writer,
    ) -> (mpsc::Receiver<Event>, Recorder) {
        let (tx, rx) = mpsc::channel(crate::source::CHANNEL_CAPACITY);
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let (report, progress) = watch::channel(Progress {
            frames: writer.frames,
            bytes: writer.bytes,
            error: None,
        });
        let task = tokio::spawn(async move {
            let mut failed = None;
            let mut forwarding = true;
            let mut paused = None;
            let mut record = |writer: &mut Writer, event: &Event| {
                if let Event::Paused(p) = event {
                    // The state stream repeats it every tick: keep only changes.
                    if paused.replace(*p) == Some(*p) {
                        return;
                    }
                }
                if failed.is_none() {
                    // Small writes to the page cache; a big first update is one larger write.
                    let at = time::now();
                    match tokio::task::block_in_place(|| writer.write(at, event)) {
                        Ok(()) => report.send_modify(|p| {
                            p.frames = writer.frames;
                            p.bytes = writer.bytes;
                        }),
                        Err(e) => {
                            tracing::error!("recording stopped: {e}");
                            writer.cut_partial_frame();
                            report.send_modify(|p| p.error = Some(e.to_string()));
                            failed = Some(e);
                        }
                    }
                }
            };
            loop {
                let event = tokio::select! {
                    e = events.recv() => match e {
                        Some(e) => e,
                        None => break,
                    },
                    _ = &mut stopped => {
                        // Keep what had already arrived.
                        while let Ok(e) = events.try_recv() {
                            record(&mut writer, &e);
                        }
                        break;
                    }
                };
                record(&mut writer, &event);
                // A consumer that went away ends the forwarding, not the recording.
                if forwarding && tx.send(event).await.is_err() {
                    forwarding = false;
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(writer),
            }
        });
        (
            rx,
            Recorder {
                task,
                stop,
                progress,
            },
        )
    }

    /// Frames and bytes written so far, and the error that stopped the recording (if any).
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// Stop recording: every event received so far is in the file, followed by the end marker.
    /// Returns the frames and bytes written.
    pub async fn finish(self) -> io::Result<(u64, u64)> {
        let _ = self.stop.send(());
        let writer = self.task.await.map_err(io::Error::other)??;
        writer.finish()
    }
}
