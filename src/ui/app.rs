//! The view state of `top` and how actions change it. No drawing, no I/O: testable alone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

use super::history::{self, Histories};
use super::index::TaskIndex;
use super::keymap::{self, Action};
use super::throttle::Throttle;
use super::view;
use super::Request;
use crate::insight::layout::{Brief, LayoutJoin};
use crate::insight::{self, LintConfig, LintCounts, Moment};
use crate::model::{Event, Model, Nanos, Sym, TaskState};
use crate::output::TargetInfo;
use crate::present::layout as layout_text;
use crate::present::Column;
use crate::recording::Progress;
use crate::source::replay;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Tasks,
    Locations,
    Details,
    /// The selected task's future as an unfoldable tree (`t`, with `--layout`).
    Future,
    /// Asking before a task dump (`d`): y takes it, any other key does not.
    ConfirmDump,
    /// Where tasks wait: the last dump's tasks grouped by parked-at point.
    Parked,
    Help,
    Warnings,
}

/// Chart windows the zoom keys step through.
pub const WINDOWS: [Duration; 7] = [
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(2 * 60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(30 * 60),
];

/// Most events held back while the view is frozen; past it, the sources wait.
pub const MAX_FROZEN_EVENTS: usize = 4096;

pub struct App {
    pub target: TargetInfo,
    pub mode: Mode,
    pub sort: Column,
    pub descending: bool,
    pub filter: String,
    pub editing_filter: bool,
    pub index: TaskIndex,
    /// The selected task's uid (survives re-sorting) and its row.
    pub selected_uid: Option<u64>,
    pub selected_row: usize,
    pub offset: usize,
    /// Rows of the table on screen (for paging), set by [`App::prepare`] before each frame.
    pub page: usize,
    pub window: usize,
    /// The view is frozen (Space); events wait in `held`.
    pub frozen: bool,
    pub held: VecDeque<Event>,
    pub quit: bool,
    /// Requests for the source, taken by the run loop.
    pub outbox: Vec<Request>,
    /// The last pause request this UI sent the target was Pause (not Resume): quitting must
    /// resume it, or it stays paused for every watcher.
    pub paused_target: bool,
    /// `top --record`: the recording's file and how it goes.
    pub recording: Option<RecordingStatus>,
    pub color: bool,
    pub lints: LintConfig,
    pub locations: LocationView,
    /// Tasks per lint, recounted when the model changes.
    pub lint_counts: LintCounts,
    /// `--layout FILE`: the compile-time layout the details view explains futures with.
    pub layout: Option<std::sync::Arc<crate::insight::layout::LayoutJoin>>,
    /// The layout view's tree (`t`).
    pub future: FutureView,
    /// With `--layout`: what the layout accounts for per live task, recounted with the lints.
    pub layout_bill: Option<crate::insight::layout::Bill>,
    /// The parked view (`d`).
    pub parked: ParkedView,
    /// The mark (`m`): the locations view shows what changed since.
    pub mark: Option<Mark>,
    /// In a replay: the recording's spikes (`n`, `N`).
    pub spikes: SpikeNav,
    lint_generation: u64,
    lints_counted_at: Option<std::time::Instant>,
}

/// The layout view: one task's future as a tree of its states, their fields and the coroutines
/// those hold, unfolded and folded by the user.
#[derive(Default)]
pub struct FutureView {
    /// What the layout says of the task (the match), and its future when one matched.
    pub head: String,
    pub root: Option<crate::layout::model::FutureId>,
    /// The unfolded nodes, by path.
    pub open: HashSet<layout_text::Path>,
    pub selected: usize,
    pub offset: usize,
    /// Where Esc goes back to.
    back: Option<Mode>,
}

impl FutureView {
    /// The rows as shown now.
    pub fn rows(&self, join: Option<&LayoutJoin>) -> Vec<layout_text::Row> {
        match (join, self.root) {
            (Some(j), Some(root)) => layout_text::rows(j.index(), root, &self.open, None),
            _ => Vec::new(),
        }
    }

    fn on_action(&mut self, join: Option<&LayoutJoin>, action: Action, page: usize) -> bool {
        let rows = self.rows(join);
        let last = rows.len().saturating_sub(1);
        let row = rows.get(self.selected);
        if let Some(to) = moved(self.selected, action, page, last) {
            self.selected = to;
            return true;
        }
        match action {
            // Enter toggles; → unfolds, or steps into what is unfolded.
            Action::Open | Action::SortRight => {
                if let Some(r) = row.filter(|r| r.foldable) {
                    if !r.open {
                        self.open.insert(r.path.clone());
                    } else if action == Action::Open {
                        self.open.remove(&r.path);
                    } else {
                        self.selected = (self.selected + 1).min(last);
                    }
                }
            }
            // ← folds, or steps out to the parent.
            Action::SortLeft => {
                if let Some(r) = row {
                    if r.open {
                        self.open.remove(&r.path);
                    } else if let Some((_, parent)) = r.path.split_last() {
                        if let Some(i) = rows
                            .iter()
                            .position(|x| x.path == parent && x.node.is_some())
                        {
                            self.selected = i;
                        }
                    }
                }
            }
            Action::Back => return false,
            _ => {}
        }
        true
    }

    /// Keep the selection on a row and on screen (`page` rows shown).
    fn clamp(&mut self, rows: usize, page: usize) {
        self.selected = self.selected.min(rows.saturating_sub(1));
        let page = page.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
    }
}

/// The parked view: the last dump's groups, rebuilt when a new dump arrives.
#[derive(Default)]
pub struct ParkedView {
    pub groups: Vec<crate::insight::dump::Group>,
    /// The dump the groups are of (its `seq`), and the one asked for (`Some` while waiting).
    pub built_for: u64,
    pub waiting_since: Option<u64>,
    pub selected: usize,
    pub offset: usize,
    /// Whether the selected group's chain is shown.
    pub open: bool,
    pub sort: ParkedSort,
}

/// What the parked view is sorted by (← → step through them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParkedSort {
    /// Most tasks first.
    #[default]
    Tasks,
    /// Most future bytes first.
    Futures,
    /// Most slack first (with `--layout`).
    Slack,
    /// By point, as text.
    Point,
}

