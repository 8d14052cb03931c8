//! Hostile input: files built to crash, hang or exhaust the loader. Each runs the real `aviary`
//! binary on files in a temporary folder and checks the exit code, the `file:line:col` message
//! and that the process ended (a generous bound: it detects hangs, it measures nothing).

#[path = "support/daemon.rs"]
mod daemon_support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Far longer than any of these runs takes: only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

/// Runs `aviary ARGS` in `dir`; panics when it has not ended within [`HANG`].
fn aviary(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(args)
        .current_dir(dir)
        .env_remove("AVIARY_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).unwrap();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stderr.read_to_end(&mut buf).unwrap();
        buf
    });
    let deadline = Instant::now() + HANG;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("aviary {args:?} did not end within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A project folder: `aviary.yaml` (with `project`) and `canaries/<name>.yaml` for each canary.
fn project(project: &str, canaries: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("canaries")).unwrap();
    std::fs::write(dir.path().join("aviary.yaml"), project).unwrap();
    for (name, yaml) in canaries {
        std::fs::write(dir.path().join("canaries").join(format!("{name}.yaml")), yaml).unwrap();
    }
    dir
}

/// `aviary --config aviary.yaml validate`: exit 2, and stderr holds `expected` (a whole
/// `file:line:col: ...` prefix) ; no panic.
fn rejects(dir: &Path, expected: &str) -> String {
    let out = aviary(dir, &["--config", "aviary.yaml", "validate"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stdout: {}\nstderr: {stderr}", text(&out.stdout));
    assert!(stderr.contains(expected), "expected {expected:?} in:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn composite_project(rule: &str) -> String {
    format!("canaries: [canaries]\ncomposite_alarms:\n  - name: comp\n    rule: \"{rule}\"\n")
}

const API_CANARY: &str = "blueprint: api\nschedule: rate(5 minutes)\napi:\n  steps:\n    - {name: s, request: {url: 'http://127.0.0.1:9/'}}\n";

#[test]
fn deeply_nested_composite_rule_is_a_problem_at_its_column() {
    let n = 2_268;
    let rule = format!("{}ALARM(x){}", "(".repeat(n), ")".repeat(n));
    let dir = project(&composite_project(&rule), &[("c", API_CANARY)]);
    // The rule's text starts at column 12 (after `    rule: "`): the 101st parenthesis is too deep.
    rejects(
        dir.path(),
        "aviary.yaml:4:112: composite_alarms[0].rule: invalid rule: the rule nests parentheses and NOT more than 100 deep",
    );
}

#[test]
fn long_not_chain_is_a_problem() {
    let rule = format!("{}ALARM(x)", "NOT ".repeat(25_000));
    let dir = project(&composite_project(&rule), &[("c", API_CANARY)]);
    rejects(dir.path(), "aviary.yaml:4:");
    rejects(dir.path(), "invalid rule: the rule is 100008 characters long; at most 10000 are allowed");
    let rule = format!("{}ALARM(x)", "NOT ".repeat(150));
    let dir = project(&composite_project(&rule), &[("c", API_CANARY)]);
    rejects(
        dir.path(),
        &format!("aviary.yaml:4:{}: composite_alarms[0].rule: invalid rule: the rule nests", 12 + 400),
    );
}

#[test]
fn long_and_chain_is_a_problem_and_the_longest_allowed_one_validates() {
    let rule = vec!["ALARM(x)"; 87_000].join(" AND ");
    let dir = project(&composite_project(&rule), &[("c", API_CANARY)]);
    rejects(
        dir.path(),
        "aviary.yaml:4:10012: composite_alarms[0].rule: invalid rule: the rule is 1130995 characters long",
    );
    // As long a chain as the length allows, naming an alarm that exists.
    let rule = vec!["ALARM(x)"; 10_000 / 13].join(" AND ");
    let alarm = "alarms:\n  - {name: x, metric: SuccessPercent, period: 5m, evaluation_periods: 1, comparison: \"<\", threshold: 90}\n";
    let dir = project(&composite_project(&rule), &[("c", &format!("{API_CANARY}{alarm}"))]);
    let out = aviary(dir.path(), &["--config", "aviary.yaml", "validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1 canary valid");
}

#[test]
fn huge_rate_is_rejected() {
    let canary = API_CANARY.replace("rate(5 minutes)", "rate(99999999999 days)");
    let dir = project("canaries: [canaries]\n", &[("c", &canary)]);
    rejects(
        dir.path(),
        "canaries/c.yaml:2:11: schedule: invalid rate `rate(99999999999 days)`: the period must be at most a year",
    );
}

#[test]
fn huge_timeout_is_rejected_by_validate_and_run() {
    let canary = format!("{API_CANARY}timeout: 18446744073709551615s\n");
    let dir = project("canaries: [canaries]\n", &[("c", &canary)]);
    let expected =
        "canaries/c.yaml:6:10: timeout: expected a duration up to 365d, found \"18446744073709551615s\"";
    rejects(dir.path(), expected);
    let out = aviary(dir.path(), &["--config", "aviary.yaml", "run"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
}

/// Ten levels of anchors, each a list of ten aliases of the level below, under `key`.
fn alias_bomb(key: &str) -> String {
    let mut text = format!("{key}:\n  l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n");
    for level in 1..10 {
        let aliases = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("  l{level}: &l{level} [{aliases}]\n"));
    }
    text
}

#[test]
fn alias_bomb_under_an_unknown_key_is_stopped() {
    let canary = format!("{API_CANARY}{}", alias_bomb("whatever"));
    let dir = project("canaries: [canaries]\n", &[("c", &canary)]);
    rejects(dir.path(), "canaries/c.yaml:11:");
    rejects(dir.path(), "invalid YAML: aliases expand to more than 100000 nodes");
    let dir = project(&format!("canaries: [canaries]\n{}", alias_bomb("tags")), &[("c", API_CANARY)]);
    rejects(dir.path(), "aviary.yaml:7:");
}

#[test]
fn files_over_10_mb_are_not_read() {
    let mut canary = API_CANARY.to_string();
    canary.push_str("tags:\n");
    let mut i = 0;
    while canary.len() <= 10_000_000 {
        canary.push_str(&format!("  tag{i}: {}\n", "v".repeat(100)));
        i += 1;
    }
    let dir = project("canaries: [canaries]\n", &[("c", &canary)]);
    rejects(dir.path(), "canaries/c.yaml:1:1: the file is");
    rejects(dir.path(), "at most 10000000 (10 MB) are read");
}

#[test]
fn deep_yaml_nesting_is_a_problem() {
    let canary = format!("{API_CANARY}tags: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let dir = project("canaries: [canaries]\n", &[("c", &canary)]);
    rejects(dir.path(), "canaries/c.yaml:6:");
    rejects(dir.path(), "lists and mappings nest more than 100 deep");
}

#[test]
fn many_bad_values_are_capped_and_long_values_cut() {
    let mut canary = API_CANARY.to_string();
    canary.push_str("tags:\n");
    for i in 0..5_000 {
        canary.push_str(&format!("  t{i}: [not, a, string]\n"));
    }
    let dir = project("canaries: [canaries]\n", &[("c", &canary)]);
    let stderr = rejects(dir.path(), "tags.t0: expected a string, found a list");
    assert!(stderr.lines().count() < 110, "{} lines", stderr.lines().count());
    assert!(stderr.contains("more problem"), "{stderr}");

    let long = "x".repeat(5_000_000);
    let canary = format!("{API_CANARY}retries: \"{long}\"\n");
    let dir = project("canaries: [canaries]\n", &[("c", &canary)]);
    let stderr = rejects(
        dir.path(),
        &format!("canaries/c.yaml:6:10: retries: expected an integer 0..255, found \"{}…\"", "x".repeat(80)),
    );
    assert!(stderr.len() < 2_000, "{} bytes of messages", stderr.len());

    // A check that quotes the value whole (the URL check) is cut too.
    let canary = format!("blueprint: heartbeat\nheartbeat:\n  urls: [\"{long}\"]\n");
    let dir = project("canaries: [canaries]\n", &[("c", &canary)]);
    let stderr = rejects(dir.path(), "canaries/c.yaml:3:10: heartbeat.urls[0]: `xxx");
    assert!(stderr.contains("x` is not an absolute http(s) URL"), "{}", &stderr[..300]);
    assert!(stderr.len() < 2_000, "{} bytes of messages", stderr.len());
}

/// A backend whose scheduler has stopped: `/healthz` says 503 with the reason.
struct Stopped {
    store: Arc<aviary::store::SqliteStore>,
}

impl aviary::server::Backend for Stopped {
    fn canaries(&self) -> Vec<aviary::server::CanaryStatus> {
        Vec::new()
    }
    fn broken_files(&self) -> Vec<aviary::server::BrokenFile> {
        Vec::new()
    }
    fn run_now(&self, canary: &str) -> Result<(), aviary::server::RunNowError> {
        Err(aviary::server::RunNowError::UnknownCanary(canary.into()))
    }
    fn store(&self) -> Arc<dyn aviary::store::Store> {
        self.store.clone()
    }
    fn artifacts_root(&self) -> std::path::PathBuf {
        std::path::PathBuf::from("/nonexistent")
    }
    fn metrics(&self) -> aviary::server::DaemonMetrics {
        unimplemented!("not asked by /healthz")
    }
    fn unhealthy(&self) -> Option<String> {
        Some("the scheduler stopped: DateTime + TimeDelta overflowed".into())
    }
}

#[tokio::test]
async fn healthz_reports_a_stopped_scheduler() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(aviary::store::SqliteStore::open(&dir.path().join("aviary.db")).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let backend: Arc<dyn aviary::server::Backend> = Arc::new(Stopped { store });
    tokio::spawn(aviary::server::serve_on(listener, backend, None, std::future::pending()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(HANG, stream.read_to_string(&mut reply)).await.unwrap().unwrap();
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.ends_with("the scheduler stopped: DateTime + TimeDelta overflowed"), "{reply}");
}

#[test]
fn a_hot_reload_bringing_a_deep_rule_keeps_the_daemon_running() {
    let dir = project("server: {listen: \"127.0.0.1:0\"}\n", &[("c", API_CANARY)]);
    let mut daemon = daemon_support::Daemon::start(dir.path(), "daemon.log", &[]);
    let rule = format!("{}ALARM(x){}", "(".repeat(2_268), ")".repeat(2_268));
    std::fs::write(
        dir.path().join("aviary.yaml"),
        format!(
            "server: {{listen: \"127.0.0.1:0\"}}\n{}",
            composite_project(&rule).replace("canaries: [canaries]\n", "")
        ),
    )
    .unwrap();
    daemon
        .wait_for("the rule's problem", HANG, |e| daemon_support::message(e).contains("more than 100 deep"));
    daemon.wait_for("kept", HANG, |e| {
        daemon_support::message(e).contains("every canary keeps its previous version")
    });
    let addr = daemon_support::listen_addr(&daemon);
    assert_eq!(daemon_support::http(&addr, "GET", "/healthz", None), (200, "ok".to_string()));
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(HANG).and_then(|s| s.code()), Some(0), "{}", daemon.log_text());
}
