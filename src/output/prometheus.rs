//! `export`: the model as Prometheus metrics, in the text exposition format 0.0.4.
//!
//! Everything is an aggregate over the task table (counts by state, by future size, by spawn
//! location, by lint), never a series per task, and every label set is bounded: four states,
//! a fixed set of size buckets, the top K locations plus `other`, label values truncated.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::TargetInfo;
use crate::insight::{self, LintConfig, LintCounts};
use crate::model::{Connection, Counts, Model, TaskState, WarningKind};
use crate::present::units::tail;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest label value, in characters; longer ones keep their end (`…src/conn.rs:41:9`).
pub const MAX_LABEL_CHARS: usize = 128;

/// Label value of the locations beyond the top K.
pub const OTHER_LOCATION: &str = "other";

/// Label value of tasks without a spawn location.
pub const NO_LOCATION: &str = "<unknown>";

/// Upper bounds (bytes) of the future-size buckets: powers of two from 32 B to 1 MiB.
pub const SIZE_BUCKETS: [u64; 16] = {
    let mut b = [0u64; 16];
    let mut i = 0;
    while i < b.len() {
        b[i] = 32 << i;
        i += 1;
    }
    b
};

#[derive(Clone, Debug)]
pub struct Config {
    /// Locations exported one by one; the rest are summed into `location="other"`.
    pub top_locations: usize,
    /// Window of the bytes-per-task fit.
    pub fit_window: Duration,
    pub lints: LintConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            top_locations: 20,
            fit_window: Duration::from_secs(300),
            lints: LintConfig::default(),
        }
    }
}

/// The text exposition of `model`.
pub fn render(model: &Model, target: &TargetInfo, cfg: &Config) -> String {
    let mut w = Writer {
        out: String::with_capacity(8 * 1024),
    };
    let live = LiveTasks::count(model, &cfg.lints);
    write_target(&mut w, model, target);
    write_tasks(&mut w, &model.counts(), &live);
    write_locations(&mut w, &top_locations(model, cfg.top_locations));
    write_lints(&mut w, &live.lints);
    write_fit(&mut w, model, cfg.fit_window);
    write_explained(&mut w, model);
    write_heap(&mut w, model, &top_locations(model, cfg.top_locations));
    write_subscriber(&mut w, model);
    w.out
}

/// What one pass over the live tasks finds that the model's counts do not keep.
struct LiveTasks {
    /// Live tasks of known size per [`SIZE_BUCKETS`] bucket (not cumulative).
    buckets: [u64; SIZE_BUCKETS.len()],
    lints: LintCounts,
}

impl LiveTasks {
    fn count(model: &Model, lint_cfg: &LintConfig) -> LiveTasks {
        let mut buckets = [0u64; SIZE_BUCKETS.len()];
        let mut lints = LintCounts::default();
        for t in model.tasks() {
            if t.state() == TaskState::Done {
                continue;
            }
            if let Some(size) = t.size_bytes {
                // The first bucket that holds it; larger than all: only in +Inf.
                let i = SIZE_BUCKETS.partition_point(|&le| le < size);
                if let Some(b) = buckets.get_mut(i) {
                    *b += 1;
                }
            }
            lints.add(insight::lints(t, model.now(), lint_cfg));
        }
        LiveTasks { buckets, lints }
    }
}

/// The target: who it is, whether it is connected, its updates and its memory.
fn write_target(w: &mut Writer, model: &Model, target: &TargetInfo) {
    w.family(
        "asyncmem_target_info",
        "gauge",
        "The watched target: pid (when local), console endpoint and instrumentation; always 1.",
    );
    // The model's pid follows a reconnect to a new process behind the endpoint.
    let pid = model.pid().or(target.pid).map(|p| p.to_string());
    let mut labels = Vec::with_capacity(3);
    if let Some(pid) = &pid {
        labels.push(("pid", pid.as_str()));
    }
    labels.push(("endpoint", target.endpoint.as_str()));
    labels.push(("instrumentation", model.instrumentation().as_str()));
    w.sample("asyncmem_target_info", &labels, 1);

    w.family(
        "asyncmem_connected",
        "gauge",
        "1 while the console stream of the target is connected, 0 while connecting or reconnecting.",
    );
    let connected = u64::from(*model.connection() == Connection::Connected);
    w.sample("asyncmem_connected", &[], connected);

    w.single(
        "asyncmem_updates_total",
        "counter",
        "Console updates received from the target.",
        model.updates(),
    );

    if let Some(rss) = model.last_rss() {
        w.single(
            "asyncmem_target_resident_memory_bytes",
            "gauge",
            "Resident set size of the target process (VmRSS), read from /proc.",
            rss.rss_bytes,
        );
        w.single(
            "asyncmem_target_anon_memory_bytes",
            "gauge",
            "Anonymous resident memory of the target process (RssAnon), read from /proc.",
            rss.anon_rss_bytes,
        );
        w.single(
            "asyncmem_target_threads",
            "gauge",
            "Threads of the target process.",
            rss.threads,
        );
    }
}

