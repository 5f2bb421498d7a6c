//! The bytes-per-task slope of RSS over live tasks, what the instrumentation itself costs per
//! task, and how the slope splits into instrumentation, future and the rest.

use std::time::Duration;

use serde::Serialize;

use crate::model::series::Sample;
use crate::model::{Instrumentation, Model};

/// Target RSS that console-subscriber adds per live task, beyond the uninstrumented cost:
/// measured with `bench/observer_cost.sh 20000 64` (52,781 B/task instrumented against 679 B/task
/// without, see bench/RESULTS.md). Two HdrHistograms per task account for most of it.
pub const CONSOLE_SUBSCRIBER_BYTES_PER_TASK: u64 = 52_100;

/// Target RSS that asyncmem-probe adds per live task, beyond the uninstrumented cost: measured
/// with `INSTRUMENTS="none probe" bench/observer_cost.sh 20000 64` (816 and 818 B/task
/// instrumented against 675 and 683 B/task without, two runs; 126 B at 100k, see
/// bench/RESULTS.md). Its 128-byte task record accounts for nearly all of it.
pub const PROBE_BYTES_PER_TASK: u64 = 138;

/// How far the per-task instrumentation estimate may be off: repeated
/// `bench/observer_cost.sh` runs spread by about 1.2 % for console-subscriber (52,100 to 52,704 B)
/// and by 126 to 141 B for the probe; 2 % plus 16 B covers both.
pub fn estimate_error_bytes(estimate: u64) -> f64 {
    estimate as f64 * 0.02 + 16.0
}

/// The estimated RSS per live task that the instrumentation itself costs.
pub fn instrumentation_bytes_per_task(i: Instrumentation) -> Option<u64> {
    match i {
        Instrumentation::ConsoleSubscriber => Some(CONSOLE_SUBSCRIBER_BYTES_PER_TASK),
        Instrumentation::None => Some(0),
        Instrumentation::Probe => Some(PROBE_BYTES_PER_TASK),
        Instrumentation::Unknown => None,
    }
}

/// A least-squares line of RSS (bytes) over live task count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Bytes of RSS per live task.
    pub slope: f64,
    /// RSS at zero tasks.
    pub intercept: f64,
    /// Coefficient of determination, 0..=1.
    pub r2: f64,
    pub samples: usize,
    pub min_tasks: u64,
    pub max_tasks: u64,
}

/// Why no slope could be fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoFit {
    TooFewSamples(usize),
    /// The live task count barely moved: RSS cannot be attributed to tasks.
    TaskCountFlat {
        min: u64,
        max: u64,
    },
}

impl NoFit {
    pub fn reason(&self) -> String {
        match self {
            NoFit::TooFewSamples(n) => format!("{n} samples; at least {MIN_SAMPLES} are needed"),
            NoFit::TaskCountFlat { min, max } => format!(
                "the live task count stayed between {min} and {max}: a slope needs it to move by at least {MIN_TASK_SPAN}"
            ),
        }
    }
}

pub const MIN_SAMPLES: usize = 3;
/// Below this r², a slope explains too little to be split into its parts.
pub const POOR_FIT_R2: f64 = 0.8;
pub const MIN_TASK_SPAN: u64 = 10;

/// Fit a line of RSS over live tasks across `samples`.
pub fn fit_line<'a>(samples: impl Iterator<Item = &'a Sample>) -> Result<Fit, NoFit> {
    let pts: Vec<(f64, f64)> = samples
        .filter(|s| s.rss_bytes > 0)
        .map(|s| (s.live_tasks as f64, s.rss_bytes as f64))
        .collect();
    if pts.len() < MIN_SAMPLES {
        return Err(NoFit::TooFewSamples(pts.len()));
    }
    let min = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min) as u64;
    let max = pts.iter().map(|p| p.0).fold(0.0, f64::max) as u64;
    if max - min < MIN_TASK_SPAN {
        return Err(NoFit::TaskCountFlat { min, max });
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    // RSS that never moved explains nothing: not a perfect fit of a flat line.
    let r2 = if syy == 0.0 {
        0.0
    } else {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    };
    Ok(Fit {
        slope,
        intercept,
        r2,
        samples: pts.len(),
        min_tasks: min,
        max_tasks: max,
    })
}

