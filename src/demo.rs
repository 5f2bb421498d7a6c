//! `--demo`: start a bundled demo workload as a child process, attach to it, stop it on exit.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::AttachError;
use crate::source::console::{self, Attached, ConsoleConfig};
use crate::source::{alive, Endpoint};

pub const DEMOS: &[&str] = &["sleepers", "fat-vs-slim", "spike", "leak", "busy"];

/// A running demo child; killed and reaped on drop.
pub struct Demo {
    child: Child,
    endpoint: Endpoint,
}

/// The demo binaries are built next to asyncmem (same cargo target directory).
fn demo_path(name: &str) -> Result<PathBuf, AttachError> {
    if !DEMOS.contains(&name) {
        return Err(AttachError::UnknownDemo {
            name: name.to_string(),
            list: DEMOS.join(", "),
        });
    }
    let exe = std::env::current_exe().map_err(|e| AttachError::Unreachable {
        endpoint: name.to_string(),
        detail: e.to_string(),
    })?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        return Err(AttachError::Unreachable {
            endpoint: path.display().to_string(),
            detail: "demo not built: run `cargo build --release --workspace` first".into(),
        });
    }
    Ok(path)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Demo {
    pub fn start(name: &str, args: &[String]) -> Result<Demo, AttachError> {
        let path = demo_path(name)?;
        let fail = |detail: String| AttachError::Unreachable {
            endpoint: path.display().to_string(),
            detail,
        };
        let port = free_port().map_err(|e| fail(e.to_string()))?;
        let bind = format!("127.0.0.1:{port}");
        let mut child = Command::new(&path)
            .args(["--console-bind", &bind])
            .args(args)
            // Absorb task events ten times faster than the default 1 s tick.
            .env("TOKIO_CONSOLE_PUBLISH_INTERVAL", "100ms")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        // The demo prints `pid=... console=...` once its endpoint is set up.
        if let Some(stdout) = child.stdout.take() {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        Ok(Demo {
            child,
            endpoint: Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Attach once the demo's server is up (it binds shortly after start).
    pub async fn attach(&self, cfg: &ConsoleConfig) -> Result<Attached, AttachError> {
        let deadline = Instant::now() + cfg.connect_timeout;
        loop {
            match console::attach(&self.endpoint, cfg).await {
                Ok(a) => return Ok(a),
                Err(e) => {
                    if !alive(self.pid()) {
                        return Err(AttachError::TargetExited(self.pid()));
                    }
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
