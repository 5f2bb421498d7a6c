//! How the model's numbers and tasks become text, the same in `snapshot --format table` and in
//! the TUI: units ([`units`]) and the task table's columns, their cells and which of them fit a
//! width ([`columns`]). Plain strings, no terminal: the TUI styles them, the table output
//! pads them.

pub mod columns;
pub mod units;

pub use columns::Column;
