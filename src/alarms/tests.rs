//! Evaluation, composite and engine tests. The missing-data tables follow CloudWatch's
//! "Configuring how CloudWatch alarms treat missing data" (evaluation range of N + 2 periods):
//! `0` a datapoint within the threshold, `X` a breaching one, `-` a period without data; the
//! most recent period is on the right.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};

use super::composite::{self, Rule as Composite};
use super::metric::{Comparison, Rule, Slot, Statistic, percentile};
use super::*;
use crate::report::{Datapoint, RequestCounts, RunReport, RunStatus};
use crate::spec::model::MissingData;
use crate::store::SqliteStore;

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
}

fn rule(n: usize, m: usize, missing: MissingData) -> Rule {
    Rule {
        statistic: Statistic::Average,
        period_secs: 60,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        comparison: Comparison::Less,
        threshold: 90.0,
        missing,
    }
}

/// `"0 - X - X"` as slots one minute apart (0 = 100.0, X = 0.0).
fn slots(pattern: &str) -> Vec<Slot> {
    pattern
        .split_whitespace()
        .enumerate()
        .map(|(i, c)| {
            let at = t(12, i as u32);
            match c {
                "0" => Some((at, 100.0)),
                "X" => Some((at, 0.0)),
                _ => None,
            }
        })
        .collect()
}

/// Checks every row of a table for the four treatments, from each current state: a cell is the
/// state the alarm ends in, or `retain` for "retain current state".
fn check_table(n: usize, m: usize, table: &[(&str, [&str; 4])]) {
    use MissingData::*;
    for (pattern, expected) in table {
        for (treatment, want) in [Missing, Ignore, Breaching, NotBreaching].into_iter().zip(expected) {
            for current in [AlarmState::Ok, AlarmState::Alarm, AlarmState::InsufficientData] {
                let got = rule(n, m, treatment).evaluate(&slots(pattern), current);
                let want = if *want == "retain" { current.as_str() } else { want };
                assert_eq!(
                    got.state.unwrap_or(current).as_str(),
                    want,
                    "{m} of {n}, `{pattern}`, {treatment:?}, from {current}: {}",
                    got.reason
                );
            }
        }
    }
}

