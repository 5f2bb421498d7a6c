//! A real terminal for end-to-end tests (feature `pty`): a program in a fresh pseudo-terminal
//! (portable-pty), its output read back through a vt100 parser, the raw bytes kept as well.
//! Each suite wraps [`Pty`] with its own program, environment and failure messages.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use portable_pty::CommandBuilder;
use portable_pty::{native_pty_system, Child, MasterPty, PtySize};

/// The terminal's size: 40 rows of 120 columns.
pub const ROWS: u16 = 40;
pub const COLS: u16 = 120;

/// A program running in a pseudo-terminal of [`ROWS`] x [`COLS`]; killed on drop.
pub struct Pty {
    /// The program, as failures name it.
    program: String,
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    master: Box<dyn MasterPty + Send>,
}

impl Pty {
    /// `cmd` (with `TERM=xterm-256color`) in a fresh pty; a thread feeds what it writes to the
    /// screen and to the raw bytes.
    pub fn spawn(mut cmd: CommandBuilder) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pty");
        let program = cmd
            .get_argv()
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        cmd.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(cmd).expect("spawning in the pty");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            ROWS.try_into().expect("rows"),
            COLS.try_into().expect("cols"),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (feed, keep) = (screen.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut p) = feed.lock() {
                    p.process(&buf[..n]);
                }
                if let Ok(mut r) = keep.lock() {
                    r.extend_from_slice(&buf[..n]);
                }
            }
        });
        Pty {
            program,
            child,
            writer,
            screen,
            raw,
            master: pair.master,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().expect("a pid") as i32
    }

    /// The screen's text, row by row.
    pub fn text(&self) -> String {
        self.screen.lock().expect("screen").screen().contents()
    }

    /// Every byte the program wrote so far.
    pub fn raw(&self) -> Vec<u8> {
        self.raw.lock().expect("raw").clone()
    }

    /// The pty's device, as `stty -F` takes it.
    pub fn tty_name(&self) -> Option<PathBuf> {
        self.master.tty_name()
    }

    /// Wait until `pred` holds for the screen, or fail with the screen shown.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let text = self.text();
            if pred(&text) {
                return;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; screen:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Type `keys`, then give the program a moment to draw.
    pub fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("typing");
        self.writer.flush().expect("typing");
        std::thread::sleep(Duration::from_millis(150));
    }

    /// The exit code, or None if it is still running after `timeout`.
    pub fn exit_within(&mut self, timeout: Duration) -> Option<u32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting") {
                return Some(status.exit_code());
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit code within `timeout`; else the program is killed and the test fails, the
    /// screen shown.
    pub fn wait_exit(&mut self, timeout: Duration) -> u32 {
        match self.exit_within(timeout) {
            Some(code) => code,
            None => {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit within {timeout:?}; screen:\n{}",
                    self.program,
                    self.text()
                );
            }
        }
    }

    /// Whether `cond` holds within 3 s, tried every 50 ms: the reader thread may still be
    /// parsing the last bytes the program wrote.
    pub fn soon(&self, cond: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        loop {
            if cond() {
                return true;
            }
            if start.elapsed() > Duration::from_secs(3) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Main screen and cursor shown, as the terminal was before the program.
    pub fn screen_restored(&self) -> bool {
        let p = self.screen.lock().expect("screen");
        !p.screen().alternate_screen() && !p.screen().hide_cursor()
    }

    /// Whether the screen is restored (see [`Pty::screen_restored`]) within 3 s.
    pub fn restored(&self) -> bool {
        self.soon(|| self.screen_restored())
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
