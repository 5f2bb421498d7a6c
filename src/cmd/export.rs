//! `asyncmem export`: one target's model served as Prometheus metrics at `/metrics`.
//!
//! One loop owns the model: it applies the sources' events and answers scrapes, each rendered
//! from the model of that moment ([`crate::output::prometheus`]). The HTTP side (hyper) only
//! forwards a scrape to the loop and returns the text, so a scrape never races an update.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::attach;
use crate::cli::ExportArgs;
use crate::error::{exit, AttachError, Failure};
use crate::model::{Connection, Event, Model};
use crate::output::prometheus::{self, Config};
use crate::session;
use crate::signal;

/// Scrapers served at once; more connections wait in the listen backlog.
const MAX_CONNECTIONS: usize = 64;
/// A client that has not sent its request headers within this is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

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
    model.pid = session.target.pid;
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
                    let was = model.connection.clone();
                    model.apply(event);
                    log_connection(&was, &model.connection);
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
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
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
        let scrapes = scrapes.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, scrapes.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
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
