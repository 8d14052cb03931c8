//! `aviary daemon`, end to end: the real binary on API canaries against a local JSON API; the
//! daemon's JSON log lines, signals and the database are what is checked. (The timer queue's
//! rules — ordering, skips, lateness, spreading — are unit-tested in `src/daemon/scheduler.rs`
//! with an injected clock; schedules shorter than a minute do not exist, so these tests see
//! the runs at start, after reloads and through the skip rule.)

#[path = "support/api_site.rs"]
mod api_site;
#[path = "support/daemon.rs"]
mod daemon_support;
mod support;

use std::time::{Duration, Instant};

use api_site::start_api_site;
use aviary::store::{RunPage, SqliteStore, Store};
use daemon_support::{Daemon, field, http, is_about, is_run_of, listen_addr, message};
use support::{Project, stdout};

/// A one-step API canary: `GET {BASE}{path}`, status 200 expected.
fn canary(base: &str, path: &str, extra: &str) -> String {
    format!(
        "blueprint: api\nschedule: rate(1 minute)\ntimeout: 20s\nenv: {{BASE: \"{base}\"}}\n{extra}\napi:\n  steps:\n    \
         - name: get\n      request: {{url: \"${{BASE}}{path}\"}}\n      assert: [status == 200]\n"
    )
}

/// A project whose server listens on a free port.
fn project() -> Project {
    let project = Project::new();
    project.file("aviary.yaml", "server: {listen: \"127.0.0.1:0\"}\nrunner: {max_concurrency: 4}\n");
    project
}

fn store(project: &Project) -> SqliteStore {
    SqliteStore::open(&project.path().join(".aviary/aviary.db")).unwrap()
}

fn stored_runs(project: &Project, canary: &str) -> Vec<aviary::store::RunSummary> {
    store(project).runs(canary, RunPage::first(100)).unwrap()
}

const T: Duration = Duration::from_secs(30);

#[test]
fn every_enabled_canary_runs_at_start_with_a_log_line_per_run() {
    let site = start_api_site();
    let project = project();
    project.canary("ok", &canary(&site.base(), "/api/status/200", ""));
    project.canary("single", &canary(&site.base(), "/api/status/200", "").replace("rate(1 minute)", "once"));
    project.canary("off", &canary(&site.base(), "/api/status/200", "enabled: false"));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);

    let ok = daemon.wait_for("run of ok", T, |e| is_run_of(e, "ok"));
    daemon.wait_for("run of single", T, |e| is_run_of(e, "single"));
    assert_eq!(field(&ok, "status"), "PASSED");
    assert_eq!(field(&ok, "attempt"), 1);
    assert_eq!(field(&ok, "trigger"), "start");
    assert_eq!(field(&ok, "final_attempt"), true);
    assert!(field(&ok, "duration_ms").as_u64().is_some(), "{ok}");
    assert_eq!(field(&ok, "reason"), "");
    assert_eq!(ok["level"], "INFO");

    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.runs_of("off").is_empty(), "a disabled canary does not run");
    assert_eq!(stored_runs(&project, "ok").len(), 1);
    assert_eq!(stored_runs(&project, "single").len(), 1);
    assert!(stored_runs(&project, "off").is_empty());
    assert_eq!(field(&ok, "run_id"), stored_runs(&project, "ok")[0].run_id.as_str());

    // The default (text) log format shows the same line.
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(T).and_then(|s| s.code()), Some(0));
}

#[test]
fn the_default_log_shows_a_line_per_run_in_text() {
    let site = start_api_site();
    let project = project();
    project.canary("plain", &canary(&site.base(), "/api/status/503", ""));
    let log = project.path().join("text.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aviary"))
        .arg("daemon")
        .current_dir(project.path())
        .env_remove("AVIARY_LOG")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + T;
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("run finished") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    let line = text.lines().find(|l| l.contains("run finished")).unwrap_or_else(|| panic!("log:\n{text}"));
    for part in
        ["INFO", "canary=plain", "status=FAILED", "attempt=1", "duration_ms=", "expected status == 200"]
    {
        assert!(line.contains(part), "{part} missing in {line}");
    }
}

