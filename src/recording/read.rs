//! Reading recordings, frame by frame, with every failure named by its byte offset.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use console_api::instrument::Update;
use console_api::tasks::TaskDetails;
use prost::Message;

use super::{Header, Kind, RecordingError, MAGIC, MAX_FRAME_BYTES, MAX_HEADER_BYTES, VERSION};
use crate::model::series::RssSample;
use crate::model::time::Nanos;
use crate::model::{Event, HeapEvent};

/// One recorded event and when asyncmem received it.
#[derive(Debug)]
pub struct Frame {
    /// Byte offset of the frame in the file.
    pub offset: u64,
    pub at: Nanos,
    pub event: Event,
}

pub struct Reader<R> {
    r: R,
    pub header: Header,
    offset: u64,
    /// The end marker was read: the recording was closed cleanly.
    pub ended_cleanly: bool,
    /// An error was returned: as an iterator, the reader ends there.
    broken: bool,
}

impl Reader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        Reader::new(BufReader::with_capacity(1 << 16, File::open(path)?))
    }
}

impl<R: Read> Reader<R> {
    /// Read and check the header.
    pub fn new(r: R) -> Result<Self, RecordingError> {
        let mut reader = Reader {
            r,
            header: Header::default(),
            offset: 0,
            ended_cleanly: false,
            broken: false,
        };
        let mut magic = [0u8; MAGIC.len()];
        let n = reader.fill(&mut magic)?;
        if n == 0 {
            return Err(RecordingError::Empty);
        }
        if magic[..n] != MAGIC[..n] {
            return Err(RecordingError::NotRecording);
        }
        if n < magic.len() {
            return Err(truncated(0, "the file signature"));
        }
        let mut fixed = [0u8; 6];
        reader.exact(&mut fixed, 0, "the header")?;
        let version = u16::from_le_bytes([fixed[0], fixed[1]]);
        if version > VERSION {
            return Err(RecordingError::FutureVersion {
                found: version,
                supported: VERSION,
            });
        }
        if version == 0 {
            return Err(corrupt(12, "format version 0"));
        }
        let len = u32::from_le_bytes([fixed[2], fixed[3], fixed[4], fixed[5]]);
        if len > MAX_HEADER_BYTES {
            return Err(corrupt(
                14,
                format!("a header of {len} bytes (at most {MAX_HEADER_BYTES})"),
            ));
        }
        let mut json = vec![0u8; len as usize];
        reader.exact(&mut json, 0, "the header")?;
        let mut crc = [0u8; 4];
        reader.exact(&mut crc, 0, "the header")?;
        if crc32fast::hash(&json) != u32::from_le_bytes(crc) {
            return Err(corrupt(18, "the header's checksum does not match"));
        }
        reader.header = serde_json::from_slice(&json)
            .map_err(|e| corrupt(18, format!("the header is not valid: {e}")))?;
        Ok(reader)
    }

    /// Byte offset of the next frame.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next event; `None` at the end (check [`Reader::ended_cleanly`]). A truncated or
    /// corrupt frame is an error naming its offset; every frame before it was returned whole.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, RecordingError> {
        loop {
            if self.ended_cleanly {
                return Ok(None);
            }
            let start = self.offset;
            let mut len = [0u8; 4];
            match self.fill(&mut len)? {
                0 => return Ok(None),
                4 => {}
                _ => return Err(truncated(start, "a frame's length")),
            }
            let len = u32::from_le_bytes(len);
            if len < 9 {
                return Err(corrupt(
                    start,
                    format!("a frame of {len} bytes (at least 9)"),
                ));
            }
            if len > MAX_FRAME_BYTES {
                return Err(corrupt(
                    start,
                    format!("a frame of {len} bytes (at most {MAX_FRAME_BYTES})"),
                ));
            }
            // Grows with what is actually read: a corrupt length cannot make a huge allocation.
            let mut body = Vec::new();
            let got = (&mut self.r).take(u64::from(len)).read_to_end(&mut body)?;
            self.offset += got as u64;
            if got < len as usize {
                return Err(truncated(start, "a frame"));
            }
            let mut crc = [0u8; 4];
            self.exact(&mut crc, start, "a frame's checksum")?;
            if crc32fast::hash(&body) != u32::from_le_bytes(crc) {
                return Err(corrupt(
                    start,
                    format!("the checksum of a {len}-byte frame does not match"),
                ));
            }
            let Some(kind) = Kind::from_u8(body[0]) else {
                return Err(corrupt(start, format!("unknown frame kind {}", body[0])));
            };
            let mut at = [0u8; 8];
            at.copy_from_slice(&body[1..9]);
            let at = i64::from_le_bytes(at);
            let payload = &body[9..];
            let event = match decode(kind, at, payload) {
                Ok(Some(event)) => event,
                Ok(None) => {
                    self.ended_cleanly = true;
                    continue;
                }
                Err(what) => return Err(corrupt(start, what)),
            };
            return Ok(Some(Frame {
                offset: start,
                at,
                event,
            }));
        }
    }

    /// Read as much of `buf` as the file has; the count read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, RecordingError> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.offset += n as u64;
        Ok(n)
    }

    fn exact(
        &mut self,
        buf: &mut [u8],
        start: u64,
        what: &'static str,
    ) -> Result<(), RecordingError> {
        if self.fill(buf)? < buf.len() {
            return Err(truncated(start, what));
        }
        Ok(())
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Frame, RecordingError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.broken {
            return None;
        }
        let next = self.next_frame();
        self.broken = next.is_err();
        next.transpose()
    }
}

