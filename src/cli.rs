//! The command line: subcommands and their flags (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::insight::LintConfig;
use crate::model::{ModelConfig, DEFAULT_RETAIN_DONE};
use crate::source::console::{
    ConsoleConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_BYTES, MIN_MAX_MESSAGE_BYTES,
};

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
  7    the target exited (before or while attaching, or during `snapshot --wait`: what was
       collected is printed, marked incomplete)
  8    the endpoint cannot be reached
  9    timed out waiting for the target's first update
  10   the recording cannot be read (missing, not a recording, corrupt, newer version)
  11   export: cannot listen on the --listen address
  12   the target is stopped (SIGSTOP, job control) or held by a debugger
  13   lesson: some rows could not be measured (the table is printed; each row says why)
  14   layout: nothing to build there (no Cargo.toml, not a package, no such package, binary
       or example)
  15   layout: the build failed (the compiler's errors are shown above)
  16   layout: the toolchain refuses the type-size report (-Zprint-type-sizes)
  17   layout --max-future: a spawned future is over the limit (each one is named)
  18   the --layout file cannot be read (missing, not a layout file, corrupt, newer schema)
  129  hung up (SIGHUP: the terminal went away)
  130  interrupted (SIGINT, or Ctrl-C before the UI started)
  131  quit (SIGQUIT)
  141  standard output was closed early (e.g. `| head`); nothing is printed
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
    /// Lessons measured on this machine: `lesson idle-tasks` prints the seed's table.
    #[command(after_help = EXIT_CODES)]
    Lesson(LessonArgs),
    /// Build a crate with the compiler's type-size report and say why each spawned future is
    /// as large as it is: its states, the fields held across each await, the awaitee tree.
    /// The build has a target directory of its own (a full build the first time, then only
    /// what changed); cargo's progress is shown on stderr.
    #[command(after_help = EXIT_CODES)]
    Layout(LayoutArgs),
}

#[derive(Args, Debug)]
pub struct LayoutArgs {
    /// The package's (or workspace's) Cargo.toml, or its directory (default: found from the
    /// current directory upward, as cargo does).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// The workspace member to build (default: the package of the manifest, or the
    /// workspace's only default member).
    #[arg(long, short = 'p', value_name = "PKG")]
    pub package: Option<String>,
    /// Build only this binary of the package.
    #[arg(long, value_name = "NAME", conflicts_with = "example")]
    pub bin: Option<String>,
    /// Build only this example of the package.
    #[arg(long, value_name = "NAME")]
    pub example: Option<String>,
    /// The release profile (the layouts differ: tokio boxes futures over 16 KiB in release,
    /// over 2 KiB in debug).
    #[arg(long)]
    pub release: bool,
    /// Features to enable, as cargo takes them (comma or space separated, repeatable).
    #[arg(long, short = 'F', value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Enable all features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not enable the default features.
    #[arg(long)]
    pub no_default_features: bool,
    /// Output format (json: the layout file, for tools and `--layout`). Default: table, or json
    /// when -o names a `.json` file.
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<LayoutFormat>,
    /// Write the output to this file (replaced whole, never left half-written).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with code 17, naming each one, when a spawned future is larger than this
    /// (bytes, or with a unit: 4k, 16KiB, 1M).
    #[arg(long, value_name = "SIZE", value_parser = byte_size)]
    pub max_future: Option<u64>,
    /// The build's target directory (default: `asyncmem-layout` inside the workspace's target
    /// directory, so that the usual build cache stays valid).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LayoutFormat {
    Table,
    Json,
}

/// A size in bytes: `4096`, `4k`, `4K`, `4KiB`, `4kb`, `16 KiB`, `1M`, `1MiB` (binary units:
/// sizes of types are read against powers of two).
pub fn byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "{s:?} is not a size (expected e.g. 4096, 4k, 16KiB, 1M)"
        ));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is too large a size"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (expected B, k/KiB, M/MiB or G/GiB)"
            ))
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s:?} is too large a size"))
}

