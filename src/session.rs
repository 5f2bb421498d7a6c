//! Wiring: resolve the target, attach, and start the sources that feed a model.

use tokio::sync::mpsc;

use crate::cli::{ConnectArgs, TargetArgs};
use crate::demo::Demo;
use crate::error::AttachError;
use crate::model::{time, Event};
use crate::output::TargetInfo;
use crate::recording::{self, Recorder, Writer};
use crate::source::console::{self, Follow};
use crate::source::{discover, rss, Endpoint, CHANNEL_CAPACITY};

pub struct Session {
    pub target: TargetInfo,
    pub events: mpsc::Receiver<Event>,
    /// Requests to the console connection (details, pause, resume).
    pub control: mpsc::Sender<console::Control>,
    /// A demo child started by `--demo`, stopped when the session is dropped.
    pub demo: Option<Demo>,
}

/// RSS only, while the process has no console endpoint; every 2 s asyncmem looks again, so a
/// process that opens its endpoint late (or is still starting) is picked up. A demo's
/// `tasks=N` lines become [`Event::TasksReported`].
fn rss_only_session(pid: i32, connect: &ConnectArgs, demo: Option<Demo>) -> Session {
    let (tx, events) = mpsc::channel(CHANNEL_CAPACITY);
    let _ = tx.try_send(Event::NoConsole);
    if let Some(mut reported) = demo.as_ref().map(Demo::reported) {
        let tx = tx.clone();
        tokio::spawn(async move {
            while reported.changed().await.is_ok() {
                let Some(r) = *reported.borrow_and_update() else {
                    continue;
                };
                let event = Event::TasksReported {
                    tasks: r.tasks,
                    baseline_rss_bytes: r.baseline_rss_bytes,
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
    }
    tokio::spawn(rss::run(pid, connect.rss_interval, tx.clone()));
    let (control, control_rx) = mpsc::channel(16);
    let cfg = connect.console();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            if tx.is_closed() || !crate::source::alive(pid) {
                return;
            }
            if let Ok(attached) = console::attach_pid(pid, &cfg).await {
                let _ = tx
                    .send(Event::Endpoint(attached.endpoint.to_string()))
                    .await;
                console::run(attached, Some(pid), cfg, Follow::Pid, tx, control_rx).await;
                return;
            }
        }
    });
    Session {
        target: TargetInfo {
            pid: Some(pid),
            endpoint: "no console endpoint".into(),
        },
        events,
        control,
        demo,
    }
}

/// Attach to the target named on the command line and start its sources.
pub async fn start(
    target: &TargetArgs,
    connect: &ConnectArgs,
    demo_args: &[String],
) -> Result<Session, AttachError> {
    start_with(target, connect, demo_args, false).await
}

/// Like [`start`], for a watcher that stays (`top`) when `watching`: a `--pid` without a
/// console endpoint is still watched, its RSS alone (any process, any language); an `--addr`
/// target that exits is waited for at its address, and a process there again is attached
/// (a new pid resets the picture). Otherwise the target's exit ends the session.
pub async fn start_with(
    target: &TargetArgs,
    connect: &ConnectArgs,
    demo_args: &[String],
    watching: bool,
) -> Result<Session, AttachError> {
    let cfg = connect.console();
    let mut demo = None;
    let mut follow = Follow::Pid;
    let (attached, pid) = match (target.pid, &target.addr, &target.demo) {
        (Some(pid), _, _) => match console::attach_pid(pid, &cfg).await {
            Ok(attached) => (attached, Some(pid)),
            Err(AttachError::NoConsole { .. }) if watching => {
                return Ok(rss_only_session(pid, connect, None))
            }
            Err(e) => return Err(e),
        },
        (None, Some(addr), _) => {
            let endpoint = Endpoint::parse(addr)?;
            let attached = console::attach_addr(&endpoint, &cfg).await?;
            if watching {
                follow = Follow::Address {
                    rss_interval: connect.rss_interval,
                };
            }
            (attached, discover::pid_of(&endpoint))
        }
        (None, None, Some(name)) => {
            let started = Demo::start(name, demo_args)?;
            let pid = started.pid();
            if !started.has_console() && watching {
                // `--instrument none`, or a Python demo: its RSS alone, stopped on quit.
                return Ok(rss_only_session(pid, connect, Some(started)));
            }
            let attached = started.attach(&cfg).await;
            demo = Some(started);
            (attached?, Some(pid))
        }
        (None, None, None) => {
            return Err(AttachError::BadAddress {
                addr: String::new(),
                detail: "no target: give --pid, --addr or --demo".into(),
            })
        }
    };
    let info = TargetInfo {
        pid,
        endpoint: attached.endpoint.to_string(),
    };
    let (tx, events) = mpsc::channel(CHANNEL_CAPACITY);
    if let (Some(pid), Follow::Pid) = (pid, follow) {
        // With Follow::Address the console connection samples whichever process is there.
        tokio::spawn(rss::run(pid, connect.rss_interval, tx.clone()));
    }
    let (control, control_rx) = mpsc::channel(16);
    tokio::spawn(console::run(attached, pid, cfg, follow, tx, control_rx));
    Ok(Session {
        target: info,
        events,
        control,
        demo,
    })
}

impl Session {
    /// Record from now on: a recorder goes between the sources and `events`. An existing file
    /// is kept (an error) unless `overwrite`.
    pub fn record(&mut self, path: &std::path::Path, overwrite: bool) -> std::io::Result<Recorder> {
        let header = recording::Header {
            asyncmem: env!("CARGO_PKG_VERSION").into(),
            started_at: time::now(),
            pid: self.target.pid,
            endpoint: self.target.endpoint.clone(),
        };
        let writer = Writer::create(path, &header, overwrite)?;
        let events = std::mem::replace(&mut self.events, mpsc::channel(1).1);
        let (events, recorder) = Recorder::tee(events, writer);
        self.events = events;
        Ok(recorder)
    }

    /// Close a recording: every event received so far, then the end marker. Call it before
    /// the session ends: stopping a `--demo` target must not be recorded as the target exiting.
    /// Returns the frames and bytes written.
    pub async fn stop_recording(&mut self, recorder: Recorder) -> std::io::Result<(u64, u64)> {
        drop(std::mem::replace(&mut self.events, mpsc::channel(1).1));
        recorder.finish().await
    }
}
