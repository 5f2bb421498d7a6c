//! The command line: subcommands and their flags (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::insight::LintConfig;
use crate::model::{ModelConfig, DEFAULT_RETAIN_DONE};
use crate::source::console::{ConsoleConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_BYTES};

/// Default of `--rss-interval`.
pub const DEFAULT_RSS_INTERVAL: Duration = Duration::from_secs(1);
/// Default of `snapshot --timeout`.
pub const DEFAULT_SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(15);

/// A `Duration` as clap shows and parses a default (`6s`), built once per call site.
macro_rules! duration_text {
    ($d:expr) => {{
        static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        TEXT.get_or_init(|| humantime::format_duration($d).to_string())
            .as_str()
    }};
}

pub const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    other error (e.g. writing the output failed)
  2    bad command line or address
  3    no such process
  4    the process has no tokio console endpoint
  5    the address answers but is not a tokio console server
  6    permission denied reading the target's /proc entries
  7    the target exited (before or while attaching)
  8    the endpoint cannot be reached
  9    timed out waiting for the target's first update
  10   the recording cannot be read (missing, not a recording, corrupt, newer version)
  11   export: cannot listen on the --listen address
  129  hung up (SIGHUP: the terminal went away)
  130  interrupted (SIGINT, or Ctrl-C before the UI started)
  131  quit (SIGQUIT)
  143  terminated (SIGTERM)
In `top` and `replay`, q and Ctrl-C quit with 0; `record` ends with 0 on --duration, Ctrl-C,
SIGTERM, SIGHUP, SIGQUIT or the target's exit (the file is complete in each case).";

#[derive(Parser, Debug)]
#[command(name = "asyncmem", version, about = "See what the suspended tasks of a live tokio process cost: future sizes, poll states and RSS", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The live terminal UI: tasks, future sizes, poll states, RSS and task count over time.
    #[command(after_help = EXIT_CODES)]
    Top(TopArgs),
    /// Attach, wait for the first full picture, print it and exit.
    #[command(after_help = EXIT_CODES)]
    Snapshot(SnapshotArgs),
    /// Record everything the model is fed (console updates, RSS) to a file, for replay and
    /// `snapshot --from` later or elsewhere.
    #[command(after_help = EXIT_CODES)]
    Record(RecordArgs),
    /// The terminal UI on a recording: play, pause, speed, seek; no target needed.
    #[command(after_help = EXIT_CODES)]
    Replay(ReplayArgs),
    /// Serve Prometheus metrics of the target at http://LISTEN/metrics until stopped.
    #[command(after_help = EXIT_CODES, long_about = EXPORT_ABOUT)]
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct TopArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How long completed tasks stay visible (dimmed).
    #[arg(long, default_value = duration_text!(DEFAULT_RETAIN_DONE), value_parser = humantime::parse_duration)]
    pub retain: Duration,
    /// Write asyncmem's own logs to this file (never to the screen).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Also record the session to this file (see `asyncmem record`).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Replace the --record file if it exists.
    #[arg(long, requires = "record")]
    pub overwrite: bool,
    /// Arguments for the demo started by --demo.
    #[arg(last = true)]
    pub demo_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The recording file to write.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// Stop after this long (default: until Ctrl-C, SIGTERM or the target's exit).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Arguments for the demo started by --demo.
    #[arg(last = true)]
    pub demo_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A file written by `asyncmem record` or `top --record`.
    pub file: PathBuf,
    /// Playback speed (1 = as recorded; > and < change it while playing).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// How long completed tasks stay visible (dimmed).
    #[arg(long, default_value = duration_text!(DEFAULT_RETAIN_DONE), value_parser = humantime::parse_duration)]
    pub retain: Duration,
    /// Futures of at least this many bytes get the large-future lint.
    #[arg(long, default_value_t = crate::insight::lints::LARGE_FUTURE_BYTES, value_name = "BYTES")]
    pub large_future: u64,
    /// Write asyncmem's own logs to this file (never to the screen).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

/// Which process to watch.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// Pid of a running tokio process: its console endpoint is found by itself.
    #[arg(long, short = 'p')]
    pub pid: Option<i32>,
    /// Console endpoint: http://HOST:PORT or file:///PATH (a Unix socket).
    #[arg(long, short = 'a', env = "ASYNCMEM_ADDR")]
    pub addr: Option<String>,
    /// Start a bundled demo workload (built next to asyncmem) and watch it; arguments after
    /// `--` go to the demo.
    #[arg(long, num_args = 0..=1, default_missing_value = "sleepers", value_name = "NAME")]
    pub demo: Option<String>,
}

