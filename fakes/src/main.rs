//! `fake-console`: tokio console servers that misbehave, for asyncmem's fault suite
//! (`tests/faults.rs`). Each listens on 127.0.0.1:0 and prints its address (`127.0.0.1:PORT`)
//! as the first line of stdout.
//!
//! ```text
//! fake-console --mode silent [--listeners N]  accepts TCP connections (on N sockets), never answers
//! fake-console --mode garbage                writes random bytes to every connection
//! fake-console --mode http1                  an HTTP/1.1 server that is not gRPC
//! fake-console --mode hostile --kind KIND    a real console-api Instrument server, hostile content
//! fake-console --mode exit-after --after MS  a valid small picture, then the process exits
//! ```
//!
//! Hostile kinds: `million` (one update announcing `--tasks N` tasks, default 1,000,000),
//! `reuse` (the same ids announced again and again), `unannounced` (stats for ids never
//! announced), `escapes` (task names and locations holding terminal control sequences),
//! `huge-names` (megabyte names), `time` (timestamps going backwards, far ahead, out of range),
//! `histograms` (WatchTaskDetails histograms that do not decode), `flood` (updates as fast as
//! the socket takes them).

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use console_api as proto;
use proto::field::Value;
use proto::instrument::instrument_server::{Instrument, InstrumentServer};
use proto::instrument::{State, Temporality, Update};
use proto::tasks::{Stats, Task, TaskDetails};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

const META: u64 = 1;

fn usage(msg: &str) -> ! {
    eprintln!("fake-console: {msg}");
    eprintln!("usage: fake-console --mode silent|garbage|http1|hostile|exit-after [--kind KIND] [--tasks N] [--after MS] [--listeners N]");
    std::process::exit(2)
}

struct Opts {
    mode: String,
    kind: String,
    tasks: u64,
    after: Duration,
    listeners: u64,
}

fn parse() -> Opts {
    let mut o = Opts {
        mode: String::new(),
        kind: "flood".into(),
        tasks: 1_000_000,
        after: Duration::from_millis(1000),
        listeners: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            usage(&format!("{flag} needs a value"))
        };
        let number = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {value}")))
        };
        match flag.as_str() {
            "--mode" => o.mode = value.clone(),
            "--kind" => o.kind = value.clone(),
            "--tasks" => o.tasks = number(),
            "--after" => o.after = Duration::from_millis(number()),
            "--listeners" => o.listeners = number(),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    o
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let opts = parse();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| usage(&format!("cannot listen: {e}")));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| usage(&format!("no local address: {e}")));
    let announce = || println!("{addr}");
    match opts.mode.as_str() {
        "silent" => {
            for _ in 1..opts.listeners {
                let more = TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap_or_else(|e| usage(&format!("cannot listen: {e}")));
                tokio::spawn(raw(more, silent, || {}));
            }
            raw(listener, silent, announce).await
        }
        "garbage" => raw(listener, garbage, announce).await,
        "http1" => raw(listener, http1, announce).await,
        "hostile" => {
            let fake = Fake::hostile(&opts);
            announce();
            grpc(listener, fake).await
        }
        "exit-after" => {
            announce();
            tokio::spawn(async move {
                tokio::time::sleep(opts.after).await;
                std::process::exit(0);
            });
            grpc(listener, Fake::small()).await
        }
        other => usage(&format!("unknown mode {other:?}")),
    }
}

/// Serve every accepted connection with `handle`, each on its own task.
async fn raw<F, Fut>(listener: TcpListener, handle: F, announce: impl FnOnce())
where
    F: Fn(TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    announce();
    while let Ok((conn, _)) = listener.accept().await {
        tokio::spawn(handle(conn));
    }
}