#[derive(Args, Debug)]
pub struct LessonArgs {
    #[command(subcommand)]
    pub lesson: LessonCommand,
}

#[derive(Subcommand, Debug)]
pub enum LessonCommand {
    /// What N idle tasks cost, measured here: tokio uninstrumented, under asyncmem-probe and
    /// under console-subscriber, Python asyncio tasks and bare coroutines, beside the common
    /// claim. Progress goes to stderr; rows that cannot run (no python3) say why, and the
    /// exit code is then 13.
    #[command(after_help = EXIT_CODES)]
    IdleTasks(IdleTasksArgs),
}

/// Default of `lesson idle-tasks -n`: the whole lesson took 24.9 s in a release build on 2
/// shared cores (`time asyncmem lesson idle-tasks`), console-subscriber's ~1 GiB row included.
pub const DEFAULT_LESSON_TASKS: u64 = 20_000;

#[derive(Args, Debug)]
pub struct IdleTasksArgs {
    /// Idle tasks per row.
    #[arg(long = "tasks", short = 'n', default_value_t = DEFAULT_LESSON_TASKS, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub tasks: u64,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = LessonFormat::Table)]
    pub format: LessonFormat,
    /// An RSS reading counts once it has not changed for this long.
    #[arg(long, default_value = "2s", value_parser = duration_at_least_10ms)]
    pub settle: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LessonFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How long completed tasks stay visible (dimmed).
    #[arg(long, default_value = duration_text!(DEFAULT_RETAIN_DONE), value_parser = duration)]
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
    /// A layout file (`asyncmem layout --format json -o FILE`): each spawn location is matched
    /// to its future type, with its largest state, its await line and the fields held there.
    #[arg(long, value_name = "FILE")]
    pub layout: Option<PathBuf>,
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
    #[arg(long, value_parser = duration)]
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
    #[arg(long, default_value = duration_text!(DEFAULT_RETAIN_DONE), value_parser = duration)]
    pub retain: Duration,
    /// Futures of at least this many bytes get the large-future lint.
    #[arg(long, default_value_t = crate::insight::lints::LARGE_FUTURE_BYTES, value_name = "BYTES")]
    pub large_future: u64,
    /// Write asyncmem's own logs to this file (never to the screen).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// A layout file (`asyncmem layout --format json -o FILE`): each spawn location is matched
    /// to its future type, with its largest state, its await line and the fields held there.
    #[arg(long, value_name = "FILE")]
    pub layout: Option<PathBuf>,
    /// The window over which the spikes `n` and `N` jump to are measured (the RSS slope, as
    /// `snapshot --spikes` measures it).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration_at_least_10ms)]
    pub spike_window: Duration,
}

/// Which process to watch: one of these is required (or `ASYNCMEM_ADDR`, see
/// [`Cli::parse_checked`]).
#[derive(Args, Debug, Clone)]
#[group(multiple = false)]
pub struct TargetArgs {
    /// Pid of a running tokio process: its console endpoint is found by itself.
    #[arg(long, short = 'p')]
    pub pid: Option<i32>,
    /// Console endpoint: http://HOST:PORT or file:///PATH (a Unix socket). Without --pid,
    /// --demo or --from, $ASYNCMEM_ADDR is used; an explicit flag beats it.
    #[arg(long, short = 'a')]
    pub addr: Option<String>,
    /// Start a bundled demo workload (built next to asyncmem) and watch it; arguments after
    /// `--` go to the demo.
    #[arg(long, num_args = 0..=1, default_missing_value = "sleepers", value_name = "NAME")]
    pub demo: Option<String>,
}

