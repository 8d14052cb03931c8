//! A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary folder, `pg_ctl start`
//! on a free port of 127.0.0.1, one fresh database per test. A watcher process stops the server
//! and removes the folder once the test process has gone, however it ended (a kill included).
//!
//! Where PostgreSQL's server programs are missing, [`cluster`] returns `None` after saying so;
//! with `AVIARY_REQUIRE_POSTGRES=1` (CI, which installs them) that is a failure instead.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running cluster.
pub struct Cluster {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The folder holding `initdb`, `pg_ctl` and `postgres` (the newest Debian version), or
/// `AVIARY_PG_BIN`.
fn server_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AVIARY_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("postgres").is_file() && bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs a server program, as the `postgres` user when we are root (the server refuses root).
fn server_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The cluster this test process shares, started on first use.
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER.get_or_init(own_cluster).as_ref()
}

/// A cluster of its own, for a test that stops or restarts the server.
pub fn own_cluster() -> Option<Cluster> {
    let Some(bin) = server_bin() else {
        let message = "PostgreSQL's server programs are not installed (Debian: apt-get install postgresql); \
                       skipping the PostgreSQL tests";
        assert!(std::env::var("AVIARY_REQUIRE_POSTGRES").is_err(), "{message}");
        eprintln!("{message}");
        return None;
    };
    let dir = tempfile::Builder::new().prefix("aviary-pg-").tempdir().unwrap().keep();
    let data = dir.join("data");
    if is_root() {
        chown_to_postgres(&dir);
    }
    let init = server_command(&bin, "initdb")
        .args(["--auth=trust", "--username=aviary", "--encoding=UTF8", "--locale=C.UTF-8", "-D"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(init.status.success(), "initdb failed: {}", String::from_utf8_lossy(&init.stderr));
    let port = free_port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        dir.display()
    );
    let started = server_command(&bin, "pg_ctl")
        .args(["-w", "-t", "60", "-D"])
        .arg(&data)
        .args(["-l"])
        .arg(dir.join("server.log"))
        .args(["-o", &options, "start"])
        .output()
        .unwrap();
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    assert!(
        started.status.success(),
        "pg_ctl start failed: {}\n{log}",
        String::from_utf8_lossy(&started.stderr)
    );
    watch_until_exit(&bin, &dir);
    Some(Cluster { port, bin, data })
}

/// Leaves a shell behind (in the background, so that it outlives us) that waits for this
/// process to end, then stops the server and removes `dir`.
fn watch_until_exit(bin: &Path, dir: &Path) {
    let pg_ctl = server_command(bin, "pg_ctl");
    let mut stop: Vec<String> = std::iter::once(pg_ctl.get_program())
        .chain(pg_ctl.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    stop.extend([
        "-D".into(),
        dir.join("data").display().to_string(),
        "-m".into(),
        "immediate".into(),
        "stop".into(),
    ]);
    let script = format!(
        "(while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \"$@\" >/dev/null 2>&1; rm -rf '{dir}') &",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &script, "watch"])
        .args(stop)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
}

fn chown_to_postgres(dir: &Path) {
    let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status().unwrap();
    assert!(status.success(), "chown of {} to postgres failed", dir.display());
}

impl Cluster {
    /// A URL of the cluster's database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://aviary@127.0.0.1:{}/{db}", self.port)
    }

    /// A new empty database; its URL.
    pub fn database(&self) -> String {
        let name = format!("t{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::SeqCst));
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
        client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(&name)
    }

    /// A client on `url`, for the tests' own looks into the database.
    pub fn client(&self, url: &str) -> postgres::Client {
        postgres::Client::connect(url, postgres::NoTls).unwrap()
    }

    /// Stops the server at once (as a crash would) and starts it again on the same port.
    pub fn restart(&self) {
        let restarted = server_command(&self.bin, "pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.parent().unwrap().join("server.log"))
            .arg("restart")
            .output()
            .unwrap();
        assert!(restarted.status.success(), "{}", String::from_utf8_lossy(&restarted.stderr));
    }
}
