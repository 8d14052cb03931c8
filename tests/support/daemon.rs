//! Runs `aviary daemon` as a child process for the daemon tests: JSON logs to a file, signals,
//! and waiting for log events.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `aviary daemon`; killed (SIGKILL) when dropped.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `aviary daemon --log-format json ARGS` in `dir`, its log in `dir/<log_name>`, and
    /// waits for its "daemon started" line.
    pub fn start(dir: &Path, log_name: &str, args: &[&str]) -> Daemon {
        Daemon::start_env(dir, log_name, args, &[])
    }

    /// [`Daemon::start`] with more environment variables.
    pub fn start_env(dir: &Path, log_name: &str, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let log = dir.join(log_name);
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_aviary"))
            .args(["daemon", "--log-format", "json"])
            .args(args)
            .current_dir(dir)
            .envs(env.iter().copied())
            .env_remove("AVIARY_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut daemon = Daemon { child, log };
        daemon.wait_for("daemon started", Duration::from_secs(30), |e| message(e) == "daemon started");
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `INT`, `HUP`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to end.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Every JSON log line so far.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `count` log events match; returns them. Panics with the log on timeout.
    pub fn wait_for_n(
        &mut self,
        what: &str,
        count: usize,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let found: Vec<Value> = self.events().into_iter().filter(|e| matches(e)).collect();
            if found.len() >= count {
                return found;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("daemon exited ({status}) while waiting for {what}; log:\n{}", self.log_text());
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what} ({} of {count}); log:\n{}",
                    found.len(),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_for(&mut self, what: &str, within: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_n(what, 1, within, matches).remove(0)
    }

    /// The "run finished" events of a canary.
    pub fn runs_of(&self, canary: &str) -> Vec<Value> {
        self.events().into_iter().filter(|e| is_run_of(e, canary)).collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A log event's message.
pub fn message(event: &Value) -> &str {
    event["fields"]["message"].as_str().unwrap_or("")
}

/// A log event's field.
pub fn field<'v>(event: &'v Value, name: &str) -> &'v Value {
    &event["fields"][name]
}

/// Whether the event is a "run finished" line of `canary`.
pub fn is_run_of(event: &Value, canary: &str) -> bool {
    message(event) == "run finished" && field(event, "canary") == canary
}

/// Whether the event is `message` about `canary`.
pub fn is_about(event: &Value, text: &str, canary: &str) -> bool {
    message(event).contains(text) && field(event, "canary") == canary
}

/// The address the daemon's HTTP server listens on (from its "daemon started" line).
pub fn listen_addr(daemon: &Daemon) -> String {
    let started = daemon.events().into_iter().find(|e| message(e) == "daemon started").expect("started");
    field(&started, "listen").as_str().expect("listen field").to_string()
}

/// A plain HTTP/1.1 request; returns the status and the body.
pub fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| ("Authorization", a)).into_iter().collect();
    let (status, _, body) = request(addr, method, path, &headers);
    (status, body)
}

/// One HTTP/1.1 request with `headers`: the status, the response head and the body.
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    try_request(addr, method, path, headers).unwrap_or_else(|e| panic!("{method} http://{addr}{path}: {e}"))
}

/// [`request`], or the I/O error (a server not listening yet: connection refused).
pub fn try_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((status, head.to_string(), body.to_string()))
}
