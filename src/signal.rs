//! Shutdown signals: one future that resolves with the signal that arrived, and what it means
//! (exit code, wording). A new signal is a variant here and an entry in the sets below.

use std::future::poll_fn;
use std::task::Poll;

use tokio::signal::unix::{signal, SignalKind};

use crate::error::exit;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP: the terminal went away (or a user sent it).
    Hangup,
    /// SIGQUIT (Ctrl-\ in a terminal not in raw mode).
    Quit,
}

/// What stops a command that is running: `top`, `replay`, `record`, `export`. Each of them
/// would otherwise kill the process with the terminal left raw, a target left paused or a
/// recording without its end.
pub const SHUTDOWN: &[Signal] = &[
    Signal::Interrupt,
    Signal::Terminate,
    Signal::Hangup,
    Signal::Quit,
];

/// What `snapshot` and attaching give up on; SIGTERM keeps its default action (the process dies).
pub const INTERRUPT: &[Signal] = &[Signal::Interrupt];

impl Signal {
    fn kind(self) -> SignalKind {
        match self {
            Signal::Interrupt => SignalKind::interrupt(),
            Signal::Terminate => SignalKind::terminate(),
            Signal::Hangup => SignalKind::hangup(),
            Signal::Quit => SignalKind::quit(),
        }
    }

    /// 128 + the signal's number, as a shell reports a process the signal killed.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => exit::INTERRUPTED,
            Signal::Terminate => exit::TERMINATED,
            Signal::Hangup => exit::HUNG_UP,
            Signal::Quit => exit::QUIT,
        }
    }

    /// How a command stopped by this signal says so.
    pub fn outcome(self) -> &'static str {
        match self {
            Signal::Interrupt => "interrupted",
            Signal::Terminate => "terminated",
            Signal::Hangup => "hung up",
            Signal::Quit => "quit",
        }
    }
}

/// Resolves with the first of `signals` to arrive. The handlers are installed when it is first
/// polled (from then on the signals no longer kill the process); one that cannot be installed
/// is left out.
pub async fn first(signals: &[Signal]) -> Signal {
    let mut streams: Vec<_> = signals
        .iter()
        .filter_map(|&s| signal(s.kind()).ok().map(|stream| (s, stream)))
        .collect();
    poll_fn(|cx| {
        for (s, stream) in &mut streams {
            if stream.poll_recv(cx).is_ready() {
                return Poll::Ready(*s);
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        for (s, number) in [
            (Signal::Interrupt, 2),
            (Signal::Terminate, 15),
            (Signal::Hangup, 1),
            (Signal::Quit, 3),
        ] {
            assert_eq!(s.exit_code(), 128 + number, "{s:?}");
            assert_eq!(s.kind().as_raw_value(), number, "{s:?}");
        }
    }
}
