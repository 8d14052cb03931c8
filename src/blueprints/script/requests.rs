//! Each request of a script, done in the run: page actions through the page-action engine
//! (`page_steps::run_step`), HTTP through [`crate::fetch`] (HAR entries with timing phases),
//! steps through the [`RunContext`] step API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{Map, Value, json};

use super::protocol::{Reply, Request};
use crate::blueprints::page_steps::{PageAction, PageStep, action_error, run_step};
use crate::browser::engine::{Click, ElementCondition, NavigationMark, Scope, Selectors};
use crate::fetch::{self, Client, Options};
use crate::step::{RunContext, StepError, StepOutcome};

/// A page action's deadline when the script gives no `timeout=`.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP request's deadline when the script gives no `timeout=`.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A script's `timeout=` (seconds), or the default when it gives none (or nonsense).
fn seconds(timeout: Option<f64>, default: Duration) -> Duration {
    timeout.filter(|t| t.is_finite() && *t > 0.0 && *t < 1e9).map_or(default, Duration::from_secs_f64)
}

/// What the run remembers between a script's requests.
pub struct Session {
    /// Where the page stood before the last click or key press (for `wait_for_navigation`).
    mark: Option<NavigationMark>,
    /// `add_execution_error` messages.
    execution_errors: Vec<String>,
    run_timeout: Duration,
}

impl Session {
    /// A session for a run with this timeout.
    pub fn new(run_timeout: Duration) -> Self {
        Self { mark: None, execution_errors: Vec::new(), run_timeout }
    }

    /// The run's result once the script ended: its own, then any execution errors.
    pub fn finish(self, result: Result<(), StepError>) -> Result<(), StepError> {
        result?;
        if self.execution_errors.is_empty() {
            return Ok(());
        }
        Err(StepError::Failed(format!("execution errors: {}", self.execution_errors.join("; "))))
    }

    /// Does one request; the reply goes back to the script.
    pub async fn handle(&mut self, ctx: &mut RunContext, request: Request) -> Reply {
        let run_timeout = self.run_timeout;
        let limit = |t: Option<f64>, ctx: &RunContext| {
            seconds(t, DEFAULT_ACTION_TIMEOUT).min(ctx.remaining()).min(run_timeout)
        };
        match request {
            Request::StepBegin { name } => {
                ctx.begin_step(&name).await;
                Reply::value(Value::Null)
            }
            Request::StepEnd { error } => {
                let result = match error {
                    None => Ok(StepOutcome::default()),
                    Some(e) => Err(e.into()),
                };
                Reply::value(ctx.end_step(result).await)
            }
            Request::Goto { url, timeout } => {
                let t = limit(timeout, ctx);
                self.action(ctx, PageAction::Navigate(url), t).await
            }
            Request::Click { selector, timeout } => {
                let t = limit(timeout, ctx);
                match selectors(&selector) {
                    Ok(s) => self.action(ctx, PageAction::Click(s, Click::default()), t).await,
                    Err(e) => e,
                }
            }
            Request::Type { selector, text, timeout }
            | Request::Select { selector, value: text, timeout } => {
                let t = limit(timeout, ctx);
                match selectors(&selector) {
                    Ok(s) => self.action(ctx, PageAction::Fill(s, text), t).await,
                    Err(e) => e,
                }
            }
            Request::Hover { selector, timeout } => {
                let t = limit(timeout, ctx);
                match selectors(&selector) {
                    Ok(s) => self.action(ctx, PageAction::Hover(s), t).await,
                    Err(e) => e,
                }
            }
            Request::Press { key, selector, timeout } => {
                let t = limit(timeout, ctx);
                match selector.as_deref().map(selectors).transpose() {
                    Ok(s) => self.action(ctx, PageAction::Press(s, key), t).await,
                    Err(e) => e,
                }
            }
            Request::WaitForSelector { selector, timeout } => {
                let t = limit(timeout, ctx);
                match selectors(&selector) {
                    Ok(s) => {
                        self.action(ctx, PageAction::WaitForElement(s, ElementCondition::default()), t).await
                    }
                    Err(e) => e,
                }
            }
            Request::WaitForNavigation { timeout } => {
                let t = limit(timeout, ctx);
                self.action(ctx, PageAction::WaitForNavigation, t).await
            }
            Request::Text { selector, timeout } => {
                let t = limit(timeout, ctx);
                match selectors(&selector) {
                    Ok(s) => text(ctx, &s, t).await.into(),
                    Err(e) => e,
                }
            }
            Request::Evaluate { js } => evaluate(ctx, &js).await.into(),
            Request::Url => match ctx.page().await {
                Ok(page) => page.current_url().await.map(Value::String).map_err(StepError::from).into(),
                Err(e) => Reply::Err(e.into()),
            },
            Request::Title => evaluate(ctx, "document.title").await.into(),
            Request::Screenshot { name } => match ctx.page().await.map(|_| ()) {
                Ok(()) => ctx.named_screenshot(&name).await.map(Value::String).into(),
                Err(e) => Reply::Err(e.into()),
            },
            Request::Http { method, url, headers, body, timeout } => {
                let t = seconds(timeout, DEFAULT_HTTP_TIMEOUT).min(ctx.remaining());
                http(ctx, &method, &url, headers, body, t).await.into()
            }
            Request::Log { level, message } => {
                ctx.log(format!("script {level}: {message}"));
                Reply::value(Value::Null)
            }
            Request::AddExecutionError { message } => {
                ctx.log(format!("script execution error: {message}"));
                self.execution_errors.push(message);
                Reply::value(Value::Null)
            }
            Request::SetConfig {
                screenshot_on_step_start,
                screenshot_on_step_success,
                screenshot_on_step_failure,
                continue_on_step_failure,
            } => {
                let mut canary = (*ctx.canary).clone();
                let shots = &mut canary.spec.screenshots;
                shots.on_step_start = screenshot_on_step_start.unwrap_or(shots.on_step_start);
                shots.on_step_success = screenshot_on_step_success.unwrap_or(shots.on_step_success);
                shots.on_step_failure = screenshot_on_step_failure.unwrap_or(shots.on_step_failure);
                canary.spec.continue_on_step_failure =
                    continue_on_step_failure.unwrap_or(canary.spec.continue_on_step_failure);
                ctx.canary = Arc::new(canary);
                Reply::value(Value::Null)
            }
            Request::Done { .. } => Reply::value(Value::Null),
        }
    }

