//! `aviary run` on heartbeat canaries, end to end: the real binary, real Chromium, the local
//! fixture site; assertions on exit codes, report.json, screenshots, HAR, the database.

#[path = "support/api_site.rs"]
mod api_site;
mod support;

use std::time::{Duration, Instant};

use regex::Regex;
use support::{Project, read_json, start_site, stderr, stdout};

fn heartbeat(urls: &[String], extra: &str) -> String {
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    format!("blueprint: heartbeat\ntimeout: 30s\n{extra}\nheartbeat:\n  urls: [{}]\n", list.join(", "))
}

fn only_run(project: &Project) -> (std::path::PathBuf, serde_json::Value) {
    let dirs = project.run_dirs();
    assert_eq!(dirs.len(), 1, "expected one run folder, found {dirs:?}");
    let report = read_json(&dirs[0].join("report.json"));
    (dirs[0].clone(), report)
}

fn is_png(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    Some((w, h))
}

#[test]
fn passing_page_leaves_report_screenshot_har_and_history() {
    let site = start_site();
    let project = Project::new();
    let home = heartbeat(&[site.url("/")], "env: {X: y}");
    project.canary("home", &home.replace("heartbeat:\n", "heartbeat:\n  expect: {text: \"Welcome\"}\n"));
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("✓ home › load"), "{}", stdout(&output));

    let (dir, report) = only_run(&project);
    let layout =
        Regex::new(r"\.aviary/artifacts/home/\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}$")
            .unwrap();
    assert!(layout.is_match(&dir.to_string_lossy()), "run folder {dir:?} does not follow the layout");
    assert_eq!(report["status"], "PASSED");
    assert_eq!(report["canary"], "home");
    assert_eq!(report["attempt"], 1);
    let step = &report["steps"][0];
    assert_eq!(step["status"], "PASSED");
    assert_eq!(step["details"]["status"], 200);
    assert!(step["details"]["load_ms"].as_f64().is_some(), "navigation timing missing: {step}");
    assert_eq!(step["url"], site.url("/"));
    let shot = step["screenshots"][0].as_str().unwrap();
    assert!(Regex::new(r"^01-.+-succeeded\.png$").unwrap().is_match(shot), "{shot}");
    assert_eq!(is_png(&std::fs::read(dir.join(shot)).unwrap()), Some((1920, 1080)));
    assert!(dir.join("log.txt").is_file());

    let har = read_json(&dir.join("home.har"));
    let urls: Vec<&str> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap())
        .collect();
    assert!(urls.contains(&site.url("/").as_str()), "{urls:?}");
    assert!(urls.contains(&site.url("/pixel.png").as_str()), "{urls:?}");

    let run_id = report["run_id"].as_str().unwrap();
    let runs = project.aviary(&["runs", "home"]);
    assert_eq!(runs.status.code(), Some(0));
    assert!(stdout(&runs).contains(run_id) && stdout(&runs).contains("PASSED"), "{}", stdout(&runs));
    let show = project.aviary(&["show", &run_id[..8], "--json"]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(shown["run_id"], run_id);
    assert_eq!(shown["steps"][0]["name"], step["name"]);
}

#[test]
fn failing_status_and_missing_text_fail_with_reasons() {
    let site = start_site();
    let project = Project::new();
    project.canary("broken", &heartbeat(&[site.url("/status/500")], ""));
    project.canary(
        "wording",
        &heartbeat(&[site.url("/about")], "")
            .replace("heartbeat:\n", "heartbeat:\n  expect: {text: \"Welcome\"}\n"),
    );
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    for dir in project.run_dirs() {
        let report = read_json(&dir.join("report.json"));
        assert_eq!(report["status"], "FAILED");
        let reason = report["reason"].as_str().unwrap();
        match report["canary"].as_str().unwrap() {
            "broken" => assert!(reason.contains("expected status 200-399, got 500"), "{reason}"),
            "wording" => assert!(reason.contains("\"Welcome\" not found"), "{reason}"),
            other => panic!("unexpected canary {other}"),
        }
        let shot = report["steps"][0]["screenshots"][0].as_str().unwrap();
        assert!(shot.ends_with("-failed.png"), "{shot}");
        assert!(dir.join(shot).is_file());
    }
    assert_eq!(project.run_dirs().len(), 2);
}

