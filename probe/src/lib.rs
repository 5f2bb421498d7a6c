//! asyncmem-probe: lean tokio instrumentation that speaks the tokio-console protocol.
//!
//! A drop-in for `console_subscriber::init()`: call [`init()`] (inside or outside a runtime) and
//! the process serves console-api's `Instrument` service on `127.0.0.1:6669` (or
//! `$TOKIO_CONSOLE_BIND`: `host:port`, or `file:///path` for a Unix socket), so that asyncmem and tokio-console attach to it unchanged. It needs
//! the same build settings as console-subscriber: `--cfg tokio_unstable` and tokio's `tracing`
//! feature.
//!
//! What it records per task, in one fixed-size record: ids, spawn location, name, kind, the
//! future's size (`size.bytes`, `original_size.bytes`), polls, busy and scheduled time, first
//! and last poll, wakes, waker clones and drops, self-wakes, creation and drop times.
//! Histograms of poll and scheduled times exist only for a task someone watches with
//! `WatchTaskDetails`. Resources and async ops are not recorded: their updates are empty.
//!
//! ```no_run
//! asyncmem_probe::init();
//! ```
//!
//! or, composed with other layers:
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//! let probe = asyncmem_probe::Builder::default()
//!     .with_default_env()
//!     .server_addr(([127, 0, 0, 1], 6670))
//!     .spawn();
//! tracing_subscriber::registry().with(probe).init();
//! ```

pub mod dump;
pub mod heap;
mod layer;
mod server;
mod store;
pub mod wire;

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
#[cfg(unix)]
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing_core::Subscriber;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::Layer;
use tracing_subscriber::registry::LookupSpan;

pub use heap::{Allocator, HeapStats};

/// The crate's own tests run with the allocator on.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: Allocator = Allocator::system();
pub use layer::{ProbeFilter, ProbeLayer, ProbeSubscriber};

/// The default address, as console-subscriber's.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 6669);
/// The default publish interval, as console-subscriber's.
pub const DEFAULT_PUBLISH_INTERVAL: Duration = Duration::from_secs(1);

/// Where the probe serves: a TCP address, or (on Unix) a Unix socket path, as
/// console-subscriber's `ServerAddr`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerAddr {
    Tcp(SocketAddr),
    /// A Unix socket at this path. A stale socket file left there is replaced; any other file
    /// is left alone (the probe then does not serve).
    #[cfg(unix)]
    Unix(PathBuf),
}

impl ServerAddr {
    /// Parse `host:port` (resolved), or `file:///path` for a Unix socket.
    pub fn parse(s: &str) -> Option<ServerAddr> {
        if let Some(path) = s.strip_prefix("file://") {
            #[cfg(unix)]
            if !path.is_empty() {
                return Some(ServerAddr::Unix(PathBuf::from(path)));
            }
            return None;
        }
        s.to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(ServerAddr::Tcp)
    }
}

impl std::fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerAddr::Tcp(a) => write!(f, "{a}"),
            #[cfg(unix)]
            ServerAddr::Unix(p) => write!(f, "file://{}", p.display()),
        }
    }
}

impl From<SocketAddr> for ServerAddr {
    fn from(addr: SocketAddr) -> ServerAddr {
        ServerAddr::Tcp(addr)
    }
}

impl From<SocketAddrV4> for ServerAddr {
    fn from(addr: SocketAddrV4) -> ServerAddr {
        ServerAddr::Tcp(addr.into())
    }
}

impl From<SocketAddrV6> for ServerAddr {
    fn from(addr: SocketAddrV6) -> ServerAddr {
        ServerAddr::Tcp(addr.into())
    }
}

impl<I: Into<IpAddr>> From<(I, u16)> for ServerAddr {
    fn from(pieces: (I, u16)) -> ServerAddr {
        ServerAddr::Tcp(pieces.into())
    }
}

#[cfg(unix)]
impl From<PathBuf> for ServerAddr {
    fn from(path: PathBuf) -> ServerAddr {
        ServerAddr::Unix(path)
    }
}

#[cfg(unix)]
impl From<&Path> for ServerAddr {
    fn from(path: &Path) -> ServerAddr {
        ServerAddr::Unix(path.to_path_buf())
    }
}

