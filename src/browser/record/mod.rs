//! `aviary record`'s browser side: a Chromium of its own (headed when asked), one tab with the
//! recorder script injected into every document it loads, and the steps it reports, until the
//! tab is closed, the browser goes away or the caller says stop.
//!
//! The script (`recorder.js`) runs in an isolated world of every frame and reports through a
//! CDP binding; [`steps`] turns its events into Chrome DevTools Recorder steps.

mod steps;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::page::{
    AddScriptToEvaluateOnNewDocumentParams, EventFrameRequestedNavigation, NavigateParams,
};
use chromiumoxide::cdp::browser_protocol::target::{CreateTargetParams, EventTargetDestroyed};
use chromiumoxide::cdp::js_protocol::runtime::{AddBindingParams, EnableParams, EventBindingCalled};
use futures::{FutureExt as _, StreamExt};

pub use steps::{Action, AssertedEvent, Flow, Selector, Step};

use super::launch::{LaunchSpec, Launched, launch};
use super::page::guarded;
use super::{BrowserError, Purpose, find_chromium};

/// The recorder script, run in every document of the recorded tab.
const RECORDER_JS: &str = include_str!("recorder.js");
/// The binding the script reports through (its name is also in `recorder.js`).
const BINDING: &str = "__aviaryRecord";
/// The isolated world the script runs in: the page neither sees nor disturbs it.
const WORLD: &str = "aviary-recorder";
/// How long a closing browser may take before it is killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The page the recording starts at.
    pub url: String,
    /// No window (the DevTools endpoint is the way in); otherwise a normal Chromium window.
    pub headless: bool,
    /// The Chromium executable; `None` finds one with [`find_chromium`].
    pub executable: Option<PathBuf>,
    /// The window size (CSS pixels); the first page's real viewport is what gets recorded.
    pub window: (u32, u32),
    /// How long Chromium may take to start.
    pub launch_timeout: Duration,
    /// Deadline of each CDP command.
    pub command_timeout: Duration,
}

impl RecordOptions {
    /// Recording `url` with the usual deadlines, in a 1280×800 window.
    pub fn new(url: impl Into<String>, headless: bool) -> Self {
        RecordOptions {
            url: url.into(),
            headless,
            executable: None,
            window: (1280, 800),
            launch_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The caller's stop signal (Ctrl-C, SIGTERM).
    Stopped,
    /// The recorded tab was closed.
    TabClosed,
    /// The browser went away (closed, or crashed: the reason).
    BrowserGone(String),
}

/// What a recording session produced.
#[derive(Debug)]
pub struct Recorded {
    /// The Recorder flow.
    pub flow: Flow,
    /// Why it ended.
    pub ended: Ended,
    /// A password field was typed into: its value is in the flow as typed.
    pub typed_password: bool,
}

/// A running recording: Chromium with the recorded tab open at the start URL.
pub struct RecordSession {
    launched: Launched,
    page: Page,
    options: RecordOptions,
}

impl std::fmt::Debug for RecordSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSession").field("pid", &self.launched.pid).finish_non_exhaustive()
    }
}