impl ParkedSort {
    const ALL: [ParkedSort; 4] = [
        ParkedSort::Tasks,
        ParkedSort::Futures,
        ParkedSort::Slack,
        ParkedSort::Point,
    ];

    fn step(self, by: isize) -> ParkedSort {
        let n = Self::ALL.len() as isize;
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0) as isize;
        Self::ALL[(i + by).rem_euclid(n) as usize]
    }
}

impl ParkedView {
    fn refresh(&mut self, model: &Model, join: Option<&LayoutJoin>) {
        let Some(d) = model.dump() else { return };
        if d.seq == self.built_for {
            return;
        }
        self.built_for = d.seq;
        self.waiting_since = None;
        self.groups = match &d.outcome {
            Ok(dump) => crate::insight::dump::groups(&dump.tasks, model, join),
            Err(_) => Vec::new(),
        };
        self.sort_groups();
        self.selected = self.selected.min(self.groups.len().saturating_sub(1));
    }

    fn sort_groups(&mut self) {
        let slack = |g: &crate::insight::dump::Group| g.slack.as_ref().map_or(0, |s| s.slack_bytes);
        match self.sort {
            ParkedSort::Tasks => {} // as grouped: most tasks first
            ParkedSort::Futures => self
                .groups
                .sort_by_key(|g| std::cmp::Reverse(g.future_bytes)),
            ParkedSort::Slack => self.groups.sort_by_key(|g| std::cmp::Reverse(slack(g))),
            ParkedSort::Point => self.groups.sort_by_key(|g| g.parked_at.text()),
        }
        if self.sort == ParkedSort::Tasks {
            self.groups.sort_by_key(|g| std::cmp::Reverse(g.tasks));
        }
    }
}

/// The first row shown, moved as little as keeps `selected` on a page of `page` rows.
fn scrolled(offset: usize, selected: usize, page: usize) -> usize {
    if selected < offset {
        selected
    } else if selected >= offset + page {
        selected + 1 - page
    } else {
        offset
    }
}

/// Where a movement key takes the selection of a list of `last + 1` rows shown `page` at a
/// time; `None` for the other actions.
fn moved(selected: usize, action: Action, page: usize, last: usize) -> Option<usize> {
    Some(match action {
        Action::Up => selected.saturating_sub(1),
        Action::Down => (selected + 1).min(last),
        Action::PageUp => selected.saturating_sub(page),
        Action::PageDown => (selected + page).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => return None,
    })
}

/// One of the recording's steepest RSS rises, as `replay` jumps to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpikeAt {
    /// The rise's two ends as recording positions (ns from its start, as the player counts).
    pub from: Nanos,
    pub to: Nanos,
    pub rss_change_bytes: i64,
    pub rss_bytes_per_second: f64,
    /// 1 for the steepest.
    pub rank: usize,
}

/// The spikes of the recording being replayed, found beside the replay (reading the whole
/// file takes a while), and where a jump to one stands.
#[derive(Default)]
pub struct SpikeNav {
    /// Set once the recording was read through, in time order; `None`: not a replay.
    pub found: Option<Arc<OnceLock<Vec<SpikeAt>>>>,
    /// The spike the replay was last taken to.
    pub current: Option<usize>,
    jump: Option<Jump>,
}

impl SpikeNav {
    /// The spikes found so far (`None` while they are still being looked for).
    pub fn list(&self) -> Option<&[SpikeAt]> {
        self.found.as_ref()?.get().map(Vec::as_slice)
    }
}

/// A jump to a spike: to its start, where the mark is set, then to its end.
#[derive(Clone, Copy, Debug)]
struct Jump {
    spike: usize,
    at_end: bool,
}

