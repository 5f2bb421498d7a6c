//! Decoding `WatchUpdates` messages within `--max-tasks`.
//!
//! A console server chooses how many tasks one message announces. Decoded the usual way, every
//! announced task becomes a `Task` with its field list and strings (about a kilobyte each), so one
//! message of a million tasks takes over a gigabyte before the model can refuse the tasks past
//! `--max-tasks`. This decoder reads the message's protobuf itself and decodes a task, or a task's
//! stats, only when the model could track it: at most `max_tasks` tasks are held per connection
//! (a task leaves the count when its stats say it was dropped); the others are skipped undecoded
//! and counted, and the count reaches the model as [`crate::model::Event::NotTracked`]. Resource
//! and async-op updates, which nothing in asyncmem reads, are skipped too.
//!
//! Memory is then bounded by the message itself (at most `--max-message-size` bytes, held by
//! tonic while it is decoded) plus what `max_tasks` tasks take.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use console_api::instrument::{InstrumentRequest, Update};
use console_api::tasks::{Stats, Task, TaskUpdate};
use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;

/// The protobuf tags this decoder reads (console-api's `instrument.proto` and `tasks.proto`).
mod tag {
    pub const UPDATE_NOW: u32 = 1;
    pub const UPDATE_TASKS: u32 = 2;
    pub const UPDATE_METADATA: u32 = 5;
    pub const TASKS_NEW: u32 = 1;
    pub const TASKS_STATS: u32 = 3;
    pub const TASKS_DROPPED_EVENTS: u32 = 4;
    /// `Task.id`, `Id.id`, and a map entry's key.
    pub const FIRST: u32 = 1;
    /// A map entry's value.
    pub const ENTRY_VALUE: u32 = 2;
}

/// One decoded message: the update, within the bound, and how many tasks it announced that
/// were left out.
#[derive(Debug, Default)]
pub struct Decoded {
    pub update: Update,
    pub not_tracked: u64,
}

/// The ids of the tasks let through on one connection, at most `max_tasks` of them.
#[derive(Debug)]
pub struct Bound {
    max_tasks: usize,
    held: HashSet<u64>,
}

impl Bound {
    pub fn new(max_tasks: usize) -> Bound {
        Bound {
            max_tasks,
            held: HashSet::new(),
        }
    }

    /// Whether the task `id` is let through (taking a place if it is new and there is room).
    fn admit(&mut self, id: u64) -> bool {
        // One hash lookup either way: with room, inserting a held id is a no-op.
        if self.held.len() < self.max_tasks {
            self.held.insert(id);
            true
        } else {
            self.held.contains(&id)
        }
    }

    /// Decode one `Update` message.
    pub fn decode(&mut self, mut buf: Bytes) -> Result<Decoded, String> {
        let mut out = Decoded::default();
        while buf.has_remaining() {
            let (tag, wire) = decode_key(&mut buf).map_err(bad)?;
            match tag {
                tag::UPDATE_NOW => merge(wire, out.update.now.get_or_insert_default(), &mut buf)?,
                tag::UPDATE_TASKS => {
                    let body = delimited(wire, &mut buf)?;
                    let tasks = out.update.task_update.get_or_insert_default();
                    out.not_tracked += self.task_update(body, tasks)?;
                }
                tag::UPDATE_METADATA => merge(
                    wire,
                    out.update.new_metadata.get_or_insert_default(),
                    &mut buf,
                )?,
                // Resources (3), async ops (4) and whatever a newer server adds.
                _ => skip(wire, tag, &mut buf)?,
            }
        }
        Ok(out)
    }

    /// Merge a `TaskUpdate` body into `into`; returns the number of new tasks left out.
    fn task_update(&mut self, mut buf: Bytes, into: &mut TaskUpdate) -> Result<u64, String> {
        let mut left_out = 0;
        // Tasks without an id (malformed: the model warns of them) take no place; bound them
        // per message instead.
        let mut without_id = 0usize;
        while buf.has_remaining() {
            let (tag, wire) = decode_key(&mut buf).map_err(bad)?;
            match tag {
                tag::TASKS_NEW => {
                    let body = delimited(wire, &mut buf)?;
                    let keep = match first_varint(&body, true)? {
                        Some(id) => self.admit(id),
                        None => {
                            without_id += 1;
                            without_id <= self.max_tasks
                        }
                    };
                    if keep {
                        into.new_tasks.push(Task::decode(body).map_err(bad)?);
                    } else {
                        left_out += 1;
                    }
                }
                tag::TASKS_STATS => {
                    let entry = delimited(wire, &mut buf)?;
                    let id = first_varint(&entry, false)?.unwrap_or(0);
                    // Stats of a task left out were counted with it; they are not kept.
                    if self.admit(id) {
                        let stats = entry_value(entry)?;
                        if stats.dropped_at.is_some() {
                            // Its last stats: the task ended, and its place is free again.
                            self.held.remove(&id);
                        }
                        into.stats_update.insert(id, stats);
                    }
                }
                tag::TASKS_DROPPED_EVENTS => {
                    prost::encoding::uint64::merge(
                        wire,
                        &mut into.dropped_events,
                        &mut buf,
                        DecodeContext::default(),
                    )
                    .map_err(bad)?;
                }
                _ => skip(wire, tag, &mut buf)?,
            }
        }
        Ok(left_out)
    }
}

