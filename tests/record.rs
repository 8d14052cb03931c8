//! `aviary record`, end to end: the real binary records the example site (`canaries/site`,
//! served on 127.0.0.1) while the test drives real input through the DevTools endpoint it prints
//! (mouse, keyboard and text input over CDP); then SIGINT or a closed tab ends the recording, and
//! the Recorder JSON it wrote is checked step by step and replayed by the reference replayer
//! (@puppeteer/replay, `bench/replay.js`).

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton,
};
use chromiumoxide::layout::Point;
use chromiumoxide::types::ClickOptions;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use serde_json::{Value, json};
use support::{Project, read_json, start_example_site, stderr};

/// Every wait of these tests ends by this deadline.
const DEADLINE: Duration = Duration::from_secs(60);

/// `aviary record --headless` running as a child process; killed (and reaped) when dropped.
struct Recorder {
    child: Child,
    devtools: String,
    stderr: mpsc::Receiver<String>,
}

impl Recorder {
    fn start(project: &Project, url: &str, output: &str) -> Recorder {
        let mut child = support::aviary_command(project.path())
            .args(["record", "--headless", url, "-o", output])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut recorder = Recorder { child, devtools: String::new(), stderr: lines };
        let started = Instant::now();
        while recorder.devtools.is_empty() {
            let left = DEADLINE.saturating_sub(started.elapsed());
            let line =
                recorder.stderr.recv_timeout(left).expect("aviary record printed its DevTools endpoint");
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                recorder.devtools = url.trim().to_string();
            }
        }
        recorder
    }

    /// Sends `signal` (`INT`, `TERM`) to the recorder.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.unwrap().success());
    }

    /// Waits for the recorder to exit by itself; returns its status, stdout and stderr.
    fn wait(mut self) -> (ExitStatus, String, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < DEADLINE, "aviary record did not exit within {DEADLINE:?}");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut out = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let err: Vec<String> = self.stderr.try_iter().collect();
        (status, out, err.join("\n"))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to the recorder's browser and finds its tab (at a URL containing `path`).