/// A recording running beside the UI (`top --record`), for the header.
pub struct RecordingStatus {
    /// The file, as shown.
    pub path: String,
    pub progress: tokio::sync::watch::Receiver<Progress>,
    /// Whether the header has been drawn since the recording failed.
    failure_drawn: bool,
}

impl RecordingStatus {
    pub fn new(path: String, progress: tokio::sync::watch::Receiver<Progress>) -> Self {
        RecordingStatus {
            path,
            progress,
            failure_drawn: false,
        }
    }

    /// The recording failed and the header does not say so yet (then it is about to).
    pub fn failed_since_drawn(&mut self) -> bool {
        let failed = self.progress.borrow().error.is_some();
        let news = failed && !self.failure_drawn;
        self.failure_drawn |= failed;
        news
    }
}

/// Columns of the locations view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocColumn {
    Tasks,
    /// Live tasks over the chart window, as a sparkline (sorted by their peak).
    History,
    /// Live tasks' change over the chart window: sorting by it is sorting by growth.
    Change,
    /// With a mark: live tasks gained and lost since it, and their future bytes' change.
    Gained,
    Lost,
    SinceBytes,
    Live,
    Idle,
    SizeMin,
    SizeMean,
    SizeMax,
    SizeSum,
    Boxed,
    /// With `--layout`: the largest state of the location's future and its await line.
    State,
    /// With `--layout`: the biggest field held in that state.
    Holds,
    /// Where the target's heap is known: the heap its live tasks hold (sum, mean, max).
    HeapSum,
    HeapMean,
    HeapMax,
    Location,
}

impl LocColumn {
    pub const ALL: [LocColumn; 19] = [
        LocColumn::Tasks,
        LocColumn::History,
        LocColumn::Change,
        LocColumn::Gained,
        LocColumn::Lost,
        LocColumn::SinceBytes,
        LocColumn::Live,
        LocColumn::Idle,
        LocColumn::SizeMin,
        LocColumn::SizeMean,
        LocColumn::SizeMax,
        LocColumn::SizeSum,
        LocColumn::Boxed,
        LocColumn::State,
        LocColumn::Holds,
        LocColumn::HeapSum,
        LocColumn::HeapMean,
        LocColumn::HeapMax,
        LocColumn::Location,
    ];

    /// Shown only with a layout.
    pub fn needs_layout(self) -> bool {
        matches!(self, LocColumn::State | LocColumn::Holds)
    }

    /// Shown only while a mark is set.
    pub fn needs_mark(self) -> bool {
        matches!(
            self,
            LocColumn::Gained | LocColumn::Lost | LocColumn::SinceBytes
        )
    }

    /// Shown only where the target's heap is known.
    pub fn needs_heap(self) -> bool {
        matches!(
            self,
            LocColumn::HeapSum | LocColumn::HeapMean | LocColumn::HeapMax
        )
    }

    /// Whether the column is shown, with a layout or not, a mark or not, heap figures or not.
    pub fn shown(self, layout: bool, mark: bool, heap: bool) -> bool {
        (layout || !self.needs_layout())
            && (mark || !self.needs_mark())
            && (heap || !self.needs_heap())
    }

    pub fn title(self) -> &'static str {
        match self {
            LocColumn::Tasks => "Tasks",
            LocColumn::History => "History",
            LocColumn::Change => "Change",
            LocColumn::Gained => "+Mark",
            LocColumn::Lost => "-Mark",
            LocColumn::SinceBytes => "Fut±mark",
            LocColumn::Live => "Live",
            LocColumn::Idle => "Idle",
            LocColumn::SizeMin => "Min",
            LocColumn::SizeMean => "Mean",
            LocColumn::SizeMax => "Max",
            LocColumn::SizeSum => "Sum",
            LocColumn::Boxed => "Boxed",
            LocColumn::State => "Largest state",
            LocColumn::Holds => "Holds",
            LocColumn::HeapSum => "Heap",
            LocColumn::HeapMean => "Heap mean",
            LocColumn::HeapMax => "Heap max",
            LocColumn::Location => "Location",
        }
    }

    /// The next column `by` steps away, among those shown (with a layout, a mark, heap).
    fn step(self, by: isize, layout: bool, mark: bool, heap: bool) -> LocColumn {
        let shown: Vec<LocColumn> = Self::ALL
            .into_iter()
            .filter(|c| c.shown(layout, mark, heap))
            .collect();
        let n = shown.len() as isize;
        let i = shown.iter().position(|c| *c == self).unwrap_or(0) as isize;
        shown[((i + by).rem_euclid(n)) as usize]
    }
}