/// The slope of RSS over live tasks, and how it splits (`snapshot --format json` writes it as is).
#[derive(Serialize, Default)]
pub struct BytesPerTask {
    /// Bytes of RSS per live task (null when no line could be fitted; see `reason`).
    pub slope: Option<f64>,
    pub intercept_bytes: Option<f64>,
    pub r2: Option<f64>,
    pub samples: usize,
    pub min_tasks: Option<u64>,
    pub max_tasks: Option<u64>,
    /// Mean future size of live tasks (the part of a task's cost that is its state).
    pub mean_future_bytes: Option<u64>,
    /// The slope less the instrumentation's estimated share.
    pub corrected_slope: Option<f64>,
    /// The corrected slope less the mean future: task cell, heap the future points to, ...
    pub other_bytes_per_task: Option<f64>,
    pub reason: Option<String>,
    /// Why the slope should not be trusted now, if it should not (the subscriber announces
    /// tasks late, so RSS and the task count are out of step).
    pub caveat: Option<String>,
    /// The instrumentation's estimated share of the slope (not written: JSON has it under
    /// `instrumentation`).
    #[serde(skip)]
    pub instrumentation_bytes: Option<u64>,
    /// Why a line was fitted but is not given, in a few words for the TUI header (the whole
    /// story is in `reason`).
    #[serde(skip)]
    pub untrusted: Option<&'static str>,
}

/// The slope of the model's series, split into instrumentation, future and the rest.
/// Over the last `window` of the series, or all of it.
///
/// A figure that cannot be trusted is not given as one (`slope` null, `reason` says why):
/// a fit over samples taken while tasks were announced late (over
/// [`super::LAG_UNRELIABLE_NS`] after their spawn: RSS and the task count were out of step),
/// or a fit with a negative part. Samples before the last late announcement are left out, so
/// a figure comes once enough samples follow it.
pub fn bytes_per_task(model: &Model, window: Option<Duration>) -> BytesPerTask {
    let c = model.counts();
    let mean_future = c.future_bytes.checked_div(c.sized);
    let last = model.series().last().map_or(0, |s| s.at);
    let from = window.map_or(i64::MIN, |w| {
        last.saturating_sub(crate::model::time::nanos_of(w))
    });
    let late_at = model.lag().last_late_at;
    let in_window = || model.series().samples().filter(move |s| s.at >= from);
    let late_in_window = late_at != 0 && in_window().any(|s| s.at <= late_at);
    let not_fitted = |reason: String, untrusted: Option<&'static str>| BytesPerTask {
        samples: model.series().len(),
        mean_future_bytes: mean_future,
        reason: Some(reason),
        untrusted,
        ..Default::default()
    };
    let fit = match fit_line(in_window().filter(|s| s.at > late_at)) {
        Ok(fit) => fit,
        Err(why) if late_in_window => {
            let ago = u64::try_from(last.saturating_sub(late_at)).unwrap_or(0);
            let until = if ago == 0 {
                "until now".to_string()
            } else {
                format!("until {} ago", crate::present::units::duration_ns(ago))
            };
            return not_fitted(format!(
                "no trustworthy figure yet: tasks were announced up to {} after their spawn {until}, so RSS and the task count were out of step (since then: {})",
                crate::present::units::duration_ns(model.lag().max_announce_lag_ns),
                why.reason()
            ), Some("tasks were announced late"));
        }
        Err(why) => return not_fitted(why.reason(), None),
    };
    let instrumentation = instrumentation_bytes_per_task(model.instrumentation());
    let corrected = instrumentation.map(|i| fit.slope - i as f64);
    let other = corrected.zip(mean_future).map(|(c, m)| c - m as f64);
    // The parts after the instrumentation's share inherit that estimate's error: a part
    // below zero by less than it is within the measurement, not nonsense.
    let slack = instrumentation.map_or(0.0, estimate_error_bytes);
    let negative = [
        ("bytes per task", Some(fit.slope), 0.0),
        ("slope without the instrumentation", corrected, slack),
        ("other part", other, slack),
    ]
    .into_iter()
    .find_map(|(what, v, slack)| v.filter(|v| *v < -slack).map(|v| (what, v)));
    if let Some((what, v)) = negative {
        return not_fitted(format!(
            "no trustworthy figure yet: the fit over {} samples gives a negative {what} ({:.0} B): RSS moved for other reasons than the task count here",
            fit.samples, v
        ), Some("a part came out negative"));
    }
    BytesPerTask {
        slope: Some(fit.slope),
        intercept_bytes: Some(fit.intercept),
        r2: Some(fit.r2),
        samples: fit.samples,
        min_tasks: Some(fit.min_tasks),
        max_tasks: Some(fit.max_tasks),
        mean_future_bytes: mean_future,
        corrected_slope: corrected,
        other_bytes_per_task: other,
        reason: None,
        untrusted: None,
        instrumentation_bytes: instrumentation,
        caveat: model
            .lag()
            .current(model.now())
            .filter(|l| *l > super::LAG_UNRELIABLE_NS)
            .map(|l| {
                format!(
                    "the subscriber announces tasks {} after they are spawned: RSS and the task count are out of step",
                    crate::present::units::duration_ns(l)
                )
            }),
    }
}

