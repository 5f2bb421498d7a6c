//! Errors a user can act on, each with its own exit code so that scripts can tell them apart,
//! and [`Failure`]: how a command ended when it did not succeed (what `main` prints, the code
//! it exits with).

use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::recording::RecordingError;

/// Exit codes, documented in `--help` (see [`crate::cli::EXIT_CODES`]).
pub mod exit {
    pub const OK: i32 = 0;
    /// Anything not listed below (I/O error writing the output, ...).
    pub const OTHER: i32 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: i32 = 2;
    pub const NO_SUCH_PROCESS: i32 = 3;
    pub const NO_CONSOLE: i32 = 4;
    pub const NOT_CONSOLE: i32 = 5;
    pub const PERMISSION: i32 = 6;
    pub const TARGET_EXITED: i32 = 7;
    pub const UNREACHABLE: i32 = 8;
    pub const TIMEOUT: i32 = 9;
    /// A recording that cannot be read (missing, not a recording, corrupt, newer version).
    pub const BAD_RECORDING: i32 = 10;
    /// `export` cannot listen on its `--listen` address (in use, not permitted, not local).
    pub const LISTEN: i32 = 11;
    /// Interrupted by Ctrl-C / SIGTERM before finishing (128 + SIGINT).
    pub const INTERRUPTED: i32 = 130;
    /// Stopped by SIGTERM (128 + SIGTERM).
    pub const TERMINATED: i32 = 143;
    /// Stopped by SIGHUP, the terminal going away (128 + SIGHUP).
    pub const HUNG_UP: i32 = 129;
    /// Stopped by SIGQUIT (128 + SIGQUIT).
    pub const QUIT: i32 = 131;
}

pub const HOW_TO_INSTRUMENT: &str = "to instrument a tokio process: add `console-subscriber` and call `console_subscriber::init()` at start-up, enable tokio's `tracing` feature, and build with RUSTFLAGS=\"--cfg tokio_unstable\" (it then listens on 127.0.0.1:6669, or $TOKIO_CONSOLE_BIND)";

#[derive(Debug, Error)]
pub enum AttachError {
    #[error("no process with pid {0}")]
    NoSuchProcess(i32),
    #[error("process {pid} has no tokio console endpoint (listening sockets tried: {tried}); {HOW_TO_INSTRUMENT}")]
    NoConsole { pid: i32, tried: String },
    #[error("{endpoint} is not a tokio console endpoint: {detail}")]
    NotConsole { endpoint: String, detail: String },
    #[error("permission denied reading {path} of process {pid}: run asyncmem as the target's user or as root, or pass --addr")]
    PermissionDenied { pid: i32, path: String },
    #[error("target process {0} exited")]
    TargetExited(i32),
    #[error("target at {0} closed the connection and is gone")]
    EndpointGone(String),
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("bad address {addr:?}: {detail} (expected http://HOST:PORT or file:///PATH)")]
    BadAddress { addr: String, detail: String },
}

impl AttachError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AttachError::NoSuchProcess(_) => exit::NO_SUCH_PROCESS,
            AttachError::NoConsole { .. } => exit::NO_CONSOLE,
            AttachError::NotConsole { .. } => exit::NOT_CONSOLE,
            AttachError::PermissionDenied { .. } => exit::PERMISSION,
            AttachError::TargetExited(_) | AttachError::EndpointGone(_) => exit::TARGET_EXITED,
            AttachError::Unreachable { .. } => exit::UNREACHABLE,
            AttachError::Timeout { .. } => exit::TIMEOUT,
            AttachError::BadAddress { .. } => exit::USAGE,
        }
    }
}

/// How a command ended when it did not succeed: its exit code and the lines for stderr, which
/// `main` prints (its [`Display`](fmt::Display)) once the command has returned.
#[derive(Debug)]
pub struct Failure {
    code: i32,
    lines: Vec<String>,
}

impl Failure {
    /// `asyncmem: error: {message}`.
    pub fn new(code: i32, message: impl fmt::Display) -> Failure {
        Failure {
            code,
            lines: vec![format!("asyncmem: error: {message}")],
        }
    }

    /// `err` and its sources, as `what: err: source: ...`.
    pub fn caused_by(
        code: i32,
        what: impl fmt::Display,
        err: &(dyn std::error::Error + 'static),
    ) -> Failure {
        Failure::new(code, format!("{what}: {}", chain(err)))
    }

    /// A recording that cannot be read.
    pub fn reading_recording(path: &std::path::Path, err: &RecordingError) -> Failure {
        Failure::caused_by(
            exit::BAD_RECORDING,
            format_args!("reading the recording {}", path.display()),
            err,
        )
    }

    /// A signal arrived before the command got going: `asyncmem: interrupted`.
    pub fn interrupted(code: i32) -> Failure {
        Failure {
            code,
            lines: vec!["asyncmem: interrupted".into()],
        }
    }

    /// A signal ended the command as asked: nothing to say.
    pub fn signalled(code: i32) -> Failure {
        Failure {
            code,
            lines: Vec::new(),
        }
    }

    /// `later` happened while cleaning up after this failure: both are said, this one's code
    /// is kept.
    pub fn then(mut self, later: Failure) -> Failure {
        self.lines.extend(later.lines);
        self
    }

    /// A line of progress said after this failure (it happened after it).
    pub fn then_say(mut self, line: String) -> Failure {
        self.lines.push(line);
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.code
    }
}

/// The lines for stderr, each ending in a newline.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.lines.iter().try_for_each(|l| writeln!(f, "{l}"))
    }
}

/// `err: source: source ...` (as anyhow's `{:#}` prints a chain).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl From<AttachError> for Failure {
    fn from(e: AttachError) -> Failure {
        Failure::new(e.exit_code(), chain(&e))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(exit::OTHER, chain(&e))
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Failure {
        Failure::new(exit::OTHER, chain(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_says_its_cause_and_the_sources_as_anyhow_did() {
        let path = std::path::Path::new("/no/such/recording");
        let err = RecordingError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        let failure = Failure::reading_recording(path, &err);
        let anyhow_said = format!(
            "asyncmem: error: {:#}\n",
            anyhow::Error::new(err).context(format!("reading the recording {}", path.display()))
        );
        assert_eq!(failure.to_string(), anyhow_said);
        assert_eq!(failure.exit_code(), exit::BAD_RECORDING);
    }

    #[test]
    fn a_later_failure_is_said_after_and_the_first_code_kept() {
        let f = Failure::signalled(exit::TERMINATED)
            .then(Failure::new(exit::OTHER, "the recording is incomplete"))
            .then_say("asyncmem: recorded 3 frames".into());
        assert_eq!(
            f.to_string(),
            "asyncmem: error: the recording is incomplete\nasyncmem: recorded 3 frames\n"
        );
        assert_eq!(f.exit_code(), exit::TERMINATED);
        assert_eq!(
            Failure::interrupted(exit::INTERRUPTED).to_string(),
            "asyncmem: interrupted\n"
        );
    }
}
