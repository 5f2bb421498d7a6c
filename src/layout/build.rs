//! The `layout` build: find the workspace, package and target as cargo would
//! ([`resolve`]), run `cargo build` in a target directory of its own with asyncmem as the
//! `RUSTC_WRAPPER` ([`super::wrapper`]) and collect the type-size report of every crate of that
//! build ([`build`]).
//!
//! The captures live in a store inside that target directory (`asyncmem-types/`), one per
//! unit, named by crate and the hash cargo puts in the unit's file names. A build reads only
//! the captures of its own units, told by cargo's `--message-format=json` artifact messages:
//! a library's file names carry the hash; a binary's are uplifted (`debug/server`, a hard link
//! of `deps/server-HASH`), so its capture is the one whose output is that same file (inode, or
//! equal bytes where cargo had to copy). A crate cargo did not recompile keeps its capture; one
//! from another build (other features, profile, an earlier source) is never read.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cargo_metadata::{Message, Metadata, MetadataCommand, Package, TargetKind};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::wrapper::{self, Capture};
use super::{CrateReport, Sources};
use crate::error::exit;
use crate::signal::Signal;

/// What to build, as the command line said it.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub manifest_path: Option<PathBuf>,
    pub package: Option<String>,
    pub bin: Option<String>,
    pub example: Option<String>,
    pub release: bool,
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub target_dir: Option<PathBuf>,
}

/// What will be built, resolved against the workspace.
#[derive(Debug, Clone)]
pub struct Request {
    pub manifest: PathBuf,
    pub workspace_root: PathBuf,
    pub package: String,
    /// `bin:NAME`, `example:NAME`, or empty (the package's default targets).
    pub target: String,
    pub options: Options,
    pub target_dir: PathBuf,
}

impl Request {
    /// Where the captures are kept.
    pub fn store(&self) -> PathBuf {
        self.target_dir.join("asyncmem-types")
    }

    pub fn profile(&self) -> &'static str {
        if self.options.release {
            "release"
        } else {
            "dev"
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}: no Cargo.toml there")]
    NoManifest(PathBuf),
    #[error("no Cargo.toml in {0} or any directory above it: pass --manifest-path")]
    NoManifestAbove(PathBuf),
    #[error("cargo cannot read {manifest}: {detail}")]
    Metadata { manifest: PathBuf, detail: String },
    #[error("{manifest} is a workspace of {count} packages and none is the default: pass -p with one of: {members}")]
    WhichPackage {
        manifest: PathBuf,
        count: usize,
        members: String,
    },
    #[error("{manifest} is a workspace with no package to build")]
    NoPackages { manifest: PathBuf },
    #[error("no package {name:?} in the workspace of {manifest} (its packages: {members})")]
    NoSuchPackage {
        name: String,
        manifest: PathBuf,
        members: String,
    },
    #[error("package {package} has no {kind} {name:?} ({its})")]
    NoSuchTarget {
        package: String,
        kind: &'static str,
        name: String,
        its: String,
    },
    #[error("cannot {what}: {err}")]
    Io {
        what: String,
        #[source]
        err: std::io::Error,
    },
    #[error("the build failed ({status}); the compiler's errors are above")]
    Failed { status: String },
    #[error("the toolchain refuses the type-size report (-Zprint-type-sizes, allowed on a stable rustc by RUSTC_BOOTSTRAP=1): {line}")]
    Refused { line: String },
    #[error("interrupted: the build was stopped")]
    Interrupted(Signal),
}

