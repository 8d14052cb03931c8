//! The SQLite store and the artifact layout, against real database files in a temporary folder.

mod support;

use std::path::Path;

use aviary::report::{Datapoint, RequestCounts, RunReport, RunStatus, StepReport, StepStatus};
use aviary::store::layout::{remove_run_dir, run_dir, run_dir_relative};
use aviary::store::retention::{RetentionPolicy, sweep};
use aviary::store::{MetricQuery, RunPage, SqliteStore, Store, StoreError};
use chrono::{DateTime, Duration, TimeZone, Utc};
use support::aviary_in;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap() + Duration::seconds(seconds)
}

fn step(index: u32, name: &str, status: StepStatus, start: DateTime<Utc>) -> StepReport {
    StepReport {
        index,
        name: name.to_string(),
        status,
        reason: (status != StepStatus::Passed).then(|| format!("{name}: expected status == 200, got 500")),
        start,
        duration_ms: 12.5 * f64::from(index),
        screenshots: vec![format!("{index:02}-{name}-succeeded.png")],
        url: Some(format!("http://127.0.0.1:8080/{name}")),
        details: serde_json::Map::new(),
    }
}

fn report(canary: &str, run_id: &str, start: DateTime<Utc>, status: RunStatus) -> RunReport {
    let step_status = if status == RunStatus::Passed { StepStatus::Passed } else { StepStatus::Failed };
    let mut details = serde_json::Map::new();
    details.insert("note".into(), serde_json::json!({"kept": [1, 2, 3]}));
    RunReport {
        canary: canary.to_string(),
        run_id: run_id.to_string(),
        attempt: 1,
        blueprint: "heartbeat".to_string(),
        status,
        reason: (status != RunStatus::Passed)
            .then(|| "step 2 `about`: expected status == 200, got 500".into()),
        start,
        end: start + Duration::milliseconds(1500),
        duration_ms: 1500.25,
        steps: vec![step(1, "home", StepStatus::Passed, start), step(2, "about", step_status, start)],
        artifacts: run_dir_relative(canary, start, run_id),
        requests: RequestCounts { ok_2xx: 3, redirect_3xx: 1, client_4xx: 0, server_5xx: 1, failed: 0 },
        details,
    }
}

fn save(store: &SqliteStore, report: &RunReport) {
    store.save_run(report, &report.datapoints()).unwrap();
}

fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("nested/folder/aviary.db")).unwrap()
}

fn query(canary: &str, metric: &str, step: Option<&str>, since: i64, until: i64) -> MetricQuery {
    MetricQuery {
        canary: canary.into(),
        metric: metric.into(),
        step: step.map(str::to_string),
        since: at(since),
        until: at(until),
    }
}

#[test]
fn a_saved_run_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(dir.path().join("nested/folder/aviary.db").is_file(), "parent folders are created");
    let original = report("homepage", "0b6f3c1e-aaaa-4bbb-8ccc-000000000001", at(0), RunStatus::Failed);
    save(&store, &original);

    let back = store.run(&original.run_id).unwrap().expect("the run is found by its id");
    assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&original).unwrap());
    assert_eq!(back.steps.len(), 2);
    assert_eq!(back.steps[1].status, StepStatus::Failed);
    assert_eq!(back.start, original.start);
    assert!(store.run("0b6f3c1e-aaaa-4bbb-8ccc-999999999999").unwrap().is_none());

    let summaries = store.runs("homepage", RunPage::first(10)).unwrap();
    assert_eq!(summaries.len(), 1);
    let summary = &summaries[0];
    assert_eq!(summary.run_id, original.run_id);
    assert_eq!(summary.canary, "homepage");
    assert_eq!(summary.attempt, 1);
    assert_eq!(summary.status, RunStatus::Failed);
    assert_eq!(summary.reason, original.reason);
    assert_eq!(summary.start, original.start);
    assert_eq!(summary.duration_ms, 1500.25);
    assert_eq!(summary.artifacts, original.artifacts);
}

#[test]
fn steps_are_kept_as_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let original = report("homepage", "run-steps-000001", at(0), RunStatus::Failed);
    save(&store, &original);
    drop(store);

    let conn = rusqlite::Connection::open(dir.path().join("nested/folder/aviary.db")).unwrap();
    let rows: Vec<(i64, String, String, Option<String>)> = conn
        .prepare("SELECT idx, name, status, reason FROM steps WHERE run_id = ?1 ORDER BY idx")
        .unwrap()
        .query_map([&original.run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].0, rows[0].1.as_str(), rows[0].2.as_str()), (1, "home", "PASSED"));
    assert_eq!((rows[1].0, rows[1].1.as_str(), rows[1].2.as_str()), (2, "about", "FAILED"));
    assert_eq!(rows[1].3.as_deref(), Some("about: expected status == 200, got 500"));
}