#[test]
fn screenshot_settings_choose_which_shots_are_taken() {
    let site = start_site();
    let project = Project::new();
    let urls = [site.url("/"), site.url("/status/500")];
    project.canary(
        "starts",
        &heartbeat(
            &urls,
            "screenshots: {on_step_start: true, on_step_success: false, on_step_failure: false}",
        ),
    );
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let (dir, report) = only_run(&project);
    let shots: Vec<Vec<&str>> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["screenshots"].as_array().map_or(vec![], |a| a.iter().filter_map(|v| v.as_str()).collect())
        })
        .collect();
    assert_eq!(shots.len(), 2);
    for (i, step_shots) in shots.iter().enumerate() {
        assert_eq!(step_shots.len(), 1, "{shots:?}");
        assert!(step_shots[0].starts_with(&format!("0{}-", i + 1)), "{shots:?}");
        assert!(step_shots[0].ends_with("-starting.png"), "{shots:?}");
        assert!(dir.join(step_shots[0]).is_file());
    }
    let pngs =
        std::fs::read_dir(&dir).unwrap().flatten().filter(|e| e.path().extension() == Some("png".as_ref()));
    assert_eq!(pngs.count(), 2, "no succeeded or failed shots");
}

#[test]
fn continue_on_step_failure_runs_every_url() {
    let site = start_site();
    let project = Project::new();
    let urls = [site.url("/status/404"), site.url("/about")];
    project.canary("stops", &heartbeat(&urls, ""));
    project.canary("continues", &heartbeat(&urls, "continue_on_step_failure: true"));
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1));
    for dir in project.run_dirs() {
        let report = read_json(&dir.join("report.json"));
        let steps = report["steps"].as_array().unwrap();
        match report["canary"].as_str().unwrap() {
            "stops" => {
                assert_eq!(steps.len(), 2, "every URL has a step");
                assert_eq!(steps[1]["status"], "SKIPPED");
                let reason = steps[1]["reason"].as_str().unwrap();
                assert!(reason.starts_with("not run: step 1 `load http://"), "{reason}");
                assert!(steps[1]["screenshots"].as_array().is_none_or(Vec::is_empty));
            }
            _ => {
                assert_eq!(steps.len(), 2);
                assert_eq!(steps[1]["status"], "PASSED");
            }
        }
        assert_eq!(report["status"], "FAILED");
    }
}

#[test]
fn hanging_page_is_ended_by_the_run_timeout() {
    let site = start_site();
    let project = Project::new();
    project.canary("hang", &heartbeat(&[site.url("/hang")], "").replace("timeout: 30s", "timeout: 3s"));
    let started = Instant::now();
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // Well under chromiumoxide's own 30 s navigation limit: the run's timeout ended it.
    assert!(started.elapsed() < Duration::from_secs(25), "the run did not end near its timeout");
    let (_, report) = only_run(&project);
    assert_eq!(report["status"], "TIMEOUT");
    assert!(report["reason"].as_str().unwrap().contains("timed out"), "{}", report["reason"]);
    assert_eq!(report["steps"][0]["status"], "TIMEOUT");
}

