//! The HTTP server (`aviary::server`) against a fake-but-real backend: canned canary statuses, a
//! real SQLite store in a temporary folder holding real saved reports, real artifact files on
//! disk, a real TCP listener on 127.0.0.1 and a real HTTP/1.1 client (hyper).

#[path = "support/api_site.rs"]
mod api_site;
#[path = "support/daemon.rs"]
mod daemon_support;
#[path = "support/server_prom.rs"]
mod prom;
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary::alarms::{AlarmState, AlarmStatus};
use aviary::browser::PoolStats;
use aviary::report::{RequestCounts, RunReport, RunStatus, StepReport, StepStatus};
use aviary::server::{self, Backend, BrokenFile, CanaryStatus, DaemonMetrics, Histogram, RunNowError};
use aviary::store::layout::{run_dir, run_dir_relative};
use aviary::store::{SqliteStore, Store};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::{BodyExt, Empty};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "s3cret-token";
const SECRET: &str = "TOP SECRET outside the run folder";
const PNG: &[u8] = support::PIXEL_PNG;
/// A step name that needs escaping in Prometheus labels and HTML.
const ODD_STEP: &str = "say \"hi\" \\ <b>";
/// An alarm reason a page could have put there.
const CRAFTED_REASON: &str = "<img src=x onerror=alert(1)>";

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::seconds(seconds)
}

fn step(index: u32, name: &str, status: StepStatus, start: DateTime<Utc>, ms: f64) -> StepReport {
    StepReport {
        index,
        name: name.to_string(),
        status,
        reason: (status != StepStatus::Passed).then(|| format!("{name}: expected status == 200, got 500")),
        start,
        duration_ms: ms,
        screenshots: vec![format!(
            "{index:02}-step-{}.png",
            if status == StepStatus::Passed { "succeeded" } else { "failed" }
        )],
        url: Some("http://127.0.0.1:8080/".into()),
        details: serde_json::Map::new(),
    }
}

fn report(canary: &str, run_id: &str, start: DateTime<Utc>, status: RunStatus) -> RunReport {
    let second = if status == RunStatus::Passed { StepStatus::Passed } else { StepStatus::Failed };
    RunReport {
        location: None,
        canary: canary.to_string(),
        run_id: run_id.to_string(),
        attempt: if status == RunStatus::Passed { 1 } else { 2 },
        blueprint: "heartbeat".into(),
        status,
        reason: (status != RunStatus::Passed).then(|| "step 2: expected status == 200, got 500".into()),
        start,
        end: start + chrono::Duration::milliseconds(1500),
        duration_ms: 1500.5,
        steps: vec![
            step(1, "home", StepStatus::Passed, start, 250.0),
            step(2, ODD_STEP, second, start, 1250.5),
            step(3, "never", StepStatus::Skipped, start, 0.0),
        ],
        artifacts: run_dir_relative(canary, start, run_id),
        requests: RequestCounts { ok_2xx: 7, redirect_3xx: 1, client_4xx: 2, server_5xx: 3, failed: 1 },
        details: serde_json::Map::new(),
    }
}

const BROKEN_PROBLEMS: [&str; 2] = [
    "canaries/broken.yaml:3:7: schedule: `rate(0 minutes)` is not a schedule",
    "canaries/broken.yaml:4:10: timeout: expected a duration, found \"soon\"",
];

/// The daemon as the server sees it: canned statuses and metrics, a real store and real files.
struct FakeBackend {
    canaries: Vec<CanaryStatus>,
    store: Arc<SqliteStore>,
    root: PathBuf,
    broken: Vec<BrokenFile>,
    started: Mutex<Vec<String>>,
}

impl Backend for FakeBackend {
    fn canaries(&self) -> Vec<CanaryStatus> {
        self.canaries.clone()
    }
    fn broken_files(&self) -> Vec<BrokenFile> {
        self.broken.clone()
    }
    fn run_now(&self, canary: &str) -> Result<(), RunNowError> {
        match self.canaries.iter().find(|c| c.name == canary) {
            None => Err(RunNowError::UnknownCanary(canary.into())),
            Some(c) if c.running => Err(RunNowError::AlreadyRunning(canary.into())),
            Some(_) => {
                self.started.lock().unwrap().push(canary.into());
                Ok(())
            }
        }
    }
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
    fn artifacts_root(&self) -> PathBuf {
        self.root.clone()
    }
    fn alarms(&self) -> Result<Vec<AlarmStatus>, aviary::store::StoreError> {
        let alarm = |name: &str, kind: &str, state: AlarmState, reason: &str| AlarmStatus {
            name: name.into(),
            kind: kind.into(),
            state,
            reason: reason.into(),
            since: Some(at(30)),
            canary: (kind == "metric").then(|| "home".to_string()),
            description: None,
            rule: String::new(),
            children: Vec::new(),
        };
        Ok(vec![
            alarm("api-availability", "metric", AlarmState::Ok, "1 of 1 datapoints not breaching"),
            alarm("home-availability", "metric", AlarmState::Alarm, CRAFTED_REASON),
            AlarmStatus {
                rule: "home-availability OR api-availability".into(),
                children: vec!["home-availability".into(), "api-availability".into()],
                ..alarm("site-down", "composite", AlarmState::Alarm, "home-availability is ALARM")
            },
        ])
    }
    fn set_alarm_state(
        &self,
        name: &str,
        state: AlarmState,
        reason: &str,
    ) -> Result<Vec<aviary::store::AlarmTransition>, aviary::alarms::SetStateError> {
        self.started.lock().unwrap().push(format!("set-state {name} {} {reason}", state.as_str()));
        Ok(Vec::new())
    }
    fn metrics(&self) -> DaemonMetrics {
        let mut durations = Histogram::new(&[0.5, 1.0, 2.5]);
        for seconds in [0.2, 1.5, 1.5] {
            durations.observe(seconds);
        }
        let mut lateness = Histogram::new(&[0.01, 0.1, 1.0]);
        for seconds in [0.005, 0.05, 0.05, 3.0] {
            lateness.observe(seconds);
        }
        DaemonMetrics {
            runs_total: BTreeMap::from([
                (("home".to_string(), RunStatus::Passed), 2),
                (("home".to_string(), RunStatus::Failed), 1),
            ]),
            run_duration_seconds: BTreeMap::from([("home".to_string(), durations)]),
            start_lateness_seconds: lateness,
            skipped_fires_total: BTreeMap::from([("orders".to_string(), 4)]),
            queued_runs: 3,
            running_runs: 1,
            browser: PoolStats { browsers_alive: 2, pages_in_use: 1, launches: 5, crashes: 1, spares: 1 },
            failover: vec![failover_record()],
            location: None,
        }
    }
}

/// A failover record failing over to its secondary, whose last change was refused.
fn failover_record() -> aviary::dns::controller::RecordStatus {
    let mut record = aviary::dns::controller::RecordStatus::default();
    record.name = "www".into();
    record.desired = vec!["198.51.100.20".into()];
    record.desired_answer = Some("secondary");
    record.primary_health = "home-availability".into();
    record.actual = Some(vec!["192.0.2.10".into()]);
    record.last_error = Some("DNS server 127.0.0.1:53 answered REFUSED".into());
    record.errors_total = 3;
    record
}

/// Runs of `home`, oldest first: two passed, then the latest (failed). Ids share a 6-character
/// prefix so that prefix lookups can be ambiguous.
const HOME_RUNS: [&str; 3] = [
    "abcdef01-0000-4000-8000-000000000001",
    "abcdef02-0000-4000-8000-000000000002",
    "abc12345-0000-4000-8000-000000000003",
];
const RETIRED_RUN: &str = "feed0001-0000-4000-8000-000000000009";

