//! The console-api `Instrument` service: the gRPC server on the probe's own thread, which
//! forwards every request to the publisher ([`publish`]); the publisher encodes the records
//! ([`encode`]) and sends them to the watchers.

mod dump;
mod encode;
pub(crate) mod heap;
mod method;
mod publish;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use console_api as proto;
use proto::instrument::instrument_server::{Instrument, InstrumentServer};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::store::Store;
use crate::ServerAddr;
use publish::Publisher;

/// Messages buffered per watcher. With chunks of ~256 KiB this bounds what a stalled watcher
/// holds in the target.
const WATCHER_BUFFER: usize = 4;

type UpdateTx = mpsc::Sender<Result<proto::instrument::Update, Status>>;
type DetailsTx = mpsc::Sender<Result<proto::tasks::TaskDetails, Status>>;
type StateTx = mpsc::Sender<Result<proto::instrument::State, Status>>;

pub(crate) enum Command {
    Watch(UpdateTx),
    Details {
        id: u64,
        tx: DetailsTx,
        reply: oneshot::Sender<Result<(), Status>>,
    },
    State(StateTx),
    Heap(heap::HeapTx),
    Pause,
    Resume,
}

/// The gRPC service: forwards each request to the publisher.
pub(crate) struct Service {
    cmds: mpsc::Sender<Command>,
}

/// Hand `c` to the publisher, or say why it cannot take it.
fn send_command(cmds: &mpsc::Sender<Command>, c: Command) -> Result<(), Status> {
    cmds.try_send(c).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => Status::resource_exhausted("probe busy"),
        mpsc::error::TrySendError::Closed(_) => Status::unavailable("probe publisher stopped"),
    })
}

impl Service {
    fn command(&self, c: Command) -> Result<(), Status> {
        send_command(&self.cmds, c)
    }

    /// A stream of `T` for a new watcher: `watch` is the command that hands the publisher its
    /// sending end.
    fn watch<T>(
        &self,
        watch: impl FnOnce(mpsc::Sender<Result<T, Status>>) -> Command,
    ) -> Result<Response<ReceiverStream<Result<T, Status>>>, Status> {
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        self.command(watch(tx))?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    /// The empty answer `R` to a command the publisher takes without a reply.
    fn acknowledge<R: Default>(&self, c: Command) -> Result<Response<R>, Status> {
        self.command(c)?;
        Ok(Response::new(R::default()))
    }
}

#[tonic::async_trait]
impl Instrument for Service {
    type WatchUpdatesStream = ReceiverStream<Result<proto::instrument::Update, Status>>;
    type WatchTaskDetailsStream = ReceiverStream<Result<proto::tasks::TaskDetails, Status>>;
    type WatchStateStream = ReceiverStream<Result<proto::instrument::State, Status>>;

    async fn watch_updates(
        &self,
        _req: Request<proto::instrument::InstrumentRequest>,
    ) -> Result<Response<Self::WatchUpdatesStream>, Status> {
        self.watch(Command::Watch)
    }

    async fn watch_task_details(
        &self,
        req: Request<proto::instrument::TaskDetailsRequest>,
    ) -> Result<Response<Self::WatchTaskDetailsStream>, Status> {
        let id = req
            .into_inner()
            .id
            .ok_or_else(|| Status::invalid_argument("missing task id"))?
            .id;
        let (reply, answer) = oneshot::channel();
        let stream = self.watch(|tx| Command::Details { id, tx, reply })?;
        answer
            .await
            .map_err(|_| Status::unavailable("probe publisher stopped"))??;
        Ok(stream)
    }

    async fn watch_state(
        &self,
        _req: Request<proto::instrument::StateRequest>,
    ) -> Result<Response<Self::WatchStateStream>, Status> {
        self.watch(Command::State)
    }

    async fn pause(
        &self,
        _req: Request<proto::instrument::PauseRequest>,
    ) -> Result<Response<proto::instrument::PauseResponse>, Status> {
        self.acknowledge(Command::Pause)
    }

    async fn resume(
        &self,
        _req: Request<proto::instrument::ResumeRequest>,
    ) -> Result<Response<proto::instrument::ResumeResponse>, Status> {
        self.acknowledge(Command::Resume)
    }
}

/// Start the probe's thread: its own single-threaded runtime, untraced, running the publisher
/// and the gRPC server on `addr`. Failures are reported on stderr; the host keeps running.
pub(crate) fn spawn_thread(store: Arc<Store>, addr: ServerAddr, interval: Duration) {
    let store2 = store.clone();
    let spawned = std::thread::Builder::new()
        .name("asyncmem-probe".into())
        .spawn(move || {
            // The probe's own tasks are not the host's: trace nothing on this thread.
            let _untraced =
                tracing::subscriber::set_default(tracing_core::subscriber::NoSubscriber::default());
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("asyncmem-probe: cannot build its runtime: {e}; not serving");
                    store.publisher_alive.store(false, Ordering::Relaxed);
                    return;
                }
            };
            runtime.block_on(serve(store, addr, interval));
        });
    if let Err(e) = spawned {
        eprintln!("asyncmem-probe: cannot start its thread: {e}; not serving");
        store2.publisher_alive.store(false, Ordering::Relaxed);
    }
}

async fn serve(store: Arc<Store>, addr: ServerAddr, interval: Duration) {
    let (cmds, rx) = mpsc::channel(64);
    let dumps = dump::server(store.clone());
    let publisher = tokio::spawn(Publisher::new(store, interval, rx).run());
    let heap = heap::server(cmds.clone());
    let routes = tonic::service::Routes::new(InstrumentServer::new(Service { cmds }))
        .add_service(dumps)
        .add_service(heap);
    let served = match &addr {
        ServerAddr::Tcp(tcp) => serve_tcp(*tcp, routes).await,
        #[cfg(unix)]
        ServerAddr::Unix(path) => serve_unix(path, routes).await,
    };
    match served {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("asyncmem-probe: the console server on {addr} stopped: {e}"),
        Err(e) => eprintln!(
            "asyncmem-probe: cannot listen on {addr}: {e}; tasks are recorded but not served"
        ),
    }
    // Keep publishing (which frees dropped tasks' records) whatever happened to the server.
    let _ = publisher.await;
}

/// Bind failed (outer error), or the server stopped (inner error).
type Served = std::io::Result<Result<(), tonic::transport::Error>>;

async fn serve_tcp(addr: std::net::SocketAddr, routes: tonic::service::Routes) -> Served {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    Ok(tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming(incoming)
        .await)
}

/// Serve on a Unix socket at `path`, replacing a stale socket file left by an earlier run.
#[cfg(unix)]
async fn serve_unix(path: &std::path::Path, routes: tonic::service::Routes) -> Served {
    remove_stale_socket(path)?;
    let listener = tokio::net::UnixListener::bind(path)?;
    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    Ok(tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming(incoming)
        .await)
}

/// Remove `path` if it is a socket nobody listens on (left by a process that ended). Anything
/// else is left alone: a live socket (another process serves there) and a file that is not a
/// socket make the bind fail with an error that says so.
#[cfg(unix)]
fn remove_stale_socket(path: &std::path::Path) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; not replacing it",
                path.display()
            ),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(Error::new(
            ErrorKind::AddrInUse,
            format!("another process is serving on {}", path.display()),
        )),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(e),
    }
}
