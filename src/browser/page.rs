//! One run's page: an isolated browser context with one tab, its options and its network log.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::inspector::EventTargetCrashed;
use chromiumoxide::cdp::browser_protocol::network::{
    GetResponseBodyParams, Headers, SetExtraHttpHeadersParams, SetUserAgentOverrideParams,
};
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, GetLayoutMetricsParams, NavigateParams, Viewport,
};
use chromiumoxide::cdp::browser_protocol::target::{
    CloseTargetParams, CreateBrowserContextParams, CreateTargetParams, DisposeBrowserContextParams,
    GetTargetsParams,
};
use chromiumoxide::cdp::js_protocol::runtime::{EvaluateParams, ExecutionContextId};
use chromiumoxide::error::CdpError;
use futures::StreamExt;
use tokio::sync::OwnedSemaphorePermit;

use super::capture::Capture;
use super::dialogs::dismiss_dialogs;
use super::engine::Viewport as EmulatedViewport;
use super::extra_info::ExtraInfo;
use super::launch::Life;
use super::pool::{PooledBrowser, Shared};
use super::{BrowserError, Navigation, PageOptions, Pending};
use crate::har;

/// The most a dispose / close may take before we stop waiting for Chromium.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound for fetching all response bodies of one `take_har`.
const BODIES_TIMEOUT: Duration = Duration::from_secs(10);

/// A context + page made ready before (or while) a run asks for it.
pub(crate) struct Prepared {
    pub context_id: BrowserContextId,
    pub tab: Tab,
    pub capture: Capture,
    /// The options already applied to the page (`None`: Chromium's defaults).
    pub applied: Option<PageOptions>,
}

/// A chromiumoxide page with its own "renderer crashed" signal.
#[derive(Clone)]
pub(crate) struct Tab {
    page: Page,
    life: Life,
}

impl Tab {
    pub fn is_gone(&self) -> bool {
        self.life.is_gone()
    }
}

/// Runs `fut` with a deadline, failing at once if the browser or the page's renderer dies.
pub(super) async fn guarded<T>(
    browser: &Life,
    tab: Option<&Life>,
    what: &str,
    timeout: Duration,
    fut: impl Future<Output = Result<T, CdpError>>,
) -> Result<T, BrowserError> {
    let crashed = |reason: String| BrowserError::Crashed(format!("{reason} (during {what})"));
    if let Some(reason) = browser.gone_reason().or_else(|| tab.and_then(Life::gone_reason)) {
        return Err(crashed(reason));
    }
    let tab_gone = async {
        match tab {
            Some(life) => life.gone().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        reason = browser.gone() => Err(crashed(reason)),
        reason = tab_gone => Err(crashed(reason)),
        result = tokio::time::timeout(timeout, fut) => match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if let Some(reason) = browser.gone_reason().or_else(|| tab.and_then(Life::gone_reason)) {
                    return Err(crashed(reason));
                }
                Err(match e {
                    CdpError::Timeout => {
                        BrowserError::Timeout(format!("Chromium did not answer {what} in time"))
                    }
                    CdpError::ChannelSendError(_) | CdpError::Ws(_) => {
                        BrowserError::Crashed(format!("lost the connection to the page during {what}"))
                    }
                    other => BrowserError::Cdp(format!("{what} failed: {other}")),
                })
            }
            Err(_) => Err(BrowserError::Timeout(format!("Chromium did not answer {what} within {}", crate::fetch::format_duration(timeout)))),
        }
    }
}

/// Creates a fresh browser context with one blank page, listening to its network events, with
/// `options` applied when given.
pub(crate) async fn prepare(
    browser: &Arc<PooledBrowser>,
    options: Option<&PageOptions>,
    timeout: Duration,
) -> Result<Prepared, BrowserError> {
    let life = &browser.launched.life;
    let cdp = &browser.launched.browser;
    let context_id = guarded(
        life,
        None,
        "Target.createBrowserContext",
        timeout,
        cdp.create_browser_context(CreateBrowserContextParams::default()),
    )
    .await?;
    let result = async {
        let params = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(context_id.clone())
            .build()
            .map_err(BrowserError::Cdp)?;
        let page = guarded(life, None, "Target.createTarget", timeout, cdp.new_page(params)).await?;
        let mut capture = guarded(life, None, "Network listeners", timeout, Capture::attach(&page)).await?;
        capture.set_extra_info(attach_extra_info(browser, &page, timeout).await);
        let tab = new_tab(page).await;
        let mut prepared = Prepared { context_id: context_id.clone(), tab, capture, applied: None };
        if let Some(options) = options {
            apply_options(browser, &mut prepared, options, timeout).await?;
        }
        Ok(prepared)
    }
    .await;
    if result.is_err() {
        dispose_in_background(browser, context_id);
    }
    result
}

