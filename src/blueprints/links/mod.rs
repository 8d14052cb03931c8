//! Broken links: render the start page in Chromium (links added by scripts count), read its
//! links, crawl same-origin pages `depth` levels, check each unique link once — politely, per
//! host — and report one step per page read, with its broken links, plus `links.json`.

pub mod check;
pub mod crawl;
pub mod extract;
pub mod polite;
mod report;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use regex::Regex;
use serde::Deserialize;
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::Url;

use super::{Blueprint, BuildError, Runnable, SentValues, check_section, settings};
use crate::fetch::{Pool, USER_AGENT};
use crate::spec::de::Located;
use crate::spec::model::HumanDuration;
use crate::spec::validate::{Problems, check_url};
use crate::spec::{Canary, KeyPath, Section, StatusRanges};
use crate::step::{RunContext, StepError};
use check::{Checked, Checker};
use crawl::{Crawl, Job, Rules};
use extract::Include;
use polite::Hosts;

/// The broken-links blueprint, as the registry lists it.
pub static BROKEN_LINKS: LinksBlueprint = LinksBlueprint;

/// The most links one run may check.
pub const MAX_LINKS_LIMIT: usize = 100_000;
/// The deepest crawl.
pub const MAX_DEPTH: u32 = 20;

/// `broken-links:` — the section of a broken-links canary (`docs/canary-file.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The start page, rendered in Chromium.
    pub url: String,
    /// Links checked at most, the start page counted as link 1; default 100.
    #[serde(default = "Settings::default_max_links")]
    pub max_links: usize,
    /// 0: the start page's links only; N: same-origin pages N levels below it are read too.
    #[serde(default)]
    pub depth: u32,
    /// More origins (`https://docs.example.com`) whose pages the crawl reads.
    #[serde(default)]
    pub origins: Vec<String>,
    /// Which pages are rendered in Chromium; default `start`.
    #[serde(default)]
    pub render: Render,
    /// Element kinds checked besides `a[href]` and `area[href]`.
    #[serde(default)]
    pub include: Vec<Include>,
    /// Statuses that count as working; default `200-399`.
    #[serde(default = "Settings::default_accept")]
    pub accept: String,
    /// Regexes: a URL matching one is neither checked nor followed.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// A link's `#id` must exist in the page it points to; default `false`.
    #[serde(default)]
    pub check_fragments: bool,
    /// Each link's deadline, redirects and retries' requests each; default 10s.
    #[serde(default = "Settings::default_link_timeout")]
    pub link_timeout: HumanDuration,
    /// Politeness toward each host.
    #[serde(default)]
    pub per_host: PerHost,
    /// Screenshots of broken links; default `none`.
    #[serde(default)]
    pub screenshots: LinkScreenshots,
}

impl Settings {
    fn default_max_links() -> usize {
        100
    }
    fn default_accept() -> String {
        "200-399".to_string()
    }
    fn default_link_timeout() -> HumanDuration {
        HumanDuration(Duration::from_secs(10))
    }
}

/// Which pages are rendered in the browser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Render {
    /// Only the start page; crawled pages are fetched over HTTP and parsed.
    #[default]
    Start,
    /// Every page read.
    All,
}

/// `per_host:` — politeness toward each host.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerHost {
    /// Requests in flight to one host at most; default 4.
    #[serde(default = "PerHost::default_concurrency")]
    pub concurrency: usize,
    /// Between the starts of two requests to one host, at least; default 50ms.
    #[serde(default = "PerHost::default_interval")]
    pub interval: HumanDuration,
}

impl PerHost {
    fn default_concurrency() -> usize {
        4
    }
    fn default_interval() -> HumanDuration {
        HumanDuration(Duration::from_millis(50))
    }
}

impl Default for PerHost {
    fn default() -> Self {
        Self { concurrency: Self::default_concurrency(), interval: Self::default_interval() }
    }
}

/// Screenshots taken for broken links.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkScreenshots {
    /// None.
    #[default]
    None,
    /// The page holding the broken link.
    Source,
    /// The broken link's page, where it loads.
    Destination,
    /// Both.
    Both,
}

