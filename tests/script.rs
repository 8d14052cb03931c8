//! Script canaries end to end: Python scripts run by the real binary in their own child
//! process, driving real Chromium against the example site (`canaries/site/`) and calling a
//! local HTTP server, all on 127.0.0.1.

#[path = "support/daemon.rs"]
mod daemon_support;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use axum::routing::any;
use daemon_support::{Daemon, field, is_run_of};
use serde_json::{Value, json};
use support::{Project, Site, read_json, spawn_server, start_example_site, stderr, stdout};

/// A server answering every request on `/echo` with its method, body and `x-api-key` as JSON.
fn start_echo() -> String {
    let app = Router::new().route(
        "/echo",
        any(|method: Method, headers: HeaderMap, body: Bytes| async move {
            let key = headers.get("x-api-key").map(|v| v.to_str().unwrap_or("").to_string());
            axum::Json(json!({
                "method": method.as_str(),
                "body": String::from_utf8_lossy(&body),
                "key": key,
                "type": headers.get("content-type").map(|v| v.to_str().unwrap_or("").to_string()),
            }))
        }),
    );
    let addr = spawn_server(move |listener| async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Writes `canaries/NAME.yaml` (a script canary) and `canaries/NAME.py`.
fn script_canary(project: &Project, name: &str, extra: &str, script: &str) {
    project.file(&format!("canaries/{name}.py"), script);
    project.canary(name, &format!("blueprint: script\n{extra}\nscript:\n  file: {name}.py\n"));
}

/// Each canary's report, by canary name.
fn reports(project: &Project) -> std::collections::BTreeMap<String, (PathBuf, Value)> {
    project
        .run_dirs()
        .into_iter()
        .map(|dir| {
            let report = read_json(&dir.join("report.json"));
            (report["canary"].as_str().unwrap().to_string(), (dir, report))
        })
        .collect()
}

fn site_env(site: &Site) -> String {
    format!("env:\n  BASE_URL: \"{}\"", site.url("").trim_end_matches('/'))
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn every_api_call_works_and_the_example_script_passes() {
    let site = start_example_site();
    let echo = start_echo();
    let project = Project::new();
    project.file("canaries/helpers.py", "def greeting(name):\n    return 'Welcome, ' + name\n");
    project.file("canaries/checkout.py", &std::fs::read_to_string(repo("canaries/checkout.py")).unwrap());
    let example = std::fs::read_to_string(repo("canaries/script.yaml")).unwrap();
    project.canary("example", &example.replace("http://127.0.0.1:8080", site.url("").trim_end_matches('/')));
    let script = r##"
import json
import os

import aviary
from helpers import greeting


def handler(canary):
    base = canary.env["BASE_URL"]
    echo = canary.env["ECHO"]
    page = canary.page()
    canary.set_config(screenshot_on_step_success=False)
    with canary.step("sign in"):
        page.goto(base + "/login.html")
        page.wait_for_selector("#user", timeout=5)
        page.type("#user", "demo")
        page.type("#password", "shop-demo-pass")
        page.select("#plan", "pro")
        page.click("#terms")
        page.press("Enter", selector="#password")
        page.wait_for_navigation(timeout=10)
        assert page.text("h1") == greeting("demo"), page.text("h1")
        assert page.url == base + "/account.html?user=demo&plan=pro", page.url
        assert page.title() == "Your account · Aviary example shop", page.title()
    def menu():
        page.hover("#menu")
        page.click("#menu")
        page.wait_for_selector("#menu-items a", timeout=5)
        assert page.evaluate("document.querySelectorAll('#menu-items a').length") == 2
        assert page.evaluate("({a: [1, 'x'], b: null})") == {"a": [1, "x"], "b": None}
        return page.screenshot("menu open")
    shot = canary.execute_step("open menu", menu)
    assert shot.endswith(".png"), shot
    with canary.step("call the API"):
        r = canary.http.get(echo + "/echo", headers={"x-api-key": "k1"})
        assert r.status == 200 and r.json() == {"method": "GET", "body": "", "key": "k1", "type": None}, r.text
        assert r.headers["content-type"] == "application/json", r.headers
        assert canary.http.post(echo + "/echo", json={"n": 1}).json()["body"] == '{"n": 1}'
        assert canary.http.post(echo + "/echo", json={"n": 1}).json()["type"] == "application/json"
        assert canary.http.put(echo + "/echo", data="plain").json()["body"] == "plain"
        assert canary.http.delete(echo + "/echo").json()["method"] == "DELETE"
        form = canary.http.request("PATCH", echo + "/echo", data={"a": "1 2"}, timeout=5).json()
        assert form["body"] == "a=1+2" and form["method"] == "PATCH", form
    canary.log.info("user %s on plan %s", "demo", "pro")
    canary.log.warning("done")
    assert isinstance(aviary.ActionError("x"), Exception)
    assert os.environ["ECHO"] == echo
"##;
    script_canary(&project, "calls", &format!("{}\n  ECHO: \"{echo}\"", site_env(&site)), script);
    let output = project.aviary(&["run"]);
    let all = reports(&project);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}\n{all:#?}",
        stdout(&output),
        stderr(&output)
    );

    let (dir, report) = &all["calls"];
    assert_eq!(report["status"], "PASSED", "{report:#}");
    let names: Vec<&str> =
        report["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sign in", "open menu", "call the API"]);
    let menu = &report["steps"][1];
    assert_eq!(menu["screenshots"], json!(["02-menu-open.png"]), "set_config turned success screenshots off");
    assert!(dir.join("02-menu-open.png").is_file());
    let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
    assert!(log.contains("script info: user demo on plan pro"), "{log}");
    assert!(log.contains("script warning: done"), "{log}");
    let har = read_json(&dir.join("calls.har"));
    let api: Vec<&Value> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["request"]["url"].as_str().unwrap().ends_with("/echo"))
        .collect();
    let methods: Vec<&str> = api.iter().map(|e| e["request"]["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["GET", "POST", "POST", "PUT", "DELETE", "PATCH"]);
    assert!(api[0]["timings"]["wait"].as_f64().unwrap() >= 0.0, "{:#}", api[0]);
    assert!(api[0]["timings"]["connect"].is_number(), "{:#}", api[0]);

    let (_, example) = &all["example"];
    assert_eq!(example["status"], "PASSED", "{example:#}");
    assert_eq!(example["steps"].as_array().unwrap().len(), 3);
}

#[test]
fn a_failing_assert_fails_its_step_and_an_exception_outside_steps_fails_the_run() {
    let site = start_example_site();
    let project = Project::new();
    let env = site_env(&site);
    script_canary(
        &project,
        "asserts",
        &env,
        r##"def handler(canary):
    page = canary.page()
    with canary.step("open home"):
        page.goto(canary.env["BASE_URL"] + "/")
    with canary.step("check heading"):
        heading = page.text("h1")
        assert heading == "Nothing here", f"heading is {heading!r}"
    with canary.step("never run"):
        pass
"##,
    );
    script_canary(
        &project,
        "bare",
        &env,
        "def handler(canary):\n    with canary.step(\"check\"):\n        assert 1 + 1 == 3\n",
    );
    script_canary(
        &project,
        "outside",
        &env,
        "def handler(canary):\n    with canary.step(\"fine\"):\n        pass\n    {}['missing']\n",
    );
    script_canary(
        &project,
        "keeps-going",
        &format!("{env}\ncontinue_on_step_failure: true"),
        r##"def handler(canary):
    with canary.step("first"):
        raise ValueError("broken")
    with canary.step("second"):
        canary.add_execution_error("quota low")
"##,
    );
    script_canary(
        &project,
        "wrong-page",
        &env,
        r##"def handler(canary):
    with canary.step("click"):
        canary.page().goto(canary.env["BASE_URL"] + "/")
        canary.page().click("#does-not-exist", timeout=1)
"##,
    );
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let all = reports(&project);

    let (_, asserts) = &all["asserts"];
    assert_eq!(asserts["status"], "FAILED", "{asserts:#}");
    let steps = asserts["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "the script stops at the failed step: {asserts:#}");
    assert_eq!(steps[0]["status"], "PASSED");
    assert_eq!(steps[1]["status"], "FAILED");
    let reason = steps[1]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("heading is 'Welcome to the Aviary example shop'")
            || reason.starts_with("heading is '"),
        "{reason}"
    );
    assert!(reason.ends_with("(asserts.py:7)"), "{reason}");

    let (_, bare) = &all["bare"];
    assert_eq!(bare["steps"][0]["reason"], "assertion failed: assert 1 + 1 == 3 (bare.py:3)", "{bare:#}");

    let (_, outside) = &all["outside"];
    assert_eq!(outside["status"], "FAILED", "{outside:#}");
    assert_eq!(outside["steps"][0]["status"], "PASSED");
    assert_eq!(outside["reason"], "KeyError: 'missing' (outside.py:4)", "{outside:#}");

    let (_, going) = &all["keeps-going"];
    assert_eq!(going["steps"][0]["status"], "FAILED", "{going:#}");
    assert_eq!(going["steps"][0]["reason"], "ValueError: broken (keeps-going.py:3)");
    assert_eq!(going["steps"][1]["status"], "PASSED", "{going:#}");
    assert_eq!(going["status"], "FAILED");
    assert_eq!(going["reason"], "execution errors: quota low", "{going:#}");

    let (_, wrong) = &all["wrong-page"];
    let reason = wrong["steps"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("#does-not-exist") && reason.ends_with("(wrong-page.py:4)"), "{reason}");
}

/// Canaries whose scripts exit, segfault, spin and flood their output, and one that passes.
fn hostile_scripts_and_a_fine_one(project: &Project, site: &Site) {
    let env = site_env(site);
    let timeout = "timeout: 8s";
    script_canary(
        project,
        "exits",
        &format!("{env}\n{timeout}"),
        "import os\n\ndef handler(canary):\n    with canary.step(\"exit\"):\n        os._exit(3)\n",
    );
    script_canary(
        project,
        "segfault",
        &format!("{env}\n{timeout}"),
        "import ctypes\n\ndef handler(canary):\n    ctypes.string_at(0)\n",
    );
    script_canary(
        project,
        "spins",
        &format!("{env}\n{timeout}"),
        "def handler(canary):\n    with canary.step(\"spin\"):\n        while True:\n            pass\n",
    );
    script_canary(
        project,
        "floods",
        &format!("{env}\n{timeout}"),
        "def handler(canary):\n    while True:\n        print('x' * 1000)\n",
    );
    script_canary(
        project,
        "fine",
        &format!("{env}\n{timeout}"),
        "def handler(canary):\n    with canary.step(\"home\"):\n        canary.page().goto(canary.env['BASE_URL'] + '/')\n",
    );
}

#[test]
fn scripts_that_exit_crash_spin_or_flood_end_alone_while_another_canary_passes() {
    let site = start_example_site();
    let project = Project::new();
    hostile_scripts_and_a_fine_one(&project, &site);
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let all = reports(&project);
    let status = |name: &str| {
        (
            all[name].1["status"].as_str().unwrap().to_string(),
            all[name].1["reason"].as_str().unwrap_or("").to_string(),
        )
    };

    assert_eq!(status("fine").0, "PASSED", "{:#}", all["fine"].1);
    let (s, r) = status("exits");
    assert_eq!(
        (s.as_str(), r.as_str()),
        ("ERROR", "the script's process exited with code 3 before its handler returned")
    );
    let (s, r) = status("segfault");
    assert_eq!(s, "ERROR");
    assert!(r.contains("killed by signal 11 (SIGSEGV"), "{r}");
    let (s, r) = status("spins");
    assert_eq!(s, "TIMEOUT");
    assert!(r.contains("did not finish within the run's timeout of 8s; its process was stopped"), "{r}");
    assert_eq!(all["spins"].1["steps"][0]["status"], "TIMEOUT");
    let (s, r) = status("floods");
    assert_eq!(
        (s.as_str(), r.as_str()),
        ("ERROR", "the script wrote more than 4 MiB of output; its process was stopped")
    );
    let flood_log = std::fs::read_to_string(all["floods"].0.join("log.txt")).unwrap();
    assert!(flood_log.len() < 4 * 1024 * 1024, "the log keeps a bounded part of the output");
    assert!(flood_log.contains("script output: xxxx"), "the first lines are kept");
}

#[test]
fn secrets_printed_or_sent_by_a_script_are_redacted_and_the_child_sees_only_its_env() {
    let echo = start_echo();
    let project = Project::new();
    script_canary(
        &project,
        "secret",
        &format!(
            "env:\n  API_KEY: \"${{secret:SCRIPT_API_KEY}}\"\n  ECHO: \"{echo}\"\nreport:\n  include_response_body: true"
        ),
        r##"import os, sys

def handler(canary):
    key = canary.env["API_KEY"]
    print("the key is", key)
    print("stderr key", key, file=sys.stderr)
    canary.log.info("logged %s", key)
    assert "PARENT_ONLY" not in os.environ, "the parent's environment leaked"
    assert os.environ["API_KEY"] == key
    with canary.step("call"):
        r = canary.http.get(canary.env["ECHO"] + "/echo?token=" + key, headers={"x-api-key": key})
        assert r.json()["key"] == key
"##,
    );
    let output = project.aviary_env(&["run"], &[("SCRIPT_API_KEY", "s3cr3t-value-42"), ("PARENT_ONLY", "x")]);
    let all = reports(&project);
    let (dir, report) = &all["secret"];
    assert_eq!(output.status.code(), Some(0), "{}\n{report:#}", stderr(&output));
    let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
    assert!(log.contains("script output: the key is ***"), "{log}");
    assert!(log.contains("script output: stderr key ***"), "{log}");
    assert!(log.contains("script info: logged ***"), "{log}");
    for file in std::fs::read_dir(dir).unwrap().flatten() {
        let bytes = std::fs::read(file.path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("s3cr3t-value-42"), "{} holds the secret", file.path().display());
    }
}

#[test]
fn a_venv_package_and_a_helper_beside_the_script_are_importable() {
    let project = Project::new();
    let venv = project.path().join("canaries/.venv");
    let made = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let site =
        std::fs::read_dir(venv.join("lib")).unwrap().flatten().next().unwrap().path().join("site-packages");
    std::fs::create_dir_all(site.join("shoplib")).unwrap();
    std::fs::write(site.join("shoplib/__init__.py"), "PLAN = 'pro'\n").unwrap();
    project.file("canaries/shared.py", "NAME = 'demo'\n");
    project.file(
        "canaries/venv.py",
        "import shoplib, shared\n\ndef handler(canary):\n    with canary.step('imports'):\n        assert (shoplib.PLAN, shared.NAME) == ('pro', 'demo')\n",
    );
    project.canary("venv", "blueprint: script\nscript:\n  file: venv.py\n  python: .venv\n");
    let output = project.aviary(&["run"]);
    let all = reports(&project);
    assert_eq!(output.status.code(), Some(0), "{}\n{:#}", stderr(&output), all["venv"].1);
    // Without the venv, the import fails with the script's line.
    project.canary("venv", "blueprint: script\nscript:\n  file: venv.py\n");
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1));
    let failed: Vec<Value> =
        reports(&project).into_values().map(|(_, r)| r).filter(|r| r["status"] != "PASSED").collect();
    assert_eq!(
        failed[0]["reason"], "ModuleNotFoundError: No module named 'shoplib' (venv.py:1)",
        "{:#}",
        failed[0]
    );
}

#[test]
fn validate_reports_syntax_errors_and_a_missing_handler_with_their_place() {
    let project = Project::new();
    script_canary(&project, "syntax", "", "def handler(canary):\n    if True\n        pass\n");
    script_canary(&project, "nohandler", "", "def main(canary):\n    pass\n");
    project.canary("missing", "blueprint: script\nscript:\n  file: nowhere.py\n  python: no-venv\n");
    let output = project.aviary(&["validate"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    for expected in [
        "syntax.py:2:12: expected ':'",
        "nohandler.py:1:1: no top-level function `handler` (the handler); it defines main",
        "cannot read nowhere.py: no such file",
        "no-venv: no such folder (a virtual environment)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // The top level is not run by validation.
    script_canary(&project, "syntax", "", "open('ran', 'w').write('x')\n\ndef handler(canary):\n    pass\n");
    std::fs::remove_file(project.path().join("canaries/nohandler.yaml")).unwrap();
    std::fs::remove_file(project.path().join("canaries/missing.yaml")).unwrap();
    let output = project.aviary(&["validate"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!project.path().join("canaries/ran").exists() && !project.path().join("ran").exists());
}

#[test]
fn the_script_template_validates_once_its_script_is_written() {
    let project = Project::new();
    let output = project.aviary(&["new", "script", "shop"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let missing = project.aviary(&["validate"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read shop.py: no such file"), "{}", stderr(&missing));
    project.file("canaries/shop.py", &std::fs::read_to_string(repo("canaries/checkout.py")).unwrap());
    let valid = project.aviary(&["validate"]);
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
}

#[test]
fn the_daemon_outlives_scripts_that_exit_crash_spin_or_flood() {
    let site = start_example_site();
    let project = Project::new();
    hostile_scripts_and_a_fine_one(&project, &site);
    project.file("aviary.yaml", "server: {listen: \"127.0.0.1:0\"}\n");
    let mut daemon = Daemon::start(project.dir.path(), "daemon.log", &[]);
    let within = Duration::from_secs(90);
    let mut statuses = std::collections::BTreeMap::new();
    for name in ["exits", "segfault", "spins", "floods", "fine"] {
        let run = daemon.wait_for(&format!("the run of {name}"), within, |e| is_run_of(e, name));
        statuses.insert(name, field(&run, "status").as_str().unwrap().to_string());
    }
    let expected = [
        ("exits", "ERROR"),
        ("fine", "PASSED"),
        ("floods", "ERROR"),
        ("segfault", "ERROR"),
        ("spins", "TIMEOUT"),
    ];
    assert_eq!(statuses, expected.into_iter().map(|(n, s)| (n, s.to_string())).collect());
    assert!(daemon.child.try_wait().unwrap().is_none(), "the daemon still runs");
    let pid = daemon.pid();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30)).expect("the daemon stops on SIGTERM");
    assert!(status.success(), "{status:?}");
    let children = std::process::Command::new("pgrep").args(["-P", &pid.to_string()]).output().unwrap();
    assert!(
        children.stdout.is_empty(),
        "no process of the daemon outlives it: {}",
        String::from_utf8_lossy(&children.stdout)
    );
}