struct Fixture {
    _tmp: tempfile::TempDir,
    backend: Arc<FakeBackend>,
    /// The latest `home` run's folder.
    run_folder: PathBuf,
    secret_file: PathBuf,
}

fn write_run_files(root: &Path, report: &RunReport) -> PathBuf {
    let dir = run_dir(root, &report.canary, report.start, &report.run_id);
    std::fs::create_dir_all(dir.join("visual")).unwrap();
    std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(report).unwrap()).unwrap();
    std::fs::write(dir.join(format!("{}.har", report.canary)), br#"{"log":{"version":"1.2","entries":[]}}"#)
        .unwrap();
    std::fs::write(dir.join("log.txt"), format!("run {} log\n", report.run_id)).unwrap();
    std::fs::write(dir.join("01-step-succeeded.png"), PNG).unwrap();
    std::fs::write(dir.join("visual/diff.png"), PNG).unwrap();
    dir
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("artifacts");
    let store = Arc::new(SqliteStore::open(&tmp.path().join("aviary.db")).unwrap());
    let statuses = [RunStatus::Passed, RunStatus::Passed, RunStatus::Failed];
    let mut last = None;
    let mut run_folder = PathBuf::new();
    for (i, (id, status)) in HOME_RUNS.iter().zip(statuses).enumerate() {
        let report = report("home", id, at(60 * i as i64), status);
        store.save_run(&report, &report.datapoints()).unwrap();
        run_folder = write_run_files(&root, &report);
        last = Some(report);
    }
    let retired = report("retired", RETIRED_RUN, at(0), RunStatus::Passed);
    store.save_run(&retired, &retired.datapoints()).unwrap();

    // A file outside every run folder, and links to it (and to a sibling run) from the run folder.
    let secret_file = tmp.path().join("secret.txt");
    std::fs::write(&secret_file, SECRET).unwrap();
    std::os::unix::fs::symlink(&secret_file, run_folder.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../secret.txt", run_folder.join("relative-escape.txt"))
        .unwrap();
    std::os::unix::fs::symlink(tmp.path(), run_folder.join("up")).unwrap();
    std::os::unix::fs::symlink("log.txt", run_folder.join("alias.txt")).unwrap();

    let status =
        |name: &str, enabled: bool, running: bool, next: Option<i64>, last_run: Option<RunReport>| {
            CanaryStatus {
                name: name.into(),
                blueprint: "heartbeat".into(),
                file: PathBuf::from(format!("canaries/{name}.yaml")),
                enabled,
                schedule: "rate(5 minutes)".into(),
                next_fire: next.map(at),
                running,
                tags: BTreeMap::from([("team".to_string(), "web".to_string())]),
                last_run,
            }
        };
    let canaries = vec![
        status("disabled", false, false, None, None),
        status("home", true, false, Some(420), last),
        status("orders", true, true, Some(300), None),
    ];
    let backend = Arc::new(FakeBackend {
        canaries,
        store,
        root,
        // One file with two problems: `aviary_config_errors` counts files.
        broken: vec![BrokenFile {
            file: "canaries/broken.yaml".into(),
            problems: BROKEN_PROBLEMS.iter().map(|p| (*p).to_string()).collect(),
            previous_version: true,
        }],
        started: Mutex::new(Vec::new()),
    });
    Fixture { _tmp: tmp, backend, run_folder, secret_file }
}

/// A server on 127.0.0.1:0 over the fixture; stops when the returned sender is dropped or sent.
async fn start(
    backend: Arc<FakeBackend>,
    token: Option<&str>,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start_with_limits(backend, token, server::Limits::default()).await
}

/// [`start`] with these limits on slow clients and connections.
async fn start_with_limits(
    backend: Arc<FakeBackend>,
    token: Option<&str>,
    limits: server::Limits,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let token = token.map(str::to_string);
    tokio::spawn(server::serve_with_limits(listener, backend, token, limits, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
    fn content_type(&self) -> &str {
        self.headers.get("content-type").map_or("", |v| v.to_str().unwrap())
    }
    /// The JSON `{"error": "..."}` message.
    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {}", self.text()))
            .to_string()
    }
}

/// One request on a fresh connection; the path is sent exactly as given (no normalization).
async fn send(addr: SocketAddr, method: Method, path: &str, authorization: Option<&str>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder().method(method).uri(path).header("host", addr.to_string());
    if let Some(value) = authorization {
        request = request.header("authorization", HeaderValue::from_str(value).unwrap());
    }
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        sender.send_request(request.body(Empty::<Bytes>::new()).unwrap()),
    )
    .await
    .expect("the server answers within 10 s")
    .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply { status, headers, body }
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, Method::GET, path, None).await
}

