//! Property tests: the parsers of user input never panic and never hang, whatever they are fed —
//! canary and project YAML (parse, deserialize, and the whole load), API assertions, JSON paths,
//! schedule expressions and composite alarm rules. Each target gets arbitrary strings and
//! structured inputs (made of the grammar's own tokens, or mutations of a valid file).
//!
//! Each target runs 256 cases (`PROPTEST_CASES` overrides) in a thread of the default 2 MiB
//! stack, as the daemon's tasks have, and fails if it has not ended within a minute. Crashers
//! found are kept below as plain regression tests.

use std::sync::mpsc;
use std::time::Duration;

use aviary::alarms::AlarmState;
use aviary::alarms::composite::Rule;
use aviary::blueprints::api::assertion::Assertion;
use aviary::blueprints::api::jsonpath::JsonPath;
use aviary::spec::de::from_node;
use aviary::spec::model::{CanaryFile, ProjectFile};
use aviary::spec::{Project, Schedule, yaml};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Far longer than a target takes: only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

/// Runs `test` on `strategy`'s cases in a thread; fails on a panic (with the smallest input
/// proptest finds) or when the target does not end within [`HANG`].
fn fuzz<S>(name: &str, strategy: S, test: fn(&str))
where
    S: Strategy<Value = String> + Send + 'static,
{
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        // `Config::default()` reads PROPTEST_CASES (256 without it).
        let config = Config { failure_persistence: None, ..Config::default() };
        let outcome = TestRunner::new(config).run(&strategy, |value| {
            test(&value);
            Ok(())
        });
        let _ = done.send(outcome.map_err(|e| e.to_string()));
    });
    match result.recv_timeout(HANG) {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => panic!("{name}: {failure}"),
        Err(_) => panic!("{name}: did not end within {HANG:?} (a hang)"),
    }
}

/// Strings made of `tokens`, joined as they come.
fn tokens(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(tokens), 0..max).prop_map(|parts| parts.concat())
}

/// `base` with up to 8 random edits (insert, delete or replace a character).
fn mutations(base: &'static str) -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), 0..3u8, any::<char>());
    prop::collection::vec(edit, 0..8).prop_map(move |edits| {
        let mut chars: Vec<char> = base.chars().collect();
        for (at, op, c) in edits {
            let i = at.index(chars.len() + 1);
            match op {
                0 => chars.insert(i, c),
                1 if i < chars.len() => {
                    chars.remove(i);
                }
                _ if i < chars.len() => chars[i] = c,
                _ => chars.push(c),
            }
        }
        chars.into_iter().collect()
    })
}

// --- YAML: canary and project files ---

const CANARY: &str = "blueprint: api\nschedule: rate(1 minute)\ntimeout: 20s\ntags: {team: web}\n\
env:\n  BASE: \"http://127.0.0.1:9\"\nretention: {success: 7d, failure: 31d}\napi:\n  steps:\n    \
- name: home\n      request: {method: GET, url: \"${BASE}/\"}\n      assert: [status == 200, latency < 2s]\n      \
extract:\n        id: json $.id\nalarms:\n  - {name: a, metric: SuccessPercent, comparison: \"<\", threshold: 90}\n";

const PROJECT: &str = "canaries: [canaries]\ndata_dir: state\nserver: {listen: '127.0.0.1:9090'}\n\
composite_alarms:\n  - name: both\n    rule: \"ALARM(a) AND NOT (OK(b) OR FALSE)\"\n";

const YAML_TOKENS: &[&str] = &[
    "\n",
    "\n  ",
    "\n    ",
    "  ",
    " ",
    "- ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "? ",
    "---\n",
    "'",
    "\"",
    "|\n  ",
    ">\n  ",
    "#",
    "~",
    "null",
    "true",
    "1",
    "-1",
    "0x10",
    "1e999",
    ".inf",
    "!!str ",
    "!tag ",
    "name",
    "blueprint",
    "api",
    "heartbeat",
    "schedule",
    "timeout",
    "retries",
    "tags",
    "env",
    "steps",
    "request",
    "url",
    "assert",
    "alarms",
    "rate(1 minute)",
    "30s",
    "365d",
    "9999999d",
    "${X}",
    "${secret:Y}",
    "$${",
    "\t",
    "\u{feff}",
    "é",
];

fn check_yaml(text: &str) {
    if let Ok(node) = yaml::parse(text) {
        let _ = from_node::<CanaryFile>(&node);
        let _ = from_node::<ProjectFile>(&node);
    }
}

/// The whole load of a canary file (read, parse, expand, deserialize, check).
fn check_canary_load(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, text).unwrap();
    let project = Project::defaults(dir.path());
    let env = |name: &str| (name == "X" || name == "Y").then(|| "value".to_string());
    let _ = aviary::project::load_canaries_with(&project, &[file], &env);
}

/// The whole load of a project file, composite rules included.
fn check_project_load(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aviary.yaml");
    std::fs::write(&file, text).unwrap();
    let _ = aviary::project::load_project_with(Some(&file), None, &|_: &str| None);
}

#[test]
fn yaml_arbitrary_text() {
    fuzz("yaml: any text", any::<String>(), check_yaml);
}

#[test]
fn yaml_made_of_yaml_tokens() {
    fuzz("yaml: tokens", tokens(YAML_TOKENS, 60), check_yaml);
}

