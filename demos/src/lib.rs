//! Shared plumbing of the asyncmem demo workloads: instrumentation choice, the console address,
//! the runtime, and a clean exit after `--exit-after` or on Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// Which instrumentation the demo target runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Instrument {
    /// console-subscriber, the standard tokio-console instrumentation (~52 KB per task: the
    /// comparison lesson; `console` also works).
    #[value(name = "console-subscriber", alias = "console")]
    Console,
    /// asyncmem-probe, the lean instrumentation that speaks the same protocol (the default: it
    /// costs ~140 B per task and announces every task at once, so RSS follows the task count).
    Probe,
    /// No instrumentation at all: the baseline.
    None,
}

impl Instrument {
    pub fn as_str(self) -> &'static str {
        match self {
            Instrument::Console => "console-subscriber",
            Instrument::Probe => "probe",
            Instrument::None => "none",
        }
    }
}

/// The exit code of a demo whose console endpoint cannot be served (its address is taken).
pub const EXIT_CONSOLE_UNAVAILABLE: i32 = 3;

/// Flags every demo takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Instrumentation to run the target with.
    #[arg(long, value_enum, default_value_t = Instrument::Probe)]
    pub instrument: Instrument,
    /// Address the console endpoint listens on (default: $TOKIO_CONSOLE_BIND or 127.0.0.1:6669).
    #[arg(long)]
    pub console_bind: Option<SocketAddr>,
    /// Exit after this long (e.g. `30s`); by default run until Ctrl-C or SIGTERM.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub exit_after: Option<Duration>,
    /// How long idle tasks sleep at their await.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    pub sleep: Duration,
    /// Worker threads of the runtime.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

impl Common {
    pub fn nap(&self) -> Duration {
        self.sleep
    }

    /// The console address the target serves, as a URL.
    pub fn console_url(&self) -> String {
        let bind = self
            .console_bind
            .map(|a| a.to_string())
            .or_else(|| std::env::var("TOKIO_CONSOLE_BIND").ok())
            .unwrap_or_else(|| "127.0.0.1:6669".to_string());
        if bind.starts_with("file://") {
            // A Unix socket (the probe takes `TOKIO_CONSOLE_BIND=file:///path`).
            return bind;
        }
        format!("http://{bind}")
    }

    /// The TCP address the console is to listen on (None: a Unix socket, `file://`).
    fn console_tcp_addr(&self) -> Option<SocketAddr> {
        self.console_url().strip_prefix("http://")?.parse().ok()
    }

    /// Stop with the cause when the console's address is taken: both instrumentations bind in
    /// a thread of their own and, when that fails, only say so there (console-subscriber's
    /// thread panics, the probe prints a line) while the demo runs on without a console, and
    /// the process that holds the address would answer a watcher in its place.
    fn console_address_free_or_exit(&self) {
        let Some(addr) = self.console_tcp_addr() else {
            return;
        };
        if let Err(e) = std::net::TcpListener::bind(addr) {
            let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                "the port is in use (another process listens there): pick a free one with --console-bind".to_string()
            } else {
                e.to_string()
            };
            let me = std::env::args()
                .next()
                .and_then(|a| {
                    std::path::Path::new(&a)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "demo".to_string());
            eprintln!("{me}: cannot serve the console on {addr}: {why}");
            std::process::exit(EXIT_CONSOLE_UNAVAILABLE);
        }
    }

    /// Install the instrumentation, build the runtime, run `body`, then wait for the end.
    ///
    /// `body` runs in the runtime's `block_on` task (kind `block_on`), not in a task of its own:
    /// besides the tasks a demo spawns there is only that one, and `#[track_caller]` gives it the
    /// demo's own `….run(` line as its spawn location (tokio takes `block_on`'s location from
    /// its caller), not a line of this file.
    #[track_caller]
    #[allow(
        clippy::expect_used,
        reason = "a demo that cannot build its runtime has nothing to show: it stops with the cause"
    )]
    pub fn run<F>(&self, body: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.workers.max(1))
            .enable_all()
            .build()
            .expect("building the tokio runtime");
        let _guard = runtime.enter();
        if self.instrument != Instrument::None {
            self.console_address_free_or_exit();
        }
        match self.instrument {
            Instrument::Console => {
                let mut builder = console_subscriber::ConsoleLayer::builder().with_default_env();
                if let Some(addr) = self.console_bind {
                    builder = builder.server_addr(addr);
                }
                builder.init();
            }
            Instrument::Probe => {
                let mut builder = asyncmem_probe::Builder::default().with_default_env();
                if let Some(addr) = self.console_bind {
                    builder = builder.server_addr(addr);
                }
                builder.init();
            }
            Instrument::None => {}
        }
        let console = if self.instrument == Instrument::None {
            "none".to_string()
        } else {
            // Both instrumentations bind in a thread of their own: announce the endpoint only
            // once it accepts connections, so that a watcher started on this line finds it.
            wait_for_listener(&self.console_url());
            self.console_url()
        };
        println!(
            "pid={} console={console} instrument={}",
            std::process::id(),
            self.instrument.as_str()
        );
        let exit_after = self.exit_after;
        runtime.block_on(async move {
            // The body may end (it spawned its tasks) or loop for ever (it spawns more): the
            // demo ends at the end either way. Pinned on the heap, so that `block_on`'s own
            // future stays small (a spawning loop's state is not what a lesson is about).
            let body = Box::pin(async move {
                body.await;
                std::future::pending::<()>().await;
            });
            tokio::select! {
                () = body => {}
                () = wait_for_end(exit_after) => {}
            }
        });
        // Idle tasks sleep for an hour: do not wait for them.
        runtime.shutdown_background();
    }
}

/// Spawn a task with a name (tokio's task builder); the spawn location is the caller's.
#[track_caller]
#[allow(
    clippy::expect_used,
    reason = "the builder fails only outside a runtime, a bug of the demo itself"
)]
pub fn spawn_named<F>(name: &str, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::task::Builder::new()
        .name(name)
        .spawn(fut)
        .expect("spawning a named task");
}

fn wait_for_listener(url: &str) {
    let addr = url.trim_start_matches("http://");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let up = match addr.strip_prefix("file://") {
            Some(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
            None => std::net::TcpStream::connect(addr).is_ok(),
        };
        if up {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[allow(
    clippy::expect_used,
    reason = "a demo that cannot see SIGTERM could not be stopped cleanly: it stops with the cause"
)]
async fn wait_for_end(exit_after: Option<Duration>) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    let timer = async {
        match exit_after {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = timer => {}
    }
}

/// Write every byte of `buf` (a pattern, so that no page stays the allocator's untouched zeros
/// and RSS counts all of it).
pub fn fill(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i % 251) as u8 + 1;
    }
    std::hint::black_box(buf);
}

/// A sum of `buf`'s bytes, so that the compiler keeps the buffer.
pub fn checksum(buf: &[u8]) -> u64 {
    buf.iter().map(|b| u64::from(*b)).sum()
}