#[tokio::test]
async fn healthz_says_ok() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let reply = get(addr, "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "ok");
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text_with_every_series() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let reply = get(addr, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    let text = reply.text();
    let m = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));

    // Every family is documented and typed.
    for (family, kind) in &m.types {
        assert!(m.help.get(family).is_some_and(|h| !h.is_empty()), "{family} has no HELP");
        let documented =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/server.md")).unwrap();
        assert!(documented.contains(&format!("`{family}`")), "{family} ({kind}) is not in docs/server.md");
    }

    // The last run of `home` (failed) and its steps; skipped steps are left out; labels escaped.
    let home = [("canary", "home")];
    assert_eq!(m.get("aviary_success_percent", &home), Some(0.0));
    assert_eq!(m.get("aviary_duration_seconds", &home), Some(1.5005));
    assert_eq!(m.get("aviary_step_success_percent", &[("canary", "home"), ("step", "home")]), Some(100.0));
    assert_eq!(m.get("aviary_step_success_percent", &[("canary", "home"), ("step", ODD_STEP)]), Some(0.0));
    assert_eq!(
        m.get("aviary_step_duration_seconds", &[("canary", "home"), ("step", ODD_STEP)]),
        Some(1.2505)
    );
    assert_eq!(m.get("aviary_step_duration_seconds", &[("canary", "home"), ("step", "never")]), None);
    assert_eq!(m.get("aviary_step_success_percent", &[("canary", "home"), ("step", "never")]), None);
    assert!(text.contains(r#"step="say \"hi\" \\ <b>""#), "{text}");
    for (class, count) in [("2xx", 7.0), ("3xx", 1.0), ("4xx", 2.0), ("5xx", 3.0), ("failed", 1.0)] {
        assert_eq!(m.get("aviary_requests", &[("canary", "home"), ("class", class)]), Some(count), "{class}");
    }
    assert_eq!(m.get("aviary_last_run_timestamp_seconds", &home), Some(at(120).timestamp() as f64 + 1.5));
    // Canaries without a run have no last-run series.
    assert_eq!(m.get("aviary_success_percent", &[("canary", "orders")]), None);

    // Counters and histograms of the daemon.
    assert_eq!(m.get("aviary_runs_total", &[("canary", "home"), ("status", "PASSED")]), Some(2.0));
    assert_eq!(m.get("aviary_runs_total", &[("canary", "home"), ("status", "FAILED")]), Some(1.0));
    assert_eq!(m.types["aviary_run_duration_seconds"], "histogram");
    assert_eq!(m.get("aviary_run_duration_seconds_bucket", &[("canary", "home"), ("le", "0.5")]), Some(1.0));
    assert_eq!(m.get("aviary_run_duration_seconds_bucket", &[("canary", "home"), ("le", "2.5")]), Some(3.0));
    assert_eq!(m.get("aviary_run_duration_seconds_bucket", &[("canary", "home"), ("le", "+Inf")]), Some(3.0));
    assert_eq!(m.get("aviary_run_duration_seconds_sum", &home), Some(3.2));
    assert_eq!(m.get("aviary_run_duration_seconds_count", &home), Some(3.0));
    assert_eq!(m.get("aviary_scheduler_start_lateness_seconds_bucket", &[("le", "0.01")]), Some(1.0));
    assert_eq!(m.get("aviary_scheduler_start_lateness_seconds_bucket", &[("le", "1")]), Some(3.0));
    assert_eq!(m.get("aviary_scheduler_start_lateness_seconds_bucket", &[("le", "+Inf")]), Some(4.0));
    assert_eq!(m.get("aviary_scheduler_start_lateness_seconds_count", &[]), Some(4.0));
    assert_eq!(m.get("aviary_scheduler_skipped_fires_total", &[("canary", "orders")]), Some(4.0));
    assert_eq!(m.get("aviary_scheduler_queued_runs", &[]), Some(3.0));
    assert_eq!(m.get("aviary_scheduler_running_runs", &[]), Some(1.0));
    assert_eq!(m.get("aviary_canary_next_fire_timestamp_seconds", &home), Some(at(420).timestamp() as f64));
    assert_eq!(m.get("aviary_canary_next_fire_timestamp_seconds", &[("canary", "disabled")]), None);
    assert_eq!(m.get("aviary_canary_running", &[("canary", "orders")]), Some(1.0));
    assert_eq!(m.get("aviary_canary_enabled", &[("canary", "disabled")]), Some(0.0));
    assert_eq!(m.get("aviary_browser_processes", &[]), Some(2.0));
    assert_eq!(m.get("aviary_browser_pages_in_use", &[]), Some(1.0));
    assert_eq!(m.get("aviary_browser_launches_total", &[]), Some(5.0));
    assert_eq!(m.get("aviary_browser_crashes_total", &[]), Some(1.0));
    assert_eq!(m.get("aviary_failover_answer", &[("failover", "www"), ("answer", "secondary")]), Some(1.0));
    assert_eq!(m.get("aviary_failover_answer", &[("failover", "www"), ("answer", "primary")]), Some(0.0));
    assert_eq!(m.get("aviary_failover_in_sync", &[("failover", "www")]), Some(0.0));
    assert_eq!(m.get("aviary_failover_error", &[("failover", "www")]), Some(1.0));
    assert_eq!(m.get("aviary_failover_errors_total", &[("failover", "www")]), Some(3.0));
    assert_eq!(m.get("aviary_config_errors", &[]), Some(1.0));
    assert_eq!(m.get("aviary_canaries", &[]), Some(3.0));
    assert_eq!(m.types["aviary_runs_total"], "counter");
    assert_eq!(m.types["aviary_success_percent"], "gauge");
}

#[tokio::test]
async fn canaries_list_their_last_run_and_next_fire() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let reply = get(addr, "/api/v1/canaries").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.content_type().starts_with("application/json"));
    let body = reply.json();
    let list = body["canaries"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["disabled", "home", "orders"]);
    let home = &list[1];
    assert_eq!(home["next_fire"], "2025-03-04T05:13:07Z");
    assert_eq!(home["schedule"], "rate(5 minutes)");
    assert_eq!(home["tags"]["team"], "web");
    assert_eq!(home["last_run"]["run_id"], HOME_RUNS[2]);
    assert_eq!(home["last_run"]["status"], "FAILED");
    assert_eq!(home["last_run"]["attempt"], 2);
    assert_eq!(home["last_run"]["reason"], "step 2: expected status == 200, got 500");
    assert!(home["last_run"].get("steps").is_none(), "the listing summarizes the last run");
    assert_eq!(list[2]["running"], true);
    assert!(list[2]["last_run"].is_null());
    assert!(list[0]["next_fire"].is_null());
}

#[tokio::test]
async fn one_canary_has_its_whole_last_report() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let body = get(addr, "/api/v1/canaries/home").await.json();
    assert_eq!(body["name"], "home");
    assert_eq!(body["file"], "canaries/home.yaml");
    assert_eq!(body["last_run"]["steps"].as_array().unwrap().len(), 3);
    let missing = get(addr, "/api/v1/canaries/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.error().contains("nope"));
}

