//! What a live task costs in the target beyond its instrumentation, as far as the task table
//! can tell: tokio's task cell (header, core around the future, trailer, aligned to 128 bytes)
//! and, for a future tokio boxed, the box on the heap. Plain arithmetic on a task's reported
//! size, kept summed in [`super::Counts`] so that the explained memory is a series.

/// Bytes of tokio's task cell besides the stored future: header 40 + the core's scheduler,
/// task id, spawned-at and stage tag 72 + trailer 48, as `-Zprint-type-sizes` prints
/// `tokio::runtime::task::core::Cell` (tokio 1.54; `tests/fixtures/layout/*.types`: a 6,264-byte
/// future in a 6,528-byte cell, a boxed one in 256).
pub const TOKIO_CELL_FIXED_BYTES: u64 = 160;

/// Alignment of tokio's task cell (cache-line padded): its size is a multiple of this.
pub const TOKIO_CELL_ALIGN: u64 = 128;

/// What the cell stores for a future tokio boxed: the pointer to the box.
pub const BOXED_FUTURE_POINTER_BYTES: u64 = 8;

/// Estimated bytes a live task's future occupies in the target: its task cell, plus the box
/// holding the future when tokio boxed it. A future of unknown size counts as an empty one
/// (the cell alone): the estimate stays a lower bound.
pub fn task_bytes(size_bytes: Option<u64>, boxed: bool) -> u64 {
    let size = size_bytes.unwrap_or(0);
    let (stored, heap) = if boxed {
        (BOXED_FUTURE_POINTER_BYTES, size)
    } else {
        (size, 0)
    };
    let cell = (stored + TOKIO_CELL_FIXED_BYTES).div_ceil(TOKIO_CELL_ALIGN) * TOKIO_CELL_ALIGN;
    cell + heap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_as_the_compiler_prints_them() {
        // tests/fixtures/layout: corpus mid_sized (6,264 B) in a 6,528-byte cell; fat-vs-slim
        // debug: slim's cell 512 B (core 336 = future 264 + 72), fat boxed in a 256-byte cell.
        assert_eq!(task_bytes(Some(6264), false), 6528);
        assert_eq!(task_bytes(Some(264), false), 512);
        assert_eq!(task_bytes(Some(16640), true), 256 + 16640);
        assert_eq!(task_bytes(None, false), 256, "unknown size: the cell alone");
        assert_eq!(task_bytes(Some(96), false), 256);
        assert_eq!(task_bytes(Some(97), false), 384, "one byte over a line");
    }
}
