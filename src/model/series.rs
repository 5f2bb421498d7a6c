//! Time series on one time axis: each sample holds the process's memory and the task picture at
//! the same instant, so RSS and live task count line up by construction. Bounded by a window and
//! a sample cap.

use std::collections::VecDeque;

use super::time::Nanos;

/// A memory reading of the target process (from procfs), timestamped on the wall clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RssSample {
    pub at: Nanos,
    pub rss_bytes: u64,
    pub anon_rss_bytes: u64,
    pub threads: u64,
}

/// One point of the chart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    pub at: Nanos,
    pub rss_bytes: u64,
    pub anon_rss_bytes: u64,
    pub threads: u64,
    pub running: u64,
    pub scheduled: u64,
    pub idle: u64,
    /// Live tasks: running + scheduled + idle.
    pub live_tasks: u64,
    /// Sum of the future sizes of live tasks whose size is known.
    pub future_bytes: u64,
    /// Estimated bytes of live tasks' task cells and the boxes of futures tokio boxed
    /// ([`super::cost::task_bytes`]): the tasks' part of RSS before instrumentation.
    pub cell_bytes: u64,
    /// Heap held by live tasks (asyncmem-probe's allocator); null where not known.
    pub heap_bytes: Option<u64>,
    /// Of `cell_bytes`, the futures tokio boxed (left out where the heap is known).
    #[serde(skip)]
    pub boxed_bytes: u64,
}

#[derive(Debug)]
pub struct Series {
    samples: VecDeque<Sample>,
    window_ns: Nanos,
    max_samples: usize,
}

impl Series {
    pub fn new(window_ns: Nanos, max_samples: usize) -> Self {
        Series {
            samples: VecDeque::new(),
            window_ns,
            max_samples: max_samples.max(2),
        }
    }

    /// Append a sample; samples older than the window (relative to this one) or past the cap
    /// are dropped. A sample older than the last one is ignored (clock went backwards): false.
    pub fn push(&mut self, sample: Sample) -> bool {
        if let Some(last) = self.samples.back() {
            if sample.at < last.at {
                return false;
            }
        }
        self.samples.push_back(sample);
        let oldest = sample.at.saturating_sub(self.window_ns);
        while self.samples.len() > self.max_samples
            || self.samples.front().is_some_and(|s| s.at < oldest)
        {
            self.samples.pop_front();
        }
        true
    }

    pub fn samples(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples.iter()
    }

    pub fn last(&self) -> Option<&Sample> {
        self.samples.back()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn clear(&mut self) {
        self.samples.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: Nanos) -> Sample {
        Sample {
            at: t,
            ..Default::default()
        }
    }

    #[test]
    fn window_and_cap() {
        let mut s = Series::new(10, 4);
        for t in [1, 2, 3] {
            s.push(at(t));
        }
        assert_eq!(s.len(), 3);
        s.push(at(20));
        assert_eq!(s.samples().map(|x| x.at).collect::<Vec<_>>(), vec![20]);
        for t in 21..30 {
            s.push(at(t));
        }
        assert_eq!(s.len(), 4);
        s.push(at(5));
        assert_eq!(
            s.last().map(|x| x.at),
            Some(29),
            "out-of-order sample ignored"
        );
    }
}
