//! Per-location history on the chart's time axis: the live tasks and future bytes of the top K
//! spawn locations by peak live tasks, each its own column, and everything else folded into
//! one "other" column, so that memory stays bounded whatever the target spawns from (K + 1
//! columns of at most the series' sample cap). A location that rises into the top K gets its
//! own column from then on (its past stays in "other"); the one it displaces, the lowest peak
//! in the retained window, is folded back into "other" with its history. A location that gets a
//! column while there is room had no live tasks before: its past is zeros.

use std::collections::VecDeque;

use super::by_location::{ByLocation, LocationLive};
use super::intern::{Interner, Sym};
use super::time::Nanos;

/// Locations with their own column by default (`top` and `snapshot` show the top K).
pub const DEFAULT_TRACKED_LOCATIONS: usize = 16;

/// One location's column: its values at the last `points.len()` samples of the axis.
#[derive(Debug)]
struct Column {
    location: Sym,
    points: VecDeque<LocationLive>,
    /// Most live tasks among `points`.
    peak: u64,
}

impl Column {
    fn recompute_peak(&mut self) {
        self.peak = self.points.iter().map(|p| p.live_tasks).max().unwrap_or(0);
    }
}

/// One tracked location's history, as read by views and outputs.
#[derive(Clone, Copy, Debug)]
pub struct LocationHistory<'a> {
    pub location: Sym,
    /// Time of its first point: before it the location was folded into "other".
    pub since: Nanos,
    /// Most live tasks in the retained window.
    pub peak_live_tasks: u64,
    points: &'a VecDeque<LocationLive>,
}

