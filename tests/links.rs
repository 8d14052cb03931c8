//! The broken-links blueprint against a local fixture site: links added by scripts, relative and
//! `<base>` URLs, redirects and loops, 404/500/refused/timeout, 429 with Retry-After, duplicates
//! checked once (counted at the server), depth, `max_links`, excludes, fragments, a page over
//! 10 MB and malformed HTML, politeness per host, and validation of the section.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::Value;
use support::{Project, read_json, spawn_server, stderr, stdout};

/// One request the fixture received.
#[derive(Debug, Clone)]
struct Hit {
    method: Method,
    path: String,
    user_agent: String,
    at: Instant,
}

type Hits = Arc<Mutex<Vec<Hit>>>;

fn html(body: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!doctype html><html><body>{body}</body></html>"),
    )
        .into_response()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_page(closed: u16) -> String {
    format!(
        r#"<h1 id="top-title">Links</h1>
        <a href="ok">OK</a> <a href="/ok">OK again</a> <a href="./ok#present">with a fragment</a>
        <a href="/ok#absent">missing fragment</a>
        <a href="/missing">Missing page</a> <a href="/error">Server error</a>
        <a href="/redirect">Moved</a> <a href="/loop">Loop</a>
        <a href="http://127.0.0.1:{closed}/">Refused</a> <a href="/hang">Hangs</a>
        <a href="/busy">Busy</a>
        <a href="/private/secret">Excluded</a> <a href="mailto:not-an-address">Mail</a>
        <a href="mailto:ops@example.test">Good mail</a> <a href="javascript:void(0)">Script</a>
        <a href="/level1.html">Level 1</a>
        <script>document.body.insertAdjacentHTML('beforeend', '<a href="/js-added">Added by script</a>');</script>"#
    )
}

