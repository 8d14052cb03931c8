//! [`RunContext`]: what a blueprint sees while it runs — steps, timing, screenshots, the log, the
//! HAR sink and the browser page. Every blueprint goes through the same step API, so statuses,
//! screenshots and reasons are alike for all of them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::redact::Redactor;
use super::services::{ProgressEvent, Services};
use crate::browser::{BrowserError, BrowserPage, PageOptions};
use crate::har;
use crate::report::{StepReport, StepStatus};
use crate::spec::Canary;
use crate::store::layout::{ArtifactError, write_file};

/// How far past the run's deadline a wait bounded only by the run may go: the run's timeout ends
/// it first (see [`RunContext::step_time_left`]).
const RUN_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Why a step did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// A check failed (status, assertion, missing text, unreachable site): the run is FAILED.
    Failed(String),
    /// The canary could not do its work (browser crash, bad script): the run is ERROR.
    Error(String),
    /// The step ran out of time: the run is TIMEOUT.
    Timeout(String),
    /// The step was not run, with the reason.
    Skipped(String),
}

impl StepError {
    /// The reason, whatever the kind.
    pub fn reason(&self) -> &str {
        match self {
            Self::Failed(r) | Self::Error(r) | Self::Timeout(r) | Self::Skipped(r) => r,
        }
    }

    fn status(&self) -> StepStatus {
        match self {
            Self::Failed(_) => StepStatus::Failed,
            Self::Error(_) => StepStatus::Error,
            Self::Timeout(_) => StepStatus::Timeout,
            Self::Skipped(_) => StepStatus::Skipped,
        }
    }
}

impl From<BrowserError> for StepError {
    fn from(e: BrowserError) -> Self {
        match e {
            BrowserError::Navigation(_) => Self::Failed(e.to_string()),
            BrowserError::Timeout(_) => Self::Timeout(e.to_string()),
            _ => Self::Error(e.to_string()),
        }
    }
}

/// What a passing step reports besides its status.
#[derive(Debug, Clone, Default)]
pub struct StepOutcome {
    /// The page's URL after the step, or the request URL.
    pub url: Option<String>,
    /// Figures for the step's `details` in `report.json`, added to those recorded while it ran.
    pub details: Map<String, Value>,
}

struct OpenStep {
    index: u32,
    name: String,
    start: DateTime<Utc>,
    started: Instant,
    screenshots: Vec<String>,
    /// Figures recorded while the step ran; kept whether or not it passes.
    details: Map<String, Value>,
}

/// One run of one canary, handed to the blueprint.
pub struct RunContext {
    /// The canary being run.
    pub canary: Arc<Canary>,
    /// The run's id.
    pub run_id: String,
    /// The attempt, from 1 (retries count up).
    pub attempt: u32,
    /// When the run started.
    pub start: DateTime<Utc>,
    started: Instant,
    deadline: Instant,
    /// The run's artifact folder (created before the blueprint starts).
    pub dir: PathBuf,
    /// The shared services: store, browser pool, progress events.
    pub services: Arc<Services>,
    /// The canary's redaction rules: step names and reasons pass through it.
    pub redactor: Arc<Redactor>,
    /// Take full-page step screenshots instead of the viewport.
    pub full_page_screenshots: bool,
    /// Take the step screenshots the canary's `screenshots:` asks for; a blueprint whose steps
    /// do not show a page of their own (one step per page checked for links) turns this off.
    pub step_screenshots: bool,
    /// Blueprint-level figures for `report.json` (`details`).
    pub details: Map<String, Value>,
    page: Option<BrowserPage>,
    steps: Vec<StepReport>,
    current: Option<OpenStep>,
    log: Vec<String>,
    har_pages: Vec<har::Page>,
    har_entries: Vec<har::Entry>,
    /// A step did not pass and `continue_on_step_failure` is off: the blueprint should stop.
    stopped: bool,
}