async fn connect(recorder: &Recorder, path: &str) -> (Browser, Page) {
    let (browser, mut handler) = Browser::connect(recorder.devtools.clone()).await.unwrap();
    tokio::spawn(async move { while handler.next().await.is_some() {} });
    let started = Instant::now();
    loop {
        for page in browser.pages().await.unwrap_or_default() {
            if page.url().await.ok().flatten().is_some_and(|url| url.contains(path)) {
                wait_for(&page, "document.readyState === 'complete'").await;
                return (browser, page);
            }
        }
        assert!(started.elapsed() < DEADLINE, "the recorded tab at {path} did not show up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the JavaScript `condition` is true in the page.
async fn wait_for(page: &Page, condition: &str) {
    let started = Instant::now();
    loop {
        let value = page.evaluate(condition).await.ok().and_then(|r| r.into_value::<bool>().ok());
        if value == Some(true) {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "never true: {condition}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The centre of the element `element` (a JavaScript expression), in the top page's coordinates.
async fn centre(page: &Page, element: &str) -> Point {
    let script = format!(
        "(() => {{ const el = {element}; const r = el.getBoundingClientRect();
           let x = r.left + r.width / 2, y = r.top + r.height / 2;
           const frame = el.ownerDocument.defaultView.frameElement;
           if (frame) {{ const f = frame.getBoundingClientRect(); x += f.left + frame.clientLeft; y += f.top + frame.clientTop; }}
           return [x, y]; }})()"
    );
    let [x, y]: [f64; 2] = page.evaluate(script).await.unwrap().into_value().unwrap();
    Point::new(x, y)
}

async fn click(page: &Page, element: &str) {
    page.click(centre(page, element).await).await.unwrap();
}

async fn double_click(page: &Page, element: &str) {
    let point = centre(page, element).await;
    page.click(point).await.unwrap();
    page.click_with(point, ClickOptions::builder().click_count(2).build()).await.unwrap();
}

async fn type_text(page: &Page, text: &str) {
    page.execute(InsertTextParams::new(text)).await.unwrap();
}

/// Presses and releases a key: `(key, code, virtual key code, text)`.
async fn press(page: &Page, (key, code, vk, text): (&str, &str, i64, &str)) {
    let kind = if text.is_empty() { DispatchKeyEventType::RawKeyDown } else { DispatchKeyEventType::KeyDown };
    let mut down = DispatchKeyEventParams::new(kind);
    down.key = Some(key.into());
    down.code = Some(code.into());
    down.windows_virtual_key_code = Some(vk);
    down.text = (!text.is_empty()).then(|| text.to_string());
    page.execute(down).await.unwrap();
    let mut up = DispatchKeyEventParams::new(DispatchKeyEventType::KeyUp);
    up.key = Some(key.into());
    up.code = Some(code.into());
    up.windows_virtual_key_code = Some(vk);
    page.execute(up).await.unwrap();
}

const ENTER: (&str, &str, i64, &str) = ("Enter", "Enter", 13, "\r");
const TAB: (&str, &str, i64, &str) = ("Tab", "Tab", 9, "");

async fn wheel(page: &Page, at: Point, delta_y: f64) {
    let mut event = DispatchMouseEventParams::new(DispatchMouseEventType::MouseWheel, at.x, at.y);
    event.delta_x = Some(0.0);
    event.delta_y = Some(delta_y);
    event.button = Some(MouseButton::None);
    page.execute(event).await.unwrap();
}

/// The recorded steps, each as `type` and its CSS alternative (the one without a prefix).
fn outline(flow: &Value) -> Vec<String> {
    let steps = flow["steps"].as_array().unwrap();
    steps
        .iter()
        .map(|step| {
            let css = step["selectors"].as_array().and_then(|alternatives| {
                alternatives.iter().find_map(|chain| {
                    let chain: Vec<&str> = chain.as_array()?.iter().filter_map(Value::as_str).collect();
                    (!chain[0].contains('/')).then(|| chain.join(" >> "))
                })
            });
            let what = css.or_else(|| step["key"].as_str().map(String::from)).unwrap_or_default();
            format!("{} {what}", step["type"].as_str().unwrap()).trim().to_string()
        })
        .collect()
}

fn step_with<'a>(flow: &'a Value, kind: &str, css: &str) -> &'a Value {
    flow["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == kind && s["selectors"].as_array().is_some_and(|a| a.contains(&json!([css]))))
        .unwrap_or_else(|| panic!("no {kind} step on {css} in {flow:#}"))
}

/// Replays `flow` with @puppeteer/replay (`bench/replay.js`); it must pass.
fn reference_replay(flow: &Path) {
    let verdict = support::reference_replay(flow);
    assert_eq!(verdict["ok"], true, "@puppeteer/replay failed on {}: {verdict}", flow.display());
}

fn site() -> String {
    start_example_site().url("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_driven_over_devtools_is_recorder_json_that_replays() {
    let site = site();
    let project = Project::new();
    let recorder = Recorder::start(&project, &format!("{site}/login.html"), "canaries/flows/shop.json");
    let (_browser, page) = connect(&recorder, "/login.html").await;

    // The login form: text fields, a select (by typing on it), a checkbox, a submit button.
    click(&page, "document.querySelector('#user')").await;
    type_text(&page, "demo").await;
    click(&page, "document.querySelector('#password')").await;
    type_text(&page, "shop-demo-pass").await;
    press(&page, TAB).await;
    press(&page, ("p", "KeyP", 80, "p")).await;
    click(&page, "document.querySelector('#terms')").await;
    click(&page, "document.querySelector('[data-testid=sign-in]')").await;
    wait_for(&page, "location.pathname === '/account.html' && document.readyState === 'complete'").await;
    click(&page, "document.querySelector('#menu')").await;

    // The widgets: typed into the address bar (a navigation no step caused), a shadow-DOM
    // counter, an iframe, a double click, typing + Enter, a scroll of the page.
    page.goto(format!("{site}/widgets.html")).await.unwrap();
    wait_for(&page, "document.readyState === 'complete' && !!document.querySelector('#frame').contentDocument.querySelector('#apply')").await;
    click(&page, "document.querySelector('#counter').shadowRoot.querySelector('.add')").await;
    click(&page, "document.querySelector('#frame').contentDocument.querySelector('#coupon')").await;
    type_text(&page, "SAVE10").await;
    click(&page, "document.querySelector('#frame').contentDocument.querySelector('#apply')").await;
    double_click(&page, "document.querySelector('#double')").await;
    click(&page, "document.querySelector('#search')").await;
    type_text(&page, "hello").await;
    press(&page, ENTER).await;
    wait_for(&page, "document.querySelector('#log').textContent === 'search hello'").await;
    wheel(&page, Point::new(640.0, 20.0), 300.0).await;
    wait_for(&page, "window.scrollY > 0").await;
    // The recorder reports a scroll once it has settled, and every event reaches it through
    // Chromium: give both a moment before stopping.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    recorder.signal("INT");
    let (status, out, err) = recorder.wait();
    assert!(status.success(), "{status}: {out}{err}");
    assert!(out.contains("canaries/flows/shop.json") && out.contains("shop.yaml"), "{out}");
    assert!(err.contains("password field"), "the password typed is pointed out: {err}");

    let flow_path = project.path().join("canaries/flows/shop.json");
    let flow = read_json(&flow_path);
    assert!(flow["title"].as_str().unwrap().starts_with("Recording "), "{flow:#}");
    assert_eq!(
        outline(&flow),
        [
            "setViewport",
            "navigate",
            "click #user",
            "change #user",
            "click #password",
            "change #password",
            "keyDown Tab",
            "keyUp Tab",
            "change #plan",
            "click #terms",
            "click [data-testid='sign-in']",
            "click #menu",
            "navigate",
            "click #counter >> button.add",
            "click #coupon",
            "change #coupon",
            "click #apply",
            "doubleClick #double",
            "click #search",
            "change #search",
            "keyDown Enter",
            "keyUp Enter",
            "scroll",
        ],
        "{flow:#}"
    );
    let steps = flow["steps"].as_array().unwrap();
    assert_eq!(steps[0]["type"], "setViewport");
    assert_eq!((steps[0]["width"].as_u64(), steps[0]["isMobile"].as_bool()), (Some(1280), Some(false)));
    assert_eq!(
        steps[1],
        json!({"type": "navigate", "url": format!("{site}/login.html"), "assertedEvents": [
            {"type": "navigation", "url": format!("{site}/login.html"), "title": "Sign in · Aviary example shop"}]})
    );
    // Every form of selector, the way the Recorder writes them.
    assert_eq!(
        step_with(&flow, "click", "#user")["selectors"],
        json!([
            ["aria/User name[role=\"textbox\"]"],
            ["#user"],
            ["xpath///*[@id=\"user\"]"],
            ["pierce/#user"]
        ])
    );
    assert_eq!(step_with(&flow, "change", "#user")["value"], "demo");
    assert_eq!(step_with(&flow, "change", "#plan")["value"], "pro");
    assert_eq!(
        step_with(&flow, "click", "#terms")["selectors"][0],
        json!(["aria/I accept the terms[role=\"checkbox\"]"])
    );
    // "Sign in" is also the heading's text: no text selector for the button.
    let sign_in = step_with(&flow, "click", "[data-testid='sign-in']");
    assert_eq!(
        sign_in["selectors"],
        json!([
            ["aria/Sign in[role=\"button\"]"],
            ["[data-testid='sign-in']"],
            ["xpath///*[@id=\"login\"]/button"],
            ["pierce/[data-testid='sign-in']"]
        ])
    );
    assert!(sign_in["offsetX"].as_f64().unwrap() > 0.0 && sign_in["offsetY"].as_f64().unwrap() > 0.0);
    assert_eq!(
        sign_in["assertedEvents"],
        json!([{"type": "navigation", "url": format!("{site}/account.html?user=demo&plan=pro"),
                "title": "Your account · Aviary example shop"}])
    );
    assert!(step_with(&flow, "click", "#menu").get("assertedEvents").is_none());
    assert_eq!(steps[12]["url"], format!("{site}/widgets.html"));
    assert_eq!(steps[12]["assertedEvents"][0]["title"], "Widgets · Aviary example shop");
    // Through the shadow root: a chain for CSS, one selector for pierce, aria and text.
    let counter = &steps[13]["selectors"];
    assert!(counter.as_array().unwrap().contains(&json!(["pierce/button.add"])), "{counter}");
    assert!(counter.as_array().unwrap().contains(&json!(["aria/Add one[role=\"button\"]"])), "{counter}");
    assert!(counter.as_array().unwrap().contains(&json!(["text/Add one"])), "{counter}");
    // In the iframe: the frame path, selectors within its document.
    assert_eq!(step_with(&flow, "change", "#coupon")["frame"], json!([0]));
    assert_eq!(step_with(&flow, "change", "#coupon")["value"], "SAVE10");
    assert_eq!(step_with(&flow, "click", "#apply")["frame"], json!([0]));
    assert!(step_with(&flow, "click", "#user").get("frame").is_none());
    assert_eq!(step_with(&flow, "change", "#search")["value"], "hello");
    let scroll = steps.last().unwrap();
    assert!(scroll.get("selectors").is_none() && scroll["y"].as_f64().unwrap() > 0.0, "{scroll}");

    let canary = std::fs::read_to_string(project.path().join("canaries/shop.yaml")).unwrap();
    assert!(canary.contains("blueprint: flow\n") && canary.contains("file: \"flows/shop.json\""), "{canary}");

    reference_replay(&flow_path);

    // Aviary replays the whole recording too: the canary the recorder wrote, as it is.
    let run = project.aviary(&["run", "canaries/shop.yaml"]);
    assert_eq!(run.status.code(), Some(0), "{}{}", support::stdout(&run), stderr(&run));
    let report = read_json(&project.run_dirs()[0].join("report.json"));
    assert_eq!(report["steps"].as_array().unwrap().len(), steps.len(), "one report step per recorded step");
    assert_eq!(report["status"], "PASSED", "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_tab_ends_the_recording() {
    let site = site();
    let project = Project::new();
    let recorder = Recorder::start(&project, &format!("{site}/account.html"), "flows/closed.json");
    let (_browser, page) = connect(&recorder, "/account.html").await;
    click(&page, "document.querySelector('#menu')").await;
    wait_for(&page, "document.querySelector('#menu').getAttribute('aria-expanded') === 'true'").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    page.close().await.unwrap();

    let (status, out, err) = recorder.wait();
    assert!(status.success(), "{status}: {out}{err}");
    let flow_path = project.path().join("flows/closed.json");
    let flow = read_json(&flow_path);
    assert_eq!(outline(&flow), ["setViewport", "navigate", "click #menu"], "{flow:#}");
    assert_eq!(flow["steps"][2]["selectors"][0], json!(["aria/Menu[role=\"button\"]"]), "{flow:#}");
    // The canary goes to the canaries folder and names the flow relative to itself.
    let canary = std::fs::read_to_string(project.path().join("canaries/closed.yaml")).unwrap();
    assert!(canary.contains("file: \"../flows/closed.json\""), "{canary}");
    reference_replay(&flow_path);
    // ... and in Aviary, through the canary written with it.
    let run = project.aviary(&["run", "canaries/closed.yaml"]);
    assert_eq!(run.status.code(), Some(0), "{}{}", support::stdout(&run), stderr(&run));
    let report = read_json(&project.run_dirs()[0].join("report.json"));
    assert_eq!(report["status"], "PASSED", "{report:#}");
    assert_eq!(report["steps"].as_array().unwrap().len(), 3, "one report step per flow step: {report:#}");
}

#[test]
fn existing_files_are_kept_unless_forced_and_bad_arguments_say_why() {
    let project = Project::new();
    project.file("canaries/flows/taken.json", "{}");
    let output =
        project.aviary(&["record", "--headless", "http://127.0.0.1:9/", "-o", "canaries/flows/taken.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("taken.json already exists (use --force to overwrite)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(project.path().join("canaries/flows/taken.json")).unwrap(), "{}");

    let output = project.aviary(&["record", "--headless", "127.0.0.1:8080", "-o", "flows/x.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not a URL to record"), "{}", stderr(&output));

    let output =
        project.aviary(&["record", "--headless", "http://127.0.0.1:9/", "-o", "flows/bad name.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("must match [A-Za-z0-9_-]{1,64}"), "{}", stderr(&output));
    assert!(!project.path().join("flows").exists());

    // A page that cannot be loaded: said at once, nothing written.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{closed}/");
    let output = project.aviary(&["record", "--headless", &url, "-o", "flows/gone.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("net::ERR_CONNECTION_REFUSED"), "{}", stderr(&output));
    assert!(!project.path().join("flows").exists() && !project.path().join("canaries/gone.yaml").exists());
}
