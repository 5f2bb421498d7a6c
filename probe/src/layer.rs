//! What tokio emits for tasks (the `runtime.spawn` span, its enters and exits, waker events,
//! its close) turned into updates of the task's compact record, directly, with no event queue
//! in between: as a `Layer` for a tracing-subscriber `Registry` ([`ProbeLayer`]) or as a whole
//! subscriber whose span ids name the records ([`ProbeSubscriber`], what `init()` installs).

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::store::{lock, Site, Store, TaskRecord, WATCHED};

/// Records tokio's task instrumentation into a [`Store`]. Built by [`crate::Builder`].
pub struct ProbeLayer {
    pub(crate) store: Arc<Store>,
}

/// Enables exactly what the probe uses: `runtime.spawn` spans and tokio's waker events. Every
/// other callsite (timers, resources, async ops) stays disabled, so tokio builds no span for
/// them and the registry keeps no slot.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProbeFilter;

pub(crate) fn is_spawn(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == "runtime.spawn"
}

pub(crate) fn is_waker(meta: &Metadata<'_>) -> bool {
    meta.is_event() && matches!(meta.target(), "tokio::task::waker" | "runtime::waker")
}

impl<S> Filter<S> for ProbeFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        is_spawn(meta) || is_waker(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> tracing_core::Interest {
        if is_spawn(meta) || is_waker(meta) {
            tracing_core::Interest::always()
        } else {
            tracing_core::Interest::never()
        }
    }
}

thread_local! {
    /// The span id of the task this thread is polling (0: none), to tell self-wakes.
    static POLLING: Cell<u64> = const { Cell::new(0) };
    /// Scratch buffer for formatting debug-valued fields before interning them.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
    /// Strings this thread interned lately, by store: spawn fields repeat, so most lookups
    /// end here without taking the store's lock.
    static STRINGS: RefCell<Vec<(usize, Box<str>, u32)>> = const { RefCell::new(Vec::new()) };
    /// The spawn site this thread saw last, by store.
    static LAST_SITE: Cell<(usize, Site, u32)> = Cell::new((0, Site::default(), 0));
}

const STRING_CACHE: usize = 16;

fn intern(store: &Store, s: &str) -> u32 {
    if s.is_empty() {
        return 0;
    }
    let key = store as *const Store as usize;
    STRINGS
        .try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            if let Some((_, _, id)) = cache.iter().find(|(k, v, _)| *k == key && **v == *s) {
                return Some(*id);
            }
            let id = store.intern(s);
            if cache.len() >= STRING_CACHE {
                cache.remove(0);
            }
            cache.push((key, s.into(), id));
            Some(id)
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| store.intern(s))
}

fn site_id(store: &Store, site: Site) -> u32 {
    let key = store as *const Store as usize;
    if let Ok((k, last, id)) = LAST_SITE.try_with(Cell::get) {
        if k == key && last == site {
            return id;
        }
    }
    let id = store.site_id(site);
    let _ = LAST_SITE.try_with(|c| c.set((key, site, id)));
    id
}

struct SpawnVisitor<'a> {
    store: &'a Store,
    rec: TaskRecord,
    site: Site,
}

impl SpawnVisitor<'_> {
    fn str_field(&mut self, name: &str, value: &str) {
        match name {
            "kind" => self.site.kind = intern(self.store, value),
            "task.name" => self.rec.name = intern(self.store, value),
            "loc.file" => self.site.file = intern(self.store, value),
            "fn" => self.site.fn_name = intern(self.store, value),
            _ => {}
        }
    }
}

fn saturate(v: u64) -> u32 {
    v.min(u32::MAX as u64) as u32
}

