//! Heartbeat: load each URL in the browser (one step per URL), check the status and, optionally,
//! a text in the rendered page; screenshot and HAR come from the step API.

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Map, json};

use super::Blueprint;
use crate::runner::{RunContext, StepError, StepOutcome};
use crate::spec::StatusRanges;
use crate::spec::model::HeartbeatSpec;

pub struct Heartbeat {
    urls: Vec<String>,
    status: StatusRanges,
    text: Option<String>,
    full_page: bool,
}

impl Heartbeat {
    pub fn new(spec: &HeartbeatSpec) -> Result<Self, String> {
        let status =
            StatusRanges::parse(&spec.expect.status).map_err(|e| format!("heartbeat.expect.status: {e}"))?;
        Ok(Self {
            urls: spec.urls.clone(),
            status,
            text: spec.expect.text.clone().filter(|t| !t.is_empty()),
            full_page: spec.full_page_screenshot,
        })
    }

    async fn load(&self, ctx: &mut RunContext, url: &str) -> Result<StepOutcome, StepError> {
        let timeout = ctx.remaining();
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

impl Blueprint for Heartbeat {
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