/// CloudWatch's documented table ("Configuring how CloudWatch alarms treat missing data"), whole.
#[test]
fn missing_data_cloudwatch_table_three_of_three() {
    check_table(
        3,
        3,
        &[
            ("0 - X - X", ["OK", "OK", "OK", "OK"]),
            // One real datapoint, within the threshold: it counts, and only two periods are filled
            // (2 breaching of 3 < M for `breaching`).
            ("0 - - - -", ["OK", "OK", "OK", "OK"]),
            ("- - - - -", ["INSUFFICIENT_DATA", "retain", "ALARM", "OK"]),
            ("0 X X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
            // Premature-alarm rule for `missing` only: the breaching point is 3 periods old.
            ("- - X - -", ["ALARM", "retain", "ALARM", "OK"]),
        ],
    );
}

#[test]
fn missing_data_three_of_three_more_rows() {
    check_table(
        3,
        3,
        &[
            ("- - - - 0", ["OK", "OK", "OK", "OK"]),
            // 1 period old: too young for the premature-alarm rule.
            ("- - - - X", ["OK", "OK", "ALARM", "OK"]),
            ("X - - - -", ["OK", "OK", "ALARM", "OK"]),
            ("0 - X - -", ["ALARM", "retain", "OK", "OK"]),
        ],
    );
}

#[test]
fn missing_data_two_of_three() {
    check_table(
        3,
        2,
        &[
            ("0 - X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
            ("0 0 X 0 X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
            ("0 - - - -", ["OK", "OK", "ALARM", "OK"]),
            ("- - - X -", ["ALARM", "retain", "ALARM", "OK"]),
            ("- - - - X", ["OK", "OK", "ALARM", "OK"]),
            ("X 0 0 - -", ["OK", "OK", "OK", "OK"]),
            ("0 0 - - -", ["OK", "OK", "OK", "OK"]),
        ],
    );
}

#[test]
fn missing_data_one_of_three_uses_every_real_point_of_the_range() {
    check_table(
        3,
        1,
        &[
            // The breaching point is outside the last N periods but inside the range: it counts.
            ("X - - - -", ["ALARM", "ALARM", "ALARM", "ALARM"]),
            ("0 - - - -", ["OK", "OK", "ALARM", "OK"]),
            ("0 0 - - -", ["OK", "OK", "ALARM", "OK"]),
        ],
    );
}

#[test]
fn a_real_point_keeps_breaching_fill_from_alarming_until_it_leaves_the_range() {
    // N = M = 3, `breaching`, one datapoint within the threshold at 12:00 and nothing after: it
    // counts while it is in the 5-period range, so only two periods are filled; once it leaves
    // the range, all three are.
    let r = rule(3, 3, MissingData::Breaching);
    let samples = [(t(12, 0) + chrono::Duration::seconds(30), 100.0)];
    let states: Vec<_> = (1..=6)
        .map(|minute| {
            let out = r.evaluate(&r.slots(&samples, r.range_end(t(12, minute))), AlarmState::Ok);
            show(out.state)
        })
        .collect();
    assert_eq!(states, ["OK", "OK", "OK", "OK", "OK", "ALARM"]);
}

fn show(s: Option<AlarmState>) -> &'static str {
    s.map_or("retain", AlarmState::as_str)
}

#[test]
fn real_points_are_not_filled_when_n_exist_in_the_range() {
    // 3 datapoints in the 5-period range: the missing periods are skipped, not filled.
    let r = rule(3, 3, MissingData::Breaching);
    assert_eq!(r.evaluate(&slots("0 - 0 - 0"), AlarmState::Alarm).state, Some(AlarmState::Ok));
    let r = rule(3, 1, MissingData::NotBreaching);
    assert_eq!(r.evaluate(&slots("X - 0 - 0"), AlarmState::Ok).state, Some(AlarmState::Alarm));
}

#[test]
fn reason_reads_like_cloudwatch() {
    let r = rule(3, 2, MissingData::Missing);
    let s = vec![Some((t(12, 0), 100.0)), Some((t(12, 1), 0.0)), Some((t(12, 2), 0.0))];
    let out = r.evaluate(&s, AlarmState::Ok);
    assert_eq!(out.state, Some(AlarmState::Alarm));
    assert_eq!(
        out.reason,
        "Threshold Crossed: 2 out of the last 3 datapoints [0.0 (25/11/26 12:01:00), 0.0 (25/11/26 12:02:00)] \
         were less than the threshold (90.0) (minimum 2 datapoints for OK -> ALARM transition)."
    );
    let reason = |n, m, missing, pattern, current| {
        let out = rule(n, m, missing).evaluate(&slots(pattern), current);
        (show(out.state), out.reason)
    };
    use AlarmState::{Alarm, InsufficientData, Ok};
    use MissingData::*;
    let cases = [
        (
            reason(3, 2, Missing, "X 0 0", Alarm),
            "OK",
            "Threshold Crossed: 2 out of the last 3 datapoints [100.0 (25/11/26 12:01:00), 100.0 (25/11/26 \
             12:02:00)] were not less than the threshold (90.0) (minimum 1 datapoint for ALARM -> OK transition).",
        ),
        // Two real datapoints only: the count is of those listed, not N minus the breaching ones.
        (
            reason(3, 2, Missing, "- - - 0 X", Alarm),
            "OK",
            "Threshold Crossed: 1 out of the last 3 datapoints [100.0 (25/11/26 12:03:00)] was not less than \
             the threshold (90.0) (minimum 1 datapoint for ALARM -> OK transition).",
        ),
        (
            reason(3, 3, Breaching, "0 - - - -", Alarm),
            "OK",
            "Threshold Crossed: 1 out of the last 3 datapoints [100.0 (25/11/26 12:00:00)] was not less than \
             the threshold (90.0) (minimum 1 datapoint for ALARM -> OK transition).",
        ),
        (
            reason(3, 3, Breaching, "- - - - X", Ok),
            "ALARM",
            "Threshold Crossed: 3 out of the last 3 datapoints [0.0 (25/11/26 12:04:00)] were less than the \
             threshold (90.0), including 2 missing datapoints treated as [Breaching] (minimum 3 datapoints for \
             OK -> ALARM transition).",
        ),
        (
            reason(3, 2, NotBreaching, "X - - - -", Alarm),
            "OK",
            "Threshold Crossed: 2 out of the last 3 datapoints [] were not less than the threshold (90.0), \
             including 2 missing datapoints treated as [NonBreaching] (minimum 1 datapoint for ALARM -> OK \
             transition).",
        ),
        (
            reason(3, 3, Missing, "- - X - -", Ok),
            "ALARM",
            "Threshold Crossed: 1 out of the last 3 datapoints [0.0 (25/11/26 12:02:00)] was less than the \
             threshold (90.0) and 2 missing datapoints were treated as [Missing], the oldest breaching datapoint \
             being 3 periods old (premature-alarm rule; minimum 3 datapoints for OK -> ALARM transition).",
        ),
        (
            reason(3, 3, Missing, "- - - - X", InsufficientData),
            "OK",
            "Threshold Crossed: 1 out of the last 3 datapoints [0.0 (25/11/26 12:04:00)] was less than the \
             threshold (90.0) and 2 missing datapoints were treated as [Missing], fewer than the minimum 3 \
             datapoints for INSUFFICIENT_DATA -> ALARM transition.",
        ),
        (
            reason(3, 3, NotBreaching, "- - - - -", Alarm),
            "OK",
            "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were \
             treated as [NonBreaching].",
        ),
        (
            reason(1, 1, Breaching, "- - -", Ok),
            "ALARM",
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated \
             as [Breaching].",
        ),
        (
            reason(3, 3, Missing, "- - - - -", Ok),
            "INSUFFICIENT_DATA",
            "Insufficient Data: no datapoints were received for 3 periods and 3 missing datapoints were \
             treated as [Missing].",
        ),
    ];
    for ((state, got), want_state, want) in cases {
        assert_eq!((state, got.as_str()), (want_state, want));
    }
}

/// Every reason of the form "K out of the last T datapoints [list]" lists exactly K datapoints,
/// or K - F with ", including F missing datapoints"; and T is N.
#[test]
fn reason_counts_match_the_datapoints_they_list() {
    use MissingData::*;
    let marks = ["0", "X", "-"];
    for code in 0..3usize.pow(5) {
        let pattern: Vec<&str> = (0..5).map(|i| marks[code / 3usize.pow(i) % 3]).collect();
        let pattern = pattern.join(" ");
        for m in 1..=3 {
            for treatment in [Missing, Ignore, Breaching, NotBreaching] {
                let out = rule(3, m, treatment).evaluate(&slots(&pattern), AlarmState::Alarm);
                let Some(rest) = out.reason.strip_prefix("Threshold Crossed: ") else { continue };
                let Some((k, rest)) = rest.split_once(" out of the last ") else {
                    assert!(rest.starts_with("no datapoints were received for 3 periods"), "{}", out.reason);
                    continue;
                };
                let k: usize = k.parse().unwrap();
                let (total, rest) = rest.split_once(" datapoints [").unwrap();
                let total: usize = total.parse().unwrap();
                let listed = rest.split_once(']').unwrap().0;
                let listed = if listed.is_empty() { 0 } else { listed.split(", ").count() };
                let filled = rest
                    .split_once(", including ")
                    .map_or(0, |(_, f)| f.split_once(' ').unwrap().0.parse::<usize>().unwrap());
                let ctx = format!("`{pattern}` {m} of 3 {treatment:?}: {}", out.reason);
                assert_eq!(listed + filled, k, "{ctx}");
                assert!(k <= total && total == 3, "{ctx}");
            }
        }
    }
}

#[test]
fn worked_example_of_the_docs() {
    let r = rule(3, 2, MissingData::Missing);
    let samples =
        [(t(12, 0) + chrono::Duration::seconds(30), 0.0), (t(12, 1) + chrono::Duration::seconds(30), 0.0)];
    let more = [
        (t(12, 2) + chrono::Duration::seconds(30), 100.0),
        (t(12, 3) + chrono::Duration::seconds(30), 100.0),
    ];
    let all: Vec<_> = samples.iter().chain(&more).copied().collect();
    let mut state = AlarmState::InsufficientData;
    let mut seen = Vec::new();
    let mut reasons = Vec::new();
    for (minute, second) in [(0, 10), (1, 0), (2, 0), (3, 0), (4, 0)] {
        let now = t(12, minute) + chrono::Duration::seconds(second);
        let out = r.evaluate(&r.slots(&all, r.range_end(now)), state);
        if let Some(new) = out.state {
            if new != state {
                reasons.push(out.reason);
            }
            state = new;
        }
        seen.push(state.as_str());
    }
    assert_eq!(
        reasons[1..],
        [
            "Threshold Crossed: 2 out of the last 3 datapoints [0.0 (25/11/26 12:00:00), 0.0 (25/11/26 12:01:00)] \
             were less than the threshold (90.0) (minimum 2 datapoints for OK -> ALARM transition).",
            "Threshold Crossed: 2 out of the last 3 datapoints [100.0 (25/11/26 12:02:00), 100.0 (25/11/26 \
             12:03:00)] were not less than the threshold (90.0) (minimum 1 datapoint for ALARM -> OK transition).",
        ]
    );
    assert_eq!(seen, ["INSUFFICIENT_DATA", "OK", "ALARM", "ALARM", "OK"]);
}

#[test]
fn statistics_and_percentiles() {
    let v = [5.0, 1.0, 3.0, 2.0, 4.0];
    assert_eq!(Statistic::parse("Average").unwrap().compute(&v), Some(3.0));
    assert_eq!(Statistic::parse("Sum").unwrap().compute(&v), Some(15.0));
    assert_eq!(Statistic::parse("Minimum").unwrap().compute(&v), Some(1.0));
    assert_eq!(Statistic::parse("Maximum").unwrap().compute(&v), Some(5.0));
    assert_eq!(Statistic::parse("SampleCount").unwrap().compute(&v), Some(5.0));
    assert_eq!(Statistic::parse("p50").unwrap().compute(&v), Some(3.0));
    assert_eq!(Statistic::parse("p100").unwrap().compute(&[]), None);
    assert!(Statistic::parse("p0").is_none() && Statistic::parse("p101").is_none());
    assert!(Statistic::parse("Median").is_none());
    let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&hundred, 90.0), 90.0);
    assert_eq!(percentile(&hundred, 99.9), 100.0);
    assert_eq!(percentile(&hundred, 0.5), 1.0);
    let thousand: Vec<f64> = (1..=1000).map(f64::from).collect();
    assert_eq!(Statistic::parse("p99.9").unwrap().compute(&thousand), Some(999.0));
}

