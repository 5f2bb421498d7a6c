//! What is computed from the model, the same for every output and the TUI: the bytes-per-task
//! fit and what the instrumentation costs ([`fit`]), lints and their counts ([`lints`]), the
//! by-location aggregates ([`locations`]), what live tasks explain of RSS ([`explained`]) and the
//! task filter language ([`filter`]). Pure
//! functions of the model; no terminal, no serializer.

pub mod diff;
pub mod dump;
pub mod explained;
pub mod filter;
pub mod fit;
pub mod layout;
pub mod lints;
pub mod locations;
pub mod spikes;

pub use diff::{diff, Diff, LocationChange, Moment};
pub use explained::{explained, explained_bytes, Explained};
pub use filter::Filter;
pub use fit::{
    bytes_per_task, instrumentation_bytes_per_task, reported_per_task, BytesPerTask, Fit, NoFit,
    Reading, ReportedPerTask, Split, CONSOLE_SUBSCRIBER_BYTES_PER_TASK, POOR_FIT_R2,
};
pub use lints::{lint_list, lints, Lint, LintConfig, LintCounts};
pub use locations::{by_location, origin, short_location, Location, Origin};
pub use spikes::{spikes, Spike, DEFAULT_SPIKES};

/// Announce lag past which RSS and the announced task count are out of step: a slope read while
/// the subscriber is this late is marked unreliable (README: "over 2 s").
pub const LAG_UNRELIABLE_NS: u64 = crate::model::LATE_ANNOUNCE_NS;

/// A live, announced task of the given size, for the tests of this room.
#[cfg(test)]
pub(crate) fn test_task(
    size: Option<u64>,
    boxed: bool,
    stats: crate::model::TaskStats,
) -> crate::model::Task {
    crate::model::Task {
        uid: 1,
        console_id: 1,
        task_id: Some(1),
        name: crate::model::Sym::NONE,
        location: crate::model::Sym::NONE,
        kind: crate::model::TaskKind::Task,
        announced: true,
        boxed,
        size_bytes: size,
        stats,
    }
}