/// The page's second DevTools connection, for the headers chromiumoxide drops; without it the
/// HAR still has the headers the page itself set.
async fn attach_extra_info(browser: &PooledBrowser, page: &Page, timeout: Duration) -> Option<ExtraInfo> {
    let attached = ExtraInfo::attach(&browser.launched.ws_url, page.target_id().inner(), timeout).await;
    attached.map_err(|e| tracing::warn!("the HAR will lack the headers Chromium adds: {e}")).ok()
}

/// The run's tab on `page`: its dialogs answered, its renderer watched.
async fn new_tab(page: Page) -> Tab {
    dismiss_dialogs(&page).await;
    Tab { life: watch_renderer(&page).await, page }
}

/// A `Life` that ends when the page's renderer process crashes.
async fn watch_renderer(page: &Page) -> Life {
    let life = Life::new();
    if let Ok(mut crashes) = page.event_listener::<EventTargetCrashed>().await {
        let life = life.clone();
        tokio::spawn(async move {
            // The stream ends when the target (or the browser) goes away.
            if crashes.next().await.is_some() {
                life.mark_gone("the page's renderer process crashed".to_string());
            }
        });
    }
    life
}

/// Sets viewport, user agent and extra headers (all three at once: CDP pipelines them).
pub(crate) async fn apply_options(
    browser: &PooledBrowser,
    prepared: &mut Prepared,
    options: &PageOptions,
    timeout: Duration,
) -> Result<(), BrowserError> {
    if prepared.applied.as_ref() == Some(options) {
        return Ok(());
    }
    let life = &browser.launched.life;
    let tab = &prepared.tab;
    let fresh = prepared.applied.is_none();
    let metrics = guarded(
        life,
        Some(&tab.life),
        "Emulation.setDeviceMetricsOverride",
        timeout,
        tab.page.execute(device_metrics(options.viewport)),
    );
    let suffix = options.user_agent_suffix.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let user_agent = async {
        if fresh && suffix.is_none() {
            return Ok(());
        }
        let ua = match suffix {
            Some(suffix) => format!("{} {suffix}", browser.launched.user_agent),
            None => browser.launched.user_agent.clone(),
        };
        guarded(
            life,
            Some(&tab.life),
            "Network.setUserAgentOverride",
            timeout,
            tab.page.execute(SetUserAgentOverrideParams::new(ua)),
        )
        .await
        .map(drop)
    };
    let headers = async {
        if fresh && options.extra_headers.is_empty() {
            return Ok(());
        }
        let map: serde_json::Map<String, serde_json::Value> = options
            .extra_headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        guarded(
            life,
            Some(&tab.life),
            "Network.setExtraHTTPHeaders",
            timeout,
            tab.page.execute(SetExtraHttpHeadersParams::new(Headers::new(serde_json::Value::Object(map)))),
        )
        .await
        .map(drop)
    };
    let (metrics, user_agent, headers) = tokio::join!(metrics, user_agent, headers);
    metrics?;
    user_agent?;
    headers?;
    prepared.applied = Some(options.clone());
    Ok(())
}

fn device_metrics((width, height): (u32, u32)) -> SetDeviceMetricsOverrideParams {
    SetDeviceMetricsOverrideParams::new(i64::from(width.max(1)), i64::from(height.max(1)), 1.0, false)
}

/// Disposes a context without waiting for it (used on error paths and on drop).
pub(crate) fn dispose_in_background(browser: &Arc<PooledBrowser>, context_id: BrowserContextId) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let browser = browser.clone();
    runtime.spawn(async move { dispose(&browser, context_id).await });
}

/// Disposes a context (closing its pages), waiting at most [`CLOSE_TIMEOUT`].
pub(crate) async fn dispose(browser: &PooledBrowser, context_id: BrowserContextId) {
    let _ = guarded(
        &browser.launched.life,
        None,
        "Target.disposeBrowserContext",
        CLOSE_TIMEOUT,
        browser.launched.browser.execute(DisposeBrowserContextParams::new(context_id)),
    )
    .await;
}