fn check_settings(settings: &Settings, p: &mut Problems<'_>) {
    let root = KeyPath::root();
    check_url(&settings.url, root.key("url"), p);
    if !(1..=MAX_LINKS_LIMIT).contains(&settings.max_links) {
        p.add(
            root.key("max_links"),
            format!("max_links must be 1..={MAX_LINKS_LIMIT}, got {}", settings.max_links),
        );
    }
    if settings.depth > MAX_DEPTH {
        p.add(root.key("depth"), format!("depth must be 0..={MAX_DEPTH}, got {}", settings.depth));
    }
    for (i, origin) in settings.origins.iter().enumerate() {
        check_url(origin, root.key("origins").index(i), p);
    }
    if let Err(e) = StatusRanges::parse(&settings.accept) {
        p.add(root.key("accept"), e.to_string());
    }
    for (i, pattern) in settings.exclude.iter().enumerate() {
        if let Err(e) = Regex::new(pattern) {
            p.add(root.key("exclude").index(i), format!("not a valid regex: {}", one_line(&e.to_string())));
        }
    }
    if settings.link_timeout.0.is_zero() {
        p.add(root.key("link_timeout"), "link_timeout must be greater than 0");
    }
    if !(1..=256).contains(&settings.per_host.concurrency) {
        p.add(
            root.key("per_host").key("concurrency"),
            format!("concurrency must be 1..=256, got {}", settings.per_host.concurrency),
        );
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks the links of a site's pages.
pub struct LinksBlueprint;

impl Blueprint for LinksBlueprint {
    fn name(&self) -> &'static str {
        "broken-links"
    }

    fn template(&self) -> &'static str {
        include_str!("../../../blueprints/broken-links.yaml")
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
        let invalid = |problem: String| BuildError::InvalidSection { canary: canary.name.clone(), problem };
        let start = Url::parse(&settings.url).map_err(|e| invalid(format!("url: {e}")))?;
        let accept = StatusRanges::parse(&settings.accept).map_err(|e| invalid(e.to_string()))?;
        let exclude = settings
            .exclude
            .iter()
            .map(|re| Regex::new(re).map_err(|e| invalid(format!("exclude: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut origins = vec![start.origin()];
        for origin in &settings.origins {
            origins.push(Url::parse(origin).map_err(|e| invalid(format!("origins: {e}")))?.origin());
        }
        let suffix =
            canary.spec.browser.user_agent_suffix.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let user_agent = suffix.map_or_else(|| USER_AGENT.to_string(), |s| format!("{USER_AGENT} {s}"));
        Ok(Box::new(BrokenLinks {
            start,
            rules: RulesTemplate {
                max_links: settings.max_links,
                depth: settings.depth,
                origins,
                include: settings.include,
                exclude,
                check_fragments: settings.check_fragments,
            },
            accept,
            render: settings.render,
            link_timeout: settings.link_timeout.0,
            per_host: settings.per_host,
            user_agent,
            screenshots: settings.screenshots,
        }))
    }

    fn sent_values(&self, canary: &Canary) -> SentValues {
        let urls = settings::<Settings>(canary).map(|s| vec![s.url]).unwrap_or_default();
        SentValues { urls, ..SentValues::default() }
    }
}

/// [`Rules`] as built once; each run gets its own copy.
struct RulesTemplate {
    max_links: usize,
    depth: u32,
    origins: Vec<url::Origin>,
    include: Vec<Include>,
    exclude: Vec<Regex>,
    check_fragments: bool,
}

impl RulesTemplate {
    fn rules(&self) -> Rules {
        Rules {
            max_links: self.max_links,
            depth: self.depth,
            origins: self.origins.clone(),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            check_fragments: self.check_fragments,
        }
    }
}

/// A broken-links canary's run.
struct BrokenLinks {
    start: Url,
    rules: RulesTemplate,
    accept: StatusRanges,
    render: Render,
    link_timeout: Duration,
    per_host: PerHost,
    user_agent: String,
    screenshots: LinkScreenshots,
}

/// Link checks in flight at once in a run, over all hosts (each host has its own limit).
pub const MAX_IN_FLIGHT: usize = 128;

/// Time kept at the end of a run to write the report, out of the link checks' time.
const REPORT_MARGIN: Duration = Duration::from_secs(2);

impl BrokenLinks {
    /// Loads `url` in the browser: its check (status) and its rendered HTML.
    async fn render(&self, ctx: &mut RunContext, url: &Url) -> Result<(Checked, Option<String>), StepError> {
        let started = Instant::now();
        let timeout = ctx.remaining();
        let page = ctx.page().await?;
        let mut checked = Checked::default();
        match page.goto(url.as_str(), timeout).await {
            Ok(nav) => {
                checked.status = nav.status;
                checked.broken = match nav.status {
                    None => Some("no HTTP response for the page".into()),
                    Some(status) if !self.accept.contains(status) => {
                        Some(format!("{status} {}", nav.status_text).trim_end().to_string())
                    }
                    Some(_) => None,
                };
                if nav.url != url.as_str() {
                    checked.redirects.push(nav.url.clone());
                }
            }
            Err(e) => checked.broken = Some(e.to_string()),
        }
        checked.latency = started.elapsed();
        checked.requests = 1;
        let html = if checked.broken.is_none() {
            match page.evaluate("document.documentElement.outerHTML").await? {
                serde_json::Value::String(html) => Some(html),
                _ => None,
            }
        } else {
            None
        };
        Ok((checked, html))
    }

    async fn crawl(&self, ctx: &mut RunContext) -> Result<Crawl, StepError> {
        let checker = Arc::new(Checker {
            accept: self.accept.clone(),
            link_timeout: self.link_timeout,
            deadline: Instant::now() + ctx.remaining().saturating_sub(REPORT_MARGIN),
            user_agent: self.user_agent.clone(),
            hosts: Hosts::new(self.per_host.concurrency, self.per_host.interval.0),
            pool: Pool::new(),
        });
        let mut crawl = Crawl::new(self.rules.rules(), &self.start);
        let (checked, html) = self.render(ctx, &self.start).await?;
        crawl.start_checked(checked);
        let Some(html) = html else { return Ok(crawl) };
        crawl.add_page(&self.start, 0, 0, &html);
        self.check(ctx, &mut crawl, &checker, Vec::new()).await?;
        let late = crawl.late_fragment_jobs();
        self.check(ctx, &mut crawl, &checker, late).await?;
        crawl.sort_pages();
        Ok(crawl)
    }

    /// Checks `jobs` and every link found meanwhile, at most [`MAX_IN_FLIGHT`] at once; each page
    /// the crawl follows is read as soon as its check returns.
    async fn check(
        &self,
        ctx: &mut RunContext,
        crawl: &mut Crawl,
        checker: &Arc<Checker>,
        jobs: Vec<Job>,
    ) -> Result<(), StepError> {
        let mut queue = VecDeque::from(jobs);
        let mut running = JoinSet::new();
        loop {
            queue.extend(crawl.take_jobs());
            while running.len() < MAX_IN_FLIGHT
                && let Some(job) = queue.pop_front()
            {
                let checker = Arc::clone(checker);
                running.spawn(async move {
                    let checked = checker.check(&job.url, job.want_html).await;
                    (job, checked)
                });
            }
            let Some(joined) = running.join_next().await else { return Ok(()) };
            let (job, mut checked) =
                joined.map_err(|e| StepError::Error(format!("a link check stopped: {e}")))?;
            ctx.add_har_entries(std::mem::take(&mut checked.entries));
            let Some(page) = crawl.checked(job, checked) else { continue };
            let html = match (self.render, page.html) {
                (Render::All, _) => self.render(ctx, &page.url).await?.1,
                (Render::Start, Some(body)) => Some(String::from_utf8_lossy(&body).into_owned()),
                (Render::Start, None) => None,
            };
            if let Some(html) = html {
                crawl.add_page(&page.url, page.depth, page.found_as, &html);
            }
        }
    }
}

impl Runnable for BrokenLinks {
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            ctx.step_screenshots = false;
            let crawl = self.crawl(ctx).await?;
            report::write(ctx, &crawl, self.screenshots).await
        }
        .boxed()
    }
}
