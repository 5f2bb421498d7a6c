//! A spawn location as the TUI and the table output show it: the dependency's crate-version and
//! path in the crate rather than a registry's hash path (`axum-0.8.9/src/serve/mod.rs:389:5`,
//! see [`crate::insight::locations::origin`]), escaped for a terminal, cut at the front to a
//! width. JSON and CSV keep the full path.

use super::escape::escape;
use super::units::tail;
use crate::insight::locations::short_location;

/// `location` shortened and escaped (not cut).
pub fn display(location: &str) -> String {
    escape(&short_location(location)).into_owned()
}

/// [`display`] cut to `width` characters, keeping the end (file and line matter most).
pub fn fit(location: &str, width: usize) -> String {
    tail(&display(location), width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_read_as_crate_and_path_escaped_and_cut() {
        let reg = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/serve/mod.rs:389:5";
        assert_eq!(display(reg), "axum-0.8.9/src/serve/mod.rs:389:5");
        assert_eq!(fit(reg, 20), "…/serve/mod.rs:389:5");
        assert_eq!(display("src/\x1b[2Jevil\n.rs"), "src/\\e[2Jevil\\n.rs");
        // The width counts the escaped text.
        assert_eq!(fit("a\nb", 4), "a\\nb");
        assert_eq!(fit("a\nb", 3), "…nb");
    }
}