/// What changed from `mark` to the model now, for the locations view.
fn since_mark(mark: &Moment, model: &Model, rows: &[insight::Location]) -> SinceMark {
    let d = insight::diff(mark, &Moment::of(model));
    let by_location: HashMap<String, usize> = d
        .locations
        .iter()
        .enumerate()
        .map(|(i, c)| (c.location.clone(), i))
        .collect();
    let shown: HashSet<&str> = rows.iter().map(|l| model.resolve(l.location)).collect();
    let emptied = d
        .locations
        .iter()
        .filter(|c| c.tasks_after == 0 && !shown.contains(c.location.as_str()))
        .count();
    SinceMark {
        diff: Some(d),
        by_location,
        emptied,
    }
}

/// Locations' briefs kept at most (a target spawning from more places starts the cache anew).
const MAX_BRIEFS: usize = 100_000;

/// The per-location aggregates, recomputed when the model changed (throttled like the index).
pub struct LocationView {
    pub rows: Vec<insight::Location>,
    pub sort: LocColumn,
    pub descending: bool,
    pub selected: usize,
    pub offset: usize,
    /// With `--layout`: each location's future in brief, by location and largest size (the
    /// layout does not change: computed once a location).
    pub briefs: HashMap<(Sym, Option<u64>), Brief>,
    pub with_layout: bool,
    /// Each tracked location's live tasks over the chart window, and "other"'s.
    pub history: Histories,
    /// With a mark: what changed since it, by location (as the model resolves it).
    pub since: Option<SinceMark>,
    /// The target's heap is known: the heap columns show.
    pub with_heap: bool,
    built_generation: u64,
    /// The location series' length and last time when the rows were built: a new sample
    /// changes the history even when no task changed.
    built_series: (usize, Option<Nanos>),
    built_window: Duration,
    throttle: Throttle,
}

/// What changed since the mark, as the locations view shows it.
#[derive(Clone, Debug, Default)]
pub struct SinceMark {
    pub diff: Option<insight::Diff>,
    /// Index into `diff.locations` by location.
    pub by_location: HashMap<String, usize>,
    /// Locations with live tasks at the mark and none now (not among the rows).
    pub emptied: usize,
}

impl SinceMark {
    pub fn of(&self, location: &str) -> Option<&insight::LocationChange> {
        let d = self.diff.as_ref()?;
        self.by_location
            .get(location)
            .and_then(|i| d.locations.get(*i))
    }
}

/// A moment set with the mark key: the locations view shows what changed since.
pub struct Mark {
    pub moment: Moment,
    /// The model's clock then (the target's, or the recording's).
    pub at_ns: Nanos,
}

impl LocationView {
    /// The brief of a location's row (its largest future), when a layout is loaded.
    pub fn brief(&self, l: &insight::Location) -> Option<&Brief> {
        self.briefs.get(&(l.location, brief_size(l)))
    }
}

/// The size a location is matched to the layout by: its largest future.
fn brief_size(l: &insight::Location) -> Option<u64> {
    (l.sized > 0).then_some(l.size_max)
}

impl Default for LocationView {
    fn default() -> Self {
        LocationView {
            rows: Vec::new(),
            sort: LocColumn::SizeSum,
            descending: true,
            selected: 0,
            offset: 0,
            briefs: HashMap::new(),
            with_layout: false,
            history: Histories::default(),
            since: None,
            with_heap: false,
            built_generation: u64::MAX,
            built_series: (0, None),
            built_window: Duration::ZERO,
            throttle: Throttle::new(Duration::from_millis(100)),
        }
    }
}

impl LocationView {
    /// Rebuild the rows when the model, its location series or the chart `window` changed
    /// (throttled unless `force`), with what changed since `mark` when one is set.
    pub fn refresh(
        &mut self,
        model: &Model,
        join: Option<&LayoutJoin>,
        window: Duration,
        mark: Option<&Mark>,
        force: bool,
    ) {
        let series = model.location_series();
        let series_at = (series.len(), series.times().next_back().copied());
        let changed = self.built_generation != model.generation()
            || self.built_series != series_at
            || self.built_window != window
            || self.since.is_some() != mark.is_some();
        if !force && (!changed || !self.throttle.ready()) {
            return;
        }
        let started = Instant::now();
        self.rows = insight::by_location(model.tasks());
        self.history = history::histories(model, window);
        self.since = mark.map(|m| since_mark(&m.moment, model, &self.rows));
        self.built_series = series_at;
        self.built_window = window;
        self.with_layout = join.is_some();
        self.with_heap = model.heap().known();
        if let Some(join) = join {
            if self.briefs.len() > MAX_BRIEFS {
                self.briefs.clear();
            }
            for l in &self.rows {
                let key = (l.location, brief_size(l));
                self.briefs
                    .entry(key)
                    .or_insert_with(|| join.brief(key.1, model.resolve(l.location)));
            }
        }
        self.sort_rows(model);
        self.throttle.built(started);
        self.built_generation = model.generation();
    }

