//! Recordings: a versioned, streaming file of everything the model is fed (console updates, RSS
//! samples, connection changes), each with the wall-clock time asyncmem received it. Written one
//! frame per event with a single `write` each, so a killed asyncmem or target loses nothing
//! already received; read back by `replay` and `snapshot --from`.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! file    = MAGIC(12) version:u16 header_len:u32 header:JSON header_crc:u32 frame*
//! frame   = body_len:u32 body crc32(body):u32
//! body    = kind:u8 at:i64 payload            (at: ns since the Unix epoch)
//! ```
//!
//! Payloads: `Update` and `Details` are the console protobuf messages as received (prost
//! encoding), an `Update` without its resource and async-op parts (asyncmem does not read
//! them); heap figures are the probe's `HeapUpdate` as received; RSS is three LEB128 varints; the rest are a varint or nothing. The last frame of a
//! recording that ended cleanly is `End`: without it, the recording was cut (crash, kill, full
//! disk) and everything up to the last whole frame is still read.

mod read;
mod write;

pub use read::{state_at, Frame, Reader, Scan, StateAt, Tail};
pub use write::{Progress, Recorder, Writer};

use serde::{Deserialize, Serialize};

/// The first bytes of every recording. The `\r\n\x1a\n` tail catches text-mode mangling (as
/// PNG's signature does).
pub const MAGIC: &[u8; 12] = b"ASYNCMEM\r\n\x1a\n";

/// The format version this build writes and the newest it reads. Version 2 added the
/// `NotTracked` frame, 3 the `Dump` frame, 4 the `Heap` frame; older files read as before.
pub const VERSION: u16 = 4;

/// Largest header accepted.
pub const MAX_HEADER_BYTES: u32 = 64 * 1024;

/// Largest frame body accepted: a console message is bounded by `--max-message-size` (256 MiB by
/// default) when received, so a bigger frame can only come from a corrupt file.
pub const MAX_FRAME_BYTES: u32 = 512 * 1024 * 1024;

/// Longest `Disconnected` reason kept.
pub const MAX_REASON_BYTES: usize = 4096;

/// What the recording is of; JSON so that fields can be added without a version bump.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The asyncmem version that wrote the file.
    pub asyncmem: String,
    /// When the recording started (ns since the Unix epoch).
    pub started_at: i64,
    pub pid: Option<i32>,
    pub endpoint: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Update = 1,
    Rss = 2,
    Connected = 3,
    Disconnected = 4,
    Paused = 5,
    Details = 6,
    TargetExited = 7,
    NoConsole = 8,
    /// The recording ended cleanly.
    End = 9,
    /// Tasks an update announced over `--max-tasks` (a count).
    NotTracked = 10,
    /// A task dump (since version 3): 0 and the dump (left-out count, then the probe's
    /// `DumpReply` message), or 1 and why there was none.
    Dump = 11,
    /// Heap figures from the probe's heap stream (since version 4): 0 and a delta, or 1 and a
    /// full picture (the probe's `HeapUpdate` message), or 2 and why the stream failed.
    Heap = 12,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Update,
            2 => Kind::Rss,
            3 => Kind::Connected,
            4 => Kind::Disconnected,
            5 => Kind::Paused,
            6 => Kind::Details,
            7 => Kind::TargetExited,
            8 => Kind::NoConsole,
            9 => Kind::End,
            10 => Kind::NotTracked,
            11 => Kind::Dump,
            12 => Kind::Heap,
            _ => return None,
        })
    }
}

/// Why a recording cannot be read (or read further). Positions are byte offsets in the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("reading the recording: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty: not an asyncmem recording")]
    Empty,
    #[error("not an asyncmem recording (the first bytes are not asyncmem's signature)")]
    NotRecording,
    #[error("recording format version {found} is newer than this asyncmem reads ({supported}): use a newer asyncmem")]
    FutureVersion { found: u16, supported: u16 },
    #[error("the recording is cut at byte {offset}, inside {what}")]
    Truncated { offset: u64, what: &'static str },
    #[error("the recording is corrupt at byte {offset}: {what}")]
    Corrupt { offset: u64, what: String },
    #[error("the recording comes from a pipe, which can be read only once, so asyncmem holds it in memory, up to {} MiB; this one is larger: save it to a file and use that", max / (1024 * 1024))]
    TooBigForPipe { max: u64 },
}

impl RecordingError {
    /// Cut before its end: what came before is whole and usable.
    pub fn is_truncation(&self) -> bool {
        matches!(self, RecordingError::Truncated { .. })
    }
}

#[cfg(test)]
mod tests;
