//! What every store answers alike, checked against each backend: `tests/store.rs` runs these on
//! SQLite, `tests/postgres.rs` on PostgreSQL, through [`store_contract_tests!`].
#![allow(dead_code)]

use aviary::report::{Datapoint, RequestCounts, RunReport, RunStatus, StepReport, StepStatus};
use aviary::store::layout::run_dir_relative;
use aviary::store::{AlarmTransition, FailoverChange, MetricQuery, RunPage, Store, StoreError};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// One `#[test]` per contract check; `$open` gives `(store, guard)`, the guard kept for the test.
#[macro_export]
macro_rules! store_contract_tests {
    ($open:expr) => {
        $crate::store_contract_tests!(@each $open;
            a_saved_run_reads_back_whole,
            datapoints_are_queried_by_canary_metric_step_and_time,
            runs_page_newest_first,
            latest_runs_has_one_run_per_canary,
            a_run_is_found_by_a_unique_prefix,
            saving_a_run_again_replaces_it,
            delete_runs_removes_steps_and_datapoints,
            expired_runs_split_passed_from_the_rest,
            datapoints_are_stored_with_their_run,
            runs_are_counted_by_time_bucket_and_filtered_by_status,
            alarm_transitions_set_the_state_and_keep_the_history,
            failover_changes_are_kept_newest_first,
            a_runs_datapoints_read_back_in_order
        );
    };
    (@each $open:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let Some((store, _guard)) = ($open) else { return };
                store_contract::$name(&*store);
            }
        )*
    };
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap() + Duration::seconds(seconds)
}

