//! The local fixture site and helpers shared by the integration tests: a real HTTP server on
//! 127.0.0.1 (axum), a scratch project folder, and a way to run the `aviary` binary.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, Redirect, Response};
use axum::routing::get;

/// A 1×1 PNG, for subresource requests.
pub const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05,
    0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

/// The fixture site, served until the test process ends.
pub struct Site {
    pub addr: SocketAddr,
    /// Requests the `/hang` route has received.
    pub hang_hits: Arc<AtomicUsize>,
    /// Requests the `/slow/{ms}` route has received.
    pub slow_hits: Arc<AtomicUsize>,
}

impl Site {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Starts the fixture site on a free port of 127.0.0.1 in a thread of its own.
pub fn start_site() -> Site {
    let hang_hits = Arc::new(AtomicUsize::new(0));
    let slow_hits = Arc::new(AtomicUsize::new(0));
    let hits = (hang_hits.clone(), slow_hits.clone());
    let addr = spawn_server(move |listener| async move {
        axum::serve(listener, routes(hits.0).merge(hostile_routes(hits.1))).await.unwrap();
    });
    Site { addr, hang_hits, slow_hits }
}

/// Runs `serve` on a runtime of its own thread; returns the address it listens on.
pub fn spawn_server<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("fixture server started")
}

fn routes(hang_hits: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route("/", get(|| async { page("Home", "<h1>Welcome to the fixture site</h1><img src=\"/pixel.png\"><a href=\"/about\">About</a>") }))
        .route("/about", get(|| async { page("About", "<h1>About us</h1><p>We test canaries.</p>") }))
        .route("/pixel.png", get(|| async { ([(header::CONTENT_TYPE, "image/png")], PIXEL_PNG) }))
        .route("/status/{code}", get(|UrlPath(code): UrlPath<u16>| async move {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
            (status, page("Status", &format!("<h1>Status {code}</h1>")))
        }))
        .route("/tall", get(|| async { page("Tall", "<div style=\"height:3000px\">tall page</div><p>bottom</p>") }))
        .route("/redirect", get(|| async { Redirect::temporary("/about") }))
        .route("/redirect-loop", get(|| async { Redirect::temporary("/redirect-loop") }))
        .route("/hang", get(|| async move {
            hang_hits.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }))
        .route("/hang-subresource", get(|| async {
            page("Hanging image", "<h1>Loading forever</h1><img src=\"/hang\">")
        }))
        .route("/big", get(|| async {
            // About 50 MB of text in one page.
            let chunk = "<p>".to_string() + &"lorem ipsum dolor sit amet ".repeat(40) + "</p>\n";
            let body = chunk.repeat(50 * 1024 * 1024 / chunk.len());
            Html(format!("<!doctype html><title>Big</title><body>{body}</body>"))
        }))
        .route("/echo", get(|headers: HeaderMap, RawQuery(query): RawQuery| async move {
            let mut text = format!("query={}\n", query.unwrap_or_default());
            for (name, value) in &headers {
                text.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("?")));
            }
            page("Echo", &format!("<pre>{}</pre>", text.replace('<', "&lt;")))
        }))
        .route("/cookie", get(|| async {
            Response::builder()
                .header(header::SET_COOKIE, "session=cookie-secret-value; Path=/")
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from("<h1>cookie set for this query</h1>"))
                .unwrap()
        }))
}

/// Serves the example site (`canaries/site/`) as files, on a free port of 127.0.0.1.
pub fn start_example_site() -> Site {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("canaries/site");
    let serve_file = move |UrlPath(path): UrlPath<String>| {
        let root = root.clone();
        async move {
            let name = if path.is_empty() { "index.html".to_string() } else { path };
            if name.contains("..") {
                return Response::builder().status(StatusCode::BAD_REQUEST).body(Body::empty()).unwrap();
            }
            match std::fs::read(root.join(&name)) {
                Ok(bytes) => {
                    let kind = if name.ends_with(".html") {
                        "text/html; charset=utf-8"
                    } else {
                        "application/octet-stream"
                    };
                    Response::builder().header(header::CONTENT_TYPE, kind).body(Body::from(bytes)).unwrap()
                }
                Err(_) => {
                    Response::builder().status(StatusCode::NOT_FOUND).body(Body::from("not found")).unwrap()
                }
            }
        }
    };
    let index = serve_file.clone();
    let app = Router::new()
        .route("/", get(move || index(UrlPath(String::new()))))
        .route("/{*path}", get(serve_file));
    let addr = spawn_server(move |listener| async move { axum::serve(listener, app).await.unwrap() });
    Site { addr, hang_hits: Arc::new(AtomicUsize::new(0)), slow_hits: Arc::new(AtomicUsize::new(0)) }
}