/// Configures the probe. `Builder::default()` reads no environment; [`Builder::with_default_env`]
/// honours `TOKIO_CONSOLE_BIND` and `TOKIO_CONSOLE_PUBLISH_INTERVAL` as console-subscriber does.
#[derive(Clone, Debug)]
pub struct Builder {
    server_addr: ServerAddr,
    publish_interval: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            server_addr: ServerAddr::Tcp(DEFAULT_ADDR),
            publish_interval: DEFAULT_PUBLISH_INTERVAL,
        }
    }
}

impl Builder {
    /// Read `TOKIO_CONSOLE_BIND` (`host:port`, or `file:///path` for a Unix socket) and `TOKIO_CONSOLE_PUBLISH_INTERVAL` (e.g.
    /// `100ms`). A value that does not parse is reported on stderr and ignored.
    pub fn with_default_env(mut self) -> Self {
        if let Ok(bind) = std::env::var("TOKIO_CONSOLE_BIND") {
            match ServerAddr::parse(&bind) {
                Some(addr) => self.server_addr = addr,
                _ => eprintln!(
                    "asyncmem-probe: ignoring TOKIO_CONSOLE_BIND={bind:?}: not an address"
                ),
            }
        }
        if let Ok(interval) = std::env::var("TOKIO_CONSOLE_PUBLISH_INTERVAL") {
            match humantime::parse_duration(&interval) {
                Ok(d) if !d.is_zero() => self.publish_interval = d,
                _ => eprintln!(
                    "asyncmem-probe: ignoring TOKIO_CONSOLE_PUBLISH_INTERVAL={interval:?}: not a duration"
                ),
            }
        }
        self
    }

    /// The address to serve on (default `127.0.0.1:6669`): a socket address, or a path for a
    /// Unix socket (`PathBuf`, `&Path` or [`ServerAddr::Unix`]).
    pub fn server_addr(mut self, addr: impl Into<ServerAddr>) -> Self {
        self.server_addr = addr.into();
        self
    }

    /// How often watchers get a delta (default 1 s; at least 1 ms).
    pub fn publish_interval(mut self, interval: Duration) -> Self {
        self.publish_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Start the server thread and return the layer (with its filter) to compose with others.
    #[must_use = "a layer records nothing until it is added to a subscriber"]
    pub fn spawn<S>(self) -> Filtered<ProbeLayer, ProbeFilter, S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let store = Arc::new(store::Store::default());
        server::spawn_thread(store.clone(), self.server_addr, self.publish_interval);
        ProbeLayer { store }.with_filter(ProbeFilter)
    }

    /// Start the probe and install it as the global default subscriber, printing events for
    /// `RUST_LOG` (default `error`) as `console_subscriber::init()` does. This subscriber is
    /// the probe itself, not a `Registry` with layers: task spans get ids that name their
    /// records, which saves the registry's span slot and a table lookup per event; other spans
    /// are disabled, so events are printed without span context. If a global subscriber is
    /// already set, says so on stderr and records nothing.
    pub fn init(self) {
        let fmt_filter = std::env::var("RUST_LOG")
            .ok()
            .and_then(|f| match f.parse::<tracing_subscriber::EnvFilter>() {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("asyncmem-probe: ignoring RUST_LOG={f:?}: {e}");
                    None
                }
            })
            .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("error"));
        let store = Arc::new(store::Store::direct());
        server::spawn_thread(store.clone(), self.server_addr, self.publish_interval);
        let fmt = tracing_core::Dispatch::new(
            tracing_subscriber::fmt()
                .with_env_filter(fmt_filter)
                .finish(),
        );
        let installed =
            tracing::subscriber::set_global_default(layer::ProbeSubscriber { store, fmt });
        if let Err(e) = installed {
            eprintln!("asyncmem-probe: cannot install the subscriber: {e}");
        }
    }
}

/// Start the probe with the environment's settings and install it as the global subscriber:
/// the drop-in for `console_subscriber::init()`.
pub fn init() {
    Builder::default().with_default_env().init();
}

/// Start the probe with the environment's settings and return its layer, as
/// `console_subscriber::spawn()`.
#[must_use = "a layer records nothing until it is added to a subscriber"]
pub fn spawn<S>() -> Filtered<ProbeLayer, ProbeFilter, S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    Builder::default().with_default_env().spawn()
}