#[tokio::test]
async fn runs_are_paged_newest_first_with_a_next_cursor() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let first = get(addr, "/api/v1/canaries/home/runs?limit=2").await.json();
    let ids = |page: &Value| {
        page["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), [HOME_RUNS[2], HOME_RUNS[1]]);
    assert_eq!(first["canary"], "home");
    assert_eq!(first["runs"][0]["status"], "FAILED");
    let next = first["next"].as_str().unwrap();
    assert_eq!(next, "2025-03-04T05:07:07.000Z");
    let second =
        get(addr, &format!("/api/v1/canaries/home/runs?limit=2&before={}", next.replace(':', "%3A")))
            .await
            .json();
    assert_eq!(ids(&second), [HOME_RUNS[0]]);
    assert!(second["next"].is_null());
    // The default page holds every run here; a `before` before everything is an empty page.
    let all = get(addr, "/api/v1/canaries/home/runs").await.json();
    assert_eq!(ids(&all), [HOME_RUNS[2], HOME_RUNS[1], HOME_RUNS[0]]);
    assert!(all["next"].is_null());
    let empty = get(addr, "/api/v1/canaries/home/runs?before=2000-01-01T00:00:00Z").await.json();
    assert_eq!(ids(&empty), Vec::<String>::new());

    // History outlives a canary's file; a canary with neither is unknown.
    assert_eq!(ids(&get(addr, "/api/v1/canaries/retired/runs").await.json()), [RETIRED_RUN]);
    assert_eq!(get(addr, "/api/v1/canaries/ghost/runs").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(addr, "/api/v1/canaries/orders/runs").await.json()["runs"], serde_json::json!([]));

    for bad in ["limit=0", "limit=abc", "limit=100000", "before=yesterday"] {
        let reply = get(addr, &format!("/api/v1/canaries/home/runs?{bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!reply.error().is_empty());
    }
}

#[tokio::test]
async fn run_reports_by_id_or_unique_prefix() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let whole = get(addr, &format!("/api/v1/runs/{}", HOME_RUNS[2])).await;
    assert_eq!(whole.status, StatusCode::OK);
    let report = whole.json();
    assert_eq!(report["run_id"], HOME_RUNS[2]);
    assert_eq!(report["requests"]["5xx"], 3);
    assert_eq!(report["steps"][1]["name"], ODD_STEP);
    assert_eq!(get(addr, "/api/v1/runs/abc123").await.json()["run_id"], HOME_RUNS[2]);
    let ambiguous = get(addr, "/api/v1/runs/abcdef").await;
    assert_eq!(ambiguous.status, StatusCode::BAD_REQUEST);
    assert!(ambiguous.error().contains("ambiguous"), "{}", ambiguous.error());
    let unknown = get(addr, "/api/v1/runs/0123456789").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.error().contains("0123456789"));
}

#[tokio::test]
async fn artifact_listing_shows_files_and_safe_links_only() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let reply = get(addr, &format!("/api/v1/runs/{}/artifacts", HOME_RUNS[2])).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["artifacts"], run_dir_relative("home", at(120), HOME_RUNS[2]));
    let files: Vec<(&str, &str)> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["content_type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        files,
        [
            ("01-step-succeeded.png", "image/png"),
            ("alias.txt", "text/plain; charset=utf-8"),
            ("home.har", "application/json"),
            ("log.txt", "text/plain; charset=utf-8"),
            ("report.json", "application/json"),
            ("visual/diff.png", "image/png"),
        ]
    );
    assert_eq!(body["files"][0]["size"], PNG.len());

    // A run whose folder is gone.
    std::fs::remove_dir_all(&f.run_folder).unwrap();
    let gone = get(addr, &format!("/api/v1/runs/{}/artifacts", HOME_RUNS[2])).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(get(addr, "/api/v1/runs/0123456789/artifacts").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn artifact_files_are_served_with_their_content_types() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let base = format!("/api/v1/runs/{}/artifacts", HOME_RUNS[2]);
    for (file, content_type) in [
        ("01-step-succeeded.png", "image/png"),
        ("visual/diff.png", "image/png"),
        ("home.har", "application/json"),
        ("report.json", "application/json"),
        ("log.txt", "text/plain; charset=utf-8"),
        ("alias.txt", "text/plain; charset=utf-8"),
    ] {
        let reply = get(addr, &format!("{base}/{file}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{file}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.content_type(), content_type, "{file}");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.body.as_ref(), std::fs::read(f.run_folder.join(file)).unwrap().as_slice(), "{file}");
    }
    // A run id prefix works here too; a missing file is 404 in JSON.
    assert_eq!(get(addr, "/api/v1/runs/abc123/artifacts/log.txt").await.status, StatusCode::OK);
    let missing = get(addr, &format!("{base}/nothing.png")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.error().contains("nothing.png"));
    // A folder is not a file.
    assert_eq!(get(addr, &format!("{base}/visual")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn artifact_path_traversal_is_refused() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let base = format!("/api/v1/runs/{}/artifacts", HOME_RUNS[2]);
    let sibling = run_dir_relative("home", at(60), HOME_RUNS[1]);
    let sibling_name = sibling.rsplit('/').next().unwrap();
    let secret = f.secret_file.display().to_string();
    let attempts: Vec<(String, StatusCode)> = vec![
        // `..` as text, plain and percent-encoded in every spelling: refused before the disk.
        ("../../../../../../../secret.txt".into(), StatusCode::BAD_REQUEST),
        (format!("../{sibling_name}/log.txt"), StatusCode::BAD_REQUEST),
        ("visual/../../log.txt".into(), StatusCode::BAD_REQUEST),
        (
            "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/secret.txt".into(), StatusCode::BAD_REQUEST),
        ("..%2f..%2f..%2f..%2f..%2f..%2f..%2fsecret.txt".into(), StatusCode::BAD_REQUEST),
        ("..%5c..%5csecret.txt".into(), StatusCode::BAD_REQUEST),
        ("./log.txt".into(), StatusCode::BAD_REQUEST),
        ("log.txt%00.png".into(), StatusCode::BAD_REQUEST),
        // Absolute paths, as a leading slash and percent-encoded.
        (format!("/{}", secret.trim_start_matches('/')), StatusCode::BAD_REQUEST),
        (secret.replace('/', "%2F"), StatusCode::BAD_REQUEST),
        // Double-encoding is a file name with `%` in it, which does not exist.
        ("%252e%252e%252fsecret.txt".into(), StatusCode::NOT_FOUND),
        // Symbolic links leading out of the run folder: absolute, relative, and through a folder.
        ("escape.txt".into(), StatusCode::NOT_FOUND),
        ("relative-escape.txt".into(), StatusCode::NOT_FOUND),
        ("up/secret.txt".into(), StatusCode::NOT_FOUND),
    ];
    for (attempt, expected) in attempts {
        let reply = get(addr, &format!("{base}/{attempt}")).await;
        assert_eq!(reply.status, expected, "{attempt}: {}", String::from_utf8_lossy(&reply.body));
        assert!(!reply.text().contains(SECRET), "{attempt} leaked the secret");
        assert!(reply.content_type().starts_with("application/json"), "{attempt}: {}", reply.content_type());
        assert!(!reply.error().is_empty());
    }
    // The links out are not listed either.
    let listing = get(addr, &base).await.text();
    assert!(!listing.contains("escape") && !listing.contains("\"up"), "{listing}");
}

#[tokio::test]
async fn run_now_is_refused_without_a_configured_token() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    for authorization in [None, Some("Bearer anything")] {
        let reply = send(addr, Method::POST, "/api/v1/canaries/home/run", authorization).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(reply.error().contains("server.token"), "{}", reply.error());
    }
    // An empty token counts as none.
    let (addr, _stop2) = start(f.backend.clone(), Some("")).await;
    let reply = send(addr, Method::POST, "/api/v1/canaries/home/run", Some("Bearer ")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(f.backend.started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn run_now_needs_the_right_token() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), Some(TOKEN)).await;
    let run = |authorization: Option<String>, canary: &'static str| async move {
        send(addr, Method::POST, &format!("/api/v1/canaries/{canary}/run"), authorization.as_deref()).await
    };
    let missing = run(None, "home").await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    for wrong in
        ["Bearer nope", "Bearer s3cret-toke", "Bearer s3cret-token2", "Basic czNjcmV0LXRva2Vu", TOKEN]
    {
        let reply = run(Some(wrong.into()), "home").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{wrong}");
        assert!(!reply.error().is_empty());
    }
    // The guard answers before the canary is looked up.
    assert_eq!(run(Some("Bearer nope".into()), "nope").await.status, StatusCode::UNAUTHORIZED);
    assert!(f.backend.started.lock().unwrap().is_empty());

    let right = Some(format!("Bearer {TOKEN}"));
    let started = run(right.clone(), "home").await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    assert_eq!(started.json()["canary"], "home");
    assert_eq!(*f.backend.started.lock().unwrap(), ["home"]);
    let unknown = run(right.clone(), "nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.error().contains("nope"));
    let busy = run(right.clone(), "orders").await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert!(busy.error().contains("already running"));
    // Reading needs no token; GET on the write endpoint is not allowed.
    assert_eq!(get(addr, "/api/v1/canaries").await.status, StatusCode::OK);
    assert_eq!(
        send(addr, Method::GET, "/api/v1/canaries/home/run", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn every_write_is_guarded_even_on_unknown_paths() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), Some(TOKEN)).await;
    for (method, path) in [
        (Method::DELETE, format!("/api/v1/runs/{}", HOME_RUNS[0])),
        (Method::PUT, "/api/v1/canaries/home".to_string()),
        (Method::POST, "/api/v1/something/new".to_string()),
        (Method::PATCH, "/metrics".to_string()),
    ] {
        let reply = send(addr, method.clone(), &path, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    // With the token, they are what they are: not found, not allowed.
    let auth = format!("Bearer {TOKEN}");
    assert_eq!(
        send(addr, Method::POST, "/api/v1/something/new", Some(&auth)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(addr, Method::DELETE, "/healthz", Some(&auth)).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(get(addr, "/api/v1/nothing").await.status, StatusCode::NOT_FOUND);
    assert!(!get(addr, "/api/v1/nothing").await.error().is_empty());
}

#[tokio::test]
async fn config_errors_are_listed() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let body = get(addr, "/api/v1/config/errors").await.json();
    assert_eq!(body["errors"], serde_json::json!(BROKEN_PROBLEMS));
    assert_eq!(
        body["files"],
        serde_json::json!([
            {"file": "canaries/broken.yaml", "problems": BROKEN_PROBLEMS, "previous_version": true}
        ])
    );
}

#[tokio::test]
async fn the_dashboard_lists_canaries_with_links() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let reply = get(addr, "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.content_type().starts_with("text/html"));
    let html = reply.text();
    for name in ["disabled", "home", "orders"] {
        assert!(html.contains(&format!("<a href=\"/canaries/{name}\">{name}</a>")), "{name}\n{html}");
    }
    assert!(html.contains(&format!("href=\"/runs/{}\"", HOME_RUNS[2])), "{html}");
    assert!(html.contains("<span class=\"badge bad\">FAILED</span>"), "{html}");
    assert!(html.contains("<span class=\"badge busy\">running</span>"), "{html}");
    assert!(html.contains("canaries/broken.yaml:3:7"));
    assert!(html.contains("datetime=\"2025-03-04T05:13:07Z\""), "next fire\n{html}");
    assert!(html.contains("team=web"), "tags\n{html}");
    assert!(!html.contains("<b>"), "step names are escaped");

    // Filters: by status, by tag, by text.
    let failing = get(addr, "/?status=failing").await.text();
    assert!(failing.contains(">home</a>") && !failing.contains(">orders</a>"), "{failing}");
    let running = get(addr, "/?status=running").await.text();
    assert!(running.contains(">orders</a>") && !running.contains(">home</a>"), "{running}");
    let none = get(addr, "/?tag=team%3Dmobile").await.text();
    assert!(none.contains("No canary matches these filters."), "{none}");
    let text = get(addr, "/?q=DISAB").await.text();
    assert!(text.contains(">disabled</a>") && !text.contains(">home</a>"), "{text}");
}

#[tokio::test]
async fn the_canary_run_alarm_and_failover_pages_show_what_the_store_holds() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    let canary = get(addr, "/canaries/home").await;
    assert_eq!(canary.status, StatusCode::OK);
    let html = canary.text();
    for run in HOME_RUNS {
        assert!(html.contains(&format!("href=\"/runs/{run}\"")), "{run}\n{html}");
    }
    assert!(html.contains("data-post=\"/api/v1/canaries/home/run\""), "run now\n{html}");
    assert!(html.contains("home-availability"), "its alarm\n{html}");
    let failed_only = get(addr, "/canaries/home?status=FAILED").await.text();
    assert!(failed_only.contains(HOME_RUNS[2]) && !failed_only.contains(HOME_RUNS[0]), "{failed_only}");
    assert_eq!(get(addr, "/canaries/home?status=NOPE").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(addr, "/canaries/nobody").await.status, StatusCode::NOT_FOUND);
    // A canary no longer loaded still shows its history.
    assert!(get(addr, "/canaries/retired").await.text().contains("no longer loaded"));

    let run = get(addr, &format!("/runs/{}", &HOME_RUNS[2][..8])).await;
    assert_eq!(run.status, StatusCode::OK, "a prefix finds the run");
    let html = run.text();
    assert!(html.contains("step 2: expected status == 200, got 500"), "{html}");
    assert!(html.contains("say &quot;hi&quot; \\ &lt;b&gt;"), "the odd step name, escaped\n{html}");
    assert!(
        html.contains(&format!("src=\"/api/v1/runs/{}/artifacts/01-step-succeeded.png\"", HOME_RUNS[2])),
        "{html}"
    );
    assert!(html.contains(&format!("run {} log", HOME_RUNS[2])), "log.txt\n{html}");
    assert_eq!(get(addr, "/runs/nothing-like-it").await.status, StatusCode::NOT_FOUND);

    let alarms = get(addr, "/alarms").await.text();
    assert!(alarms.contains("<a href=\"/alarms/home-availability\">home-availability</a>"), "{alarms}");
    let alarm = get(addr, "/alarms/site-down").await.text();
    assert!(alarm.contains("home-availability OR api-availability"), "the composite's rule\n{alarm}");
    assert!(
        alarm.contains("<a href=\"/alarms/api-availability\">api-availability</a>"),
        "its children\n{alarm}"
    );
    assert_eq!(get(addr, "/alarms/nope").await.status, StatusCode::NOT_FOUND);

    let failover = get(addr, "/failover").await.text();
    assert!(failover.contains("198.51.100.20") && failover.contains("192.0.2.10"), "{failover}");
    assert!(failover.contains("answered REFUSED"), "{failover}");
}

#[tokio::test]
async fn serve_binds_answers_and_stops_gracefully() {
    let f = fixture();
    // Find a free port, then let `serve` bind it.
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let backend: Arc<dyn Backend> = f.backend.clone();
    let server = tokio::spawn(server::serve(addr, backend, None, async move {
        let _ = stopped.await;
    }));
    let mut reply = None;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_ok() {
            reply = Some(get(addr, "/healthz").await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reply.expect("the server listens").text(), "ok");
    stop.send(()).unwrap();
    let result =
        tokio::time::timeout(Duration::from_secs(5), server).await.expect("stops within 5 s").unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
}

#[tokio::test]
async fn serve_names_the_address_it_cannot_bind() {
    let f = fixture();
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let backend: Arc<dyn Backend> = f.backend.clone();
    let error = server::serve(addr, backend, None, std::future::pending()).await.unwrap_err().to_string();
    assert!(error.contains(&addr.to_string()), "{error}");
    assert!(error.contains("server.listen"), "{error}");
}

// ---- Security headers and the token ----

/// The headers every response carries.
fn assert_security_headers(what: &str, reply: &Reply) {
    let header = |name: &str| {
        reply.headers.get(name).map_or_else(
            || panic!("{what}: no `{name}` header; headers: {:?}", reply.headers),
            |v| v.to_str().unwrap().to_string(),
        )
    };
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    let policy = header("content-security-policy");
    assert!(policy.contains("frame-ancestors 'none'"), "{what}: {policy}");
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), Some(TOKEN)).await;
    let artifact = format!("/api/v1/runs/{}/artifacts/log.txt", HOME_RUNS[2]);
    let replies = [
        ("dashboard", get(addr, "/").await),
        ("stylesheet", get(addr, "/dashboard.css").await),
        ("healthz", get(addr, "/healthz").await),
        ("metrics", get(addr, "/metrics").await),
        ("api", get(addr, "/api/v1/canaries").await),
        ("artifact", get(addr, &artifact).await),
        ("traversal", get(addr, &format!("/api/v1/runs/{}/artifacts/..%2flog.txt", HOME_RUNS[2])).await),
        ("not found", get(addr, "/nope").await),
        ("write without token", send(addr, Method::POST, "/api/v1/canaries/home/run", None).await),
        ("token in URL", get(addr, &format!("/api/v1/canaries?token={TOKEN}")).await),
    ];
    for (what, reply) in &replies {
        assert_security_headers(what, reply);
    }
    // Pages and the API: nothing but our own stylesheet and images may load.
    let policy = replies[0].1.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(policy.contains("style-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    // Artifacts keep their sandbox.
    let artifact_policy = replies[5].1.headers["content-security-policy"].to_str().unwrap();
    assert_eq!(artifact_policy, "sandbox; frame-ancestors 'none'");
}

#[tokio::test]
async fn the_dashboard_works_under_its_policy() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), None).await;
    for path in ["/", "/canaries/home", &format!("/runs/{}", HOME_RUNS[2]), "/alarms", "/failover"] {
        let html = get(addr, path).await.text();
        // No inline style or script for the policy to block; stylesheet and script are ours.
        assert!(!html.contains("<style") && !html.contains("style="), "{path}\n{html}");
        assert!(!html.contains("<script>"), "{path}: no inline script\n{html}");
        assert!(html.contains("<link rel=\"stylesheet\" href=\"/assets/dashboard.css\">"), "{html}");
        assert!(html.contains("<script src=\"/assets/dashboard.js\" defer></script>"), "{html}");
    }
    for (path, kind) in [
        ("/assets/dashboard.css", "text/css; charset=utf-8"),
        ("/assets/dashboard.js", "text/javascript; charset=utf-8"),
    ] {
        let asset = get(addr, path).await;
        assert_eq!(asset.status, StatusCode::OK, "{path}");
        assert_eq!(asset.content_type(), kind);
    }
}

/// Opens each dashboard page in Chromium: it loads with no console error or CSP violation, its
/// links answer, the crafted step name and alarm reason stay text; a screenshot of each page is
/// kept in `target/test-artifacts/dashboard/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_reads_every_dashboard_page_with_no_error() {
    use aviary::browser::{BrowserPool, PageOptions, PoolConfig};
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), Some(TOKEN)).await;
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    // Every screenshot the run page shows is there (a missing one would be a console error).
    for shot in ["02-step-failed.png", "03-step-failed.png", "visual/current.png", "visual/baseline.png"] {
        std::fs::write(f.run_folder.join(shot), PNG).unwrap();
    }
    let pool = BrowserPool::new(PoolConfig { max_concurrency: 1, ..PoolConfig::default() });
    let pages = [
        ("overview", "/".to_string(), "Canaries"),
        ("canary", "/canaries/home".to_string(), "Over time"),
        ("run", format!("/runs/{}", HOME_RUNS[2]), "Steps"),
        ("alarms", "/alarms".to_string(), "home-availability"),
        ("alarm", "/alarms/home-availability".to_string(), "Set the state"),
        ("failover", "/failover".to_string(), "198.51.100.20"),
    ];
    for (name, path, expected) in pages {
        let page = pool.acquire(&PageOptions::default()).await.unwrap();
        let console = page.watch_console().await.unwrap();
        let nav = page.goto(&format!("http://{addr}{path}"), Duration::from_secs(20)).await.unwrap();
        assert_eq!(nav.status, Some(200), "{path}");
        let text = page.evaluate("document.querySelector('main').innerText").await.unwrap();
        let text = text.as_str().unwrap_or_default().to_string();
        assert!(text.contains(expected), "{path}: `{expected}` not in\n{text}");
        // The crafted strings are shown as text and made no element.
        assert_eq!(
            page.evaluate("document.querySelectorAll('main b, main img[src=\"x\"]').length").await.unwrap(),
            0,
            "{path}"
        );
        if name == "alarm" || name == "alarms" {
            assert!(text.contains("<img src=x onerror=alert(1)>"), "{path}: the reason as text\n{text}");
        }
        // Every link of the page answers (fetched by the page itself, as a user's click would).
        let links = "Promise.all([...document.querySelectorAll('a[href]')].filter(a => a.origin === location.origin)\
                     .map(a => fetch(a.href).then(r => [a.getAttribute('href'), r.status])))";
        let statuses = page.evaluate(links).await.unwrap();
        for pair in statuses.as_array().unwrap() {
            let status = pair[1].as_u64().unwrap();
            assert!(status < 400, "{path}: link {} answers {status}", pair[0]);
        }
        std::fs::write(shots.join(format!("{name}.png")), page.screenshot(true).await.unwrap()).unwrap();
        let errors = console.errors();
        assert!(errors.is_empty(), "{path}: the page reported errors: {errors:#?}");
        page.close().await;
    }
    pool.shutdown().await;
}