pub fn step(index: u32, name: &str, status: StepStatus, start: DateTime<Utc>) -> StepReport {
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

pub fn report(canary: &str, run_id: &str, start: DateTime<Utc>, status: RunStatus) -> RunReport {
    let step_status = if status == RunStatus::Passed { StepStatus::Passed } else { StepStatus::Failed };
    let mut details = serde_json::Map::new();
    details.insert("note".into(), serde_json::json!({"kept": [1, 2, 3]}));
    RunReport {
        location: None,
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

pub fn save(store: &dyn Store, report: &RunReport) {
    store.save_run(report, &report.datapoints()).unwrap();
}

pub fn query(canary: &str, metric: &str, step: Option<&str>, since: i64, until: i64) -> MetricQuery {
    MetricQuery {
        canary: canary.into(),
        metric: metric.into(),
        step: step.map(str::to_string),
        since: at(since),
        until: at(until),
    }
}

pub fn a_saved_run_reads_back_whole(store: &dyn Store) {
    let original = report("homepage", "0b6f3c1e-aaaa-4bbb-8ccc-000000000001", at(0), RunStatus::Failed);
    save(store, &original);

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

pub fn datapoints_are_queried_by_canary_metric_step_and_time(store: &dyn Store) {
    for (i, status) in [RunStatus::Passed, RunStatus::Failed, RunStatus::Passed].into_iter().enumerate() {
        let i = i as i64;
        save(store, &report("homepage", &format!("home-run-{i:08}"), at(i * 60), status));
        save(store, &report("other", &format!("other-run-{i:08}"), at(i * 60), RunStatus::Passed));
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

pub fn runs_page_newest_first(store: &dyn Store) {
    for i in 0..5 {
        save(store, &report("homepage", &format!("page-run-{i:08}"), at(i * 300), RunStatus::Passed));
    }
    save(store, &report("other", "other-run-00000001", at(10_000), RunStatus::Passed));

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

pub fn latest_runs_has_one_run_per_canary(store: &dyn Store) {
    save(store, &report("b-canary", "b-run-old-000001", at(0), RunStatus::Failed));
    save(store, &report("b-canary", "b-run-new-000002", at(60), RunStatus::Passed));
    save(store, &report("a-canary", "a-run-000000001", at(30), RunStatus::Error));

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

pub fn a_run_is_found_by_a_unique_prefix(store: &dyn Store) {
    save(store, &report("homepage", "abcdef01-1111-4000-8000-000000000000", at(0), RunStatus::Passed));
    save(store, &report("homepage", "abcdef02-2222-4000-8000-000000000000", at(60), RunStatus::Passed));

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
            assert!(message.contains("ambiguous") && message.contains("in the database"), "{message}");
            assert!(message.contains("abcdef01-1111") && message.contains("abcdef02-2222"), "{message}");
        }
        other => panic!("expected an ambiguous prefix error, got {other:?}"),
    }
}

pub fn saving_a_run_again_replaces_it(store: &dyn Store) {
    let mut run = report("homepage", "resave-run-000001", at(0), RunStatus::Failed);
    save(store, &run);
    save(store, &run);
    assert_eq!(store.runs("homepage", RunPage::first(10)).unwrap().len(), 1);
    assert_eq!(store.datapoints(&query("homepage", "SuccessPercent", None, 0, 3600)).unwrap().len(), 1);

    run.status = RunStatus::Passed;
    run.reason = None;
    run.steps.truncate(1);
    save(store, &run);
    let back = store.run(&run.run_id).unwrap().unwrap();
    assert_eq!(back.status, RunStatus::Passed);
    assert_eq!(back.steps.len(), 1);
    let points = store.datapoints(&query("homepage", "SuccessPercent", None, 0, 3600)).unwrap();
    assert_eq!(points.iter().map(|p| p.value).collect::<Vec<_>>(), [100.0]);
    assert!(
        store.datapoints(&query("homepage", "SuccessPercent", Some("about"), 0, 3600)).unwrap().is_empty()
    );
}

pub fn delete_runs_removes_steps_and_datapoints(store: &dyn Store) {
    save(store, &report("homepage", "delete-me-000001", at(0), RunStatus::Passed));
    save(store, &report("homepage", "keep-me-00000002", at(60), RunStatus::Passed));

    let deleted =
        store.delete_runs(&["delete-me-000001".to_string(), "never-existed-0001".to_string()]).unwrap();
    assert_eq!(deleted, 1);
    assert!(store.run("delete-me-000001").unwrap().is_none());
    assert!(store.run("keep-me-00000002").unwrap().is_some());
    assert_eq!(store.datapoints(&query("homepage", "Duration", None, 0, 3600)).unwrap().len(), 1);
    assert_eq!(store.delete_runs(&[]).unwrap(), 0);
    assert!(store.run_datapoints("delete-me-000001").unwrap().is_empty());
    assert!(!store.has_run("delete-me-000001").unwrap());
    assert!(store.has_run("keep-me-00000002").unwrap());
}

pub fn expired_runs_split_passed_from_the_rest(store: &dyn Store) {
    save(store, &report("homepage", "old-pass-000001", at(0), RunStatus::Passed));
    save(store, &report("homepage", "old-fail-000002", at(10), RunStatus::Failed));
    save(store, &report("homepage", "old-tout-000003", at(20), RunStatus::Timeout));
    save(store, &report("homepage", "new-pass-000004", at(1000), RunStatus::Passed));
    save(store, &report("other", "other-old-000005", at(0), RunStatus::Passed));

    let passed = store.expired_runs("homepage", true, at(500)).unwrap();
    assert_eq!(passed.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["old-pass-000001"]);
    let others = store.expired_runs("homepage", false, at(500)).unwrap();
    assert_eq!(
        others.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["old-fail-000002", "old-tout-000003"]
    );
}

pub fn datapoints_are_stored_with_their_run(store: &dyn Store) {
    let run = report("homepage", "custom-points-0001", at(0), RunStatus::Passed);
    let points = vec![Datapoint {
        location: None,
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

pub fn runs_are_counted_by_time_bucket_and_filtered_by_status(store: &dyn Store) {
    // home: two runs in the first hour (one failed), one in the third; api: one in the first.
    save(store, &report("home", "bucket-run-0001", at(0), RunStatus::Passed));
    save(store, &report("home", "bucket-run-0002", at(1800), RunStatus::Failed));
    save(store, &report("home", "bucket-run-0003", at(7200 + 60), RunStatus::Passed));
    save(store, &report("api", "bucket-run-0004", at(600), RunStatus::Timeout));
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
    save(store, &report("home", "bucket-run-0003", at(7200 + 60), RunStatus::Failed));
    let home = store.run_buckets(&query(Some("home"))).unwrap();
    assert_eq!(home.iter().map(|b| (b.passed, b.runs)).collect::<Vec<_>>(), [(1, 1), (0, 1)], "{home:?}");
    let half_hours = aviary::store::BucketQuery { bucket_secs: 1800, ..query(Some("home")) };
    let home = store.run_buckets(&half_hours).unwrap();
    assert_eq!(home.iter().map(|b| (b.passed, b.runs)).collect::<Vec<_>>(), [(1, 1), (0, 1)], "{home:?}");
    store.delete_runs(&["bucket-run-0001".to_string(), "bucket-run-0003".to_string()]).unwrap();
    assert!(store.run_buckets(&query(Some("home"))).unwrap().is_empty(), "emptied hours are gone");
}

pub fn alarm_transitions_set_the_state_and_keep_the_history(store: &dyn Store) {
    assert!(store.alarm_states().unwrap().is_empty());
    let transition = |alarm: &str, seconds: i64, old: &str, new: &str| AlarmTransition {
        alarm: alarm.to_string(),
        time: at(seconds),
        old_state: old.to_string(),
        new_state: new.to_string(),
        reason: format!("{old} to {new}: 3 of 3 datapoints breached"),
    };
    store.record_alarm_transition(&transition("b-alarm", 0, "INSUFFICIENT_DATA", "OK")).unwrap();
    store.record_alarm_transition(&transition("b-alarm", 60, "OK", "ALARM")).unwrap();
    // Two transitions in one millisecond keep their order.
    store.record_alarm_transition(&transition("b-alarm", 60, "ALARM", "OK")).unwrap();
    store.record_alarm_transition(&transition("a-alarm", 30, "INSUFFICIENT_DATA", "ALARM")).unwrap();

    let states = store.alarm_states().unwrap();
    let got: Vec<(&str, &str)> = states.iter().map(|s| (s.alarm.as_str(), s.state.as_str())).collect();
    assert_eq!(got, [("a-alarm", "ALARM"), ("b-alarm", "OK")]);
    assert_eq!(states[1].since, at(60));
    assert_eq!(states[1].reason, "ALARM to OK: 3 of 3 datapoints breached");

    let history = store.alarm_history("b-alarm", 10).unwrap();
    let got: Vec<(&str, &str)> =
        history.iter().map(|t| (t.old_state.as_str(), t.new_state.as_str())).collect();
    assert_eq!(got, [("ALARM", "OK"), ("OK", "ALARM"), ("INSUFFICIENT_DATA", "OK")], "newest first");
    assert_eq!(store.alarm_history("b-alarm", 1).unwrap().len(), 1);
    assert!(store.alarm_history("nobody", 10).unwrap().is_empty());
}

pub fn failover_changes_are_kept_newest_first(store: &dyn Store) {
    assert!(store.failovers().unwrap().is_empty());
    let change = |failover: &str, seconds: i64, to: &str| FailoverChange {
        failover: failover.to_string(),
        record: "www.example.test.".to_string(),
        time: at(seconds),
        from: vec!["192.0.2.1".to_string()],
        to: vec![to.to_string(), "192.0.2.9".to_string()],
        answer: "secondary".to_string(),
        why: "alarm `origin-down` is ALARM".to_string(),
    };
    store.record_failover_change(&change("www", 0, "192.0.2.2")).unwrap();
    store.record_failover_change(&change("www", 60, "192.0.2.3")).unwrap();
    store.record_failover_change(&change("api", 30, "192.0.2.4")).unwrap();
    assert_eq!(store.failovers().unwrap(), ["api", "www"]);
    let history = store.failover_history("www", 10).unwrap();
    assert_eq!(history, [change("www", 60, "192.0.2.3"), change("www", 0, "192.0.2.2")]);
    assert_eq!(store.failover_history("www", 1).unwrap().len(), 1);
}

pub fn a_runs_datapoints_read_back_in_order(store: &dyn Store) {
    let mut run = report("homepage", "points-run-000001", at(0), RunStatus::Failed);
    run.location = Some("eu-west".to_string());
    let points = run.datapoints();
    assert!(points.iter().all(|p| p.location.as_deref() == Some("eu-west")));
    assert!(points.len() > 4, "{points:?}");
    store.save_run(&run, &points).unwrap();
    save(store, &report("homepage", "points-run-000002", at(60), RunStatus::Passed));
    assert_eq!(store.run_datapoints(&run.run_id).unwrap(), points);
    assert_eq!(store.run(&run.run_id).unwrap().unwrap().location.as_deref(), Some("eu-west"));
    let located = store.datapoints(&query("homepage", "SuccessPercent", None, 0, 3600)).unwrap();
    let locations: Vec<Option<&str>> = located.iter().map(|p| p.location.as_deref()).collect();
    assert_eq!(locations, [Some("eu-west"), None], "each datapoint keeps its location");
    assert!(store.run_datapoints("no-such-run-00001").unwrap().is_empty());
}