    /// One engine action; a click or key press first marks the page so that a following
    /// `wait_for_navigation` sees the navigation it starts.
    async fn action(&mut self, ctx: &mut RunContext, action: PageAction, timeout: Duration) -> Reply {
        let navigates = matches!(action, PageAction::Click(..) | PageAction::Press(..));
        let carried = if matches!(action, PageAction::WaitForNavigation) { self.mark.take() } else { None };
        let step = PageStep {
            name: String::new(),
            scope: Scope::default(),
            action,
            timeout: Some(timeout),
            navigation: None,
        };
        if navigates {
            let page = match ctx.page().await {
                Ok(page) => page,
                Err(e) => return Reply::Err(e.into()),
            };
            self.mark = page.navigation_mark(&Scope::default(), Instant::now() + timeout).await.ok();
        }
        match run_step(ctx, &step, timeout, carried).await {
            Ok((outcome, _)) => Reply::value(outcome.url.map_or(Value::Null, Value::String)),
            Err(e) => Reply::Err(e.into()),
        }
    }
}

fn selectors(text: &str) -> Result<Selectors, Reply> {
    Selectors::single(text)
        .map_err(|e| Reply::Err(StepError::Error(format!("selector `{text}`: {e}")).into()))
}

async fn evaluate(ctx: &mut RunContext, js: &str) -> Result<Value, StepError> {
    let page = ctx.page().await?;
    Ok(page.evaluate(js).await?)
}

async fn text(ctx: &mut RunContext, selectors: &Selectors, timeout: Duration) -> Result<Value, StepError> {
    let page = ctx.page().await?;
    let deadline = Instant::now() + timeout;
    let (_, found) = page
        .wait_for_text(&Scope::default(), selectors, "", deadline)
        .await
        .map_err(|e| action_error(e, timeout))?;
    Ok(Value::String(found))
}

async fn http(
    ctx: &mut RunContext,
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Option<String>,
    timeout: Duration,
) -> Result<Value, StepError> {
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| StepError::Error(format!("`{url}` is not an absolute http(s) URL")))?;
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| StepError::Error(format!("`{method}` is not an HTTP method")))?;
    let request =
        fetch::Request { method: method.clone(), url: parsed, headers, body: body.map(Bytes::from) };
    let report = &ctx.canary.spec.report;
    let options = Options {
        timeout,
        capture_request_body: report.include_request_body,
        capture_response_body: report.include_response_body,
        ..Options::default()
    };
    let exchange = Client::shared().fetch(request, &options).await;
    let fetch::Exchange { hops, outcome, .. } = exchange;
    let timings = hops.last().map(|h| h.phases.to_json());
    ctx.add_har_entries(hops.into_iter().map(|h| h.entry));
    let named = format!("{method} {}", ctx.redactor.redact_url(url));
    match outcome {
        Ok(response) => {
            let mut names = Map::new();
            for name in response.headers.keys() {
                if let Some(value) = response.header(name.as_str()) {
                    names.insert(name.as_str().to_string(), json!(value));
                }
            }
            Ok(json!({
                "status": response.status.as_u16(),
                "headers": names,
                "text": String::from_utf8_lossy(&response.body),
                "url": response.url.as_str(),
                "timings": timings,
            }))
        }
        Err(e) if e.is_timeout() => Err(StepError::Timeout(format!("{named}: {e}"))),
        Err(e) => Err(StepError::Failed(format!("{named}: {e}"))),
    }
}
