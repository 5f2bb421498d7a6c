//! How the model's numbers and tasks become text, the same in `snapshot --format table` and in
//! the TUI: units ([`units`]), the task table's columns, their cells and which of them fit a
//! width ([`columns`]), target-chosen strings made safe for a terminal ([`escape`]) and spawn
//! locations as a reader names them ([`location`]). Plain strings, no terminal: the TUI styles
//! them, the table output pads them.

pub mod columns;
pub mod escape;
pub mod layout;
pub mod location;
pub mod units;

pub use columns::Column;
pub use escape::{escape, escape_lines};