#[test]
fn retries_keep_every_attempt() {
    let site = start_site();
    let project = Project::new();
    project.canary("flaky", &heartbeat(&[site.url("/status/503")], "retries: 2"));
    let output = project.aviary(&["run", "--reporter", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let attempts: Vec<u64> =
        document["runs"].as_array().unwrap().iter().map(|r| r["attempt"].as_u64().unwrap()).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert_eq!(project.run_dirs().len(), 3);
    assert_eq!(document["summary"]["failed"], 1);
    // Metrics come from the final attempt only.
    let store = aviary::store::SqliteStore::open(&project.path().join(".aviary/aviary.db")).unwrap();
    let query = aviary::store::MetricQuery {
        canary: "flaky".into(),
        metric: "SuccessPercent".into(),
        step: None,
        since: chrono::Utc::now() - chrono::Duration::hours(1),
        until: chrono::Utc::now() + chrono::Duration::hours(1),
    };
    use aviary::store::Store;
    let points: Vec<f64> = store.datapoints(&query).unwrap().into_iter().map(|d| d.value).collect();
    assert_eq!(points, vec![0.0]);
}

#[test]
fn network_failures_fail_with_one_line_reasons() {
    let site = start_site();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let project = Project::new();
    project.canary("refused", &heartbeat(&[format!("http://{closed}/")], ""));
    project.canary("loop", &heartbeat(&[site.url("/redirect-loop")], ""));
    let tls = api_site::start_tls_site();
    project.canary("untrusted", &heartbeat(&[tls.url("/api/status/200")], ""));
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(project.run_dirs().len(), 3);
    for dir in project.run_dirs() {
        let report = read_json(&dir.join("report.json"));
        let reason = report["reason"].as_str().unwrap();
        assert_eq!(report["status"], "FAILED", "{reason}");
        assert!(!reason.contains('\n'));
        match report["canary"].as_str().unwrap() {
            "refused" => assert!(reason.contains("ERR_CONNECTION_REFUSED"), "{reason}"),
            // A self-signed certificate: Chromium refuses it.
            "untrusted" => assert!(reason.contains("ERR_CERT_AUTHORITY_INVALID"), "{reason}"),
            _ => assert!(reason.contains("ERR_TOO_MANY_REDIRECTS"), "{reason}"),
        }
    }
}

#[test]
fn dns_failure_fails_with_chromiums_reason() {
    let project = Project::new();
    // Chromium answers NXDOMAIN itself for this name, so the test sends no DNS query anywhere.
    project.file("aviary.yaml", "browser:\n  args: [\"host-resolver-rules=MAP nowhere.test ~NOTFOUND\"]\n");
    project.canary("nxdomain", &heartbeat(&["http://nowhere.test/".to_string()], ""));
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let (_, report) = only_run(&project);
    assert_eq!(report["status"], "FAILED");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("ERR_NAME_NOT_RESOLVED"), "{reason}");
}

#[test]
fn secrets_and_restricted_values_never_reach_the_data_dir() {
    let site = start_site();
    let project = Project::new();
    let url = site.url("/echo?token=${secret:PAGE_TOKEN}&visible=yes&api_key=plain-key-value");
    project.canary(
        "secretive",
        &format!(
            "blueprint: heartbeat\ntimeout: 30s\nbrowser:\n  extra_headers: {{authorization: \"Bearer ${{secret:PAGE_TOKEN}}\", x-api-key: header-key-value}}\nreport:\n  restricted_headers: [x-api-key]\n  restricted_url_parameters: [api_key]\n  include_response_body: true\nheartbeat:\n  urls: [\"{url}\", \"{}\"]\n  expect: {{text: \"query\"}}\n",
            site.url("/cookie")
        ),
    );
    let secret = "s3cr3t-Page-Token-value";
    let output = project.aviary_env(&["run"], &[("PAGE_TOKEN", secret)]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stdout(&output), stderr(&output));
    assert!(!stdout(&output).contains(secret) && !stderr(&output).contains(secret));
    let files = project.data_files();
    assert!(files.iter().any(|f| f.extension().is_some_and(|e| e == "har")));
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for leaked in [secret, "header-key-value", "plain-key-value", "cookie-secret-value"] {
            assert!(!text.contains(leaked), "{leaked} found in {}", file.display());
        }
    }
    let (dir, _) = only_run(&project);
    let har = read_json(&dir.join("secretive.har"));
    let first = &har["log"]["entries"][0];
    assert!(first["request"]["url"].as_str().unwrap().contains("visible=yes"));
    let headers = first["request"]["headers"].as_array().unwrap();
    let auth = headers.iter().find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case("authorization"));
    assert_eq!(auth.map(|h| h["value"].as_str().unwrap()), Some("***"));
}

#[test]
fn har_follows_the_har_1_2_schema() {
    let site = start_site();
    let project = Project::new();
    project.canary("har", &heartbeat(&[site.url("/redirect"), site.url("/")], ""));
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (dir, _) = only_run(&project);
    let har = read_json(&dir.join("har.har"));
    assert_har_1_2(&har);
    let entries = har["log"]["entries"].as_array().unwrap();
    let redirect = entries.iter().find(|e| e["request"]["url"] == site.url("/redirect")).unwrap();
    assert_eq!(redirect["response"]["status"], 307);
    assert!(redirect["response"]["redirectURL"].as_str().unwrap().ends_with("/about"));
    assert_eq!(har["log"]["pages"].as_array().unwrap().len(), 2);
    for entry in entries {
        assert!(entry["timings"]["wait"].as_f64().unwrap() >= 0.0);
        assert!(entry["pageref"].is_string());
    }
}

