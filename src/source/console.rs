//! The console stream: connect to a console-api `Instrument` server, watch its updates, and
//! reconnect with backoff while the target lives.

use std::time::Duration;

use console_api::instrument::instrument_client::InstrumentClient;
use console_api::instrument::{
    InstrumentRequest, PauseRequest, ResumeRequest, StateRequest, TaskDetailsRequest, Temporality,
};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint as TonicEndpoint};
use tonic::{Code, Streaming};

use super::decode::{Decoded, UpdateCodec};
use super::{alive, discover, Endpoint};
use crate::error::AttachError;
use crate::model::Event;

/// Default of [`ConsoleConfig::max_message_bytes`] (`--max-message-size`).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// Smallest `--max-message-size` accepted: below it even a small target's first message
/// (every task, with its metadata) is refused.
pub const MIN_MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Default of [`ConsoleConfig::connect_timeout`] (`--connect-timeout`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// Largest console message accepted (tonic's default of 4 MiB breaks with many tasks).
    pub max_message_bytes: usize,
    /// Bound on connecting and on the server's first answer.
    pub connect_timeout: Duration,
    /// Most tasks decoded per connection (`--max-tasks`): see [`super::decode`].
    pub max_tasks: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_tasks: crate::model::ModelConfig::default().max_tasks,
        }
    }
}

/// What the UI asks of the live console connection (a replay has its own:
/// [`crate::source::replay::Control`]).
#[derive(Debug)]
pub enum Control {
    /// Stream `WatchTaskDetails` for this console id (replacing any other).
    WatchDetails(u64),
    StopDetails,
    /// The console `Pause` RPC: the aggregator stops publishing, for every watcher.
    Pause,
    /// A task dump (asyncmem-probe's `taskdump` feature), allowed to take this long on the
    /// target's side; its outcome comes back as [`Event::Dump`].
    TakeDump(Duration),
    /// The console `Resume` RPC; `done`, if given, hears whether it succeeded (quitting waits
    /// for it, so that a target is not left paused).
    Resume(Option<tokio::sync::oneshot::Sender<bool>>),
}

/// A live `WatchUpdates` stream and the client it came from.
pub struct Attached {
    pub endpoint: Endpoint,
    pub client: InstrumentClient<Channel>,
    pub updates: Streaming<Decoded>,
}

/// A gRPC channel to `endpoint` (TCP or a Unix socket), telling "nobody listens" apart from
/// "something listens but is not gRPC".
pub(crate) async fn channel(
    endpoint: &Endpoint,
    cfg: &ConsoleConfig,
) -> Result<Channel, AttachError> {
    let unreachable = |detail: String| AttachError::Unreachable {
        endpoint: endpoint.to_string(),
        detail,
    };
    let tonic_ep = TonicEndpoint::from_shared(endpoint.uri())
        .map_err(|e| unreachable(e.to_string()))?
        .connect_timeout(cfg.connect_timeout);
    match endpoint {
        Endpoint::Tcp { host, port } => {
            // Tell "nobody listens" apart from "something listens but is not a console".
            let addr = format!("{}:{port}", bracket(host));
            match tokio::time::timeout(cfg.connect_timeout, tokio::net::TcpStream::connect(&addr))
                .await
            {
                Ok(Ok(_probe)) => {}
                Ok(Err(e)) => return Err(unreachable(e.to_string())),
                Err(_) => {
                    return Err(AttachError::Timeout {
                        what: format!("connecting to {endpoint}"),
                        after: cfg.connect_timeout,
                    })
                }
            }
            tonic_ep
                .connect()
                .await
                .map_err(|e| not_console(endpoint, e))
        }
        Endpoint::Unix(path) => {
            let path = path.clone();
            if let Err(e) = tokio::net::UnixStream::connect(&path).await {
                return Err(unreachable(e.to_string()));
            }
            tonic_ep
                .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                    let path = path.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                }))
                .await
                .map_err(|e| not_console(endpoint, e))
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn not_console(endpoint: &Endpoint, e: impl std::fmt::Display) -> AttachError {
    AttachError::NotConsole {
        endpoint: endpoint.to_string(),
        detail: format!("it does not speak gRPC over HTTP/2 ({e})"),
    }
}