    fn sort_rows(&mut self, model: &Model) {
        let col = self.sort;
        let briefs = &self.briefs;
        let brief = |l: &insight::Location| {
            briefs
                .get(&(l.location, brief_size(l)))
                .and_then(|b| b.state.as_ref().ok())
        };
        let history = |l: &insight::Location| self.history.tracked.get(&l.location);
        let since = |l: &insight::Location| {
            self.since
                .as_ref()
                .and_then(|s| s.of(model.resolve(l.location)))
        };
        // Signed, so that growth sorts above shrinking; a location without a history (folded
        // into "other") or unchanged since the mark sorts below every one with.
        let key = |l: &insight::Location| -> i128 {
            let n = |v: u64| i128::from(v);
            match col {
                LocColumn::State => n(brief(l).map_or(0, |s| s.size)),
                LocColumn::Holds => n(brief(l).and_then(|s| s.field.as_ref()).map_or(0, |f| f.1)),
                LocColumn::Tasks => n(l.tasks),
                LocColumn::History => history(l).map_or(i128::MIN, |h| n(h.peak)),
                LocColumn::Change => history(l).map_or(i128::MIN, |h| i128::from(h.change)),
                LocColumn::Gained => since(l).map_or(0, |c| n(c.tasks_gained)),
                LocColumn::Lost => since(l).map_or(0, |c| n(c.tasks_lost)),
                LocColumn::SinceBytes => since(l).map_or(0, |c| i128::from(c.future_bytes_change)),
                LocColumn::Live => n(l.live()),
                LocColumn::Idle => n(l.of(TaskState::Idle)),
                LocColumn::SizeMin => n(l.size_min),
                LocColumn::SizeMean => n(l.size_mean().unwrap_or(0)),
                LocColumn::SizeMax => n(l.size_max),
                LocColumn::SizeSum => n(l.size_sum),
                LocColumn::Boxed => n(l.boxed),
                LocColumn::HeapSum | LocColumn::HeapMean | LocColumn::HeapMax => {
                    let h = model.heap().location(l.location).unwrap_or_default();
                    n(match col {
                        LocColumn::HeapSum => h.bytes,
                        LocColumn::HeapMax => h.max_bytes,
                        _ => h.bytes.checked_div(l.live()).unwrap_or(0),
                    })
                }
                LocColumn::Location => 0,
            }
        };
        if col == LocColumn::Location {
            self.rows
                .sort_by(|a, b| model.resolve(a.location).cmp(model.resolve(b.location)));
        } else {
            let mut keyed: Vec<(i128, insight::Location)> =
                self.rows.drain(..).map(|l| (key(&l), l)).collect();
            keyed.sort_by_key(|(k, l)| (*k, l.location));
            self.rows = keyed.into_iter().map(|(_, l)| l).collect();
        }
        if self.descending {
            self.rows.reverse();
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }
}

impl App {
    pub fn new(target: TargetInfo, color: bool) -> App {
        App {
            target,
            mode: Mode::Tasks,
            sort: Column::Size,
            descending: true,
            filter: String::new(),
            editing_filter: false,
            index: TaskIndex::default(),
            selected_uid: None,
            selected_row: 0,
            offset: 0,
            page: 10,
            window: 3,
            frozen: false,
            held: VecDeque::new(),
            quit: false,
            outbox: Vec::new(),
            paused_target: false,
            recording: None,
            color,
            lints: LintConfig::default(),
            locations: LocationView::default(),
            lint_counts: LintCounts::default(),
            layout: None,
            future: FutureView::default(),
            layout_bill: None,
            parked: ParkedView::default(),
            mark: None,
            spikes: SpikeNav::default(),
            lint_generation: u64::MAX,
            lints_counted_at: None,
        }
    }

    pub fn window(&self) -> Duration {
        WINDOWS[self.window.min(WINDOWS.len() - 1)]
    }

    /// Take an event from a source: applied now, or held while the view is frozen. What the
    /// target says of its pause state is applied at once (Space follows it).
    pub fn on_event(&mut self, model: &mut Model, event: Event) {
        if self.frozen && !matches!(event, Event::Paused(_)) {
            self.held.push_back(event);
        } else {
            let playback = matches!(event, Event::Playback(_));
            model.apply(event);
            if playback {
                self.on_playback(model);
            }
        }
    }

    /// A jump to a spike goes on when the player reports it reached the spike's start (the
    /// mark is set there: the picture at the rise's start) and ends at the spike's end.
    fn on_playback(&mut self, model: &Model) {
        let Some(jump) = self.spikes.jump else { return };
        let (Some(p), Some(spike)) = (
            model.playback(),
            self.spikes.list().and_then(|l| l.get(jump.spike)).copied(),
        ) else {
            self.spikes.jump = None;
            return;
        };
        if !jump.at_end && p.position == spike.from && !p.playing {
            self.set_mark(model);
            self.outbox
                .push(Request::Replay(replay::Control::SeekTo(spike.to)));
            self.spikes.jump = Some(Jump {
                at_end: true,
                ..jump
            });
        } else if jump.at_end && p.position == spike.to {
            self.spikes.jump = None;
            self.spikes.current = Some(jump.spike);
        }
    }