/// Fails with every problem when `har` does not follow the HAR 1.2 schema.
fn assert_har_1_2(har: &serde_json::Value) {
    let schema = serde_json::from_str(include_str!("support/har-1.2.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> =
        validator.iter_errors(har).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_refused_connection_is_one_failed_request_and_no_2xx() {
    // Chromium's error page loads `data:` images: they are not requests to the site.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let project = Project::new();
    project.canary("refused", &heartbeat(&[format!("http://{closed}/")], ""));
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let (dir, report) = only_run(&project);
    assert_eq!(
        report["requests"],
        serde_json::json!({"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "failed": 1}),
        "{report}"
    );
    let har = read_json(&dir.join("refused.har"));
    let urls: Vec<&str> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, [format!("http://{closed}/")]);
}

#[test]
fn a_timed_out_run_says_what_the_page_was_waiting_for() {
    let site = start_site();
    let project = Project::new();
    let canary = heartbeat(&[site.url("/hang-subresource")], "").replace("timeout: 30s", "timeout: 3s");
    project.canary("stuck", &canary);
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let (dir, report) = only_run(&project);
    assert_eq!(report["status"], "TIMEOUT", "{report}");
    let reason = report["steps"][0]["reason"].as_str().unwrap();
    let expected = format!(
        "run timed out after 3s waiting for the load event; 1 request still open: GET {}",
        site.url("/hang")
    );
    assert_eq!(reason, expected);
    let load = format!("load {}", site.url("/hang-subresource"));
    assert_eq!(report["reason"], format!("step 1 `{load}`: {expected}"), "the run says it too");

    let har = read_json(&dir.join("stuck.har"));
    assert_har_1_2(&har);
    let entries = har["log"]["entries"].as_array().unwrap();
    let open = entries.iter().find(|e| e["request"]["url"] == site.url("/hang")).expect("/hang in the HAR");
    assert_eq!(open["response"]["status"], 0);
    assert_eq!(open["_error"], "not finished when the run timed out");
    let document = entries.iter().find(|e| e["request"]["url"] == site.url("/hang-subresource")).unwrap();
    assert_eq!(document["response"]["status"], 200);
    assert!(document.get("_error").is_none(), "{document}");
    for entry in entries {
        assert!(entry["time"].as_f64().unwrap() >= 0.0, "{entry}");
        for phase in ["send", "wait", "receive"] {
            assert!(entry["timings"][phase].as_f64().unwrap() >= 0.0, "{phase}: {entry}");
        }
    }
}

#[test]
fn har_keeps_the_cookie_headers_and_cookies_redacted() {
    let site = start_site();
    let project = Project::new();
    project.canary("cookies", &heartbeat(&[site.url("/cookie"), site.url("/about")], ""));
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (dir, _) = only_run(&project);
    let har = read_json(&dir.join("cookies.har"));
    assert_har_1_2(&har);
    let entries = har["log"]["entries"].as_array().unwrap();
    let entry = |path: &str| entries.iter().find(|e| e["request"]["url"] == site.url(path)).unwrap();
    let header = |headers: &serde_json::Value, name: &str| {
        headers
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
            .cloned()
    };
    let set = entry("/cookie");
    assert_eq!(header(&set["response"]["headers"], "set-cookie").unwrap()["value"], "***");
    assert_eq!(set["response"]["cookies"], serde_json::json!([{"name": "session", "value": "***"}]));
    let sent = entry("/about");
    assert_eq!(header(&sent["request"]["headers"], "cookie").expect("Cookie header")["value"], "***");
    assert_eq!(sent["request"]["cookies"], serde_json::json!([{"name": "session", "value": "***"}]));
    let har_text = std::fs::read_to_string(dir.join("cookies.har")).unwrap();
    assert!(!har_text.contains("cookie-secret-value"));
}

#[test]
fn killed_browser_ends_the_run_as_error() {
    let site = start_site();
    let project = Project::new();
    project.canary("victim", &heartbeat(&[site.url("/hang")], "").replace("timeout: 30s", "timeout: 50s"));
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_aviary"))
        .arg("run")
        .current_dir(project.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the page's request reaches the site, then kill every Chromium the run started.
    let started = Instant::now();
    let mut killed = false;
    while started.elapsed() < Duration::from_secs(30) && !killed {
        std::thread::sleep(Duration::from_millis(500));
        if site.hang_hits.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            let status = std::process::Command::new("pkill")
                .args(["-KILL", "-P", &child.id().to_string()])
                .status()
                .unwrap();
            killed = status.success();
        }
    }
    assert!(killed, "no browser process to kill");
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "the run waited for its timeout instead of noticing the crash"
    );
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let (_, report) = only_run(&project);
    assert_eq!(report["status"], "ERROR", "{report}");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.to_lowercase().contains("browser"), "{reason}");
}

#[test]
fn missing_chromium_is_an_error_that_says_how_to_install_it() {
    let site = start_site();
    let project = Project::new();
    project.canary("nochrome", &heartbeat(&[site.url("/")], ""));
    project.file("aviary.yaml", "browser: {executable: /nonexistent/chromium}\n");
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1));
    let (_, report) = only_run(&project);
    assert_eq!(report["status"], "ERROR");
    assert!(report["reason"].as_str().unwrap().contains("/nonexistent/chromium"), "{}", report["reason"]);
}

