//! `asyncmem export`: one target's model served as Prometheus metrics at `/metrics`.
//!
//! One loop owns the model: it applies the sources' events and answers scrapes, each rendered
//! from the model of that moment ([`crate::output::prometheus`]). The HTTP side (hyper) only
//! forwards a scrape to the loop and returns the text, so a scrape never races an update.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use super::attach;
use crate::cli::ExportArgs;
use crate::error::{exit, AttachError, Failure};
use crate::model::{Connection, Event, Model};
use crate::output::prometheus::{self, Config};
use crate::session;
use crate::signal;

/// Connections held open at once. When all are taken, a new connection evicts the one idle the
/// longest (no request in flight), so idle or stalled clients cannot starve a real scrape.
const MAX_CONNECTIONS: usize = 64;
/// Connection tasks alive at once, evicted ones still closing included: the bound on sockets.
const MAX_CONNECTION_TASKS: usize = 2 * MAX_CONNECTIONS;
/// A new connection that sends nothing within this is closed (a scraper sends at once).
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(2);
/// A connection's request headers, or an idle keep-alive connection's next request, must arrive
/// within this: above a 1-minute scrape interval, so Prometheus keeps its connection.
const HEADER_TIMEOUT: Duration = Duration::from_secs(65);
/// An evicted connection in the middle of sending a request head gets this long to finish.
const EVICT_GRACE: Duration = Duration::from_secs(1);

const INDEX: &str = "<html><head><title>asyncmem export</title></head><body><h1>asyncmem export</h1><p><a href=\"/metrics\">/metrics</a></p></body></html>\n";

/// A scrape: the loop answers with the rendered metrics.
type Scrape = oneshot::Sender<String>;

/// Run `export` until a signal (its exit code) or until the target is gone (exit 7).
pub async fn run(args: ExportArgs) -> Result<(), Failure> {
    // Listen first: a taken port is a mistake to report at once, before attaching.
    let listener = TcpListener::bind(args.listen).await.map_err(|e| {
        Failure::new(
            exit::LISTEN,
            format_args!("cannot listen on {} for export: {e}", args.listen),
        )
    })?;
    let local = listener.local_addr().unwrap_or(args.listen);
    if !local.ip().is_loopback() {
        eprintln!("asyncmem: warning: serving metrics on {local}, not a loopback address: whoever can reach it can read the target's spawn locations and memory figures");
    }
    let mut shutdown = std::pin::pin!(signal::first(signal::SHUTDOWN));
    let start = session::start(&args.target, &args.connect, &args.demo_args);
    let mut session = attach(start, &mut shutdown).await?;
    let cfg = Config {
        top_locations: usize::from(args.top_locations),
        fit_window: args.fit_window,
        lints: args.connect.lints(),
    };
    let mut model = Model::new(args.connect.model());
    model.set_pid(session.target.pid);
    let (scrapes, mut scrape_rx) = mpsc::channel::<Scrape>(MAX_CONNECTIONS);
    let server = tokio::spawn(serve(listener, scrapes));
    eprintln!(
        "asyncmem export: serving http://{local}/metrics for {} (pid {})",
        crate::present::escape(&session.target.endpoint),
        session
            .target
            .pid
            .map_or_else(|| "unknown".to_string(), |p| p.to_string())
    );
    let result = loop {
        tokio::select! {
            biased;
            sig = &mut shutdown => break Err(Failure::signalled(sig.exit_code())),
            Some(reply) = scrape_rx.recv() => {
                let _ = reply.send(prometheus::render(&model, &session.target, &cfg));
            }
            event = session.events.recv() => match event {
                Some(Event::TargetExited) | None => {
                    let err = match session.target.pid {
                        Some(pid) => AttachError::TargetExited(pid),
                        None => AttachError::EndpointGone(session.target.endpoint.clone()),
                    };
                    break Err(err.into());
                }
                Some(event) => {
                    let was = model.connection().clone();
                    model.apply(event);
                    log_connection(&was, model.connection());
                }
            },
        }
    };
    server.abort();
    drop(session);
    result
}

/// One stderr line per change of connection state (not per reconnect attempt).
fn log_connection(was: &Connection, now: &Connection) {
    match (was, now) {
        (Connection::Connected, Connection::Reconnecting { reason, .. }) => {
            eprintln!(
                "asyncmem export: console stream lost ({}); reconnecting",
                crate::present::escape(reason)
            )
        }
        (Connection::Reconnecting { .. }, Connection::Connected) => {
            eprintln!("asyncmem export: console stream reconnected")
        }
        _ => {}
    }
}

/// Accept HTTP/1 connections and answer them; scrapes go to the loop.
async fn serve(listener: TcpListener, scrapes: mpsc::Sender<Scrape>) {
    let tasks = Arc::new(Semaphore::new(MAX_CONNECTION_TASKS));
    let conns = Arc::new(Connections::default());
    loop {
        let Ok(permit) = tasks.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Make room: evict the longest-idle connection, or wait while every one of them has
        // a request in flight (answers take milliseconds).
        let (id, evicted) = loop {
            let freed = conns.freed.notified();
            if let Some(admitted) = conns.admit(MAX_CONNECTIONS) {
                break admitted;
            }
            freed.await;
        };
        if let Some(evict) = evicted {
            let _ = evict.send(());
        }
        let scrapes = scrapes.clone();
        let conns = conns.clone();
        tokio::spawn(async move {
            serve_connection(stream, id, &conns, scrapes).await;
            conns.remove(id);
            drop(permit);
        });
    }
}

