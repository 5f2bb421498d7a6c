//! Compile-time layouts: why a future is as large as it is. `build` runs cargo with the
//! compiler's type-size report captured per crate (`wrapper` is the `RUSTC_WRAPPER` side),
//! `report` parses that text into `model` (futures, their states, the fields held across each
//! await, the awaitee tree, the futures that reach a tokio spawn and their task cells),
//! `awaits` maps each suspend state to its `.await` in the source. The layout file is
//! `model::Layout` as JSON.

use std::path::PathBuf;

pub mod awaits;
pub mod build;
pub mod explain;
pub mod file;
pub mod link;
pub mod model;
pub mod report;
pub mod wrapper;

/// One crate's type-size report, as the build captured it.
#[derive(Debug, Clone)]
pub struct CrateReport {
    /// `--crate-name` as rustc got it (`asyncmem_demos`, `fat_vs_slim`).
    pub crate_name: String,
    /// The crate's root source file as rustc got it (relative to `cwd` or absolute).
    pub src_path: PathBuf,
    /// The directory rustc ran in (the workspace root for members, the package's for
    /// registry crates): the base of relative paths in the report and in `src_path`.
    pub cwd: PathBuf,
    /// rustc's stdout for that crate.
    pub text: String,
}

/// Where the sources of each crate of a build are, to map awaits and read lines.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// (crate name, root source file (absolute), cwd of its rustc): one per crate compiled.
    pub crates: Vec<(String, PathBuf, PathBuf)>,
}