    /// The mark at the model's present moment (replacing any).
    fn set_mark(&mut self, model: &Model) {
        self.mark = Some(Mark {
            moment: Moment::of(model),
            at_ns: model.now(),
        });
        if self.mode == Mode::Locations {
            self.refresh_locations(model, true);
        }
    }

    fn refresh_locations(&mut self, model: &Model, force: bool) {
        let window = self.window();
        self.locations.refresh(
            model,
            self.layout.as_deref(),
            window,
            self.mark.as_ref(),
            force,
        );
    }

    /// `n` / `N` in a replay: to the next spike whose end is ahead, or the last one whose end
    /// is behind; pauses, goes to its start, marks, then goes to its end.
    fn jump_to_spike(&mut self, model: &Model, forward: bool) {
        let (Some(p), Some(list)) = (model.playback(), self.spikes.list()) else {
            return;
        };
        let pos = p.position;
        let found = if forward {
            list.iter().position(|s| s.to > pos)
        } else {
            list.iter().rposition(|s| s.to < pos)
        };
        let Some(i) = found else { return };
        let from = list[i].from;
        self.outbox.push(Request::Replay(replay::Control::Pause));
        self.outbox
            .push(Request::Replay(replay::Control::SeekTo(from)));
        self.spikes.jump = Some(Jump {
            spike: i,
            at_end: false,
        });
    }

    /// Whether the run loop may take more events now.
    pub fn accepts_events(&self) -> bool {
        self.held.len() < MAX_FROZEN_EVENTS
    }

    /// Before a frame `area` big is drawn: bring the view up to date with the model and set the
    /// page length to the rows the table will show (the draw itself reads the app only).
    pub fn prepare(&mut self, model: &Model, area: Rect) {
        self.sync(model);
        match view::areas(area, self, model) {
            // Too small to draw a table: paging moves one row.
            None => self.page = 1,
            Some(_) if self.mode == Mode::Details => {}
            Some(a) if self.mode == Mode::Future => {
                // The tree's rows: the body less its border and the head line.
                self.page = usize::from(a.body.height.saturating_sub(3)).max(1);
                let rows = self.future.rows(self.layout.as_deref()).len();
                self.future.clamp(rows, self.page);
            }
            Some(a) => {
                self.page = view::table_rows(a.body).max(1);
                self.sync(model);
            }
        }
    }

    /// Bring the index and the selection up to date with the model.
    pub fn sync(&mut self, model: &Model) {
        let filter = if self.editing_filter || !self.filter.is_empty() {
            self.filter.clone()
        } else {
            String::new()
        };
        if self
            .index
            .refresh(model, self.sort, self.descending, &filter, &self.lints)
        {
            self.relocate_selection(model);
        }
        self.clamp();
        // Lints touch every task: at most once a second, and at least every few seconds;
        // every second while a task is running (never-yielded depends on the clock, not on
        // updates: at a 3 s cadence a blocker whose polls last ~3 s was never caught past 1 s).
        let since = self.lints_counted_at.map(|t| t.elapsed());
        let due = match since {
            None => true,
            Some(e) => {
                e >= Duration::from_secs(1)
                    && (self.lint_generation != model.generation()
                        || model.counts().running > 0
                        || e >= Duration::from_secs(3))
            }
        };
        if due {
            self.lints_counted_at = Some(std::time::Instant::now());
            self.lint_generation = model.generation();
            self.lint_counts = LintCounts::count(model, &self.lints);
            if let Some(join) = &self.layout {
                let instr = insight::instrumentation_bytes_per_task(model.instrumentation());
                let live = model
                    .tasks()
                    .filter(|t| t.state() != TaskState::Done)
                    .map(|t| (model.resolve(t.location), t.size_bytes));
                self.layout_bill = Some(join.bill(&join.join(live), instr.unwrap_or(0)));
            }
        }
        let page = self.page.max(1);
        if self.mode == Mode::Parked {
            self.parked.refresh(model, self.layout.as_deref());
            let p = &mut self.parked;
            p.offset = scrolled(p.offset, p.selected, page);
        }
        if self.mode == Mode::Locations {
            self.refresh_locations(model, false);
            let l = &mut self.locations;
            l.offset = scrolled(l.offset, l.selected, page);
        }
    }

    fn relocate_selection(&mut self, model: &Model) {
        let Some(uid) = self.selected_uid else {
            self.selected_row = 0;
            return;
        };
        let rows = self.index.rows();
        // Look near the old row first: on most updates the selection did not move.
        let near = self.selected_row.min(rows.len());
        let lo = near.saturating_sub(64);
        let hi = (near + 64).min(rows.len());
        let found = (lo..hi)
            .chain(0..rows.len())
            .find(|&i| model.slot(rows[i]).is_some_and(|t| t.uid == uid));
        if let Some(i) = found {
            self.selected_row = i;
        }
    }