/// Which run a context is for: its id, attempt number, start time and folder.
pub(crate) struct RunIdentity {
    pub run_id: String,
    pub attempt: u32,
    pub start: DateTime<Utc>,
    pub dir: PathBuf,
}

impl RunContext {
    pub(crate) fn new(
        canary: Arc<Canary>,
        services: Arc<Services>,
        redactor: Arc<Redactor>,
        run: RunIdentity,
        page: Option<BrowserPage>,
    ) -> Self {
        let RunIdentity { run_id, attempt, start, dir } = run;
        let started = Instant::now();
        let deadline = started + canary.timeout;
        Self {
            canary,
            run_id,
            attempt,
            start,
            started,
            deadline,
            dir,
            services,
            redactor,
            full_page_screenshots: false,
            step_screenshots: true,
            details: Map::new(),
            page,
            steps: Vec::new(),
            current: None,
            log: Vec::new(),
            har_pages: Vec::new(),
            har_entries: Vec::new(),
            stopped: false,
        }
    }

    /// Time left before the run's timeout.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// How long a wait bounded only by the run may last: the time left and a margin past it, so
    /// that when the run's time runs out the run's own timeout ends the step and says so (`run
    /// timed out after 8s`, with what the page still waited for), never a wait that happened to
    /// fire a moment earlier.
    pub fn step_time_left(&self) -> Duration {
        self.remaining() + RUN_DEADLINE_MARGIN
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Appends a line to the run's `log.txt`.
    pub fn log(&mut self, message: impl AsRef<str>) {
        let line = format!("{} {}", Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"), message.as_ref());
        tracing::debug!(canary = %self.canary.name, run = %self.run_id, "{}", message.as_ref());
        self.log.push(line);
    }

    /// The run's browser page: a fresh isolated context, acquired on first use.
    pub async fn page(&mut self) -> Result<&BrowserPage, StepError> {
        if self.page.is_none() {
            let options = page_options(&self.canary);
            let acquire = self.services.browser.acquire(&options);
            let page = match tokio::time::timeout(self.remaining(), acquire).await {
                Ok(page) => page?,
                Err(_) => return Err(StepError::Timeout("timed out waiting for a browser".into())),
            };
            self.page = Some(page);
        }
        Ok(self.page.as_ref().expect("page set above"))
    }

    /// Records HTTP exchanges made outside the browser (API steps, link checks).
    pub fn add_har_entries(&mut self, entries: impl IntoIterator<Item = har::Entry>) {
        self.har_entries.extend(entries);
    }

    /// Starts a step: its clock runs until [`Self::end_step`].
    pub async fn begin_step(&mut self, name: &str) {
        if let Some(open) = self.current.take() {
            // A blueprint that forgot to end a step: close it as an error rather than lose it.
            self.close_step(open, Err(StepError::Error("step was not ended".into())));
        }
        let index = self.steps.len() as u32 + 1;
        let name = self.redactor.redact_message(name).into_owned();
        self.log(format!("step {index} `{name}` starting"));
        self.current = Some(OpenStep {
            index,
            name,
            start: Utc::now(),
            started: Instant::now(),
            screenshots: vec![],
            details: Map::new(),
        });
        if self.step_screenshots && self.canary.spec.screenshots.on_step_start {
            self.step_screenshot("starting").await;
        }
    }

    /// Ends the current step; returns whether the blueprint should go on with the next one.
    pub async fn end_step(&mut self, result: Result<StepOutcome, StepError>) -> bool {
        if self.current.is_none() {
            return !self.stopped;
        }
        // The step stays open until it is recorded, so a run timeout during its screenshot
        // still reports it.
        let settings = self.canary.spec.screenshots;
        let state = match &result {
            _ if !self.step_screenshots => None,
            Ok(_) if settings.on_step_success => Some("succeeded"),
            Err(StepError::Skipped(_)) | Ok(_) => None,
            Err(_) if settings.on_step_failure => Some("failed"),
            Err(_) => None,
        };
        if let Some(state) = state {
            self.step_screenshot(state).await;
        }
        let result = match result {
            Ok(mut outcome) if outcome.url.is_none() => {
                outcome.url = self.current_page_url().await;
                Ok(outcome)
            }
            other => other,
        };
        if let Some(open) = self.current.take() {
            self.close_step(open, result);
        }
        !self.stopped
    }

    /// Adds figures (timings, assertion results) to the open step's `details`; they are kept
    /// whether the step passes or not.
    pub fn add_step_details(&mut self, details: Map<String, Value>) {
        if let Some(open) = self.current.as_mut() {
            open.details.extend(details);
        }
    }

    /// Records a step that was never started (e.g. skipped because its inputs are missing).
    pub fn skip_step(&mut self, name: &str, reason: impl Into<String>) {
        let open = OpenStep {
            index: self.steps.len() as u32 + 1,
            name: self.redactor.redact_message(name).into_owned(),
            start: Utc::now(),
            started: Instant::now(),
            screenshots: vec![],
            details: Map::new(),
        };
        self.close_step(open, Err(StepError::Skipped(reason.into())));
    }

    fn close_step(&mut self, open: OpenStep, result: Result<StepOutcome, StepError>) {
        let duration_ms = open.started.elapsed().as_secs_f64() * 1000.0;
        let (status, reason, outcome) = match result {
            Ok(outcome) => (StepStatus::Passed, None, outcome),
            Err(e) => (
                e.status(),
                Some(self.redactor.redact_message(e.reason()).into_owned()),
                StepOutcome::default(),
            ),
        };
        if matches!(status, StepStatus::Failed | StepStatus::Error | StepStatus::Timeout)
            && !self.canary.spec.continue_on_step_failure
        {
            self.stopped = true;
        }
        match &reason {
            Some(r) => self.log(format!("step {} `{}` {status}: {r}", open.index, open.name)),
            None => self.log(format!("step {} `{}` {status} in {duration_ms:.0} ms", open.index, open.name)),
        }
        let mut details = open.details;
        details.extend(outcome.details);
        let step = StepReport {
            index: open.index,
            name: open.name,
            status,
            reason,
            start: open.start,
            duration_ms,
            screenshots: open.screenshots,
            url: outcome.url,
            details,
        };
        self.services.progress(ProgressEvent::Step {
            canary: &self.canary.name,
            attempt: self.attempt,
            step: &step,
        });
        self.steps.push(step);
    }

    /// Takes a named screenshot now (e.g. a workflow's `screenshot:` step) into the run folder.
    pub async fn named_screenshot(&mut self, label: &str) -> Result<String, StepError> {
        let index = self.current.as_ref().map_or(self.steps.len() as u32 + 1, |s| s.index);
        let bytes = self.capture().await?;
        let label = self.redactor.redact_message(label).into_owned();
        let file = screenshot_file_name(index, &label, None);
        self.write_artifact(&file, &bytes).map_err(|e| StepError::Error(e.to_string()))?;
        if let Some(open) = self.current.as_mut() {
            open.screenshots.push(file.clone());
        }
        Ok(file)
    }

    async fn capture(&mut self) -> Result<Vec<u8>, StepError> {
        let full_page = self.full_page_screenshots;
        let page = self.page.as_ref().ok_or_else(|| StepError::Error("no page to screenshot".into()))?;
        let bytes = page.screenshot(full_page).await?;
        Ok(bytes)
    }

    /// Screenshots the page into the open step's `NN-<step>-<state>.png`.
    async fn step_screenshot(&mut self, state: &str) {
        let Some((index, file)) = self
            .current
            .as_ref()
            .map(|open| (open.index, screenshot_file_name(open.index, &open.name, Some(state))))
        else {
            return;
        };
        if self.page.is_none() {
            return;
        }
        let written = match self.capture().await {
            Ok(bytes) => self.write_artifact(&file, &bytes).map_err(|e| e.to_string()),
            Err(e) => Err(format!("screenshot of step {index} failed: {}", e.reason())),
        };
        match (written, self.current.as_mut()) {
            (Ok(()), Some(open)) => open.screenshots.push(file),
            (Ok(()), None) => {}
            (Err(e), _) => self.log(e),
        }
    }

    /// Writes a file into the run folder (a blueprint's report, such as `links.json`).
    pub fn write_artifact(&self, file: &str, bytes: &[u8]) -> Result<(), ArtifactError> {
        write_file(&self.dir.join(file), bytes)
    }

    async fn current_page_url(&self) -> Option<String> {
        let page = self.page.as_ref()?;
        page.current_url().await.ok()
    }

    /// Ends the run's open step as timed out (the run's timeout fired inside it).
    /// Takes the failure screenshot (bounded: the run is already over time) so the report
    /// shows what the page looked like when time ran out.
    /// Returns the run's reason: the step, and what the page was still waiting for.
    pub(crate) async fn close_open_step_as_timeout(&mut self) -> Option<String> {
        self.current.as_ref()?;
        if self.canary.spec.screenshots.on_step_failure {
            let _ = tokio::time::timeout(Duration::from_secs(3), self.step_screenshot("failed")).await;
        }
        let pending = match &self.page {
            Some(page) => tokio::time::timeout(Duration::from_secs(1), page.timed_out()).await.ok().flatten(),
            None => None,
        };
        if let Some(open) = self.current.take() {
            let mut reason =
                format!("run timed out after {}", humantime::format_duration(self.canary.timeout));
            if let Some(pending) = pending {
                reason = format!("{reason} {pending}");
            }
            let run_reason = format!("step {} `{}`: {reason}", open.index, open.name);
            self.close_step(open, Err(StepError::Timeout(reason)));
            return Some(run_reason);
        }
        None
    }

    /// Ends the open step with an error raised outside the step API.
    pub(crate) fn close_open_step_with(&mut self, error: StepError) {
        if let Some(open) = self.current.take() {
            self.close_step(open, Err(error));
        }
    }

    /// Takes the page's network log and closes the page; bounded in time.
    pub(crate) async fn release_page(&mut self) {
        if let Some(page) = self.page.take() {
            let (pages, entries) =
                tokio::time::timeout(Duration::from_secs(5), page.take_har()).await.unwrap_or_default();
            self.har_pages.extend(pages);
            self.har_entries.extend(entries);
            let _ = tokio::time::timeout(Duration::from_secs(5), page.close()).await;
        }
    }

    pub(crate) fn into_parts(self) -> RunParts {
        RunParts {
            steps: self.steps,
            log: self.log,
            har_pages: self.har_pages,
            har_entries: self.har_entries,
            details: self.details,
            duration: self.started.elapsed(),
        }
    }
}

/// What is left of a context once the blueprint is done.
pub(crate) struct RunParts {
    pub steps: Vec<StepReport>,
    pub log: Vec<String>,
    pub har_pages: Vec<har::Page>,
    pub har_entries: Vec<har::Entry>,
    pub details: Map<String, Value>,
    pub duration: Duration,
}

pub(crate) fn page_options(canary: &Canary) -> PageOptions {
    let browser = &canary.spec.browser;
    PageOptions {
        viewport: (browser.viewport.width, browser.viewport.height),
        user_agent_suffix: browser.user_agent_suffix.clone(),
        extra_headers: browser.extra_headers.clone(),
        capture_response_bodies: canary.spec.report.include_response_body,
    }
}

/// `NN-<step>-<state>.png`, with the (already redacted) step name reduced to file-name-safe
/// characters.
pub fn screenshot_file_name(index: u32, name: &str, state: Option<&str>) -> String {
    let mut safe = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            safe.push(c);
        } else if !safe.ends_with('-') {
            safe.push('-');
        }
    }
    let safe: String = safe.trim_matches('-').chars().take(60).collect();
    let safe = if safe.is_empty() { "step".to_string() } else { safe };
    match state {
        Some(state) => format!("{index:02}-{safe}-{state}.png"),
        None => format!("{index:02}-{safe}.png"),
    }
}