/// The run-now and set-state buttons: ask for the token, send it, say what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_now_button_sends_the_token_it_is_given() {
    use aviary::browser::{BrowserPool, PageOptions, PoolConfig};
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), Some(TOKEN)).await;
    let pool = BrowserPool::new(PoolConfig { max_concurrency: 1, ..PoolConfig::default() });
    let page = pool.acquire(&PageOptions::default()).await.unwrap();
    page.goto(&format!("http://{addr}/canaries/home"), Duration::from_secs(20)).await.unwrap();
    // A wrong token first (kept in the tab's session storage, as a person's answer would be).
    let click = "(async () => { document.querySelector('button[data-post]').click(); \
                 for (let i = 0; i < 100; i++) { const o = document.querySelector('p.actions output').textContent; \
                 if (o && o !== '…') return o; await new Promise(r => setTimeout(r, 50)); } return 'no answer'; })()";
    page.evaluate(
        "window.prompt = () => 'wrong-token'; sessionStorage.setItem('aviary-token', 'wrong-token')",
    )
    .await
    .unwrap();
    let refused = page.evaluate(click).await.unwrap();
    assert!(refused.as_str().unwrap().starts_with("Refused (401)"), "{refused}");
    assert!(f.backend.started.lock().unwrap().is_empty());
    page.evaluate(&format!(
        "window.prompt = () => '{TOKEN}'; document.querySelector('p.actions output').textContent = ''"
    ))
    .await
    .unwrap();
    let started = page.evaluate(click).await.unwrap();
    assert!(started.as_str().unwrap().starts_with("Run started"), "{started}");
    assert_eq!(*f.backend.started.lock().unwrap(), vec!["home".to_string()]);

    // Set-state on an alarm's page, with the token the tab keeps.
    page.goto(&format!("http://{addr}/alarms/home-availability"), Duration::from_secs(20)).await.unwrap();
    let set = "(async () => { const form = document.querySelector('form.set-state'); \
               form.querySelector('select').value = 'OK'; form.querySelector('input[name=reason]').value = 'maintenance over'; \
               form.requestSubmit(); \
               for (let i = 0; i < 100; i++) { const o = form.querySelector('output').textContent; \
               if (o && o !== '…') return o; await new Promise(r => setTimeout(r, 50)); } return 'no answer'; })()";
    let answer = page.evaluate(set).await.unwrap();
    assert_eq!(answer, "State set.", "{answer}");
    assert_eq!(f.backend.started.lock().unwrap()[1], "set-state home-availability OK maintenance over");
    page.close().await;
    pool.shutdown().await;
}