/// Pages that work against the browser: a slow one, endless dialogs, endless popups, endless
/// memory. Each hostile one runs its loop in an inline script, so its `load` event never fires.
fn hostile_routes(slow_hits: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route(
            "/slow/{ms}",
            get(move |UrlPath(ms): UrlPath<u64>| async move {
                slow_hits.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                page("Slow", "<h1>Slow but there</h1>")
            }),
        )
        .route(
            "/dialogs",
            get(|| async {
                script_page(
                    "Dialogs",
                    "for (let i = 0; ; i++) { alert('alert ' + i); confirm('sure?'); prompt('name?'); }",
                )
            }),
        )
        .route(
            "/popups",
            get(|| async {
                script_page("Popups", "for (let i = 0; ; i++) { window.open('/about?popup=' + i); }")
            }),
        )
        .route(
            "/memory",
            get(|| async {
                script_page(
                    "Memory",
                    "const hog = []; for (;;) { hog.push(new Array(1e6).fill(hog.length)); }",
                )
            }),
        )
}

fn script_page(title: &str, js: &str) -> Html<String> {
    page(title, &format!("<h1>{title}</h1><script>{js}</script>"))
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!("<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"))
}

/// A scratch project folder with a `canaries/` folder.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("canaries")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `canaries/<name>.yaml`.
    pub fn canary(&self, name: &str, yaml: &str) -> PathBuf {
        let path = self.path().join("canaries").join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        path
    }

    pub fn file(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `aviary ARGS` in the project folder.
    pub fn aviary(&self, args: &[&str]) -> Output {
        self.aviary_env(args, &[])
    }

    pub fn aviary_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = aviary_command(self.path());
        command.args(args);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    }

    /// Every file under the data folder, recursively.
    pub fn data_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.path().join(".aviary")];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    /// The run folders holding a report.json.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        self.data_files()
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n == "report.json"))
            .map(|p| p.parent().unwrap().to_path_buf())
            .collect()
    }
}

/// The `aviary` binary, to be run in `dir` with the default log filter.
pub fn aviary_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aviary"));
    command.current_dir(dir).env_remove("AVIARY_LOG");
    command
}

/// Runs the `aviary` binary in `dir` and waits for it.
pub fn aviary_in(dir: &Path, args: &[&str]) -> Output {
    aviary_command(dir).args(args).output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Records an alarm transition straight in the store, as the alarm engine would.
pub fn record_alarm_state(store: &aviary::store::SqliteStore, alarm: &str, old: &str, new: &str) {
    use aviary::store::{AlarmTransition, Store};
    store
        .record_alarm_transition(&AlarmTransition {
            alarm: alarm.into(),
            time: chrono::Utc::now(),
            old_state: old.into(),
            new_state: new.into(),
            reason: "test".into(),
        })
        .unwrap();
}

/// A project file with one failover record `www` (`www.example.test.`, 192.0.2.10 or
/// 198.51.100.20, health from alarm `home`, insufficient data counted as unhealthy) on the DNS
/// provider written as `provider` (a YAML flow mapping), named `name`.
pub fn failover_project(name: &str, provider: &str) -> String {
    format!(
        "dns_providers:\n  {name}: {provider}\n\
         failover:\n  - name: www\n    provider: {name}\n    record: {{name: \"www.example.test.\", type: A, ttl: 60}}\n    \
         primary: [\"192.0.2.10\"]\n    secondary: [\"198.51.100.20\"]\n    primary_health: home\n    \
         insufficient_data: unhealthy\n"
    )
}

/// A project file written as JSON (which is YAML), read as `aviary` reads one; any problem,
/// channels and DNS providers included, fails the test.
pub fn project_file(json: serde_json::Value) -> aviary::spec::model::ProjectFile {
    let config = project_sections(json);
    let mut problems = aviary::actions::check_channels(&config);
    problems.extend(aviary::dns::check_providers(&config));
    assert!(problems.is_empty(), "{problems:?}");
    config
}

/// [`project_file`] without the checks of channels and DNS providers (their sections are kept
/// as written).
pub fn project_sections(json: serde_json::Value) -> aviary::spec::model::ProjectFile {
    let doc = aviary::spec::yaml::parse(&json.to_string()).unwrap();
    let (config, problems) = aviary::spec::de::from_node::<aviary::spec::model::ProjectFile>(&doc);
    assert!(problems.is_empty(), "{problems:?}");
    config.unwrap()
}

/// Runs a recording in @puppeteer/replay on the same Chromium; its one-line JSON verdict.
pub fn reference_replay(recording: &Path) -> serde_json::Value {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let module = bench.join("node_modules/@puppeteer/replay");
    assert!(
        module.is_dir(),
        "@puppeteer/replay is not installed: run `AVIARY_SETUP_TESTS=1 bash scripts/setup.sh` (npm ci --prefix bench)"
    );
    let output = Command::new("timeout")
        .args(["120", "node"])
        .arg(bench.join("replay.js"))
        .arg(recording)
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|_| {
        panic!("bench/replay.js printed no verdict: {text}\n{}", String::from_utf8_lossy(&output.stderr))
    })
}
