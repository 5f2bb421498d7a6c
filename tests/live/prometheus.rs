//! `asyncmem export` against a real demo, read directly over HTTP and through a real Prometheus
//! server (the Debian package `prometheus`, installed by `.ci/run`) scraping it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::cli::*;
use crate::common::*;
use serde_json::Value;

/// Sleepers holding 4096 bytes each (the demo adds four named tasks and its main task).
const N: u64 = 200;
const HOLD: u64 = 4096;

/// One HTTP/1.0 exchange (the server closes the connection, so the body ends at EOF).
struct Reply {
    status: u16,
    headers: String,
    body: String,
}

fn http_get(addr: &str, path: &str) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok(Reply {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_string(),
    })
}

/// Series as written (`name{labels}`) -> value.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series value");
            let v = value.parse().unwrap_or_else(|_| panic!("bad value: {l}"));
            (series.to_string(), v)
        })
        .collect()
}

fn get(m: &HashMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("no series {series} in {m:#?}"))
}

/// Poll `f` every 200 ms until it gives a value, or panic with `what` after `limit`.
fn wait_for<T>(limit: Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_or(limit, || what.to_string(), f)
}

/// [`wait_for`], with the panic message made when it times out.
fn wait_or<T>(limit: Duration, what: impl Fn() -> String, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?}: {}",
            what()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A running `asyncmem export`, killed on drop; its stderr goes to a file, for the messages.
struct Exporter {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Exporter {
    fn start(target: &str, listen: &str, extra: &[&str]) -> Exporter {
        let port = listen.rsplit_once(':').unwrap().1;
        let log =
            std::env::temp_dir().join(format!("asyncmem-export-{}-{port}.log", std::process::id()));
        let child = asyncmem()
            .args(["export", "--addr", target, "--listen", listen])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("starting asyncmem export");
        Exporter {
            child,
            addr: format!("127.0.0.1:{port}"),
            log,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn metrics(&self) -> Option<HashMap<String, f64>> {
        let r = http_get(&self.addr, "/metrics").ok()?;
        (r.status == 200).then(|| parse_metrics(&r.body))
    }

    /// Wait until the whole sleepers picture is in (every sleeper announced, RSS read).
    fn settled(&self) -> HashMap<String, f64> {
        let what = || format!("the demo's tasks in /metrics; stderr: {}", self.stderr());
        wait_or(Duration::from_secs(60), what, || {
            let m = self.metrics()?;
            let idle = *m.get("asyncmem_tasks{state=\"idle\"}")?;
            (idle >= (N + 4) as f64 && m.contains_key("asyncmem_target_resident_memory_bytes"))
                .then_some(m)
        })
    }

    fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, String) {
        let log = self.log.clone();
        let what = || {
            let err = std::fs::read_to_string(&log).unwrap_or_default();
            format!("asyncmem export to exit; stderr: {err}")
        };
        let child = &mut self.child;
        let status = wait_or(limit, what, || child.try_wait().expect("try_wait"));
        (status, self.stderr())
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The Prometheus server binary; the test fails (never skips) without it.
fn prometheus_bin() -> PathBuf {
    let candidates = std::env::var_os("PROMETHEUS")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::var_os("PATH").into_iter().flat_map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("prometheus"))
                .collect::<Vec<_>>()
        }))
        .chain([PathBuf::from("/usr/bin/prometheus")]);
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "the prometheus server binary is missing: install it with `apt-get install prometheus` \
         (.ci/run does), or set PROMETHEUS=/path/to/prometheus"
    );
}

