//! `aviary run` on API canaries, end to end: the real binary against a local JSON API (axum on
//! 127.0.0.1) and a local TLS server; assertions on exit codes, messages, report.json, the HAR,
//! the reporters and the database.

#[path = "support/api_site.rs"]
mod api_site;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use api_site::{API_KEY, closed_port, start_api_site, start_tls_site};
use aviary::store::{MetricQuery, SqliteStore, Store};
use serde_json::Value;
use support::{Project, read_json, stderr, stdout};

/// A canary file: `blueprint: api`, a 30s timeout, `env: {BASE: base}`, then `rest`.
fn canary(base: &str, rest: &str) -> String {
    format!("blueprint: api\ntimeout: 30s\nenv: {{BASE: \"{base}\"}}\n{rest}")
}

fn run(project: &Project, args: &[&str]) -> Output {
    project.aviary_env(args, &[("API_KEY", API_KEY)])
}

fn show(output: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", output.status.code(), stdout(output), stderr(output))
}

/// Each run folder with its report, by canary name.
fn runs(project: &Project) -> Vec<(PathBuf, Value)> {
    let mut runs: Vec<(PathBuf, Value)> = project
        .run_dirs()
        .into_iter()
        .map(|dir| (dir.clone(), read_json(&dir.join("report.json"))))
        .collect();
    runs.sort_by(|a, b| a.1["canary"].as_str().cmp(&b.1["canary"].as_str()));
    runs
}

fn run_of(project: &Project, name: &str) -> (PathBuf, Value) {
    runs(project).into_iter().find(|(_, r)| r["canary"] == name).unwrap_or_else(|| panic!("no run of {name}"))
}

fn har(dir: &Path, name: &str) -> Vec<Value> {
    read_json(&dir.join(format!("{name}.har")))["log"]["entries"].as_array().unwrap().clone()
}

fn step<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {report:#}"))
}

fn reason(report: &Value, name: &str) -> String {
    step(report, name)["reason"].as_str().unwrap_or_default().to_string()
}

/// A step's details (timings, assertions), whether it passed or not.
fn details<'r>(report: &'r Value, name: &str) -> &'r Value {
    &step(report, name)["details"]
}

fn metric(project: &Project, canary: &str, metric: &str, step: Option<&str>) -> Vec<f64> {
    let store = SqliteStore::open(&project.path().join(".aviary/aviary.db")).unwrap();
    let query = MetricQuery {
        canary: canary.into(),
        metric: metric.into(),
        step: step.map(str::to_string),
        since: chrono::Utc::now() - chrono::Duration::hours(1),
        until: chrono::Utc::now() + chrono::Duration::hours(1),
    };
    store.datapoints(&query).unwrap().into_iter().map(|d| d.value).collect()
}

const CHAIN: &str = r#"
api:
  steps:
    - name: create item
      request:
        method: POST
        url: "${BASE}/api/items"
        headers: {x-api-key: "${secret:API_KEY}"}
        json: {name: widget}
      assert:
        - status == 201
        - header content-type contains json
        - json $.id exists
        - latency < 5s
      extract: {item_id: json $.id, request_id: header x-request-id}
    - name: read item
      request: {method: GET, url: "${BASE}/api/items/${item_id}"}
      assert: [status == 200, json $.name == "widget", body matches "wid.*"]
    - name: read by location
      request: {url: "${BASE}/api/items/${item_id}?request=${request_id}"}
      assert: [json $.tags contains "new"]
"#;