#[test]
fn retries_keep_every_attempt() {
    let site = start_api_site();
    let project = project();
    project.canary("flaky", &canary(&site.base(), "/api/status/500", "retries: 2"));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);

    let attempts = daemon.wait_for_n("three attempts", 3, T, |e| is_run_of(e, "flaky"));
    let numbers: Vec<u64> = attempts.iter().map(|e| field(e, "attempt").as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3]);
    let finals: Vec<bool> = attempts.iter().map(|e| field(e, "final_attempt").as_bool().unwrap()).collect();
    assert_eq!(finals, [false, false, true]);
    assert!(attempts.iter().all(|e| field(e, "status") == "FAILED"));
    assert!(field(&attempts[2], "reason").as_str().unwrap().contains("500"), "{}", attempts[2]);

    let mut stored: Vec<u32> = stored_runs(&project, "flaky").iter().map(|r| r.attempt).collect();
    stored.sort_unstable();
    assert_eq!(stored, [1, 2, 3], "every attempt is stored with its number");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(daemon.runs_of("flaky").len(), 3, "no fourth attempt");
}

#[test]
fn a_stop_ends_a_retry_delay_without_retrying() {
    let site = start_api_site();
    let project = project();
    let waits = "schedule: once\nretries: 1\nretry_delay: 5m";
    project.canary(
        "flaky",
        &canary(&site.base(), "/api/status/500", waits).replace("schedule: rate(1 minute)\n", ""),
    );
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    let waiting =
        daemon.wait_for("the retry's wait", T, |e| is_about(e, "retrying after retry_delay", "flaky"));
    assert_eq!(field(&waiting, "delay_ms"), 300_000);
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(T).and_then(|s| s.code()), Some(0), "the wait did not hold the stop");
    assert!(daemon.events().iter().any(|e| is_about(e, "no retry: the daemon is stopping", "flaky")));
    assert_eq!(stored_runs(&project, "flaky").len(), 1, "only the first attempt ran");
}

#[test]
fn a_fire_while_the_canary_is_running_is_skipped() {
    let site = start_api_site();
    let project = project();
    let slow = canary(&site.base(), "/api/slow/4000", "");
    project.canary("slow", &slow);
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    std::thread::sleep(Duration::from_millis(500));

    // A changed canary fires at once; its first run is still going: that fire is skipped.
    project.canary("slow", &slow.replace("timeout: 20s", "timeout: 25s"));
    let skip = daemon.wait_for("a skipped fire", T, |e| is_about(e, "fire skipped", "slow"));
    assert!(daemon.runs_of("slow").is_empty(), "skipped while the first run was going");
    assert!(field(&skip, "due").as_str().is_some());

    let run = daemon.wait_for("the first run", T, |e| is_run_of(e, "slow"));
    assert_eq!(field(&run, "status"), "PASSED");
    assert_eq!(field(&run, "trigger"), "start");
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(daemon.runs_of("slow").len(), 1, "the skipped fire did not pile up behind the run");
    assert_eq!(stored_runs(&project, "slow").len(), 1);
}

