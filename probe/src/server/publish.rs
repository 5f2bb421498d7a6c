//! Publishing: once per publish interval the records changed since the last tick become one
//! delta, sent to every watcher over bounded channels (a stalled watcher is dropped); a new
//! watcher first gets the whole state, cut the same way. Also serves task details and state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use console_api as proto;
use tokio::sync::mpsc;
use tonic::Status;

use super::encode::{
    histogram_proto, mark_initial_state_end, metadata_proto, probe_metadata, stats_proto,
    task_proto, Chunker, Strings, CHUNK_BYTES,
};
use super::heap::{self, HeapTx};
use super::{Command, DetailsTx, StateTx, UpdateTx};
use crate::store::{lock, Store, Taken, WATCHED};

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
async fn fan_out<T: Clone + Default>(
    watchers: &mut Vec<mpsc::Sender<Result<T, Status>>>,
    update: T,
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

pub(crate) struct Publisher {
    store: Arc<Store>,
    interval: Duration,
    cmds: Option<mpsc::Receiver<Command>>,
    watchers: Vec<UpdateTx>,
    details: HashMap<u64, Vec<DetailsTx>>,
    states: Vec<StateTx>,
    /// `WatchHeap` streams (see [`heap`]).
    heap_watchers: Vec<HeapTx>,
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
            heap_watchers: Vec::new(),
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
            Command::Heap(tx) => self.add_heap_watcher(tx).await,
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

    /// A new watcher: the full state in chunks (the last one marked, see
    /// [`super::encode::INITIAL_STATE_TARGET`]), then it joins the deltas. Tasks that change
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
        let mut last = chunker.take();
        mark_initial_state_end(&mut last);
        self.trim_pending |= chunker.sent >= RELEASE_AFTER_BYTES;
        if send_within(&tx, last, deadline).await {
            self.watchers.push(tx);
        }
    }

    /// A new heap watcher: every task's heap now, then the deltas.
    async fn add_heap_watcher(&mut self, tx: HeapTx) {
        if self.heap_watchers.len() >= MAX_WATCHERS {
            let _ = tx.try_send(Err(Status::resource_exhausted("too many heap watchers")));
            return;
        }
        // The watchers there are get what moved first, which marks every slot as sent: the
        // deltas after the newcomer's full state then hold every change it has not seen.
        self.publish_heap(true).await;
        let deadline = tokio::time::Instant::now() + SYNC_BUDGET;
        for u in heap::updates(false) {
            if !send_within(&tx, u, deadline).await {
                return;
            }
        }
        self.heap_watchers.push(tx);
    }

    /// The heap of the tasks whose heap moved since the last delta, to every heap watcher;
    /// with no watcher, nothing (unless `always`: the slots are still marked as sent).
    async fn publish_heap(&mut self, always: bool) {
        self.heap_watchers.retain(|tx| !tx.is_closed());
        if self.heap_watchers.is_empty() && !always {
            return;
        }
        let deadline = tokio::time::Instant::now() + PUBLISH_BUDGET;
        for u in heap::updates(true) {
            fan_out(&mut self.heap_watchers, u, deadline).await;
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
        self.publish_heap(false).await;
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