#[test]
fn chained_create_and_read_pass_with_extraction_and_an_auth_header() {
    let site = start_api_site();
    let project = Project::new();
    project.canary("items", &canary(&site.base(), CHAIN));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert!(stdout(&output).contains("✓ items › create item"), "{}", show(&output));

    let (dir, report) = run_of(&project, "items");
    assert_eq!(report["status"], "PASSED");
    assert_eq!(report["blueprint"], "api");
    for name in ["create item", "read item", "read by location"] {
        assert_eq!(step(&report, name)["status"], "PASSED", "{report:#}");
    }
    let create = details(&report, "create item");
    assert_eq!(create["status"], 201);
    assert_eq!(create["method"], "POST");
    assert_eq!(create["extracted"], serde_json::json!(["item_id", "request_id"]));
    let timings = &create["timings"];
    for phase in ["connect_ms", "send_ms", "ttfb_ms", "transfer_ms", "total_ms"] {
        assert!(timings[phase].as_f64().is_some_and(|v| v >= 0.0), "{phase} in {timings}");
    }
    assert!(
        timings["dns_ms"].is_null() && timings["tls_ms"].is_null(),
        "an IP over http: no DNS, no TLS: {timings}"
    );
    let checks = create["assertions"].as_array().unwrap();
    assert_eq!(checks.len(), 4);
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:?}");
    assert_eq!(step(&report, "read item")["url"], site.url("/api/items/1"));
    assert_eq!(report["requests"]["2xx"], 3);

    // The server saw the key and the chained id.
    let seen = site.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].headers.iter().any(|(n, v)| n == "x-api-key" && v == API_KEY));
    assert_eq!(seen[0].body, r#"{"name":"widget"}"#);
    assert!(seen[0].headers.iter().any(|(n, v)| n == "content-type" && v == "application/json"));
    assert_eq!(seen[1].uri, "/api/items/1");

    // One HAR entry per request, with timings, and without bodies by default.
    let entries = har(&dir, "items");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["request"]["method"], "POST");
    assert_eq!(entries[0]["response"]["status"], 201);
    assert!(entries[0]["request"]["postData"].is_null());
    assert_eq!(entries[0]["request"]["bodySize"], 17);
    assert!(entries[0]["response"]["content"]["text"].is_null());
    for entry in &entries {
        let t = &entry["timings"];
        assert!(t["connect"].as_f64().unwrap() >= 0.0 && t["wait"].as_f64().unwrap() >= 0.0, "{t}");
        assert_eq!(t["ssl"], -1.0);
        assert!(entry["time"].as_f64().unwrap() > 0.0);
    }
    let key = entries[0]["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "x-api-key")
        .unwrap();
    assert_eq!(key["value"], "***");

    // Metrics and history.
    assert_eq!(metric(&project, "items", "SuccessPercent", None), [100.0]);
    assert_eq!(metric(&project, "items", "2xx", None), [3.0]);
    assert_eq!(metric(&project, "items", "SuccessPercent", Some("read item")), [100.0]);
    assert_eq!(metric(&project, "items", "Duration", Some("read item")).len(), 1);
    let history = project.aviary(&["runs", "items"]);
    assert!(stdout(&history).contains("PASSED"), "{}", show(&history));
}

