//! The console-api `Instrument` service and its publisher: once per publish interval the
//! records changed since the last tick become one delta, cut into messages of at most
//! [`CHUNK_BYTES`] and sent to every watcher over bounded channels; a new watcher first gets the
//! whole state, cut the same way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use console_api as proto;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use prost::Message;
use proto::instrument::instrument_server::{Instrument, InstrumentServer};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::store::{lock, Histo, Site, Store, Taken, TaskRecord, WATCHED};

/// Largest encoded size aimed at for one `Update` (a chunk closes once it passes this; one
/// task with its stats is a few hundred bytes). tokio-console decodes up to 4 MiB.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;
/// Messages buffered per watcher. With chunks of ~256 KiB this bounds what a stalled watcher
/// holds in the target.
const WATCHER_BUFFER: usize = 4;
/// How long the publisher waits for room in a watcher's buffer before dropping that watcher.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one publish may take in all: a watcher that reads just fast enough never to hit
/// [`SEND_TIMEOUT`] cannot hold the publisher (and the freeing of dropped tasks) longer. Past
/// it, a watcher whose buffer is full is dropped at once.
const PUBLISH_BUDGET: Duration = Duration::from_secs(30);
/// The same for the full state sent to a new watcher.
const SYNC_BUDGET: Duration = Duration::from_secs(60);
/// At most this many `WatchUpdates` streams at once; more are refused.
const MAX_WATCHERS: usize = 16;
/// At most this many `WatchTaskDetails` streams at once.
const MAX_DETAIL_WATCHERS: usize = 64;
/// Records copied out of a shard at a time while sending a full state.
const COPY_BATCH: usize = 4096;
/// The metadata id of the entry that names the instrumentation (never a callsite address).
pub(crate) const PROBE_META_ID: u64 = 1;

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
    Pause,
    Resume,
}

/// The gRPC service: forwards each request to the publisher.
pub(crate) struct Service {
    cmds: mpsc::Sender<Command>,
}

impl Service {
    fn command(&self, c: Command) -> Result<(), Status> {
        self.cmds.try_send(c).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Status::resource_exhausted("probe busy"),
            mpsc::error::TrySendError::Closed(_) => Status::unavailable("probe publisher stopped"),
        })
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
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        self.command(Command::Watch(tx))?;
        Ok(Response::new(ReceiverStream::new(rx)))
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
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let (reply, answer) = oneshot::channel();
        self.command(Command::Details { id, tx, reply })?;
        answer
            .await
            .map_err(|_| Status::unavailable("probe publisher stopped"))??;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn watch_state(
        &self,
        _req: Request<proto::instrument::StateRequest>,
    ) -> Result<Response<Self::WatchStateStream>, Status> {
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        self.command(Command::State(tx))?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn pause(
        &self,
        _req: Request<proto::instrument::PauseRequest>,
    ) -> Result<Response<proto::instrument::PauseResponse>, Status> {
        self.command(Command::Pause)?;
        Ok(Response::new(proto::instrument::PauseResponse {}))
    }

    async fn resume(
        &self,
        _req: Request<proto::instrument::ResumeRequest>,
    ) -> Result<Response<proto::instrument::ResumeResponse>, Status> {
        self.command(Command::Resume)?;
        Ok(Response::new(proto::instrument::ResumeResponse {}))
    }
}

/// Start the probe's thread: its own single-threaded runtime, untraced, running the publisher
/// and the gRPC server on `addr`. Failures are reported on stderr; the host keeps running.
pub(crate) fn spawn_thread(store: Arc<Store>, addr: SocketAddr, interval: Duration) {
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

async fn serve(store: Arc<Store>, addr: SocketAddr, interval: Duration) {
    let (cmds, rx) = mpsc::channel(64);
    let publisher = tokio::spawn(Publisher::new(store, interval, rx).run());
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let served = tonic::transport::Server::builder()
                .add_service(InstrumentServer::new(Service { cmds }))
                .serve_with_incoming(incoming)
                .await;
            if let Err(e) = served {
                eprintln!("asyncmem-probe: the console server on {addr} stopped: {e}");
            }
        }
        Err(e) => {
            eprintln!(
                "asyncmem-probe: cannot listen on {addr}: {e}; tasks are recorded but not served"
            );
            drop(cmds);
        }
    }
    // Keep publishing (which frees dropped tasks' records) whatever happened to the server.
    let _ = publisher.await;
}