/// Hold the connection open, read what comes, answer nothing.
async fn silent(mut conn: TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Random bytes (xorshift), 64 KiB at a time, until the peer goes away.
async fn garbage(mut conn: TcpStream) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        if conn.write_all(&buf).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An HTTP/1.1 web server: whatever is asked, a 400 page, then close.
async fn http1(mut conn: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = conn.read(&mut buf).await;
    let body = "<html><body>400 Bad Request</body></html>\n";
    let reply = format!(
        "HTTP/1.1 400 Bad Request\r\nServer: fake-http1\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(reply.as_bytes()).await;
    let _ = conn.shutdown().await;
}

async fn grpc(listener: TcpListener, fake: Fake) {
    let served = tonic::transport::Server::builder()
        .add_service(InstrumentServer::new(fake).max_encoding_message_size(usize::MAX))
        .serve_with_incoming(TcpListenerStream::new(listener))
        .await;
    if let Err(e) = served {
        eprintln!("fake-console: server stopped: {e}");
    }
}

/// What the `WatchUpdates` stream of one watcher sends.
#[derive(Clone, Copy)]
enum Script {
    Small,
    Million(u64),
    Reuse,
    Unannounced,
    Escapes,
    HugeNames,
    Time,
    Histograms,
    Flood,
}

struct Fake {
    script: Script,
    /// The `million` kind's first update, built before the address is printed (it takes
    /// seconds) and sent to the first watcher.
    ready: std::sync::Mutex<Option<Update>>,
}

impl Fake {
    fn small() -> Fake {
        Fake {
            script: Script::Small,
            ready: Default::default(),
        }
    }

    fn hostile(o: &Opts) -> Fake {
        let script = match o.kind.as_str() {
            "million" => Script::Million(o.tasks),
            "reuse" => Script::Reuse,
            "unannounced" => Script::Unannounced,
            "escapes" => Script::Escapes,
            "huge-names" => Script::HugeNames,
            "time" => Script::Time,
            "histograms" => Script::Histograms,
            "flood" => Script::Flood,
            other => usage(&format!("unknown hostile kind {other:?}")),
        };
        let ready = match script {
            Script::Million(n) => Some(picture(1, n, |id| format!("t{id}"))),
            _ => None,
        };
        Fake {
            script,
            ready: std::sync::Mutex::new(ready),
        }
    }
}

/// The names the `escapes` kind gives its tasks.
const ESCAPES: &[&str] = &[
    "clear\x1b[2Jscreen",
    "title\x1b]0;pwned\x07set",
    "two\nlines",
    "carriage\rreturn",
    "red\x1b[31mtext",
    "bell\x07ring",
    "csi\u{9b}2Jc1",
    "bidi\u{202e}desrever",
];

fn stamp(t: SystemTime) -> Option<prost_types::Timestamp> {
    Some(t.into())
}

fn field(name: &str, value: Value) -> proto::Field {
    asyncmem_testkit::str_field(META, name, value)
}

fn task(id: u64, name: &str, size: u64, file: &str) -> Task {
    Task {
        id: Some(proto::Id { id }),
        metadata: Some(proto::MetaId { id: META }),
        kind: proto::tasks::task::Kind::Spawn as i32,
        fields: vec![
            field("kind", Value::DebugVal("task".into())),
            field("task.name", Value::DebugVal(name.into())),
            field("task.id", Value::U64Val(id)),
            field("size.bytes", Value::U64Val(size)),
        ],
        parents: vec![],
        location: Some(proto::Location {
            file: Some(file.into()),
            module_path: None,
            line: Some(10),
            column: Some(5),
        }),
    }
}

fn stats(created: Option<prost_types::Timestamp>, polls: u64) -> Stats {
    Stats {
        created_at: created,
        poll_stats: Some(proto::PollStats {
            polls,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn metadata() -> Option<proto::RegisterMetadata> {
    Some(proto::RegisterMetadata {
        metadata: vec![proto::register_metadata::NewMetadata {
            id: Some(proto::MetaId { id: META }),
            metadata: Some(proto::Metadata {
                name: "runtime.spawn".into(),
                target: "tokio::task".into(),
                field_names: vec!["kind".into(), "task.name".into(), "task.id".into()],
                kind: proto::metadata::Kind::Span as i32,
                ..Default::default()
            }),
        }],
    })
}

fn update(
    now: Option<prost_types::Timestamp>,
    meta: bool,
    new_tasks: Vec<Task>,
    stats: Vec<(u64, Stats)>,
) -> Update {
    let new_metadata = if meta { metadata() } else { None };
    asyncmem_testkit::task_update_at(now, new_tasks, stats, new_metadata)
}

/// `n` announced tasks with ids `first..first + n` and their stats.
fn picture(first: u64, n: u64, name: impl Fn(u64) -> String) -> Update {
    let now = stamp(SystemTime::now());
    let tasks = (first..first + n)
        .map(|id| task(id, &name(id), 1024 + id % 4096, "src/fake.rs"))
        .collect();
    let stats = (first..first + n).map(|id| (id, stats(now, 1))).collect();
    update(now, true, tasks, stats)
}

/// Stats for ids `first..first + n` (no new tasks), at `now`.
fn heartbeat(first: u64, n: u64, polls: u64) -> Update {
    let now = stamp(SystemTime::now());
    let stats = (first..first + n)
        .map(|id| (id, stats(None, polls)))
        .collect();
    update(now, false, vec![], stats)
}

type Tx = mpsc::Sender<Result<Update, Status>>;

/// Send `u` to the watcher; false once it has gone away.
async fn deliver(tx: &Tx, u: Update) -> bool {
    tx.send(Ok(u)).await.is_ok()
}

/// Send `first` (if any), then `next(round)` for rounds 0, 1, 2, ..., each followed by `pause`
/// (none: at once), until the watcher goes away.
async fn feed(
    tx: &Tx,
    first: Option<Update>,
    pause: Option<Duration>,
    mut next: impl FnMut(u64) -> Update,
) {
    if let Some(u) = first {
        if !deliver(tx, u).await {
            return;
        }
    }
    for round in 0u64.. {
        if !deliver(tx, next(round)).await {
            return;
        }
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
    }
}

/// `tasks` (ids 1..=n, each polled once) announced in one update, then their stats every `tick`
/// until the watcher goes away.
async fn announce_then_beat(tx: &Tx, tasks: Vec<Task>, tick: Duration) {
    let now = stamp(SystemTime::now());
    let n = tasks.len() as u64;
    let st = (1..=n).map(|id| (id, stats(now, 1))).collect();
    let first = update(now, true, tasks, st);
    feed(tx, Some(first), Some(tick), |_| heartbeat(1, n, 2)).await
}

/// Run `script` into `tx` until the watcher goes away.
async fn play(script: Script, ready: Option<Update>, tx: Tx) {
    let tick = Duration::from_millis(100);
    match script {
        Script::Small | Script::Histograms => {
            if !deliver(&tx, picture(1, 5, |id| format!("small-{id}"))).await {
                return;
            }
            for polls in 2.. {
                tokio::time::sleep(tick).await;
                if !deliver(&tx, heartbeat(1, 5, polls)).await {
                    return;
                }
            }
        }
        Script::Million(n) => {
            let first = ready.unwrap_or_else(|| picture(1, n, |id| format!("t{id}")));
            feed(&tx, Some(first), Some(tick), |_| heartbeat(1, 0, 0)).await
        }
        Script::Reuse => {
            // Ids 1..=1000 announced anew every round, half of them dropped in between.
            let reannounce = |round: u64| {
                let now = SystemTime::now();
                let mut u = picture(1, 1000, |id| format!("reuse-{round}-{id}"));
                if let Some(tu) = u.task_update.as_mut() {
                    for (id, s) in tu.stats_update.iter_mut() {
                        if (id + round) % 2 == 0 {
                            s.dropped_at = stamp(now);
                        }
                    }
                }
                u.new_metadata = if round == 0 { metadata() } else { None };
                u
            };
            feed(&tx, None, Some(Duration::from_millis(5)), reannounce).await
        }
        Script::Unannounced => {
            let known = picture(1, 10, |id| format!("known-{id}"));
            let unknown = |round: u64| {
                let mut u = heartbeat(1_000_000 + round * 1000, 1000, 1);
                if let Some(tu) = u.task_update.as_mut() {
                    for id in 1..=10 {
                        tu.stats_update.insert(id, stats(None, round));
                    }
                }
                u
            };
            feed(&tx, Some(known), Some(Duration::from_millis(20)), unknown).await
        }
        Script::Escapes => {
            let tasks = ESCAPES
                .iter()
                .zip(1u64..)
                .map(|(name, id)| task(id, name, 2048, "src/\x1b[2Jevil\n.rs"))
                .collect();
            announce_then_beat(&tx, tasks, tick).await
        }
        Script::HugeNames => {
            let huge = |id: u64| format!("{id}-{}", "N".repeat(1 << 20));
            let tasks = (1..=8)
                .map(|id| task(id, &huge(id), 4096, &huge(id)))
                .collect();
            announce_then_beat(&tx, tasks, tick).await
        }
        Script::Time => {
            let far = |secs: i64, nanos: i32| {
                Some(prost_types::Timestamp {
                    seconds: secs,
                    nanos,
                })
            };
            let base = SystemTime::now();
            let odd = [
                far(i64::MAX / 2, 0),              // far ahead
                far(-62_135_596_800, 0),           // year 1
                far(0, -5),                        // negative nanos
                far(1_700_000_000, 2_000_000_000), // nanos past a second
                far(i64::MIN, 0),
            ];
            let mut u = picture(1, 10, |id| format!("time-{id}"));
            if let Some(tu) = u.task_update.as_mut() {
                for (id, s) in tu.stats_update.iter_mut() {
                    s.created_at = odd[*id as usize % odd.len()];
                    if let Some(p) = s.poll_stats.as_mut() {
                        p.last_poll_started = stamp(base);
                        p.last_poll_ended = far(0, 0); // ended before it started
                        p.first_poll = odd[(*id as usize + 1) % odd.len()];
                    }
                }
            }
            let skewed = |r: u64| {
                let round = r as u32 + 1;
                // `now` goes back an hour each update, and jumps far ahead every fifth.
                let now = if round % 5 == 0 {
                    far(i64::MAX / 4, 0)
                } else {
                    stamp(base - Duration::from_secs(3600) * round)
                };
                let mut u = heartbeat(1, 10, round as u64);
                u.now = now;
                u
            };
            feed(&tx, Some(u), Some(Duration::from_millis(50)), skewed).await
        }
        Script::Flood => {
            let first = picture(1, 100, |id| format!("flood-{id}"));
            feed(&tx, Some(first), None, |r| heartbeat(1, 100, r + 2)).await
        }
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl Instrument for Fake {
    type WatchUpdatesStream = ReceiverStream<Result<Update, Status>>;
    type WatchTaskDetailsStream = BoxStream<TaskDetails>;
    type WatchStateStream = BoxStream<State>;

    async fn watch_updates(
        &self,
        _req: Request<proto::instrument::InstrumentRequest>,
    ) -> Result<Response<Self::WatchUpdatesStream>, Status> {
        let (tx, rx) = mpsc::channel(1);
        let ready = self.ready.lock().ok().and_then(|mut r| r.take());
        tokio::spawn(play(self.script, ready, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn watch_task_details(
        &self,
        req: Request<proto::instrument::TaskDetailsRequest>,
    ) -> Result<Response<Self::WatchTaskDetailsStream>, Status> {
        let id = req.into_inner().id;
        let bad = proto::tasks::DurationHistogram {
            raw_histogram: b"\xde\xad\xbe\xef not a histogram".to_vec(),
            max_value: u64::MAX,
            high_outliers: u64::MAX,
            highest_outlier: Some(u64::MAX),
        };
        let details = TaskDetails {
            task_id: id,
            now: stamp(SystemTime::now()),
            scheduled_times_histogram: Some(bad.clone()),
            poll_times_histogram: Some(match self.script {
                Script::Histograms => {
                    proto::tasks::task_details::PollTimesHistogram::Histogram(bad)
                }
                _ => proto::tasks::task_details::PollTimesHistogram::LegacyHistogram(vec![]),
            }),
        };
        let ticks = tokio_stream::iter(std::iter::repeat_with(move || Ok(details.clone())))
            .throttle(Duration::from_millis(100));
        Ok(Response::new(Box::pin(ticks)))
    }

    async fn watch_state(
        &self,
        _req: Request<proto::instrument::StateRequest>,
    ) -> Result<Response<Self::WatchStateStream>, Status> {
        let live = State {
            temporality: Temporality::Live as i32,
        };
        Ok(Response::new(Box::pin(
            tokio_stream::once(Ok(live)).chain(tokio_stream::pending()),
        )))
    }

    async fn pause(
        &self,
        _req: Request<proto::instrument::PauseRequest>,
    ) -> Result<Response<proto::instrument::PauseResponse>, Status> {
        Ok(Response::new(proto::instrument::PauseResponse {}))
    }

    async fn resume(
        &self,
        _req: Request<proto::instrument::ResumeRequest>,
    ) -> Result<Response<proto::instrument::ResumeResponse>, Status> {
        Ok(Response::new(proto::instrument::ResumeResponse {}))
    }
}