fn truncated(offset: u64, what: &'static str) -> RecordingError {
    RecordingError::Truncated { offset, what }
}

fn corrupt(offset: u64, what: impl Into<String>) -> RecordingError {
    RecordingError::Corrupt {
        offset,
        what: what.into(),
    }
}

/// The event of a frame; `None` for the end marker.
fn decode(kind: Kind, at: Nanos, mut p: &[u8]) -> Result<Option<Event>, String> {
    let varint = |p: &mut &[u8]| {
        prost::encoding::decode_varint(p).map_err(|_| format!("a bad number in a {kind:?} frame"))
    };
    let event = match kind {
        Kind::Update => Event::Update(Box::new(
            Update::decode(std::mem::take(&mut p))
                .map_err(|e| format!("an invalid console update: {e}"))?,
        )),
        Kind::Details => Event::Details(Box::new(
            TaskDetails::decode(std::mem::take(&mut p))
                .map_err(|e| format!("invalid task details: {e}"))?,
        )),
        Kind::Rss => {
            let sample = RssSample {
                at,
                rss_bytes: varint(&mut p)?,
                anon_rss_bytes: varint(&mut p)?,
                threads: varint(&mut p)?,
            };
            Event::Rss(sample)
        }
        Kind::Connected => {
            let v = varint(&mut p)?;
            let pid = match v {
                0 => None,
                v => {
                    Some(u32::try_from(v - 1).map_err(|_| "a pid out of range".to_string())? as i32)
                }
            };
            Event::Connected { pid }
        }
        Kind::Disconnected => {
            let attempt = varint(&mut p)?;
            let reason = String::from_utf8_lossy(std::mem::take(&mut p)).into_owned();
            Event::Disconnected {
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                reason,
            }
        }
        Kind::Paused => match std::mem::take(&mut p) {
            [b] => Event::Paused(*b != 0),
            _ => return Err("a Paused frame without its one byte".into()),
        },
        Kind::NotTracked => Event::NotTracked(varint(&mut p)?),
        Kind::Dump => match std::mem::take(&mut p).split_first() {
            Some((0, mut rest)) => {
                let left_out = varint(&mut rest)?;
                let reply = asyncmem_probe::wire::DumpReply::decode(rest)
                    .map_err(|e| format!("an invalid task dump: {e}"))?;
                Event::Dump(Box::new(Ok(crate::model::TaskDump {
                    summary: reply.summary.unwrap_or_default(),
                    tasks: reply.tasks,
                    left_out,
                })))
            }
            Some((1, why)) => Event::Dump(Box::new(Err(String::from_utf8_lossy(why).into_owned()))),
            _ => return Err("a Dump frame of no known form".into()),
        },
        Kind::Heap => match std::mem::take(&mut p).split_first() {
            Some((flag @ (0 | 1), rest)) => Event::Heap(Box::new(HeapEvent::Figures {
                full: *flag == 1,
                update: asyncmem_probe::wire::HeapUpdate::decode(rest)
                    .map_err(|e| format!("invalid heap figures: {e}"))?,
            })),
            Some((2, why)) => Event::Heap(Box::new(HeapEvent::Failed(
                String::from_utf8_lossy(why).into_owned(),
            ))),
            _ => return Err("a Heap frame of no known form".into()),
        },
        Kind::TargetExited => Event::TargetExited,
        Kind::NoConsole => Event::NoConsole,
        Kind::End => return Ok(None),
    };
    if !p.is_empty() {
        return Err(format!("{} stray bytes after a {kind:?} frame", p.len()));
    }
    Ok(Some(event))
}