#[tokio::test]
async fn a_token_in_the_url_is_refused() {
    let f = fixture();
    let (addr, _stop) = start(f.backend.clone(), Some(TOKEN)).await;
    for (method, path) in [
        (Method::POST, format!("/api/v1/canaries/home/run?token={TOKEN}")),
        (Method::POST, format!("/api/v1/canaries/home/run?access_token={TOKEN}")),
        (Method::GET, format!("/api/v1/canaries?TOKEN={TOKEN}")),
    ] {
        let reply = send(addr, method.clone(), &path, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert!(reply.error().contains("Authorization: Bearer"), "{}", reply.error());
        assert!(!reply.text().contains(TOKEN), "the reply repeats the token");
    }
    // Even with the right header too: the URL has already leaked it.
    let auth = format!("Bearer {TOKEN}");
    let both =
        send(addr, Method::POST, &format!("/api/v1/canaries/home/run?token={TOKEN}"), Some(&auth)).await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert!(f.backend.started.lock().unwrap().is_empty());
}

// ---- Slow clients ----

/// Short limits so that the tests need not wait long.
fn short_limits(max_connections: usize) -> server::Limits {
    server::Limits {
        header_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(5),
        max_connections,
    }
}

/// A client that sends a request line, then one header line every 100 ms, for up to 20 s.
/// Returns how many lines it sent before the server closed the connection, or `None` if it
/// never did.
async fn trickle(addr: SocketAddr) -> Option<usize> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    for line in 0..200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(format!("X-Slow-{line}: y\r\n").as_bytes()).await.is_err() {
            return Some(line);
        }
        let mut buf = [0u8; 256];
        // Whatever the server says (a 408, say) before it closes is read and ignored.
        let read = tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return Some(line);
        }
    }
    None
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    let f = fixture();
    let (addr, _stop) = start_with_limits(f.backend.clone(), None, short_limits(16)).await;
    let lines = trickle(addr).await;
    assert!(lines.is_some(), "the server kept a trickling client for 20 s");
    // A normal client is served meanwhile and after.
    assert_eq!(get(addr, "/healthz").await.text(), "ok");
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture();
    let (addr, _stop) = start_with_limits(f.backend.clone(), None, short_limits(16)).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut buf)).await;
    assert!(closed.is_ok(), "a connection that sends nothing stayed open for 20 s");

    // A kept-alive connection waiting for its next request is closed the same way.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\nok") {
        let n = kept.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response: {}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&buf[..n]);
    }
    let idle = tokio::time::timeout(Duration::from_secs(20), kept.read(&mut buf)).await;
    assert!(matches!(idle, Ok(Ok(0) | Err(_))), "an idle kept-alive connection stayed open: {idle:?}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_after_the_idle_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture();
    // Far more than the socket buffers of both ends hold.
    let size = 32 << 20;
    std::fs::write(f.run_folder.join("big.bin"), vec![7u8; size]).unwrap();
    let limits = server::Limits { idle_timeout: Duration::from_secs(1), ..server::Limits::default() };
    let (addr, _stop) = start_with_limits(f.backend.clone(), None, limits).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /api/v1/runs/{}/artifacts/big.bin HTTP/1.1\r\nHost: x\r\n\r\n", HOME_RUNS[2]);
    client.write_all(request.as_bytes()).await.unwrap();
    // The client reads nothing for a while: the server's writes stall.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), client.read_to_end(&mut received))
        .await
        .expect("the connection ends");
    assert!(
        read.is_err() || received.len() < size,
        "the whole response came through after the client stalled ({} bytes)",
        received.len()
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture();
    let limits = server::Limits { header_timeout: Duration::from_secs(60), ..short_limits(2) };
    let (addr, _stop) = start_with_limits(f.backend.clone(), None, limits).await;
    // Two connections that send nothing take both slots.
    let first = TcpStream::connect(addr).await.unwrap();
    let _second = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A third is queued (the kernel completes the handshake) but not served.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut reply = Vec::new();
    let early = tokio::time::timeout(Duration::from_secs(1), third.read_to_end(&mut reply)).await;
    assert!(early.is_err(), "served beyond the cap: {}", String::from_utf8_lossy(&reply));
    // Once a slot frees, it is served.
    drop(first);
    tokio::time::timeout(Duration::from_secs(10), third.read_to_end(&mut reply))
        .await
        .expect("served once a slot is free")
        .unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("ok"), "{text}");
}