#[test]
fn hot_reload_adds_changes_keeps_broken_and_removes() {
    let site = start_api_site();
    let project = project();
    project.canary("a", &canary(&site.base(), "/api/status/200", ""));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    daemon.wait_for("first run of a", T, |e| is_run_of(e, "a"));

    // Add b: it runs at once.
    project.canary("b", &canary(&site.base(), "/api/status/200", ""));
    daemon.wait_for("b added", T, |e| is_about(e, "canary added", "b"));
    let b = daemon.wait_for("run of b", T, |e| is_run_of(e, "b"));
    assert_eq!(field(&b, "trigger"), "reload");

    // Change a: it runs at once with its new settings.
    project.canary("a", &canary(&site.base(), "/api/status/404", ""));
    daemon.wait_for("a changed", T, |e| is_about(e, "canary changed", "a"));
    let runs = daemon.wait_for_n("second run of a", 2, T, |e| is_run_of(e, "a"));
    assert_eq!(field(&runs[1], "status"), "FAILED");
    assert_eq!(field(&runs[1], "trigger"), "reload");

    // Break a: the problem is logged with its position; the previous version stays loaded.
    project.canary("a", &canary(&site.base(), "/api/status/200", "retires: 1"));
    let problem = daemon
        .wait_for("a's problem", T, |e| message(e).contains("a.yaml:") && message(e).contains("retires"));
    assert_eq!(problem["level"], "WARN");
    daemon.wait_for("a kept", T, |e| is_about(e, "previous version keeps running", "a"));
    assert_eq!(daemon.runs_of("a").len(), 2, "a broken file does not run");

    // SIGHUP reloads too (nothing changed: nothing runs).
    daemon.signal("HUP");
    daemon.wait_for("SIGHUP", T, |e| message(e).contains("SIGHUP"));
    daemon.wait_for_n("a kept twice", 2, T, |e| is_about(e, "previous version keeps running", "a"));

    // Remove b.
    std::fs::remove_file(project.path().join("canaries/b.yaml")).unwrap();
    daemon.wait_for("b removed", T, |e| is_about(e, "canary removed", "b"));

    // Fix a: it is changed again against the version that kept running, and runs.
    project.canary("a", &canary(&site.base(), "/api/status/200", "tags: {fixed: \"yes\"}"));
    let runs = daemon.wait_for_n("third run of a", 3, T, |e| is_run_of(e, "a"));
    assert_eq!(field(&runs[2], "status"), "PASSED");
    assert_eq!(daemon.runs_of("b").len(), 1);

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(T).and_then(|s| s.code()), Some(0));
}

#[test]
fn sigkill_at_any_moment_keeps_history_and_a_restart_goes_on() {
    let site = start_api_site();
    let project = project();
    project.canary("fast", &canary(&site.base(), "/api/status/200", ""));
    project.canary("slow", &canary(&site.base(), "/api/slow/5000", ""));
    let mut daemon = Daemon::start(project.path(), "first.log", &[]);
    daemon.wait_for("run of fast", T, |e| is_run_of(e, "fast"));
    // Killed while `slow` is in flight.
    daemon.signal("KILL");
    let status = daemon.wait_exit(T).unwrap();
    assert_eq!(status.code(), None, "killed by a signal");

    let runs = project.aviary(&["runs", "fast"]);
    assert_eq!(runs.status.code(), Some(0));
    assert_eq!(stdout(&runs).matches("PASSED").count(), 1, "{}", stdout(&runs));
    assert!(stored_runs(&project, "slow").is_empty(), "no half-written run");
    assert!(store(&project).integrity_check().unwrap());
    assert!(project.path().join(".aviary/artifacts/slow").is_dir(), "the unfinished run left its folder");

    // Restarted: the history is there, the unfinished run's folder is gone, and the canaries
    // run again at start.
    let mut daemon = Daemon::start(project.path(), "second.log", &[]);
    daemon.wait_for("run of fast after restart", T, |e| is_run_of(e, "fast"));
    let removed = daemon.wait_for("the unfinished run's folder removed", T, |e| {
        message(e) == "retention: removed the folders of unfinished runs"
    });
    assert_eq!(field(&removed, "folders_removed"), 1);
    daemon.signal("KILL");
    daemon.wait_exit(T).unwrap();
    let runs = project.aviary(&["runs", "fast"]);
    assert_eq!(stdout(&runs).matches("PASSED").count(), 2, "{}", stdout(&runs));
    assert!(store(&project).integrity_check().unwrap());
}

#[test]
fn sigterm_drains_the_run_in_flight_and_exits_0() {
    let site = start_api_site();
    let project = project();
    project.canary("slow", &canary(&site.base(), "/api/slow/3000", ""));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    std::thread::sleep(Duration::from_millis(700));
    let asked = Instant::now();
    daemon.signal("TERM");
    daemon.wait_for("drain", T, |e| message(e).contains("waiting for the runs in flight"));
    let status = daemon.wait_exit(T).expect("exited after the drain");
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log_text());
    assert!(asked.elapsed() >= Duration::from_millis(1500), "it waited for the run");
    let runs = stored_runs(&project, "slow");
    assert_eq!(runs.len(), 1, "the run in flight is stored");
    assert_eq!(runs[0].status, aviary::report::RunStatus::Passed);
    assert!(daemon.events().iter().any(|e| message(e) == "daemon stopped"));
}