/// A real Prometheus server scraping `targets` every second, in a scratch directory; killed and
/// cleaned up on drop.
struct Prometheus {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Prometheus {
    fn start(bin: &std::path::Path, target: &str) -> Prometheus {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("asyncmem-prometheus-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).expect("scratch directory");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: asyncmem\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("writing prometheus.yml");
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("starting prometheus");
        Prometheus { child, addr, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query through the HTTP API: the `data.result` vector.
    fn query(&self, promql: &str) -> Option<Vec<Value>> {
        let r = http_get(
            &self.addr,
            &format!("/api/v1/query?query={}", encode(promql)),
        )
        .ok()?;
        if r.status != 200 {
            return None;
        }
        let json: Value = serde_json::from_str(&r.body).ok()?;
        assert_eq!(json["status"], "success", "{promql}: {json}");
        json["data"]["result"].as_array().cloned()
    }

    /// The value of a query with exactly one series.
    fn value(&self, promql: &str) -> f64 {
        let result = self.query(promql).expect("query answered");
        assert_eq!(result.len(), 1, "{promql}: {result:?}");
        value_of(&result[0])
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn value_of(series: &Value) -> f64 {
    series["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no value in {series}"))
}

/// Percent-encoding for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// VmRSS of `pid` in bytes, read from /proc.
fn vm_rss(pid: i32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024.0
}

/// The label set of the location that holds the sleepers (the spawn site with the most tasks).
fn holders_series(m: &HashMap<String, f64>) -> (String, f64) {
    m.iter()
        .filter(|(s, _)| s.starts_with("asyncmem_location_tasks{"))
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(s, v)| (s.clone(), *v))
        .expect("a location")
}

#[test]
fn prometheus_scrapes_export_of_a_real_demo() {
    let bin = prometheus_bin();
    let target = start_demo("sleepers", &["-n", &N.to_string(), "-b", &HOLD.to_string()]);
    let listen = format!("127.0.0.1:{}", free_port());
    let mut exporter = Exporter::start(&target.addr(), &listen, &["--top-locations", "3"]);
    let m = exporter.settled();

    // Directly: the content type, and the figures against the demo and against `snapshot`.
    let reply = http_get(&exporter.addr, "/metrics").unwrap();
    assert!(
        reply
            .headers
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        reply.headers
    );
    for family in [
        "asyncmem_target_resident_memory_bytes",
        "asyncmem_tasks",
        "asyncmem_task_future_bytes",
        "asyncmem_location_tasks",
        "asyncmem_location_future_bytes",
        "asyncmem_subscriber_lag_seconds",
        "asyncmem_subscriber_dropped_events_total",
    ] {
        assert!(
            reply.body.contains(&format!("# TYPE {family} ")),
            "no TYPE for {family}"
        );
        assert!(
            reply.body.contains(&format!("# HELP {family} ")),
            "no HELP for {family}"
        );
    }
    let info = format!(
        "asyncmem_target_info{{pid=\"{}\",endpoint=\"{}\",instrumentation=\"console-subscriber\"}}",
        target.pid,
        target.addr()
    );
    assert_eq!(get(&m, &info), 1.0);
    assert_eq!(get(&m, "asyncmem_connected"), 1.0);
    let live: f64 = ["running", "scheduled", "idle"]
        .iter()
        .map(|s| get(&m, &format!("asyncmem_tasks{{state=\"{s}\"}}")))
        .sum();
    // Top 3 locations and "other": the demo has more spawn sites than that.
    let rows: Vec<(&String, &f64)> = m
        .iter()
        .filter(|(s, _)| s.starts_with("asyncmem_location_tasks{"))
        .collect();
    assert!(get(&m, "asyncmem_locations") > 3.0);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows.iter().map(|r| *r.1).sum::<f64>(), live);
    assert!(m.contains_key("asyncmem_location_tasks{location=\"other\"}"));
    let (holders, holder_tasks) = holders_series(&m);
    assert!(holders.contains("sleepers.rs"), "{holders}");
    assert!(holder_tasks >= N as f64, "{holders} {holder_tasks}");
    let holder_bytes = get(&m, &holders.replace("_tasks{", "_future_bytes{"));
    assert!(
        holder_bytes >= holder_tasks * HOLD as f64,
        "{holder_bytes} bytes for {holder_tasks} tasks of {HOLD} bytes"
    );
    // RSS is sampled every second and may still grow while the subscriber absorbs the tasks:
    // within 10 % of /proc's reading at the same time, once it has caught up.
    let close = |rss: f64| {
        let proc_rss = vm_rss(target.pid);
        ((rss - proc_rss).abs() <= proc_rss * 0.1).then_some(())
    };
    let what = || format!("exported RSS close to /proc's {}", vm_rss(target.pid));
    wait_or(Duration::from_secs(15), what, || {
        close(get(
            &exporter.metrics()?,
            "asyncmem_target_resident_memory_bytes",
        ))
    });

    // The same picture as `snapshot` sees (the demo is idle: nothing changes once settled).
    let out = asyncmem()
        .args(["snapshot", "--addr", &target.addr(), "--format", "json"])
        .args(["--settle", "1s", "--timeout", "30s"])
        .output()
        .unwrap();
    let snap = json_of(&out);
    let m = exporter.metrics().expect("a second scrape");
    assert_eq!(
        get(&m, "asyncmem_task_future_bytes"),
        snap["future_bytes"].as_f64().unwrap()
    );
    assert_eq!(
        get(&m, "asyncmem_sized_tasks"),
        snap["sized_tasks"].as_f64().unwrap()
    );
    assert_eq!(live, snap["live_tasks"].as_f64().unwrap());
    assert_eq!(
        get(&m, "asyncmem_task_explained_bytes"),
        snap["explained"]["explained_bytes"].as_f64().unwrap()
    );

    // Through a real Prometheus server scraping the exporter every second.
    let prom = Prometheus::start(&bin, &exporter.addr);
    wait_for(
        Duration::from_secs(90),
        "Prometheus to scrape the exporter",
        || {
            let up = prom.query("up{job=\"asyncmem\"}")?;
            let tasks = prom.query("asyncmem_task_future_bytes")?;
            (up.len() == 1 && value_of(&up[0]) == 1.0 && tasks.len() == 1).then_some(())
        },
    );
    let read_back = |q: &str| prom.value(q);
    assert_eq!(
        read_back("sum(asyncmem_tasks{state!=\"done\"})"),
        live,
        "{}",
        prom.log()
    );
    assert_eq!(
        read_back("asyncmem_task_future_bytes"),
        get(&m, "asyncmem_task_future_bytes")
    );
    assert_eq!(read_back("count(asyncmem_location_tasks)"), 4.0);
    assert_eq!(read_back("sum(asyncmem_location_tasks)"), live);
    assert_eq!(read_back("asyncmem_connected"), 1.0);
    // The unexplained part an alert watches: RSS less what the tasks explain.
    let unexplained =
        read_back("asyncmem_target_resident_memory_bytes - asyncmem_task_explained_bytes");
    assert!(
        unexplained > 0.0 && unexplained < read_back("asyncmem_target_resident_memory_bytes"),
        "{unexplained}"
    );
    // The README's alert on it is a query Prometheus accepts.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let alert = readme
        .lines()
        .find_map(|l| l.trim().strip_prefix("expr: deriv("))
        .map(|rest| format!("deriv({rest}"))
        .expect("the README's unexplained-memory alert");
    assert!(prom.query(&alert).is_some(), "refused: {alert}");
    assert_eq!(read_back("asyncmem_subscriber_dropped_events_total"), 0.0);
    let top = prom
        .query("topk(1, asyncmem_location_future_bytes)")
        .unwrap();
    assert_eq!(top.len(), 1);
    let top_location = top[0]["metric"]["location"].as_str().unwrap();
    assert!(
        holders.contains(&format!("\"{top_location}\"")),
        "{top_location} vs {holders}"
    );
    assert_eq!(value_of(&top[0]), holder_bytes);
    // Most futures hold 4096 bytes plus the sleep: the median falls in (4096, 8192].
    let median = read_back("histogram_quantile(0.5, asyncmem_tasks_by_future_size)");
    assert!(
        median > HOLD as f64 && median <= 2.0 * HOLD as f64,
        "median {median}"
    );
    let info = prom.query("asyncmem_target_info").unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0]["metric"]["pid"], target.pid.to_string());
    assert_eq!(info[0]["metric"]["instrumentation"], "console-subscriber");
    wait_for(
        Duration::from_secs(15),
        "RSS in Prometheus close to /proc's",
        || close(read_back("asyncmem_target_resident_memory_bytes")),
    );

