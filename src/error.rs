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
    /// The target is stopped (SIGSTOP, job control) or held by a debugger: it cannot answer.
    pub const STOPPED: i32 = 12;
    /// `lesson`: some rows could not be measured (the others are printed).
    pub const LESSON_INCOMPLETE: i32 = 13;
    /// `layout`: nothing to build there (no Cargo.toml, not a package, no such package,
    /// binary or example).
    pub const LAYOUT_NO_TARGET: i32 = 14;
    /// `layout`: the build failed (the compiler's errors are shown as cargo prints them).
    pub const LAYOUT_BUILD_FAILED: i32 = 15;
    /// `layout`: the toolchain refuses the type-size report (`-Zprint-type-sizes`).
    pub const LAYOUT_TOOLCHAIN: i32 = 16;
    /// `layout --max-future`: a spawned future is larger than the limit.
    pub const LAYOUT_OVER_LIMIT: i32 = 17;
    /// `--layout FILE` cannot be read (missing, not a layout file, corrupt, newer schema).
    pub const BAD_LAYOUT: i32 = 18;
    /// `--dump`: the target cannot give a task dump (no dump service, built without the
    /// `taskdump` feature, a dump running, timed out, or cut off); the snapshot is printed.
    pub const NO_DUMP: i32 = 19;
    /// Interrupted by Ctrl-C / SIGTERM before finishing (128 + SIGINT).
    pub const INTERRUPTED: i32 = 130;
    /// Stopped by SIGTERM (128 + SIGTERM).
    pub const TERMINATED: i32 = 143;
    /// Standard output was closed early (`| head`): asyncmem ends quietly (128 + SIGPIPE).
    pub const BROKEN_PIPE: i32 = 141;
    /// Stopped by SIGHUP, the terminal going away (128 + SIGHUP).
    pub const HUNG_UP: i32 = 129;
    /// Stopped by SIGQUIT (128 + SIGQUIT).
    pub const QUIT: i32 = 131;
}

pub const HOW_TO_INSTRUMENT: &str = "to instrument a tokio process: add `asyncmem-probe` and call `asyncmem_probe::init()` at start-up (the lean choice; `console-subscriber` with `console_subscriber::init()` works too), enable tokio's `tracing` feature, and build with RUSTFLAGS=\"--cfg tokio_unstable\" (it then listens on 127.0.0.1:6669, or $TOKIO_CONSOLE_BIND)";

#[derive(Debug, Error)]
pub enum AttachError {
    #[error("no process with pid {0}")]
    NoSuchProcess(i32),
    #[error("{tid} is a thread of process {pid}, not a process: pass --pid {pid}")]
    Thread { tid: i32, pid: i32 },
    #[error("process {pid} has no tokio console endpoint (listening sockets tried: {tried}); {HOW_TO_INSTRUMENT}")]
    NoConsole { pid: i32, tried: String },
    /// Some of the process's listening sockets accepted a connection and then said nothing:
    /// a hung process, or servers that are not consoles; no advice to instrument it.
    #[error("process {pid} answered on none of its listening sockets within {after:?} (tried: {tried}): it is hung or too busy to answer, or those sockets are not tokio console endpoints")]
    NoAnswerPid {
        pid: i32,
        tried: String,
        after: Duration,
    },
    #[error("{endpoint} is not a tokio console endpoint: {detail}")]
    NotConsole { endpoint: String, detail: String },
    /// The endpoint accepted the connection and then said nothing.
    #[error("{endpoint} is not a tokio console endpoint, or its process is hung: it accepted the connection and sent no answer within {after:?}")]
    NoAnswer { endpoint: String, after: Duration },
    #[error("process {pid} is {state}: it cannot answer until it runs again{hint}")]
    Stopped {
        pid: i32,
        state: String,
        hint: String,
    },
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
    #[error("unknown demo {name:?}; bundled demos: {list}")]
    UnknownDemo { name: String, list: String },
}

