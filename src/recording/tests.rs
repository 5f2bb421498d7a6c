//! The recording format: round trips, and every way a file can be cut or damaged.

use std::io::Cursor;

use proptest::prelude::*;

use super::write::encode_frame;
use super::*;
use crate::model::series::RssSample;
use crate::model::synth;
use crate::model::{Event, HeapEvent, Model};

fn header() -> Header {
    Header {
        asyncmem: "test".into(),
        started_at: 1_000,
        pid: Some(42),
        endpoint: "http://127.0.0.1:6669".into(),
    }
}

/// One event of every kind a source produces.
fn events() -> Vec<(i64, Event)> {
    let tasks = (1..=5)
        .map(|i| synth::ptask(i, 100 + i, 64 * i, None, "t"))
        .collect();
    // One stats entry: the map's encoding order is not fixed, and frames are compared as bytes.
    let stats = vec![(1, synth::stats(500))];
    let update = synth::update(1_000_000_000, true, tasks, stats);
    vec![
        (2_000, Event::Connected { pid: Some(42) }),
        (3_000, Event::Update(Box::new(update))),
        (
            4_000,
            Event::Rss(RssSample {
                at: 4_000,
                rss_bytes: 10 << 20,
                anon_rss_bytes: 6 << 20,
                threads: 3,
            }),
        ),
        (
            5_000,
            Event::Disconnected {
                attempt: 2,
                reason: "connection refused ✓".into(),
            },
        ),
        (6_000, Event::Connected { pid: None }),
        (7_000, Event::Paused(true)),
        (8_000, Event::Details(Box::default())),
        (8_500, Event::NotTracked(990_000)),
        (8_600, Event::Dump(Box::new(Ok(dump())))),
        (
            8_700,
            Event::Dump(Box::new(Err("no dump service ✓".into()))),
        ),
        (8_800, Event::Heap(Box::new(heap_figures(true)))),
        (8_900, Event::Heap(Box::new(heap_figures(false)))),
        (
            8_950,
            Event::Heap(Box::new(HeapEvent::Failed("stream ended ✓".into()))),
        ),
        (9_000, Event::NoConsole),
        (10_000, Event::TargetExited),
    ]
}

/// Heap figures of tasks 1 and 2 (a full picture, or a delta).
fn heap_figures(full: bool) -> HeapEvent {
    use asyncmem_probe::wire::{HeapFigures, HeapUpdate, TaskHeap};
    let figures = |bytes| HeapFigures {
        live_bytes: bytes,
        live_allocs: 1,
        peak_bytes: bytes,
    };
    HeapEvent::Figures {
        full,
        update: HeapUpdate {
            now: synth::stamp(2_000_000_000),
            tasks: vec![
                TaskHeap {
                    id: 1,
                    heap: Some(figures(16_384)),
                },
                TaskHeap {
                    id: 2,
                    heap: Some(figures(200)),
                },
            ],
            outside_tasks: Some(figures(4096)),
            left_by_ended_tasks: Some(figures(0)),
        },
    }
}

/// A task dump of two tasks, one trace each.
fn dump() -> crate::model::TaskDump {
    use asyncmem_probe::wire::{Backtrace, DumpSummary, Frame, TaskTrace};
    let trace = |task_id, line| TaskTrace {
        task_id,
        backtraces: vec![Backtrace {
            frames: vec![Frame {
                function: "server::conn::serve::{{closure}}".into(),
                file: "/src/server/src/conn.rs".into(),
                line,
                col: 9,
            }],
        }],
        cut: false,
    };
    crate::model::TaskDump {
        summary: DumpSummary {
            pause_us: 2_100,
            resolve_us: 9_000,
            runtimes: 1,
            tasks: 2,
            notes: vec!["runtime 2 (current_thread) was not dumped".into()],
        },
        tasks: vec![trace(101, 40), trace(102, 41)],
        left_out: 3,
    }
}

fn file_bytes(events: &[(i64, Event)], end: bool) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!(
        "asyncmem-rec-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("r.amrec");
    let mut w = Writer::create(&path, &header(), true).unwrap();
    for (at, e) in events {
        w.write(*at, e).unwrap();
    }
    if end {
        w.finish().unwrap();
    } else {
        drop(w);
    }
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

fn frame_bytes(at: i64, e: &Event) -> Vec<u8> {
    let mut b = Vec::new();
    encode_frame(&mut b, at, e);
    b
}

/// Read everything; the frames (re-encoded, to compare) and how it ended.
fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, Result<bool, RecordingError>) {
    let mut reader = match Reader::new(Cursor::new(bytes)) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut frames = Vec::new();
    loop {
        match reader.next_frame() {
            Ok(Some(f)) => frames.push(frame_bytes(f.at, &f.event)),
            Ok(None) => return (frames, Ok(reader.ended_cleanly)),
            Err(e) => return (frames, Err(e)),
        }
    }
}