#[test]
fn yaml_mutated_canary_and_project() {
    fuzz("yaml: mutated canary", mutations(CANARY), check_yaml);
    fuzz("yaml: mutated project", mutations(PROJECT), check_yaml);
}

#[test]
fn whole_load_of_mutated_canaries() {
    fuzz("load: mutated canary", mutations(CANARY), check_canary_load);
    fuzz("load: tokens", tokens(YAML_TOKENS, 60), check_canary_load);
    fuzz("load: mutated project", mutations(PROJECT), check_project_load);
}

// --- API assertions and JSON paths ---

const ASSERTION_TOKENS: &[&str] = &[
    "status",
    "header",
    "json",
    "body",
    "latency",
    " ",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "exists",
    "contains",
    "matches",
    "$",
    ".",
    "[",
    "]",
    "['",
    "']",
    "[\"",
    "\\",
    "0",
    "-1",
    "999999999999999999999",
    "200",
    "2xx",
    "200-299",
    ",",
    "1e308",
    "1e30",
    "ms",
    "s",
    "h",
    "d",
    "\"text\"",
    "'",
    "/a+/",
    "(",
    ")",
    "{",
    "}",
    "null",
    "true",
    "content-type",
    "é",
    "*",
    "?",
];

fn check_assertion(text: &str) {
    let _ = Assertion::parse(text);
}

fn check_json_path(text: &str) {
    if let Ok(path) = JsonPath::parse(text) {
        let value = serde_json::json!({"a": [1, {"b": null}], "é": {"": [[]]}, "id": 7});
        let _ = path.select(&value);
        let _ = path.to_string();
    }
}

#[test]
fn assertions() {
    fuzz("assertion: any text", any::<String>(), check_assertion);
    fuzz("assertion: tokens", tokens(ASSERTION_TOKENS, 12), check_assertion);
}

#[test]
fn json_paths() {
    fuzz("jsonpath: any text", any::<String>(), check_json_path);
    fuzz("jsonpath: tokens", tokens(ASSERTION_TOKENS, 16).prop_map(|t| format!("${t}")), check_json_path);
}

// --- schedules ---

const SCHEDULE_TOKENS: &[&str] = &[
    "rate(",
    "cron(",
    ")",
    " ",
    "1",
    "0",
    "59",
    "60",
    "99999999999",
    "18446744073709551616",
    "minute",
    "minutes",
    "hour",
    "days",
    "*",
    "?",
    "/",
    "-",
    ",",
    "L",
    "W",
    "#",
    "LW",
    "MON",
    "SUN-SAT",
    "2030",
    "1970",
    "9999",
    "@daily",
    "@reboot",
    "once",
    "JAN",
    "31",
    "29",
    "2",
];

fn check_schedule(text: &str) {
    if let Ok(schedule) = Schedule::parse(text) {
        let start = DateTime::parse_from_rfc3339("2024-02-29T23:59:59Z").unwrap().with_timezone(&Utc);
        let _ = schedule.next_after(start);
        let _ = schedule.next_after(DateTime::<Utc>::MAX_UTC);
        let _ = schedule.period_from(start);
        let _ = schedule.to_string();
    }
}

#[test]
fn schedules() {
    fuzz("schedule: any text", any::<String>(), check_schedule);
    fuzz("schedule: tokens", tokens(SCHEDULE_TOKENS, 16), check_schedule);
    let fields = prop::collection::vec(tokens(SCHEDULE_TOKENS, 3), 5..=6);
    fuzz(
        "schedule: cron fields",
        (fields, any::<bool>()).prop_map(
            |(f, aws)| {
                if aws { format!("cron({})", f.join(" ")) } else { f.join(" ") }
            },
        ),
        check_schedule,
    );
}

// --- composite rules ---

const RULE_TOKENS: &[&str] = &[
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "TRUE",
    "FALSE",
    "NOT ",
    " AND ",
    " OR ",
    "(",
    ")",
    "(x)",
    "(\"a b\")",
    "('y')",
    "\"",
    "'",
    " ",
    "and",
    "é",
    "((((((((((",
    "))))))))))",
];

fn check_rule(text: &str) {
    if let Ok(rule) = Rule::parse(text) {
        let _ = rule.eval(&|name| if name == "x" { AlarmState::Alarm } else { AlarmState::Ok });
        let _ = rule.references();
        let _ = rule.clone();
    }
}

#[test]
fn composite_rules() {
    fuzz("rule: any text", any::<String>(), check_rule);
    fuzz("rule: tokens", tokens(RULE_TOKENS, 40), check_rule);
    fuzz(
        "rule: deep",
        (0..3_000usize, 0..3usize).prop_map(|(n, form)| match form {
            0 => format!("{}ALARM(x){}", "(".repeat(n), ")".repeat(n)),
            1 => format!("{}ALARM(x)", "NOT ".repeat(n)),
            _ => vec!["ALARM(x)"; n + 1].join(" AND "),
        }),
        check_rule,
    );
}

// --- crashers found, kept as plain tests ---

/// `latency < 1e30` overflowed `Duration::from_secs_f64`.
#[test]
fn huge_latency_limit_is_a_problem_not_a_panic() {
    let err = Assertion::parse("latency < 1e30").unwrap_err().to_string();
    assert!(err.contains("1e30"), "{err}");
}