#[test]
fn datapoints_are_queried_by_canary_metric_step_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for (i, status) in [RunStatus::Passed, RunStatus::Failed, RunStatus::Passed].into_iter().enumerate() {
        let i = i as i64;
        save(&store, &report("homepage", &format!("home-run-{i:08}"), at(i * 60), status));
        save(&store, &report("other", &format!("other-run-{i:08}"), at(i * 60), RunStatus::Passed));
    }

    // Run-level points only (no step dimension), oldest first; the runs end 1.5 s after start.
    let points = store.datapoints(&query("homepage", "SuccessPercent", None, 0, 3600)).unwrap();
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    assert_eq!(values, [100.0, 0.0, 100.0]);
    assert!(points.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    assert_eq!(points[0].timestamp, at(0) + Duration::milliseconds(1500));
    assert!(
        points.iter().all(|p| p.canary == "homepage" && p.step.is_none() && p.metric == "SuccessPercent")
    );

    // One step's points.
    let about = store.datapoints(&query("homepage", "SuccessPercent", Some("about"), 0, 3600)).unwrap();
    assert_eq!(about.iter().map(|p| p.value).collect::<Vec<_>>(), [100.0, 0.0, 100.0]);
    assert!(about.iter().all(|p| p.step.as_deref() == Some("about")));
    let durations = store.datapoints(&query("homepage", "Duration", Some("home"), 0, 3600)).unwrap();
    assert_eq!(durations.iter().map(|p| p.value).collect::<Vec<_>>(), [12.5, 12.5, 12.5]);

    // Time range: since inclusive, until exclusive.
    let window = store.datapoints(&query("homepage", "Failed", None, 60, 121)).unwrap();
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].value, 1.0);
    let edge = query("homepage", "Failed", None, 0, 0);
    let exact = MetricQuery { since: at(60) + Duration::milliseconds(1500), until: at(121), ..edge.clone() };
    assert_eq!(store.datapoints(&exact).unwrap().len(), 1, "since is inclusive");
    let before = MetricQuery { until: at(60) + Duration::milliseconds(1500), ..edge };
    assert_eq!(store.datapoints(&before).unwrap().len(), 1, "until is exclusive");

    // Another canary's points stay apart; an unknown metric has none.
    assert_eq!(store.datapoints(&query("other", "SuccessPercent", None, 0, 3600)).unwrap().len(), 3);
    assert!(store.datapoints(&query("homepage", "NoSuchMetric", None, 0, 3600)).unwrap().is_empty());
}

#[test]
fn runs_page_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..5 {
        save(&store, &report("homepage", &format!("page-run-{i:08}"), at(i * 300), RunStatus::Passed));
    }
    save(&store, &report("other", "other-run-00000001", at(10_000), RunStatus::Passed));

    let first = store.runs("homepage", RunPage { limit: 2, before: None, status: None }).unwrap();
    assert_eq!(
        first.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["page-run-00000004", "page-run-00000003"]
    );
    let second =
        store.runs("homepage", RunPage { limit: 2, before: Some(first[1].start), status: None }).unwrap();
    assert_eq!(
        second.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["page-run-00000002", "page-run-00000001"]
    );
    let third =
        store.runs("homepage", RunPage { limit: 2, before: Some(second[1].start), status: None }).unwrap();
    assert_eq!(third.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["page-run-00000000"]);
    assert!(
        store
            .runs("homepage", RunPage { limit: 2, before: Some(third[0].start), status: None })
            .unwrap()
            .is_empty()
    );
    assert!(store.runs("nobody", RunPage::first(10)).unwrap().is_empty());
}

#[test]
fn latest_runs_has_one_run_per_canary() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    save(&store, &report("b-canary", "b-run-old-000001", at(0), RunStatus::Failed));
    save(&store, &report("b-canary", "b-run-new-000002", at(60), RunStatus::Passed));
    save(&store, &report("a-canary", "a-run-000000001", at(30), RunStatus::Error));

    let latest = store.latest_runs().unwrap();
    let got: Vec<(&str, &str, RunStatus)> =
        latest.iter().map(|r| (r.canary.as_str(), r.run_id.as_str(), r.status)).collect();
    assert_eq!(
        got,
        [
            ("a-canary", "a-run-000000001", RunStatus::Error),
            ("b-canary", "b-run-new-000002", RunStatus::Passed)
        ]
    );
}