#[test]
fn periods_are_aligned_and_the_current_one_is_not_evaluated() {
    let r = Rule { period_secs: 300, ..rule(2, 2, MissingData::Missing) };
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 7, 30).unwrap();
    let end = r.range_end(now);
    assert_eq!(end, t(12, 5));
    assert_eq!(r.range_start(end), t(11, 45));
    let samples = vec![(t(12, 0), 10.0), (t(12, 4), 20.0), (t(12, 6), 0.0), (t(11, 40), 0.0)];
    let s = r.slots(&samples, end);
    assert_eq!(s.len(), 4);
    assert_eq!(s[3], Some((t(12, 0), 15.0)));
    assert!(s[..3].iter().all(Option::is_none));
}

fn states<'a>(pairs: &'a [(&'a str, AlarmState)]) -> impl Fn(&str) -> AlarmState + 'a {
    move |name| pairs.iter().find(|(n, _)| *n == name).map_or(AlarmState::InsufficientData, |p| p.1)
}

#[test]
fn composite_logic_and_precedence() {
    use AlarmState::*;
    let s = [("a", Alarm), ("b", Ok), ("c", InsufficientData), ("my alarm", Alarm)];
    let lookup = states(&s);
    let cases = [
        ("ALARM(a)", true),
        ("OK(a)", false),
        ("INSUFFICIENT_DATA(c)", true),
        ("TRUE", true),
        ("FALSE", false),
        ("ALARM(a) AND NOT ALARM(b)", true),
        ("NOT ALARM(a) AND ALARM(b)", false),
        // AND binds tighter than OR: TRUE OR (FALSE AND FALSE).
        ("ALARM(a) OR OK(a) AND FALSE", true),
        ("(ALARM(a) OR OK(a)) AND FALSE", false),
        ("NOT NOT ALARM(a)", true),
        ("ALARM(\"my alarm\") AND ALARM('a')", true),
        ("ALARM(missing)", false),
        ("INSUFFICIENT_DATA(missing)", true),
    ];
    for (text, want) in cases {
        let rule = Composite::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(rule.eval(&lookup), want, "{text}");
    }
}

#[test]
fn composite_parse_errors_have_columns() {
    let cases = [
        ("ALARM(a) AND", 13, "unexpected end of rule"),
        ("ALARM(a) ALARM(b)", 10, "expected AND, OR"),
        ("alarm(a)", 1, "keywords are upper case"),
        ("ALARM a", 7, "expected `(` after ALARM"),
        ("ALARM()", 7, "expected an alarm name"),
        ("(ALARM(a) OR OK(b)", 19, "expected `)`"),
        ("ALARM(\"x)", 7, "unterminated"),
        ("ALARM(a b)", 9, "expected `)` after the alarm name `a`"),
        (")", 1, "unexpected `)`"),
    ];
    for (text, column, message) in cases {
        let err = Composite::parse(text).unwrap_err();
        assert_eq!(err.column, column, "{text}: {err}");
        assert!(err.message.contains(message), "{text}: {err}");
    }
}

#[test]
fn composite_references_and_order() {
    let rule = Composite::parse("ALARM(a) OR (OK(\"b\") AND NOT ALARM(c))").unwrap();
    assert_eq!(rule.references(), vec![("a", 7), ("b", 17), ("c", 36)]);
    let graph = |pairs: &[(&str, &[&str])]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(ToString::to_string).collect()))
            .collect::<std::collections::BTreeMap<String, Vec<String>>>()
    };
    let order = composite::order(&graph(&[("top", &["mid", "m1"]), ("mid", &["m2"])])).unwrap();
    assert_eq!(order, vec!["mid", "top"]);
    let cycle = composite::order(&graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])).unwrap_err();
    assert_eq!(cycle, vec!["a", "b", "c", "a"]);
}