impl BuildError {
    pub fn exit_code(&self) -> i32 {
        match self {
            BuildError::NoManifest(_)
            | BuildError::NoManifestAbove(_)
            | BuildError::Metadata { .. }
            | BuildError::WhichPackage { .. }
            | BuildError::NoPackages { .. }
            | BuildError::NoSuchPackage { .. }
            | BuildError::NoSuchTarget { .. } => exit::LAYOUT_NO_TARGET,
            BuildError::Io { .. } => exit::OTHER,
            BuildError::Failed { .. } => exit::LAYOUT_BUILD_FAILED,
            BuildError::Refused { .. } => exit::LAYOUT_TOOLCHAIN,
            BuildError::Interrupted(s) => s.exit_code(),
        }
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let what = what.into();
    move |err| BuildError::Io { what, err }
}

/// The Cargo.toml to use: `--manifest-path` (a file or its directory), else the nearest one
/// from the current directory upward.
fn manifest(given: Option<&Path>) -> Result<PathBuf, BuildError> {
    match given {
        Some(p) => {
            let file = if p.is_dir() {
                p.join("Cargo.toml")
            } else {
                p.to_path_buf()
            };
            if file.is_file() {
                // cargo runs in the workspace root: paths of the command line are made absolute.
                std::path::absolute(&file).map_err(io(format!("resolve {}", file.display())))
            } else {
                Err(BuildError::NoManifest(p.to_path_buf()))
            }
        }
        None => {
            let cwd = std::env::current_dir().map_err(io("read the current directory"))?;
            cwd.ancestors()
                .map(|d| d.join("Cargo.toml"))
                .find(|f| f.is_file())
                .ok_or(BuildError::NoManifestAbove(cwd))
        }
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The workspace, package and target, as `cargo build` would pick them, or why not.
pub fn resolve(options: &Options) -> Result<Request, BuildError> {
    let manifest = manifest(options.manifest_path.as_deref())?;
    let metadata = MetadataCommand::new()
        .manifest_path(&manifest)
        .no_deps()
        .exec()
        .map_err(|e| BuildError::Metadata {
            manifest: manifest.clone(),
            detail: match e {
                cargo_metadata::Error::CargoMetadata { stderr } => stderr
                    .trim()
                    .trim_start_matches("error: ")
                    .replace('\n', " "),
                other => other.to_string(),
            },
        })?;
    let package = package(&metadata, &manifest, options.package.as_deref())?;
    let (kind, name) = match (&options.bin, &options.example) {
        (Some(b), _) => ("bin", Some(b)),
        (None, Some(e)) => ("example", Some(e)),
        (None, None) => ("", None),
    };
    let target = match name {
        None => String::new(),
        Some(name) => {
            let want = if kind == "bin" {
                TargetKind::Bin
            } else {
                TargetKind::Example
            };
            let of_kind = || package.targets.iter().filter(|t| t.kind.contains(&want));
            if !of_kind().any(|t| &t.name == name) {
                return Err(BuildError::NoSuchTarget {
                    package: package.name.to_string(),
                    kind,
                    name: name.clone(),
                    its: format!("its {kind}s: {}", names(of_kind().map(|t| t.name.as_str()))),
                });
            }
            format!("{kind}:{name}")
        }
    };
    let target_dir = match &options.target_dir {
        Some(d) => std::path::absolute(d).map_err(io(format!("resolve {}", d.display())))?,
        None => metadata
            .target_directory
            .as_std_path()
            .join("asyncmem-layout"),
    };
    Ok(Request {
        manifest,
        workspace_root: metadata.workspace_root.clone().into_std_path_buf(),
        package: package.name.to_string(),
        target,
        options: options.clone(),
        target_dir,
    })
}

fn package<'a>(
    metadata: &'a Metadata,
    manifest: &Path,
    name: Option<&str>,
) -> Result<&'a Package, BuildError> {
    let members = metadata.workspace_packages();
    let list = || names(members.iter().map(|p| p.name.as_str()));
    if let Some(name) = name {
        return members
            .iter()
            .find(|p| p.name.as_str() == name)
            .copied()
            .ok_or_else(|| BuildError::NoSuchPackage {
                name: name.to_string(),
                manifest: manifest.to_path_buf(),
                members: list(),
            });
    }
    if let Some(root) = metadata.root_package() {
        return Ok(root);
    }
    let defaults = metadata.workspace_default_packages();
    match (defaults.as_slice(), members.as_slice()) {
        ([one], _) | ([], [one]) => Ok(one),
        (_, []) => Err(BuildError::NoPackages {
            manifest: manifest.to_path_buf(),
        }),
        _ => Err(BuildError::WhichPackage {
            manifest: manifest.to_path_buf(),
            count: members.len(),
            members: list(),
        }),
    }
}

/// One build's reports, and what the build did.
#[derive(Debug, Default)]
pub struct Built {
    pub reports: Vec<CrateReport>,
    pub sources: Sources,
    /// Units compiled by this build / fresh (their captures from an earlier build).
    pub compiled: usize,
    pub fresh: usize,
    /// Crates of the build without a capture (built before the store existed, for one).
    pub missing: Vec<String>,
    /// `rustc -vV`'s first line.
    pub toolchain: String,
    /// Whether tokio was compiled with debug assertions (its spawn boxes futures over 2 KiB
    /// then, over 16 KiB without): from the tokio unit's own profile in cargo's artifact
    /// messages, so a profile override for tokio counts; `None` when the build has no tokio.
    pub tokio_debug_assertions: Option<bool>,
}

/// How long cargo gets to stop after SIGINT before its process group is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Runs the build; `stop` resolving first (a signal) stops cargo and every compiler it runs.
pub async fn build(req: &Request, stop: impl Future<Output = Signal>) -> Result<Built, BuildError> {
    let store = req.store();
    std::fs::create_dir_all(&store).map_err(io(format!("create {}", store.display())))?;
    // One layout build per store at a time, as cargo does per target dir: another run's
    // clean-up would take the files this one's compilers are writing.
    let _lock = lock(&store).map_err(io(format!("lock {}", store.display())))?;
    clean(&store);
    let exe = std::env::current_exe().map_err(io("find asyncmem's own executable"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = tokio::process::Command::new(&cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&req.manifest)
        .arg("-p")
        .arg(&req.package)
        .arg("--target-dir")
        .arg(&req.target_dir)
        .arg(if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            "--message-format=json-diagnostic-rendered-ansi"
        } else {
            "--message-format=json"
        });
    if let Some((kind, name)) = req.target.split_once(':') {
        cmd.arg(format!("--{kind}")).arg(name);
    }
    let o = &req.options;
    if o.release {
        cmd.arg("--release");
    }
    for f in &o.features {
        cmd.arg("--features").arg(f);
    }
    if o.all_features {
        cmd.arg("--all-features");
    }
    if o.no_default_features {
        cmd.arg("--no-default-features");
    }
    // The project's .cargo/config.toml (build.rustflags) is found from the directory cargo
    // runs in, as when its developers run `cargo build`.
    cmd.current_dir(&req.workspace_root)
        .env("RUSTC_WRAPPER", &exe)
        .env(wrapper::DIR_VAR, &store)
        // Incremental reuse would skip printing the layouts it does not recompute.
        .env("CARGO_INCREMENTAL", "0")
        // Empty overrides a `build.rustc-workspace-wrapper` of the project's config too: the
        // wrapper runs nothing but rustc.
        .env("RUSTC_WORKSPACE_WRAPPER", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // A group of its own: a signal stops cargo and the compilers it runs, all of them.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(io(format!("run {}", Path::new(&cargo).display())))?;
    let pgid = child.id().map(|p| p as i32);
    let stdout = child.stdout.take();
    let read = async move {
        let mut artifacts = Vec::new();
        if let Some(out) = stdout {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Message>(&line) {
                    Ok(Message::CompilerArtifact(a)) => artifacts.push(a),
                    Ok(Message::CompilerMessage(m)) => {
                        if let Some(r) = &m.message.rendered {
                            eprint!("{r}");
                        }
                    }
                    Ok(_) => {}
                    Err(_) => eprintln!("{line}"),
                }
            }
        }
        artifacts
    };
    // Until cargo closes its stdout (it is then exiting), a signal stops it.
    let artifacts = tokio::select! {
        a = read => a,
        sig = stop => {
            stop_group(pgid, &mut child).await;
            return Err(BuildError::Interrupted(sig));
        }
    };
    let status = child.wait().await;
    let status = status.map_err(io("wait for cargo"))?;
    if !status.success() {
        if let Ok(line) = std::fs::read_to_string(store.join(wrapper::REFUSED_FILE)) {
            return Err(BuildError::Refused { line });
        }
        return Err(BuildError::Failed {
            status: format!("cargo build: {status}"),
        });
    }
    let mut built = collect(&store, &artifacts)?;
    // Artifacts arrive in the order the compilers finish, which parallel builds vary: the
    // layout must not (two runs of one build give the same file).
    built
        .reports
        .sort_by(|a, b| (&a.crate_name, &a.src_path).cmp(&(&b.crate_name, &b.src_path)));
    built.sources.crates.sort();
    built.toolchain = toolchain(&req.workspace_root).await;
    Ok(built)
}

/// SIGINT to cargo's group, SIGKILL after [`STOP_GRACE`]; then reaps cargo.
async fn stop_group(pgid: Option<i32>, child: &mut tokio::process::Child) {
    let Some(pgid) = pgid else { return };
    // SAFETY: kill(2) with a negative pid signals the process group cargo leads (started with
    // process_group(0) above); no memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGINT);
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        // SAFETY: as above.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = child.wait().await;
    }
    // The compilers of the group may outlive cargo by a moment: they got the signal too.
    for _ in 0..50 {
        // SAFETY: signal 0 only asks whether the group still has a process.
        if unsafe { libc::kill(-pgid, 0) } != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Leftovers of interrupted wrappers and the refusal of an earlier run.
/// An exclusive lock on the store, held until the guard (the open lock file) is dropped; says
/// so when it has to wait for another run.
fn lock(store: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(store.join(".lock"))?;
    if file.try_lock().is_err() {
        eprintln!(
            "asyncmem: waiting for another `asyncmem layout` using {}",
            store.display()
        );
        file.lock()?;
    }
    Ok(file)
}

/// A capture no build has read for this long is removed (another profile's or feature set's
/// captures stay while they are used; those of a unit that is gone would pile up).
const STALE_AFTER: Duration = Duration::from_secs(14 * 24 * 3600);

/// Removes the refusal note, temporary files and stale captures (see [`STALE_AFTER`]).
fn clean(store: &Path) {
    let _ = std::fs::remove_file(store.join(wrapper::REFUSED_FILE));
    let Ok(dir) = std::fs::read_dir(store) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            let _ = std::fs::remove_file(e.path());
            continue;
        }
        let Some(key) = name.strip_suffix(".json") else {
            continue;
        };
        let age = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok());
        if !key.starts_with('.') && age.is_some_and(|a| a > STALE_AFTER) {
            let _ = std::fs::remove_file(store.join(format!("{key}.types")));
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Marks a capture as read now (its sidecar's modification time), so that [`clean`] keeps it.
fn used(store: &Path, key: &str) {
    let sidecar = store.join(format!("{key}.json"));
    if let Ok(f) = std::fs::File::options().append(true).open(&sidecar) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

async fn toolchain(root: &Path) -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = tokio::process::Command::new(rustc)
        .arg("-vV")
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await;
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// Every capture of the store: (key, sidecar).
fn captures(store: &Path) -> Result<Vec<(String, Capture)>, BuildError> {
    let dir = std::fs::read_dir(store).map_err(io(format!("read {}", store.display())))?;
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(key) = name.strip_suffix(".json") else {
            continue;
        };
        if key.starts_with('.') {
            continue;
        }
        let Ok(bytes) = std::fs::read(e.path()) else {
            continue;
        };
        if let Ok(c) = serde_json::from_slice::<Capture>(&bytes) {
            out.push((key.to_string(), c));
        }
    }
    Ok(out)
}

/// The capture of one unit of this build, if the store has it.
pub fn find<'a>(
    captures: &'a [(String, Capture)],
    crate_name: &str,
    filenames: &[PathBuf],
) -> Option<&'a (String, Capture)> {
    let candidates: Vec<&(String, Capture)> = captures
        .iter()
        .filter(|(_, c)| c.crate_name == crate_name)
        .collect();
    // A library: `libNAME-HASH.rlib` (or .rmeta, .so) carries the hash.
    for f in filenames {
        let Some(stem) = f.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let stem = stem.strip_prefix("lib").unwrap_or(stem);
        if let Some(hash) = stem.strip_prefix(crate_name) {
            if let Some(c) = candidates
                .iter()
                .find(|(_, c)| !c.extra_filename.is_empty() && c.extra_filename == hash)
            {
                return Some(c);
            }
        }
    }
    // A binary: its uplifted file is the unit's output, hard-linked (or copied).
    use std::os::unix::fs::MetadataExt;
    let output = |c: &Capture| {
        c.out_dir
            .join(format!("{}{}", c.crate_name, c.extra_filename))
    };
    for f in filenames {
        let Ok(m) = std::fs::metadata(f) else {
            continue;
        };
        let same_inode = candidates.iter().find(|(_, c)| {
            std::fs::metadata(output(c)).is_ok_and(|o| o.dev() == m.dev() && o.ino() == m.ino())
        });
        if let Some(c) = same_inode {
            return Some(c);
        }
        let same_bytes = candidates.iter().find(|(_, c)| {
            std::fs::metadata(output(c)).is_ok_and(|o| o.len() == m.len())
                && std::fs::read(output(c)).ok() == std::fs::read(f).ok()
        });
        if let Some(c) = same_bytes {
            return Some(c);
        }
    }
    None
}

/// This build's reports: one per unit of its artifact messages (build scripts left out: they
/// run at build time, not in the program).
fn collect(store: &Path, artifacts: &[cargo_metadata::Artifact]) -> Result<Built, BuildError> {
    let all = captures(store)?;
    let mut built = Built::default();
    let mut seen = std::collections::HashSet::new();
    for a in artifacts {
        if a.target.kind.contains(&TargetKind::CustomBuild) {
            continue;
        }
        if a.target.name == "tokio" {
            built.tokio_debug_assertions = Some(a.profile.debug_assertions);
        }
        if a.fresh {
            built.fresh += 1;
        } else {
            built.compiled += 1;
        }
        let crate_name = a.target.name.replace('-', "_");
        let files: Vec<PathBuf> = a
            .filenames
            .iter()
            .map(|f| f.clone().into_std_path_buf())
            .collect();
        let Some((key, c)) = find(&all, &crate_name, &files) else {
            built.missing.push(crate_name);
            continue;
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        let path = store.join(format!("{key}.types"));
        let text =
            std::fs::read_to_string(&path).map_err(io(format!("read {}", path.display())))?;
        used(store, key);
        let root = c.cwd.join(&c.src_path);
        built
            .sources
            .crates
            .push((c.crate_name.clone(), root, c.cwd.clone()));
        built.reports.push(CrateReport {
            crate_name: c.crate_name.clone(),
            src_path: c.src_path.clone(),
            cwd: c.cwd.clone(),
            text,
        });
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(dir: &Path, name: &str, extra: &str) -> (String, Capture) {
        let c = Capture {
            crate_name: name.into(),
            src_path: "src/main.rs".into(),
            cwd: dir.into(),
            out_dir: dir.join("deps"),
            extra_filename: extra.into(),
            metadata: "m".into(),
        };
        (c.key(), c)
    }

    /// Real files: a library by the hash in its name, a binary by the hard link cargo
    /// uplifts; another build's capture of the same crate is not taken.
    #[test]
    fn each_unit_finds_its_own_capture_and_no_other() {
        let dir = std::env::temp_dir().join(format!("asyncmem-find-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("deps")).unwrap();
        let old = capture(&dir, "server", "-0ld");
        let new = capture(&dir, "server", "-aaa");
        let lib = capture(&dir, "netlib", "-bbb");
        std::fs::write(dir.join("deps/server-0ld"), b"old build").unwrap();
        std::fs::write(dir.join("deps/server-aaa"), b"new build").unwrap();
        std::fs::hard_link(dir.join("deps/server-aaa"), dir.join("server")).unwrap();
        let all = vec![old, new.clone(), lib.clone()];
        let found = find(&all, "server", &[dir.join("server")]).unwrap();
        assert_eq!(found.0, new.0);
        let rlib = dir.join("deps/libnetlib-bbb.rlib");
        assert_eq!(find(&all, "netlib", &[rlib]).unwrap().0, lib.0);
        // A binary copied rather than linked: equal bytes.
        std::fs::remove_file(dir.join("server")).unwrap();
        std::fs::write(dir.join("server"), b"new build").unwrap();
        assert_eq!(
            find(&all, "server", &[dir.join("server")]).unwrap().0,
            new.0
        );
        // An output no capture made.
        std::fs::write(dir.join("server"), b"built without the wrapper").unwrap();
        assert!(find(&all, "server", &[dir.join("server")]).is_none());
        let other = dir.join("deps/libnetlib-ccc.rlib");
        assert!(find(&all, "netlib", &[other]).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A capture read by a build is kept; one unread for longer than [`STALE_AFTER`] goes,
    /// both of its files; temporary files go at once.
    #[test]
    fn stale_captures_are_removed_and_read_ones_kept() {
        let dir = std::env::temp_dir().join(format!("asyncmem-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for key in ["old-1", "read-2", "new-3"] {
            std::fs::write(dir.join(format!("{key}.json")), b"{}").unwrap();
            std::fs::write(dir.join(format!("{key}.types")), b"").unwrap();
        }
        std::fs::write(dir.join(".tmp-x"), b"").unwrap();
        let long_ago = std::time::SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        for key in ["old-1", "read-2"] {
            let f = std::fs::File::options()
                .append(true)
                .open(dir.join(format!("{key}.json")))
                .unwrap();
            f.set_modified(long_ago).unwrap();
        }
        used(&dir, "read-2");
        clean(&dir);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["new-3.json", "new-3.types", "read-2.json", "read-2.types"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