/// How to talk to the target.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Largest console message accepted, in bytes (at least 64 KiB: the first message holds
    /// every task of the target).
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES, value_name = "BYTES", value_parser = message_size)]
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
            max_tasks: self.max_tasks,
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
    #[arg(long, value_parser = duration)]
    pub wait: Option<Duration>,
    /// After the first update, also wait until the live task count has not changed for this
    /// long (console-subscriber announces tasks slowly after a burst).
    #[arg(long, value_parser = duration)]
    pub settle: Option<Duration>,
    /// Give up if no console update arrived within this long; after the first update, wait at
    /// most this long again for a complete picture, then print it marked incomplete (with the
    /// reason).
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
    #[arg(long, requires = "from", value_parser = duration)]
    pub at: Option<Duration>,
    /// With --from: print what changed from --at (default: the recording's start) to this
    /// long after the recording started: RSS, live tasks, and per spawn location the tasks and
    /// future bytes gained and lost, largest change first.
    #[arg(long, value_name = "DURATION", requires = "from", value_parser = duration)]
    pub diff_at: Option<Duration>,
    /// Live: once the picture is complete, keep watching for this long, then print what
    /// changed (as --diff-at does for a recording).
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["from", "series"], value_parser = duration)]
    pub diff_after: Option<Duration>,
    /// With --from: list the intervals where RSS rose fastest (the 3 steepest that do not
    /// overlap, over --spike-window), each with the spawn locations whose live tasks grew.
    #[arg(long, conflicts_with_all = ["diff_at", "series"])]
    pub spikes: bool,
    /// The window over which --spikes measures the RSS slope.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration_at_least_10ms)]
    pub spike_window: Duration,
    /// Print the chart's time series (RSS, task counts, future bytes per sample) instead of
    /// the tasks.
    #[arg(long, conflicts_with = "diff_at")]
    pub series: bool,
    /// A layout file (`asyncmem layout --format json -o FILE`): each spawn location is matched
    /// to its future type, with its largest state, its await line and the fields held there.
    #[arg(long, value_name = "FILE")]
    pub layout: Option<PathBuf>,
    /// Also take a task dump (asyncmem-probe with its `taskdump` feature): where each task is
    /// parked, grouped by await point. The dump pauses the target's workers while it runs.
    #[arg(long, conflicts_with_all = ["from", "series"])]
    pub dump: bool,
    /// How long the dump may take on the target's side before it is given up (a worker
    /// blocked in a poll stops it from finishing).
    #[arg(long, requires = "dump", default_value = "2s", value_parser = duration_at_least_10ms)]
    pub dump_timeout: Duration,
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

/// The longest duration any flag takes: longer ones are typing mistakes, and would overflow
/// the clock arithmetic they go into.
/// (Ten of humantime's years of 365.25 days, so that it prints as `10years`.)
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 31_557_600);