/// One connection: wait for its first bytes, then serve HTTP/1 on it until it closes, times out
/// or is evicted.
async fn serve_connection(
    stream: TcpStream,
    id: u64,
    conns: &Arc<Connections>,
    scrapes: mpsc::Sender<Scrape>,
) {
    let Some(mut evicted) = conns.take_evict_signal(id) else {
        return;
    };
    tokio::select! {
        first = tokio::time::timeout(FIRST_BYTES_TIMEOUT, stream.readable()) => {
            if !matches!(first, Ok(Ok(()))) {
                return;
            }
        }
        _ = &mut evicted => return,
    }
    let service = {
        let conns = conns.clone();
        hyper::service::service_fn(move |req| {
            let scrapes = scrapes.clone();
            let conns = conns.clone();
            async move {
                let _busy = conns.busy(id);
                handle(req, scrapes).await
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = &mut evicted => {}
    }
    // Evicted while idle: an idle connection closes at once; one in the middle of sending a
    // request head gets a moment, then is dropped.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(EVICT_GRACE, conn).await;
}

/// The open connections, for eviction: which have a request in flight and when each was last
/// active.
#[derive(Default)]
struct Connections {
    inner: Mutex<ConnTable>,
    /// Notified when a connection goes away or finishes a request.
    freed: Notify,
}

#[derive(Default)]
struct ConnTable {
    next_id: u64,
    open: HashMap<u64, Conn>,
}

struct Conn {
    in_flight: u32,
    last_active: Instant,
    /// Taken by the connection's task; fired to evict it.
    evict_rx: Option<oneshot::Receiver<()>>,
    evict_tx: Option<oneshot::Sender<()>>,
}

impl Connections {
    fn table(&self) -> std::sync::MutexGuard<'_, ConnTable> {
        // A poisoned lock only means a panic elsewhere; the table itself stays consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a new connection if there is room, evicting the longest-idle connection without
    /// a request in flight when there is not. `None`: every connection is busy.
    fn admit(&self, max: usize) -> Option<(u64, Option<oneshot::Sender<()>>)> {
        let mut t = self.table();
        let mut evicted = None;
        if t.open.len() >= max {
            let victim = t
                .open
                .iter()
                .filter(|(_, c)| c.in_flight == 0)
                .min_by_key(|(_, c)| c.last_active)
                .map(|(&id, _)| id)?;
            evicted = t.open.remove(&victim).and_then(|c| c.evict_tx);
        }
        let id = t.next_id;
        t.next_id += 1;
        let (tx, rx) = oneshot::channel();
        t.open.insert(
            id,
            Conn {
                in_flight: 0,
                last_active: Instant::now(),
                evict_rx: Some(rx),
                evict_tx: Some(tx),
            },
        );
        Some((id, evicted))
    }

    /// The eviction signal of a connection; `None` if it was evicted before it started.
    fn take_evict_signal(&self, id: u64) -> Option<oneshot::Receiver<()>> {
        self.table()
            .open
            .get_mut(&id)
            .and_then(|c| c.evict_rx.take())
    }

    /// Mark a request in flight on `id` until the guard drops.
    fn busy(self: &Arc<Self>, id: u64) -> Busy {
        if let Some(c) = self.table().open.get_mut(&id) {
            c.in_flight += 1;
            c.last_active = Instant::now();
        }
        Busy {
            conns: self.clone(),
            id,
        }
    }

    fn remove(&self, id: u64) {
        self.table().open.remove(&id);
        self.freed.notify_waiters();
    }
}

struct Busy {
    conns: Arc<Connections>,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(c) = self.conns.table().open.get_mut(&self.id) {
            c.in_flight = c.in_flight.saturating_sub(1);
            c.last_active = Instant::now();
        }
        self.conns.freed.notify_waiters();
    }
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn handle(
    req: Request<Incoming>,
    scrapes: mpsc::Sender<Scrape>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let readable = matches!(*req.method(), Method::GET | Method::HEAD);
    Ok(match (req.uri().path(), readable) {
        ("/metrics", true) => {
            let (tx, rx) = oneshot::channel();
            let text = match scrapes.send(tx).await {
                Ok(()) => rx.await.ok(),
                Err(_) => None,
            };
            match text {
                Some(text) => response(StatusCode::OK, prometheus::CONTENT_TYPE, text),
                None => response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    "asyncmem export is shutting down\n",
                ),
            }
        }
        ("/", true) => response(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        ("/metrics" | "/", false) => {
            let mut r = response(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "only GET and HEAD\n",
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        _ => response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found; metrics are at /metrics\n",
        ),
    })
}