impl<'a> LocationHistory<'a> {
    /// Its points, oldest first, aligned with the last `len()` times of the axis.
    pub fn points(&self) -> impl DoubleEndedIterator<Item = &'a LocationLive> + ExactSizeIterator {
        self.points.iter()
    }

    pub fn first(&self) -> LocationLive {
        self.points.front().copied().unwrap_or_default()
    }

    pub fn last(&self) -> LocationLive {
        self.points.back().copied().unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

#[derive(Debug)]
pub struct LocationSeries {
    at: VecDeque<Nanos>,
    columns: Vec<Column>,
    /// Everything not in a column, at every time of the axis.
    other: VecDeque<LocationLive>,
    tracked: usize,
    window_ns: Nanos,
    max_samples: usize,
    /// Columns folded back into "other" to make room for a location that rose.
    displaced: u64,
}

impl LocationSeries {
    /// `tracked` locations get a column; the window and cap are the chart series' own, so that
    /// both keep the same times.
    pub fn new(tracked: usize, window_ns: Nanos, max_samples: usize) -> Self {
        LocationSeries {
            at: VecDeque::new(),
            columns: Vec::new(),
            other: VecDeque::new(),
            tracked,
            window_ns,
            max_samples: max_samples.max(2),
            displaced: 0,
        }
    }

    /// Append the picture at `at`: each tracked location's values from `live`, the rest (of
    /// `total`) into "other". A location with more live tasks than the lowest peak of the
    /// columns (or any, while there is room) gets a column first. A sample older than the last
    /// is ignored, as the chart series does.
    pub fn push(&mut self, at: Nanos, live: &ByLocation, total: LocationLive) {
        if self.at.back().is_some_and(|last| at < *last) {
            return;
        }
        self.promote(live);
        self.at.push_back(at);
        let mut rest = total;
        for c in &mut self.columns {
            let p = live.get(c.location);
            rest.live_tasks = rest.live_tasks.saturating_sub(p.live_tasks);
            rest.future_bytes = rest.future_bytes.saturating_sub(p.future_bytes);
            c.peak = c.peak.max(p.live_tasks);
            c.points.push_back(p);
        }
        self.other.push_back(rest);
        self.prune(at);
    }

    /// Give a column to the locations that rose past the lowest peak, largest first.
    fn promote(&mut self, live: &ByLocation) {
        if self.tracked == 0 {
            return;
        }
        let floor = if self.columns.len() < self.tracked {
            0
        } else {
            self.columns.iter().map(|c| c.peak).min().unwrap_or(0)
        };
        let mut rising: Vec<(Sym, u64)> = live
            .iter()
            .filter(|(s, l)| l.live_tasks > floor && is_location(*s))
            .filter(|(s, _)| !self.columns.iter().any(|c| c.location == *s))
            .map(|(s, l)| (s, l.live_tasks))
            .collect();
        rising.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (location, live_tasks) in rising {
            // While there is room every location with live tasks has a column: one that gets
            // its column then had none before, and its past is zeros (not in "other").
            let past = if self.columns.len() < self.tracked {
                self.at.len()
            } else {
                0
            };
            if self.columns.len() >= self.tracked {
                let Some((lowest, peak)) = self
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i, c.peak))
                    .min_by_key(|(_, peak)| *peak)
                else {
                    break;
                };
                if live_tasks <= peak {
                    break; // sorted: no later one rises past it either
                }
                let gone = self.columns.swap_remove(lowest);
                self.fold(&gone);
                self.displaced += 1;
            }
            self.columns.push(Column {
                location,
                points: std::iter::repeat_n(LocationLive::default(), past).collect(),
                peak: live_tasks,
            });
        }
    }

    /// Add a displaced column's history into "other".
    fn fold(&mut self, gone: &Column) {
        let start = self.other.len().saturating_sub(gone.points.len());
        for (o, p) in self.other.iter_mut().skip(start).zip(gone.points.iter()) {
            o.live_tasks += p.live_tasks;
            o.future_bytes = o.future_bytes.wrapping_add(p.future_bytes);
        }
    }

    /// Drop the times older than the window (relative to `now`) or past the cap, and the
    /// points at those times.
    fn prune(&mut self, now: Nanos) {
        let oldest = now.saturating_sub(self.window_ns);
        while self.at.len() > self.max_samples || self.at.front().is_some_and(|t| *t < oldest) {
            self.at.pop_front();
            let len = self.at.len();
            while self.other.len() > len {
                self.other.pop_front();
            }
            for c in &mut self.columns {
                if c.points.len() > len {
                    if let Some(p) = c.points.pop_front() {
                        if p.live_tasks >= c.peak {
                            c.recompute_peak();
                        }
                    }
                }
            }
        }
        // A location whose whole history left the window holds nothing: no column.
        self.columns.retain(|c| !c.points.is_empty());
    }

    /// The times of the axis, oldest first.
    pub fn times(&self) -> impl DoubleEndedIterator<Item = &Nanos> + ExactSizeIterator {
        self.at.iter()
    }

    /// The tracked locations, largest peak first.
    pub fn tracked(&self) -> Vec<LocationHistory<'_>> {
        let offset = self.at.len();
        let mut out: Vec<LocationHistory<'_>> = self
            .columns
            .iter()
            .map(|c| LocationHistory {
                location: c.location,
                since: self
                    .at
                    .get(offset - c.points.len())
                    .copied()
                    .unwrap_or_default(),
                peak_live_tasks: c.peak,
                points: &c.points,
            })
            .collect();
        out.sort_by(|a, b| {
            b.peak_live_tasks
                .cmp(&a.peak_live_tasks)
                .then(a.location.cmp(&b.location))
        });
        out
    }

    /// Everything not tracked, at every time of the axis.
    pub fn other(&self) -> impl DoubleEndedIterator<Item = &LocationLive> + ExactSizeIterator {
        self.other.iter()
    }

    /// The locations with live tasks now that have no column (folded into "other").
    pub fn folded<'a>(&'a self, live: &'a ByLocation) -> impl Iterator<Item = Sym> + 'a {
        live.iter()
            .map(|(s, _)| s)
            .filter(|s| !self.columns.iter().any(|c| c.location == *s))
    }

    /// Columns given up so far to a location that rose past them.
    pub fn displaced(&self) -> u64 {
        self.displaced
    }

    /// How many locations get a column.
    pub fn capacity(&self) -> usize {
        self.tracked
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    pub fn clear(&mut self) {
        self.at.clear();
        self.columns.clear();
        self.other.clear();
    }

    /// Heap bytes held, for benchmarks and the bound's test.
    pub fn heap_bytes(&self) -> usize {
        let point = std::mem::size_of::<LocationLive>();
        self.at.capacity() * 8
            + self.other.capacity() * point
            + self.columns.capacity() * std::mem::size_of::<Column>()
            + self
                .columns
                .iter()
                .map(|c| c.points.capacity() * point)
                .sum::<usize>()
    }
}