/// Connect and start `WatchUpdates`: the proof that `endpoint` is a console server.
pub async fn attach(endpoint: &Endpoint, cfg: &ConsoleConfig) -> Result<Attached, AttachError> {
    let work = async {
        let channel = channel(endpoint, cfg).await?;
        let client =
            InstrumentClient::new(channel.clone()).max_decoding_message_size(cfg.max_message_bytes);
        let updates = watch_updates(channel, cfg)
            .await
            .map_err(|status| match status.code() {
                Code::Unimplemented => AttachError::NotConsole {
                    endpoint: endpoint.to_string(),
                    detail:
                        "the gRPC server there does not implement the console Instrument service"
                            .into(),
                },
                Code::Unavailable | Code::Unknown | Code::Internal => {
                    not_console(endpoint, status.message())
                }
                _ => AttachError::NotConsole {
                    endpoint: endpoint.to_string(),
                    detail: format!(
                        "WatchUpdates failed: {:?} {}",
                        status.code(),
                        status.message()
                    ),
                },
            })?;
        Ok(Attached {
            endpoint: endpoint.clone(),
            client,
            updates,
        })
    };
    match tokio::time::timeout(cfg.connect_timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(AttachError::NoAnswer {
            endpoint: endpoint.to_string(),
            after: cfg.connect_timeout,
        }),
    }
}

/// `WatchUpdates`, as `InstrumentClient::watch_updates` calls it but decoded within
/// `--max-tasks` ([`UpdateCodec`]).
async fn watch_updates(
    channel: Channel,
    cfg: &ConsoleConfig,
) -> Result<Streaming<Decoded>, tonic::Status> {
    let mut grpc =
        tonic::client::Grpc::new(channel).max_decoding_message_size(cfg.max_message_bytes);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(format!("Service was not ready: {e}")))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/rs.tokio.console.instrument.Instrument/WatchUpdates",
    );
    let request = tonic::Request::new(InstrumentRequest {});
    let codec = UpdateCodec::new(cfg.max_tasks);
    Ok(grpc
        .server_streaming(request, path, codec)
        .await?
        .into_inner())
}

/// Whether `e` is an endpoint that said nothing in time (hung, or a silent server).
fn is_silence(e: &AttachError) -> bool {
    matches!(
        e,
        AttachError::NoAnswer { .. } | AttachError::Timeout { .. }
    )
}

/// `e` in a few words, for the list of sockets tried.
fn in_short(e: &AttachError) -> String {
    match e {
        AttachError::NoAnswer { .. } => "no answer".into(),
        AttachError::Timeout { .. } => "connecting timed out".into(),
        AttachError::NotConsole { detail, .. } | AttachError::Unreachable { detail, .. } => {
            detail.clone()
        }
        other => other.to_string(),
    }
}

/// Attach to `endpoint` and, when that fails because nobody answers, say so if the process
/// behind it (when local and visible) is stopped: a stopped target is not a silent server.
pub async fn attach_addr(
    endpoint: &Endpoint,
    cfg: &ConsoleConfig,
) -> Result<Attached, AttachError> {
    match attach(endpoint, cfg).await {
        Err(e) if is_silence(&e) => {
            let stopped = discover::pid_of(endpoint).and_then(discover::cannot_answer);
            Err(stopped.unwrap_or(e))
        }
        other => other,
    }
}

/// Try every candidate endpoint of `pid` at once and attach to the first console server to
/// answer; when none does, say what each one did.
pub async fn attach_pid(pid: i32, cfg: &ConsoleConfig) -> Result<Attached, AttachError> {
    let candidates = discover::candidates(pid)?;
    let mut trying = tokio::task::JoinSet::new();
    for (i, endpoint) in candidates.iter().enumerate() {
        let (endpoint, cfg) = (endpoint.clone(), cfg.clone());
        trying.spawn(async move { (i, attach(&endpoint, &cfg).await) });
    }
    let mut failed: Vec<Option<AttachError>> = candidates.iter().map(|_| None).collect();
    while let Some(joined) = trying.join_next().await {
        let Ok((i, result)) = joined else { continue };
        match result {
            // Dropping `trying` aborts the attempts still under way.
            Ok(attached) => return Ok(attached),
            Err(e) => {
                tracing::debug!(endpoint = %candidates[i], error = %e, "not a console endpoint");
                failed[i] = Some(e);
            }
        }
    }
    if let Some(e) = discover::cannot_answer(pid) {
        return Err(e);
    }
    if !alive(pid) {
        return Err(AttachError::TargetExited(pid));
    }
    let tried: Vec<String> = candidates
        .iter()
        .zip(&failed)
        .map(|(ep, e)| match e {
            Some(e) => format!("{ep} ({})", in_short(e)),
            None => ep.to_string(),
        })
        .collect();
    if tried.is_empty() {
        return Err(AttachError::NoConsole {
            pid,
            tried: "none: it listens on no socket".to_string(),
        });
    }
    if failed.iter().flatten().any(is_silence) {
        return Err(AttachError::NoAnswerPid {
            pid,
            tried: tried.join(", "),
            after: cfg.connect_timeout,
        });
    }
    Err(AttachError::NoConsole {
        pid,
        tried: tried.join(", "),
    })
}