// --- engine, on a real SQLite database ---

#[derive(Default)]
struct Recorder(Mutex<Vec<(Vec<String>, Notification)>>);

impl Notifier for Recorder {
    fn notify(&self, channels: &[String], n: Notification) {
        self.0.lock().unwrap().push((channels.to_vec(), n));
    }
}

fn save(store: &SqliteStore, id: &str, at: DateTime<Utc>, success: f64) {
    let report = RunReport {
        location: None,
        canary: "web".into(),
        run_id: id.into(),
        attempt: 1,
        blueprint: "api".into(),
        status: if success > 0.0 { RunStatus::Passed } else { RunStatus::Failed },
        reason: None,
        start: at,
        end: at,
        duration_ms: 1.0,
        steps: Vec::new(),
        artifacts: id.into(),
        requests: RequestCounts::default(),
        details: serde_json::Map::new(),
    };
    let point = Datapoint {
        location: None,
        metric: "SuccessPercent".into(),
        canary: "web".into(),
        step: None,
        timestamp: at,
        value: success,
    };
    store.save_run(&report, &[point]).unwrap();
}

fn defs(actions_enabled: bool) -> Definitions {
    let metric_actions =
        AlarmActions { alarm: vec!["ops".into()], ok: vec!["ops".into()], ..AlarmActions::default() };
    let composite_actions = AlarmActions { alarm: vec!["team".into()], ..AlarmActions::default() };
    Definitions {
        metric: vec![MetricAlarm {
            min_failing: None,
            name: "web-down".into(),
            canary: "web".into(),
            metric: "SuccessPercent".into(),
            step: None,
            rule: rule(3, 2, MissingData::Missing),
            actions: metric_actions,
            actions_enabled,
            description: Some("web is down".into()),
        }],
        composite: vec![
            CompositeAlarm {
                name: "site".into(),
                text: "ALARM(web-down) AND NOT ALARM(maint)".into(),
                rule: Composite::parse("ALARM(web-down) AND NOT ALARM(maint)").unwrap(),
                actions: composite_actions,
                actions_enabled: true,
                description: None,
            },
            CompositeAlarm {
                name: "top".into(),
                text: "ALARM(site)".into(),
                rule: Composite::parse("ALARM(site)").unwrap(),
                actions: AlarmActions::default(),
                actions_enabled: true,
                description: None,
            },
        ],
    }
}