    check_dashboard(&prom);

    // The target gone: export exits with 7 (for a supervisor to restart it), and Prometheus
    // sees the exporter down.
    drop(target);
    let (status, err) = exporter.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(7), "{err}");
    assert!(err.contains("exited"), "{err}");
    wait_for(Duration::from_secs(30), "up == 0 in Prometheus", || {
        let up = prom.query("up{job=\"asyncmem\"}")?;
        (up.len() == 1 && value_of(&up[0]) == 0.0).then_some(())
    });
}

/// Every query of the shipped Grafana dashboard is valid PromQL for this Prometheus, and every
/// metric it names is one that export writes.
fn check_dashboard(prom: &Prometheus) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/grafana/asyncmem-dashboard.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exporter_source = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/output/prometheus.rs"
    ));
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 10, "{exprs:?}");
    let mut answered = 0;
    for expr in &exprs {
        let query = expr.replace("$instance", ".*");
        let result = prom
            .query(&query)
            .unwrap_or_else(|| panic!("Prometheus rejects the dashboard query {query}"));
        answered += usize::from(!result.is_empty());
        let names = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("asyncmem_"));
        for name in names {
            assert!(
                exporter_source.contains(&format!("\"{name}\"")),
                "the dashboard queries {name}, which export does not write"
            );
        }
    }
    // Most panels have data on a settled demo (not the slope, lints or warnings that need a
    // moving task count or trouble).
    assert!(answered * 2 > exprs.len(), "{answered} of {exprs:?}");
}