impl Visit for SpawnVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let name = field.name();
        if !matches!(name, "kind" | "task.name" | "loc.file" | "fn") {
            return;
        }
        let _ = SCRATCH.try_with(|buf| {
            if let Ok(mut buf) = buf.try_borrow_mut() {
                buf.clear();
                let _ = write!(buf, "{value:?}");
                self.str_field(name, &buf);
            }
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.str_field(field.name(), value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "task.id" => self.rec.tokio_id = value,
            // u32::MAX marks "absent" for the original size: a real one saturates below it.
            "size.bytes" => self.rec.size_bytes = saturate(value),
            "original_size.bytes" => {
                self.rec.original_size_bytes = saturate(value).min(u32::MAX - 1)
            }
            "loc.line" => self.site.line = saturate(value),
            "loc.col" => self.site.col = saturate(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if value >= 0 {
            self.record_u64(field, value as u64);
        }
    }
}

#[derive(Default)]
struct WakerVisitor {
    op: Option<WakeOp>,
    span: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WakeOp {
    Wake,
    WakeByRef,
    Clone,
    Drop,
}

impl Visit for WakerVisitor {
    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "op" {
            self.op = match value {
                "waker.wake" => Some(WakeOp::Wake),
                "waker.wake_by_ref" => Some(WakeOp::WakeByRef),
                "waker.clone" => Some(WakeOp::Clone),
                "waker.drop" => Some(WakeOp::Drop),
                _ => None,
            };
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "task.id" {
            self.span = Some(value);
        }
    }
}

/// The record of a new task from its `runtime.spawn` span's fields.
fn spawn_record(store: &Store, attrs: &Attributes<'_>) -> TaskRecord {
    let mut v = SpawnVisitor {
        store,
        rec: TaskRecord {
            original_size_bytes: u32::MAX,
            created: store.now(),
            heap_slot: crate::heap::acquire(),
            ..Default::default()
        },
        site: Site {
            meta_id: attrs.metadata() as *const Metadata<'static> as u64,
            ..Default::default()
        },
    };
    attrs.record(&mut v);
    v.rec.site = site_id(store, v.site);
    v.rec
}

/// A poll of the task of span `span` starts.
fn poll_start(store: &Store, span: u64) {
    let now = store.now();
    let mut watched = None;
    let mut heap_slot = 0;
    let known = store.update(span, |t| {
        heap_slot = t.heap_slot;
        t.polls = t.polls.saturating_add(1);
        if t.first_poll == 0 {
            t.first_poll = now;
        }
        let mut scheduled = None;
        if t.last_wake != 0 && t.last_wake > t.last_poll_started {
            let d = now.saturating_sub(t.last_wake);
            t.scheduled_ns = t.scheduled_ns.saturating_add(d);
            scheduled = Some(d);
        }
        t.last_poll_started = now;
        if t.flags & WATCHED != 0 {
            watched = Some((t.id, scheduled));
        }
    });
    if known {
        let _ = POLLING.try_with(|p| p.set(span));
        crate::dump::seen_runtime();
        // Last: what the probe allocated above is no task's.
        crate::heap::enter(heap_slot);
    }
    if let Some((task, Some(d))) = watched {
        if let Some(details) = lock(&store.details).get_mut(&task) {
            details.scheduled.record(d);
        }
    }
}

/// A poll of the task of span `span` ends.
fn poll_end(store: &Store, span: u64) {
    let now = store.now();
    let mut watched = None;
    // What the probe allocates from here on is not the task's.
    crate::heap::exit();
    store.update(span, |t| {
        let busy = now.saturating_sub(t.last_poll_started);
        t.busy_ns = t.busy_ns.saturating_add(busy);
        t.last_poll_ended = now;
        if t.flags & WATCHED != 0 {
            watched = Some((t.id, busy));
        }
    });
    let _ = POLLING.try_with(|p| {
        if p.get() == span {
            p.set(0)
        }
    });
    if let Some((task, busy)) = watched {
        if let Some(d) = lock(&store.details).get_mut(&task) {
            d.poll.record(busy);
        }
    }
}

/// A waker event (`tokio::task::waker`): count it on its task.
fn waker_event(store: &Store, event: &Event<'_>) {
    let mut v = WakerVisitor::default();
    event.record(&mut v);
    let (Some(op), Some(span)) = (v.op, v.span) else {
        return;
    };
    let now = store.now();
    let self_wake = matches!(op, WakeOp::Wake | WakeOp::WakeByRef)
        && POLLING.try_with(|p| p.get() == span).unwrap_or(false);
    store.update(span, |t| match op {
        WakeOp::Wake | WakeOp::WakeByRef => {
            t.wakes = t.wakes.saturating_add(1);
            t.last_wake = now;
            if self_wake {
                t.self_wakes = t.self_wakes.saturating_add(1);
            }
            // `wake` consumes the waker.
            if op == WakeOp::Wake {
                t.waker_drops = t.waker_drops.saturating_add(1);
            }
        }
        WakeOp::Clone => t.waker_clones = t.waker_clones.saturating_add(1),
        WakeOp::Drop => t.waker_drops = t.waker_drops.saturating_add(1),
    });
}

fn note_callsite(store: &Store, meta: &'static Metadata<'static>) {
    let mut callsites = lock(&store.callsites);
    if !callsites.iter().any(|m| std::ptr::eq(*m, meta)) {
        callsites.push(meta);
    }
}

impl<S> Layer<S> for ProbeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> tracing_core::Interest {
        if is_spawn(meta) || is_waker(meta) {
            note_callsite(&self.store, meta);
            tracing_core::Interest::always()
        } else {
            tracing_core::Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        is_spawn(meta) || is_waker(meta)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if is_spawn(attrs.metadata()) && !crate::dump::is_dump_helper(attrs) {
            // The probe's own memory (interning, slab pages) is no task's.
            let future_bytes = crate::heap::untracked(|| {
                let rec = spawn_record(&self.store, attrs);
                self.store.insert(id.into_u64(), rec);
                rec.size_bytes
            });
            crate::heap::spawning(future_bytes);
        }
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        poll_start(&self.store, id.into_u64());
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        poll_end(&self.store, id.into_u64());
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if is_waker(event.metadata()) {
            waker_event(&self.store, event);
        }
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        let store = &*self.store;
        let _ = store.close(id.into_u64(), store.now());
    }
}

/// The probe as a whole subscriber, what [`crate::init`] installs: task spans get ids that
/// name their record (no span registry, no span-id table), and every other span is disabled.
/// Events other than tokio's waker events go to `fmt` (a `RUST_LOG` filter, default
/// `error`), printed without span context.
pub struct ProbeSubscriber {
    pub(crate) store: Arc<Store>,
    pub(crate) fmt: tracing_core::Dispatch,
}

/// The id of a span the probe does not track (a spawn past a full shard, or not a task): it
/// names no record (see [`crate::store::encode`]).
pub(crate) const UNTRACKED: u64 = u64::MAX;

impl Subscriber for ProbeSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> tracing_core::Interest {
        if is_spawn(meta) || is_waker(meta) {
            note_callsite(&self.store, meta);
            tracing_core::Interest::always()
        } else if meta.is_event() {
            self.fmt.register_callsite(meta)
        } else {
            tracing_core::Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        is_spawn(meta) || is_waker(meta) || (meta.is_event() && self.fmt.enabled(meta))
    }

    fn max_level_hint(&self) -> Option<tracing_core::LevelFilter> {
        // tokio's task spans and waker events are TRACE.
        Some(tracing_core::LevelFilter::TRACE)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        if !is_spawn(attrs.metadata()) || crate::dump::is_dump_helper(attrs) {
            return Id::from_u64(UNTRACKED);
        }
        // The probe's own memory (interning, slab pages) is no task's.
        let (id, future_bytes) = crate::heap::untracked(|| {
            let rec = spawn_record(&self.store, attrs);
            (self.store.insert_direct(rec), rec.size_bytes)
        });
        crate::heap::spawning(future_bytes);
        Id::from_u64(id.unwrap_or(UNTRACKED))
    }

    fn record(&self, _span: &Id, _values: &tracing_core::span::Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if is_waker(event.metadata()) {
            waker_event(&self.store, event);
        } else {
            self.fmt.event(event);
        }
    }

    fn enter(&self, span: &Id) {
        poll_start(&self.store, span.into_u64());
    }

    fn exit(&self, span: &Id) {
        poll_end(&self.store, span.into_u64());
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.store.retain(id.into_u64());
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let store = &*self.store;
        store.release(id.into_u64(), store.now())
    }

    fn current_span(&self) -> tracing_core::span::Current {
        tracing_core::span::Current::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_strings_are_interned_from_the_thread_cache() {
        let store = Store::default();
        let a = intern(&store, "demos/src/bin/sleepers.rs");
        let b = intern(&store, "task");
        for _ in 0..3 {
            assert_eq!(intern(&store, "demos/src/bin/sleepers.rs"), a);
            assert_eq!(intern(&store, "task"), b);
        }
        assert_ne!(a, b);
        assert_eq!(
            store
                .intern_calls
                .load(std::sync::atomic::Ordering::Relaxed),
            2,
            "repeats are answered by the thread's cache"
        );
    }
}