fn bad(e: prost::DecodeError) -> String {
    e.to_string()
}

fn merge<M: Message>(wire: WireType, msg: &mut M, buf: &mut Bytes) -> Result<(), String> {
    prost::encoding::message::merge(wire, msg, buf, DecodeContext::default()).map_err(bad)
}

fn skip(wire: WireType, tag: u32, buf: &mut Bytes) -> Result<(), String> {
    skip_field(wire, tag, buf, DecodeContext::default()).map_err(bad)
}

/// The body of a length-delimited field (zero-copy: a slice of the message).
fn delimited(wire: WireType, buf: &mut Bytes) -> Result<Bytes, String> {
    if wire != WireType::LengthDelimited {
        return Err(format!(
            "a field of wire type {wire:?} where a message was expected"
        ));
    }
    let len = decode_varint(buf).map_err(bad)?;
    match usize::try_from(len) {
        Ok(len) if len <= buf.remaining() => Ok(buf.copy_to_bytes(len)),
        _ => Err(format!(
            "a field of {len} bytes where {} remain",
            buf.remaining()
        )),
    }
}

/// The number in field 1 of a message: a map entry's key (`nested` false), or the id inside
/// the `Id` message in field 1 of a `Task` (`nested` true). `None` when absent.
fn first_varint(body: &[u8], nested: bool) -> Result<Option<u64>, String> {
    let mut buf = body;
    let mut found = None;
    while buf.has_remaining() {
        let (tag, wire) = decode_key(&mut buf).map_err(bad)?;
        match (tag, wire, nested) {
            (tag::FIRST, WireType::Varint, false) => {
                found = Some(decode_varint(&mut buf).map_err(bad)?);
            }
            (tag::FIRST, WireType::LengthDelimited, true) => {
                let len = decode_varint(&mut buf).map_err(bad)?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= buf.len())
                    .ok_or_else(|| format!("an id of {len} bytes where {} remain", buf.len()))?;
                let (id, rest) = buf.split_at(len);
                // Protobuf merges repeated fields: the last one wins, as prost decodes it.
                if let Some(v) = first_varint(id, false)? {
                    found = Some(v);
                }
                buf = rest;
            }
            _ => skip_field(wire, tag, &mut buf, DecodeContext::default()).map_err(bad)?,
        }
    }
    Ok(found)
}

/// The `Stats` value of a `stats_update` map entry.
fn entry_value(mut entry: Bytes) -> Result<Stats, String> {
    let mut stats = Stats::default();
    while entry.has_remaining() {
        let (tag, wire) = decode_key(&mut entry).map_err(bad)?;
        match tag {
            tag::ENTRY_VALUE => merge(wire, &mut stats, &mut entry)?,
            _ => skip(wire, tag, &mut entry)?,
        }
    }
    Ok(stats)
}

/// The tonic codec of `WatchUpdates` with the bound: a fresh [`Bound`] per stream.
pub struct UpdateCodec {
    max_tasks: usize,
}

impl UpdateCodec {
    pub fn new(max_tasks: usize) -> UpdateCodec {
        UpdateCodec { max_tasks }
    }
}

impl Codec for UpdateCodec {
    type Encode = InstrumentRequest;
    type Decode = Decoded;
    type Encoder = tonic_prost::ProstEncoder<InstrumentRequest>;
    type Decoder = UpdateDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        UpdateDecoder(Bound::new(self.max_tasks), Trim::default())
    }
}

pub struct UpdateDecoder(Bound, Trim);

/// Bytes of console messages decoded since the last trim past which the next message, a second
/// after the last trim or later, trims first.
const TRIM_AFTER_BYTES: usize = 256 * 1024;
/// Least time between two trims.
const TRIM_EVERY: Duration = Duration::from_secs(1);

/// Gives back to the system the memory the decoded messages of a burst (a target's initial
/// state) leave free in the tokio workers' malloc arenas once the model took them: glibc keeps
/// free chunks inside a thread's arena resident (`top` on 100,005 probe tasks: 5 MiB of 37,
/// `malloc_info`; see bench/RESULTS.md). At most once a second, and once per
/// [`TRIM_AFTER_BYTES`] of messages: a quiet target's small updates seldom trim. A message is
/// decoded before the model drops the previous one, so the trim runs at the message after the
/// large ones.
#[derive(Debug, Default)]
struct Trim {
    since_trim: usize,
    last: Option<Instant>,
}

impl Trim {
    /// Note a message of `bytes`; trim if the ones before it were large and the last trim was
    /// at least [`TRIM_EVERY`] ago.
    /// Returns whether it trimmed.
    fn before_message(&mut self, bytes: usize) -> bool {
        self.before_message_at(bytes, Instant::now())
    }

