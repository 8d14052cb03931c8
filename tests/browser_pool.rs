//! The browser pool against real Chromium and a fixture server on 127.0.0.1.

mod browser_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aviary::browser::{BrowserError, BrowserPage, BrowserPool, PageOptions, PoolConfig};
use browser_support::png_size;

const NAV: Duration = Duration::from_secs(20);

fn pool(max_concurrency: usize) -> BrowserPool {
    BrowserPool::new(PoolConfig { max_concurrency, ..PoolConfig::default() })
}

fn options(width: u32, height: u32) -> PageOptions {
    PageOptions { viewport: (width, height), ..PageOptions::default() }
}

fn process_running(pid: u32) -> bool {
    std::process::Command::new("kill")
        .arg("-0")
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

async fn text_of(page: &BrowserPage, id: &str) -> String {
    let value = page.evaluate(&format!("document.getElementById('{id}').textContent")).await.unwrap();
    value.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn navigation_screenshots_and_page_options() {
    let site = browser_support::start().await;
    let pool = pool(2);
    let mut headers = BTreeMap::new();
    headers.insert("X-Canary".to_string(), "yes".to_string());
    let opts = PageOptions {
        viewport: (800, 600),
        user_agent_suffix: Some("aviary-canary".to_string()),
        extra_headers: headers,
        capture_response_bodies: false,
    };
    let page = pool.acquire(&opts).await.unwrap();

    let nav = page.goto(&site.url("/"), NAV).await.unwrap();
    assert_eq!(nav.status, Some(200));
    assert_eq!(nav.status_text, "OK");
    assert_eq!(nav.url, site.url("/"));
    let dcl = nav.dom_content_loaded_ms.expect("DOMContentLoaded timing");
    let load = nav.load_ms.expect("load timing");
    assert!(dcl > 0.0 && load >= dcl, "dcl {dcl} load {load}");
    assert!(page.visible_text().await.unwrap().contains("Welcome to the fixture"));
    assert_eq!(page.current_url().await.unwrap(), site.url("/"));
    assert_eq!(page.evaluate("1 + 2").await.unwrap(), serde_json::json!(3));
    assert_eq!(
        page.evaluate("Promise.resolve({a: [1, 'x']})").await.unwrap(),
        serde_json::json!({"a": [1, "x"]})
    );
    let err = page.evaluate("nope()").await.unwrap_err();
    assert!(matches!(err, BrowserError::Cdp(_)) && err.to_string().contains("nope"), "{err}");

    // Viewport screenshot: exactly the viewport; full page: the whole 3000 px.
    let png = page.screenshot(false).await.unwrap();
    assert_eq!(png_size(&png), (800, 600));
    page.goto(&site.url("/tall"), NAV).await.unwrap();
    let full = page.screenshot(true).await.unwrap();
    let (width, height) = png_size(&full);
    assert_eq!(width, 800);
    assert!(height >= 3000, "full page height {height}");
    // ... and the viewport is back afterwards.
    assert_eq!(png_size(&page.screenshot(false).await.unwrap()), (800, 600));
    assert_eq!(page.evaluate("[innerWidth, innerHeight]").await.unwrap(), serde_json::json!([800, 600]));

    // Redirects: the final URL and status.
    let nav = page.goto(&site.url("/redirect"), NAV).await.unwrap();
    assert_eq!(nav.url, site.url("/"));
    assert_eq!(nav.status, Some(200));

    // A 404 is a response, not an error.
    let nav = page.goto(&site.url("/missing"), NAV).await.unwrap();
    assert_eq!(nav.status, Some(404));
    assert_eq!(nav.status_text, "Not Found");

    // User agent suffix and extra headers reach the server.
    page.goto(&site.url("/echo"), NAV).await.unwrap();
    let seen = text_of(&page, "headers").await;
    assert!(seen.contains("x-canary: yes"), "{seen}");
    let ua = seen.lines().find(|l| l.starts_with("user-agent:")).unwrap_or_default();
    assert!(ua.ends_with(" aviary-canary") && ua.contains("Chrome/"), "{ua}");

    // Connection refused is a navigation error naming the cause and the URL.
    let refused = format!("http://127.0.0.1:{}/", site.closed_port);
    let err = page.goto(&refused, NAV).await.unwrap_err();
    assert!(matches!(err, BrowserError::Navigation(_)), "{err:?}");
    assert!(err.to_string().contains("net::ERR_CONNECTION_REFUSED"), "{err}");
    assert!(err.to_string().contains(&refused), "{err}");
    assert_eq!(page.current_url().await.unwrap(), refused);
    page.close().await;

    // Another page with other options gets them (the spare was prepared with the old ones).
    let page = pool.acquire(&options(640, 480)).await.unwrap();
    page.goto(&site.url("/echo"), NAV).await.unwrap();
    assert_eq!(png_size(&page.screenshot(false).await.unwrap()), (640, 480));
    let seen = text_of(&page, "headers").await;
    assert!(!seen.contains("x-canary") && !seen.contains("aviary-canary"), "{seen}");
    page.close().await;
    assert_eq!(pool.stats().pages_in_use, 0);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn har_entries_timings_redirects_and_failures() {
    let site = browser_support::start().await;
    let pool = pool(1);
    let page =
        pool.acquire(&PageOptions { capture_response_bodies: true, ..options(800, 600) }).await.unwrap();

    page.goto(&site.url("/"), NAV).await.unwrap();
    page.goto(&site.url("/redirect"), NAV).await.unwrap();
    page.goto(&site.url("/broken-sub"), NAV).await.unwrap();
    let (pages, entries) = page.take_har().await;

    assert_eq!(pages.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["page_1", "page_2", "page_3"]);
    assert_eq!(pages[0].title, site.url("/"));
    assert!(pages[0].page_timings.on_load > 0.0 && pages[0].page_timings.on_content_load > 0.0);
    assert!(pages[0].started_date_time.ends_with('Z'));

    let find = |url: &str, pageref: &str| {
        entries
            .iter()
            .find(|e| e.request.url == url && e.pageref.as_deref() == Some(pageref))
            .unwrap_or_else(|| panic!("no entry for {url} on {pageref}: {entries:#?}"))
    };
    // Document and subresource, with headers, sizes and timings.
    let doc = find(&site.url("/"), "page_1");
    assert_eq!(doc.response.status, 200);
    assert_eq!(doc.request.method, "GET");
    assert_eq!(doc.response.http_version, "HTTP/1.1");
    assert_eq!(doc.resource_type.as_deref(), Some("document"));
    assert_eq!(doc.server_ip_address.as_deref(), Some("127.0.0.1"));
    assert!(doc.response.content.mime_type.starts_with("text/html"));
    assert!(doc.response.content.size > 100, "{:?}", doc.response.content);
    assert!(doc.response.content.text.as_deref().unwrap_or_default().contains("Welcome to the fixture"));
    assert!(doc.response.headers.iter().any(|h| h.name.eq_ignore_ascii_case("content-type")));
    assert!(doc.request.headers.iter().any(|h| h.name.eq_ignore_ascii_case("user-agent")));
    let t = &doc.timings;
    assert!(t.blocked >= 0.0 && t.send >= 0.0 && t.wait > 0.0 && t.receive >= 0.0, "{t:?}");
    // DNS / connect are -1 when Chromium reused (or preconnected) a connection.
    assert!(t.dns == -1.0 || t.dns >= 0.0, "{t:?}");
    assert!(t.connect == -1.0 || t.connect >= 0.0, "{t:?}");
    assert!(doc.time > 0.0 && (doc.time - doc.timings.total()).abs() < 0.01);
    assert!(chrono::DateTime::parse_from_rfc3339(&doc.started_date_time).is_ok());
    let img = find(&site.url("/img.png"), "page_1");
    assert_eq!(img.response.status, 200);
    assert_eq!(img.resource_type.as_deref(), Some("image"));
    assert_eq!(img.response.content.mime_type, "image/png");
    assert_eq!(img.response.content.size, browser_support::PNG.len() as i64);
    assert_eq!(img.response.content.encoding.as_deref(), Some("base64"));
    assert!(img.time > 0.0);

    // The redirect chain: 302 → 301 → 200, each hop its own entry, in order.
    // (The browser's own favicon request of the previous page may land on either page.)
    let chain: Vec<_> = entries
        .iter()
        .filter(|e| e.pageref.as_deref() == Some("page_2") && !e.request.url.ends_with("/favicon.ico"))
        .collect();
    let hops: Vec<_> = chain.iter().map(|e| (e.request.url.clone(), e.response.status)).collect();
    assert_eq!(
        &hops[..3],
        [(site.url("/redirect"), 302), (site.url("/redirect2"), 301), (site.url("/"), 200)],
        "{hops:?}"
    );
    assert_eq!(chain[0].response.redirect_url, site.url("/redirect2"));
    assert_eq!(chain[1].response.redirect_url, site.url("/"));
    assert!(chain[0].timings.wait >= 0.0 && chain[0].time > 0.0);

    // A subresource from a closed port: failed, with the network error.
    let broken = format!("http://127.0.0.1:{}/gone.png", site.closed_port);
    let failed = find(&broken, "page_3");
    assert_eq!(failed.response.status, 0);
    assert_eq!(failed.error.as_deref(), Some("net::ERR_CONNECTION_REFUSED"));
    assert!(failed.failed());

    // Taking the HAR drained it.
    let (pages, entries) = page.take_har().await;
    assert!(pages.is_empty() && entries.is_empty(), "{entries:?}");
    page.close().await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contexts_are_isolated() {
    let site = browser_support::start().await;
    let pool = pool(2);
    let first = pool.acquire(&options(800, 600)).await.unwrap();
    first.goto(&site.url("/set-cookie"), NAV).await.unwrap();
    first.goto(&site.url("/show-cookie"), NAV).await.unwrap();
    assert_eq!(text_of(&first, "cookies").await, "cookies: session=abc123");

    // At the same time and afterwards, other pages do not see it.
    let second = pool.acquire(&options(800, 600)).await.unwrap();
    second.goto(&site.url("/show-cookie"), NAV).await.unwrap();
    assert_eq!(text_of(&second, "cookies").await, "cookies: none");
    first.close().await;
    second.close().await;
    let third = pool.acquire(&options(800, 600)).await.unwrap();
    third.goto(&site.url("/show-cookie"), NAV).await.unwrap();
    assert_eq!(text_of(&third, "cookies").await, "cookies: none");
    third.close().await;
    // Contexts, not browsers: one warm browser served all three pages.
    assert_eq!(pool.stats().launches, 1, "{:?}", pool.stats());
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_loading_page_times_out_on_time() {
    let site = browser_support::start().await;
    let pool = pool(1);
    let page = pool.acquire(&options(800, 600)).await.unwrap();
    let started = Instant::now();
    let err = page.goto(&site.url("/slow"), Duration::from_secs(2)).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, BrowserError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("/slow"), "{err}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "took {took:?}");

    // The HAR still shows the pending document; the page is still usable.
    let (_, entries) = page.take_har().await;
    assert!(entries.iter().any(|e| e.request.url.ends_with("/slow")), "{entries:?}");
    let png = page.screenshot(false).await.unwrap();
    assert_eq!(png_size(&png), (800, 600));
    let nav = page.goto(&site.url("/"), NAV).await.unwrap();
    assert_eq!(nav.status, Some(200));
    assert!(page.visible_text().await.unwrap().contains("Welcome"));
    page.close().await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_browser_fails_fast_and_is_replaced() {
    let site = browser_support::start().await;
    let pool = pool(2);
    let page = pool.acquire(&options(800, 600)).await.unwrap();
    page.goto(&site.url("/"), NAV).await.unwrap();
    let killed = page.browser_pid();
    assert!(pool.browser_pids().contains(&killed));

    let slow = site.url("/slow");
    let (result, took) = tokio::join!(
        async {
            let started = Instant::now();
            let result = page.goto(&slow, Duration::from_secs(30)).await;
            (result, started.elapsed())
        },
        async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let status =
                std::process::Command::new("kill").arg("-9").arg(killed.to_string()).status().unwrap();
            assert!(status.success());
        }
    )
    .0;
    let err = result.unwrap_err();
    assert!(matches!(err, BrowserError::Crashed(_)), "{err:?}");
    assert!(err.to_string().contains("browser process exited"), "{err}");
    assert!(took < Duration::from_secs(3), "the crash took {took:?} to surface");
    // Later calls on the dead page fail at once too.
    let started = Instant::now();
    assert!(matches!(page.screenshot(false).await, Err(BrowserError::Crashed(_))));
    assert!(started.elapsed() < Duration::from_millis(500));
    page.close().await;

    let stats = pool.stats();
    assert_eq!((stats.crashes, stats.pages_in_use), (1, 0), "{stats:?}");
    assert!(!pool.browser_pids().contains(&killed));

    // The next acquire gets a live browser and works.
    let page = pool.acquire(&options(800, 600)).await.unwrap();
    let nav = page.goto(&site.url("/"), NAV).await.unwrap();
    assert_eq!(nav.status, Some(200));
    assert_ne!(page.browser_pid(), killed);
    page.close().await;

    // Shutdown ends every process.
    let pids = pool.browser_pids();
    pool.shutdown().await;
    assert_eq!(pool.stats().browsers_alive, 0);
    for pid in pids {
        assert!(!process_running(pid), "Chromium {pid} still running after shutdown");
    }
    assert!(pool.acquire(&options(800, 600)).await.is_err());
}

/// Popups a page opened and left open, once the count settles (or 10 s passed).
const OPEN_POPUPS_AFTER_30: &str = "new Promise(resolve => {
  const popups = [];
  for (let i = 0; i < 30; i++) popups.push(window.open('/json?popup=' + i));
  let last = -1, started = Date.now();
  const check = () => {
    const open = popups.filter(p => p && !p.closed).length;
    if ((open === last && open <= 10) || Date.now() - started > 10000) resolve(open);
    else { last = open; setTimeout(check, 200); }
  };
  check();
})";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogs_are_answered_and_popups_capped() {
    let site = browser_support::start().await;
    let pool = pool(1);
    let page = pool.acquire(&options(800, 600)).await.unwrap();
    page.goto(&site.url("/"), NAV).await.unwrap();

    // A dialog left open would stall every later command until the command timeout.
    assert_eq!(page.evaluate("confirm('sure?')").await.unwrap(), serde_json::json!(false));
    assert_eq!(page.evaluate("prompt('name?', 'x')").await.unwrap(), serde_json::Value::Null);
    assert_eq!(page.evaluate("alert('hi'); 'after the alert'").await.unwrap(), "after the alert");

    // Popups answer their dialogs too; beyond the cap they are closed, the first ones stay.
    let in_popup = "new Promise(resolve => { const p = window.open('/json'); \
                    setTimeout(() => { const answer = p.confirm('in a popup?'); p.close(); \
                    resolve([answer, p.closed]); }, 1000); })";
    assert_eq!(page.evaluate(in_popup).await.unwrap(), serde_json::json!([false, true]));
    let open = page.evaluate(OPEN_POPUPS_AFTER_30).await.unwrap();
    assert_eq!(open, serde_json::json!(10));
    assert_eq!(page.goto(&site.url("/"), NAV).await.unwrap().status, Some(200));
    page.close().await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_renderer_fails_its_page_only() {
    let site = browser_support::start().await;
    let pool = pool(2);
    let page = pool.acquire(&options(800, 600)).await.unwrap();
    page.goto(&site.url("/"), NAV).await.unwrap();
    let started = Instant::now();
    let err = page.goto("chrome://crash", NAV).await.unwrap_err();
    assert!(matches!(err, BrowserError::Crashed(_)), "{err:?}");
    assert!(err.to_string().contains("renderer"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(matches!(page.visible_text().await, Err(BrowserError::Crashed(_))));
    let pid = page.browser_pid();
    page.close().await;

    // The browser itself is fine: other pages keep working, nothing counts as a browser crash.
    let page = pool.acquire(&options(800, 600)).await.unwrap();
    assert_eq!(page.goto(&site.url("/"), NAV).await.unwrap().status, Some(200));
    assert!(process_running(pid));
    assert_eq!(pool.stats().crashes, 0);
    page.close().await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_is_respected() {
    let site = browser_support::start().await;
    let pool = pool(2);
    let first = pool.acquire(&options(800, 600)).await.unwrap();
    let second = pool.acquire(&options(800, 600)).await.unwrap();
    assert_eq!(pool.stats().pages_in_use, 2);

    // A third acquire waits while two pages are held...
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.acquire(&options(800, 600)).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "third page handed out while two are in use");
    assert_eq!(pool.stats().pages_in_use, 2);

    // ... and gets its page once one is closed. Dropping (not closing) frees a slot too.
    first.close().await;
    let third = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap().unwrap();
    third.goto(&site.url("/"), NAV).await.unwrap();
    drop(second);
    let fourth = tokio::time::timeout(Duration::from_secs(10), pool.acquire(&options(800, 600)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pool.stats().pages_in_use, 2);
    third.close().await;
    fourth.close().await;
    assert_eq!(pool.stats().pages_in_use, 0);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_are_recycled_after_n_runs() {
    let site = browser_support::start().await;
    let pool =
        BrowserPool::new(PoolConfig { max_concurrency: 1, recycle_after_runs: 2, ..PoolConfig::default() });
    let mut used = Vec::new();
    for _ in 0..6 {
        let page = pool.acquire(&options(800, 600)).await.unwrap();
        page.goto(&site.url("/"), NAV).await.unwrap();
        used.push(page.browser_pid());
        page.close().await;
    }
    // No browser served more than two runs, so at least three were started.
    let mut distinct = used.clone();
    distinct.sort_unstable();
    distinct.dedup();
    for pid in &distinct {
        assert!(used.iter().filter(|p| *p == pid).count() <= 2, "{used:?}");
    }
    assert!(distinct.len() >= 3, "{used:?}");
    // Retired browsers are closed (not crashed) once their pages are gone.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let alive = pool.browser_pids();
    for pid in &used[..used.len() - 2] {
        if !alive.contains(pid) {
            assert!(!process_running(*pid), "retired Chromium {pid} still running");
        }
    }
    let stats = pool.stats();
    assert_eq!(stats.crashes, 0, "{stats:?}");
    assert!(stats.browsers_alive <= 2, "{stats:?}");
    assert!(stats.launches >= 3, "{stats:?}");
    pool.shutdown().await;
}

/// `cargo test --test browser_pool -- --ignored --nocapture timings`
#[ignore = "benchmark: prints timings"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timings() {
    if std::env::var("RUST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
    let site = browser_support::start().await;
    let pool = pool(2);
    let opts = options(1920, 1080);
    let started = Instant::now();
    let warm = pool.acquire(&opts).await.unwrap();
    println!("first acquire (launch): {:?}", started.elapsed());
    warm.goto(&site.url("/"), NAV).await.unwrap();
    warm.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (mut acquire, mut goto, mut shot, mut har, mut close) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let total = Instant::now();
    for _ in 0..20 {
        let t = Instant::now();
        let page = pool.acquire(&opts).await.unwrap();
        acquire.push(t.elapsed());
        let t = Instant::now();
        page.goto(&site.url("/"), NAV).await.unwrap();
        goto.push(t.elapsed());
        let t = Instant::now();
        let png = page.screenshot(false).await.unwrap();
        shot.push(t.elapsed());
        assert_eq!(png_size(&png), (1920, 1080));
        let t = Instant::now();
        let (_, entries) = page.take_har().await;
        har.push(t.elapsed());
        assert!(entries.len() >= 2);
        let t = Instant::now();
        page.close().await;
        close.push(t.elapsed());
        if std::env::var("VERBOSE").is_ok() {
            println!(
                "acquire {:?} goto {:?} shot {:?} close {:?}",
                acquire.last().unwrap(),
                goto.last().unwrap(),
                shot.last().unwrap(),
                close.last().unwrap()
            );
        }
    }
    let total = total.elapsed();
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "20 checks: {total:?} ({:?}/check); median acquire {:?}, goto {:?}, screenshot {:?}, take_har {:?}, close {:?}",
        total / 20,
        median(&mut acquire),
        median(&mut goto),
        median(&mut shot),
        median(&mut har),
        median(&mut close)
    );
    // Approximate memory of all Chromium processes on the machine (PSS, MiB), pool idle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut pss_kib = 0u64;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == "chromium" || comm.trim() == "chrome" {
            let rollup = std::fs::read_to_string(entry.path().join("smaps_rollup")).unwrap_or_default();
            if let Some(line) = rollup.lines().find(|l| l.starts_with("Pss:")) {
                pss_kib += line.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    println!("idle pool: {:?}, Chromium PSS ≈ {} MiB", pool.stats(), pss_kib / 1024);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn har_has_the_cookies_the_browser_really_sent_and_received() {
    let site = browser_support::start().await;
    let pool = pool(1);
    let page = pool.acquire(&PageOptions::default()).await.unwrap();
    page.goto(&site.url("/set-cookie"), NAV).await.unwrap();
    page.goto(&site.url("/show-cookie"), NAV).await.unwrap();
    let (_, entries) = page.take_har().await;
    page.close().await;
    pool.shutdown().await;

    let entry = |path: &str| entries.iter().find(|e| e.request.url == site.url(path)).expect(path);
    let pairs = |cookies: &[aviary::har::Cookie]| -> Vec<(String, String)> {
        cookies.iter().map(|c| (c.name.clone(), c.value.clone())).collect()
    };
    let session = vec![("session".to_string(), "abc123".to_string())];
    let set = entry("/set-cookie");
    let set_cookie = set.response.headers.iter().find(|h| h.name.eq_ignore_ascii_case("set-cookie"));
    assert_eq!(
        set_cookie.map(|h| h.value.as_str()),
        Some("session=abc123; Path=/"),
        "{:?}",
        set.response.headers
    );
    assert_eq!(pairs(&set.response.cookies), session);
    // The Cookie header is added by the network stack: only the extra-info events carry it.
    let sent = entry("/show-cookie");
    let cookie = sent.request.headers.iter().find(|h| h.name.eq_ignore_ascii_case("cookie"));
    assert_eq!(cookie.map(|h| h.value.as_str()), Some("session=abc123"), "{:?}", sent.request.headers);
    assert_eq!(pairs(&sent.request.cookies), session);
    let host = sent.request.headers.iter().find(|h| h.name.eq_ignore_ascii_case("host"));
    assert_eq!(host.map(|h| h.value.clone()), Some(site.addr.to_string()));
}

/// A spare page is made for the next run while a run holds its page, unless the pool was told
/// no more pages will be asked for (`aviary run` of one browser canary).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spare_page_is_made_only_while_more_pages_are_expected() {
    let spares_within = |pool: BrowserPool, wait: std::time::Duration| async move {
        let deadline = std::time::Instant::now() + wait;
        while pool.stats().spares == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        pool.stats().spares
    };
    for (expected_pages, spares) in [(None, 1), (Some(2), 1), (Some(1), 0)] {
        let pool =
            BrowserPool::new(PoolConfig { max_concurrency: 1, expected_pages, ..PoolConfig::default() });
        let page = pool.acquire(&options(800, 600)).await.unwrap();
        let wait = std::time::Duration::from_secs(if spares == 0 { 2 } else { 30 });
        assert_eq!(spares_within(pool.clone(), wait).await, spares, "expected_pages {expected_pages:?}");
        page.close().await;
        pool.shutdown().await;
    }
}
