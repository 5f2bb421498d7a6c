//! Per-task details from `WatchTaskDetails`: the poll-time and scheduled-time histograms
//! (HdrHistogram, V2 serialized), decoded for the details view.

use console_api as proto;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use super::time::{self, Nanos};

/// Largest serialized histogram accepted: console-subscriber's are ~24 KB.
pub const MAX_HISTOGRAM_BYTES: usize = 1 << 20;

/// A decoded duration histogram (nanoseconds) and the outliers the subscriber clipped.
#[derive(Clone, Debug)]
pub struct DurationHistogram {
    pub histogram: Histogram<u64>,
    pub high_outliers: u64,
    pub highest_outlier: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct TaskDetails {
    pub console_id: u64,
    pub updated_at: Nanos,
    pub poll_times: Option<DurationHistogram>,
    pub scheduled_times: Option<DurationHistogram>,
    /// Why a histogram could not be decoded, if one could not.
    pub error: Option<String>,
}

/// Decode a V2-serialized HdrHistogram, refusing oversized input.
pub fn decode(raw: &[u8]) -> Result<Histogram<u64>, String> {
    if raw.len() > MAX_HISTOGRAM_BYTES {
        return Err(format!(
            "histogram of {} bytes is over the {MAX_HISTOGRAM_BYTES} byte limit",
            raw.len()
        ));
    }
    check_v2_header(raw)?;
    let mut cursor = raw;
    Deserializer::new()
        .deserialize(&mut cursor)
        .map_err(|e| format!("undecodable histogram: {e:?}"))
}

/// The V2 cookies as serialized (HdrHistogram's bases with the word-size bits `0x10`): plain,
/// and deflate-compressed.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// Cookie, payload length, normalizing offset, significant digits, low, high, ratio.
const V2_HEADER_BYTES: usize = 40;
/// Most significant digits and widest range (highest / lowest) accepted in a histogram header.
const MAX_SIGNIFICANT_DIGITS: u32 = 3;
const MAX_RANGE: u64 = 1 << 48;

/// Refuse what the deserializer would trust: it allocates (and zeroes) the payload length the
/// header claims, up to 4 GiB for a message of 40 bytes. The payload must be in `raw`. A
/// compressed histogram is refused: its inner header could claim any length (console-subscriber
/// sends plain V2).
fn check_v2_header(raw: &[u8]) -> Result<(), String> {
    let word = |at: usize| {
        raw.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    };
    match word(0) {
        Some(V2_COOKIE) => {}
        Some(V2_COMPRESSED_COOKIE) => {
            return Err("compressed histograms are not accepted".to_string())
        }
        // The deserializer refuses these itself, without allocating.
        _ => return Ok(()),
    }
    // The counts array the deserializer allocates is sized by the precision and the range the
    // header claims: console-subscriber sends 2 significant digits over 1 ns .. 60 s. Past 3
    // digits or a range of 2^48 (3 days in ns), a hostile header could claim tens of MB.
    let digits = word(12).unwrap_or(0);
    let long = |at: usize| {
        raw.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    };
    let (low, high) = (long(16).unwrap_or(1).max(1), long(24).unwrap_or(0));
    if digits > MAX_SIGNIFICANT_DIGITS || high / low > MAX_RANGE {
        return Err(format!(
            "undecodable histogram: its header claims {digits} significant digits over {low}..{high}, more than a task's poll times need"
        ));
    }
    let claimed = word(4).map_or(0, |n| n as usize);
    let holds = raw.len().saturating_sub(V2_HEADER_BYTES);
    if claimed > holds {
        return Err(format!(
            "undecodable histogram: its header claims a payload of {claimed} bytes, the message holds {holds}"
        ));
    }
    Ok(())
}

fn convert(h: &proto::tasks::DurationHistogram) -> Result<DurationHistogram, String> {
    Ok(DurationHistogram {
        histogram: decode(&h.raw_histogram)?,
        high_outliers: h.high_outliers,
        highest_outlier: h.highest_outlier,
    })
}

impl TaskDetails {
    pub fn from_proto(msg: &proto::tasks::TaskDetails) -> Option<TaskDetails> {
        let console_id = msg.task_id.as_ref()?.id;
        let mut error = None;
        let mut keep = |r: Result<DurationHistogram, String>| match r {
            Ok(h) => Some(h),
            Err(e) => {
                error = Some(e);
                None
            }
        };
        use proto::tasks::task_details::PollTimesHistogram;
        let poll_times = match &msg.poll_times_histogram {
            Some(PollTimesHistogram::Histogram(h)) => keep(convert(h)),
            Some(PollTimesHistogram::LegacyHistogram(raw)) => {
                keep(decode(raw).map(|histogram| DurationHistogram {
                    histogram,
                    high_outliers: 0,
                    highest_outlier: None,
                }))
            }
            None => None,
        };
        let scheduled_times = msg
            .scheduled_times_histogram
            .as_ref()
            .and_then(|h| keep(convert(h)));
        Some(TaskDetails {
            console_id,
            updated_at: msg.now.as_ref().map_or(0, time::from_timestamp),
            poll_times,
            scheduled_times,
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    /// A histogram as console-subscriber serializes it (2 significant digits over 1 ns..60 s).
    fn serialized(deflate: bool) -> Vec<u8> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
        h.record(1_000).unwrap();
        let mut raw = Vec::new();
        if deflate {
            hdrhistogram::serialization::V2DeflateSerializer::new()
                .serialize(&h, &mut raw)
                .unwrap();
        } else {
            V2Serializer::new().serialize(&h, &mut raw).unwrap();
        }
        raw
    }

    #[test]
    fn the_cookies_are_the_ones_hdrhistogram_writes() {
        let word = |raw: Vec<u8>| u32::from_be_bytes(raw[..4].try_into().unwrap());
        assert_eq!(word(serialized(false)), V2_COOKIE);
        assert_eq!(word(serialized(true)), V2_COMPRESSED_COOKIE);
    }

    /// Found by the structure-aware fuzz (tests/model_props.rs): a real histogram whose header
    /// claims a payload of 4 GiB made the deserializer allocate and zero all of it.
    #[test]
    fn a_header_claiming_more_payload_than_it_holds_is_refused() {
        let mut raw = serialized(false);
        raw[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = decode(&raw).unwrap_err();
        assert!(
            err.contains("claims a payload of 4294967295 bytes"),
            "{err}"
        );
        let mut digits = serialized(false);
        digits[12..16].copy_from_slice(&5u32.to_be_bytes());
        let err = decode(&digits).unwrap_err();
        assert!(err.contains("claims 5 significant digits"), "{err}");
        assert!(decode(&serialized(true))
            .unwrap_err()
            .contains("compressed"));
    }

    #[test]
    fn decodes_what_the_subscriber_encodes() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
        for v in [1_000u64, 2_000, 2_000, 50_000, 1_000_000] {
            h.record(v).unwrap();
        }
        let mut raw = Vec::new();
        V2Serializer::new().serialize(&h, &mut raw).unwrap();
        let msg = proto::tasks::TaskDetails {
            task_id: Some(proto::Id { id: 7 }),
            now: None,
            scheduled_times_histogram: Some(proto::tasks::DurationHistogram {
                raw_histogram: raw.clone(),
                max_value: 0,
                high_outliers: 1,
                highest_outlier: Some(99),
            }),
            poll_times_histogram: Some(
                proto::tasks::task_details::PollTimesHistogram::LegacyHistogram(raw),
            ),
        };
        let d = TaskDetails::from_proto(&msg).unwrap();
        assert_eq!(d.console_id, 7);
        let poll = d.poll_times.unwrap().histogram;
        assert_eq!(poll.len(), 5);
        assert!(poll.value_at_quantile(0.5) >= 1_990 && poll.value_at_quantile(0.5) <= 2_010);
        assert_eq!(d.scheduled_times.unwrap().high_outliers, 1);
        assert!(d.error.is_none());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for raw in [
            vec![],
            vec![0u8; 3],
            vec![0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 0xff],
            vec![0xffu8; 64],
        ] {
            assert!(decode(&raw).is_err());
        }
        assert!(decode(&vec![0u8; MAX_HISTOGRAM_BYTES + 1]).is_err());
    }
}
