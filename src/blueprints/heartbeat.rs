//! Heartbeat: load each URL in the browser (one step per URL), check the status and, optionally,
//! a text in the rendered page; screenshot and HAR come from the step API.

use std::path::Path;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Map, json};

use super::{Blueprint, BuildError, Runnable, SentValues, check_section, settings};
use crate::spec::de::Located;
use crate::spec::validate::{Problems, check_url};
use crate::spec::{Canary, KeyPath, Section, StatusRanges};
use crate::step::{RunContext, StepError, StepOutcome};

/// The heartbeat blueprint, as the registry lists it.
pub static HEARTBEAT: HeartbeatBlueprint = HeartbeatBlueprint;

/// `heartbeat:` — the section of a heartbeat canary (`docs/canary-file.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The pages to load, one step each, in order; absolute `http`/`https` URLs.
    pub urls: Vec<String>,
    /// What each page must show.
    #[serde(default)]
    pub expect: PageExpectation,
    /// Screenshot the whole page, not only the viewport; default `false`.
    #[serde(default)]
    pub full_page_screenshot: bool,
}

/// What each page must show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageExpectation {
    /// Accepted statuses of the page's main response, e.g. `200-299` or `2xx`; default `200-399`.
    #[serde(default = "PageExpectation::default_status")]
    pub status: String,
    /// Text that must appear in the rendered page.
    pub text: Option<String>,
}

impl PageExpectation {
    fn default_status() -> String {
        "200-399".to_string()
    }
}

impl Default for PageExpectation {
    fn default() -> Self {
        Self { status: Self::default_status(), text: None }
    }
}

fn check_settings(settings: &Settings, p: &mut Problems<'_>) {
    let urls = KeyPath::root().key("urls");
    if settings.urls.is_empty() {
        p.add(urls.clone(), "`urls` must list at least one URL");
    }
    for (i, url) in settings.urls.iter().enumerate() {
        check_url(url, urls.index(i), p);
    }
    if let Err(e) = StatusRanges::parse(&settings.expect.status) {
        p.add(KeyPath::root().key("expect").key("status"), e.to_string());
    }
}

/// Loads each URL in the browser, one step per URL.
pub struct HeartbeatBlueprint;

impl Blueprint for HeartbeatBlueprint {
    fn name(&self) -> &'static str {
        "heartbeat"
    }

    fn template(&self) -> &'static str {
        include_str!("../../blueprints/heartbeat.yaml")
    }

    fn uses_browser(&self) -> bool {
        true
    }

    fn check(&self, section: &Section, tainted: &[KeyPath], _file: &Path) -> Vec<Located> {
        check_section(section, tainted, check_settings)
    }

    fn section_keys(&self) -> &'static [&'static str] {
        crate::spec::de::struct_keys::<Settings>()
    }

    fn build(&self, canary: &Canary) -> Result<Box<dyn Runnable>, BuildError> {
        let settings: Settings = settings(canary)?;
        let status = StatusRanges::parse(&settings.expect.status).map_err(|e| {
            BuildError::InvalidSection { canary: canary.name.clone(), problem: e.to_string() }
        })?;
        Ok(Box::new(Heartbeat {
            urls: settings.urls,
            status,
            text: settings.expect.text.filter(|t| !t.is_empty()),
            full_page: settings.full_page_screenshot,
        }))
    }

    fn sent_values(&self, canary: &Canary) -> SentValues {
        let urls = settings::<Settings>(canary).map(|s| s.urls).unwrap_or_default();
        SentValues { urls, ..SentValues::default() }
    }
}

/// A heartbeat canary's run.
struct Heartbeat {
    urls: Vec<String>,
    status: StatusRanges,
    text: Option<String>,
    full_page: bool,
}

impl Heartbeat {
    async fn load(&self, ctx: &mut RunContext, url: &str) -> Result<StepOutcome, StepError> {
        let timeout = ctx.step_time_left();
        let page = ctx.page().await?;
        let nav = page.goto(url, timeout).await?;
        let mut details = Map::new();
        details.insert("status".into(), json!(nav.status));
        details.insert("dom_content_loaded_ms".into(), json!(nav.dom_content_loaded_ms));
        details.insert("load_ms".into(), json!(nav.load_ms));
        let status = nav
            .status
            .ok_or_else(|| StepError::Failed(format!("GET {url}: no HTTP response for the page")))?;
        if !self.status.contains(status) {
            let text =
                if nav.status_text.is_empty() { String::new() } else { format!(" {}", nav.status_text) };
            return Err(StepError::Failed(format!(
                "GET {url}: expected status {}, got {status}{text}",
                self.status
            )));
        }
        if let Some(expected) = &self.text
            && !page.text_contains(expected).await?
        {
            return Err(StepError::Failed(format!(
                "GET {url}: text {expected:?} not found in the rendered page"
            )));
        }
        Ok(StepOutcome { url: Some(nav.url), details })
    }
}

impl Runnable for Heartbeat {
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            ctx.full_page_screenshots = self.full_page;
            let mut stopped: Option<String> = None;
            for (i, url) in self.urls.iter().enumerate() {
                let name = format!("load {url}");
                if let Some(why) = &stopped {
                    ctx.skip_step(&name, why.clone());
                    continue;
                }
                ctx.begin_step(&name).await;
                let result = self.load(ctx, url).await;
                if !ctx.end_step(result).await {
                    stopped = Some(format!("not run: step {} `{name}` did not pass", i + 1));
                }
            }
            Ok(())
        }
        .boxed()
    }
}