/// Strings and sites of the interned ids, looked up once per id per publish.
struct Strings<'a> {
    store: &'a Store,
    cache: HashMap<u32, Option<String>>,
    sites: HashMap<u32, Site>,
}

impl Strings<'_> {
    fn new(store: &Store) -> Strings<'_> {
        Strings {
            store,
            cache: HashMap::new(),
            sites: HashMap::new(),
        }
    }

    fn site(&mut self, id: u32) -> Site {
        let store = self.store;
        *self.sites.entry(id).or_insert_with(|| store.site(id))
    }

    fn get(&mut self, id: u32) -> Option<String> {
        if id == 0 {
            return None;
        }
        let store = self.store;
        self.cache
            .entry(id)
            .or_insert_with(|| store.string(id))
            .clone()
    }
}

fn field(meta: u64, name: &str, value: proto::field::Value) -> proto::Field {
    proto::Field {
        metadata_id: Some(proto::MetaId { id: meta }),
        name: Some(proto::field::Name::StrName(name.to_string())),
        value: Some(value),
    }
}

/// The console `Task` of a record, its fields shaped as console-subscriber sends them.
fn task_proto(t: &TaskRecord, s: &mut Strings<'_>) -> proto::tasks::Task {
    use proto::field::Value;
    let site = s.site(t.site);
    let m = site.meta_id;
    let mut fields = Vec::with_capacity(6);
    fields.push(field(
        m,
        "kind",
        Value::DebugVal(s.get(site.kind).unwrap_or_default()),
    ));
    fields.push(field(
        m,
        "task.name",
        Value::DebugVal(s.get(t.name).unwrap_or_default()),
    ));
    fields.push(field(m, "task.id", Value::U64Val(t.tokio_id)));
    if let Some(f) = s.get(site.fn_name) {
        fields.push(field(m, "fn", Value::DebugVal(f)));
    }
    if t.original_size_bytes != u32::MAX {
        fields.push(field(
            m,
            "original_size.bytes",
            Value::U64Val(t.original_size_bytes as u64),
        ));
    }
    fields.push(field(m, "size.bytes", Value::U64Val(t.size_bytes as u64)));
    let file = s.get(site.file);
    let location = file.map(|file| proto::Location {
        file: Some(file),
        module_path: None,
        line: (site.line != 0).then_some(site.line),
        column: (site.col != 0).then_some(site.col),
    });
    proto::tasks::Task {
        id: Some(proto::Id { id: t.id }),
        kind: proto::tasks::task::Kind::Spawn as i32,
        metadata: Some(proto::MetaId { id: m }),
        parents: Vec::new(),
        fields,
        location,
    }
}

fn duration(ns: u64) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(Duration::from_nanos(ns)).ok()
}

fn stats_proto(store: &Store, t: &TaskRecord) -> proto::tasks::Stats {
    let ts = |ns: u64| store.system_time(ns).map(prost_types::Timestamp::from);
    proto::tasks::Stats {
        created_at: ts(t.created),
        dropped_at: ts(t.dropped),
        wakes: t.wakes as u64,
        waker_clones: t.waker_clones as u64,
        waker_drops: t.waker_drops as u64,
        last_wake: ts(t.last_wake),
        poll_stats: Some(proto::PollStats {
            polls: t.polls as u64,
            first_poll: ts(t.first_poll),
            last_poll_started: ts(t.last_poll_started),
            last_poll_ended: ts(t.last_poll_ended),
            busy_time: duration(t.busy_ns),
        }),
        self_wakes: t.self_wakes as u64,
        scheduled_time: duration(t.scheduled_ns),
    }
}

