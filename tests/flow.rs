//! Browser steps end to end: `flow` canaries replaying Chrome DevTools Recorder exports and
//! `workflow` canaries, with the real binary, real Chromium and the example site
//! (`canaries/site/`) served on 127.0.0.1. Every Recorder flow here also passes in the
//! Recorder's own replayer (@puppeteer/replay through `bench/replay.js`).

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{Project, Site, read_json, reference_replay, start_example_site, stderr, stdout};

const EXAMPLE_ORIGIN: &str = "http://127.0.0.1:8080";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A recording with the example site's address replaced by the test site's.
fn recording_for(site: &Site, source: &str) -> String {
    std::fs::read_to_string(repo(source)).unwrap().replace(EXAMPLE_ORIGIN, &site.url(""))
}

/// Writes `flows/NAME.json` and a flow canary using it; returns the recording's path.
fn flow_canary(project: &Project, name: &str, recording: &str, extra: &str) -> PathBuf {
    let path = project.file(&format!("canaries/flows/{name}.json"), recording);
    project
        .canary(name, &format!("blueprint: flow\ntimeout: 60s\n{extra}\nflow:\n  file: flows/{name}.json\n"));
    path
}

fn only_report(project: &Project) -> (PathBuf, Value) {
    let dirs = project.run_dirs();
    assert_eq!(dirs.len(), 1, "expected one run folder, found {dirs:?}");
    let report = read_json(&dirs[0].join("report.json"));
    (dirs[0].clone(), report)
}