/// What a [`BytesPerTask`] says, in the order every output checks it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reading<'a> {
    /// No line could be fitted, and why.
    NotFitted {
        reason: &'a str,
    },
    Fitted(Fitted),
}

/// A fitted slope: bytes per live task, its r², over how many samples, and its parts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fitted {
    pub slope: f64,
    pub r2: f64,
    pub samples: usize,
    pub split: Split,
}

/// How far a fitted slope can be taken apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Split {
    /// r² below [`POOR_FIT_R2`]: RSS does not follow the task count, the slope explains too
    /// little to be split.
    PoorFit,
    /// The slope as instrumentation + future + other.
    Parts {
        instrumentation: u64,
        without_instrumentation: f64,
        future: u64,
        other: f64,
    },
    /// A good fit whose parts are not known (no sizes, or unknown instrumentation).
    Unknown,
}

impl BytesPerTask {
    pub fn reading(&self) -> Reading<'_> {
        let (Some(slope), Some(r2)) = (self.slope, self.r2) else {
            return Reading::NotFitted {
                reason: self.reason.as_deref().unwrap_or_default(),
            };
        };
        let split = if r2 < POOR_FIT_R2 {
            Split::PoorFit
        } else if let (Some(instrumentation), Some(c), Some(other), Some(future)) = (
            self.instrumentation_bytes,
            self.corrected_slope,
            self.other_bytes_per_task,
            self.mean_future_bytes,
        ) {
            Split::Parts {
                instrumentation,
                without_instrumentation: c,
                future,
                other,
            }
        } else {
            Split::Unknown
        };
        Reading::Fitted(Fitted {
            slope,
            r2,
            samples: self.samples,
            split,
        })
    }
}

/// RSS-only mode, when the target says how many tasks it holds (a demo's `tasks=N`): what
/// each costs, `(RSS - RSS before them) / tasks`. Not a fit: one difference, as good as the
/// baseline (read when the target announced itself, just before its workload started).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReportedPerTask {
    pub bytes_per_task: f64,
    pub tasks: u64,
    pub baseline_rss_bytes: u64,
    pub rss_bytes: u64,
}

