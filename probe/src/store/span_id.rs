//! Span ids of the probe's own subscriber (direct mode): the id names its record's shard and
//! slot, with part of the console id as a check, so no span-id table is needed.

/// Span ids of the probe's own subscriber: bit 63 set, 31 bits of the console id as a check,
/// the shard (5 bits) and the slot (27 bits).
pub(crate) fn encode(shard: usize, slot: u32, id: u64) -> u64 {
    1 << 63 | (id & 0x7fff_ffff) << 32 | (shard as u64) << 27 | slot as u64
}

/// The largest slot a direct span id can name; all ones is `UNTRACKED`, never handed out.
pub(super) const MAX_DIRECT_SLOT: u32 = (1 << 27) - 1;

/// The shard, slot and console-id check of a span id made by [`encode`]; None for any other.
pub(super) fn decode(span: u64) -> Option<(usize, u32, u64)> {
    (span >> 63 == 1 && span & MAX_DIRECT_SLOT as u64 != MAX_DIRECT_SLOT as u64).then_some((
        ((span >> 27) & 31) as usize,
        (span & MAX_DIRECT_SLOT as u64) as u32,
        (span >> 32) & 0x7fff_ffff,
    ))
}
