//! The chart window's slice of the per-location history ([`crate::model::LocationSeries`]):
//! each tracked location's live tasks over the window, their change, and a sparkline of them;
//! what the locations view and the chart draw, computed from the model (16 columns at most).

use std::collections::HashMap;
use std::time::Duration;

use crate::model::{LocationHistory, Model, Nanos, Sym};

/// One location's live tasks over the chart window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowHistory {
    /// Live tasks at each time of the window's axis; `None` before the location had a column
    /// (its tasks were then counted in "other").
    pub points: Vec<Option<u64>>,
    /// Live tasks at the window's end less at its first point (or the column's first, when
    /// the column is younger than the window).
    pub change: i64,
    /// Most live tasks in the window.
    pub peak: u64,
}

impl WindowHistory {
    fn of(points: Vec<Option<u64>>) -> WindowHistory {
        let first = points.iter().flatten().next().copied().unwrap_or(0);
        let last = points.iter().rev().flatten().next().copied().unwrap_or(0);
        let peak = points.iter().flatten().copied().max().unwrap_or(0);
        WindowHistory {
            change: last as i64 - first as i64,
            peak,
            points,
        }
    }
}

/// The per-location history over the last `window` of the axis.
#[derive(Clone, Debug, Default)]
pub struct Histories {
    pub tracked: HashMap<Sym, WindowHistory>,
    /// Everything without a column.
    pub other: WindowHistory,
    /// How many locations have a column at most.
    pub capacity: usize,
}

/// The index of the first time of `times` (oldest first) inside the `window` before the last.
fn window_start(times: &[Nanos], window: Duration) -> usize {
    let Some(&now) = times.last() else { return 0 };
    let window = i64::try_from(window.as_nanos()).unwrap_or(i64::MAX);
    let oldest = now.saturating_sub(window);
    times.partition_point(|t| *t < oldest)
}

/// Each tracked location's window and "other"'s.
pub fn histories(model: &Model, window: Duration) -> Histories {
    let series = model.location_series();
    let times: Vec<Nanos> = series.times().copied().collect();
    let start = window_start(&times, window);
    let len = times.len();
    let column = |h: &LocationHistory<'_>| -> Vec<Option<u64>> {
        // Its points are the last `h.len()` times of the axis.
        let offset = len - h.len().min(len);
        let mut out = vec![None; len - start];
        for (i, p) in h.points().enumerate() {
            if let Some(slot) = (offset + i).checked_sub(start) {
                out[slot] = Some(p.live_tasks);
            }
        }
        out
    };
    let tracked = series
        .tracked()
        .iter()
        .map(|h| (h.location, WindowHistory::of(column(h))))
        .collect();
    let other = series
        .other()
        .skip(start)
        .map(|p| Some(p.live_tasks))
        .collect();
    Histories {
        tracked,
        other: WindowHistory::of(other),
        capacity: series.capacity(),
    }
}

/// Eight heights of a sparkline's cell.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `points` in `width` cells, oldest left: each cell the most of the points it covers, scaled
/// from 0 to the largest; a blank where the location had no column yet; `▁` is zero.
pub fn sparkline(points: &[Option<u64>], width: usize) -> String {
    if width == 0 || points.is_empty() {
        return String::new();
    }
    let top = points.iter().flatten().copied().max().unwrap_or(0);
    let cells = width.min(points.len());
    let mut out = String::with_capacity(cells * 3);
    for c in 0..cells {
        let (from, to) = (c * points.len() / cells, (c + 1) * points.len() / cells);
        let most = points[from..to.max(from + 1)]
            .iter()
            .flatten()
            .max()
            .copied();
        out.push(match most {
            None => ' ',
            Some(_) if top == 0 => BARS[0],
            Some(v) => {
                let level = (v as f64 / top as f64 * (BARS.len() - 1) as f64).round() as usize;
                BARS[level.min(BARS.len() - 1)]
            }
        });
    }
    out
}

/// A change as shown: `+3000`, `-20`, `0`.
pub fn signed(v: i64) -> String {
    if v > 0 {
        format!("+{v}")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_their_peak_and_leave_the_untracked_past_blank() {
        let pts = [None, None, Some(0), Some(4), Some(8)];
        assert_eq!(sparkline(&pts, 5), "  ▁▅█");
        // Fewer cells than points: each cell the most it covers.
        assert_eq!(sparkline(&[Some(1), Some(8), Some(0), Some(0)], 2), "█▁");
        // All zero: the floor, not a blank.
        assert_eq!(sparkline(&[Some(0), Some(0)], 4), "▁▁");
        assert_eq!(sparkline(&[], 4), "");
        let h = WindowHistory::of(pts.to_vec());
        assert_eq!((h.change, h.peak), (8, 8));
        assert_eq!(signed(-3), "-3");
        assert_eq!(signed(3), "+3");
    }

    #[test]
    fn the_window_starts_at_its_first_time_inside() {
        let s = 1_000_000_000;
        let times = [0, s, 2 * s, 3 * s];
        assert_eq!(window_start(&times, Duration::from_secs(1)), 2);
        assert_eq!(window_start(&times, Duration::from_secs(60)), 0);
        assert_eq!(window_start(&[], Duration::from_secs(1)), 0);
    }
}