fn metadata_proto(
    meta: &'static tracing_core::Metadata<'static>,
) -> proto::register_metadata::NewMetadata {
    proto::register_metadata::NewMetadata {
        id: Some(proto::MetaId {
            id: meta as *const tracing_core::Metadata<'static> as u64,
        }),
        metadata: Some(meta.into()),
    }
}

/// The entry that tells a watcher which instrumentation it talks to (asyncmem reads its
/// target).
fn probe_metadata() -> proto::register_metadata::NewMetadata {
    proto::register_metadata::NewMetadata {
        id: Some(proto::MetaId { id: PROBE_META_ID }),
        metadata: Some(proto::Metadata {
            name: "asyncmem_probe".into(),
            target: "asyncmem_probe".into(),
            module_path: "asyncmem_probe".into(),
            location: None,
            kind: proto::metadata::Kind::Event as i32,
            level: proto::metadata::Level::Info as i32,
            field_names: vec!["version".into()],
        }),
    }
}

/// Cuts a stream of tasks and stats into `Update`s of about [`CHUNK_BYTES`].
struct Chunker {
    /// Encoded bytes of the chunks taken so far.
    sent: usize,
    now: Option<prost_types::Timestamp>,
    metadata: Option<Vec<proto::register_metadata::NewMetadata>>,
    tasks: Vec<proto::tasks::Task>,
    stats: HashMap<u64, proto::tasks::Stats>,
    bytes: usize,
}

impl Chunker {
    fn new(now: SystemTime, metadata: Vec<proto::register_metadata::NewMetadata>) -> Self {
        Chunker {
            sent: 0,
            now: Some(now.into()),
            bytes: metadata.iter().map(|m| m.encoded_len() + 4).sum(),
            metadata: Some(metadata),
            tasks: Vec::new(),
            stats: HashMap::new(),
        }
    }

    /// Add a task (its `Task` if new, and its stats); returns a full chunk when there is one.
    fn push(
        &mut self,
        task: Option<proto::tasks::Task>,
        id: u64,
        stats: proto::tasks::Stats,
    ) -> Option<proto::instrument::Update> {
        if let Some(t) = task {
            self.bytes += t.encoded_len() + 4;
            self.tasks.push(t);
        }
        // A map entry: the key (up to 11 bytes), the message and its framing.
        self.bytes += stats.encoded_len() + 16;
        self.stats.insert(id, stats);
        (self.bytes >= CHUNK_BYTES).then(|| self.take())
    }

    fn take(&mut self) -> proto::instrument::Update {
        self.sent += self.bytes;
        self.bytes = 0;
        proto::instrument::Update {
            now: self.now,
            task_update: Some(proto::tasks::TaskUpdate {
                new_tasks: std::mem::take(&mut self.tasks),
                stats_update: std::mem::take(&mut self.stats),
                dropped_events: 0,
            }),
            resource_update: Some(Default::default()),
            async_op_update: Some(Default::default()),
            new_metadata: self
                .metadata
                .take()
                .map(|metadata| proto::RegisterMetadata { metadata }),
        }
    }
}

/// Give the memory of a large burst of messages back to the OS. Building a chunk allocates
/// several times its encoded size; glibc keeps freed memory mapped, so without this a big
/// initial state or delta would leave its peak in the host's RSS for good.
fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: malloc_trim only returns free memory to the OS; it takes no pointers.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Sent bytes past which a publish or a full state is followed by [`release_memory`].
const RELEASE_AFTER_BYTES: usize = 2 * CHUNK_BYTES;

/// Send, waiting for room at most [`SEND_TIMEOUT`] and not past `deadline`.
async fn send_within<T>(
    tx: &mpsc::Sender<Result<T, Status>>,
    msg: T,
    deadline: tokio::time::Instant,
) -> bool {
    let limit = (tokio::time::Instant::now() + SEND_TIMEOUT).min(deadline);
    // `timeout_at` polls the send once even past its deadline: room in the buffer still counts.
    matches!(
        tokio::time::timeout_at(limit, tx.send(Ok(msg))).await,
        Ok(Ok(()))
    )
}