/// How a recording ends.
#[derive(Debug)]
pub enum Tail {
    /// With its end marker.
    Clean,
    /// After a whole frame but without the end marker: asyncmem was killed, or is still writing.
    NoEndMarker,
    /// Cut or corrupt at some frame: everything before it is whole.
    Broken(RecordingError),
}

/// A pass over a whole recording: its extent and how it ends.
#[derive(Debug)]
pub struct Scan {
    pub header: Header,
    pub frames: u64,
    pub first_at: Option<Nanos>,
    pub last_at: Option<Nanos>,
    pub tail: Tail,
}

impl Scan {
    /// Read the whole recording once (checksums included). Errors only if the header itself is
    /// unreadable; a broken frame later is reported in `tail`.
    pub fn file(path: &Path) -> Result<Scan, RecordingError> {
        Ok(Scan::of(Reader::open(path)?))
    }

    /// The rest of `reader`'s recording, read once (checksums included).
    pub fn of<R: Read>(mut reader: Reader<R>) -> Scan {
        let mut scan = Scan {
            header: reader.header.clone(),
            frames: 0,
            first_at: None,
            last_at: None,
            tail: Tail::NoEndMarker,
        };
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    scan.frames += 1;
                    scan.first_at.get_or_insert(frame.at);
                    scan.last_at = Some(scan.last_at.map_or(frame.at, |t| t.max(frame.at)));
                }
                Ok(None) => {
                    if reader.ended_cleanly {
                        scan.tail = Tail::Clean;
                    }
                    return scan;
                }
                Err(e) => {
                    scan.tail = Tail::Broken(e);
                    return scan;
                }
            }
        }
    }
}

/// The model a recording builds up to `at` after its start (or to its end), and what a reader
/// should be told about it.
pub struct StateAt {
    pub model: crate::model::Model,
    pub header: Header,
    /// Things worth a warning: the file is cut, `at` is past its end.
    pub notes: Vec<String>,
}

/// Replay `path` into a fresh model of `cfg` up to `at` after the recording started (its end
/// when `None`). A recording cut mid-frame gives the state before the cut (and a note); any
/// other damage is an error, after `at` too (the rest of the file is read to check it): the
/// policy `replay` follows, so that both accept and refuse the same files.
pub fn state_at(
    path: &Path,
    at: Option<std::time::Duration>,
    cfg: crate::model::ModelConfig,
) -> Result<StateAt, RecordingError> {
    use crate::model::time;
    let mut reader = Reader::open(path)?;
    let header = reader.header.clone();
    let mut model = crate::model::Model::new(cfg);
    model.set_pid(header.pid);
    let until = at.map(|d| header.started_at.saturating_add(time::nanos_of(d)));
    let mut last_at = header.started_at;
    let mut notes = Vec::new();
    // Past `at`: frames are only checked.
    let mut past = false;
    loop {
        match reader.next_frame() {
            Ok(Some(_)) if past => {}
            Ok(Some(f)) if until.is_some_and(|u| f.at > u) => past = true,
            Ok(Some(f)) => {
                last_at = f.at;
                model.apply(f.event);
            }
            Ok(None) => {
                if let Some(at) = at.filter(|_| !past && until.is_some_and(|u| u > last_at)) {
                    let length = (last_at - header.started_at).max(0) as u64;
                    notes.push(format!(
                        "--at {} is past the end of the recording ({} long): the state at its end follows",
                        humantime::format_duration(at),
                        humantime::format_duration(std::time::Duration::from_nanos(length))
                    ));
                }
                break;
            }
            Err(e) if e.is_truncation() && past => {
                notes.push(format!("{e}, after the point asked for"));
                break;
            }
            Err(e) if e.is_truncation() => {
                notes.push(format!("{e}: the state before the cut follows"));
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if model.updates() == 0 && model.last_rss().is_none() {
        return Err(corrupt(
            reader.offset(),
            "the recording holds no console update or RSS reading before that point",
        ));
    }
    Ok(StateAt {
        model,
        header,
        notes,
    })
}
