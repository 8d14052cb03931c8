//! Secrets only where they are needed: with the project file's `${secret:...}` unset, `aviary
//! run` and the read-only commands work, `aviary validate` warns (errors with `--strict`) and
//! `aviary daemon` refuses to start; with a canary's `${secret:...}` unset, the read-only commands
//! still work while `run` and `validate` refuse.

#[path = "support/api_site.rs"]
mod api_site;
mod support;

use api_site::start_api_site;
use support::{Project, stderr, stdout};

const UNSET: [(&str, &str); 0] = [];

/// A project whose server token, channel and DNS provider are secrets, none of them set.
const PROJECT: &str = "\
server: {listen: \"127.0.0.1:9\", token: \"${secret:AVIARY_TEST_UNSET_TOKEN}\"}
channels:
  ops: {type: webhook, url: \"http://127.0.0.1:9/hook\", headers: {Authorization: \"Bearer ${secret:AVIARY_TEST_UNSET_HOOK}\"}}
dns_providers:
  lab: {type: rfc2136, server: \"127.0.0.1:9\", zone: \"example.test.\",
        tsig: {name: \"k.\", algorithm: hmac-sha256, secret: \"${secret:AVIARY_TEST_UNSET_TSIG}\"}}
failover:
  - {name: www, provider: lab, record: {name: \"www.example.test.\", type: A, ttl: 60},
     primary: [\"192.0.2.10\"], secondary: [\"198.51.100.20\"], primary_health: home-down}
";

fn api_canary(url: &str, extra: &str) -> String {
    format!(
        "blueprint: api\nalarms:\n  - {{name: home-down, metric: SuccessPercent, period: 1m, evaluation_periods: 1, comparison: \"<\", threshold: 90, \
         actions: {{alarm: [ops]}}}}\napi:\n  steps:\n    - name: get\n      request: {{url: \"{url}\"{extra}}}\n      \
         assert: [status == 200]\n"
    )
}

fn project_with_unset_project_secrets() -> (Project, api_site::ApiSite) {
    let site = start_api_site();
    let project = Project::new();
    project.file("aviary.yaml", PROJECT);
    project.canary("home", &api_canary(&site.url("/api/status/200"), ""));
    (project, site)
}

#[test]
fn run_and_reading_need_no_project_secret() {
    let (project, _site) = project_with_unset_project_secrets();
    let output = project.aviary_env(&["run"], &UNSET);
    assert_eq!(output.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));

    let output = project.aviary(&["runs", "home", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let runs: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let run_id = runs[0]["run_id"].as_str().unwrap().to_string();
    let output = project.aviary(&["show", &run_id]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for args in [&["alarms"][..], &["alarm", "history", "home-down"], &["failover", "history", "www"]] {
        let output = project.aviary(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("is not set"), "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn validate_warns_about_project_secrets_and_strict_refuses() {
    let (project, _site) = project_with_unset_project_secrets();
    let output = project.aviary(&["validate"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    for (line, path, name) in [
        (1, "server.token", "AVIARY_TEST_UNSET_TOKEN"),
        (3, "channels.ops.headers.Authorization", "AVIARY_TEST_UNSET_HOOK"),
        (6, "dns_providers.lab.tsig.secret", "AVIARY_TEST_UNSET_TSIG"),
    ] {
        let expected = format!("warning: aviary.yaml:{line}:");
        let message = format!("{path}: `${{secret:{name}}}` is not set: export {name} in the environment");
        assert!(
            err.lines().any(|l| l.starts_with(&expected) && l.contains(&message)),
            "{message} in:\n{err}"
        );
    }
    assert!(stdout(&output).contains("1 canary valid"), "{}", stdout(&output));

    let output = project.aviary(&["validate", "--strict"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("aviary.yaml:1:")
            && err.contains("server.token: `${secret:AVIARY_TEST_UNSET_TOKEN}` is not set"),
        "{err}"
    );
    assert!(!err.contains("warning:"), "{err}");
    assert!(err.contains("3 problem(s) found"), "{err}");
}

#[test]
fn commands_that_use_project_secrets_refuse_with_the_message() {
    let (project, _site) = project_with_unset_project_secrets();
    let output = project.aviary(&["daemon"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(
            "aviary.yaml:1:40: server.token: `${secret:AVIARY_TEST_UNSET_TOKEN}` is not set: export \
             AVIARY_TEST_UNSET_TOKEN in the environment"
        ),
        "{err}"
    );
    assert!(err.contains("AVIARY_TEST_UNSET_HOOK") && err.contains("AVIARY_TEST_UNSET_TSIG"), "{err}");

    // Without a daemon, set-state writes the database: it sends no token, so it needs none (over
    // the daemon's socket it needs none either; only a TCP refusal names the unset token).
    let output = project.aviary(&["alarm", "set-state", "home-down", "--state", "ALARM", "--reason", "test"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("without a daemon, no channel is notified"), "{err}");
    assert!(!err.contains("AVIARY_TEST_UNSET"), "{err}");

    // The providers are asked for the records: failover status needs their credentials.
    let output = project.aviary(&["failover", "status"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("dns_providers.lab.tsig.secret: `${secret:AVIARY_TEST_UNSET_TSIG}`"), "{err}");
    assert!(!err.contains("AVIARY_TEST_UNSET_TOKEN"), "{err}");
}

#[test]
fn reading_history_needs_no_canary_secret() {
    let site = start_api_site();
    let project = Project::new();
    let canary =
        api_canary(&site.url("/api/status/200"), ", headers: {X-Key: \"${secret:AVIARY_TEST_CANARY_KEY}\"}");
    project.file("aviary.yaml", "channels:\n  ops: {type: webhook, url: \"http://127.0.0.1:9/hook\"}\n");
    project.canary("home", &canary);
    let output = project.aviary_env(&["run"], &[("AVIARY_TEST_CANARY_KEY", "k")]);
    assert_eq!(output.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));

    // Unset now: running and validating refuse; reading works.
    for args in [&["run"][..], &["validate"], &["validate", "--strict"]] {
        let output = project.aviary(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("`${secret:AVIARY_TEST_CANARY_KEY}` is not set"),
            "{}",
            stderr(&output)
        );
    }
    let output = project.aviary(&["runs", "home", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let runs: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let run_id = runs[0]["run_id"].as_str().unwrap().to_string();
    for args in [&["show", run_id.as_str()][..], &["alarms"], &["alarm", "history", "home-down"]] {
        let output = project.aviary(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("do not validate"), "{args:?}: {}", stderr(&output));
    }
    let output = project.aviary(&["alarms"]);
    assert!(stdout(&output).contains("home-down"), "the canary's alarm is listed: {}", stdout(&output));
}