#[test]
fn engine_transitions_persist_and_notify() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("aviary.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::new(store.clone(), recorder.clone(), defs(true));

    // Nothing yet: every alarm starts INSUFFICIENT_DATA; the composite is OK (its rule is false).
    let initial = engine.statuses().unwrap();
    assert_eq!(initial.iter().find(|s| s.name == "web-down").unwrap().state, AlarmState::InsufficientData);
    let first = engine.tick(t(12, 0)).unwrap();
    assert_eq!(first.iter().map(|t| t.alarm.as_str()).collect::<Vec<_>>(), vec!["site", "top"]);

    save(&store, "r1", t(12, 0), 0.0);
    save(&store, "r2", t(12, 1), 0.0);
    save(&store, "r3", t(12, 2), 100.0);
    // 12:02 is incomplete at 12:02:30: evaluated range ends at 12:02 -> 2 breaching of 2.
    let moved = engine.evaluate_canary("web", t(12, 2) + chrono::Duration::seconds(30)).unwrap();
    let names: Vec<_> = moved.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("web-down", "ALARM"), ("site", "ALARM"), ("top", "ALARM")]);
    assert!(
        moved[0].reason.starts_with("Threshold Crossed: 2 out of the last 3 datapoints"),
        "{}",
        moved[0].reason
    );

    // Same data, next tick in the same period: nothing new, no history, no notification.
    assert!(engine.tick(t(12, 2) + chrono::Duration::seconds(50)).unwrap().is_empty());
    let sent = recorder.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].0, vec!["ops"]);
    assert_eq!(sent[0].1.new_state, "ALARM");
    assert_eq!(sent[0].1.canary.as_deref(), Some("web"));
    assert_eq!(sent[1].0, vec!["team"]);
    drop(engine);
    drop(store);

    // Restart: the states and history are read back.
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let engine = Engine::new(store.clone(), Arc::new(LogNotifier), defs(true));
    let status = engine.statuses().unwrap();
    let web = status.iter().find(|s| s.name == "web-down").unwrap();
    assert_eq!(web.state, AlarmState::Alarm);
    assert_eq!(web.since, Some(t(12, 2) + chrono::Duration::seconds(30)));
    let history = store.alarm_history("web-down", 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].old_state.as_str(), history[0].new_state.as_str()),
        ("INSUFFICIENT_DATA", "ALARM")
    );
}

