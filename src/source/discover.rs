//! From a pid to its console endpoint candidates, and from an endpoint back to its pid.
//!
//! A process's listening sockets are its socket inodes (`/proc/PID/fd/*` -> `socket:[N]`)
//! matched against the LISTEN rows of `/proc/PID/net/{tcp,tcp6,unix}` (per network namespace,
//! hence the inode match). `TOKIO_CONSOLE_BIND` in the target's environment orders the guesses.

use std::collections::HashSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

use procfs::net::{TcpState, UnixState};
use procfs::process::{FDTarget, Process};
use procfs::ProcError;

use super::Endpoint;
use crate::error::AttachError;

/// The default console port, tried first after any `TOKIO_CONSOLE_BIND` hint.
pub const DEFAULT_PORT: u16 = 6669;

fn proc_error(pid: i32, e: ProcError, what: &str) -> AttachError {
    match e {
        ProcError::NotFound(_) => AttachError::NoSuchProcess(pid),
        ProcError::PermissionDenied(path) => AttachError::PermissionDenied {
            pid,
            path: path.map_or_else(
                || format!("/proc/{pid}/{what}"),
                |p| p.display().to_string(),
            ),
        },
        other => AttachError::Unreachable {
            endpoint: format!("/proc/{pid}/{what}"),
            detail: other.to_string(),
        },
    }
}

/// Socket inodes held open by a process.
fn socket_inodes(process: &Process) -> Result<HashSet<u64>, AttachError> {
    let pid = process.pid;
    let fds = process.fd().map_err(|e| proc_error(pid, e, "fd"))?;
    let mut inodes = HashSet::new();
    for fd in fds {
        match fd {
            Ok(info) => {
                if let FDTarget::Socket(inode) = info.target {
                    inodes.insert(inode);
                }
            }
            // An fd closed while we list them: skip it.
            Err(ProcError::NotFound(_)) => {}
            Err(e) => return Err(proc_error(pid, e, "fd")),
        }
    }
    Ok(inodes)
}

/// The port named by `TOKIO_CONSOLE_BIND` in the target's environment, if readable.
fn bind_hint(process: &Process) -> Option<String> {
    let env = process.environ().ok()?;
    env.get(std::ffi::OsStr::new("TOKIO_CONSOLE_BIND"))
        .map(|v| v.to_string_lossy().into_owned())
}

/// Why `pid` cannot answer a console client, read from `/proc/PID/stat` (and `status`): a
/// stopped or traced process ([`AttachError::Stopped`]), a zombie or a dead one
/// ([`AttachError::TargetExited`]). `None` when it runs or sleeps (or cannot be read).
pub fn cannot_answer(pid: i32) -> Option<AttachError> {
    let process = Process::new(pid).ok()?;
    let state = process.stat().ok()?.state;
    match state {
        'T' => Some(AttachError::Stopped {
            pid,
            state: "stopped (state T: SIGSTOP or a job-control stop)".into(),
            hint: format!("; resume it with `kill -CONT {pid}`"),
        }),
        't' => {
            let tracer = process.status().ok().map(|s| s.tracerpid).unwrap_or(0);
            let by = if tracer > 0 {
                format!(" {tracer}")
            } else {
                String::new()
            };
            Some(AttachError::Stopped {
                pid,
                state: format!("stopped by a debugger (state t: traced by process{by})"),
                hint: "; let the debugger continue it or detach".into(),
            })
        }
        'Z' | 'X' | 'x' => Some(AttachError::TargetExited(pid)),
        _ => None,
    }
}

/// A thread id given for a pid: the process it belongs to (`Tgid` in `/proc/TID/status`).
fn thread_of(process: &Process) -> Option<i32> {
    let tgid = process.status().ok()?.tgid;
    (tgid != process.pid && tgid > 0).then_some(tgid)
}

/// Every endpoint `pid` listens on, most likely console endpoint first.
pub fn candidates(pid: i32) -> Result<Vec<Endpoint>, AttachError> {
    if pid <= 0 {
        return Err(AttachError::NoSuchProcess(pid));
    }
    let process = Process::new(pid).map_err(|e| proc_error(pid, e, ""))?;
    if let Some(tgid) = thread_of(&process) {
        return Err(AttachError::Thread {
            tid: pid,
            pid: tgid,
        });
    }
    if !super::alive(pid) {
        return Err(AttachError::TargetExited(pid));
    }
    if let Some(e) = cannot_answer(pid) {
        return Err(e);
    }
    let inodes = socket_inodes(&process)?;
    let mut found: Vec<Endpoint> = Vec::new();
    let tcp = process.tcp().map_err(|e| proc_error(pid, e, "net/tcp"))?;
    let tcp6 = process.tcp6().unwrap_or_default();
    for entry in tcp.iter().chain(tcp6.iter()) {
        if entry.state == TcpState::Listen && inodes.contains(&entry.inode) {
            let ep = Endpoint::from_listen(entry.local_address);
            if !found.contains(&ep) {
                found.push(ep);
            }
        }
    }
    for entry in process.unix().unwrap_or_default() {
        if let (Some(path), true) = (&entry.path, inodes.contains(&entry.inode)) {
            // Listening Unix sockets are unconnected stream sockets with a path.
            if entry.state == UnixState::UNCONNECTED && entry.socket_type == 1 {
                let ep = Endpoint::Unix(path.clone());
                if !found.contains(&ep) {
                    found.push(ep);
                }
            }
        }
    }
    let hint_port = bind_hint(&process)
        .and_then(|h| h.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()))
        .unwrap_or(DEFAULT_PORT);
    // Stable sort: the hinted port, then the default port, then TCP, then Unix sockets.
    found.sort_by_key(|ep| match ep.port() {
        Some(p) if p == hint_port => 0,
        Some(DEFAULT_PORT) => 1,
        Some(_) => 2,
        None => 3,
    });
    Ok(found)
}

/// The pid listening at `endpoint`, when it is a local socket this user can see.
pub fn pid_of(endpoint: &Endpoint) -> Option<i32> {
    let inodes: HashSet<u64> = match endpoint {
        Endpoint::Tcp { host, port } => {
            let ips: Vec<IpAddr> = (host.as_str(), *port)
                .to_socket_addrs()
                .ok()?
                .map(|a| a.ip())
                .collect();
            let tcp = procfs::net::tcp().unwrap_or_default();
            let tcp6 = procfs::net::tcp6().unwrap_or_default();
            tcp.iter()
                .chain(tcp6.iter())
                .filter(|e| e.state == TcpState::Listen && e.local_address.port() == *port)
                .filter(|e| {
                    let ip = e.local_address.ip();
                    ip.is_unspecified() || ips.contains(&ip)
                })
                .map(|e| e.inode)
                .collect()
        }
        Endpoint::Unix(path) => procfs::net::unix()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.path.as_deref() == Some(Path::new(path)))
            .map(|e| e.inode)
            .collect(),
    };
    if inodes.is_empty() {
        return None;
    }
    let me = std::process::id() as i32;
    for process in procfs::process::all_processes().ok()?.flatten() {
        if process.pid == me {
            continue;
        }
        let Ok(fds) = process.fd() else { continue };
        for fd in fds.flatten() {
            if matches!(fd.target, FDTarget::Socket(inode) if inodes.contains(&inode)) {
                return Some(process.pid);
            }
        }
    }
    None
}
