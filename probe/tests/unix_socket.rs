//! The probe on a Unix socket leaves alone what it must not take: a file that is not a socket,
//! and a socket another process serves on. (Serving there, and replacing a stale socket, are
//! tested end to end with asyncmem in tests/faults.rs.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::PathBuf;
use std::time::Duration;

use tracing_subscriber::Registry;

/// The probe's allocator is on under every probe test.
#[global_allocator]
static A: asyncmem_probe::Allocator = asyncmem_probe::Allocator::system();

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("asyncmem-probe-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// Start a probe on `path` (its layer is dropped: only the server thread matters here) and give
/// its thread time to try the bind.
fn probe_on(path: &std::path::Path) {
    let _layer = asyncmem_probe::Builder::default()
        .server_addr(path)
        .spawn::<Registry>();
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = scratch("not-a-socket");
    let path = dir.join("console.sock");
    std::fs::write(&path, b"precious").expect("writing a file");
    probe_on(&path);
    assert_eq!(std::fs::read(&path).expect("still there"), b"precious");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_socket_another_process_serves_on_is_left_alone() {
    use std::io::Read;
    let dir = scratch("live-socket");
    let path = dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("binding");
    probe_on(&path);
    // Still ours: a client reaches this listener, not the probe. (The probe's own check that
    // someone serves here is queued first, and closed: skip it.)
    let mut client = std::os::unix::net::UnixStream::connect(&path).expect("connecting");
    std::io::Write::write_all(&mut client, b"x").expect("writing");
    let got = (0..2).any(|_| {
        let (mut served, _) = listener.accept().expect("accepting");
        let mut b = [0u8; 1];
        served.read_exact(&mut b).is_ok() && &b == b"x"
    });
    assert!(got, "our client did not reach our listener");
    assert!(path.exists(), "the live socket file was removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tokio_console_bind_takes_a_file_url() {
    assert_eq!(
        asyncmem_probe::ServerAddr::parse("file:///tmp/x.sock"),
        Some(asyncmem_probe::ServerAddr::Unix("/tmp/x.sock".into()))
    );
    assert_eq!(
        asyncmem_probe::ServerAddr::parse("127.0.0.1:6670"),
        Some(asyncmem_probe::ServerAddr::Tcp(
            ([127, 0, 0, 1], 6670).into()
        ))
    );
    assert_eq!(asyncmem_probe::ServerAddr::parse("file://"), None);
    assert_eq!(asyncmem_probe::ServerAddr::parse("nonsense"), None);
}
