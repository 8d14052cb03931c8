//! moto's server mode (local stand-ins for AWS services, from PyPI) on 127.0.0.1, for the Route 53
//! and S3 tests.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server; killed when dropped.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `AVIARY_MOTO_SERVER`, the venv `scripts/setup.sh` makes, or `moto_server` on PATH.
fn moto_server() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("AVIARY_MOTO_SERVER").map(PathBuf::from),
        Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/moto-venv/bin/moto_server"))),
    ];
    candidates.into_iter().flatten().find(|p| p.exists()).or_else(|| {
        let found = Command::new("sh").args(["-c", "command -v moto_server"]).output().ok()?;
        found.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()))
    })
}

/// A port of 127.0.0.1 nothing listens on (it was free a moment ago).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts moto's server on a free port, or `None` (the test skips) where it is not installed;
/// under CI a missing moto is a failure.
pub fn start_moto() -> Option<Moto> {
    let Some(server) = moto_server() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "moto_server is not installed: run `AVIARY_SETUP_TESTS=1 bash scripts/setup.sh`"
        );
        eprintln!("SKIPPED: moto_server is not installed (AVIARY_SETUP_TESTS=1 bash scripts/setup.sh)");
        return None;
    };
    let port = free_port();
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}