#[test]
fn a_run_is_found_by_a_unique_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    save(&store, &report("homepage", "abcdef01-1111-4000-8000-000000000000", at(0), RunStatus::Passed));
    save(&store, &report("homepage", "abcdef02-2222-4000-8000-000000000000", at(60), RunStatus::Passed));

    let found = store.run("abcdef01").unwrap().expect("a unique prefix finds the run");
    assert_eq!(found.run_id, "abcdef01-1111-4000-8000-000000000000");

    // A prefix shorter than 6 characters is never expanded.
    assert!(store.run("abcde").unwrap().is_none());
    // A prefix that matches nothing.
    assert!(store.run("ffffff").unwrap().is_none());
    // `%` and `_` are not wildcards.
    assert!(store.run("abcdef_").unwrap().is_none());
    assert!(store.run("abcde%").unwrap().is_none());

    // An ambiguous prefix is an error naming the candidates (not `None`, so the CLI can say why).
    match store.run("abcdef0") {
        Err(StoreError::AmbiguousRunId { prefix, matches, .. }) => {
            assert_eq!(prefix, "abcdef0");
            assert_eq!(matches.len(), 2);
            let message = store.run("abcdef").unwrap_err().to_string();
            assert!(message.contains("ambiguous") && message.contains("aviary.db"), "{message}");
            assert!(message.contains("abcdef01-1111") && message.contains("abcdef02-2222"), "{message}");
        }
        other => panic!("expected an ambiguous prefix error, got {other:?}"),
    }
}

#[test]
fn runs_and_show_hint_at_a_typo_d_canary_and_a_too_short_prefix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("canaries")).unwrap();
    let store = SqliteStore::open(&dir.path().join(".aviary/aviary.db")).unwrap();
    save(&store, &report("homepage", "abcdef01-1111-4000-8000-000000000000", at(0), RunStatus::Passed));
    save(&store, &report("homepage", "abcdef02-2222-4000-8000-000000000000", at(60), RunStatus::Passed));
    drop(store);
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let out = aviary_in(dir.path(), &["runs", "homepgae"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no canary named `homepgae`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean `homepage`?"), "{}", stderr(&out));
    let out = aviary_in(dir.path(), &["runs", "checkout"]);
    assert!(stderr(&out).contains("no canary named `checkout`") && !stderr(&out).contains("did you mean"));

    let out = aviary_in(dir.path(), &["show", "abcd"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("use at least 6 characters"), "{}", stderr(&out));
    let out = aviary_in(dir.path(), &["show", "abcdef"]);
    assert!(stderr(&out).contains("ambiguous") && !stderr(&out).contains("at least 6"), "{}", stderr(&out));
    let out = aviary_in(dir.path(), &["show", "abcdef01"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn saving_a_run_again_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut run = report("homepage", "resave-run-000001", at(0), RunStatus::Failed);
    save(&store, &run);
    save(&store, &run);
    assert_eq!(store.runs("homepage", RunPage::first(10)).unwrap().len(), 1);
    assert_eq!(store.datapoints(&query("homepage", "SuccessPercent", None, 0, 3600)).unwrap().len(), 1);

    run.status = RunStatus::Passed;
    run.reason = None;
    run.steps.truncate(1);
    save(&store, &run);
    let back = store.run(&run.run_id).unwrap().unwrap();
    assert_eq!(back.status, RunStatus::Passed);
    assert_eq!(back.steps.len(), 1);
    let points = store.datapoints(&query("homepage", "SuccessPercent", None, 0, 3600)).unwrap();
    assert_eq!(points.iter().map(|p| p.value).collect::<Vec<_>>(), [100.0]);
    assert!(
        store.datapoints(&query("homepage", "SuccessPercent", Some("about"), 0, 3600)).unwrap().is_empty()
    );
}

#[test]
fn delete_runs_removes_steps_and_datapoints() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    save(&store, &report("homepage", "delete-me-000001", at(0), RunStatus::Passed));
    save(&store, &report("homepage", "keep-me-00000002", at(60), RunStatus::Passed));

    let deleted =
        store.delete_runs(&["delete-me-000001".to_string(), "never-existed-0001".to_string()]).unwrap();
    assert_eq!(deleted, 1);
    assert!(store.run("delete-me-000001").unwrap().is_none());
    assert!(store.run("keep-me-00000002").unwrap().is_some());
    assert_eq!(store.datapoints(&query("homepage", "Duration", None, 0, 3600)).unwrap().len(), 1);
    assert_eq!(store.delete_runs(&[]).unwrap(), 0);
    drop(store);

    let conn = rusqlite::Connection::open(dir.path().join("nested/folder/aviary.db")).unwrap();
    let count = |sql: &str| conn.query_row(sql, ["delete-me-000001"], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM steps WHERE run_id = ?1"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM datapoints WHERE run_id = ?1"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM runs WHERE run_id = ?1"), 0);
}

#[test]
fn expired_runs_split_passed_from_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    save(&store, &report("homepage", "old-pass-000001", at(0), RunStatus::Passed));
    save(&store, &report("homepage", "old-fail-000002", at(10), RunStatus::Failed));
    save(&store, &report("homepage", "old-tout-000003", at(20), RunStatus::Timeout));
    save(&store, &report("homepage", "new-pass-000004", at(1000), RunStatus::Passed));
    save(&store, &report("other", "other-old-000005", at(0), RunStatus::Passed));

    let passed = store.expired_runs("homepage", true, at(500)).unwrap();
    assert_eq!(passed.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["old-pass-000001"]);
    let others = store.expired_runs("homepage", false, at(500)).unwrap();
    assert_eq!(
        others.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["old-fail-000002", "old-tout-000003"]
    );
}

#[test]
fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let run = report("homepage", "durable-run-000001", at(0), RunStatus::Passed);
    {
        let store = open(dir.path());
        save(&store, &run);
    }
    let store = open(dir.path());
    assert_eq!(store.run(&run.run_id).unwrap().unwrap().run_id, run.run_id);
    assert_eq!(store.datapoints(&query("homepage", "SuccessPercent", None, 0, 3600)).unwrap().len(), 1);
    assert!(store.integrity_check().unwrap());
}

#[test]
fn the_database_is_in_wal_mode_with_a_versioned_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.integrity_check().unwrap());
    save(&store, &report("homepage", "wal-run-00000001", at(0), RunStatus::Passed));
    assert!(dir.path().join("nested/folder/aviary.db-wal").exists(), "a WAL file sits next to the database");

    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, aviary::store::SCHEMA_VERSION);
}