#[test]
fn every_event_kind_round_trips() {
    let events = events();
    let bytes = file_bytes(&events, true);
    let (frames, end) = read_all(&bytes);
    assert!(end.unwrap(), "the end marker was read");
    let want: Vec<_> = events.iter().map(|(at, e)| frame_bytes(*at, e)).collect();
    assert_eq!(frames, want);
    let reader = Reader::new(Cursor::new(&bytes)).unwrap();
    assert_eq!(reader.header, header());
}

#[test]
fn a_replayed_recording_builds_the_same_model() {
    let events = events();
    let bytes = file_bytes(&events[..4], true);
    let mut live = Model::default();
    for (_, e) in events.into_iter().take(4) {
        live.apply(e);
    }
    let mut replayed = Model::default();
    for f in Reader::new(Cursor::new(&bytes)).unwrap() {
        replayed.apply(f.unwrap().event);
    }
    assert_eq!(replayed.counts(), live.counts());
    assert_eq!(replayed.last_rss(), live.last_rss());
    let sizes = |m: &Model| {
        let mut s: Vec<_> = m.tasks().map(|t| t.size_bytes).collect();
        s.sort();
        s
    };
    assert_eq!(sizes(&replayed), sizes(&live));
    assert_eq!(sizes(&live).len(), 5);
}

/// A recorded task dump comes back whole (`top`'s `d` in a replay shows it).
#[test]
fn a_recorded_dump_replays() {
    let events = vec![(8_600, Event::Dump(Box::new(Ok(dump()))))];
    let bytes = file_bytes(&events, true);
    let mut replayed = Model::default();
    for f in Reader::new(Cursor::new(&bytes)).unwrap() {
        replayed.apply(f.unwrap().event);
    }
    let d = replayed.dump().expect("the dump");
    assert_eq!(d.outcome, Ok(dump()));
    assert_eq!(d.seq, 1);
}

/// Recorded heap figures replay: the tasks' heap, the sums and the process's figures.
#[test]
fn recorded_heap_figures_replay() {
    let tasks = (1..=3)
        .map(|i| synth::ptask(i, 100 + i, 64, None, "t"))
        .collect();
    let stats = (1..=3).map(|i| (i, synth::stats(500))).collect();
    let update = synth::update(1_000_000_000, true, tasks, stats);
    let events = vec![
        (1_000, Event::Update(Box::new(update))),
        (2_000, Event::Heap(Box::new(heap_figures(true)))),
    ];
    let bytes = file_bytes(&events, true);
    let mut replayed = Model::default();
    for f in Reader::new(Cursor::new(&bytes)).unwrap() {
        replayed.apply(f.unwrap().event);
    }
    let heap = |id| {
        let t = replayed.tasks().find(|t| t.console_id == id).unwrap();
        replayed.heap_of(t).map(|h| h.bytes)
    };
    assert_eq!(
        (heap(1), heap(2), heap(3)),
        (Some(16_384), Some(200), Some(0))
    );
    assert_eq!(replayed.heap().live().map(|h| h.bytes), Some(16_584));
    assert_eq!(replayed.heap().outside_tasks().map(|h| h.bytes), Some(4096));
}

/// A file of an older version (3: no heap frames) still reads.
#[test]
fn an_older_version_still_reads() {
    let events = events();
    let old: Vec<_> = events
        .into_iter()
        .filter(|(_, e)| !matches!(e, Event::Heap(_)))
        .collect();
    let mut bytes = file_bytes(&old, true);
    bytes[12..14].copy_from_slice(&3u16.to_le_bytes());
    let (frames, end) = read_all(&bytes);
    assert!(end.unwrap());
    assert_eq!(frames.len(), old.len());
}

#[test]
fn a_recording_cut_anywhere_yields_every_whole_frame_before_the_cut() {
    let events = events();
    let bytes = file_bytes(&events, false);
    let whole: Vec<_> = events.iter().map(|(at, e)| frame_bytes(*at, e)).collect();
    let header_len = bytes.len() - whole.iter().map(Vec::len).sum::<usize>();
    for cut in 0..bytes.len() {
        let (frames, end) = read_all(&bytes[..cut]);
        // Frames that end at or before the cut are all there.
        let mut boundary = header_len;
        let mut expect = 0;
        for f in &whole {
            if boundary + f.len() > cut {
                break;
            }
            boundary += f.len();
            expect += 1;
        }
        assert_eq!(frames, whole[..expect], "cut at {cut}: {end:?}");
        match end {
            Ok(clean) => {
                assert!(!clean);
                assert_eq!(cut, boundary, "a cut inside a frame must be reported");
            }
            Err(RecordingError::Empty) => assert_eq!(cut, 0),
            Err(RecordingError::Truncated { offset, .. }) => {
                assert!(cut > 0);
                assert!(offset as usize <= cut);
                if cut >= header_len {
                    assert_eq!(
                        offset as usize, boundary,
                        "names the start of the cut frame"
                    );
                }
            }
            Err(e) => panic!("cut at {cut}: unexpected {e}"),
        }
    }
}

