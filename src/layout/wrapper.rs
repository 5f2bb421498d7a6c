//! asyncmem as cargo's `RUSTC_WRAPPER` (the `layout` build): cargo runs
//! `asyncmem RUSTC ARGS..` with [`DIR_VAR`] set, and `main` hands over to [`run`] before the
//! command line is parsed. A real compilation (a crate of the build) is run with
//! `-Zprint-type-sizes` added (and `RUSTC_BOOTSTRAP=1` for that rustc only); its stdout, the
//! report, goes to `<store>/<crate>-<hash>.types` beside a [`Capture`] sidecar. Everything else
//! (`-vV`, `--print`, probes on stdin, build-script probes without cargo's `-C metadata`) runs
//! as it is, stdout included: cargo parses those. Nothing runs but the rustc cargo gave; the
//! project's flags are cargo's arguments, kept as they are.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use serde::{Deserialize, Serialize};

/// Set (to the capture store) for cargo by `asyncmem layout`: asyncmem is then the wrapper.
pub const DIR_VAR: &str = "ASYNCMEM_LAYOUT_DIR";

/// Written in the store by a wrapper whose rustc refused the report (its error line).
pub const REFUSED_FILE: &str = "refused";

/// What rustc says when it refuses `-Z` options (stable without `RUSTC_BOOTSTRAP`), or no
/// longer knows the option.
const REFUSALS: &[&str] = &[
    "only accepted on the nightly compiler",
    "unknown unstable option: `print-type-sizes`",
];

/// The sidecar of one crate's report: what the reader needs to find the sources, and to tell
/// which unit of a later build it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// `--crate-name`.
    pub crate_name: String,
    /// The root source file as rustc got it (relative to `cwd`, or absolute).
    pub src_path: PathBuf,
    /// The directory rustc ran in.
    pub cwd: PathBuf,
    /// `--out-dir`.
    pub out_dir: PathBuf,
    /// `-C extra-filename` (`-` and the hash cargo puts in the output's file name), or empty.
    pub extra_filename: String,
    /// `-C metadata`.
    pub metadata: String,
}

impl Capture {
    /// The file name (without extension) both files of this capture have in the store.
    pub fn key(&self) -> String {
        let hash = self.extra_filename.trim_start_matches('-');
        if hash.is_empty() {
            format!("{}-m{}", self.crate_name, self.metadata)
        } else {
            format!("{}-{hash}", self.crate_name)
        }
    }
}

/// Flags of rustc that take their value as the next argument.
const TAKES_VALUE: &[&str] = &[
    "--crate-name",
    "--crate-type",
    "--cfg",
    "--check-cfg",
    "-L",
    "-l",
    "--extern",
    "--out-dir",
    "-o",
    "--cap-lints",
    "--target",
    "--edition",
    "--emit",
    "--error-format",
    "--json",
    "--remap-path-prefix",
    "--sysroot",
    "--explain",
    "-C",
    "-Z",
    "-A",
    "-W",
    "-D",
    "-F",
    "--force-warn",
];

/// The capture of `args` when they are a real compilation of a unit cargo builds: a crate
/// name, cargo's `-C metadata`, a source file, and no `--print`/`-`/`-V` (whose stdout cargo
/// reads).
pub fn real_compilation(args: &[OsString], cwd: &Path) -> Option<Capture> {
    // `@FILE` (cargo's argfile for long command lines): its lines are arguments.
    let mut expanded = Vec::new();
    for a in args {
        let a = a.to_str()?;
        match a.strip_prefix('@') {
            Some(file) => {
                let text = std::fs::read_to_string(cwd.join(file)).ok()?;
                expanded.extend(text.lines().map(str::to_string));
            }
            None => expanded.push(a.to_string()),
        }
    }
    let args: Vec<&str> = expanded.iter().map(String::as_str).collect();
    let mut crate_name = None;
    let mut src = None;
    let mut out_dir = None;
    let mut extra = String::new();
    let mut metadata = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        let next = args.get(i + 1).copied();
        if a == "-" || a.starts_with("--print") || matches!(a, "-V" | "-vV" | "--version") {
            return None;
        }
        let codegen = match a {
            "-C" => next,
            _ => a.strip_prefix("-C").filter(|s| !s.is_empty()),
        };
        if let Some(c) = codegen {
            if let Some(m) = c.strip_prefix("metadata=") {
                metadata = Some(m.to_string());
            } else if let Some(e) = c.strip_prefix("extra-filename=") {
                extra = e.to_string();
            }
        }
        match a {
            "--crate-name" => crate_name = next,
            "--out-dir" => out_dir = next,
            _ => {
                if let Some(d) = a.strip_prefix("--out-dir=") {
                    out_dir = Some(d);
                } else if let Some(n) = a.strip_prefix("--crate-name=") {
                    crate_name = Some(n);
                } else if !a.starts_with('-') && a.ends_with(".rs") && src.is_none() {
                    src = Some(a);
                }
            }
        }
        i += if TAKES_VALUE.contains(&a) { 2 } else { 1 };
    }
    Some(Capture {
        crate_name: crate_name?.to_string(),
        src_path: PathBuf::from(src?),
        cwd: cwd.to_path_buf(),
        out_dir: PathBuf::from(out_dir?),
        extra_filename: extra,
        metadata: metadata?,
    })
}