/// Tasks by state, their future bytes, and live tasks by future size.
fn write_tasks(w: &mut Writer, c: &Counts, live: &LiveTasks) {
    w.by_label(
        "asyncmem_tasks",
        "gauge",
        "Tasks by poll state; idle = suspended at an await, done = dropped and still retained.",
        "state",
        TaskState::ALL.map(|s| (s.as_str(), c.of(s))),
    );

    w.single(
        "asyncmem_task_future_bytes",
        "gauge",
        "Sum of the future sizes of live tasks whose size is known.",
        c.future_bytes,
    );
    w.single(
        "asyncmem_sized_tasks",
        "gauge",
        "Live tasks whose future size is known (the count behind asyncmem_task_future_bytes).",
        c.sized,
    );

    w.family(
        "asyncmem_tasks_by_future_size",
        "gauge",
        "Live tasks of known size whose future is at most `le` bytes (cumulative; histogram_quantile works on it).",
    );
    let mut cumulative = 0;
    for (le, n) in SIZE_BUCKETS.iter().zip(live.buckets) {
        cumulative += n;
        w.sample(
            "asyncmem_tasks_by_future_size",
            &[("le", &le.to_string())],
            cumulative,
        );
    }
    w.sample("asyncmem_tasks_by_future_size", &[("le", "+Inf")], c.sized);
}

/// Live tasks and their future bytes by spawn location, the top K and `other`.
fn write_locations(w: &mut Writer, locations: &Locations) {
    w.single(
        "asyncmem_locations",
        "gauge",
        "Distinct spawn locations of live tasks (those beyond the top K are summed into location=\"other\").",
        locations.distinct,
    );
    w.by_label(
        "asyncmem_location_tasks",
        "gauge",
        "Live tasks by spawn location: the top K by future bytes, the rest as location=\"other\".",
        "location",
        locations.rows.iter().map(|l| (l.label.as_str(), l.tasks)),
    );
    w.by_label(
        "asyncmem_location_future_bytes",
        "gauge",
        "Sum of the future sizes of live tasks by spawn location (same locations as asyncmem_location_tasks).",
        "location",
        locations.rows.iter().map(|l| (l.label.as_str(), l.future_bytes)),
    );
}

/// Live tasks per lint.
fn write_lints(w: &mut Writer, lints: &LintCounts) {
    w.by_label(
        "asyncmem_lint_tasks",
        "gauge",
        "Live tasks with each lint (large_future, auto_boxed, lost_waker, self_wakes, never_yielded).",
        "lint",
        insight::Lint::ALL.map(|l| (l.as_str(), lints.of(l))),
    );
}

/// The bytes-per-task line over `window`, and the instrumentation's estimated share.
fn write_fit(w: &mut Writer, model: &Model, window: Duration) {
    let fit = crate::insight::bytes_per_task(model, Some(window));
    if let (Some(slope), Some(r2)) = (fit.slope, fit.r2) {
        w.single_f64("asyncmem_bytes_per_task", "gauge", "Slope of target RSS over live tasks (least squares over the fit window): RSS bytes per live task.", slope);
        w.single_f64(
            "asyncmem_bytes_per_task_r2",
            "gauge",
            "Coefficient of determination of the bytes-per-task line (0..1).",
            r2,
        );
    }
    if let Some(i) = insight::instrumentation_bytes_per_task(model.instrumentation()) {
        w.single("asyncmem_instrumentation_bytes_per_task", "gauge", "Estimated target RSS the instrumentation itself adds per live task (console-subscriber: measured).", i);
    }
}