/// Send one chunk to every watcher; a watcher gone or stalled past [`SEND_TIMEOUT`] is dropped.
async fn fan_out(
    watchers: &mut Vec<UpdateTx>,
    update: proto::instrument::Update,
    deadline: tokio::time::Instant,
) {
    let mut kept = Vec::with_capacity(watchers.len());
    let n = watchers.len();
    let mut update = Some(update);
    for (i, tx) in watchers.drain(..).enumerate() {
        // The last watcher takes the chunk itself, the others a copy.
        let msg = if i + 1 == n {
            update.take().unwrap_or_default()
        } else {
            update.clone().unwrap_or_default()
        };
        if send_within(&tx, msg, deadline).await {
            kept.push(tx);
        }
    }
    *watchers = kept;
}

fn histogram_proto(h: &Histo) -> proto::tasks::DurationHistogram {
    let mut raw_histogram = Vec::new();
    if V2Serializer::new()
        .serialize(&h.hist, &mut raw_histogram)
        .is_err()
    {
        raw_histogram.clear();
    }
    proto::tasks::DurationHistogram {
        raw_histogram,
        max_value: h.max,
        high_outliers: h.outliers,
        highest_outlier: h.max_outlier,
    }
}

pub(crate) struct Publisher {
    store: Arc<Store>,
    interval: Duration,
    cmds: Option<mpsc::Receiver<Command>>,
    watchers: Vec<UpdateTx>,
    details: HashMap<u64, Vec<DetailsTx>>,
    states: Vec<StateTx>,
    paused: bool,
    metadata_sent: usize,
    /// A large state or delta was sent: give its memory back at the next quiet tick.
    trim_pending: bool,
}