/// What the console connection does when the target process exits.
#[derive(Clone, Copy, Debug)]
pub enum Follow {
    /// The pid is the target: its exit ends the stream (`--pid`, and every command but `top`).
    Pid,
    /// The address is the target (`top --addr`): after an exit keep trying the endpoint with
    /// backoff; a process found there again is attached, and its RSS read every
    /// `rss_interval` (a new pid resets the model).
    Address { rss_interval: Duration },
}

/// Backoff before reconnect attempt `attempt` (1-based): 250 ms doubling up to 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 250u64.saturating_mul(1 << attempt.saturating_sub(1).min(5));
    Duration::from_millis(ms.min(5_000))
}

/// Whether the target is known to be gone.
fn target_gone(pid: Option<i32>) -> bool {
    pid.is_some_and(|p| !alive(p))
}

/// Stream updates from `attached` into `tx`; on a drop, reconnect to the same endpoint with
/// backoff while the target lives (with [`Follow::Address`], also after it exited). Ends when
/// the target exits (with [`Follow::Pid`]) or the receiver goes away.
pub async fn run(
    attached: Attached,
    mut pid: Option<i32>,
    cfg: ConsoleConfig,
    follow: Follow,
    tx: mpsc::Sender<Event>,
    mut control: mpsc::Receiver<Control>,
) {
    let mut watched: Option<u64> = None;
    let endpoint = attached.endpoint.clone();
    let mut next = Some(attached);
    let mut attempt = 0u32;
    // With Follow::Address, the RSS sampler of the process behind the endpoint, and its pid.
    let mut sampler: Option<(i32, tokio::task::AbortHandle)> = None;
    let mut exited_said = false;
    loop {
        let attached = match next.take() {
            Some(a) => Ok(a),
            None => attach(&endpoint, &cfg).await.map_err(|e| e.to_string()),
        };
        // Why this round ended: the attach failed, or the stream it gave dropped.
        let reason = match attached {
            Err(reason) => reason,
            Ok(current) => {
                if attempt > 0 {
                    // A reconnect: the process behind the endpoint may have changed.
                    match discover::pid_of(&endpoint) {
                        Some(new_pid) => pid = Some(new_pid),
                        // The old process is gone and the new one cannot be seen.
                        None if target_gone(pid) => pid = None,
                        None => {}
                    }
                }
                if let (Follow::Address { rss_interval }, Some(p)) = (follow, pid) {
                    if sampler.as_ref().is_none_or(|(old, _)| *old != p) {
                        if let Some((_, old)) = sampler.take() {
                            old.abort();
                        }
                        let task = tokio::spawn(super::rss::run(p, rss_interval, tx.clone()));
                        sampler = Some((p, task.abort_handle()));
                    }
                }
                attempt = 0;
                exited_said = false;
                if tx.send(Event::Connected { pid }).await.is_err() {
                    break;
                }
                match stream(current, &cfg, &tx, &mut control, &mut watched).await {
                    Some(reason) => reason,
                    None => break,
                }
            }
        };
        attempt += 1;
        let retry = wait_to_retry(
            pid,
            follow,
            &endpoint,
            attempt,
            reason,
            &mut exited_said,
            &tx,
        );
        if !retry.await {
            break;
        }
    }
    if let Some((_, task)) = sampler {
        task.abort();
    }
}

/// After a drop: report the target's exit (with [`Follow::Pid`], false: stop), or report the
/// drop and back off before attempt `attempt` (true: retry). False too when the receiver is
/// gone.
async fn wait_to_retry(
    pid: Option<i32>,
    follow: Follow,
    endpoint: &Endpoint,
    attempt: u32,
    reason: String,
    exited_said: &mut bool,
    tx: &mpsc::Sender<Event>,
) -> bool {
    let mut reason = reason;
    if target_gone(pid) {
        match follow {
            Follow::Pid => {
                let _ = tx.send(Event::TargetExited).await;
                return false;
            }
            Follow::Address { .. } => {
                if !*exited_said {
                    *exited_said = true;
                    if tx.send(Event::TargetExited).await.is_err() {
                        return false;
                    }
                }
                if let Some(p) = pid {
                    reason = format!("target {p} exited; waiting for a process at {endpoint}");
                }
            }
        }
    } else if let Some(stopped) = pid.and_then(discover::cannot_answer) {
        reason = stopped.to_string();
    }
    if tx
        .send(Event::Disconnected { attempt, reason })
        .await
        .is_err()
    {
        return false;
    }
    tokio::time::sleep(backoff(attempt)).await;
    true
}

