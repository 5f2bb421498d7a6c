//! `asyncmem layout`: build with the compiler's type-size report ([`crate::layout::build`]),
//! parse it ([`report::assemble`]), map the awaits ([`awaits::map`]), print the table or the
//! layout file, and with `--max-future` exit non-zero naming each spawned future over it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{LayoutArgs, LayoutFormat};
use crate::error::{exit, Failure};
use crate::layout::build::{self, BuildError, Options};
use crate::layout::model::{BuildTarget, Layout, SCHEMA};
use crate::layout::{awaits, report};
use crate::present::units::bytes;
use crate::signal::{self, Signal};

impl From<BuildError> for Failure {
    fn from(e: BuildError) -> Failure {
        match e {
            BuildError::Interrupted(sig) => Failure::interrupted(sig.exit_code()).then_say(
                "asyncmem: the build was stopped (cargo and its compilers); nothing was written"
                    .into(),
            ),
            e => Failure::new(e.exit_code(), &e),
        }
    }
}

pub async fn run(args: LayoutArgs) -> Result<(), Failure> {
    let options = Options {
        manifest_path: args.manifest_path.clone(),
        package: args.package.clone(),
        bin: args.bin.clone(),
        example: args.example.clone(),
        release: args.release,
        features: args.features.clone(),
        all_features: args.all_features,
        no_default_features: args.no_default_features,
        target_dir: args.target_dir.clone(),
    };
    let req = build::resolve(&options)?;
    let built = build::build(
        &req,
        signal::first(&[Signal::Interrupt, Signal::Terminate, Signal::Hangup]),
    )
    .await?;
    for name in &built.missing {
        super::say(&format!(
            "asyncmem: warning: no type-size report for crate {name}: it was built in {} before asyncmem captured its reports; remove that directory to rebuild it whole",
            req.target_dir.display()
        ));
    }
    let lines: usize = built.reports.iter().map(|r| r.text.lines().count()).sum();
    super::say(&format!(
        "asyncmem: parsing the type-size reports of {} crates ({} compiled now, {} unchanged; {lines} lines)",
        built.reports.len(),
        built.compiled,
        built.fresh
    ));
    // tokio decides at its own compile time whether spawn boxes a future (2 KiB with debug
    // assertions, 16 KiB without): its unit's profile says which; the profile's name only
    // where the build has no tokio.
    let debug_assertions = built.tokio_debug_assertions.unwrap_or(!req.options.release);
    let mut layout = report::assemble_for(&built.reports, debug_assertions)
        .map_err(|e| Failure::caused_by(exit::OTHER, "reading the type-size report", &e))?;
    awaits::map(&mut layout, &built.sources);
    layout.schema = SCHEMA;
    layout.toolchain = built.toolchain.clone();
    layout.target = BuildTarget {
        package: req.package.clone(),
        target: req.target.clone(),
        profile: req.profile().into(),
        features: args.features.clone(),
    };
    layout.workspace_root = Some(req.workspace_root.display().to_string());
    if layout.futures.is_empty() {
        super::say(&format!(
            "asyncmem: no async code found in the {} crates of this build (no async fn, async block or async closure in their type-size reports)",
            built.reports.len()
        ));
    }
    let json_file = args
        .output
        .as_ref()
        .is_some_and(|p| p.extension().is_some_and(|e| e == "json"));
    let format = args.format.unwrap_or(if json_file {
        LayoutFormat::Json
    } else {
        LayoutFormat::Table
    });
    let text = match format {
        LayoutFormat::Json => {
            let mut t = Vec::new();
            crate::output::layout::write_json(&mut t, &layout)?;
            t
        }
        LayoutFormat::Table => {
            let mut t = Vec::new();
            crate::output::layout::write_table(&mut t, &layout, TABLE_OTHERS)?;
            t
        }
    };
    match &args.output {
        Some(path) => {
            write_atomically(path, &text).map_err(|e| {
                Failure::caused_by(exit::OTHER, format_args!("writing {}", path.display()), &e)
            })?;
            super::say(&format!("asyncmem: wrote the layout to {}", path.display()));
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text)?;
            out.flush()?;
        }
    }
    match args.max_future {
        Some(limit) => over_limit(&layout, limit),
        None => Ok(()),
    }
}

/// Futures that are not spawned themselves (the awaitees the spawned ones hold) listed after
/// the spawned ones in the table.
const TABLE_OTHERS: usize = 10;

/// `--max-future`: each spawned future over the limit, named with its largest state.
fn over_limit(layout: &Layout, limit: u64) -> Result<(), Failure> {
    let over = crate::layout::explain::over_limit(layout, limit);
    if over.is_empty() {
        return Ok(());
    }
    let mut f = Failure::new(
        exit::LAYOUT_OVER_LIMIT,
        format_args!(
            "{} spawned future{} over --max-future {}:",
            over.len(),
            if over.len() == 1 { " is" } else { "s are" },
            bytes(limit)
        ),
    );
    for o in over {
        f = f.then_say(format!("  {}", crate::present::escape(&o.to_string())));
    }
    Err(f)
}

/// The whole file or nothing: a temporary file beside it, renamed over it.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.asyncmem-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