#[test]
fn set_state_holds_until_the_next_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("aviary.db")).unwrap());
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::new(store.clone(), recorder.clone(), defs(true));
    for (i, m) in [0, 1, 2].into_iter().enumerate() {
        save(&store, &format!("r{i}"), t(12, m), 100.0);
    }
    let now = t(12, 3) + chrono::Duration::seconds(5);
    engine.tick(now).unwrap();
    assert_eq!(store.alarm_states().unwrap().iter().find(|r| r.alarm == "web-down").unwrap().state, "OK");

    let moved = engine.set_state("web-down", AlarmState::Alarm, "testing purposes", now).unwrap();
    let names: Vec<_> = moved.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("web-down", "ALARM"), ("site", "ALARM"), ("top", "ALARM")]);
    assert_eq!(moved[0].reason, "testing purposes");
    // A tick within the same period does not evaluate again, nor does a run: the state holds.
    assert!(engine.tick(now + chrono::Duration::seconds(20)).unwrap().is_empty());
    save(&store, "r3", t(12, 3) + chrono::Duration::seconds(30), 100.0);
    assert!(engine.evaluate_canary("web", now + chrono::Duration::seconds(30)).unwrap().is_empty());
    // The next period's evaluation brings it back to OK, and the composites follow.
    let back = engine.tick(t(12, 4) + chrono::Duration::seconds(1)).unwrap();
    let names: Vec<_> = back.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("web-down", "OK"), ("site", "OK"), ("top", "OK")]);
    let history = store.alarm_history("web-down", 10).unwrap();
    assert_eq!(history.iter().map(|h| h.new_state.as_str()).collect::<Vec<_>>(), vec!["OK", "ALARM", "OK"]);
    // Actions: OK (first), ALARM (set-state), OK again on web-down; ALARM on site.
    let sent: Vec<_> =
        recorder.0.lock().unwrap().iter().map(|(_, n)| format!("{}:{}", n.alarm, n.new_state)).collect();
    assert_eq!(sent, vec!["web-down:OK", "web-down:ALARM", "site:ALARM", "web-down:OK"]);
    assert!(matches!(
        engine.set_state("nope", AlarmState::Ok, "x", now),
        Err(SetStateError::UnknownAlarm(_))
    ));
}

#[test]
fn actions_disabled_mutes_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("aviary.db")).unwrap());
    let recorder = Arc::new(Recorder::default());
    let mut d = defs(false);
    d.composite.clear();
    let engine = Engine::new(store.clone(), recorder.clone(), d);
    let moved = engine.set_state("web-down", AlarmState::Alarm, "testing", t(12, 0)).unwrap();
    assert_eq!(moved.len(), 1);
    assert!(recorder.0.lock().unwrap().is_empty());
}

#[test]
fn missing_data_is_noticed_by_the_tick_without_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("aviary.db")).unwrap());
    let mut d = defs(true);
    d.composite.clear();
    d.metric[0].rule.missing = MissingData::Breaching;
    let engine = Engine::new(store.clone(), Arc::new(LogNotifier), d);
    save(&store, "r1", t(12, 0), 100.0);
    save(&store, "r2", t(12, 1), 100.0);
    save(&store, "r3", t(12, 2), 100.0);
    let moved = engine.tick(t(12, 3)).unwrap();
    assert_eq!(moved[0].new_state, "OK");
    // No runs since 12:03: at 12:06 the range 12:01-12:06 holds 2 datapoints (< N) within the
    // threshold, plus 1 filled breaching one: 1 < M. At 12:07 one real datapoint is left, and 2
    // filled breaching ones reach M.
    assert!(engine.tick(t(12, 4)).unwrap().is_empty());
    assert!(engine.tick(t(12, 6)).unwrap().is_empty());
    let moved = engine.tick(t(12, 7)).unwrap();
    assert_eq!(moved[0].new_state, "ALARM", "{moved:?}");
    assert_eq!(store.alarm_history("web-down", 10).unwrap().len(), 2);
}