fn respond(method: &Method, path: &str, closed: u16, busy_seen: usize) -> Response {
    match path {
        "/" => html(&start_page(closed)),
        "/ok" => html(r#"<h2 id="present">Here</h2>"#),
        "/js-added" | "/sub/deep.html" | "/private/secret" => html("fine"),
        "/missing" | "/gone-deep" => (StatusCode::NOT_FOUND, "no such page").into_response(),
        "/error" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "/redirect" => (StatusCode::FOUND, [(header::LOCATION, "/moved-here")]).into_response(),
        "/moved-here" => html("moved"),
        "/loop" => (StatusCode::FOUND, [(header::LOCATION, "/loop")]).into_response(),
        "/busy" if busy_seen == 0 => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "slow down").into_response()
        }
        "/busy" => html("served"),
        "/nohead" if method == Method::HEAD => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        "/nohead" => html("GET only"),
        "/level1.html" => html(
            r#"<base href="/sub/"><a href="deep.html">Deep</a> <a href="/ok">OK from level 1</a>
            <a href="/nohead">No HEAD</a>"#,
        ),
        _ if path.starts_with("/farm/") => {
            let n: u64 = path[6..].parse().unwrap_or(0);
            let links: String = (1..=5).map(|i| format!(r#"<a href="/farm/{}">next</a>"#, n * 5 + i)).collect();
            html(&links)
        }
        "/farm" => html(r#"<a href="/farm/0">farm</a>"#),
        "/big-start" => html(r#"<a href="/big">Big</a> <a href="/malformed">Malformed</a>"#),
        "/big" => {
            // About 12 MB: more than the 10 MB read of a crawled page.
            let row = "<p>filler text for a very long page <a href=\"/ok\">ok</a></p>\n";
            html(&row.repeat(12_000_000 / row.len()))
        }
        "/malformed" => ([(header::CONTENT_TYPE, "text/html")],
            "<html><a href='/ok'>unclosed <table><tr><a href=/js-added>x</td></zz><a href=\"%zz\"><<<>>>\u{0}")
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "unknown").into_response(),
    }
}

/// Starts the fixture; every request is recorded. `/hang` never answers.
fn start_fixture() -> (SocketAddr, Hits, u16) {
    let hits: Hits = Arc::default();
    let recorded = hits.clone();
    let closed = closed_port();
    let addr = spawn_server(move |listener| async move {
        let app = Router::new().fallback(any(move |method: Method, uri: Uri, headers: HeaderMap| {
            let hits = recorded.clone();
            async move {
                let path = uri.path().to_string();
                let busy_seen = {
                    let mut hits = hits.lock().unwrap();
                    let seen = hits.iter().filter(|h| h.path == "/busy").count();
                    hits.push(Hit {
                        method: method.clone(),
                        path: path.clone(),
                        user_agent: headers
                            .get(header::USER_AGENT)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string(),
                        at: Instant::now(),
                    });
                    seen
                };
                if path == "/hang" {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                respond(&method, &path, closed, busy_seen)
            }
        }));
        axum::serve(listener, app).await.unwrap();
    });
    (addr, hits, closed)
}

fn hits_of(hits: &Hits, path: &str) -> Vec<Hit> {
    hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
}

fn run_dir(project: &Project) -> std::path::PathBuf {
    let dirs = project.run_dirs();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn link<'a>(links: &'a Value, url: &str) -> &'a Value {
    links["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["url"] == url)
        .unwrap_or_else(|| panic!("{url} not in links.json: {links:#}"))
}

#[test]
fn a_crawl_reports_every_kind_of_broken_link_once() {
    let (addr, hits, closed) = start_fixture();
    let base = format!("http://{addr}");
    let project = Project::new();
    project.canary(
        "site-links",
        &format!(
            r#"blueprint: broken-links
timeout: 60s
browser: {{user_agent_suffix: "links-canary"}}
broken-links:
  url: "{base}/"
  depth: 1
  check_fragments: true
  exclude: ["/private/"]
  link_timeout: 1s
  per_host: {{concurrency: 4, interval: 0ms}}
"#
        ),
    );
    let output = project.aviary(&["run", "--reporter", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}\n{}", stdout(&output), stderr(&output));
    let dir = run_dir(&project);
    let links = read_json(&dir.join("links.json"));
    let url = |path: &str| format!("{base}{path}");

    // Working links, found in every way a browser finds them.
    assert_eq!(
        link(&links, &url("/ok"))["reason"],
        Value::Null,
        "/ok itself works; one of its fragments does not"
    );
    for path in ["/js-added", "/redirect", "/busy", "/nohead", "/level1.html", "/sub/deep.html"] {
        let l = link(&links, &url(path));
        assert_eq!(l["broken"], false, "{path}: {l:#}");
    }
    assert_eq!(link(&links, &url("/redirect"))["redirects"], serde_json::json!([url("/moved-here")]));
    assert_eq!(link(&links, &url("/busy"))["requests"], 2, "retried once after the 429");

    // Broken ones, each said as such.
    let reason = |path: &str| link(&links, path)["reason"].as_str().unwrap_or("").to_string();
    assert_eq!(reason(&url("/missing")), "404 Not Found");
    assert_eq!(reason(&url("/error")), "500 Internal Server Error");
    assert!(reason(&url("/loop")).starts_with("redirect loop"), "{}", reason(&url("/loop")));
    let refused = format!("http://127.0.0.1:{closed}/");
    assert!(reason(&refused).contains("could not connect"), "{}", reason(&refused));
    assert!(reason(&url("/hang")).contains("timed out"), "{}", reason(&url("/hang")));
    assert!(reason("mailto:not-an-address").contains("not an email address"));
    let ok = link(&links, &url("/ok"));
    let fragment_reasons: Vec<&Value> =
        ok["sources"].as_array().unwrap().iter().map(|s| &s["reason"]).collect();
    assert!(
        fragment_reasons.contains(&&Value::from("fragment #absent not found in the page")),
        "{fragment_reasons:?}"
    );
    assert!(!links.to_string().contains("/private/"), "excluded URLs are not checked");
    assert!(hits_of(&hits, "/private/secret").is_empty());
    assert!(!links.to_string().contains("/gone-deep"), "depth 1 reads no page two levels down");

    // Each URL requested once however many pages link to it: a GET for pages that may be read
    // or searched for fragments, else a HEAD; /nohead (on a page at the last level) got HEAD
    // then GET, /busy its retry.
    for path in ["/ok", "/missing", "/error", "/js-added", "/sub/deep.html"] {
        let got = hits_of(&hits, path);
        assert_eq!(got.len(), 1, "{path}: {got:?}");
    }
    let nohead: Vec<Method> = hits_of(&hits, "/nohead").into_iter().map(|h| h.method).collect();
    assert_eq!(nohead, [Method::HEAD, Method::GET]);
    let busy = hits_of(&hits, "/busy");
    assert_eq!(busy.len(), 2);
    assert!(busy[1].at - busy[0].at >= Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert!(
        hits_of(&hits, "/missing")[0].user_agent.ends_with(" links-canary"),
        "{}",
        hits_of(&hits, "/missing")[0].user_agent
    );

    // One step per page read; the start page's fails and lists its broken links.
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["status"], "FAILED");
    let steps = report["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let pages = ["/", "/ok", "/moved-here", "/busy", "/level1.html", "/js-added"];
    assert_eq!(
        names,
        pages.map(|p| format!("links on {base}{p}")),
        "same-origin pages one level down, a redirect's at its target"
    );
    assert_eq!(steps[0]["status"], "FAILED");
    let first_reason = steps[0]["reason"].as_str().unwrap();
    assert!(first_reason.starts_with("7 broken links: "), "{first_reason}");
    assert_eq!(steps[0]["details"]["broken"].as_array().unwrap().len(), 7);
    for step in &steps[1..] {
        assert_eq!(step["status"], "PASSED", "{step:#}");
    }
    assert_eq!(report["details"]["broken_links"], 7, "unique URLs broken (the fragment's /ok included)");
    let har = std::fs::read_to_string(dir.join("site-links.har")).unwrap();
    assert!(har.contains(&url("/missing")), "link checks are in the HAR");
}

#[test]
fn max_links_bounds_an_endless_link_farm_and_hosts_get_their_interval() {
    let (addr, hits, _) = start_fixture();
    let project = Project::new();
    project.canary(
        "farm",
        &format!(
            r#"blueprint: broken-links
broken-links:
  url: "http://{addr}/farm"
  depth: 20
  max_links: 30
  per_host: {{concurrency: 1, interval: 100ms}}
"#
        ),
    );
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stdout(&output), stderr(&output));
    let links = read_json(&run_dir(&project).join("links.json"));
    assert_eq!(links["links"].as_array().unwrap().len(), 30, "the start page is link 1 of 30");
    assert!(links["over_max_links"].as_u64().unwrap() > 0);
    let checks: Vec<Hit> =
        hits.lock().unwrap().iter().filter(|h| h.path.starts_with("/farm/")).cloned().collect();
    assert_eq!(checks.len(), 29, "one request per link past the start page");
    // Arrival times at the server jitter by a few ms around the 100 ms the checker keeps
    // between request starts; without politeness the gaps would be about 1 ms.
    for pair in checks.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(50), "{pair:?}");
    }
    let span = checks.last().unwrap().at - checks[0].at;
    assert!(span >= Duration::from_millis(28 * 100 - 50), "{span:?} for 29 requests 100 ms apart");
}

#[test]
fn a_page_over_10_mb_and_malformed_html_are_read_without_failing() {
    let (addr, _hits, _) = start_fixture();
    let project = Project::new();
    project.canary(
        "big",
        &format!(
            r#"blueprint: broken-links
broken-links:
  url: "http://{addr}/big-start"
  depth: 1
  per_host: {{concurrency: 8, interval: 0ms}}
"#
        ),
    );
    let output = project.aviary(&["run"]);
    let links = read_json(&run_dir(&project).join("links.json"));
    let pages: Vec<&str> =
        links["pages"].as_array().unwrap().iter().map(|p| p["url"].as_str().unwrap()).collect();
    assert!(pages.contains(&format!("http://{addr}/big").as_str()), "{pages:?}");
    assert!(pages.contains(&format!("http://{addr}/malformed").as_str()), "{pages:?}");
    // The malformed page's "%zz" link resolves as a browser's would and is a 404 there.
    let zz = link(&links, &format!("http://{addr}/%zz"));
    assert_eq!(zz["reason"], "404 Not Found");
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(link(&links, &format!("http://{addr}/ok"))["broken"], false);
}

#[test]
fn a_start_page_that_does_not_load_fails_the_run_with_the_reason() {
    let project = Project::new();
    project.canary(
        "down",
        &format!("blueprint: broken-links\nbroken-links:\n  url: \"http://127.0.0.1:{}/\"\n", closed_port()),
    );
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report = read_json(&run_dir(&project).join("report.json"));
    let reason = report["steps"][0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("start page http://127.0.0.1:"), "{reason}");
    assert!(reason.contains("ERR_CONNECTION_REFUSED") || reason.contains("refused"), "{reason}");
}

#[test]
fn bad_settings_are_reported_where_they_are() {
    let project = Project::new();
    let file = project.canary(
        "bad",
        "blueprint: broken-links\nbroken-links:\n  url: \"http://127.0.0.1:1/\"\n  max_links: 0\n  render: everything\n  exclude: [\"(unclosed\"]\n  per_host: {concurrency: 0}\n  screenshots: some\n",
    );
    let output = project.aviary(&["validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output) + &stderr(&output);
    assert!(
        text.contains("bad.yaml:4:14: ") && text.contains("max_links must be 1..=100000, got 0"),
        "{text}"
    );
    assert!(text.contains("bad.yaml:5:11: ") && text.contains("everything"), "{text}");
    assert!(text.contains("bad.yaml:6:13: ") && text.contains("not a valid regex"), "{text}");
    assert!(text.contains("concurrency must be 1..=256, got 0"), "{text}");
    assert!(text.contains("bad.yaml:8:16: "), "{text}");
}

#[test]
fn the_template_and_the_example_canary_pass_on_the_example_site() {
    let site = support::start_example_site();
    let project = Project::new();
    let output = project.aviary(&["new", "broken-links", "shop-links"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let template = project.path().join("canaries/shop-links.yaml");
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/canaries/site-links.yaml")).unwrap();
    project.canary("site-links", &example);
    let validated = project.aviary(&["validate"]);
    assert_eq!(validated.status.code(), Some(0), "{}", stderr(&validated));
    let base = site.url("");
    for path in [template.clone(), project.path().join("canaries/site-links.yaml")] {
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("http://127.0.0.1:8080", &base)).unwrap();
    }
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stdout(&output), stderr(&output));
    let example_run = project
        .run_dirs()
        .into_iter()
        .find(|d| d.join("site-links.har").exists())
        .expect("the example canary's run folder");
    let links = read_json(&example_run.join("links.json"));
    let pages = links["pages"].as_array().unwrap();
    assert!(pages.len() >= 2, "the home page and the pages below it: {links:#}");
    assert!(links.to_string().contains("/frame.html") || links.to_string().contains("/about.html"));
}

#[test]
fn every_page_can_be_rendered_and_broken_links_are_screenshotted() {
    let (addr, _hits, _) = start_fixture();
    let project = Project::new();
    project.canary(
        "rendered",
        &format!(
            r#"blueprint: broken-links
broken-links:
  url: "http://{addr}/level1.html"
  depth: 1
  render: all
  link_timeout: 2s
  per_host: {{concurrency: 4, interval: 0ms}}
  screenshots: both
"#
        ),
    );
    // /level1.html links to /sub/deep.html and /ok (pages one level down, rendered in Chromium)
    // and /nohead.
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stdout(&output), stderr(&output));
    let dir = run_dir(&project);
    let report = read_json(&dir.join("report.json"));
    let names: Vec<&str> =
        report["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.contains(&format!("links on http://{addr}/sub/deep.html").as_str()), "{names:?}");

    let project = Project::new();
    project.canary(
        "shots",
        &format!(
            r#"blueprint: broken-links
broken-links:
  url: "http://{addr}/"
  exclude: ["/hang", "/busy", "/loop"]
  per_host: {{concurrency: 4, interval: 0ms}}
  screenshots: both
"#
        ),
    );
    let output = project.aviary(&["run"]);
    assert_eq!(output.status.code(), Some(1), "{}\n{}", stdout(&output), stderr(&output));
    let dir = run_dir(&project);
    let report = read_json(&dir.join("report.json"));
    let shots: Vec<String> = report["steps"][0]["screenshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert!(shots.iter().any(|s| s.contains("source")), "{shots:?}");
    // /missing and /error answer (404, 500): their pages load and are shot.
    assert_eq!(shots.iter().filter(|s| s.contains("destination")).count(), 2, "{shots:?}");
    for shot in &shots {
        let bytes = std::fs::read(dir.join(shot)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{shot}");
    }
}