/// Whether `sym` names a spawn location (not the absent or overflow symbol): only those get a
/// column; tasks without one stay in "other".
fn is_location(sym: Sym) -> bool {
    !sym.is_none() && sym != Interner::OVERFLOW_SYM
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::by_location::ByLocation;
    use crate::model::task::{Task, TaskKind, TaskStats};

    /// A picture: `(location, live tasks, bytes per task)`; the total is their sum.
    fn picture(strings: &mut Interner, rows: &[(&str, u64, u64)]) -> (ByLocation, LocationLive) {
        let mut live = ByLocation::default();
        let mut total = LocationLive::default();
        for &(loc, n, size) in rows {
            let location = strings.intern(loc);
            for _ in 0..n {
                let t = Task {
                    uid: 1,
                    console_id: 1,
                    task_id: None,
                    name: Sym::NONE,
                    location,
                    kind: TaskKind::Task,
                    announced: true,
                    boxed: false,
                    size_bytes: Some(size),
                    stats: TaskStats {
                        created_at: 1,
                        ..Default::default()
                    },
                };
                live.add(super::super::by_location::Key::of(&t));
                total.live_tasks += 1;
                total.future_bytes += size;
            }
        }
        (live, total)
    }

    fn history<'a>(
        s: &'a LocationSeries,
        strings: &Interner,
        loc: &str,
    ) -> Option<LocationHistory<'a>> {
        s.tracked()
            .into_iter()
            .find(|h| strings.resolve(h.location) == loc)
    }

    fn tasks_of(h: &LocationHistory<'_>) -> Vec<u64> {
        h.points().map(|p| p.live_tasks).collect()
    }

    #[test]
    fn the_top_k_get_columns_and_the_rest_is_other() {
        let mut strings = Interner::new(1000);
        let mut s = LocationSeries::new(2, 1_000, 100);
        let (live, total) = picture(&mut strings, &[("a", 30, 100), ("b", 20, 10), ("c", 5, 1)]);
        s.push(1, &live, total);
        let names: Vec<_> = s
            .tracked()
            .iter()
            .map(|h| strings.resolve(h.location).to_string())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            s.other().copied().collect::<Vec<_>>(),
            [LocationLive {
                live_tasks: 5,
                future_bytes: 5
            }]
        );
        let folded: Vec<_> = s
            .folded(&live)
            .map(|l| strings.resolve(l).to_string())
            .collect();
        assert_eq!(folded, ["c"], "the folded location is named");
        // The sum of the columns and other is the total at every time.
        let a = history(&s, &strings, "a").unwrap();
        assert_eq!(
            a.last(),
            LocationLive {
                live_tasks: 30,
                future_bytes: 3000
            }
        );
    }

    #[test]
    fn a_rising_location_displaces_the_lowest_peak_whose_history_folds_into_other() {
        let mut strings = Interner::new(1000);
        let mut s = LocationSeries::new(2, 1_000, 100);
        let (live, total) = picture(&mut strings, &[("a", 30, 1), ("b", 20, 1), ("c", 5, 1)]);
        s.push(1, &live, total);
        s.push(2, &live, total);
        // c rises to 25: past b's peak of 20, not a's 30.
        let (live, total) = picture(&mut strings, &[("a", 30, 1), ("b", 20, 1), ("c", 25, 1)]);
        s.push(3, &live, total);
        assert!(history(&s, &strings, "b").is_none(), "b folded");
        let c = history(&s, &strings, "c").unwrap();
        assert_eq!(
            (c.since, tasks_of(&c)),
            (3, vec![25]),
            "c's past stays in other"
        );
        assert_eq!(
            s.other().map(|p| p.live_tasks).collect::<Vec<_>>(),
            [25, 25, 20],
            "other: c's 5 then b's 20 folded back in, then b alone"
        );
        assert_eq!(s.displaced(), 1);
        // A location equal to the lowest peak does not displace it (no churn on ties).
        let (live, total) = picture(&mut strings, &[("a", 30, 1), ("b", 25, 1), ("c", 25, 1)]);
        s.push(4, &live, total);
        assert!(history(&s, &strings, "b").is_none());
        assert_eq!(s.displaced(), 1);
    }

    #[test]
    fn a_location_that_gets_a_column_while_there_is_room_had_zero_before() {
        let mut strings = Interner::new(1000);
        let mut s = LocationSeries::new(2, 1_000, 100);
        let (live, total) = picture(&mut strings, &[("a", 3, 1)]);
        s.push(1, &live, total);
        s.push(2, &live, total);
        let (live, total) = picture(&mut strings, &[("a", 3, 1), ("b", 7, 1)]);
        s.push(3, &live, total);
        let b = history(&s, &strings, "b").unwrap();
        assert_eq!((b.since, tasks_of(&b)), (1, vec![0, 0, 7]));
        assert_eq!(
            s.other().map(|p| p.live_tasks).collect::<Vec<_>>(),
            [0, 0, 0]
        );
    }

    #[test]
    fn window_and_cap_prune_times_points_and_peaks() {
        let mut strings = Interner::new(1000);
        let mut s = LocationSeries::new(4, 10, 5);
        for t in 0..5 {
            let (live, total) = picture(&mut strings, &[("a", 100 - t * 10, 1)]);
            s.push(t as i64, &live, total);
        }
        assert_eq!(history(&s, &strings, "a").unwrap().peak_live_tasks, 100);
        // Past the cap: the oldest time and point go, and the peak with them.
        let (live, total) = picture(&mut strings, &[("a", 1, 1)]);
        s.push(5, &live, total);
        let a = history(&s, &strings, "a").unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(tasks_of(&a), [90, 80, 70, 60, 1]);
        assert_eq!(a.peak_live_tasks, 90);
        // Past the window: everything older than 10 ns before the last time goes.
        s.push(14, &live, total);
        assert_eq!(s.times().copied().collect::<Vec<_>>(), [4, 5, 14]);
        assert_eq!(tasks_of(&history(&s, &strings, "a").unwrap()), [60, 1, 1]);
        assert_eq!(s.other().len(), 3);
        // Out of order: ignored.
        s.push(3, &live, total);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_hundred_thousand_locations_stay_bounded() {
        // 100,000 spawn sites of one task each, then the next 100,000: K columns, never more.
        let mut strings = Interner::new(300_000);
        let mut s = LocationSeries::new(DEFAULT_TRACKED_LOCATIONS, 1_000_000, 1_000);
        let rows: Vec<String> = (0..100_000).map(|i| format!("src/gen.rs:{i}:1")).collect();
        let rows: Vec<(&str, u64, u64)> = rows.iter().map(|r| (r.as_str(), 1, 64)).collect();
        let (live, total) = picture(&mut strings, &rows);
        for t in 0..50 {
            s.push(t, &live, total);
        }
        assert_eq!(s.tracked().len(), DEFAULT_TRACKED_LOCATIONS);
        assert_eq!(s.folded(&live).count(), 100_000 - DEFAULT_TRACKED_LOCATIONS);
        let other = s.other().last().copied().unwrap_or_default();
        assert_eq!(other.live_tasks, 100_000 - DEFAULT_TRACKED_LOCATIONS as u64);
        // 50 samples of 17 columns: a few KiB, whatever the number of locations.
        assert!(s.heap_bytes() < 64 * 1024, "{} bytes", s.heap_bytes());
    }
}