/// Stream the details of task `id` into `tx` until the stream ends.
fn spawn_details(
    mut client: InstrumentClient<Channel>,
    id: u64,
    tx: mpsc::Sender<Event>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let request = TaskDetailsRequest {
            id: Some(console_api::Id { id }),
        };
        let Ok(resp) = client.watch_task_details(request).await else {
            return;
        };
        let mut details = resp.into_inner();
        while let Ok(Some(d)) = details.message().await {
            if tx.send(Event::Details(Box::new(d))).await.is_err() {
                break;
            }
        }
    })
}

/// Forward one connection's updates (and aggregator state) until it ends, serving the UI's
/// control requests meanwhile. Returns why it ended, or `None` when the receiver is gone.
async fn stream(
    attached: Attached,
    cfg: &ConsoleConfig,
    tx: &mpsc::Sender<Event>,
    control: &mut mpsc::Receiver<Control>,
    watched: &mut Option<u64>,
) -> Option<String> {
    let Attached {
        client,
        mut updates,
        endpoint,
    } = attached;
    // WatchState exists only in newer subscribers: its absence is not an error.
    let state_tx = tx.clone();
    let mut state_client = client.clone();
    let state_task = tokio::spawn(async move {
        if let Ok(resp) = state_client.watch_state(StateRequest {}).await {
            let mut states = resp.into_inner();
            while let Ok(Some(state)) = states.message().await {
                let paused = state.temporality == Temporality::Paused as i32;
                if state_tx.send(Event::Paused(paused)).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut details_task = watched.map(|id| spawn_details(client.clone(), id, tx.clone()));
    let mut control_open = true;
    let mut heap_task: Option<tokio::task::JoinHandle<()>> = None;
    let reason = loop {
        tokio::select! {
            msg = updates.message() => match msg {
                Ok(Some(Decoded { update, not_tracked })) => {
                    // The probe lists its heap stream in its metadata: follow it beside.
                    if heap_task.is_none() && super::heap::advertised(&update) {
                        let run = super::heap::run(endpoint.clone(), cfg.clone(), tx.clone());
                        heap_task = Some(tokio::spawn(run));
                    }
                    if tx.send(Event::Update(Box::new(update))).await.is_err() {
                        break None;
                    }
                    if not_tracked > 0 && tx.send(Event::NotTracked(not_tracked)).await.is_err() {
                        break None;
                    }
                }
                Ok(None) => break Some("the console stream ended".to_string()),
                Err(status) => break Some(stream_error(&status, cfg)),
            },
            cmd = control.recv(), if control_open => match cmd {
                None => control_open = false,
                Some(Control::WatchDetails(id)) => {
                    if let Some(t) = details_task.take() {
                        t.abort();
                    }
                    *watched = Some(id);
                    details_task = Some(spawn_details(client.clone(), id, tx.clone()));
                }
                Some(Control::TakeDump(timeout)) => {
                    let (endpoint, cfg, tx) = (endpoint.clone(), cfg.clone(), tx.clone());
                    tokio::spawn(async move {
                        let taken = super::dump::take(&endpoint, &cfg, timeout, cfg.max_tasks)
                            .await
                            .map_err(|e| e.to_string());
                        let _ = tx.send(Event::Dump(Box::new(taken))).await;
                    });
                }
                Some(Control::StopDetails) => {
                    if let Some(t) = details_task.take() {
                        t.abort();
                    }
                    *watched = None;
                }
                Some(Control::Pause) | Some(Control::Resume(_)) => {
                    let (pause, done) = match cmd {
                        Some(Control::Resume(done)) => (false, done),
                        _ => (true, None),
                    };
                    let mut c = client.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let ok = if pause {
                            c.pause(PauseRequest {}).await.is_ok()
                        } else {
                            c.resume(ResumeRequest {}).await.is_ok()
                        };
                        if let Some(done) = done {
                            let _ = done.send(ok);
                        }
                        if ok {
                            let _ = tx.send(Event::Paused(pause)).await;
                        }
                    });
                }
            },
        }
    };
    state_task.abort();
    if let Some(t) = heap_task {
        t.abort();
    }
    if let Some(t) = details_task {
        t.abort();
    }
    reason
}

/// Why a console stream failed, naming `--max-message-size` when a message was over it.
fn stream_error(status: &tonic::Status, cfg: &ConsoleConfig) -> String {
    let message = status.message();
    if status.code() == Code::OutOfRange || message.contains("message length too large") {
        return format!(
            "a console message is larger than --max-message-size ({} bytes): raise it ({message})",
            cfg.max_message_bytes
        );
    }
    format!("console stream error: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(6), Duration::from_millis(5_000));
        assert_eq!(backoff(60), Duration::from_millis(5_000));
    }
}