    fn before_message_at(&mut self, bytes: usize, now: Instant) -> bool {
        let due = self.since_trim >= TRIM_AFTER_BYTES
            && self
                .last
                .is_none_or(|t| now.saturating_duration_since(t) >= TRIM_EVERY);
        if due {
            crate::malloc::release_free_memory();
            self.since_trim = 0;
            self.last = Some(now);
        }
        self.since_trim = self.since_trim.saturating_add(bytes);
        due
    }
}

impl Decoder for UpdateDecoder {
    type Item = Decoded;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Decoded>, Status> {
        self.1.before_message(buf.remaining());
        let bytes = buf.copy_to_bytes(buf.remaining());
        self.0
            .decode(bytes)
            .map(Some)
            .map_err(|e| Status::internal(format!("an invalid console update: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synth::{ptask, stats, update};
    use console_api::resources::ResourceUpdate;

    fn encoded(u: &Update) -> Bytes {
        Bytes::from(u.encode_to_vec())
    }

    fn picture(ids: std::ops::Range<u64>) -> Update {
        let tasks = ids.clone().map(|id| ptask(id, id, 64, None, "t")).collect();
        let stats = ids.map(|id| (id, stats(1_000))).collect();
        update(2_000, true, tasks, stats)
    }

    #[test]
    fn under_the_bound_it_decodes_what_prost_decodes_but_resources() {
        let mut u = picture(1..50);
        u.resource_update = Some(ResourceUpdate {
            new_resources: vec![Default::default(); 3],
            ..Default::default()
        });
        let got = Bound::new(100).decode(encoded(&u)).unwrap();
        assert_eq!(got.not_tracked, 0);
        u.resource_update = None;
        assert_eq!(got.update, u);
    }

    #[test]
    fn tasks_past_the_bound_are_counted_and_their_stats_left_out() {
        let got = Bound::new(10).decode(encoded(&picture(1..1001))).unwrap();
        let tasks = got.update.task_update.unwrap();
        assert_eq!(tasks.new_tasks.len(), 10);
        assert_eq!(got.not_tracked, 990);
        let kept: HashSet<u64> = tasks
            .new_tasks
            .iter()
            .map(|t| t.id.as_ref().unwrap().id)
            .collect();
        let with_stats: HashSet<u64> = tasks.stats_update.keys().copied().collect();
        assert_eq!(kept, with_stats);
    }

    #[test]
    fn the_bound_holds_across_messages_and_a_dropped_task_frees_its_place() {
        let mut bound = Bound::new(10);
        let first = bound.decode(encoded(&picture(1..11))).unwrap();
        assert_eq!(first.not_tracked, 0);
        // Full: a later task is left out, a held one's stats still pass.
        let later = bound.decode(encoded(&picture(11..12))).unwrap();
        assert_eq!(later.not_tracked, 1);
        let mut ended = stats(1_000);
        ended.dropped_at = Some(prost_types::Timestamp {
            seconds: 1,
            nanos: 0,
        });
        let gone = bound
            .decode(encoded(&update(3_000, false, vec![], vec![(3, ended)])))
            .unwrap();
        assert!(gone
            .update
            .task_update
            .unwrap()
            .stats_update
            .contains_key(&3));
        let next = bound.decode(encoded(&picture(12..13))).unwrap();
        assert_eq!(next.not_tracked, 0, "task 3 ended: its place is free");
    }

    #[test]
    fn damaged_messages_are_errors_not_panics() {
        let whole = encoded(&picture(1..20));
        for cut in 0..whole.len() {
            let _ = Bound::new(5).decode(whole.slice(..cut));
        }
        // A field whose length is past the end of the message.
        let err = Bound::new(5)
            .decode(Bytes::from_static(&[0x12, 0xff, 0x01, 0x00]))
            .unwrap_err();
        assert!(err.contains("bytes where"), "{err}");
    }

    #[test]
    fn the_trim_follows_large_messages_at_most_once_a_second() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut trim = Trim::default();
        // Small updates trim once per TRIM_AFTER_BYTES of them.
        let trims = (0..1_000)
            .filter(|k| trim.before_message_at(1_024, at(k * 1_000)))
            .count();
        assert_eq!(trims, 1_000 * 1_024 / TRIM_AFTER_BYTES);
        // After a large message, the next one trims (the large one was taken by then).
        let mut trim = Trim::default();
        assert!(!trim.before_message_at(TRIM_AFTER_BYTES, at(0)));
        assert!(trim.before_message_at(10, at(1)));
        // A burst within the second after a trim waits for the second to pass.
        assert!(!trim.before_message_at(TRIM_AFTER_BYTES, at(2)));
        assert!(!trim.before_message_at(TRIM_AFTER_BYTES, at(500)));
        assert!(trim.before_message_at(10, at(1_001)));
        assert!(
            !trim.before_message_at(10, at(3_000)),
            "nothing large since"
        );
    }
}