fn step_names(report: &Value) -> Vec<String> {
    report["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn example_sign_in_flow_passes_in_aviary_and_in_the_reference_replayer() {
    let site = start_example_site();
    let project = Project::new();
    let recording =
        flow_canary(&project, "sign-in", &recording_for(&site, "canaries/flows/sign-in.json"), "");
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    let (dir, report) = only_report(&project);
    assert_eq!(report["status"], "PASSED", "{report:#}");
    let names = step_names(&report);
    assert_eq!(names.len(), 11, "one report step per recorded step: {names:?}");
    assert_eq!(names[0], "setViewport 1280x800");
    assert_eq!(names[2], "click aria/User name");
    let sign_in = &report["steps"][7];
    assert_eq!(sign_in["details"]["selector"], "aria/Sign in[role=\"button\"]");
    assert_eq!(sign_in["details"]["selector_index"], 0);
    assert_eq!(sign_in["url"], site.url("/account.html?user=demo&plan=pro"));
    assert_eq!(report["details"]["selector_drift"], 0);
    assert!(dir.join("sign-in.har").is_file(), "the run keeps its HAR");

    let reference = reference_replay(&recording);
    assert_eq!(reference["ok"], true, "@puppeteer/replay: {reference}");
}

#[test]
fn every_recorder_step_type_replays_in_aviary_and_in_the_reference_replayer() {
    let site = start_example_site();
    let project = Project::new();
    let recording =
        flow_canary(&project, "widgets", &recording_for(&site, "tests/fixtures/flows/widgets.json"), "");
    let output = project.aviary(&["run"]);
    let (_, report) = only_report(&project);
    let failed: Vec<&Value> =
        report["steps"].as_array().unwrap().iter().filter(|s| s["status"] != "PASSED").collect();
    assert_eq!(
        output.status.code(),
        Some(0),
        "steps that did not pass: {failed:#?}\nstderr: {}",
        stderr(&output)
    );
    let kinds: std::collections::BTreeSet<String> =
        step_names(&report).iter().map(|n| n.split(' ').next().unwrap().to_string()).collect();
    for kind in aviary::blueprints::flow::recording::STEP_TYPES {
        assert!(kinds.contains(*kind), "no `{kind}` step ran: {kinds:?}");
    }

    let reference = reference_replay(&recording);
    assert_eq!(reference["ok"], true, "@puppeteer/replay: {reference}");
}

#[test]
fn a_drifted_selector_passes_with_a_warning_the_report_and_the_metric_show() {
    let site = start_example_site();
    let project = Project::new();
    // The page renamed #user: the first-listed selector no longer matches, the others do.
    let recording = recording_for(&site, "canaries/flows/sign-in.json")
        .replace(r##"[["aria/User name"], ["#user"]"##, r##"[["#username-old"], ["#user"]"##);
    flow_canary(&project, "drift", &recording, "");
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    let (dir, report) = only_report(&project);
    let drifted: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["details"]["selector_drift"] == true)
        .collect();
    // The click into the field and the typing both used that selector.
    assert_eq!(drifted.len(), 2, "{report:#}");
    assert_eq!(drifted[0]["details"]["selector"], "#user");
    assert_eq!(drifted[0]["details"]["selector_index"], 1);
    assert_eq!(report["details"]["selector_drift"], 2);
    let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
    assert!(log.contains("selector drift") && log.contains("`#user`"), "{log}");
}

#[test]
fn a_broken_selector_fails_with_the_step_every_selector_tried_and_the_deadline() {
    let site = start_example_site();
    let project = Project::new();
    let recording = recording_for(&site, "canaries/flows/sign-in.json")
        .replace(
            r##"[["aria/Password"], ["#password"], ["xpath///*[@id=\"password\"]"], ["pierce/#password"]]"##,
            r##"[["#pw-gone"], ["aria/Secret word"]]"##,
        )
        .replace(
            r#""title": "Sign in to the example shop","#,
            r#""title": "Sign in to the example shop", "timeout": 1500,"#,
        );
    flow_canary(&project, "broken", &recording, "");
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    let (_, report) = only_report(&project);
    assert_eq!(report["status"], "FAILED");
    let step = &report["steps"][4];
    assert_eq!(step["index"], 5);
    assert_eq!(step["name"], "change #pw-gone");
    assert_eq!(step["status"], "FAILED");
    let reason = step["reason"].as_str().unwrap();
    assert!(reason.contains("#pw-gone | aria/Secret word"), "{reason}");
    assert!(reason.contains("step timeout 1.5s"), "{reason}");
    assert_eq!(report["steps"][5]["status"], "SKIPPED");
}

#[test]
fn navigation_assertions_check_url_and_title() {
    let site = start_example_site();
    let project = Project::new();
    let recording = recording_for(&site, "canaries/flows/sign-in.json")
        .replace("\"Your account · Aviary example shop\"", "\"Someone else's account\"");
    flow_canary(&project, "nav", &recording, "");
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1));
    let (_, report) = only_report(&project);
    let step = &report["steps"][7];
    assert_eq!(step["status"], "FAILED", "{report:#}");
    let reason = step["reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "expected the title \"Someone else's account\", found \"Your account · Aviary example shop\""
        ),
        "{reason}"
    );
}