/// The wrapper: `asyncmem RUSTC ARGS..` with [`DIR_VAR`] = `store`. Exits with rustc's code.
pub fn run(store: PathBuf) -> ExitCode {
    let mut argv = std::env::args_os().skip(1);
    let Some(rustc) = argv.next() else {
        return fail(format_args!(
            "{DIR_VAR} is set, so asyncmem runs as `asyncmem layout`'s RUSTC_WRAPPER, which needs the rustc to run as its first argument (unset {DIR_VAR} to use asyncmem itself)"
        ));
    };
    let args: Vec<OsString> = argv.collect();
    let cwd = std::env::current_dir().unwrap_or_default();
    let Some(capture) = real_compilation(&args, &cwd) else {
        return passthrough(&rustc, &args);
    };
    match compile(&rustc, &args, &store, &capture) {
        Ok(code) => code,
        Err(e) => fail(format_args!(
            "capturing the type-size report of {} in {}: {e}",
            capture.crate_name,
            store.display()
        )),
    }
}

fn fail(message: std::fmt::Arguments<'_>) -> ExitCode {
    let _ = writeln!(
        std::io::stderr(),
        "asyncmem (RUSTC_WRAPPER): error: {message}"
    );
    ExitCode::FAILURE
}

/// rustc with cargo's arguments, stdio as they are.
fn passthrough(rustc: &OsStr, args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let e = Command::new(rustc).args(args).exec();
    fail(format_args!(
        "cannot run {}: {e}",
        Path::new(rustc).display()
    ))
}

/// A diagnostic's message: the line itself, or its `message` when rustc speaks JSON.
fn said(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| line.trim().trim_start_matches("error: ").to_string())
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// One real compilation with the report: stdout into a temporary file of the store, renamed to
/// its key once rustc succeeded (the sidecar last: a capture is there when its sidecar is).
fn compile(
    rustc: &OsStr,
    args: &[OsString],
    store: &Path,
    capture: &Capture,
) -> std::io::Result<ExitCode> {
    let key = capture.key();
    let tmp = store.join(format!(".tmp-{}-{key}", std::process::id()));
    let out = std::fs::File::create(&tmp)?;
    let spawned = Command::new(rustc)
        .args(args)
        .arg("-Zprint-type-sizes")
        .env("RUSTC_BOOTSTRAP", "1")
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot run {}: {e}", Path::new(rustc).display()),
            ));
        }
    };
    // stderr byte for byte (cargo parses rustc's JSON diagnostics there), watched for a refusal.
    let mut refused = None;
    if let Some(err) = child.stderr.take() {
        let mut reader = BufReader::new(err);
        let mut line = Vec::new();
        let mut to = std::io::stderr().lock();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            let _ = to.write_all(&line);
            let _ = to.flush();
            if refused.is_none() {
                let text = String::from_utf8_lossy(&line);
                if REFUSALS.iter().any(|r| text.contains(r)) {
                    refused = Some(said(&text));
                }
            }
            line.clear();
        }
    }
    let status = child.wait()?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        if let Some(line) = refused {
            std::fs::write(store.join(REFUSED_FILE), line)?;
        }
        return Ok(exit_code(status));
    }
    std::fs::rename(&tmp, store.join(format!("{key}.types")))?;
    let side_tmp = store.join(format!(".tmp-{}-{key}.json", std::process::id()));
    std::fs::write(&side_tmp, serde_json::to_vec(capture)?)?;
    std::fs::rename(&side_tmp, store.join(format!("{key}.json")))?;
    Ok(exit_code(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    /// A unit as cargo 1.95 runs it (`cargo build -v`), and what it is not.
    #[test]
    fn only_cargos_units_are_real_compilations() {
        let cwd = Path::new("/ws");
        let unit = args(
            "--crate-name server --edition=2021 server/src/main.rs --error-format=json \
             --crate-type bin --emit=dep-info,link -C embed-bitcode=no \
             --check-cfg cfg(docsrs,test) -C metadata=fbc1ad7d30b1560f \
             -C extra-filename=-b385d61a27ae6829 --out-dir /t/debug/deps \
             -L dependency=/t/debug/deps --extern netlib=/t/debug/deps/libnetlib-82.rlib \
             --cfg tokio_unstable",
        );
        let c = real_compilation(&unit, cwd).expect("a unit");
        assert_eq!(c.crate_name, "server");
        assert_eq!(c.src_path, Path::new("server/src/main.rs"));
        assert_eq!(c.out_dir, Path::new("/t/debug/deps"));
        assert_eq!(c.metadata, "fbc1ad7d30b1560f");
        assert_eq!(c.key(), "server-b385d61a27ae6829");
        assert!(real_compilation(&args("-vV"), cwd).is_none());
        assert!(real_compilation(
            &args("- --crate-name ___ --print=file-names --crate-type bin"),
            cwd
        )
        .is_none());
        // A build script's probe: no metadata of cargo's.
        assert!(real_compilation(
            &args("--crate-name probe probe.rs --out-dir /t/out --emit=metadata"),
            cwd
        )
        .is_none());
        let dir = std::env::temp_dir().join(format!("asyncmem-argfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("args"),
            "--crate-name\nb\nb.rs\n-C\nmetadata=9\n--out-dir\n/o\n",
        )
        .unwrap();
        let from_file = real_compilation(&args("@args"), &dir).map(|c| c.key());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(from_file, Some("b-m9".into()));
        let no_extra = args("--crate-name a a.rs -Cmetadata=12 --out-dir=/o");
        assert_eq!(
            real_compilation(&no_extra, cwd).map(|c| c.key()),
            Some("a-m12".into())
        );
    }
}