impl Publisher {
    pub(crate) fn new(
        store: Arc<Store>,
        interval: Duration,
        cmds: mpsc::Receiver<Command>,
    ) -> Self {
        Publisher {
            store,
            interval,
            cmds: Some(cmds),
            watchers: Vec::new(),
            details: HashMap::new(),
            states: Vec::new(),
            paused: false,
            metadata_sent: 0,
            trim_pending: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let cmd = async {
                match self.cmds.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => self.publish().await,
                cmd = cmd => match cmd {
                    Some(cmd) => self.handle(cmd).await,
                    // The server is gone: keep ticking so that dropped tasks are freed.
                    None => self.cmds = None,
                },
            }
        }
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Watch(tx) => self.add_watcher(tx).await,
            Command::Details { id, tx, reply } => {
                let watching: usize = self.details.values().map(Vec::len).sum();
                if watching >= MAX_DETAIL_WATCHERS {
                    let _ =
                        reply.send(Err(Status::resource_exhausted("too many details watchers")));
                    return;
                }
                if !self.store.watch(id) {
                    let _ = reply.send(Err(Status::not_found("task not found")));
                    return;
                }
                if reply.send(Ok(())).is_ok() {
                    if let Some(d) = self.task_details(id) {
                        let _ = tx.try_send(Ok(d));
                    }
                    self.details.entry(id).or_default().push(tx);
                } else if !self.details.contains_key(&id) {
                    self.store.unwatch(id);
                }
            }
            Command::State(tx) => {
                if self.states.len() < MAX_WATCHERS && tx.try_send(Ok(self.state())).is_ok() {
                    self.states.push(tx);
                }
            }
            Command::Pause => self.set_paused(true),
            Command::Resume => self.set_paused(false),
        }
    }

    fn state(&self) -> proto::instrument::State {
        let t = if self.paused {
            proto::instrument::Temporality::Paused
        } else {
            proto::instrument::Temporality::Live
        };
        proto::instrument::State {
            temporality: t as i32,
        }
    }

    fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        let state = self.state();
        self.states.retain(|tx| tx.try_send(Ok(state)).is_ok());
    }

    fn all_metadata(&self) -> Vec<proto::register_metadata::NewMetadata> {
        let callsites = lock(&self.store.callsites).clone();
        let mut out = vec![probe_metadata()];
        out.extend(callsites.into_iter().map(metadata_proto));
        out
    }

    /// A new watcher: the full state in chunks, then it joins the deltas. Tasks that change
    /// meanwhile are in the next delta as well, so nothing falls between the two.
    async fn add_watcher(&mut self, tx: UpdateTx) {
        if self.watchers.len() >= MAX_WATCHERS {
            let _ = tx.try_send(Err(Status::resource_exhausted("too many watchers")));
            return;
        }
        let store = self.store.clone();
        let mut strings = Strings::new(&store);
        let mut chunker = Chunker::new(SystemTime::now(), self.all_metadata());
        let deadline = tokio::time::Instant::now() + SYNC_BUDGET;
        let mut batch = Vec::with_capacity(COPY_BATCH);
        for shard in 0..store.shard_count() {
            let mut from = 0;
            loop {
                batch.clear();
                let next = store.copy_live(shard, from, COPY_BATCH, &mut batch);
                for t in &batch {
                    let task = task_proto(t, &mut strings);
                    if let Some(u) = chunker.push(Some(task), t.id, stats_proto(&store, t)) {
                        if !send_within(&tx, u, deadline).await {
                            return;
                        }
                    }
                }
                match next {
                    Some(n) => from = n,
                    None => break,
                }
            }
        }
        let last = chunker.take();
        self.trim_pending |= chunker.sent >= RELEASE_AFTER_BYTES;
        if send_within(&tx, last, deadline).await {
            self.watchers.push(tx);
        }
    }

    fn task_details(&self, id: u64) -> Option<proto::tasks::TaskDetails> {
        let details = lock(&self.store.details);
        let d = details.get(&id)?;
        Some(proto::tasks::TaskDetails {
            task_id: Some(proto::Id { id }),
            now: Some(SystemTime::now().into()),
            poll_times_histogram: Some(proto::tasks::task_details::PollTimesHistogram::Histogram(
                histogram_proto(&d.poll),
            )),
            scheduled_times_histogram: Some(histogram_proto(&d.scheduled)),
        })
    }

    async fn publish(&mut self) {
        self.watchers.retain(|tx| !tx.is_closed());
        if self.paused {
            if !self.watchers.is_empty() {
                // Changes wait in the records (one flag each) until resumed.
                return;
            }
            // Nobody left to resume: do not hold dropped tasks forever.
            self.set_paused(false);
        }
        let store = self.store.clone();
        let callsites = lock(&store.callsites).clone();
        let new_meta: Vec<_> = callsites[self.metadata_sent.min(callsites.len())..]
            .iter()
            .copied()
            .map(metadata_proto)
            .collect();
        self.metadata_sent = callsites.len();
        let mut chunker = Chunker::new(SystemTime::now(), new_meta);
        let deadline = tokio::time::Instant::now() + PUBLISH_BUDGET;
        let mut strings = Strings::new(&store);
        let mut taken: Vec<Taken> = Vec::new();
        let mut ended = Vec::new();
        for shard in 0..store.shard_count() {
            let slots = store.dirty_slots(shard);
            for batch in slots.chunks(COPY_BATCH) {
                taken.clear();
                store.take_slots(shard, batch, &mut taken);
                for Taken { rec, was_new } in &taken {
                    if rec.dropped != 0 && rec.flags & WATCHED != 0 {
                        ended.push(rec.id);
                    }
                    if self.watchers.is_empty() {
                        continue;
                    }
                    let task = was_new.then(|| task_proto(rec, &mut strings));
                    if let Some(u) = chunker.push(task, rec.id, stats_proto(&store, rec)) {
                        fan_out(&mut self.watchers, u, deadline).await;
                    }
                }
            }
            store.tick_done(shard);
        }
        if !self.watchers.is_empty() {
            fan_out(&mut self.watchers, chunker.take(), deadline).await;
        }
        // Trim once a big burst has left: its messages were still queued right after it.
        if chunker.sent >= RELEASE_AFTER_BYTES {
            self.trim_pending = true;
        } else if self.trim_pending {
            self.trim_pending = false;
            release_memory();
        }
        self.publish_details(&ended);
    }

    fn publish_details(&mut self, ended: &[u64]) {
        let ids: Vec<u64> = self.details.keys().copied().collect();
        for id in ids {
            let d = self.task_details(id);
            let done = ended.contains(&id);
            let keep = match (self.details.get_mut(&id), d) {
                (Some(txs), Some(d)) => {
                    txs.retain(|tx| tx.try_send(Ok(d.clone())).is_ok());
                    !txs.is_empty() && !done
                }
                _ => false,
            };
            if !keep {
                self.details.remove(&id);
                self.store.unwatch(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64) -> TaskRecord {
        TaskRecord {
            id,
            tokio_id: id + 100,
            size_bytes: 4096,
            original_size_bytes: u32::MAX,
            created: 1,
            ..Default::default()
        }
    }

    #[test]
    fn chunks_stay_under_the_limit_and_carry_every_task_once() {
        let store = Store::default();
        let site = store.site_id(Site {
            meta_id: 42,
            file: store.intern("demos/src/bin/sleepers.rs"),
            line: 12,
            ..Default::default()
        });
        let mut strings = Strings::new(&store);
        let mut chunker = Chunker::new(SystemTime::now(), vec![probe_metadata()]);
        let mut chunks = Vec::new();
        for id in 1..=20_000u64 {
            let mut t = rec(id);
            t.site = site;
            if let Some(u) = chunker.push(
                Some(task_proto(&t, &mut strings)),
                id,
                stats_proto(&store, &t),
            ) {
                chunks.push(u);
            }
        }
        chunks.push(chunker.take());
        assert!(chunks.len() > 2, "20k tasks fit in {} chunks", chunks.len());
        let mut ids = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let len = c.encoded_len();
            assert!(len <= CHUNK_BYTES + 4096, "chunk {i} is {len} bytes");
            assert_eq!(
                c.new_metadata.is_some(),
                i == 0,
                "metadata only in the first chunk"
            );
            let tu = c.task_update.as_ref().unwrap();
            for t in &tu.new_tasks {
                let id = t.id.unwrap().id;
                assert!(
                    tu.stats_update.contains_key(&id),
                    "stats travel with their task"
                );
                ids.push(id);
            }
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20_000);
    }

    #[test]
    fn task_fields_mirror_console_subscriber() {
        let store = Store::default();
        let mut t = rec(7);
        t.site = store.site_id(Site {
            meta_id: 42,
            kind: store.intern("task"),
            file: store.intern("src/main.rs"),
            fn_name: 0,
            line: 3,
            col: 9,
        });
        t.name = store.intern("boxed-32k");
        t.original_size_bytes = 32768;
        t.size_bytes = 8;
        let mut strings = Strings::new(&store);
        let p = task_proto(&t, &mut strings);
        let names: Vec<String> = p
            .fields
            .iter()
            .map(|f| match f.name.as_ref().unwrap() {
                proto::field::Name::StrName(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "kind",
                "task.name",
                "task.id",
                "original_size.bytes",
                "size.bytes"
            ]
        );
        assert_eq!(p.fields[3].value, Some(proto::field::Value::U64Val(32768)));
        assert_eq!(
            p.fields[1].value,
            Some(proto::field::Value::DebugVal("boxed-32k".into()))
        );
        assert_eq!(p.metadata, Some(proto::MetaId { id: 42 }));
        let loc = p.location.unwrap();
        assert_eq!(loc.file.as_deref(), Some("src/main.rs"));
        assert_eq!((loc.line, loc.column), (Some(3), Some(9)));
    }
}