/// One run's page: a fresh, isolated browser context with one tab. Holds its concurrency slot
/// until [`BrowserPage::close`] (or drop, which disposes the context in the background).
pub struct BrowserPage {
    state: tokio::sync::Mutex<PageState>,
    browser: Arc<PooledBrowser>,
    shared: Arc<Shared>,
    context_id: BrowserContextId,
    options: PageOptions,
    command_timeout: Duration,
    permit: Option<OwnedSemaphorePermit>,
    released: bool,
    /// Modifier keys held down by the engine (Alt 1, Control 2, Meta 4, Shift 8).
    pub(super) modifiers: AtomicI64,
    /// A viewport the engine set (`setViewport`), kept over full-page screenshots.
    emulated: std::sync::Mutex<Option<EmulatedViewport>>,
}

struct PageState {
    tab: Tab,
    capture: Capture,
    /// A `goto` timed out: chromiumoxide keeps waiting for that navigation, so the next
    /// `goto` swaps in a new tab (same context: cookies stay).
    stuck: bool,
    /// The URL of the latest `goto`.
    last_url: Option<String>,
    /// Popups the engine stepped into, by target id.
    popups: Vec<Tab>,
}

impl std::fmt::Debug for BrowserPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserPage")
            .field("browser_pid", &self.browser.launched.pid)
            .field("context", &self.context_id.inner())
            .finish_non_exhaustive()
    }
}

impl BrowserPage {
    pub(crate) fn new(
        prepared: Prepared,
        browser: Arc<PooledBrowser>,
        shared: Arc<Shared>,
        options: PageOptions,
        permit: OwnedSemaphorePermit,
    ) -> BrowserPage {
        let command_timeout = shared.config.command_timeout;
        BrowserPage {
            state: tokio::sync::Mutex::new(PageState {
                tab: prepared.tab,
                capture: prepared.capture,
                stuck: false,
                last_url: None,
                popups: Vec::new(),
            }),
            browser,
            shared,
            context_id: prepared.context_id,
            options,
            command_timeout,
            permit: Some(permit),
            released: false,
            modifiers: AtomicI64::new(0),
            emulated: std::sync::Mutex::new(None),
        }
    }

    /// Process id of the Chromium that serves this page.
    pub fn browser_pid(&self) -> u32 {
        self.browser.launched.pid
    }

    fn life(&self) -> &Life {
        &self.browser.launched.life
    }

    pub(super) async fn tab(&self) -> Tab {
        self.state.lock().await.tab.clone()
    }

    /// The main world of the tab's top frame, where the engine's objects live (so that nodes of
    /// same-origin frames found through CDP can be handed to its page script).
    pub(super) async fn main_world(&self, tab: &Tab) -> Option<ExecutionContextId> {
        let context = tab.page.execution_context();
        guarded(self.life(), Some(&tab.life), "execution context", self.command_timeout, context)
            .await
            .ok()
            .flatten()
    }

    /// A page of this run's context, other than its own, at `url` (a popup it opened).
    pub(super) async fn popup(&self, url: &str) -> Result<Option<Tab>, BrowserError> {
        let cdp = &self.browser.launched.browser;
        let own = self.tab().await.page.target_id().clone();
        let targets = guarded(
            self.life(),
            None,
            "Target.getTargets",
            self.command_timeout,
            cdp.execute(GetTargetsParams::default()),
        )
        .await?
        .result
        .target_infos;
        let Some(target) = targets.into_iter().find(|t| {
            t.r#type == "page"
                && t.url == url
                && t.target_id != own
                && t.browser_context_id.as_ref() == Some(&self.context_id)
        }) else {
            return Ok(None);
        };
        let mut state = self.state.lock().await;
        if let Some(tab) =
            state.popups.iter().find(|t| *t.page.target_id() == target.target_id && !t.is_gone())
        {
            return Ok(Some(tab.clone()));
        }
        let page = guarded(
            self.life(),
            None,
            "Target.attachToTarget",
            self.command_timeout,
            cdp.get_page(target.target_id),
        )
        .await?;
        let tab = new_tab(page).await;
        state.popups.push(tab.clone());
        Ok(Some(tab))
    }

    /// Closes a popup the engine stepped into.
    pub(super) async fn close_popup(&self, tab: &Tab) -> Result<(), BrowserError> {
        let cdp = &self.browser.launched.browser;
        let id = tab.page.target_id().clone();
        self.state.lock().await.popups.retain(|t| *t.page.target_id() != id);
        guarded(
            self.life(),
            None,
            "Target.closeTarget",
            CLOSE_TIMEOUT,
            cdp.execute(CloseTargetParams::new(id)),
        )
        .await
        .map(drop)
    }