#[test]
fn a_composite_set_state_holds_until_a_child_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("aviary.db")).unwrap());
    let engine = Engine::new(store.clone(), Arc::new(LogNotifier), defs(true));
    engine.tick(t(12, 0)).unwrap();
    let state =
        |name: &str| store.alarm_states().unwrap().into_iter().find(|r| r.alarm == name).unwrap().state;
    assert_eq!(state("site"), "OK");

    // Setting `site` moves its parent `top` at once; ticks without child changes keep both.
    let moved = engine.set_state("site", AlarmState::Alarm, "drill", t(12, 0)).unwrap();
    let names: Vec<_> = moved.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("site", "ALARM"), ("top", "ALARM")]);
    engine.tick(t(12, 5)).unwrap();
    assert_eq!(state("site"), "ALARM");

    // A child changes (web-down, without data, was INSUFFICIENT_DATA): the composite is evaluated
    // again and returns to OK, and its parent follows.
    let moved = engine.set_state("web-down", AlarmState::Ok, "child", t(12, 6)).unwrap();
    let names: Vec<_> = moved.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("web-down", "OK"), ("site", "OK"), ("top", "OK")]);
}

/// `defs(true)` with a `maint` composite that is a manual switch (`FALSE`), as `site` uses it.
fn defs_with_maintenance(rule: &str) -> Definitions {
    let mut d = defs(true);
    let actions =
        AlarmActions { alarm: vec!["team".into()], ok: vec!["team".into()], ..AlarmActions::default() };
    d.composite.insert(
        0,
        CompositeAlarm {
            name: "maint".into(),
            text: rule.into(),
            rule: Composite::parse(rule).unwrap(),
            actions,
            actions_enabled: true,
            description: None,
        },
    );
    d
}

fn state_of(store: &SqliteStore, name: &str) -> String {
    store.alarm_states().unwrap().into_iter().find(|r| r.alarm == name).map(|r| r.state).unwrap_or_default()
}

fn sent(recorder: &Recorder) -> Vec<String> {
    recorder.0.lock().unwrap().iter().map(|(_, n)| format!("{}:{}", n.alarm, n.new_state)).collect()
}

#[test]
fn a_reload_keeps_set_states_and_fires_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("aviary.db")).unwrap());
    let recorder = Arc::new(Recorder::default());
    // As the daemon does: an empty engine, then the definitions of the start.
    let engine = Engine::new(store.clone(), recorder.clone(), Definitions::default());
    engine.set_definitions(defs_with_maintenance("FALSE"));
    let first = engine.tick(t(12, 0)).unwrap();
    let names: Vec<_> = first.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    // web-down starts INSUFFICIENT_DATA and has no data: no transition; the composites get a state.
    assert_eq!(names, vec![("maint", "OK"), ("site", "OK"), ("top", "OK")]);
    assert_eq!(sent(&recorder), vec!["maint:OK"]);
    recorder.0.lock().unwrap().clear();
    let now = t(12, 0) + chrono::Duration::seconds(10);
    engine.set_state("maint", AlarmState::Alarm, "maintenance window", now).unwrap();
    engine.set_state("web-down", AlarmState::Alarm, "testing purposes", now).unwrap();
    assert_eq!(sent(&recorder), vec!["maint:ALARM", "web-down:ALARM"]);

    // A reload of unrelated files (same definitions), then ticks: nothing is evaluated early;
    // nor by a reload that changes the metric alarm (evaluated at its next period, as usual).
    engine.set_definitions(defs_with_maintenance("FALSE"));
    assert!(engine.tick(now + chrono::Duration::seconds(20)).unwrap().is_empty());
    let mut changed = defs_with_maintenance("FALSE");
    changed.metric[0].rule.threshold = 50.0;
    engine.set_definitions(changed);
    assert!(engine.tick(now + chrono::Duration::seconds(30)).unwrap().is_empty());
    assert_eq!(
        (state_of(&store, "maint").as_str(), state_of(&store, "web-down").as_str()),
        ("ALARM", "ALARM")
    );

    // The metric alarm's next period: evaluated as usual (no data: INSUFFICIENT_DATA); the
    // composites whose child changed follow, `maint` (no children) keeps its set state.
    engine.set_definitions(defs_with_maintenance("FALSE"));
    let next = engine.tick(t(12, 1) + chrono::Duration::seconds(1)).unwrap();
    let names: Vec<_> = next.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("web-down", "INSUFFICIENT_DATA")]);
    assert!(engine.tick(t(12, 5)).unwrap().is_empty());
    assert_eq!(state_of(&store, "maint"), "ALARM");
    assert_eq!(sent(&recorder), vec!["maint:ALARM", "web-down:ALARM"]);

    // A reload that changes the composite's rule evaluates it at the next pass.
    engine.set_definitions(defs_with_maintenance("NOT TRUE"));
    let moved = engine.tick(t(12, 5) + chrono::Duration::seconds(5)).unwrap();
    let names: Vec<_> = moved.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("maint", "OK")]);
    assert_eq!(sent(&recorder), vec!["maint:ALARM", "web-down:ALARM", "maint:OK"]);

    // So does a reload that adds a composite (here one removed, with its stored state, and back).
    engine.set_state("top", AlarmState::Alarm, "drill", t(12, 6)).unwrap();
    let mut without = defs_with_maintenance("NOT TRUE");
    without.composite.retain(|c| c.name != "top");
    engine.set_definitions(without);
    assert!(engine.tick(t(12, 6) + chrono::Duration::seconds(5)).unwrap().is_empty());
    engine.set_definitions(defs_with_maintenance("NOT TRUE"));
    let moved = engine.tick(t(12, 6) + chrono::Duration::seconds(10)).unwrap();
    let names: Vec<_> = moved.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("top", "OK")]);
}