#[test]
fn export_serves_only_metrics_warns_off_loopback_and_stops_on_sigterm() {
    let target = start_demo("sleepers", &["-n", "20", "-b", "64"]);
    let port = free_port();
    let mut exporter = Exporter::start(&target.addr(), &format!("0.0.0.0:{port}"), &[]);
    let what = || format!("/metrics to answer; stderr: {}", exporter.stderr());
    wait_or(Duration::from_secs(30), what, || exporter.metrics());
    let index = http_get(&exporter.addr, "/").unwrap();
    assert_eq!(index.status, 200);
    assert!(index.body.contains("/metrics"), "{}", index.body);
    assert_eq!(http_get(&exporter.addr, "/nope").unwrap().status, 404);
    assert_eq!(
        http_get(&exporter.addr, "/metrics/more").unwrap().status,
        404
    );
    let kill = Command::new("kill")
        .args(["-TERM", &exporter.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, err) = exporter.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(err.contains("warning") && err.contains("0.0.0.0"), "{err}");
}

#[test]
fn export_refuses_a_taken_port_with_exit_11() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    // The target does not matter: the port is checked before attaching.
    let out = asyncmem()
        .args([
            "export",
            "--addr",
            "http://127.0.0.1:9",
            "--listen",
            &listen,
        ])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(11), "{err}");
    assert!(
        err.contains("cannot listen on") && err.contains(&listen),
        "{err}"
    );
    let bad = asyncmem()
        .args([
            "export",
            "--addr",
            "http://127.0.0.1:9",
            "--listen",
            "nowhere",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr_of(&bad));
}