impl RecordSession {
    /// Starts Chromium and opens a blank tab with the recorder installed; [`RecordSession::record`]
    /// loads the start URL.
    pub async fn start(options: RecordOptions) -> Result<Self, BrowserError> {
        let purpose = if options.headless { Purpose::Headless } else { Purpose::Window };
        let executable = find_chromium(options.executable.as_deref(), purpose)?;
        let (width, height) = options.window;
        let launched = launch(LaunchSpec {
            executable: &executable,
            extra_args: &[format!("--window-size={width},{height}")],
            headed: !options.headless,
            launch_timeout: options.launch_timeout,
            command_timeout: options.command_timeout,
            registry: None,
            on_exit: Box::new(|_| {}),
        })
        .await?;
        let timeout = options.command_timeout;
        let life = &launched.life;
        let page = guarded(
            life,
            None,
            "Target.createTarget",
            timeout,
            launched.browser.new_page(CreateTargetParams::new("about:blank")),
        )
        .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                shut_down(&launched).await;
                return Err(e);
            }
        };
        let session = RecordSession { launched, page, options };
        if let Err(e) = session.install().await {
            shut_down(&session.launched).await;
            return Err(e);
        }
        Ok(session)
    }

    /// The browser's DevTools WebSocket address (`ws://127.0.0.1:PORT/devtools/browser/...`).
    pub fn devtools_url(&self) -> &str {
        &self.launched.ws_url
    }

    async fn install(&self) -> Result<(), BrowserError> {
        let life = &self.launched.life;
        let timeout = self.options.command_timeout;
        guarded(life, None, "Runtime.enable", timeout, self.page.execute(EnableParams::default())).await?;
        let binding =
            AddBindingParams { name: BINDING.to_string(), execution_context_name: Some(WORLD.into()) };
        guarded(life, None, "Runtime.addBinding", timeout, self.page.execute(binding)).await?;
        let script = AddScriptToEvaluateOnNewDocumentParams {
            source: RECORDER_JS.to_string(),
            world_name: Some(WORLD.to_string()),
            include_command_line_api: None,
            run_immediately: None,
        };
        guarded(life, None, "Page.addScriptToEvaluateOnNewDocument", timeout, self.page.execute(script))
            .await?;
        Ok(())
    }

    /// Loads the start URL and records until `stop` resolves, the tab is closed or the browser
    /// goes away; then closes the browser and returns the flow (titled `title`).
    pub async fn record(
        self,
        title: String,
        stop: impl Future<Output = ()>,
    ) -> Result<Recorded, BrowserError> {
        let result = self.record_inner(title, stop).await;
        shut_down(&self.launched).await;
        result
    }

    async fn record_inner(
        &self,
        title: String,
        stop: impl Future<Output = ()>,
    ) -> Result<Recorded, BrowserError> {
        let life = &self.launched.life;
        let timeout = self.options.command_timeout;
        let listen = |what| move |e| BrowserError::Cdp(format!("could not listen to {what}: {e}"));
        let mut calls = self
            .page
            .event_listener::<EventBindingCalled>()
            .await
            .map_err(listen("Runtime.bindingCalled"))?;
        let mut destroyed = self
            .launched
            .browser
            .event_listener::<EventTargetDestroyed>()
            .await
            .map_err(listen("Target.targetDestroyed"))?;
        let mut requested = self
            .page
            .event_listener::<EventFrameRequestedNavigation>()
            .await
            .map_err(listen("Page.frameRequestedNavigation"))?;
        let navigate = NavigateParams::new(self.options.url.clone());
        let navigated = guarded(life, None, "Page.navigate", timeout, self.page.execute(navigate)).await?;
        if let Some(error) = navigated.result.error_text.as_deref().filter(|e| !e.is_empty()) {
            return Err(BrowserError::Navigation(format!("{error} loading {}", self.options.url)));
        }
        let main_frame = navigated.result.frame_id.clone();
        let mut recording = steps::Recording::new(&self.options.url, self.options.window);
        let own_target = self.page.target_id().clone();
        tokio::pin!(stop);
        let ended = loop {
            tokio::select! {
                () = &mut stop => break Ended::Stopped,
                reason = life.gone() => break Ended::BrowserGone(reason),
                event = destroyed.next() => match event {
                    Some(event) if event.target_id == own_target => break Ended::TabClosed,
                    Some(_) => {}
                    None => break Ended::BrowserGone("the DevTools connection closed".to_string()),
                },
                call = calls.next() => match call {
                    Some(call) => apply_call(&mut recording, &call),
                    None => break Ended::TabClosed,
                },
                request = requested.next() => {
                    if request.is_some_and(|r| r.frame_id == main_frame) {
                        // The step that caused it was sent before: take it first.
                        drain(&mut calls, &mut recording);
                        recording.apply(steps::Event::Leaving, Instant::now());
                    }
                }
            }
        };
        // Events already sent before the end still count.
        drain(&mut calls, &mut recording);
        let typed_password = recording.typed_password();
        Ok(Recorded { flow: recording.finish(title), ended, typed_password })
    }
}

/// Adds the event of one binding call to the recording.
fn apply_call(recording: &mut steps::Recording, call: &EventBindingCalled) {
    if call.name != BINDING {
        return;
    }
    match serde_json::from_str(&call.payload) {
        Ok(event) => recording.apply(event, Instant::now()),
        Err(e) => tracing::warn!("the recorder sent an event it should not have ({e}): {}", call.payload),
    }
}

/// Applies the binding calls already received.
fn drain(
    calls: &mut chromiumoxide::listeners::EventStream<EventBindingCalled>,
    recording: &mut steps::Recording,
) {
    while let Some(Some(call)) = calls.next().now_or_never() {
        apply_call(recording, &call);
    }
}

/// Closes the browser (Browser.close, then a kill when it does not go within [`CLOSE_TIMEOUT`]).
async fn shut_down(launched: &Launched) {
    launched.closing.store(true, Ordering::SeqCst);
    if !launched.life.is_gone() {
        let close =
            launched.browser.execute(chromiumoxide::cdp::browser_protocol::browser::CloseParams::default());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, close).await;
    }
    launched.kill_and_wait(CLOSE_TIMEOUT).await;
}
