//! Human units for sizes and durations.

/// `1536` -> `1.5 KiB`; bytes under 1 KiB stay exact.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Bytes with a sign, for slopes that noise can make negative.
pub fn signed_bytes(v: f64) -> String {
    if v < 0.0 {
        format!("-{}", bytes((-v) as u64))
    } else {
        bytes(v as u64)
    }
}

/// Keep the end of `s` within `width` characters (the file name and line of a location matter
/// most), marking a cut with `…`.
pub fn tail(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let kept: String = s.chars().skip(n - (width - 1)).collect();
    format!("…{kept}")
}

/// Keep the start of `s` within `width` characters (a name reads from its start), marking a
/// cut with `…`. [`tail`] keeps the end instead; at width 0 this keeps the `…` alone.
pub fn head(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let kept: String = s.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Nanoseconds as a short duration: `850ns`, `12.3µs`, `4.5ms`, `2.00s`, `3m05s`, `2h03m`.
pub fn duration_ns(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1}ms", f / 1e6)
    } else if ns < 60_000_000_000 {
        format!("{:.2}s", f / 1e9)
    } else if ns < 3_600_000_000_000 {
        let s = ns / 1_000_000_000;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = ns / 60_000_000_000;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(bytes(300 * 1024 * 1024), "300 MiB");
        assert_eq!(bytes(u64::MAX), "16384 PiB");
    }

    #[test]
    fn fitting_keeps_the_useful_end() {
        assert_eq!(tail("src/main.rs:10:5", 100), "src/main.rs:10:5");
        assert_eq!(tail("demos/src/bin/sleepers.rs:40:9", 12), "…ers.rs:40:9");
        assert_eq!(tail("abc", 0), "");
        assert_eq!(head("a-very-long-task-name", 8), "a-very-…");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ns(850), "850ns");
        assert_eq!(duration_ns(12_300), "12.3µs");
        assert_eq!(duration_ns(4_500_000), "4.5ms");
        assert_eq!(duration_ns(2_000_000_000), "2.00s");
        assert_eq!(duration_ns(185_000_000_000), "3m05s");
        assert_eq!(duration_ns(7_380_000_000_000), "2h03m");
    }
}