#[test]
fn any_flipped_byte_is_caught_or_harmless() {
    let events = events();
    let bytes = file_bytes(&events, true);
    let (clean, _) = read_all(&bytes);
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            let (frames, end) = read_all(&bad);
            // Whatever was returned before the error is exactly what the file held.
            assert_eq!(frames, clean[..frames.len()], "flip at {i}");
            if end.is_ok() {
                // Only a flip in the header's JSON can pass (it is checksummed, so no).
                assert_eq!(
                    frames.len(),
                    clean.len(),
                    "flip at {i} lost frames silently"
                );
            }
        }
    }
}

#[test]
fn bad_files_have_clear_errors() {
    let err = |b: &[u8]| Reader::new(Cursor::new(b)).err().unwrap().to_string();
    assert!(err(b"").contains("empty"));
    assert!(err(b"hello, world").contains("not an asyncmem recording"));
    assert!(err(&MAGIC[..5]).contains("cut at byte 0"));
    let mut future = file_bytes(&[], true);
    future[12] = 9;
    assert!(
        err(&future).contains("version 9 is newer"),
        "{}",
        err(&future)
    );
    let mut bad_len = file_bytes(&[], true);
    bad_len[14..18].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(err(&bad_len).contains("corrupt at byte 14"));
}

#[test]
fn a_huge_claimed_frame_is_corrupt_not_an_allocation() {
    let mut bytes = file_bytes(&[], false);
    bytes.extend_from_slice(&(MAX_FRAME_BYTES + 1).to_le_bytes());
    let (_, end) = read_all(&bytes);
    assert!(matches!(end, Err(RecordingError::Corrupt { .. })));
    // Just under the limit, but the file ends: truncated, after reading only what is there.
    let mut bytes = file_bytes(&[], false);
    let at = bytes.len() as u64;
    bytes.extend_from_slice(&MAX_FRAME_BYTES.to_le_bytes());
    bytes.extend_from_slice(&[1; 100]);
    let (_, end) = read_all(&bytes);
    assert!(matches!(end, Err(RecordingError::Truncated { offset, .. }) if offset == at));
}

/// Cases per property: 2,000 in the test suite; `PROPTEST_CASES` runs a longer fuzz (the
/// README gives the figure).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000)
}

/// Recompute every frame's checksum after a mutation, so that the damage reaches the payload
/// decoders instead of stopping at the checksum. Stops where the framing no longer parses.
fn fix_checksums(bytes: &mut [u8]) {
    if bytes.len() < 18 {
        return;
    }
    let le = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let mut at = 18 + le(bytes, 14).min(bytes.len()) + 4;
    while at + 4 <= bytes.len() {
        let len = le(bytes, at);
        let end = at + 4 + len;
        if len < 9 || end + 4 > bytes.len() {
            return;
        }
        let crc = crc32fast::hash(&bytes[at + 4..end]);
        bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
        at = end + 4;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// A real recording, damaged: bytes overwritten, cut, or spliced, with checksums fixed up
    /// or not. Reading it and feeding the model never panics, and what is read before the
    /// first error is a prefix of the original's frames when the checksums were not fixed.
    #[test]
    fn damaged_recordings_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
        fix in any::<bool>(),
    ) {
        static ORIGINAL: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let original = ORIGINAL.get_or_init(|| file_bytes(&events(), true));
        let mut bytes = original.clone();
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if fix {
            fix_checksums(&mut bytes);
        }
        let (frames, _) = read_all(&bytes);
        let mut model = Model::default();
        if let Ok(reader) = Reader::new(Cursor::new(&bytes)) {
            for f in reader.flatten() {
                model.apply(f.event);
            }
        }
        if !fix {
            let (clean, _) = read_all(original);
            prop_assert!(frames.len() <= clean.len());
            prop_assert_eq!(&frames[..], &clean[..frames.len()]);
        }
    }

    /// Any bytes at all: an error or frames, never a panic.
    #[test]
    fn arbitrary_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_all(&bytes);
    }

    /// A valid header followed by arbitrary frames with valid checksums: the payload decoders
    /// see hostile input, and the model ingests whatever decodes.
    #[test]
    fn hostile_checksummed_frames_never_panic(
        frames in proptest::collection::vec((1u8..=10, any::<i64>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..8)
    ) {
        let mut bytes = file_bytes(&[], false);
        for (kind, at, payload) in frames {
            let mut body = vec![kind];
            body.extend_from_slice(&at.to_le_bytes());
            body.extend_from_slice(&payload);
            bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&body);
            bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        }
        let mut model = Model::default();
        if let Ok(reader) = Reader::new(Cursor::new(&bytes)) {
            for f in reader {
                match f {
                    Ok(f) => model.apply(f.event),
                    Err(_) => break,
                }
            }
        }
    }
}