#[test]
fn a_restart_keeps_set_states_and_fires_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("aviary.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let engine = Engine::new(store.clone(), Arc::new(LogNotifier), defs_with_maintenance("FALSE"));
    engine.tick(t(12, 0)).unwrap();
    let now = t(12, 0) + chrono::Duration::seconds(10);
    engine.set_state("maint", AlarmState::Alarm, "maintenance window", now).unwrap();
    engine.set_state("web-down", AlarmState::Alarm, "testing purposes", now).unwrap();
    drop(engine);
    drop(store);

    // Restarted within the same period, as the daemon starts (empty engine, then definitions)
    // and as the CLI does (definitions at once).
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::new(store.clone(), recorder.clone(), Definitions::default());
    engine.set_definitions(defs_with_maintenance("FALSE"));
    assert!(engine.tick(now + chrono::Duration::seconds(20)).unwrap().is_empty());
    let cli = Engine::new(store.clone(), recorder.clone(), defs_with_maintenance("FALSE"));
    assert!(cli.tick(now + chrono::Duration::seconds(30)).unwrap().is_empty());
    // The runs at start do not evaluate a state entered in this period (it may be a set-state).
    save(&store, "r1", now + chrono::Duration::seconds(35), 100.0);
    assert!(engine.evaluate_canary("web", now + chrono::Duration::seconds(40)).unwrap().is_empty());
    assert_eq!(
        (state_of(&store, "maint").as_str(), state_of(&store, "web-down").as_str()),
        ("ALARM", "ALARM")
    );
    assert!(sent(&recorder).is_empty());

    // Once a period has completed, the metric alarm is evaluated again (the run's datapoint is
    // within the threshold); the composite holds.
    let next = engine.tick(t(12, 1) + chrono::Duration::seconds(1)).unwrap();
    let names: Vec<_> = next.iter().map(|t| (t.alarm.as_str(), t.new_state.as_str())).collect();
    assert_eq!(names, vec![("web-down", "OK")]);
    assert_eq!(state_of(&store, "maint"), "ALARM");
    drop(engine);

    // A restart after a period completed while the daemon was down catches up at once.
    let engine = Engine::new(store.clone(), recorder.clone(), defs_with_maintenance("FALSE"));
    engine.set_state("web-down", AlarmState::Alarm, "again", t(12, 2)).unwrap();
    drop(engine);
    let engine = Engine::new(store.clone(), recorder.clone(), defs_with_maintenance("FALSE"));
    let caught = engine.tick(t(12, 4) + chrono::Duration::seconds(1)).unwrap();
    assert_eq!(caught.iter().map(|t| t.alarm.as_str()).collect::<Vec<_>>(), vec!["web-down"]);
    assert_eq!(state_of(&store, "maint"), "ALARM");
}