#[test]
fn a_newer_schema_is_refused_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();

    let error = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 99, supported, .. } if supported == aviary::store::SCHEMA_VERSION),
        "{error:?}"
    );
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}

#[test]
fn an_unopenable_database_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let error = SqliteStore::open(&blocker.join("aviary.db")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("aviary.db") && message.contains("could not create"), "{message}");
}

#[test]
fn two_stores_on_one_file_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let writer = open(dir.path());
    let reader = open(dir.path());
    save(&writer, &report("homepage", "shared-run-000001", at(0), RunStatus::Passed));
    assert!(reader.run("shared-run-000001").unwrap().is_some());
}

#[test]
fn run_dir_follows_the_cloudwatch_layout() {
    let start = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap() + Duration::milliseconds(67);
    let root = Path::new("/data/artifacts");
    assert_eq!(
        run_dir(root, "homepage", start, "run-1"),
        Path::new("/data/artifacts/homepage/2025/01/02/03/04-05-067-run-1")
    );
    assert_eq!(run_dir_relative("homepage", start, "run-1"), "homepage/2025/01/02/03/04-05-067-run-1");
}

#[test]
fn remove_run_dir_prunes_empty_parents_and_refuses_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts");
    let a = run_dir(&root, "homepage", at(0), "run-a");
    let b = run_dir(&root, "homepage", at(1), "run-b"); // same hour folder as `a`
    let c = run_dir(&root, "homepage", at(86_400), "run-c"); // the next day
    for d in [&a, &b, &c] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("report.json"), "{}").unwrap();
    }
    let hour = a.parent().unwrap().to_path_buf();

    remove_run_dir(&root, &run_dir_relative("homepage", at(0), "run-a")).unwrap();
    assert!(!a.exists());
    assert!(hour.is_dir(), "a folder still holding a run stays");

    remove_run_dir(&root, &run_dir_relative("homepage", at(1), "run-b")).unwrap();
    assert!(!hour.exists(), "empty hour folder pruned");
    assert!(!root.join("homepage/2025/03/04").exists(), "empty day folder pruned");
    assert!(root.join("homepage/2025/03").is_dir(), "the month still holds the next day's run");
    assert!(c.is_dir());

    remove_run_dir(&root, &run_dir_relative("homepage", at(86_400), "run-c")).unwrap();
    assert!(!root.join("homepage/2025").exists());
    assert!(root.join("homepage").is_dir(), "the canary folder itself stays");

    // Already gone: fine.
    remove_run_dir(&root, &run_dir_relative("homepage", at(0), "run-a")).unwrap();

    // Escapes are refused and touch nothing.
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    for bad in ["../outside", "homepage/../../outside", "/etc", "homepage", "", "."] {
        let error = remove_run_dir(&root, bad).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bad}: {error}");
    }
    assert!(outside.is_dir());
    assert!(root.join("homepage").is_dir());

    #[cfg(unix)]
    {
        // A symbolic link inside the root that leads outside it.
        std::fs::create_dir_all(outside.join("2025")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
        let error = remove_run_dir(&root, "linked/2025").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
        assert!(outside.join("2025").is_dir());
    }
}