/// What live tasks explain of RSS: the estimate, so that an alert can watch the rest grow
/// (`asyncmem_target_resident_memory_bytes - asyncmem_task_explained_bytes`).
fn write_explained(w: &mut Writer, model: &Model) {
    let e = insight::explained(model);
    w.single(
        "asyncmem_task_explained_bytes",
        "gauge",
        "Estimated target memory held by live tasks: task cells, futures tokio boxed, and the instrumentation's cost per task (a lower bound: nothing a future points to).",
        e.explained_bytes,
    );
    w.single(
        "asyncmem_task_cell_bytes",
        "gauge",
        "The task-cell part of asyncmem_task_explained_bytes: tokio's cells (128-byte aligned, futures inline) and the boxes of futures tokio boxed.",
        e.cell_bytes,
    );
}

/// The heap as the target's allocator counts it (asyncmem-probe): nothing where it is not known.
fn write_heap(w: &mut Writer, model: &Model, locations: &Locations) {
    let h = model.heap();
    let Some(live) = h.live() else {
        return;
    };
    w.single(
        "asyncmem_heap_live_tasks_bytes",
        "gauge",
        "Heap held by live tasks, as the target's allocator (asyncmem_probe::Allocator) counts it.",
        live.bytes,
    );
    w.single(
        "asyncmem_heap_holding_tasks",
        "gauge",
        "Live tasks holding any heap.",
        h.holding_tasks().unwrap_or(0),
    );
    if let Some(o) = h.outside_tasks() {
        w.single(
            "asyncmem_heap_outside_tasks_bytes",
            "gauge",
            "Heap allocated outside any poll (the runtime's, the main thread's), still live.",
            o.bytes,
        );
    }
    if let Some(e) = h.left_by_ended_tasks() {
        w.single(
            "asyncmem_heap_left_by_ended_tasks_bytes",
            "gauge",
            "Heap allocated by tasks that have ended, still live.",
            e.bytes,
        );
    }
    w.by_label(
        "asyncmem_location_heap_bytes",
        "gauge",
        "Heap held by live tasks by spawn location (same locations as asyncmem_location_tasks).",
        "location",
        locations
            .rows
            .iter()
            .map(|l| (l.label.as_str(), l.heap_bytes)),
    );
}

/// How far behind the subscriber is, what it dropped, and the warnings about the picture.
fn write_subscriber(w: &mut Writer, model: &Model) {
    w.family(
        "asyncmem_subscriber_lag_seconds",
        "gauge",
        "How late the subscriber announced the tasks of its latest announcing update (0 when none in the last 5 s).",
    );
    let lag_ns = model.lag().current(model.now()).unwrap_or(0);
    w.sample_f64("asyncmem_subscriber_lag_seconds", &[], lag_ns as f64 / 1e9);
    if let Some(missing) = model.lag().missing_estimate() {
        w.single("asyncmem_subscriber_missing_tasks", "gauge", "Tokio task ids never announced between the first picture and the newest task (a lower bound of tasks missing from the picture).", missing);
    }
    w.family(
        "asyncmem_subscriber_dropped_events_total",
        "counter",
        "Events the target's subscriber reported dropping.",
    );
    let dropped = model
        .warnings()
        .get(WarningKind::DroppedEvents)
        .map_or(0, |w| w.count);
    w.sample("asyncmem_subscriber_dropped_events_total", &[], dropped);

    w.by_label(
        "asyncmem_warnings_total",
        "counter",
        "Problems with the picture the target sends, by kind (see `asyncmem snapshot` for the explanations).",
        "kind",
        model.warnings().iter().map(|w| (w.kind.as_str(), w.count)),
    );
}

/// One exported location row.
#[derive(Debug, PartialEq, Eq)]
pub struct LocationRow {
    pub label: String,
    pub tasks: u64,
    pub future_bytes: u64,
    /// Heap its live tasks hold (0 where the heap is not known: the family is not written).
    pub heap_bytes: u64,
}

#[derive(Debug)]
pub struct Locations {
    /// Distinct spawn locations of live tasks.
    pub distinct: u64,
    /// The top `k` by future bytes, then `other` (if anything is left), each label unique.
    pub rows: Vec<LocationRow>,
}