#[test]
fn the_drain_deadline_bounds_the_wait() {
    let site = start_api_site();
    let project = project();
    project.canary("stuck", &canary(&site.base(), "/api/slow/15000", ""));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &["--drain-timeout", "1s"]);
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    daemon.signal("INT");
    let status = daemon.wait_exit(T).expect("exited at the deadline");
    assert_eq!(status.code(), Some(0));
    assert!(asked.elapsed() < Duration::from_secs(8), "took {:?}", asked.elapsed());
    assert!(daemon.events().iter().any(|e| message(e).contains("drain deadline passed")));
    assert!(stored_runs(&project, "stuck").is_empty());
    assert!(store(&project).integrity_check().unwrap());
}

#[test]
fn the_api_sees_the_schedule_runs_now_and_reports_load_errors() {
    let site = start_api_site();
    let project = Project::new();
    project.file("aviary.yaml", "server: {listen: \"127.0.0.1:0\", token: s3cret-token}\n");
    project.canary("ok", &canary(&site.base(), "/api/status/200", ""));
    project.canary("slow", &canary(&site.base(), "/api/slow/3000", ""));
    // Broken from the start, with two problems: it never loads.
    project.canary("never", "blueprint: api\nschedule: every minute\ntimeout: soon\n");
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    let addr = listen_addr(&daemon);
    assert_eq!(http(&addr, "GET", "/healthz", None).0, 200);
    daemon.wait_for("run of ok", T, |e| is_run_of(e, "ok"));

    // Canaries with their next fire (within 1.5 minutes: rate(1 minute), spread) and running state.
    let (status, body) = http(&addr, "GET", "/api/v1/canaries/ok", None);
    assert_eq!(status, 200, "{body}");
    let ok: serde_json::Value = serde_json::from_str(&body).unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(ok["next_fire"].as_str().unwrap()).unwrap();
    let until = next.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(until > chrono::Duration::zero() && until <= chrono::Duration::seconds(90), "{until}");
    assert_eq!(ok["last_run"]["status"], "PASSED");
    let (_, body) = http(&addr, "GET", "/api/v1/canaries/slow", None);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["running"], true, "{body}");

    // Run-now: refused without the token, conflict while running, accepted otherwise.
    assert_eq!(http(&addr, "POST", "/api/v1/canaries/ok/run", None).0, 401);
    assert_eq!(http(&addr, "POST", "/api/v1/canaries/slow/run", Some("s3cret-token")).0, 409);
    assert_eq!(http(&addr, "POST", "/api/v1/canaries/nope/run", Some("s3cret-token")).0, 404);
    assert_eq!(http(&addr, "POST", "/api/v1/canaries/ok/run", Some("s3cret-token")).0, 202);
    let runs = daemon.wait_for_n("run-now of ok", 2, T, |e| is_run_of(e, "ok"));
    assert_eq!(field(&runs[1], "trigger"), "api");

    // A skipped fire and the runs show on /metrics.
    project.canary("slow", &canary(&site.base(), "/api/slow/3000", "tags: {edited: \"yes\"}"));
    daemon.wait_for("skip", T, |e| is_about(e, "fire skipped", "slow"));
    let (_, metrics) = http(&addr, "GET", "/metrics", None);
    assert!(metrics.contains("aviary_scheduler_skipped_fires_total{canary=\"slow\"} 1"), "{metrics}");
    assert!(metrics.contains("aviary_scheduler_start_lateness_seconds"), "{metrics}");

    // A broken file: its problem is a load error until it is fixed.
    project.canary("ok", "blueprint: api\nschedule: every minute\n");
    daemon.wait_for("kept", T, |e| is_about(e, "previous version keeps running", "ok"));
    let (_, body) = http(&addr, "GET", "/api/v1/config/errors", None);
    let errors: serde_json::Value = serde_json::from_str(&body).unwrap();
    let errors = errors["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e.as_str().unwrap().contains("ok.yaml:2:")), "{errors:?}");
    let (_, body) = http(&addr, "GET", "/api/v1/canaries", None);
    assert!(body.contains("\"ok\""), "the previous version is still listed: {body}");
    // Per file: whether a previous version runs; the metric counts files, not problems.
    assert!(errors.len() > 2, "{errors:?}");
    let (_, body) = http(&addr, "GET", "/api/v1/config/errors", None);
    let files: Vec<(String, bool)> = serde_json::from_str::<serde_json::Value>(&body).unwrap()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name = std::path::Path::new(f["file"].as_str().unwrap()).file_name().unwrap();
            (name.to_string_lossy().into_owned(), f["previous_version"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(files, [("never.yaml".to_string(), false), ("ok.yaml".to_string(), true)]);
    let (_, metrics) = http(&addr, "GET", "/metrics", None);
    assert!(metrics.contains("\naviary_config_errors 2\n"), "{metrics}");
    let (_, page) = http(&addr, "GET", "/", None);
    assert!(page.contains("not loaded: it has not validated since the daemon started"), "{page}");

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(T).and_then(|s| s.code()), Some(0));
}

#[test]
fn the_retention_sweep_runs_at_start() {
    let site = start_api_site();
    let project = project();
    project
        .canary("kept", &canary(&site.base(), "/api/status/200", "retention: {success: 7d, failure: 30d}"));
    // Two old runs: a passed one past its 7 days, a failed one within its 30 days.
    let store = store(&project);
    let old = |id: &str, status: aviary::report::RunStatus, days: i64| {
        let start = chrono::Utc::now() - chrono::Duration::days(days);
        let folder = format!("kept/old-{id}");
        project.file(&format!(".aviary/artifacts/{folder}/report.json"), "{}");
        let report = aviary::report::RunReport {
            location: None,
            canary: "kept".into(),
            run_id: id.into(),
            attempt: 1,
            blueprint: "api".into(),
            status,
            reason: None,
            start,
            end: start,
            duration_ms: 1.0,
            steps: Vec::new(),
            artifacts: folder,
            requests: Default::default(),
            details: Default::default(),
        };
        store.save_run(&report, &report.datapoints()).unwrap();
    };
    old("passed-10-days-ago", aviary::report::RunStatus::Passed, 10);
    old("failed-10-days-ago", aviary::report::RunStatus::Failed, 10);

    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    let sweep = daemon.wait_for("sweep", T, |e| message(e) == "retention sweep");
    assert_eq!(field(&sweep, "runs_deleted"), 1);
    daemon.wait_for("run", T, |e| is_run_of(e, "kept"));
    let ids: Vec<String> = stored_runs(&project, "kept").into_iter().map(|r| r.run_id).collect();
    assert!(!ids.contains(&"passed-10-days-ago".to_string()), "{ids:?}");
    assert!(ids.contains(&"failed-10-days-ago".to_string()), "{ids:?}");
    assert!(!project.path().join(".aviary/artifacts/kept/old-passed-10-days-ago").exists());
    assert!(project.path().join(".aviary/artifacts/kept/old-failed-10-days-ago").exists());
}

#[test]
fn the_project_file_reloads_too() {
    let site = start_api_site();
    let project = project();
    project.canary("a", &canary(&site.base(), "/api/status/200", ""));
    project.file("extra/x.yaml", &canary(&site.base(), "/api/status/200", ""));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    daemon.wait_for("run of a", T, |e| is_run_of(e, "a"));
    assert!(daemon.runs_of("x").is_empty(), "extra/ is not a canary folder yet");

    // A new canary folder in aviary.yaml: its canaries are added (and the folder watched).
    project.file("aviary.yaml", "canaries: [canaries, extra]\nserver: {listen: \"127.0.0.1:0\"}\n");
    daemon.wait_for("x added", T, |e| is_about(e, "canary added", "x"));
    daemon.wait_for("run of x", T, |e| is_run_of(e, "x"));
    project.file("extra/x.yaml", &canary(&site.base(), "/api/status/418", ""));
    let runs = daemon.wait_for_n("x changed", 2, T, |e| is_run_of(e, "x"));
    assert_eq!(field(&runs[1], "status"), "FAILED");

    // A broken project file changes nothing.
    project.file("aviary.yaml", "canaries: [canaries, extra]\nrunner: {max_concurency: 2}\n");
    daemon.wait_for("project problem", T, |e| message(e).contains("max_concurency"));
    daemon.wait_for("kept", T, |e| message(e).contains("every canary keeps its previous version"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!daemon.events().iter().any(|e| message(e) == "canary removed"));
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(T).and_then(|s| s.code()), Some(0));
}
