//! The compiler's type-size report (`-Zprint-type-sizes`) as text -> [`Layout`].
//! TRANSITIONAL: the parser lands in this file (helper branch `layout-parse`).

use super::model::Layout;
use super::CrateReport;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("line {line} of {crate_name}'s type-size report: {what}")]
    Malformed {
        crate_name: String,
        line: usize,
        what: String,
    },
}

/// Every crate's report of one build, parsed and linked into one [`Layout`].
pub fn assemble(_reports: &[CrateReport]) -> Result<Layout, ReportError> {
    Ok(Layout::default())
}