/// How to talk to the target.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Largest console message accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES, value_name = "BYTES")]
    pub max_message_size: usize,
    /// Bound on connecting to an endpoint and on its first answer.
    #[arg(long, default_value = duration_text!(DEFAULT_CONNECT_TIMEOUT), value_parser = duration_at_least_10ms)]
    pub connect_timeout: Duration,
    /// How often the target's RSS is read from /proc.
    #[arg(long, default_value = duration_text!(DEFAULT_RSS_INTERVAL), value_parser = duration_at_least_10ms)]
    pub rss_interval: Duration,
    /// Most tasks tracked at once (the rest are counted in a warning).
    #[arg(long, default_value_t = ModelConfig::default().max_tasks)]
    pub max_tasks: usize,
    /// Futures of at least this many bytes get the large-future lint.
    #[arg(long, default_value_t = crate::insight::lints::LARGE_FUTURE_BYTES, value_name = "BYTES")]
    pub large_future: u64,
}

impl ConnectArgs {
    pub fn console(&self) -> ConsoleConfig {
        ConsoleConfig {
            max_message_bytes: self.max_message_size,
            connect_timeout: self.connect_timeout,
        }
    }

    pub fn model(&self) -> ModelConfig {
        ModelConfig {
            max_tasks: self.max_tasks,
            ..ModelConfig::default()
        }
    }

    pub fn lints(&self) -> LintConfig {
        LintConfig {
            large_future_bytes: self.large_future,
            ..Default::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// One row per task (with --series: one row per chart sample).
    Csv,
}

#[derive(Args, Debug)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Keep collecting for this long after attaching (default: print as soon as the first
    /// update and an RSS reading are in).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub wait: Option<Duration>,
    /// After the first update, also wait until the live task count has not changed for this
    /// long (console-subscriber announces tasks slowly after a burst).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub settle: Option<Duration>,
    /// Give up if no console update arrived within this long.
    #[arg(long, default_value = duration_text!(DEFAULT_SNAPSHOT_TIMEOUT), value_parser = duration_at_least_10ms)]
    pub timeout: Duration,
    /// Task rows in the table (0: all).
    #[arg(long, default_value_t = 40)]
    pub limit: usize,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Read a recording instead of a live target.
    #[arg(long, value_name = "FILE", group = "TargetArgs")]
    pub from: Option<PathBuf>,
    /// With --from: the state this long after the recording started (default: its end).
    #[arg(long, requires = "from", value_parser = humantime::parse_duration)]
    pub at: Option<Duration>,
    /// Print the chart's time series (RSS, task counts, future bytes per sample) instead of
    /// the tasks.
    #[arg(long)]
    pub series: bool,
    /// Arguments for the demo started by --demo.
    #[arg(last = true)]
    pub demo_args: Vec<String>,
}

const EXPORT_ABOUT: &str = "\
Serve Prometheus metrics of the target at http://LISTEN/metrics until stopped.

Runs until SIGTERM (exit 143) or Ctrl-C (130). While the target lives, a dropped console stream
is reconnected with backoff (asyncmem_connected 0 meanwhile); once the target process is gone,
export exits with 7 so that a supervisor can restart it against the new process.";

/// `export`: a Prometheus endpoint for one target.
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Address of the /metrics endpoint. Loopback by default; any other address exposes the
    /// target's task picture to whoever can reach it (a warning is printed).
    #[arg(long, default_value = "127.0.0.1:9184", value_name = "IP:PORT")]
    pub listen: std::net::SocketAddr,
    /// Spawn locations exported one by one, largest future bytes first; the others are summed
    /// into location="other", so that a target with many spawn sites stays a few series.
    #[arg(long, default_value_t = 20, value_name = "K", value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub top_locations: u16,
    /// Window of the bytes-per-task line (RSS over live tasks).
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = duration_at_least_10ms)]
    pub fit_window: Duration,
    /// Arguments for the demo started by --demo.
    #[arg(last = true)]
    pub demo_args: Vec<String>,
}

fn duration_at_least_10ms(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_millis(10) {
        return Err("must be at least 10ms".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults clap parses back are the constants they were written from.
    #[test]
    fn defaults_are_the_constants() {
        let Command::Snapshot(args) = Cli::try_parse_from(["asyncmem", "snapshot", "--pid", "1"])
            .expect("parses")
            .command
        else {
            panic!("not the snapshot command");
        };
        assert_eq!(args.timeout, DEFAULT_SNAPSHOT_TIMEOUT);
        assert_eq!(
            args.connect.console().connect_timeout,
            DEFAULT_CONNECT_TIMEOUT
        );
        assert_eq!(
            args.connect.console().max_message_bytes,
            DEFAULT_MAX_MESSAGE_BYTES
        );
        assert_eq!(args.connect.rss_interval, DEFAULT_RSS_INTERVAL);
        assert_eq!(args.connect.max_tasks, ModelConfig::default().max_tasks);
        let Command::Top(top) = Cli::try_parse_from(["asyncmem", "top", "--pid", "1"])
            .expect("parses")
            .command
        else {
            panic!("not the top command");
        };
        assert_eq!(top.retain, DEFAULT_RETAIN_DONE);
        assert_eq!(top.retain, ModelConfig::default().retain_done);
    }
}