#[test]
fn a_login_token_flows_into_a_bearer_header_and_is_redacted() {
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
api:
  steps:
    - name: login
      request: {method: post, url: "${BASE}/api/login", form: {user: alice, password: "p w&d"}}
      assert: [status == 200]
      extract: {token: json $.token}
    - name: whoami
      request: {url: "${BASE}/api/whoami", headers: {authorization: "Bearer ${token}"}}
      assert: [json $.user == alice]
"#;
    project.canary("login", &canary(&site.base(), body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let seen = site.seen();
    assert_eq!(seen[0].body, "password=p+w%26d&user=alice");
    assert!(
        seen[0].headers.iter().any(|(n, v)| n == "content-type" && v == "application/x-www-form-urlencoded")
    );
    let (dir, _) = run_of(&project, "login");
    let entries = har(&dir, "login");
    let auth =
        entries[1]["request"]["headers"].as_array().unwrap().iter().find(|h| h["name"] == "authorization");
    assert_eq!(auth.unwrap()["value"], "***", "authorization is always redacted");
}

const READ: &str = r#"
    - name: create
      request: {method: POST, url: "${BASE}/api/items", headers: {x-api-key: "${secret:API_KEY}"}, json: {name: widget}}
      assert: [status == 201]
"#;

#[test]
fn every_assertion_kind_passes() {
    let site = start_api_site();
    let project = Project::new();
    let body = format!(
        r#"
api:
  steps:{READ}
    - name: read
      request: {{url: "${{BASE}}/api/items/1"}}
      assert:
        - status == 200
        - status != 404
        - status < 300
        - status > 199
        - status in 200-299
        - status in 2xx
        - header content-type exists
        - header content-type == application/json
        - header Content-Type contains json
        - header content-type matches "^application/(.+\+)?json$"
        - json $.id exists
        - json $.id == 1
        - json $.name == "widget"
        - json $.name != "gadget"
        - json $.price < 10
        - json $.price > 9
        - json $.price <= 9.5
        - json $.tags contains "new"
        - json $.tags[0] == new
        - json $['name'] == 'widget'
        - json $.owner == null
        - json $.name contains idg
        - body contains "widget"
        - 'body matches "\"price\": ?9\.5"'
        - latency < 5s
        - latency <= 5000
"#
    );
    project.canary("kinds", &canary(&site.base(), &body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let (_, report) = run_of(&project, "kinds");
    let checks = details(&report, "read")["assertions"].as_array().unwrap().clone();
    assert_eq!(checks.len(), 26);
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:#?}");
}

#[test]
fn rfc_9535_paths_with_wildcards_filters_and_descent_assert_over_every_value() {
    let site = start_api_site();
    let project = Project::new();
    let passing = r#"
api:
  steps:
    - name: catalog
      request: {url: "${BASE}/api/catalog"}
      assert:
        - "json $.items[?@.name == 'widget'].id == 7"
        - json $..sku exists
        - json $.items[*].price > 0
        - json $.items[1:].id >= 8
        - "json $.items[?@.stock > 0 && @.price < 30].name == widget"
        - "json $.items[?length(@.tags) > 1].name == gizmo"
        - json $.items[*].sku matches ^[A-Z]-1$
        - count $.items[*] == 3
        - count $.items[?@.stock == 0] == 1
        - count $..nothing == 0
      extract: {cheap: "json $.items[?@.price < 30].name"}
    - name: uses the first extracted
      request: {url: "${BASE}/api/echo?first=${cheap}"}
      assert: ['json $.query == "first=widget"']
"#;
    project.canary("rfc", &canary(&site.base(), passing));
    let failing = r#"
api:
  continue_on_step_failure: true
  steps:
    - name: every value
      request: {url: "${BASE}/api/catalog"}
      assert: ["json $.items[*].price < 30"]
    - name: nothing selected
      request: {url: "${BASE}/api/catalog"}
      assert: ["json $.items[?@.price > 100].id == 1"]
    - name: count
      request: {url: "${BASE}/api/catalog"}
      assert: ["count $.items[?@.stock == 0] == 0"]
"#;
    project.canary("rfc-fails", &canary(&site.base(), failing));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let (_, report) = run_of(&project, "rfc");
    assert_eq!(report["status"], "PASSED", "{report:#}");
    let (_, report) = run_of(&project, "rfc-fails");
    assert_eq!(
        reason(&report, "every value"),
        "GET /api/catalog: expected json $.items[*].price < 30, got 35 at $['items'][2]['price'] (3 values selected)"
    );
    assert_eq!(
        reason(&report, "nothing selected"),
        "GET /api/catalog: expected json $.items[?@.price > 100].id == 1, got nothing: the path selects no value"
    );
    assert_eq!(
        reason(&report, "count"),
        "GET /api/catalog: expected count $.items[?@.stock == 0] == 0, got 1 value selected"
    );
}

#[test]
fn every_assertion_kind_fails_with_what_was_expected_and_found() {
    let site = start_api_site();
    let project = Project::new();
    let cases = [
        ("status ==", "status == 201", "expected status == 201, got 200"),
        ("status !=", "status != 200", "expected status != 200, got 200"),
        ("status <", "status < 200", "expected status < 200, got 200"),
        ("status >", "status > 200", "expected status > 200, got 200"),
        ("status in", "status in 300-399", "expected status in 300-399, got 200"),
        (
            "header exists",
            "header x-request-id exists",
            "expected header x-request-id exists, got no `x-request-id` header",
        ),
        (
            "header ==",
            "header content-type == text/html",
            "expected header content-type == text/html, got \"application/json\"",
        ),
        (
            "header contains",
            "header content-type contains xml",
            "expected header content-type contains xml, got \"application/json\"",
        ),
        (
            "header matches",
            "header content-type matches ^text/",
            "expected header content-type matches ^text/, got \"application/json\"",
        ),
        (
            "json exists",
            "json $.nope exists",
            "expected json $.nope exists, got nothing: no key \"nope\" in the object at $ (keys: id, name, owner, price, tags)",
        ),
        ("json ==", "json $.name == \"gadget\"", "expected json $.name == \"gadget\", got \"widget\""),
        ("json !=", "json $.name != widget", "expected json $.name != widget, got \"widget\""),
        ("json <", "json $.price < 5", "expected json $.price < 5, got 9.5"),
        ("json >", "json $.price > 10", "expected json $.price > 10, got 9.5"),
        ("json contains", "json $.tags contains old", "expected json $.tags contains old, got [\"new\"]"),
        ("json type", "json $.name > 3", "expected json $.name > 3, got \"widget\" (a string, not a number)"),
        (
            "body contains",
            "body contains gadget",
            "expected body contains gadget, got a 64-byte body: \"{\\\"id\\\":1,\\\"name\\\":\\\"widget\\\",\\\"owner\\\":null,\\\"price\\\":9.5,\\\"tags\\\":[\\\"new\\\"]}\"",
        ),
        ("body matches", "body matches ^<html", "expected body matches ^<html, got a 64-byte body: "),
    ];
    let mut body = format!("continue_on_step_failure: true\napi:\n  steps:{READ}");
    for (name, assertion, _) in &cases {
        body.push_str(&format!(
            "    - name: {name}\n      request: {{url: \"${{BASE}}/api/items/1\"}}\n      assert: ['{assertion}']\n"
        ));
    }
    body.push_str(
        "    - name: latency\n      request: {url: \"${BASE}/api/slow/300\"}\n      assert: [latency < 100ms]\n",
    );
    project.canary("fails", &canary(&site.base(), &body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let (_, report) = run_of(&project, "fails");
    assert_eq!(report["status"], "FAILED");
    assert_eq!(
        report["reason"], "step 2 `status ==`: GET /api/items/1: expected status == 201, got 200",
        "the first failed step decides the run's reason"
    );
    for (name, _, expected) in &cases {
        let step = step(&report, name);
        assert_eq!(step["status"], "FAILED", "{name}");
        let reason = reason(&report, name);
        assert!(
            reason.starts_with(&format!("GET /api/items/1: {expected}")),
            "{name}:\n  {reason}\n  {expected}"
        );
    }
    let latency = reason(&report, "latency");
    assert!(
        regex::Regex::new(r"^GET /api/slow/300: expected latency < 100ms, got 3\d\d ms$")
            .unwrap()
            .is_match(&latency),
        "{latency}"
    );
    // Per-assertion results of a failed step are in the report too.
    let checks = details(&report, "json ==")["assertions"].as_array().unwrap();
    assert_eq!(checks[0]["assertion"], "status in 200-399");
    assert_eq!(checks[0]["implicit"], true);
    assert_eq!(checks[1]["passed"], false);
    assert_eq!(checks[1]["found"], "\"widget\"");
    // Every step ran (continue_on_step_failure); per-step metrics say which failed.
    assert_eq!(report["steps"].as_array().unwrap().len(), cases.len() + 2);
    assert_eq!(metric(&project, "fails", "SuccessPercent", Some("json ==")), [0.0]);
    assert_eq!(metric(&project, "fails", "SuccessPercent", Some("create")), [100.0]);
}

#[test]
fn a_step_without_a_status_assertion_expects_200_to_399_and_4xx_5xx_are_counted() {
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
continue_on_step_failure: true
api:
  steps:
    - name: missing
      request: {url: "${BASE}/api/items/99"}
    - name: expected 404
      request: {url: "${BASE}/api/status/404"}
      assert: [status == 404]
    - name: server error
      request: {url: "${BASE}/api/status/503"}
"#;
    project.canary("codes", &canary(&site.base(), body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let (_, report) = run_of(&project, "codes");
    assert_eq!(reason(&report, "missing"), "GET /api/items/99: expected status in 200-399, got 404");
    assert_eq!(step(&report, "expected 404")["status"], "PASSED");
    assert_eq!(reason(&report, "server error"), "GET /api/status/503: expected status in 200-399, got 503");
    assert_eq!(report["requests"]["4xx"], 2);
    assert_eq!(report["requests"]["5xx"], 1);
    assert_eq!(metric(&project, "codes", "4xx", None), [2.0]);
    assert_eq!(metric(&project, "codes", "5xx", None), [1.0]);
    assert_eq!(metric(&project, "codes", "FailedRequests", None), [0.0]);
}

#[test]
fn invalid_json_fails_json_checks_and_skips_the_steps_that_need_its_values() {
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
continue_on_step_failure: true
api:
  steps:
    - name: broken
      request: {url: "${BASE}/api/invalid-json"}
      assert: [json $.id == 1]
      extract: {id: json $.id}
    - name: uses id
      request: {url: "${BASE}/api/items/${id}"}
    - name: independent
      request: {url: "${BASE}/api/status/200"}
"#;
    project.canary("invalid", &canary(&site.base(), body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let (_, report) = run_of(&project, "invalid");
    let broken = reason(&report, "broken");
    assert!(
        broken.starts_with(
            "GET /api/invalid-json: expected json $.id == 1, got a body that is not JSON (EOF while parsing"
        ),
        "{broken}"
    );
    assert!(broken.ends_with("(and 1 more failure)"), "{broken}");
    assert_eq!(step(&report, "uses id")["status"], "SKIPPED");
    let skipped = reason(&report, "uses id");
    assert!(
        skipped.starts_with("`${id}` has no value: step 1 `broken` could not extract it (the response has a body that is not JSON"),
        "{skipped}"
    );
    assert_eq!(step(&report, "independent")["status"], "PASSED");
    assert_eq!(site.seen().len(), 2, "the skipped step sent nothing");
}

#[test]
fn by_default_steps_after_a_failure_are_skipped() {
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
api:
  steps:
    - name: first
      request: {url: "${BASE}/api/status/500"}
    - name: second
      request: {url: "${BASE}/api/status/200"}
"#;
    project.canary("stops", &canary(&site.base(), body));
    // The api section's own setting wins over the canary's.
    let overridden =
        body.replace("api:\n", "continue_on_step_failure: true\napi:\n  continue_on_step_failure: false\n");
    project.canary("stops-too", &canary(&site.base(), &overridden));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    for name in ["stops", "stops-too"] {
        let (_, report) = run_of(&project, name);
        assert_eq!(report["status"], "FAILED");
        assert_eq!(step(&report, "second")["status"], "SKIPPED");
        assert_eq!(reason(&report, "second"), "not run: step 1 `first` did not pass");
    }
    assert_eq!(site.seen().len(), 2);
}

#[test]
fn disabled_canaries_run_only_when_named() {
    let site = start_api_site();
    let project = Project::new();
    let body = "api:\n  steps:\n    - name: get\n      request: {url: \"${BASE}/api/status/200\"}\n";
    project.canary("on", &canary(&site.base(), body));
    let off = project.canary("off", &canary(&site.base(), &format!("enabled: false\n{body}")));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert_eq!(runs(&project).len(), 1, "{}", show(&output));
    assert_eq!(run_of(&project, "on").1["status"], "PASSED");

    let output = run(&project, &["run", off.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert_eq!(run_of(&project, "off").1["status"], "PASSED");

    std::fs::remove_file(project.path().join("canaries/on.yaml")).unwrap();
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(stderr(&output).contains("every canary is disabled"), "{}", show(&output));
}

#[test]
fn a_slow_endpoint_past_its_timeout_is_a_timeout() {
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
api:
  steps:
    - name: slow
      request: {url: "${BASE}/api/slow/5000", timeout: 300ms}
"#;
    project.canary("slow", &canary(&site.base(), body));
    let run_bound = "api:\n  steps:\n    - name: slow\n      request: {url: \"${BASE}/api/slow/5000\"}\n";
    project.canary("slow-run", &canary(&site.base(), run_bound).replace("timeout: 30s", "timeout: 1s"));
    let started = Instant::now();
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(started.elapsed() < Duration::from_secs(4), "the step did not end at its timeout");
    let (dir, report) = run_of(&project, "slow");
    assert_eq!(report["status"], "TIMEOUT");
    assert_eq!(step(&report, "slow")["status"], "TIMEOUT");
    assert_eq!(
        reason(&report, "slow"),
        format!(
            "GET {}: timed out after 300ms waiting for the response (the step's timeout)",
            site.url("/api/slow/5000")
        )
    );
    let entries = har(&dir, "slow");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["response"]["status"], 0);
    assert!(entries[0]["_error"].as_str().unwrap().contains("timed out"));
    assert_eq!(report["requests"]["failed"], 1);
    let (_, report) = run_of(&project, "slow-run");
    assert_eq!(report["status"], "TIMEOUT");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("timed out after") && reason.contains("the run's 1s timeout"), "{reason}");
}

#[test]
fn bodies_past_their_limits_fail_clearly() {
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
continue_on_step_failure: true
api:
  steps:
    - name: declared
      request: {url: "${BASE}/api/big/5000", max_response_bytes: 1KB}
    - name: streamed
      request: {url: "${BASE}/api/stream/5000", max_response_bytes: 2000}
    - name: request body
      request: {method: POST, url: "${BASE}/api/echo", body: "0123456789012345678901234567890123456789", max_request_bytes: 16}
    - name: within the default
      request: {url: "${BASE}/api/big/200000"}
      assert: [body matches "^x+$"]
"#;
    project.canary("limits", &canary(&site.base(), body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let (dir, report) = run_of(&project, "limits");
    assert_eq!(
        reason(&report, "declared"),
        format!(
            "GET {}: response body is 5000 bytes (Content-Length), over the 1000-byte limit (max_response_bytes)",
            site.url("/api/big/5000")
        )
    );
    assert_eq!(
        reason(&report, "streamed"),
        format!(
            "GET {}: response body is more than 2000 bytes, over the 2000-byte limit (max_response_bytes)",
            site.url("/api/stream/5000")
        )
    );
    assert_eq!(
        reason(&report, "request body"),
        format!(
            "POST {}: request body is 40 bytes, over the 16-byte limit (max_request_bytes)",
            site.url("/api/echo")
        )
    );
    assert_eq!(step(&report, "within the default")["status"], "PASSED");
    assert!(site.seen().iter().all(|s| s.method != "POST"), "the oversized request was not sent");
    let entries = har(&dir, "limits");
    assert_eq!(entries.len(), 3, "no entry for the request that was never sent");
    assert_eq!(entries[1]["response"]["status"], 200);
    assert_eq!(entries[1]["response"]["bodySize"], 2000);
}

#[test]
fn a_refused_connection_fails_the_step_and_counts_a_failed_request() {
    let project = Project::new();
    let port = closed_port();
    let body = "api:\n  steps:\n    - name: down\n      request: {url: \"${BASE}/health?probe=1\"}\n";
    project.canary("down", &canary(&format!("http://127.0.0.1:{port}"), body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let (dir, report) = run_of(&project, "down");
    assert_eq!(report["status"], "FAILED");
    assert_eq!(
        report["reason"],
        format!(
            "step 1 `down`: GET http://127.0.0.1:{port}/health?probe=1: could not connect to 127.0.0.1:{port}: \
             connection refused"
        )
    );
    assert_eq!(report["requests"]["failed"], 1);
    assert_eq!(metric(&project, "down", "FailedRequests", None), [1.0]);
    let entries = har(&dir, "down");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["response"]["status"], 0);
    assert!(entries[0]["_error"].as_str().unwrap().contains("connection refused"));
    assert_eq!(entries[0]["request"]["queryString"][0]["name"], "probe");
}

#[test]
fn redirects_are_followed_or_not_and_loops_fail() {
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
continue_on_step_failure: true
api:
  steps:
    - name: followed
      request: {url: "${BASE}/api/redirect/2"}
      assert: [status == 200, json $.arrived == true]
    - name: not followed
      request: {url: "${BASE}/api/redirect/2", follow_redirects: false}
      assert: [status == 303, header location == /api/redirect/1]
    - name: ten is fine
      request: {url: "${BASE}/api/redirect/10"}
    - name: eleven is too many
      request: {url: "${BASE}/api/redirect/11"}
    - name: loop
      request: {url: "${BASE}/api/loop/a"}
"#;
    project.canary("redirects", &canary(&site.base(), body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let (dir, report) = run_of(&project, "redirects");
    let followed = step(&report, "followed");
    assert_eq!(followed["status"], "PASSED", "{report:#}");
    assert_eq!(followed["url"], site.url("/api/redirect/0"));
    assert_eq!(followed["details"]["requests"].as_array().unwrap().len(), 3);
    assert_eq!(step(&report, "not followed")["status"], "PASSED", "{report:#}");
    assert_eq!(step(&report, "ten is fine")["status"], "PASSED");
    assert_eq!(
        reason(&report, "eleven is too many"),
        format!("GET {}: more than 10 redirects", site.url("/api/redirect/11"))
    );
    assert_eq!(
        reason(&report, "loop"),
        format!(
            "GET {}: redirect loop: {} -> {} -> {}",
            site.url("/api/loop/a"),
            site.url("/api/loop/a"),
            site.url("/api/loop/b"),
            site.url("/api/loop/a")
        )
    );
    let entries = har(&dir, "redirects");
    // 3 + 1 + 11 + 11 + 2 requests.
    assert_eq!(entries.len(), 28);
    assert_eq!(entries[0]["response"]["status"], 303);
    assert_eq!(entries[0]["response"]["redirectURL"], site.url("/api/redirect/1"));
    assert_eq!(report["requests"]["3xx"], 2 + 1 + 10 + 11 + 2);
}

#[test]
fn tls_is_verified_by_default_and_verify_tls_false_accepts_a_self_signed_certificate() {
    let tls = start_tls_site();
    let project = Project::new();
    let body = r#"
continue_on_step_failure: true
api:
  steps:
    - name: verified
      request: {url: "${BASE}/secure"}
    - name: unverified
      request: {url: "${BASE}/secure", verify_tls: false}
      assert: [json $.secure == true]
    - name: by name
      request: {url: "https://localhost:PORT/named", verify_tls: false}
"#
    .replace("PORT", &tls.addr.port().to_string());
    project.canary("tls", &canary(&format!("https://127.0.0.1:{}", tls.addr.port()), &body));
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let (dir, report) = run_of(&project, "tls");
    let verified = reason(&report, "verified");
    assert!(
        verified.starts_with(&format!(
            "GET {}: TLS handshake with `127.0.0.1` failed: invalid peer certificate: UnknownIssuer",
            tls.url("/secure")
        )),
        "{verified}"
    );
    assert!(verified.ends_with("(set `verify_tls: false` to accept it anyway)"), "{verified}");
    assert_eq!(step(&report, "unverified")["status"], "PASSED", "{report:#}");
    let unverified = details(&report, "unverified");
    assert_eq!(unverified["http_version"], "HTTP/2.0", "h2 negotiated through ALPN");
    assert!(unverified["timings"]["tls_ms"].as_f64().unwrap() > 0.0);
    let named = details(&report, "by name");
    assert!(named["timings"]["dns_ms"].as_f64().is_some(), "a name is resolved: {named}");
    let entries = har(&dir, "tls");
    assert_eq!(entries.len(), 3);
    let timings = &entries[1]["timings"];
    assert!(timings["ssl"].as_f64().unwrap() > 0.0);
    assert!(
        timings["connect"].as_f64().unwrap() >= timings["ssl"].as_f64().unwrap(),
        "HAR: connect includes ssl"
    );
    assert_eq!(entries[1]["request"]["httpVersion"], "HTTP/2.0");

    // Trusting the certificate (SSL_CERT_FILE) makes the verified request pass.
    let ca = project.file("ca.pem", &tls.cert_pem);
    let output = project.aviary_env(&["run", "--grep", "^tls$"], &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
}

#[test]
fn unset_names_and_names_used_before_extraction_are_errors_with_positions() {
    let project = Project::new();
    let text = r#"blueprint: api
env: {BASE: "http://127.0.0.1:1"}
api:
  steps:
    - name: read first
      request: {url: "${BASE}/api/items/${item_id}"}
    - name: create
      request: {method: POST, url: "${BASE}/api/items?k=${NOPE}"}
      extract: {item_id: json $.id}
"#;
    project.canary("vars", text);
    for command in ["run", "validate"] {
        let output = project.aviary(&[command]);
        assert_eq!(output.status.code(), Some(2), "{}", show(&output));
        let err = stderr(&output);
        assert!(
            err.contains(
                "vars.yaml:6:22: api.steps[0].request.url: `${item_id}` is used before any step extracts it \
                 (step 2 `create` extracts it)"
            ),
            "{err}"
        );
        assert!(
            err.contains("vars.yaml:8:36: api.steps[1].request.url: `${NOPE}` is not set: add it to `env:` or the environment"),
            "{err}"
        );
    }
    assert!(project.run_dirs().is_empty(), "nothing ran");
}

#[test]
fn malformed_assertions_and_extractions_are_errors_at_their_position() {
    let project = Project::new();
    let text = r#"blueprint: api
api:
  steps:
    - name: bad
      request: {url: "http://127.0.0.1:1/", headers: {"bad header": x}}
      assert:
        - status == 200
        - status = 200
        - json id exists
      extract:
        x: xpath //a
"#;
    project.canary("bad", text);
    project.canary("size", "blueprint: api\napi:\n  steps:\n    - name: s\n      request: {url: \"http://h/\", max_response_bytes: 10 parsecs}\n");
    let output = project.aviary(&["validate"]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    let err = stderr(&output);
    for expected in [
        "bad.yaml:8:11: api.steps[0].assert[1]: invalid assertion `status = 200`: use `==` to compare, not `=`",
        "bad.yaml:9:11: api.steps[0].assert[2]: invalid assertion `json id exists`: invalid JSON path `id`: it must start with `$`",
        "bad.yaml:11:12: api.steps[0].extract.x: invalid extraction `xpath //a`: use `json PATH`, `header NAME` or `body REGEX`",
        "api.steps[0].request.headers.bad header: `bad header` is not a header name",
        "size.yaml:5:55: api.steps[0].request.max_response_bytes: invalid size \"10 parsecs\": unknown unit `parsecs`",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in\n{err}");
    }
}

#[test]
fn secrets_in_headers_urls_and_messages_never_reach_disk() {
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
report:
  restricted_url_parameters: [token]
  include_request_body: true
  include_response_body: true
continue_on_step_failure: true
api:
  steps:
    - name: echo
      request:
        method: POST
        url: "${BASE}/api/echo?key=${secret:API_KEY}&token=plain-token-value&page=2"
        headers: {x-api-key: "${secret:API_KEY}"}
        json: {key: "${secret:API_KEY}", note: hello}
      assert: [json $.headers.x-api-key exists]
      extract: {echoed: json $.headers.x-api-key}
    - name: fails mentioning the key
      request: {url: "${BASE}/api/echo?key=${secret:API_KEY}"}
      assert: ['header x-api-key == "${secret:API_KEY}"']
    - name: uses the echoed value
      request: {url: "${BASE}/api/echo", headers: {x-echo: "${echoed}"}}
"#;
    project.canary("secret", &canary(&site.base(), body));
    let output = run(&project, &["run", "--reporter", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(site.seen()[0].uri.contains(API_KEY), "the request itself carried the secret");
    assert!(!stdout(&output).contains(API_KEY) && !stderr(&output).contains(API_KEY), "{}", show(&output));

    let (dir, report) = run_of(&project, "secret");
    assert_eq!(
        reason(&report, "fails mentioning the key"),
        "GET /api/echo?key=***: expected header x-api-key == \"***\", got no `x-api-key` header"
    );
    let entries = har(&dir, "secret");
    assert_eq!(entries[0]["request"]["url"], site.url("/api/echo?key=***&token=***&page=2"));
    let header = entries[0]["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "x-api-key")
        .unwrap();
    assert_eq!(header["value"], "***");
    assert_eq!(entries[0]["request"]["postData"]["text"], r#"{"key":"***","note":"hello"}"#);
    let echoed = entries[0]["response"]["content"]["text"].as_str().unwrap();
    assert!(
        echoed.contains("\"x-api-key\":\"***\"") && echoed.contains("\"note\\\":\\\"hello\\\""),
        "{echoed}"
    );

    let files = project.data_files();
    assert!(files.iter().any(|f| f.ends_with("aviary.db")), "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            !bytes.windows(API_KEY.len()).any(|w| w == API_KEY.as_bytes()),
            "secret written to {}",
            file.display()
        );
    }
}

/// A secret with every character that means something in a URL reaches the server as it is, and
/// no form of it reaches the disk.
#[test]
fn a_secret_full_of_url_characters_is_encoded_in_the_url_and_redacted_in_every_form() {
    const HOSTILE: &str = "Sp3c!@l pa+ss/&=?#%";
    let site = start_api_site();
    let project = Project::new();
    let body = r#"
api:
  steps:
    - name: echo
      request: {url: "${BASE}/api/echo?k=${secret:SEC}&page=2", headers: {authorization: "Bearer ${secret:SEC}"}}
"#;
    project.canary("hostile", &canary(&site.base(), body));
    let output = project.aviary_env(&["run"], &[("SEC", HOSTILE)]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let sent = url::Url::parse(&format!("http://h{}", site.seen()[0].uri)).unwrap();
    let pairs: Vec<(String, String)> =
        sent.query_pairs().map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
    assert_eq!(pairs, [("k".to_string(), HOSTILE.to_string()), ("page".to_string(), "2".to_string())]);

    let forms = ["Sp3c!@l", "Sp3c%21", "pa+ss", "pa%2Bss", "Sp3c"];
    for file in project.data_files() {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for form in forms {
            assert!(!text.contains(form), "{form:?} written to {}", file.display());
        }
    }
}

#[test]
fn junit_and_json_reporters_give_every_step() {
    let site = start_api_site();
    let project = Project::new();
    project.canary("good", &canary(&site.base(), CHAIN));
    let bad = r#"
api:
  steps:
    - name: ok
      request: {url: "${BASE}/api/status/200"}
    - name: "fails <here>"
      request: {url: "${BASE}/api/status/500"}
      assert: [status == 200]
    - name: never
      request: {url: "${BASE}/api/status/200"}
"#;
    project.canary("bad", &canary(&site.base(), bad));

    let output = run(&project, &["run", "--reporter", "junit"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let xml = stdout(&output);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML ({e}):\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("6"));
    assert_eq!(root.attribute("failures"), Some("1"));
    let cases: Vec<_> = root.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 6);
    let failed = cases.iter().find(|c| c.attribute("name") == Some("fails <here>")).unwrap();
    assert_eq!(failed.attribute("classname"), Some("bad"));
    let failure = failed.children().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(failure.attribute("message"), Some("GET /api/status/500: expected status == 200, got 500"));
    let never = cases.iter().find(|c| c.attribute("name") == Some("never")).unwrap();
    let skipped = never.children().find(|n| n.has_tag_name("skipped")).unwrap();
    assert_eq!(skipped.attribute("message"), Some("not run: step 2 `fails <here>` did not pass"));
    let good: Vec<_> = cases.iter().filter(|c| c.attribute("classname") == Some("good")).collect();
    assert_eq!(good.len(), 3);
    assert!(good.iter().all(|c| c.children().all(|n| !n.is_element())), "passing testcases are empty");

    let output = run(&project, &["run", "--reporter", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let doc: Value = serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("invalid JSON ({e})"));
    assert_eq!(doc["summary"]["canaries"], 2);
    assert_eq!(doc["summary"]["passed"], 1);
    assert_eq!(doc["summary"]["failed"], 1);
    let runs = doc["runs"].as_array().unwrap();
    let bad = runs.iter().find(|r| r["canary"] == "bad").unwrap();
    let statuses: Vec<&str> =
        bad["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["PASSED", "FAILED", "SKIPPED"]);
    assert_eq!(bad["steps"][1]["reason"], "GET /api/status/500: expected status == 200, got 500");
    let good = runs.iter().find(|r| r["canary"] == "good").unwrap();
    assert!(good["steps"][0]["details"]["timings"]["ttfb_ms"].as_f64().is_some());
}

#[test]
fn the_api_template_validates_and_runs() {
    let site = start_api_site();
    let project = Project::new();
    let output = project.aviary(&["new", "api", "shop"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let path = project.path().join("canaries/shop.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("blueprint: api"));
    let missing_key = project.aviary(&["validate"]);
    assert_eq!(missing_key.status.code(), Some(2));
    assert!(
        stderr(&missing_key).contains("`${secret:API_KEY}` is not set: export API_KEY"),
        "{}",
        show(&missing_key)
    );
    let validated = run(&project, &["validate"]);
    assert_eq!(validated.status.code(), Some(0), "{}", show(&validated));
    std::fs::write(&path, text.replace("http://127.0.0.1:8080", &site.base())).unwrap();
    let output = run(&project, &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    let (_, report) = run_of(&project, "shop");
    assert_eq!(report["steps"].as_array().unwrap().len(), 2);
}

#[test]
fn retries_wait_their_retry_delay_doubling_each_time() {
    let site = start_api_site();
    let project = Project::new();
    let body = "retries: 2\nretry_delay: 300ms\napi:\n  steps:\n    - name: down\n      request: {url: \"${BASE}/api/status/503\"}\n";
    project.canary("flaky", &canary(&site.base(), body));
    let output = run(&project, &["run", "--reporter", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let doc: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let attempts = doc["runs"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{doc:#}");
    let time =
        |run: &Value, key: &str| chrono::DateTime::parse_from_rfc3339(run[key].as_str().unwrap()).unwrap();
    let waits: Vec<i64> = attempts
        .windows(2)
        .map(|pair| (time(&pair[1], "start") - time(&pair[0], "end")).num_milliseconds())
        .collect();
    // retry_delay before the first retry, twice it before the second.
    assert!(waits[0] >= 300 && waits[1] >= 600, "waits between attempts: {waits:?} ms");
    assert_eq!(site.seen().len(), 3);
}