/// Live tasks by spawn location, the top `k` by future bytes and the rest as `other`.
pub fn top_locations(model: &Model, k: usize) -> Locations {
    let all = insight::by_location(model.tasks().filter(|t| t.state() != TaskState::Done));
    let distinct = all.len() as u64;
    let heap = |l| model.heap().location(l).map_or(0, |h| h.bytes);
    let mut rows: Vec<LocationRow> = Vec::with_capacity(k.min(all.len()) + 1);
    // Labels are truncated: two long locations may end alike; their rows are merged.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut other = LocationRow {
        label: OTHER_LOCATION.to_string(),
        tasks: 0,
        future_bytes: 0,
        heap_bytes: 0,
    };
    for (i, l) in all.iter().enumerate() {
        if i >= k {
            other.tasks += l.live();
            other.future_bytes = other.future_bytes.saturating_add(l.size_sum);
            other.heap_bytes = other.heap_bytes.saturating_add(heap(l.location));
            continue;
        }
        let name = model.resolve(l.location);
        let label = label_value(if name.is_empty() { NO_LOCATION } else { name });
        match index.get(&label) {
            Some(&at) => {
                rows[at].tasks += l.live();
                rows[at].future_bytes = rows[at].future_bytes.saturating_add(l.size_sum);
                rows[at].heap_bytes = rows[at].heap_bytes.saturating_add(heap(l.location));
            }
            None => {
                index.insert(label.clone(), rows.len());
                rows.push(LocationRow {
                    label,
                    tasks: l.live(),
                    future_bytes: l.size_sum,
                    heap_bytes: heap(l.location),
                });
            }
        }
    }
    if other.tasks > 0 {
        match index.get(OTHER_LOCATION) {
            Some(&at) => {
                rows[at].tasks += other.tasks;
                rows[at].future_bytes = rows[at].future_bytes.saturating_add(other.future_bytes);
                rows[at].heap_bytes = rows[at].heap_bytes.saturating_add(other.heap_bytes);
            }
            None => rows.push(other),
        }
    }
    Locations { distinct, rows }
}

/// `s` cut to [`MAX_LABEL_CHARS`], keeping its end (where a path says the most).
pub fn label_value(s: &str) -> String {
    tail(s, MAX_LABEL_CHARS)
}

struct Writer {
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn labels(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.out.push_str(name);
        if labels.is_empty() {
            return;
        }
        self.out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(k);
            self.out.push_str("=\"");
            for ch in label_value(v).chars() {
                match ch {
                    '\\' => self.out.push_str("\\\\"),
                    '"' => self.out.push_str("\\\""),
                    '\n' => self.out.push_str("\\n"),
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }
        self.out.push('}');
    }

    /// A family of one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// A family of one sample per value of the label `key`.
    fn by_label<'a>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        key: &str,
        values: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        self.family(name, kind, help);
        for (label, value) in values {
            self.sample(name, &[(key, label)], value);
        }
    }

    fn single_f64(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample_f64(name, &[], value);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.labels(name, labels);
        let _ = writeln!(self.out, " {value}");
    }

    fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.labels(name, labels);
        if value.is_nan() {
            self.out.push_str(" NaN\n");
        } else if value.is_infinite() {
            self.out
                .push_str(if value > 0.0 { " +Inf\n" } else { " -Inf\n" });
        } else {
            let _ = writeln!(self.out, " {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::synth::*;
    use crate::model::RssSample;

    fn target() -> TargetInfo {
        TargetInfo {
            pid: Some(4242),
            endpoint: "http://127.0.0.1:6669".into(),
        }
    }

    /// A task spawned at `file:line:5`.
    fn at(id: u64, size: u64, file: &str, line: u32) -> PTask {
        let mut t = ptask(id, id, size, None, "");
        t.location = Some(console_api::Location {
            file: Some(file.into()),
            module_path: None,
            line: Some(line),
            column: Some(5),
        });
        t
    }

    /// Parse the exposition: every sample line's family has HELP and TYPE before it, names and
    /// labels are well formed. Returns (series with labels as written, value).
    fn parse(text: &str) -> Vec<(String, f64)> {
        let mut typed = std::collections::HashSet::new();
        let mut helped = std::collections::HashSet::new();
        let mut out = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.insert(rest.split(' ').next().unwrap().to_string());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let name = parts.next().unwrap();
                let kind = parts.next().unwrap();
                assert!(["gauge", "counter"].contains(&kind), "{line}");
                assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
                continue;
            }
            assert!(!line.starts_with('#'), "{line}");
            let (series, value) = line.rsplit_once(' ').expect("name value");
            let name = series.split('{').next().unwrap();
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            assert!(typed.contains(name) && helped.contains(name), "{line}");
            if name.ends_with("_total") {
                assert!(text.contains(&format!("# TYPE {name} counter")), "{line}");
            }
            if let Some(labels) = series.strip_prefix(name) {
                if !labels.is_empty() {
                    assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                }
            }
            // Rust's float parser reads Prometheus's "+Inf" and "NaN" too.
            let v: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line}"));
            out.push((series.to_string(), v));
        }
        let names: Vec<&String> = out.iter().map(|(s, _)| s).collect();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "a series appears twice");
        out
    }

    fn value(samples: &[(String, f64)], series: &str) -> f64 {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .unwrap_or_else(|| panic!("no {series}"))
            .1
    }

    fn with(samples: &[(String, f64)], prefix: &str) -> Vec<(String, f64)> {
        samples
            .iter()
            .filter(|(s, _)| s.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Locations 0..30 at files `f{i}.rs`: location i has i+1 tasks of 100 * (i+1) bytes.
    fn many_locations() -> Model {
        let mut m = Model::default();
        let mut tasks = Vec::new();
        let mut stats = Vec::new();
        let mut id = 1;
        for i in 0..30u32 {
            for _ in 0..=i {
                tasks.push(at(id, 100 * (u64::from(i) + 1), &format!("f{i}.rs"), 7));
                stats.push((id, self::stats(SEC)));
                id += 1;
            }
        }
        m.apply_update(&update(2 * SEC, true, tasks, stats));
        m
    }

    #[test]
    fn heap_metrics_only_where_the_heap_is_known() {
        let mut m = many_locations();
        let s = parse(&render(&m, &target(), &Config::default()));
        assert!(
            with(&s, "asyncmem_heap").is_empty(),
            "no heap stream, no heap metric"
        );
        assert!(with(&s, "asyncmem_location_heap").is_empty());
        // Task 465 (f29.rs, the top location) holds 1000 B; task 1 (f0.rs, in "other") 500 B.
        m.apply(crate::model::heap::synth_event(
            3 * SEC,
            true,
            &[(465, 1000), (1, 500)],
            77,
        ));
        let s = parse(&render(&m, &target(), &Config::default()));
        assert_eq!(value(&s, "asyncmem_heap_live_tasks_bytes"), 1500.0);
        assert_eq!(value(&s, "asyncmem_heap_holding_tasks"), 2.0);
        assert_eq!(value(&s, "asyncmem_heap_outside_tasks_bytes"), 77.0);
        let rows = with(&s, "asyncmem_location_heap_bytes");
        assert_eq!(rows.iter().map(|r| r.1).sum::<f64>(), 1500.0, "{rows:?}");
        let of = |needle: &str| rows.iter().find(|r| r.0.contains(needle)).map(|r| r.1);
        assert_eq!(of("f29.rs"), Some(1000.0), "{rows:?}");
        assert_eq!(of("\"other\""), Some(500.0), "{rows:?}");
    }

    #[test]
    fn explained_bytes_follow_the_live_tasks() {
        let mut m = many_locations();
        let text = render(&m, &target(), &Config::default());
        let s = parse(&text);
        let c = m.counts();
        let per_task = insight::instrumentation_bytes_per_task(m.instrumentation()).unwrap_or(0);
        assert!(per_task > 0, "the synthetic target is console-subscriber");
        assert_eq!(value(&s, "asyncmem_task_cell_bytes"), c.cell_bytes as f64);
        assert_eq!(
            value(&s, "asyncmem_task_explained_bytes"),
            (c.cell_bytes + c.live() * per_task) as f64
        );
        // A task ends: its cell and its instrumentation leave the estimate.
        let before = value(&s, "asyncmem_task_explained_bytes");
        let done = Stats {
            created_at: stamp(SEC),
            dropped_at: stamp(3 * SEC),
            ..Default::default()
        };
        m.apply_update(&update(3 * SEC, false, vec![], vec![(1, done)]));
        let after = value(
            &parse(&render(&m, &target(), &Config::default())),
            "asyncmem_task_explained_bytes",
        );
        let one = crate::model::cost::task_bytes(Some(100), false) + per_task;
        assert_eq!(before - after, one as f64);
    }

    #[test]
    fn families_states_and_sums() {
        let mut m = many_locations();
        m.apply_rss(RssSample {
            at: 2 * SEC,
            rss_bytes: 50_000_000,
            anon_rss_bytes: 40_000_000,
            threads: 3,
        });
        // One task done: it leaves the live figures.
        let done = Stats {
            created_at: stamp(SEC),
            dropped_at: stamp(2 * SEC),
            ..Default::default()
        };
        m.apply_update(&update(2 * SEC + 1, false, vec![], vec![(1, done)]));
        let c = m.counts();
        let text = render(&m, &target(), &Config::default());
        let s = parse(&text);
        for state in TaskState::ALL {
            let series = format!("asyncmem_tasks{{state=\"{}\"}}", state.as_str());
            assert_eq!(value(&s, &series), c.of(state) as f64, "{series}");
        }
        assert_eq!(c.done, 1);
        assert_eq!(
            value(&s, "asyncmem_task_future_bytes"),
            c.future_bytes as f64
        );
        assert_eq!(value(&s, "asyncmem_sized_tasks"), c.sized as f64);
        assert_eq!(
            value(&s, "asyncmem_target_resident_memory_bytes"),
            50_000_000.0
        );
        assert_eq!(value(&s, "asyncmem_target_anon_memory_bytes"), 40_000_000.0);
        assert_eq!(value(&s, "asyncmem_target_threads"), 3.0);
        assert_eq!(value(&s, "asyncmem_connected"), 0.0, "never connected");
        assert_eq!(value(&s, "asyncmem_updates_total"), 2.0);
        assert_eq!(
            value(
                &s,
                "asyncmem_target_info{pid=\"4242\",endpoint=\"http://127.0.0.1:6669\",instrumentation=\"console-subscriber\"}"
            ),
            1.0
        );
        // The size buckets are cumulative and end at the sized count.
        let buckets = with(&s, "asyncmem_tasks_by_future_size{");
        assert_eq!(buckets.len(), SIZE_BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(buckets.last().unwrap().1, c.sized as f64);
        // Sizes here are 100..=3000 B: none at or below 64 B, all at or below 4096 B.
        assert_eq!(value(&s, "asyncmem_tasks_by_future_size{le=\"64\"}"), 0.0);
        assert_eq!(
            value(&s, "asyncmem_tasks_by_future_size{le=\"4096\"}"),
            c.sized as f64
        );
        // Exactly on a bound counts in that bucket: 30 tasks of 3000 B, 28 of 2900 B ...
        let at_most_2048 = m
            .tasks()
            .filter(|t| t.state() != TaskState::Done && t.size_bytes.unwrap() <= 2048)
            .count();
        assert_eq!(
            value(&s, "asyncmem_tasks_by_future_size{le=\"2048\"}"),
            at_most_2048 as f64
        );
        // No RSS series that moved: no fit, so no slope is exported.
        assert!(!text.contains("asyncmem_bytes_per_task "));
        assert!(text.contains("# TYPE asyncmem_subscriber_dropped_events_total counter"));
    }

    #[test]
    fn locations_are_the_top_k_and_other() {
        let m = many_locations();
        let live = m.counts().live();
        for k in [0usize, 1, 5, 29, 30, 100] {
            let cfg = Config {
                top_locations: k,
                ..Config::default()
            };
            let text = render(&m, &target(), &cfg);
            // No RSS reading (no local pid): no memory figures, rather than zeros.
            assert!(!text.contains("asyncmem_target_resident_memory_bytes"));
            assert!(!text.contains("asyncmem_target_threads"));
            let s = parse(&text);
            let tasks = with(&s, "asyncmem_location_tasks{");
            let bytes = with(&s, "asyncmem_location_future_bytes{");
            let shown = k.min(30);
            let expect_rows = shown + usize::from(k < 30);
            assert_eq!(tasks.len(), expect_rows, "k={k}");
            assert_eq!(bytes.len(), expect_rows, "k={k}");
            assert_eq!(value(&s, "asyncmem_locations"), 30.0);
            // Nothing lost: the rows add up to the live tasks and their bytes.
            assert_eq!(tasks.iter().map(|t| t.1).sum::<f64>(), live as f64);
            assert_eq!(
                bytes.iter().map(|t| t.1).sum::<f64>(),
                m.counts().future_bytes as f64
            );
            // The largest come first: f29 holds the most bytes, then f28, ...
            for (rank, i) in (0..shown).zip((0..30).rev()) {
                let series = format!("asyncmem_location_tasks{{location=\"f{i}.rs:7:5\"}}");
                assert_eq!(value(&s, &series), (i + 1) as f64, "k={k} rank {rank}");
            }
            if k < 30 {
                let rest: u64 = (0..30 - k as u64).map(|i| i + 1).sum();
                assert_eq!(
                    value(&s, "asyncmem_location_tasks{location=\"other\"}"),
                    rest as f64
                );
            }
        }
    }

    #[test]
    fn label_values_are_escaped_and_bounded() {
        let mut m = Model::default();
        let long = format!("/{}/src/conn.rs", "deep/".repeat(100));
        let tasks = vec![
            at(1, 64, "we\"ird\\pa\nth.rs", 1),
            at(2, 64, &long, 2),
            at(3, 64, &long.replacen("deep", "DEEP", 1), 2),
        ];
        let stats = (1..=3).map(|i| (i, self::stats(SEC))).collect();
        m.apply_update(&update(2 * SEC, true, tasks, stats));
        let text = render(&m, &target(), &Config::default());
        let s = parse(&text);
        assert!(
            text.contains("location=\"we\\\"ird\\\\pa\\nth.rs:1:5\""),
            "{text}"
        );
        // The two long paths differ only in their beginning: cut to the same label, merged.
        let long_rows: Vec<_> = with(&s, "asyncmem_location_tasks{location=\"…")
            .into_iter()
            .collect();
        assert_eq!(long_rows.len(), 1, "{text}");
        assert_eq!(long_rows[0].1, 2.0);
        let label = long_rows[0].0.split('"').nth(1).unwrap();
        assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
        assert!(label.ends_with("/src/conn.rs:2:5"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn the_slope_is_exported_once_it_can_be_fitted() {
        let mut m = Model::default();
        let mut id = 1;
        for step in 0..10i64 {
            let now = (step + 2) * SEC;
            let tasks: Vec<PTask> = (0..50)
                .map(|_| {
                    id += 1;
                    at(id, 4096, "src/pool.rs", 3)
                })
                .collect();
            let stats = tasks
                .iter()
                .map(|t| (t.id.unwrap().id, self::stats(now - SEC)))
                .collect();
            m.apply_update(&update(now, step == 0, tasks, stats));
            let live = m.counts().live();
            m.apply_rss(RssSample {
                at: now,
                rss_bytes: 10_000_000 + live * 60_000,
                anon_rss_bytes: 0,
                threads: 1,
            });
        }
        let s = parse(&render(&m, &target(), &Config::default()));
        assert!((value(&s, "asyncmem_bytes_per_task") - 60_000.0).abs() < 1e-3);
        assert!((value(&s, "asyncmem_bytes_per_task_r2") - 1.0).abs() < 1e-9);
        assert_eq!(
            value(&s, "asyncmem_instrumentation_bytes_per_task"),
            insight::CONSOLE_SUBSCRIBER_BYTES_PER_TASK as f64
        );
        assert_eq!(
            value(
                &s,
                "asyncmem_location_future_bytes{location=\"src/pool.rs:3:5\"}"
            ),
            (500 * 4096) as f64
        );
        // A size exactly on a bucket's bound counts in that bucket, not the next.
        assert_eq!(value(&s, "asyncmem_tasks_by_future_size{le=\"2048\"}"), 0.0);
        assert_eq!(
            value(&s, "asyncmem_tasks_by_future_size{le=\"4096\"}"),
            500.0
        );
    }
}
