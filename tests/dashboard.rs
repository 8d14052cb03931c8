//! The dashboard end to end: canaries of the heartbeat, api, broken-links, visual and workflow
//! blueprints run once (`aviary run`) against a local site whose page title and an API step's
//! name are crafted HTML; then the real `aviary daemon` serves their history and headless
//! Chromium (through the project's own browser module) opens every page: what a user reads is
//! there, the crafted strings stay text, every link answers, no page reports an error, and a
//! screenshot of each page is kept in `target/test-artifacts/dashboard-daemon/`.

#[path = "support/daemon.rs"]
mod daemon_support;
mod support;

use std::path::Path;
use std::time::Duration;

use aviary::browser::{BrowserPage, BrowserPool, PageOptions, PoolConfig};
use axum::Router;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use daemon_support::{Daemon, http};
use support::{Project, spawn_server};

const CRAFTED: &str = "<img src=x onerror=alert(1)>";
/// A token written in a canary file (a restricted header): never shown.
const LITERAL_SECRET: &str = "literal-dash-token-4711";

fn site() -> String {
    let page =
        |title: &str, body: &str| Html(format!("<!doctype html><title>{title}</title><body>{body}</body>"));
    let home = page(
        CRAFTED,
        "<h1>Shop</h1><a href=\"/about\">About</a> <a href=\"/missing\">Gone</a> \
         <button id=\"buy\">Buy</button>",
    );
    let about = page("About", "<h1>About</h1>");
    let app = Router::new()
        .route("/", get(move || async move { home.clone() }))
        .route("/about", get(move || async move { about.clone() }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "gone") }))
        .route("/api/status", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }));
    let addr = spawn_server(move |listener| async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn canaries(project: &Project, base: &str) {
    let head = |blueprint: &str| format!("blueprint: {blueprint}\nschedule: rate(1 hour)\ntimeout: 60s\n");
    project.canary("home", &format!("{}heartbeat:\n  urls: [\"{base}/\"]\n", head("heartbeat")));
    project.canary(
        "status-api",
        &format!(
            "{}api:\n  steps:\n    - name: \"check <b>status</b>\"\n      request: {{url: \"{base}/api/status\", \
             headers: {{Authorization: \"Bearer {LITERAL_SECRET}\"}}}}\n      \
             assert: [status == 200, 'json $.status == \"down\"']\n",
            head("api")
        ),
    );
    project.canary("links", &format!("{}broken-links:\n  url: \"{base}/\"\n", head("broken-links")));
    project.canary("look", &format!("{}visual:\n  url: \"{base}/\"\n", head("visual")));
    project.canary(
        "buy",
        &format!(
            "{}workflow:\n  url: \"{base}/\"\n  steps:\n    - click: [\"#old-buy\", \"#buy\"]\n    \
             - verify_text: {{selector: h1, text: Shop}}\n",
            head("workflow")
        ),
    );
}

/// The run ids of every canary's latest run, from the API.
fn latest_runs(addr: &str) -> Vec<(String, String)> {
    let (status, body) = http(addr, "GET", "/api/v1/canaries", None);
    assert_eq!(status, 200, "{body}");
    let listing: serde_json::Value = serde_json::from_str(&body).unwrap();
    listing["canaries"]
        .as_array()
        .unwrap_or_else(|| panic!("{listing}"))
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["last_run"]["run_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Opens `path`; returns what `<main>` says. Fails on any console error or link that does not answer.
async fn visit(page: &BrowserPage, addr: &str, path: &str, shot: &Path) -> String {
    let console = page.watch_console().await.unwrap();
    let nav = page.goto(&format!("http://{addr}{path}"), Duration::from_secs(30)).await.unwrap();
    assert_eq!(nav.status, Some(200), "{path}");
    let text = page.evaluate("document.querySelector('main').innerText").await.unwrap();
    let text = text.as_str().unwrap_or_default().to_string();
    assert_eq!(
        page.evaluate("document.querySelectorAll('main b, main img[src=\"x\"]').length").await.unwrap(),
        0,
        "{path}: a crafted string became an element"
    );
    let links = "Promise.all([...document.querySelectorAll('a[href]')].filter(a => a.origin === location.origin)\
                 .map(a => fetch(a.href).then(r => [a.getAttribute('href'), r.status])))";
    for pair in page.evaluate(links).await.unwrap().as_array().unwrap() {
        assert!(pair[1].as_u64().unwrap() < 400, "{path}: link {} answers {}", pair[0], pair[1]);
    }
    std::fs::write(shot, page.screenshot(true).await.unwrap()).unwrap();
    let errors = console.errors();
    assert!(errors.is_empty(), "{path}: the page reported errors: {errors:#?}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_blueprint_reads_well_on_the_dashboard() {
    let base = site();
    let project = Project::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    project
        .file("aviary.yaml", &format!("server: {{listen: \"127.0.0.1:{port}\", token: \"dash-token\"}}\n"));
    canaries(&project, &base);
    let run = project.aviary(&["run", "canaries"]);
    assert_eq!(run.status.code(), Some(1), "api and links fail\n{}", support::stdout(&run));

    let _daemon = Daemon::start(project.path(), "daemon.log", &[]);
    let addr = format!("127.0.0.1:{port}");
    let runs = latest_runs(&addr);
    assert_eq!(runs.len(), 5, "{runs:?}");
    let run_of = |name: &str| runs.iter().find(|(n, _)| n == name).map(|(_, id)| id.clone()).unwrap();

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/dashboard-daemon");
    std::fs::create_dir_all(&shots).unwrap();
    let pool = BrowserPool::new(PoolConfig { max_concurrency: 1, ..PoolConfig::default() });
    let page = pool.acquire(&PageOptions::default()).await.unwrap();
    let shot = |name: &str| shots.join(format!("{name}.png"));

    let overview = visit(&page, &addr, "/", &shot("overview")).await;
    for name in ["home", "status-api", "links", "look", "buy"] {
        assert!(overview.contains(name), "{name} on the overview\n{overview}");
    }
    assert!(overview.contains("5 canaries · 2 failing"), "{overview}");

    let heartbeat = visit(&page, &addr, &format!("/runs/{}", run_of("home")), &shot("run-heartbeat")).await;
    // The page, and Chromium's own favicon request when it makes one.
    assert!(heartbeat.contains(" over ") && heartbeat.contains("Download the HAR"), "{heartbeat}");
    assert!(heartbeat.contains(&format!("GET {base}/")), "the page's request in the waterfall\n{heartbeat}");
    let rows = page.evaluate("document.querySelectorAll('table.waterfall tbody tr').length").await.unwrap();
    assert!(rows.as_u64().unwrap() >= 1, "the waterfall has the page's request");
    let bars = page.evaluate("document.querySelectorAll('table.waterfall rect').length").await.unwrap();
    assert!(bars.as_u64().unwrap() >= 1, "and its phases");

    let api = visit(&page, &addr, &format!("/runs/{}", run_of("status-api")), &shot("run-api")).await;
    assert!(api.contains("check <b>status</b>"), "the crafted step name, as text\n{api}");
    assert!(api.contains("FAILED"), "{api}");

    let links = visit(&page, &addr, &format!("/runs/{}", run_of("links")), &shot("run-links")).await;
    assert!(links.contains("Broken links") && links.contains("/missing") && links.contains("404"), "{links}");

    let visual = visit(&page, &addr, &format!("/runs/{}", run_of("look")), &shot("run-visual")).await;
    assert!(visual.contains("Visual comparison"), "{visual}");
    assert_eq!(page.evaluate("document.querySelectorAll('[data-compare-slider]').length").await.unwrap(), 1);

    let workflow = visit(&page, &addr, &format!("/runs/{}", run_of("buy")), &shot("run-workflow")).await;
    assert!(workflow.contains("selector drift") && workflow.contains("matched #buy"), "{workflow}");

    let canary = visit(&page, &addr, "/canaries/status-api", &shot("canary")).await;
    assert!(canary.contains("SuccessPercent") && canary.contains("Canary file"), "{canary}");
    assert!(canary.contains("check <b>status</b>"), "the file as loaded, as text\n{canary}");
    assert!(
        !canary.contains(LITERAL_SECRET) && canary.contains("Authorization: \"***\""),
        "its secret hidden\n{canary}"
    );
    let points = page.evaluate("document.querySelectorAll('figure.chart circle').length").await.unwrap();
    assert!(points.as_u64().unwrap() >= 2, "the run is a point on the charts");

    visit(&page, &addr, "/alarms", &shot("alarms")).await;
    visit(&page, &addr, "/failover", &shot("failover")).await;
    page.close().await;

    // At a phone's width, no page is wider than the screen: wide tables scroll in their box.
    let phone = pool.acquire(&PageOptions { viewport: (390, 844), ..PageOptions::default() }).await.unwrap();
    for (name, path) in
        [("phone-overview", "/".to_string()), ("phone-run", format!("/runs/{}", run_of("links")))]
    {
        visit(&phone, &addr, &path, &shot(name)).await;
        let width =
            phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]").await.unwrap();
        assert!(width[0].as_u64() <= width[1].as_u64(), "{path} at 390 px: {width}");
    }
    phone.close().await;
    pool.shutdown().await;
}