    fn clamp(&mut self) {
        let n = self.index.len();
        if n == 0 {
            self.selected_row = 0;
            self.offset = 0;
            return;
        }
        self.selected_row = self.selected_row.min(n - 1);
        let page = self.page.max(1);
        if self.selected_row < self.offset {
            self.offset = self.selected_row;
        } else if self.selected_row >= self.offset + page {
            self.offset = self.selected_row + 1 - page;
        }
        self.offset = self.offset.min(n.saturating_sub(1));
    }

    fn select_row(&mut self, model: &Model, row: usize) {
        let n = self.index.len();
        if n == 0 {
            return;
        }
        self.selected_row = row.min(n - 1);
        self.selected_uid = model
            .slot(self.index.rows()[self.selected_row])
            .map(|t| t.uid);
        self.clamp();
    }

    /// The selected task's slot, if the selection is on screen.
    pub fn selected_slot(&self) -> Option<u32> {
        self.index.rows().get(self.selected_row).copied()
    }

    pub fn on_key(&mut self, model: &mut Model, key: KeyEvent) {
        if key.kind != KeyEventKind::Press {
            return;
        }
        if self.mode == Mode::ConfirmDump {
            // Only y takes the dump: it pauses the target's workers.
            if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                self.parked.waiting_since = Some(self.parked.built_for);
                self.outbox.push(Request::TakeDump);
                self.mode = Mode::Parked;
            } else {
                self.mode = Mode::Tasks;
            }
            return;
        }
        if self.editing_filter {
            match key.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.editing_filter = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    self.quit = true
                }
                KeyCode::Char(c) if self.filter.chars().count() < 200 => self.filter.push(c),
                _ => {}
            }
            self.sync(model);
            return;
        }
        if let Some(action) = keymap::action(key) {
            self.on_action(model, action);
        }
    }

    pub fn on_action(&mut self, model: &mut Model, action: Action) {
        match (self.mode, action) {
            (_, Action::Quit) => self.quit = true,
            (_, Action::Mark) => self.set_mark(model),
            (_, Action::ClearMark) => {
                self.mark = None;
                // Its columns go: a sort on one of them goes back to the default.
                if self.locations.sort.needs_mark() {
                    self.locations.sort = LocColumn::SizeSum;
                }
            }
            (_, Action::NextSpike) => self.jump_to_spike(model, true),
            (_, Action::PrevSpike) => self.jump_to_spike(model, false),
            // The locations view's history is over the chart window: it zooms there too.
            (Mode::Locations, Action::ZoomIn) => self.window = self.window.saturating_sub(1),
            (Mode::Locations, Action::ZoomOut) => {
                self.window = (self.window + 1).min(WINDOWS.len() - 1)
            }
            (Mode::Help | Mode::Warnings, Action::Back | Action::Help | Action::Warnings) => {
                self.mode = Mode::Tasks
            }
            (Mode::Details, Action::Back) => {
                self.mode = Mode::Tasks;
                if model.playback().is_none() {
                    self.outbox.push(Request::StopDetails);
                }
                model.clear_details();
            }
            (Mode::Locations, Action::Locations | Action::Back) => self.mode = Mode::Tasks,
            (Mode::Future, Action::Tree) => self.mode = self.future.back.unwrap_or(Mode::Tasks),
            (
                Mode::Future,
                a @ (Action::Up
                | Action::Down
                | Action::PageUp
                | Action::PageDown
                | Action::Top
                | Action::Bottom
                | Action::Open
                | Action::SortLeft
                | Action::SortRight
                | Action::Back),
            ) => {
                let page = self.page.max(1);
                if !self.future.on_action(self.layout.as_deref(), a, page) {
                    self.mode = self.future.back.unwrap_or(Mode::Tasks);
                }
                let rows = self.future.rows(self.layout.as_deref()).len();
                self.future.clamp(rows, page);
            }
            (Mode::Tasks | Mode::Details, Action::Tree) => self.open_future(model),
            // A replay shows the recorded dump; a live target is asked first.
            (_, Action::Dump) if model.playback().is_some() => self.mode = Mode::Parked,
            (_, Action::Dump) => self.mode = Mode::ConfirmDump,
            (Mode::Parked, Action::Back) if self.parked.open => self.parked.open = false,
            (Mode::Parked, Action::Back) => self.mode = Mode::Tasks,
            (Mode::Parked, Action::Open) => self.parked.open = !self.parked.open,
            (Mode::Parked, a @ (Action::SortLeft | Action::SortRight)) => {
                let by = if a == Action::SortLeft { -1 } else { 1 };
                self.parked.sort = self.parked.sort.step(by);
                self.parked.sort_groups();
            }
            (Mode::Parked, a) => {
                let last = self.parked.groups.len().saturating_sub(1);
                if let Some(to) = moved(self.parked.selected, a, self.page.max(1), last) {
                    self.parked.selected = to;
                }
            }
            (Mode::Tasks, Action::Locations) => {
                self.mode = Mode::Locations;
                self.refresh_locations(model, true);
            }
            (Mode::Locations, a) => self.on_location_action(model, a),
            (_, Action::Help) => self.mode = Mode::Help,
            (_, Action::Warnings) => self.mode = Mode::Warnings,
            (_, Action::TogglePause) if model.playback().is_some() => {
                // A replay pauses its player; the view keeps taking events (seeks).
                let playing = model.playback().is_some_and(|p| p.playing);
                self.outbox.push(Request::Replay(if playing {
                    replay::Control::Pause
                } else {
                    replay::Control::Play
                }));
            }
            (_, Action::Replay(c)) if model.playback().is_some() => {
                self.outbox.push(Request::Replay(c))
            }
            (_, Action::Replay(_)) => {}
            // Paused here (the view frozen) or by the target's own report (another watcher
            // paused it): Space resumes. Otherwise it pauses the target and freezes the view.
            (_, Action::TogglePause) if self.frozen || model.paused() => {
                self.frozen = false;
                self.paused_target = false;
                self.outbox.push(Request::ResumeTarget);
                while let Some(e) = self.held.pop_front() {
                    model.apply(e);
                }
            }
            (_, Action::TogglePause) => {
                self.frozen = true;
                self.paused_target = true;
                self.outbox.push(Request::PauseTarget);
            }
            (_, Action::ZoomIn) => self.window = self.window.saturating_sub(1),
            (_, Action::ZoomOut) => self.window = (self.window + 1).min(WINDOWS.len() - 1),
            (Mode::Tasks, a) => self.on_table_action(model, a),
            _ => {}
        }
        self.sync(model);
    }

    /// The layout view of the selected task (with `--layout`): its future unfolded as the
    /// details view's summary is, the rest folded.
    fn open_future(&mut self, model: &Model) {
        let Some(join) = self.layout.clone() else {
            return;
        };
        let task = match self.mode {
            Mode::Details => self.selected_uid.and_then(|uid| model.task_by_uid(uid)),
            _ => self.selected_slot().and_then(|s| model.slot(s)),
        };
        let Some(task) = task else {
            return;
        };
        let e = layout_text::explain(&join, task.size_bytes, model.resolve(task.location));
        self.future = FutureView {
            head: e.head,
            root: e.root,
            open: e.root.map_or_else(HashSet::new, |r| {
                layout_text::default_open(join.index(), r, layout_text::TREE_DEPTH)
            }),
            selected: 0,
            offset: 0,
            back: Some(self.mode),
        };
        self.mode = Mode::Future;
    }

    fn on_location_action(&mut self, model: &mut Model, action: Action) {
        let marked = self.mark.is_some();
        let n = self.locations.rows.len();
        let page = self.page.max(1);
        let l = &mut self.locations;
        let last = n.saturating_sub(1);
        if let Some(to) = moved(l.selected, action, page, last) {
            l.selected = to;
            return;
        }
        match action {
            Action::SortLeft | Action::SortRight | Action::InvertSort => {
                match action {
                    Action::SortLeft => {
                        l.sort = l.sort.step(-1, l.with_layout, marked, l.with_heap)
                    }
                    Action::SortRight => {
                        l.sort = l.sort.step(1, l.with_layout, marked, l.with_heap)
                    }
                    _ => l.descending = !l.descending,
                }
                l.sort_rows(model);
            }
            Action::Open => {
                if let Some(loc) = l.rows.get(l.selected) {
                    // The location's tasks: the task table filtered on it.
                    self.filter = format!("loc:{}", model.resolve(loc.location));
                    self.mode = Mode::Tasks;
                    self.selected_row = 0;
                    self.selected_uid = None;
                }
            }
            _ => {}
        }
    }

    fn on_table_action(&mut self, model: &mut Model, action: Action) {
        let page = self.page.max(1);
        match action {
            Action::Up => self.select_row(model, self.selected_row.saturating_sub(1)),
            Action::Down => self.select_row(model, self.selected_row + 1),
            Action::PageUp => self.select_row(model, self.selected_row.saturating_sub(page)),
            Action::PageDown => self.select_row(model, self.selected_row + page),
            Action::Top => self.select_row(model, 0),
            Action::Bottom => self.select_row(model, usize::MAX),
            Action::SortLeft => self.sort = self.sort.step(-1, model.heap().known()),
            Action::SortRight => self.sort = self.sort.step(1, model.heap().known()),
            Action::InvertSort => self.descending = !self.descending,
            Action::StartFilter => self.editing_filter = true,
            Action::Back => self.filter.clear(),
            Action::Open => {
                let picked = self
                    .selected_slot()
                    .and_then(|s| model.slot(s))
                    .map(|t| (t.uid, t.console_id));
                if let Some((uid, console_id)) = picked {
                    self.selected_uid = Some(uid);
                    self.mode = Mode::Details;
                    model.clear_details();
                    if model.playback().is_none() {
                        self.outbox.push(Request::WatchDetails(console_id));
                    }
                }
            }
            _ => {}
        }
    }
}