/// A TCP relay to `upstream` that can be cut (listener closed, every relayed connection shut
/// down) and resumed on the same port: a console stream that drops while the target lives.
struct Relay {
    port: u16,
    upstream: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let mut r = Relay {
            port: free_port(),
            upstream,
            stop: Default::default(),
            conns: Default::default(),
            accept: None,
        };
        r.resume();
        r
    }

    fn resume(&mut self) {
        use std::sync::atomic::Ordering;
        self.stop.store(false, Ordering::SeqCst);
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).expect("relay port");
        listener.set_nonblocking(true).unwrap();
        let (stop, conns, upstream) = (self.stop.clone(), self.conns.clone(), self.upstream);
        self.accept = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
                conns.lock().unwrap().extend([client, server]);
            }
        }));
    }

    fn cut(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            t.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

#[test]
fn export_keeps_serving_and_reconnects_while_the_target_lives() {
    let target = start_demo("sleepers", &["-n", "20", "-b", "64"]);
    let mut relay = Relay::start(target.port);
    let listen = format!("127.0.0.1:{}", free_port());
    // The process listening on the relayed endpoint is this test: the "target" lives throughout.
    let relayed = format!("http://127.0.0.1:{}", relay.port);
    let mut exporter = Exporter::start(&relayed, &listen, &[]);
    let connected = |exporter: &Exporter, want: f64| {
        let m = exporter.metrics()?;
        let idle = *m.get("asyncmem_tasks{state=\"idle\"}")?;
        (get(&m, "asyncmem_connected") == want && idle >= 24.0).then_some(m)
    };
    let what = || {
        format!(
            "connected with the demo's tasks; stderr: {}",
            exporter.stderr()
        )
    };
    let before = wait_or(Duration::from_secs(30), what, || connected(&exporter, 1.0));

    // The stream drops, the target lives: connected 0, the last picture still served.
    relay.cut();
    let what = || format!("asyncmem_connected 0; stderr: {}", exporter.stderr());
    let during = wait_or(Duration::from_secs(20), what, || connected(&exporter, 0.0));
    let idle = "asyncmem_tasks{state=\"idle\"}";
    assert_eq!(get(&during, idle), get(&before, idle));
    assert!(
        exporter.child.try_wait().unwrap().is_none(),
        "export exited"
    );

    // The endpoint back: reconnected (backoff at most 5 s), the same tasks.
    relay.resume();
    // Connected comes before the new stream's first update: wait for both (the check raced
    // the first update on a loaded machine).
    let updates_during = get(&during, "asyncmem_updates_total");
    let what = || {
        format!(
            "asyncmem_connected 1 again and an update since the reconnect; stderr: {}",
            exporter.stderr()
        )
    };
    let after = wait_or(Duration::from_secs(30), what, || {
        connected(&exporter, 1.0).filter(|m| get(m, "asyncmem_updates_total") > updates_during)
    });
    assert_eq!(get(&after, idle), get(&before, idle));
    let err = exporter.stderr();
    assert!(
        err.contains("reconnecting") && err.contains("reconnected"),
        "{err}"
    );
}

#[test]
fn export_help_documents_its_lifecycle_and_exit_codes() {
    let status = assert_help_names(
        "export",
        &[
            "--listen <IP:PORT>",
            "127.0.0.1:9184",
            "--top-locations <K>",
            "exits with 7",
            "11   export: cannot listen",
            "143",
        ],
    );
    assert!(status.success());
}

/// Issue 11 item 11: idle connections that never send cannot starve a scrape. 300 clients
/// connect and stay silent (more than the exporter holds at once); a real scrape on a new
/// connection is answered at once, and so is a scrape over a keep-alive connection opened
/// before the flood. Then a flood of slow clients that send half a request head and stall.
#[test]
fn export_answers_a_scrape_with_hundreds_of_idle_connections_open() {
    let target = start_demo("sleepers", &["-n", "20", "-b", "64"]);
    let port = free_port();
    let exporter = Exporter::start(&target.addr(), &format!("127.0.0.1:{port}"), &[]);
    let what = || format!("/metrics to answer; stderr: {}", exporter.stderr());
    wait_or(Duration::from_secs(30), what, || exporter.metrics());

    // A keep-alive scraper (as Prometheus is), connected before the flood.
    let mut keep = TcpStream::connect(&exporter.addr).unwrap();
    keep.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let keep_alive_scrape = |s: &mut TcpStream| -> Duration {
        let start = Instant::now();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = Vec::new();
        // The status line and headers suffice: the connection stays open for the next one.
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).expect("keep-alive scrape answered");
            assert!(n > 0, "keep-alive connection closed");
            got.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&got);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        // Drain the body: its length is in the headers.
        let len: usize = head
            .to_ascii_lowercase()
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .expect("content-length");
        let body_start = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut have = got.len() - body_start;
        while have < len {
            have += s.read(&mut buf).unwrap();
        }
        start.elapsed()
    };
    keep_alive_scrape(&mut keep);

    for flood in ["idle", "half a request head"] {
        let mut held = Vec::new();
        for _ in 0..300 {
            let mut s = TcpStream::connect(&exporter.addr).unwrap();
            if flood != "idle" {
                write!(s, "GET /metrics HTTP/1.1\r\nHost: ").unwrap();
            }
            held.push(s);
        }
        // Let the exporter accept them all before the scrape comes.
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        let reply = http_get(&exporter.addr, "/metrics").expect("scrape answered");
        let took = start.elapsed();
        assert_eq!(reply.status, 200, "{flood}: {}", reply.body);
        assert!(
            reply.body.contains("asyncmem_tasks"),
            "{flood}: {}",
            reply.body
        );
        assert!(
            took < Duration::from_secs(2),
            "{flood}: a scrape with 300 {flood} connections open took {took:?}"
        );
        // The flood evicted only connections without a request in flight, the longest idle first:
        // the keep-alive scraper may have been among them; a scraper reconnects, as Prometheus does.
        drop(held);
    }
    // With the flood gone, a fresh keep-alive connection is served again, twice.
    let mut keep = TcpStream::connect(&exporter.addr).unwrap();
    keep.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..2 {
        let took = keep_alive_scrape(&mut keep);
        assert!(
            took < Duration::from_secs(2),
            "keep-alive scrape took {took:?}"
        );
    }
}