#[test]
fn a_recording_that_cannot_be_replayed_is_a_validation_error_placed_in_its_file() {
    let project = Project::new();
    let recording = r##"{
  "title": "bad",
  "steps": [
    {"type": "navigate", "url": "http://127.0.0.1:9/"},
    {"type": "clik", "selectors": [["#a"]]},
    {"type": "customStep", "name": "lighthouse", "parameters": {}},
    {"type": "click", "selectors": [["aria/x[level=\"1\"]"]], "offsetX": 1, "offsetY": 1},
    {"type": "keyDown", "key": "Entr"},
    {"type": "change", "selectors": [["#a"]]}
  ]
}
"##;
    flow_canary(&project, "bad", recording, "");
    let output = project.aviary(&["validate"]);
    assert_eq!(output.status.code(), Some(2), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    let text = format!("{}{}", stdout(&output), stderr(&output));
    for expected in [
        "flows/bad.json:5:14: steps[1].type: unknown step type \"clik\"; did you mean `click`?",
        "flows/bad.json:6:14: steps[2].type: `customStep` (lighthouse)",
        "flows/bad.json:7:36: steps[3].selectors: `aria/x[level=\"1\"]`: unknown attribute `level`",
        "flows/bad.json:8:32: steps[4].key: unknown key \"Entr\"",
        "flows/bad.json:9:5: steps[5]: a `change` step needs `value`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.contains("canaries/bad.yaml:5:9: flow.file:"), "{text}");
}

fn workflow_canary(project: &Project, name: &str, site: &Site, steps: &str) {
    let yaml = format!(
        "blueprint: workflow\ntimeout: 60s\nenv: {{BASE: \"{}\"}}\nworkflow:\n  url: \"${{BASE}}/login.html\"\n  step_timeout: 3s\n  steps:\n{steps}",
        site.url("")
    );
    project.canary(name, &yaml);
}

#[test]
fn a_workflow_signs_in_with_a_secret_password_that_no_artifact_holds() {
    let site = start_example_site();
    let project = Project::new();
    let site_password = "shop-demo-pass";
    workflow_canary(
        &project,
        "login",
        &site,
        r##"    - input: {selector: "#user", text: "demo"}
    - input: {selector: "aria/Password", text: "${secret:SHOP_PASSWORD}"}
    - select: {selector: "#plan", value: "Pro"}
    - check: "#terms"
    - click_and_navigate: [["aria/Sign in[role=\"button\"]"], ["text/Sign in"]]
    - verify_text: {selector: "h1", text: "Welcome, demo"}
    - verify_selector: "#dashboard"
    - click: "#menu"
    - wait_for: {selector: "#menu-items a", count: 2, operator: "=="}
    - screenshot: account
"##,
    );
    let without = project.aviary(&["run"]);
    assert_eq!(without.status.code(), Some(2), "an unset secret stops the run: {}", stderr(&without));
    assert!(stderr(&without).contains("SHOP_PASSWORD"), "{}", stderr(&without));

    let output = project.aviary_env(&["run"], &[("SHOP_PASSWORD", site_password)]);
    assert_eq!(output.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    let (dir, report) = only_report(&project);
    assert_eq!(
        step_names(&report),
        [
            format!("open {}", site.url("/login.html")),
            "input #user".to_string(),
            "input aria/Password".to_string(),
            "select #plan".to_string(),
            "check #terms".to_string(),
            "click_and_navigate aria/Sign in[role=\"button\"]".to_string(),
            "verify_text h1".to_string(),
            "verify_selector #dashboard".to_string(),
            "click #menu".to_string(),
            "wait_for #menu-items a".to_string(),
            "screenshot account".to_string(),
        ]
    );
    assert_eq!(report["steps"][5]["url"], site.url("/account.html?user=demo&plan=pro"));
    // The secret, typed into the page, is in no file of the run.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!text.contains(site_password), "{path:?} holds the secret");
    }
}

#[test]
fn verify_text_says_what_it_expected_and_what_it_found() {
    let site = start_example_site();
    let project = Project::new();
    workflow_canary(
        &project,
        "text",
        &site,
        "    - verify_text: {selector: \"h1\", text: \"Welcome back\"}\n      timeout: 500ms\n",
    );
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    let (_, report) = only_report(&project);
    let reason = report["steps"][1]["reason"].as_str().unwrap();
    assert!(reason.contains("expected text \"Welcome back\" in h1, found \"Sign in\""), "{reason}");
}

#[test]
fn selectors_of_every_form_reach_through_shadow_roots_and_iframes() {
    let site = start_example_site();
    let project = Project::new();
    let yaml = format!(
        r##"blueprint: workflow
timeout: 60s
workflow:
  url: "{}"
  step_timeout: 3s
  steps:
    - click: ["#counter", ".add"]
    - click: "pierce/.add"
    - verify_text: {{selector: "#log", text: "counter 2"}}
    - input: {{selector: [["#frame", "#coupon"]], text: "FRAME5"}}
    - click: [["#frame", "text/Apply"]]
    - verify_text: {{selector: [["#frame", "#result"]], text: "applied FRAME5"}}
    - click: {{selector: "xpath///*[@id='double']", double: true}}
    - verify_text: {{selector: "text/double click", text: "double click"}}
    - click: {{selector: "#context", button: right}}
    - verify_text: {{selector: "#log", text: "right click"}}
    - press: {{key: Enter, selector: "aria/Search"}}
    - verify_text: {{selector: "#log", text: "search"}}
    - scroll: {{selector: "#list", y: 60}}
    - wait_for: {{selector: "#late"}}
    - wait_for: {{selector: "#gone", visible: false}}
    - wait_for_expression: "document.getElementById('log').textContent === 'list at 60'"
"##,
        site.url("/widgets.html")
    );
    project.canary("widgets", &yaml);
    let output = project.aviary(&["run"]);
    let (_, report) = only_report(&project);
    let failed: Vec<&Value> =
        report["steps"].as_array().unwrap().iter().filter(|s| s["status"] != "PASSED").collect();
    assert_eq!(output.status.code(), Some(0), "steps that did not pass: {failed:#?}");
}

#[test]
fn workflow_steps_are_checked_with_positions_and_hints() {
    let project = Project::new();
    project.canary(
        "bad",
        "blueprint: workflow\nworkflow:\n  steps:\n    - clik: \"#a\"\n    - click: \"#a\"\n      hover: \"#b\"\n    - press: Entr\n    - name: nothing\n",
    );
    let output = project.aviary(&["validate"]);
    assert_eq!(output.status.code(), Some(2));
    let text = format!("{}{}", stdout(&output), stderr(&output));
    for expected in [
        "canaries/bad.yaml:4:7: workflow.steps[0].clik: unknown key `clik`",
        "workflow.steps[1].hover: a step has one action; this one has click and hover",
        "workflow.steps[2].press: unknown key \"Entr\"",
        "workflow.steps[3]: a step needs one action",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn new_flow_and_workflow_templates_validate_once_filled_in() {
    let project = Project::new();
    let output = project.aviary(&["new", "flow", "checkout"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_to_string(project.path().join("canaries/checkout.yaml")).unwrap();
    assert!(written.contains("file: flows/checkout.json"), "{written}");
    let missing = project.aviary(&["validate"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains(
            "cannot read flows/checkout.json: no such file; export the flow from Chrome DevTools' Recorder"
        ),
        "{}",
        stderr(&missing)
    );
    project.file(
        "canaries/flows/checkout.json",
        &std::fs::read_to_string(repo("canaries/flows/sign-in.json")).unwrap(),
    );
    let output = project.aviary(&["new", "workflow", "account"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let valid = project.aviary_env(&["validate"], &[("SHOP_PASSWORD", "x")]);
    assert_eq!(valid.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&valid), stderr(&valid));
}

#[test]
fn wait_for_navigation_waits_for_the_page_the_previous_step_opened_and_checks_its_url() {
    let site = start_example_site();
    let project = Project::new();
    let landed = site.url("/account.html?user=demo&plan=free");
    workflow_canary(
        &project,
        "nav",
        &site,
        &format!(
            r##"    - input: {{selector: "#user", text: "demo"}}
    - input: {{selector: "#password", text: "shop-demo-pass"}}
    - check: "#terms"
    - click: "[data-testid='sign-in']"
    - wait_for_navigation: {{url: "{landed}", title: "Your account · Aviary example shop"}}
    - hover: "#menu"
    - set_viewport: {{width: 390, height: 844}}
    - wait_for_expression: "window.innerWidth === 390"
    - wait_for_navigation: {{}}
      timeout: 500ms
"##
        ),
    );
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    let (_, report) = only_report(&project);
    let steps = report["steps"].as_array().unwrap();
    let statuses: Vec<&str> = steps.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses[..9], ["PASSED"; 9], "{report:#}");
    assert_eq!(steps[5]["url"], landed);
    // Nothing navigates after the viewport change: the last wait fails, saying where the page stayed.
    let reason = steps[9]["reason"].as_str().unwrap();
    assert!(reason.contains("expected a navigation; the page stayed at"), "{reason}");
}