impl AttachError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AttachError::NoSuchProcess(_) | AttachError::Thread { .. } => exit::NO_SUCH_PROCESS,
            AttachError::NoConsole { .. } | AttachError::NoAnswerPid { .. } => exit::NO_CONSOLE,
            AttachError::NotConsole { .. } | AttachError::NoAnswer { .. } => exit::NOT_CONSOLE,
            AttachError::Stopped { .. } => exit::STOPPED,
            AttachError::PermissionDenied { .. } => exit::PERMISSION,
            AttachError::TargetExited(_) | AttachError::EndpointGone(_) => exit::TARGET_EXITED,
            AttachError::Unreachable { .. } => exit::UNREACHABLE,
            AttachError::Timeout { .. } => exit::TIMEOUT,
            AttachError::BadAddress { .. } | AttachError::UnknownDemo { .. } => exit::USAGE,
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
        if let RecordingError::Io(io) = err {
            // Not "reading the recording PATH: reading the recording: ...".
            return Failure::caused_by(
                exit::BAD_RECORDING,
                format_args!("reading the recording {}", path.display()),
                io,
            );
        }
        Failure::caused_by(
            exit::BAD_RECORDING,
            format_args!("reading the recording {}", path.display()),
            err,
        )
    }

    /// A `--layout` file that cannot be read.
    pub fn reading_layout(err: &crate::layout::file::LayoutFileError) -> Failure {
        Failure::new(exit::BAD_LAYOUT, err)
    }

    /// A signal arrived before the command got going: `asyncmem: interrupted`.
    pub fn interrupted(code: i32) -> Failure {
        Failure {
            code,
            lines: vec!["asyncmem: interrupted".into()],
        }
    }

    /// Standard output was closed early (`asyncmem snapshot | head`): end quietly, as Unix
    /// tools do.
    pub fn broken_pipe() -> Failure {
        Failure {
            code: exit::BROKEN_PIPE,
            lines: Vec::new(),
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

/// `err: source: source ...` (as anyhow's `{:#}` prints a chain). A source whose text is
/// already said (an error that prints its cause in its own message) is not said again.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let said = s.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    text
}

/// Whether `err` or one of its sources is a write into a closed pipe.
fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
            // An error wrapped in an io::Error (the csv writer's) is its inner one, which
            // `source` skips.
            if let Some(inner) = io.get_ref() {
                if let Some(csv) = inner.downcast_ref::<csv::Error>() {
                    if let csv::ErrorKind::Io(io) = csv.kind() {
                        return io.kind() == std::io::ErrorKind::BrokenPipe;
                    }
                }
                if is_broken_pipe(inner) {
                    return true;
                }
            }
        }
        next = e.source();
    }
    false
}

impl From<AttachError> for Failure {
    fn from(e: AttachError) -> Failure {
        Failure::new(e.exit_code(), chain(&e))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        if is_broken_pipe(&e) {
            return Failure::broken_pipe();
        }
        Failure::new(exit::OTHER, chain(&e))
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Failure {
        if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
            return Failure::broken_pipe();
        }
        Failure::new(exit::OTHER, chain(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_says_its_cause_and_each_source_once() {
        let path = std::path::Path::new("/no/such/recording");
        let err = RecordingError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        let failure = Failure::reading_recording(path, &err);
        assert_eq!(
            failure.to_string(),
            "asyncmem: error: reading the recording /no/such/recording: gone\n"
        );
        assert_eq!(failure.exit_code(), exit::BAD_RECORDING);
        let err = RecordingError::Truncated {
            offset: 7,
            what: "a frame",
        };
        assert_eq!(
            Failure::reading_recording(path, &err).to_string(),
            "asyncmem: error: reading the recording /no/such/recording: the recording is cut at byte 7, inside a frame\n"
        );
    }

    #[test]
    fn an_os_error_is_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("opening: {0}")]
        struct Opening(#[source] std::io::Error);
        let io = std::io::Error::from_raw_os_error(21);
        let said = io.to_string();
        let failure = Failure::caused_by(exit::OTHER, "reading /tmp", &Opening(io));
        assert_eq!(failure.to_string().matches(&said).count(), 1, "{failure}");
    }

    #[test]
    fn a_closed_pipe_ends_quietly() {
        let f = Failure::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(f.exit_code(), exit::BROKEN_PIPE);
        assert_eq!(f.to_string(), "");
        let pipe = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let csv = std::io::Error::from(csv::Error::from(pipe()));
        assert_eq!(Failure::from(csv).exit_code(), exit::BROKEN_PIPE);
        let json = serde_json::Error::io(pipe());
        assert_eq!(Failure::from(json).exit_code(), exit::BROKEN_PIPE);
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