/// `auto` runs the headless shell where it is installed (CI installs it); the full browser,
/// named in `browser.executable`, runs the same canary alike.
#[test]
fn auto_prefers_the_headless_shell_and_the_full_browser_still_runs() {
    const SHELL: &str = "/usr/lib/chromium/chromium-headless-shell";
    let site = start_site();
    let launched = |project: &Project| {
        let output = project.aviary_env(
            &["run"],
            &[("AVIARY_LOG", "aviary::browser=debug"), ("AVIARY_CHROME", ""), ("CHROME", "")],
        );
        assert_eq!(output.status.code(), Some(0), "{}\n{}", stdout(&output), stderr(&output));
        let log = stderr(&output);
        let line = log.lines().find(|l| l.contains("launched Chromium")).unwrap_or_else(|| panic!("{log}"));
        line.split("executable=").nth(1).unwrap().split_whitespace().next().unwrap().to_string()
    };
    let home = heartbeat(&[site.url("/")], "")
        .replace("heartbeat:\n", "heartbeat:\n  expect: {text: \"Welcome\"}\n");

    let auto = Project::new();
    auto.canary("home", &home);
    let executable = launched(&auto);
    if std::path::Path::new(SHELL).is_file() {
        assert_eq!(executable, SHELL);
    } else {
        eprintln!("{SHELL} is not installed (Debian: chromium-headless-shell): auto ran {executable}");
    }

    let full = Project::new();
    full.canary("home", &home);
    full.file("aviary.yaml", "browser: {executable: chromium}\n");
    assert!(launched(&full).ends_with("/chromium"), "browser.executable: chromium ran another browser");
}

#[test]
fn big_page_and_full_page_screenshot() {
    let site = start_site();
    let project = Project::new();
    project.canary(
        "tall",
        &heartbeat(&[site.url("/tall")], "")
            .replace("heartbeat:\n", "heartbeat:\n  full_page_screenshot: true\n"),
    );
    project.canary(
        "big",
        &heartbeat(&[site.url("/big")], "")
            // 50 MB of text on a machine running other browser tests at once: a deadline, not a goal.
            .replace("timeout: 30s", "timeout: 150s")
            .replace("heartbeat:\n", "heartbeat:\n  expect: {text: \"dolor sit amet\"}\n"),
    );
    let output = project.aviary(&["run"]);
    let outcomes: Vec<String> = project
        .run_dirs()
        .iter()
        .map(|dir| {
            let report = read_json(&dir.join("report.json"));
            format!("{} {} {}", report["canary"], report["status"], report["reason"])
        })
        .collect();
    assert_eq!(output.status.code(), Some(0), "{outcomes:?}\n{}", stderr(&output));
    let err = stderr(&output);
    for dir in project.run_dirs() {
        let report = read_json(&dir.join("report.json"));
        match report["canary"].as_str().unwrap() {
            "tall" => {
                assert_eq!(report["status"], "PASSED", "{err}");
                let shot = report["steps"][0]["screenshots"][0].as_str().unwrap();
                let (w, h) = is_png(&std::fs::read(dir.join(shot)).unwrap()).unwrap();
                assert_eq!(w, 1920);
                assert!(h > 3000, "full-page screenshot is {h} px tall");
            }
            _ => {
                // 50 MB of HTML loads, and its text is searched in the page.
                assert_eq!(report["status"], "PASSED", "{report}");
                let har = read_json(&dir.join("big.har"));
                let size = har["log"]["entries"][0]["response"]["content"]["size"].as_i64().unwrap();
                assert!(size > 50_000_000, "HAR content size {size}");
            }
        }
    }
    assert_eq!(project.run_dirs().len(), 2);
}

