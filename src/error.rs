//! Errors a user can act on, each with its own exit code so that scripts can tell them apart.

use std::time::Duration;

use thiserror::Error;

/// Exit codes, documented in `--help` (see `main.rs`).
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