#[tokio::test]
async fn healthz_answers_while_slow_clients_hold_every_slot() {
    let f = fixture();
    let (addr, _stop) = start_with_limits(f.backend.clone(), None, short_limits(4)).await;
    let slow: Vec<_> = (0..8).map(|_| tokio::spawn(trickle(addr))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = tokio::time::timeout(Duration::from_secs(20), get(addr, "/healthz"))
        .await
        .expect("a normal client is answered once the slow ones are dropped");
    assert_eq!(reply.text(), "ok");
    for client in slow {
        assert!(client.await.unwrap().is_some(), "a slow client was kept");
    }
}

// ---- A real daemon: promtool, and step series after an ERROR run ----

const T: Duration = Duration::from_secs(30);

/// A two-step API canary (`first`, `second`): `GET {base}{path}` twice, status 200 expected.
fn two_step_canary(base: &str, path: &str) -> String {
    format!(
        "blueprint: api\nschedule: rate(1 hour)\ntimeout: 20s\napi:\n  steps:\n    \
         - name: first\n      request: {{url: \"{base}{path}\"}}\n      assert: [status == 200]\n    \
         - name: second\n      request: {{url: \"{base}{path}\"}}\n      assert: [status == 200]\n"
    )
}

/// `promtool`, if installed. Without it the caller skips, except in CI (env `CI` set), where
/// the test must run.
fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("promtool"))
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is required in CI: install the `prometheus` package (scripts/setup.sh does)"
        );
        eprintln!("NOTICE: promtool is not installed (Debian package `prometheus`); test skipped");
    }
    found
}

/// What `promtool check metrics` says about an exposition: its exit status and its findings.
fn promtool_check(promtool: &Path, exposition: &str) -> (std::process::ExitStatus, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let findings =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status, findings)
}

#[test]
fn metrics_of_a_running_daemon_pass_promtool() {
    use daemon_support::{Daemon, http, is_run_of, listen_addr};
    let Some(promtool) = promtool() else { return };
    // promtool itself finds what we must not do.
    let (status, findings) = promtool_check(&promtool, "# HELP a_ms x\n# TYPE a_ms gauge\na_ms 1\n");
    assert!(!status.success() && findings.contains("abbreviated units"), "{status}: {findings}");

    let site = api_site::start_api_site();
    let project = support::Project::new();
    project.file("aviary.yaml", "server: {listen: \"127.0.0.1:0\"}\n");
    project.canary("ok", &two_step_canary(&site.base(), "/api/status/200"));
    project.canary("down", &two_step_canary(&site.base(), "/api/status/503"));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    daemon.wait_for("run of ok", T, |e| is_run_of(e, "ok"));
    daemon.wait_for("run of down", T, |e| is_run_of(e, "down"));
    let (code, text) = http(&listen_addr(&daemon), "GET", "/metrics", None);
    assert_eq!(code, 200, "{text}");

    let m = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(m.get("aviary_duration_seconds", &[("canary", "ok")]).is_some_and(|s| s > 0.0), "{text}");
    assert_eq!(m.get("aviary_step_success_percent", &[("canary", "down"), ("step", "first")]), Some(0.0));
    assert!(m.get("aviary_step_duration_seconds", &[("canary", "ok"), ("step", "second")]).is_some());
    assert!(m.get("aviary_run_duration_seconds_count", &[("canary", "ok")]).is_some(), "{text}");
    let (status, findings) = promtool_check(&promtool, &text);
    assert!(status.success(), "promtool check metrics failed ({status}):\n{findings}\n{text}");
    assert_eq!(findings.trim(), "", "promtool findings:\n{text}");
}