#[test]
fn reporters_json_and_junit() {
    let site = start_site();
    let project = Project::new();
    project.canary("good", &heartbeat(&[site.url("/")], ""));
    project.canary("bad", &heartbeat(&[site.url("/status/404")], ""));
    let junit = project.aviary(&["run", "--reporter", "junit"]);
    assert_eq!(junit.status.code(), Some(1));
    let xml = stdout(&junit);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<testsuites name=\"aviary\" tests=\"2\" failures=\"1\" errors=\"0\""), "{xml}");
    assert!(xml.contains("<failure message=\"GET "), "{xml}");
    assert!(xml.contains("got 404"), "{xml}");
    // The failure names the run folder, and the failed step's screenshot is a CI attachment.
    let folder = project.run_dirs().into_iter().find(|d| d.to_string_lossy().contains("/bad/")).unwrap();
    let shot = Regex::new(r"\[\[ATTACHMENT\|([^\]]+\.png)\]\]").unwrap();
    let attached = shot.captures(&xml).unwrap_or_else(|| panic!("no attachment:\n{xml}"));
    assert!(project.path().join(&attached[1]).is_file(), "{}", &attached[1]);
    let folder_name = folder.file_name().unwrap().to_string_lossy().into_owned();
    assert!(xml.contains("run folder: ") && xml.contains(&folder_name), "{xml}");
    // Step lines go to stderr so stdout holds only the document.
    assert!(stderr(&junit).contains("› load"), "{}", stderr(&junit));

    let json = project.aviary(&["run", "--reporter", "json", "--grep", "^good$"]);
    assert_eq!(json.status.code(), Some(0));
    let document: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(document["summary"]["canaries"], 1);
    assert_eq!(document["runs"][0]["canary"], "good");
}

#[test]
fn bad_input_exits_2() {
    let project = Project::new();
    // A folder with no canaries.
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no canary files"), "{}", stderr(&output));
    // Not YAML, with its position.
    project.canary("broken", "blueprint: heartbeat\nheartbeat: [unclosed\n");
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(Regex::new(r"broken\.yaml:\d+:\d+: ").unwrap().is_match(&stderr(&output)), "{}", stderr(&output));
    // Validate reports every problem of a file with positions.
    project.canary(
        "broken",
        "blueprint: heartbeat\ntimout: 30s\nheartbeat:\n  urls: [\"not a url\"]\n  expect: {status: \"abc\"}\n",
    );
    let output = project.aviary(&["validate"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("broken.yaml:2:1: "), "{err}");
    assert!(err.contains("timout"), "{err}");
    assert!(Regex::new(r"broken\.yaml:4:\d+: heartbeat\.urls\[0\]").unwrap().is_match(&err), "{err}");
    assert!(Regex::new(r"broken\.yaml:5:\d+: heartbeat\.expect\.status").unwrap().is_match(&err), "{err}");
    // --grep that matches nothing.
    project.canary("broken", "blueprint: heartbeat\nheartbeat: {urls: [\"http://127.0.0.1:9/\"]}\n");
    let output = project.aviary(&["run", "--grep", "nomatch"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(project.run_dirs().is_empty(), "nothing may run on bad input");
}

#[test]
fn new_writes_a_valid_canary_from_the_template() {
    let project = Project::new();
    let output = project.aviary(&["new", "heartbeat", "shop-home"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let path = project.path().join("canaries/shop-home.yaml");
    assert!(path.is_file());
    let output = project.aviary(&["validate"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let again = project.aviary(&["new", "heartbeat", "shop-home"]);
    assert_eq!(again.status.code(), Some(2));
    let unknown = project.aviary(&["new", "nope", "x"]);
    assert_eq!(unknown.status.code(), Some(2));
}