/// [`ReportedPerTask`] from the model's latest RSS reading, when there is a reported task
/// count (over 0) and a baseline.
pub fn reported_per_task(model: &Model) -> Option<ReportedPerTask> {
    let (tasks, baseline) = model.reported_tasks()?;
    let baseline_rss_bytes = baseline?;
    let rss_bytes = model.last_rss()?.rss_bytes;
    (tasks > 0).then(|| ReportedPerTask {
        bytes_per_task: (rss_bytes as f64 - baseline_rss_bytes as f64) / tasks as f64,
        tasks,
        baseline_rss_bytes,
        rss_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(tasks: u64, rss: u64) -> Sample {
        Sample {
            live_tasks: tasks,
            rss_bytes: rss,
            ..Default::default()
        }
    }

    #[test]
    fn exact_line_is_recovered() {
        let s: Vec<Sample> = (0..20)
            .map(|i| sample(i * 100, 10_000_000 + i * 100 * 700))
            .collect();
        let f = fit_line(s.iter()).unwrap();
        assert!((f.slope - 700.0).abs() < 1e-6, "{f:?}");
        assert!((f.intercept - 10_000_000.0).abs() < 1e-3);
        assert!((f.r2 - 1.0).abs() < 1e-9);
        assert_eq!((f.samples, f.min_tasks, f.max_tasks), (20, 0, 1900));
    }

    #[test]
    fn noisy_line_has_a_lower_fit() {
        // 4 KiB per task, with +-64 KiB of alternating noise.
        let s: Vec<Sample> = (0..50)
            .map(|i| {
                let noise: i64 = if i % 2 == 0 { 65_536 } else { -65_536 };
                sample(
                    1000 + i * 50,
                    (50_000_000 + (1000 + i * 50) as i64 * 4096 + noise) as u64,
                )
            })
            .collect();
        let f = fit_line(s.iter()).unwrap();
        assert!((f.slope - 4096.0).abs() < 100.0, "{f:?}");
        assert!(f.r2 > 0.9 && f.r2 < 1.0, "{f:?}");
    }

    #[test]
    fn two_slopes_are_told_apart() {
        let small: Vec<Sample> = (0..10)
            .map(|i| sample(i * 1000, 5_000_000 + i * 1000 * 1_300))
            .collect();
        let big: Vec<Sample> = (0..10)
            .map(|i| sample(i * 1000, 5_000_000 + i * 1000 * 5_400))
            .collect();
        let d = fit_line(big.iter()).unwrap().slope - fit_line(small.iter()).unwrap().slope;
        assert!((d - 4_100.0).abs() < 1.0);
    }

    #[test]
    fn refuses_to_fit_what_cannot_be_fitted() {
        assert_eq!(
            fit_line([sample(1, 1), sample(2, 2)].iter()),
            Err(NoFit::TooFewSamples(2))
        );
        let flat: Vec<Sample> = (0..10)
            .map(|i| sample(500 + i % 3, 1_000_000 + i))
            .collect();
        assert!(matches!(
            fit_line(flat.iter()),
            Err(NoFit::TaskCountFlat { min: 500, max: 502 })
        ));
        // RSS that never moves while tasks come and go: slope 0, and no fit to speak of
        let flat_rss: Vec<Sample> = (0..10).map(|i| sample(i * 100, 7_000_000)).collect();
        let f = fit_line(flat_rss.iter()).unwrap();
        assert_eq!((f.slope, f.r2), (0.0, 0.0));
        // samples without RSS (no local pid) are not data
        let no_rss: Vec<Sample> = (0..10).map(|i| sample(i * 100, 0)).collect();
        assert_eq!(fit_line(no_rss.iter()), Err(NoFit::TooFewSamples(0)));
    }

    /// A model whose series is `points` (time in seconds, live tasks, RSS), under the probe.
    fn model_of(points: &[(i64, u64, u64)]) -> Model {
        let mut m = Model::default();
        m.set_instrumentation(Instrumentation::Probe);
        for &(at, tasks, rss) in points {
            m.series_mut().push(Sample {
                at: at * 1_000_000_000,
                live_tasks: tasks,
                rss_bytes: rss,
                ..Default::default()
            });
        }
        m
    }

    #[test]
    fn a_part_below_zero_within_the_estimates_error_is_a_figure() {
        // console-subscriber's 52,100 B estimate is good to about 2 %: a slope of 52,050 B
        // (corrected -50 B) is within it; one of 45,000 B (corrected -7,100 B) is not.
        let mut m = model_of(&[
            (1, 100, 9_000_000),
            (2, 200, 9_000_000 + 5_205_000),
            (3, 300, 9_000_000 + 10_410_000),
        ]);
        m.set_instrumentation(Instrumentation::ConsoleSubscriber);
        let b = bytes_per_task(&m, None);
        assert!(
            b.slope.is_some_and(|s| (s - 52_050.0).abs() < 1e-6),
            "{:?}",
            b.reason
        );
        let mut m = model_of(&[
            (1, 100, 9_000_000),
            (2, 200, 9_000_000 + 4_500_000),
            (3, 300, 9_000_000 + 9_000_000),
        ]);
        m.set_instrumentation(Instrumentation::ConsoleSubscriber);
        assert_eq!(bytes_per_task(&m, None).slope, None);
    }

    #[test]
    fn a_negative_part_is_no_figure() {
        // RSS falls while tasks rise (memory given back meanwhile): a negative slope.
        let m = model_of(&[
            (1, 100, 9_000_000),
            (2, 200, 8_000_000),
            (3, 300, 7_000_000),
        ]);
        let b = bytes_per_task(&m, None);
        assert_eq!(b.slope, None);
        assert!(
            b.reason.as_deref().is_some_and(|r| r.contains("negative")),
            "{:?}",
            b.reason
        );
        assert_eq!(b.untrusted, Some("a part came out negative"));
        // A slope below what the probe itself costs: the corrected slope would be negative.
        let m = model_of(&[
            (1, 100, 9_000_000),
            (2, 200, 9_010_000),
            (3, 300, 9_020_000),
        ]);
        let b = bytes_per_task(&m, None);
        assert!(
            matches!(b.reading(), Reading::NotFitted { .. }),
            "{:?}",
            b.slope
        );
        // 1000 B per task is a figure.
        let m = model_of(&[
            (1, 100, 9_100_000),
            (2, 200, 9_200_000),
            (3, 300, 9_300_000),
        ]);
        assert!(bytes_per_task(&m, None)
            .slope
            .is_some_and(|s| (s - 1000.0).abs() < 1e-6));
    }

    #[test]
    fn samples_taken_while_tasks_were_announced_late_are_no_figure() {
        let pts: Vec<(i64, u64, u64)> = (1..=10)
            .map(|i| (i, 100 * i as u64, 9_000_000 + 100_000 * i as u64))
            .collect();
        let mut m = model_of(&pts);
        m.lag_mut().last_late_at = 9 * 1_000_000_000;
        m.lag_mut().max_announce_lag_ns = 3_000_000_000;
        let b = bytes_per_task(&m, None);
        assert_eq!(b.slope, None);
        assert!(
            b.reason
                .as_deref()
                .is_some_and(|r| r.contains("announced up to 3.00s")),
            "{:?}",
            b.reason
        );
        assert_eq!(b.untrusted, Some("tasks were announced late"));
        // Late before the window: the window's samples are a figure.
        let b = bytes_per_task(&m, Some(Duration::from_millis(500)));
        assert!(b.slope.is_none(), "one sample in the window");
        m.lag_mut().last_late_at = 1_000_000_000;
        let b = bytes_per_task(&m, None);
        assert_eq!(
            b.samples, 9,
            "the sample at the late announcement is left out"
        );
        assert!(b.slope.is_some_and(|s| (s - 1000.0).abs() < 1e-6));
    }

    #[test]
    fn rss_only_per_task_is_the_reported_tasks_share_of_the_growth() {
        use crate::model::{Event, RssSample};
        let rss = |at, rss_bytes| {
            Event::Rss(RssSample {
                at,
                rss_bytes,
                anon_rss_bytes: 0,
                threads: 1,
            })
        };
        let mut m = Model::default();
        m.apply(Event::NoConsole);
        m.apply(rss(1, 5_000_000));
        assert_eq!(reported_per_task(&m), None, "no count reported yet");
        m.apply(Event::TasksReported {
            tasks: 0,
            baseline_rss_bytes: Some(4_000_000),
        });
        assert_eq!(reported_per_task(&m), None, "no tasks, no share");
        m.apply(Event::TasksReported {
            tasks: 1000,
            baseline_rss_bytes: None,
        });
        assert_eq!(reported_per_task(&m), None, "no baseline");
        m.apply(Event::TasksReported {
            tasks: 1000,
            baseline_rss_bytes: Some(4_000_000),
        });
        let r = reported_per_task(&m).expect("a figure");
        assert_eq!(r.bytes_per_task, 1000.0);
        assert_eq!(
            (r.tasks, r.baseline_rss_bytes, r.rss_bytes),
            (1000, 4_000_000, 5_000_000)
        );
        m.apply(rss(2, 6_000_000));
        assert_eq!(
            reported_per_task(&m).map(|r| r.bytes_per_task),
            Some(2000.0)
        );
    }
}