#[test]
fn the_retention_sweep_deletes_expired_runs_and_their_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts");
    let store = open(dir.path());
    let now = at(100 * 86_400);
    let runs = [
        report("homepage", "sweep-old-pass-01", now - Duration::days(10), RunStatus::Passed),
        report("homepage", "sweep-old-fail-02", now - Duration::days(10), RunStatus::Failed),
        report("homepage", "sweep-new-pass-03", now - Duration::days(1), RunStatus::Passed),
    ];
    for run in &runs {
        std::fs::create_dir_all(root.join(&run.artifacts)).unwrap();
        save(&store, run);
    }
    let policy = RetentionPolicy {
        success: std::time::Duration::from_secs(5 * 86_400),
        failure: std::time::Duration::from_secs(30 * 86_400),
    };
    let outcome = sweep(&store, &root, "homepage", policy, now).unwrap();
    assert_eq!(outcome.runs_deleted, 1);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(store.run("sweep-old-pass-01").unwrap().is_none());
    assert!(!root.join(&runs[0].artifacts).exists());
    for kept in &runs[1..] {
        assert!(store.run(&kept.run_id).unwrap().is_some());
        assert!(root.join(&kept.artifacts).is_dir());
    }
}

#[test]
fn datapoints_are_stored_with_their_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = report("homepage", "custom-points-0001", at(0), RunStatus::Passed);
    let points = vec![Datapoint {
        metric: "VisualMonitoringSuccessPercent".into(),
        canary: "homepage".into(),
        step: None,
        timestamp: at(5),
        value: 97.5,
    }];
    store.save_run(&run, &points).unwrap();
    let back = store.datapoints(&query("homepage", "VisualMonitoringSuccessPercent", None, 0, 10)).unwrap();
    assert_eq!(back, points);
    store.delete_runs(std::slice::from_ref(&run.run_id)).unwrap();
    assert!(
        store
            .datapoints(&query("homepage", "VisualMonitoringSuccessPercent", None, 0, 10))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn unfinished_run_folders_are_swept_when_their_run_started_before_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let root = dir.path().join("artifacts");
    let finished = report("homepage", "aaaaaaaa-1111-4111-8111-111111111111", at(0), RunStatus::Passed);
    save(&store, &finished);
    assert!(store.has_run(&finished.run_id).unwrap());
    assert!(!store.has_run("aaaaaaaa").unwrap(), "a prefix is not a run");
    let kept = run_dir(&root, "homepage", at(0), &finished.run_id);
    let orphan = run_dir(&root, "homepage", at(60), "bbbbbbbb-2222-4222-8222-222222222222");
    let gone_canary = run_dir(&root, "removed", at(120), "cccccccc-3333-4333-8333-333333333333");
    for folder in [&kept, &orphan, &gone_canary] {
        std::fs::create_dir_all(folder).unwrap();
        std::fs::write(folder.join("log.txt"), "partial").unwrap();
    }

    // Runs that started after the process did may be in flight: kept. So are folders the layout
    // did not make.
    let stray = root.join("homepage/2025/03/04/05/not-a-run-folder");
    std::fs::create_dir_all(&stray).unwrap();
    assert_eq!(aviary::store::retention::sweep_orphans(&store, &root, at(60)), 0);
    assert!(orphan.exists() && gone_canary.exists());

    assert_eq!(aviary::store::retention::sweep_orphans(&store, &root, at(121)), 2);
    assert!(stray.exists());

    let start = at(59) + Duration::milliseconds(123);
    let relative = run_dir_relative("homepage", start, "dddddddd-4444-4444-8444-444444444444");
    assert_eq!(aviary::store::layout::run_start(&relative), Some(start));
    assert_eq!(aviary::store::layout::run_start("homepage/2025/03/04/05/not-a-run-folder"), None);
    assert!(kept.join("log.txt").exists(), "a stored run's folder stays");
    assert!(!orphan.exists() && !gone_canary.exists());
    assert!(!root.join("removed/2025").exists(), "emptied parents are removed");
}

