//! Shutdown signals: one future that resolves with the signal that arrived, and what it means
//! (exit code, wording). A new signal (SIGHUP, SIGQUIT) is a variant here and an entry in the
//! sets below.

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
}

/// What stops a command that is running: `top`, `replay`, `record`, `export`.
pub const SHUTDOWN: &[Signal] = &[Signal::Interrupt, Signal::Terminate];

/// What `snapshot` and attaching give up on; SIGTERM keeps its default action (the process dies).
pub const INTERRUPT: &[Signal] = &[Signal::Interrupt];

impl Signal {
    fn kind(self) -> SignalKind {
        match self {
            Signal::Interrupt => SignalKind::interrupt(),
            Signal::Terminate => SignalKind::terminate(),
        }
    }

    /// 128 + the signal's number, as a shell reports a process the signal killed.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => exit::INTERRUPTED,
            Signal::Terminate => exit::TERMINATED,
        }
    }

    /// How a command stopped by this signal says so.
    pub fn outcome(self) -> &'static str {
        match self {
            Signal::Interrupt => "interrupted",
            Signal::Terminate => "terminated",
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