    /// Remembers a viewport the engine set, for screenshots to restore.
    pub(super) fn set_emulated_viewport(&self, viewport: EmulatedViewport) {
        if let Ok(mut emulated) = self.emulated.lock() {
            *emulated = Some(viewport);
        }
    }

    fn current_metrics(&self) -> SetDeviceMetricsOverrideParams {
        match self.emulated.lock().ok().and_then(|e| *e) {
            Some(v) => SetDeviceMetricsOverrideParams::new(
                i64::from(v.width.max(1)),
                i64::from(v.height.max(1)),
                v.device_scale_factor,
                v.is_mobile,
            ),
            None => device_metrics(self.options.viewport),
        }
    }

    /// Loads `url` and waits for its `load` event, all within `timeout`.
    pub async fn goto(&self, url: &str, timeout: Duration) -> Result<Navigation, BrowserError> {
        let deadline = Instant::now() + timeout;
        let started = chrono::Utc::now();
        let (tab, page_number) = {
            let mut state = self.state.lock().await;
            if state.stuck {
                self.replace_tab(&mut state).await?;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            self.fetch_bodies(&mut state, left / 4).await;
            state.last_url = Some(url.to_string());
            let number = state.capture.begin_page(url, started);
            (state.tab.clone(), number)
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let navigate = guarded(
            self.life(),
            Some(&tab.life),
            "Page.navigate",
            remaining,
            tab.page.execute(NavigateParams::new(url)),
        )
        .await;
        let navigated = match navigate {
            Ok(response) => Some(response.result),
            // chromiumoxide gives up on a navigation after 30 s: wait out the rest ourselves.
            Err(BrowserError::Timeout(_)) if deadline > Instant::now() + Duration::from_millis(100) => {
                if !self.wait_for_load(&tab, started, deadline).await? {
                    self.state.lock().await.stuck = true;
                    return Err(BrowserError::Timeout(format!(
                        "{url} did not finish loading within {}",
                        crate::fetch::format_duration(timeout)
                    )));
                }
                None
            }
            Err(BrowserError::Timeout(_)) => {
                self.state.lock().await.stuck = true;
                return Err(BrowserError::Timeout(format!(
                    "{url} did not finish loading within {}",
                    crate::fetch::format_duration(timeout)
                )));
            }
            Err(BrowserError::Cdp(message)) => {
                return Err(BrowserError::Navigation(format!("{message} loading {url}")));
            }
            Err(e) => return Err(e),
        };
        if let Some(error) = navigated.as_ref().and_then(|n| n.error_text.as_ref()).filter(|e| !e.is_empty())
        {
            return Err(BrowserError::Navigation(format!("{error} loading {url}")));
        }

        let info = self.evaluate_on(&tab, NAVIGATION_INFO).await?;
        let number = |key: &str| info.get(key).and_then(serde_json::Value::as_f64).filter(|v| *v > 0.0);
        let dom_content_loaded_ms = number("dcl").map(round_ms);
        let load_ms = number("load").map(round_ms);
        let document = {
            let mut state = self.state.lock().await;
            state.capture.set_page_timings(page_number, dom_content_loaded_ms, load_ms);
            let loader = navigated.as_ref().and_then(|n| n.loader_id.as_ref());
            loader.and_then(|id| state.capture.document_response(id.inner()))
        };
        let (status, status_text) = match document {
            Some(doc) => (Some(doc.status).filter(|s| *s > 0), doc.status_text),
            None => (
                info.get("status").and_then(serde_json::Value::as_u64).and_then(|s| u16::try_from(s).ok()),
                String::new(),
            ),
        };
        let final_url = info.get("url").and_then(serde_json::Value::as_str).unwrap_or(url).to_string();
        Ok(Navigation { status, status_text, url: final_url, dom_content_loaded_ms, load_ms })
    }

    /// Polls until a document that started after `started` has loaded; false at `deadline`.
    async fn wait_for_load(
        &self,
        tab: &Tab,
        started: chrono::DateTime<chrono::Utc>,
        deadline: Instant,
    ) -> Result<bool, BrowserError> {
        let since = started.timestamp_millis() as f64 - 5.0;
        while Instant::now() < deadline {
            let probe = self.evaluate_on(tab, "[document.readyState, performance.timeOrigin]").await;
            if let Ok(serde_json::Value::Array(values)) = probe {
                let complete = values.first().and_then(serde_json::Value::as_str) == Some("complete");
                let origin = values.get(1).and_then(serde_json::Value::as_f64).unwrap_or_default();
                if complete && origin >= since {
                    return Ok(true);
                }
            } else if let Err(e @ BrowserError::Crashed(_)) = probe {
                return Err(e);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
        Ok(false)
    }

    /// After a timed-out navigation: a new tab in the same context, options and capture kept.
    async fn replace_tab(&self, state: &mut PageState) -> Result<(), BrowserError> {
        let life = self.life();
        let cdp = &self.browser.launched.browser;
        let params = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(self.context_id.clone())
            .build()
            .map_err(BrowserError::Cdp)?;
        let page =
            guarded(life, None, "Target.createTarget", self.command_timeout, cdp.new_page(params)).await?;
        let mut capture =
            guarded(life, None, "Network listeners", self.command_timeout, Capture::attach(&page)).await?;
        capture.set_extra_info(attach_extra_info(&self.browser, &page, self.command_timeout).await);
        let tab = new_tab(page).await;
        let mut prepared =
            Prepared { context_id: self.context_id.clone(), tab: tab.clone(), capture, applied: None };
        apply_options(&self.browser, &mut prepared, &self.options, self.command_timeout).await?;
        let old = std::mem::replace(&mut state.tab, tab);
        state.capture.adopt(prepared.capture);
        state.stuck = false;
        let _ = guarded(
            life,
            None,
            "Target.closeTarget",
            CLOSE_TIMEOUT,
            cdp.execute(CloseTargetParams::new(old.page.target_id().clone())),
        )
        .await;
        Ok(())
    }

    /// A PNG of the viewport, or of the whole page when `full_page`.
    pub async fn screenshot(&self, full_page: bool) -> Result<Vec<u8>, BrowserError> {
        self.screenshot_bounded(full_page, None).await
    }

    /// [`Self::screenshot`], a whole page cut at `max_height` pixels when given.
    pub async fn screenshot_bounded(
        &self,
        full_page: bool,
        max_height: Option<u32>,
    ) -> Result<Vec<u8>, BrowserError> {
        let tab = self.tab().await;
        let mut params = CaptureScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .optimize_for_speed(true)
            .build();
        if full_page {
            let metrics = self.call(&tab, "Page.getLayoutMetrics", GetLayoutMetricsParams::default()).await?;
            let content = metrics.css_content_size;
            let viewport_width =
                self.emulated.lock().ok().and_then(|e| *e).map_or(self.options.viewport.0, |v| v.width);
            let width = content.width.ceil().max(f64::from(viewport_width));
            let height = content.height.ceil().max(1.0).min(f64::from(max_height.unwrap_or(u32::MAX)));
            params.clip = Some(Viewport { x: 0.0, y: 0.0, width, height, scale: 1.0 });
            params.capture_beyond_viewport = Some(true);
        }
        let shot = self.call(&tab, "Page.captureScreenshot", params).await;
        if full_page {
            // Capturing beyond the viewport resets the device metrics override.
            self.call(&tab, "Emulation.setDeviceMetricsOverride", self.current_metrics()).await?;
        }
        let shot = shot?;
        let data: &str = shot.data.as_ref();
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Cdp(format!("Page.captureScreenshot returned invalid base64: {e}")))
    }

    /// The rendered text of the page (`document.body.innerText`).
    pub async fn visible_text(&self) -> Result<String, BrowserError> {
        let value = self.evaluate("document.body ? document.body.innerText : ''").await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// Whether the rendered text contains `needle`, decided in the page (a page of many megabytes
    /// of text is not sent over the DevTools connection).
    pub async fn text_contains(&self, needle: &str) -> Result<bool, BrowserError> {
        let needle = serde_json::to_string(needle).unwrap_or_else(|_| "\"\"".to_string());
        let js = format!("!!document.body && document.body.innerText.includes({needle})");
        Ok(self.evaluate(&js).await?.as_bool().unwrap_or(false))
    }

    /// The page's current URL.
    pub async fn current_url(&self) -> Result<String, BrowserError> {
        let value = self.evaluate("location.href").await?;
        let href = value.as_str().unwrap_or_default().to_string();
        if href.starts_with("chrome-error:") {
            // Chromium's error page stands in for the URL that failed to load.
            if let Some(url) = self.state.lock().await.last_url.clone() {
                return Ok(url);
            }
        }
        Ok(href)
    }

    /// Starts collecting what the page reports as errors (exceptions, `console.error`, the
    /// browser's error log: CSP violations, failed loads) from now on.
    pub async fn watch_console(&self) -> Result<super::ConsoleWatch, BrowserError> {
        let tab = self.tab().await;
        let attach = super::ConsoleWatch::attach(&tab.page);
        guarded(self.life(), Some(&tab.life), "watch the console", self.command_timeout, attach).await
    }

    /// Evaluates `js` in the page (promises are awaited) and returns its JSON value
    /// (`null` for `undefined` and values that do not serialize).
    pub async fn evaluate(&self, js: &str) -> Result<serde_json::Value, BrowserError> {
        let tab = self.tab().await;
        self.evaluate_on(&tab, js).await
    }

    async fn evaluate_on(&self, tab: &Tab, js: &str) -> Result<serde_json::Value, BrowserError> {
        let params = EvaluateParams::builder()
            .expression(js)
            .return_by_value(true)
            .await_promise(true)
            .build()
            .map_err(BrowserError::Cdp)?;
        let result = self.call(tab, "Runtime.evaluate", params).await?;
        if let Some(exception) = result.exception_details {
            let detail =
                exception.exception.as_ref().and_then(|e| e.description.clone()).unwrap_or(exception.text);
            let first_line = detail.lines().next().unwrap_or_default().to_string();
            return Err(BrowserError::Cdp(format!("JavaScript error: {first_line}")));
        }
        Ok(result.result.value.unwrap_or(serde_json::Value::Null))
    }

    /// What the page is still waiting for: whether its latest document's `load` event fired, and
    /// the network requests still open. `None` before the page requested its first document.
    pub async fn pending(&self) -> Option<Pending> {
        self.state.lock().await.capture.pending()
    }

    /// The run's deadline passed: returns [`BrowserPage::pending`], and the HAR entries still open
    /// will say `not finished when the run timed out`.
    pub async fn timed_out(&self) -> Option<Pending> {
        let mut state = self.state.lock().await;
        state.capture.timed_out();
        state.capture.pending()
    }

    /// Everything the page's network log holds so far (requests still in flight included, as far
    /// as they got); the log starts empty again.
    pub async fn take_har(&self) -> (Vec<har::Page>, Vec<har::Entry>) {
        let mut state = self.state.lock().await;
        self.fetch_bodies(&mut state, BODIES_TIMEOUT).await;
        state.capture.take()
    }

    /// Keeps the bodies of finished responses (when asked to), before Chromium forgets them:
    /// it drops a document's resources when the next document loads.
    async fn fetch_bodies(&self, state: &mut PageState, budget: Duration) {
        if !self.options.capture_response_bodies || self.life().is_gone() {
            return;
        }
        let tab = state.tab.clone();
        let ids = state.capture.body_candidates();
        if ids.is_empty() {
            return;
        }
        let fetches = ids.into_iter().map(|id| {
            let tab = tab.clone();
            async move {
                let body =
                    self.call(&tab, "Network.getResponseBody", GetResponseBodyParams::new(id.clone())).await;
                (id, body)
            }
        });
        let budget = budget.min(self.command_timeout);
        if let Ok(bodies) = tokio::time::timeout(budget, futures::future::join_all(fetches)).await {
            for (id, body) in bodies {
                match body {
                    Ok(body) => state.capture.set_body(&id, body.body, body.base64_encoded),
                    Err(_) => state.capture.body_unavailable(&id),
                }
            }
        }
    }

    /// Frees the slot and disposes the browser context (in the background, bounded time).
    pub async fn close(mut self) {
        self.release();
    }

    fn release(&mut self) {
        if !self.released {
            self.released = true;
            self.shared.page_closed(self.browser.clone(), self.context_id.clone());
            drop(self.permit.take());
        }
    }

    /// One CDP command on the page, bounded by the command timeout and the browser's life.
    pub(super) async fn call<C: chromiumoxide::types::Command>(
        &self,
        tab: &Tab,
        what: &str,
        command: C,
    ) -> Result<C::Response, BrowserError> {
        guarded(self.life(), Some(&tab.life), what, self.command_timeout, tab.page.execute(command))
            .await
            .map(|response| response.result)
    }
}

impl Drop for BrowserPage {
    fn drop(&mut self) {
        self.release();
    }
}

/// Final URL, status and navigation timing of the current document, in one round trip.
const NAVIGATION_INFO: &str = "(() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {
    url: location.href,
    status: n && n.responseStatus ? n.responseStatus : null,
    dcl: n ? (n.domContentLoadedEventEnd || n.domContentLoadedEventStart) : null,
    load: n ? (n.loadEventEnd || n.loadEventStart) : null,
  };
})()";

fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