#[test]
fn runs_are_counted_by_time_bucket_and_filtered_by_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("aviary.db")).unwrap();
    // home: two runs in the first hour (one failed), one in the third; api: one in the first.
    save(&store, &report("home", "bucket-run-0001", at(0), RunStatus::Passed));
    save(&store, &report("home", "bucket-run-0002", at(1800), RunStatus::Failed));
    save(&store, &report("home", "bucket-run-0003", at(7200 + 60), RunStatus::Passed));
    save(&store, &report("api", "bucket-run-0004", at(600), RunStatus::Timeout));
    let hour = |h: i64| at(0) + chrono::Duration::hours(h);
    let query = |canary: Option<&str>| aviary::store::BucketQuery {
        canary: canary.map(str::to_string),
        since: hour(0),
        until: hour(3),
        bucket_secs: 3600,
    };
    let all = store.run_buckets(&query(None)).unwrap();
    let figures: Vec<(&str, u32, u32)> = all.iter().map(|b| (b.canary.as_str(), b.passed, b.runs)).collect();
    assert_eq!(figures, [("api", 0, 1), ("home", 1, 2), ("home", 1, 1)], "{all:?}");
    assert_eq!(all[1].start.timestamp() % 3600, 0, "buckets start on the hour");
    assert_eq!(all[2].start, all[1].start + chrono::Duration::hours(2));
    assert_eq!(store.run_buckets(&query(Some("api"))).unwrap().len(), 1);
    // Steps: the mean duration of each step per bucket, in step order.
    let steps = store.step_buckets(&query(Some("home"))).unwrap();
    assert!(!steps.is_empty() && steps.iter().all(|s| s.mean_duration_ms >= 0.0), "{steps:?}");

    let failed = RunPage { limit: 10, before: None, status: Some(RunStatus::Failed) };
    let runs = store.runs("home", failed).unwrap();
    assert_eq!(runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["bucket-run-0002"]);

    // Hourly totals follow deletions and replacements; buckets under an hour count the runs.
    store.delete_runs(&["bucket-run-0002".to_string()]).unwrap();
    save(&store, &report("home", "bucket-run-0003", at(7200 + 60), RunStatus::Failed));
    let home = store.run_buckets(&query(Some("home"))).unwrap();
    assert_eq!(home.iter().map(|b| (b.passed, b.runs)).collect::<Vec<_>>(), [(1, 1), (0, 1)], "{home:?}");
    let half_hours = aviary::store::BucketQuery { bucket_secs: 1800, ..query(Some("home")) };
    let home = store.run_buckets(&half_hours).unwrap();
    assert_eq!(home.iter().map(|b| (b.passed, b.runs)).collect::<Vec<_>>(), [(1, 1), (0, 1)], "{home:?}");
    store.delete_runs(&["bucket-run-0001".to_string(), "bucket-run-0003".to_string()]).unwrap();
    assert!(store.run_buckets(&query(Some("home"))).unwrap().is_empty(), "emptied hours are gone");
}

#[test]
fn an_older_database_gets_its_hourly_totals_from_the_runs_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aviary.db");
    let store = SqliteStore::open(&path).unwrap();
    save(&store, &report("home", "older-run-0001", at(0), RunStatus::Passed));
    save(&store, &report("home", "older-run-0002", at(60), RunStatus::Failed));
    drop(store);
    // Back to schema 3: no hourly totals.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TRIGGER run_hours_insert; DROP TRIGGER run_hours_delete; DROP TABLE run_hours;")
        .unwrap();
    conn.pragma_update(None, "user_version", 3).unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    let query = aviary::store::BucketQuery { canary: None, since: at(0), until: at(3600), bucket_secs: 3600 };
    let buckets = store.run_buckets(&query).unwrap();
    assert_eq!(buckets.iter().map(|b| (b.passed, b.runs)).collect::<Vec<_>>(), [(1, 2)], "{buckets:?}");
}