/// A duration flag: humantime (`500ms`, `2m`, `1h30m`), at most [`MAX_DURATION`].
fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d > MAX_DURATION {
        return Err(format!(
            "{s} is longer than the longest accepted ({})",
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(d)
}

fn duration_at_least_10ms(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d < Duration::from_millis(10) {
        return Err("must be at least 10ms".into());
    }
    Ok(d)
}

/// `--max-message-size`: bytes, at least [`MIN_MAX_MESSAGE_BYTES`].
fn message_size(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|e| format!("not a number of bytes: {e}"))?;
    if n < MIN_MAX_MESSAGE_BYTES {
        return Err(format!(
            "must be at least {MIN_MAX_MESSAGE_BYTES} bytes: a console message holds every task of the target, and a smaller limit refuses even a small target's first message"
        ));
    }
    Ok(n)
}

impl Cli {
    /// Parse the command line, then what clap cannot say: `ASYNCMEM_ADDR` stands for `--addr`
    /// only when no target flag is given, a target is required, `--at` needs `--from`.
    /// Usage errors print clap's way and exit with 2.
    pub fn parse_checked() -> Cli {
        let env_addr = std::env::var("ASYNCMEM_ADDR")
            .ok()
            .filter(|a| !a.trim().is_empty());
        match Cli::parse().checked(env_addr) {
            Ok(cli) => cli,
            Err(e) => e.exit(),
        }
    }

    /// [`Cli::parse_checked`] after clap, with `ASYNCMEM_ADDR` given.
    pub fn checked(mut self, env_addr: Option<String>) -> Result<Cli, clap::Error> {
        let (name, target, from) = match &mut self.command {
            Command::Top(a) => ("top", &mut a.target, None),
            Command::Snapshot(a) => {
                if a.at.is_some() && a.from.is_none() {
                    return Err(usage(
                        "snapshot",
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "--at needs --from FILE: it picks a moment of a recording",
                    ));
                }
                if a.spikes && a.from.is_none() {
                    return Err(usage(
                        "snapshot",
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "--spikes needs --from FILE: it searches a recording's chart",
                    ));
                }
                if a.diff_at.is_some() && a.from.is_none() {
                    return Err(usage(
                        "snapshot",
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "--diff-at needs --from FILE (live: --diff-after DURATION)",
                    ));
                }
                ("snapshot", &mut a.target, a.from.as_ref())
            }
            Command::Record(a) => ("record", &mut a.target, None),
            Command::Export(a) => ("export", &mut a.target, None),
            Command::Replay(_) | Command::Lesson(_) | Command::Layout(_) => return Ok(self),
        };
        let given = target.pid.is_some()
            || target.addr.is_some()
            || target.demo.is_some()
            || from.is_some();
        if !given {
            match env_addr {
                Some(addr) => target.addr = Some(addr),
                None => {
                    let what = if name == "snapshot" {
                        "one of --pid, --addr, --demo or --from is required (or ASYNCMEM_ADDR in the environment)"
                    } else {
                        "one of --pid, --addr or --demo is required (or ASYNCMEM_ADDR in the environment)"
                    };
                    return Err(usage(
                        name,
                        clap::error::ErrorKind::MissingRequiredArgument,
                        what,
                    ));
                }
            }
        }
        Ok(self)
    }
}

/// A usage error of subcommand `name`, with its usage line.
fn usage(name: &str, kind: clap::error::ErrorKind, message: &str) -> clap::Error {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let mut sub = cmd.find_subcommand(name).cloned().unwrap_or(cmd);
    sub.error(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command `args` parse to.
    fn parsed(args: &[&str]) -> Command {
        Cli::try_parse_from(args).expect("parses").command
    }

    #[test]
    fn sizes_read_with_binary_units() {
        assert_eq!(byte_size("4096"), Ok(4096));
        assert_eq!(byte_size("4k"), Ok(4096));
        assert_eq!(byte_size("16KiB"), Ok(16384));
        assert_eq!(byte_size("16 KiB"), Ok(16384));
        assert_eq!(byte_size("1M"), Ok(1 << 20));
        assert_eq!(byte_size("2gb"), Ok(2 << 30));
        assert!(byte_size("4x").unwrap_err().contains("unknown unit"));
        assert!(byte_size("KiB").unwrap_err().contains("not a size"));
        assert!(byte_size("99999999999999999999").is_err());
        assert!(byte_size("99999999999G").unwrap_err().contains("too large"));
        let Command::Layout(args) = parsed(&["asyncmem", "layout", "--max-future", "4k"]) else {
            panic!("not the layout command");
        };
        assert_eq!(args.max_future, Some(4096));
        assert!(
            Cli::try_parse_from(["asyncmem", "layout", "--bin", "a", "--example", "b"]).is_err()
        );
    }

    /// The defaults clap parses back are the constants they were written from.
    #[test]
    fn defaults_are_the_constants() {
        let Command::Snapshot(args) = parsed(&["asyncmem", "snapshot", "--pid", "1"]) else {
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
        let Command::Top(top) = parsed(&["asyncmem", "top", "--pid", "1"]) else {
            panic!("not the top command");
        };
        assert_eq!(top.retain, DEFAULT_RETAIN_DONE);
        assert_eq!(top.retain, ModelConfig::default().retain_done);
    }

    fn checked(args: &[&str], env: Option<&str>) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(args)?.checked(env.map(String::from))
    }

    #[test]
    fn the_environment_does_not_beat_an_explicit_target() {
        let env = Some("http://127.0.0.1:1");
        for args in [
            &["asyncmem", "snapshot", "--pid", "7"][..],
            &["asyncmem", "snapshot", "--from", "f.amrec"],
            &["asyncmem", "top", "--demo"],
            &["asyncmem", "record", "-o", "x", "--pid", "7"],
        ] {
            let cli = checked(args, env).expect("parses");
            let target = match &cli.command {
                Command::Snapshot(a) => &a.target,
                Command::Top(a) => &a.target,
                Command::Record(a) => &a.target,
                _ => unreachable!(),
            };
            assert_eq!(target.addr, None, "{args:?}");
        }
        let Command::Snapshot(a) = checked(&["asyncmem", "snapshot"], env)
            .expect("parses")
            .command
        else {
            panic!("not snapshot")
        };
        assert_eq!(a.target.addr.as_deref(), env);
        let e = checked(&["asyncmem", "snapshot"], None).expect_err("no target");
        assert_eq!(e.exit_code(), 2);
        let e = checked(&["asyncmem", "export"], None).expect_err("no target");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn lesson_idle_tasks_takes_a_count_and_a_format() {
        let Command::Lesson(LessonArgs {
            lesson: LessonCommand::IdleTasks(a),
        }) = parsed(&["asyncmem", "lesson", "idle-tasks"])
        else {
            panic!("not the lesson command")
        };
        assert_eq!(a.tasks, DEFAULT_LESSON_TASKS);
        assert_eq!(a.format, LessonFormat::Table);
        let Command::Lesson(LessonArgs {
            lesson: LessonCommand::IdleTasks(a),
        }) = parsed(&[
            "asyncmem",
            "lesson",
            "idle-tasks",
            "-n",
            "7",
            "--format",
            "json",
        ])
        else {
            panic!("not the lesson command")
        };
        assert_eq!((a.tasks, a.format), (7, LessonFormat::Json));
        for bad in [&["-n", "0"][..], &["--format", "csv"], &["--settle", "1ms"]] {
            let mut args = vec!["asyncmem", "lesson", "idle-tasks"];
            args.extend_from_slice(bad);
            let e = Cli::try_parse_from(&args).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        let e = Cli::try_parse_from(["asyncmem", "lesson"]).expect_err("which lesson");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn at_needs_from() {
        let e = checked(&["asyncmem", "snapshot", "--pid", "1", "--at", "1s"], None)
            .expect_err("--at without --from");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--from"), "{e}");
        assert!(checked(&["asyncmem", "snapshot", "--from", "f", "--at", "1s"], None).is_ok());
    }

    #[test]
    fn absurd_durations_and_sizes_are_refused() {
        for flag in [
            "--timeout",
            "--connect-timeout",
            "--wait",
            "--settle",
            "--rss-interval",
        ] {
            let e =
                Cli::try_parse_from(["asyncmem", "snapshot", "--pid", "1", flag, "300000000000y"])
                    .expect_err(flag);
            assert_eq!(e.exit_code(), 2, "{flag}");
            assert!(e.to_string().contains(flag), "{flag}: {e}");
        }
        let e = Cli::try_parse_from([
            "asyncmem",
            "record",
            "--pid",
            "1",
            "-o",
            "x",
            "--duration",
            "1000000y",
        ])
        .expect_err("--duration");
        assert_eq!(e.exit_code(), 2);
        assert!(
            Cli::try_parse_from(["asyncmem", "snapshot", "--pid", "1", "--timeout", "5y"]).is_ok()
        );
        for size in ["0", "1", "100", "65535", "lots"] {
            let e = Cli::try_parse_from([
                "asyncmem",
                "snapshot",
                "--pid",
                "1",
                "--max-message-size",
                size,
            ])
            .expect_err(size);
            assert!(e.to_string().contains("--max-message-size"), "{size}: {e}");
        }
        assert!(Cli::try_parse_from([
            "asyncmem",
            "snapshot",
            "--pid",
            "1",
            "--max-message-size",
            "65536"
        ])
        .is_ok());
    }
}
