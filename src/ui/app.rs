//! The view state of `top` and how actions change it. No drawing, no I/O: testable alone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

use super::index::TaskIndex;
use super::keymap::{self, Action};
use super::throttle::Throttle;
use super::view;
use super::Request;
use crate::insight::layout::{Brief, LayoutJoin};
use crate::insight::{self, LintConfig, LintCounts};
use crate::model::{Event, Model, Sym, TaskState};
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
    pub const ALL: [LocColumn; 14] = [
        LocColumn::Tasks,
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

    /// Shown only where the target's heap is known.
    pub fn needs_heap(self) -> bool {
        matches!(
            self,
            LocColumn::HeapSum | LocColumn::HeapMean | LocColumn::HeapMax
        )
    }

    /// Whether it is shown, with a layout or not, with heap figures or not.
    pub fn shown(self, layout: bool, heap: bool) -> bool {
        (layout || !self.needs_layout()) && (heap || !self.needs_heap())
    }

    pub fn title(self) -> &'static str {
        match self {
            LocColumn::Tasks => "Tasks",
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

    /// The next column `by` steps away, among those shown (`layout`: with a layout).
    fn step(self, by: isize, layout: bool, heap: bool) -> LocColumn {
        let shown: Vec<LocColumn> = Self::ALL
            .into_iter()
            .filter(|c| c.shown(layout, heap))
            .collect();
        let n = shown.len() as isize;
        let i = shown.iter().position(|c| *c == self).unwrap_or(0) as isize;
        shown[((i + by).rem_euclid(n)) as usize]
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
    /// The target's heap is known: the heap columns show.
    pub with_heap: bool,
    built_generation: u64,
    throttle: Throttle,
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
            with_heap: false,
            built_generation: u64::MAX,
            throttle: Throttle::new(Duration::from_millis(100)),
        }
    }
}

impl LocationView {
    pub fn refresh(&mut self, model: &Model, join: Option<&LayoutJoin>, force: bool) {
        let changed = self.built_generation != model.generation();
        if !force && (!changed || !self.throttle.ready()) {
            return;
        }
        let started = Instant::now();
        self.rows = insight::by_location(model.tasks());
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
        let key = |l: &insight::Location| -> u64 {
            match col {
                LocColumn::State => brief(l).map_or(0, |s| s.size),
                LocColumn::Holds => brief(l).and_then(|s| s.field.as_ref()).map_or(0, |f| f.1),
                LocColumn::Tasks => l.tasks,
                LocColumn::Live => l.live(),
                LocColumn::Idle => l.of(TaskState::Idle),
                LocColumn::SizeMin => l.size_min,
                LocColumn::SizeMean => l.size_mean().unwrap_or(0),
                LocColumn::SizeMax => l.size_max,
                LocColumn::SizeSum => l.size_sum,
                LocColumn::Boxed => l.boxed,
                LocColumn::HeapSum | LocColumn::HeapMean | LocColumn::HeapMax => {
                    let h = model.heap().location(l.location).unwrap_or_default();
                    match col {
                        LocColumn::HeapSum => h.bytes,
                        LocColumn::HeapMax => h.max_bytes,
                        _ => h.bytes.checked_div(l.live()).unwrap_or(0),
                    }
                }
                LocColumn::Location => 0,
            }
        };
        if col == LocColumn::Location {
            self.rows
                .sort_by(|a, b| model.resolve(a.location).cmp(model.resolve(b.location)));
        } else {
            self.rows.sort_by_key(|l| (key(l), l.location));
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
            model.apply(event);
        }
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
            self.locations.refresh(model, self.layout.as_deref(), false);
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
                self.locations.refresh(model, self.layout.as_deref(), true);
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
                    Action::SortLeft => l.sort = l.sort.step(-1, l.with_layout, l.with_heap),
                    Action::SortRight => l.sort = l.sort.step(1, l.with_layout, l.with_heap),
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