#[test]
fn a_real_prometheus_scrapes_openmetrics_from_the_daemon() {
    use daemon_support::{Daemon, http, is_run_of, listen_addr, request, try_request};
    let Some(promtool) = promtool() else { return };
    let prometheus = promtool.with_file_name("prometheus");
    let site = api_site::start_api_site();
    let project = support::Project::new();
    project.file("aviary.yaml", "server: {listen: \"127.0.0.1:0\"}\n");
    project.canary("ok", &two_step_canary(&site.base(), "/api/status/200"));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    daemon.wait_for("run of ok", T, |e| is_run_of(e, "ok"));
    let addr = listen_addr(&daemon);

    let openmetrics =
        [("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")];
    let (code, head, text) = request(&addr, "GET", "/metrics", &openmetrics);
    assert_eq!(code, 200, "{text}");
    assert!(
        head.to_ascii_lowercase().contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE aviary_runs counter\n") && text.contains("aviary_runs_total{"), "{text}");
    assert!(text.contains("# UNIT aviary_run_duration_seconds seconds\n"), "{text}");
    let (_, plain_head, plain) = request(&addr, "GET", "/metrics", &[]);
    assert!(
        plain_head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"),
        "{plain_head}"
    );
    assert!(!plain.contains("# EOF"));

    // Prometheus asks for OpenMetrics first and rejects an exposition that breaks its rules.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = project.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n  - job_name: aviary\n    static_configs: [{{targets: [\"{addr}\"]}}]\n"),
    )
    .unwrap();
    let log = std::fs::File::create(project.path().join("prometheus.log")).unwrap();
    let mut server = KillOnDrop(
        std::process::Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", project.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let prometheus_addr = format!("127.0.0.1:{port}");
    let query = |q: &str| -> Value {
        let path = format!("/api/v1/query?query={q}");
        let answer = try_request(&prometheus_addr, "GET", &path, &[]);
        answer.ok().and_then(|(_, _, body)| serde_json::from_str(&body).ok()).unwrap_or(Value::Null)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let runs = loop {
        let found = query("aviary_runs_total");
        if found["data"]["result"].as_array().is_some_and(|r| !r.is_empty()) {
            break found;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "prometheus exited ({status}): {}",
                std::fs::read_to_string(project.path().join("prometheus.log")).unwrap_or_default()
            );
        }
        if std::time::Instant::now() > deadline {
            let targets = try_request(&prometheus_addr, "GET", "/api/v1/targets", &[]);
            panic!("Prometheus never stored a sample; its targets: {targets:?}");
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let sample = &runs["data"]["result"][0];
    assert_eq!(sample["metric"]["canary"], "ok", "{runs}");
    assert_eq!(sample["metric"]["status"], "PASSED", "{runs}");
    let up = query("up");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    let (_, targets) = http(&prometheus_addr, "GET", "/api/v1/targets", None);
    assert!(targets.contains("\"lastError\":\"\""), "{targets}");
    let durations = query("aviary_run_duration_seconds_count");
    assert_eq!(durations["data"]["result"][0]["value"][1], "1", "{durations}");
    server.0.kill().ok();
}

/// A child process killed and reaped when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn step_series_show_only_the_last_run_after_an_error() {
    use daemon_support::{Daemon, field, http, is_run_of, listen_addr};
    let site = api_site::start_api_site();
    let project = support::Project::new();
    project.file("aviary.yaml", &format!("server: {{listen: \"127.0.0.1:0\", token: {TOKEN}}}\n"));
    project.canary("flaky", &two_step_canary(&site.base(), "/api/status/200"));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    daemon.wait_for("first run", T, |e| is_run_of(e, "flaky"));
    let addr = listen_addr(&daemon);
    let metrics = || {
        let (_, text) = http(&addr, "GET", "/metrics", None);
        prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    };
    let step = |name| [("canary", "flaky"), ("step", name)];
    assert_eq!(metrics().get("aviary_step_success_percent", &step("first")), Some(100.0));

    // The next run cannot create its artifact folder: an ERROR run with no step.
    let folder = project.path().join(".aviary/artifacts/flaky");
    std::fs::remove_dir_all(&folder).unwrap();
    std::fs::write(&folder, "not a folder").unwrap();
    assert_eq!(http(&addr, "POST", "/api/v1/canaries/flaky/run", Some(TOKEN)).0, 202);
    let runs = daemon.wait_for_n("the ERROR run", 2, T, |e| is_run_of(e, "flaky"));
    assert_eq!(field(&runs[1], "status"), "ERROR", "{}", runs[1]);

    // The run's log line comes just before the daemon takes the run as the canary's last.
    let deadline = std::time::Instant::now() + T;
    let m = loop {
        let m = metrics();
        if m.get("aviary_success_percent", &[("canary", "flaky")]) == Some(0.0) {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "the ERROR run never became the last run");
        std::thread::sleep(Duration::from_millis(50));
    };
    for name in ["first", "second"] {
        assert_eq!(m.get("aviary_step_success_percent", &step(name)), None, "step {name}");
        assert_eq!(m.get("aviary_step_duration_seconds", &step(name)), None, "step {name}");
    }
}

#[test]
fn the_token_never_reaches_the_log() {
    use daemon_support::{Daemon, http, is_run_of, listen_addr};
    let site = api_site::start_api_site();
    let project = support::Project::new();
    project.file("aviary.yaml", &format!("server: {{listen: \"127.0.0.1:0\", token: {TOKEN}}}\n"));
    project.canary("ok", &two_step_canary(&site.base(), "/api/status/200"));
    // Debug logging: the server and hyper say the most they ever say.
    let mut daemon = Daemon::start(project.path(), "daemon.log", &["-vv"]);
    daemon.wait_for("first run", T, |e| is_run_of(e, "ok"));
    let addr = listen_addr(&daemon);
    assert_eq!(http(&addr, "POST", "/api/v1/canaries/ok/run", Some(TOKEN)).0, 202);
    assert_eq!(http(&addr, "POST", "/api/v1/canaries/ok/run", Some(&format!("{TOKEN}x"))).0, 401);
    assert_eq!(http(&addr, "GET", &format!("/api/v1/canaries?token={TOKEN}"), None).0, 400);
    assert_eq!(http(&addr, "POST", &format!("/api/v1/canaries/ok/run?token={TOKEN}"), None).0, 400);
    daemon.wait_for_n("the requested run", 2, T, |e| is_run_of(e, "ok"));
    let log = daemon.log_text();
    assert!(log.contains("\"level\":\"DEBUG\""), "debug logging is on:\n{log}");
    assert!(!log.contains(TOKEN), "the token is in the log:\n{log}");
}

/// One request over a Unix socket; returns the status and the body.
async fn send_unix(socket: &Path, method: Method, path: &str) -> (StatusCode, String) {
    let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = Request::builder().method(method).uri(path).header("host", "localhost");
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        sender.send_request(request.body(Empty::<Bytes>::new()).unwrap()),
    )
    .await
    .expect("the server answers within 10 s")
    .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn writes_over_the_unix_socket_need_no_token_and_tcp_keeps_the_guard() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = server::socket::path_in(dir.path());
    // A socket left behind by a killed process (nothing answers on it) is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (unix, file) = server::socket::bind(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    // While it answers, a second one is refused.
    assert!(matches!(server::socket::bind(&path), Err(server::socket::SocketError::InUse(_))));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let backend: Arc<dyn Backend> = f.backend.clone();
    tokio::spawn(server::serve_unix(unix, backend, None, server::Limits::default(), async move {
        let _ = stopped.await;
    }));
    let (addr, _stop_tcp) = start(f.backend.clone(), None).await;

    let (status, body) = send_unix(&path, Method::POST, "/api/v1/canaries/home/run").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(*f.backend.started.lock().unwrap(), ["home"]);
    let reply = send(addr, Method::POST, "/api/v1/canaries/home/run", None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A token in the URL is refused on the socket too.
    let (status, _) = send_unix(&path, Method::GET, "/api/v1/canaries?token=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let _ = stop.send(());
    drop(file);
    assert!(!path.exists(), "dropping the socket file removes it");
}
