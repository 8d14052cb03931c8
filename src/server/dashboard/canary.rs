//! `GET /canaries/NAME`: the canary's status and a run-now button, charts of `SuccessPercent`,
//! `Duration` and the step durations over a chosen range, its alarms, its runs (paged, by
//! status) and its file as loaded, secrets shown as `***`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, RawQuery, State};
use axum::response::Html;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::chart::{Series, Unit, line_chart};
use super::format::{badge, canary_url, duration_ms, run_url, segment, table, when};
use super::{PageError, Section, blocking, layout};
use crate::alarms::AlarmStatus;
use crate::report::RunStatus;
use crate::server::api::parse_page;
use crate::server::backend::{Backend, CanaryStatus};
use crate::server::error::ApiError;
use crate::store::{BucketQuery, RunBucket, RunPage, RunSummary, StepBucket};

/// Runs listed on one page.
const RUNS_PER_PAGE: usize = 25;

/// The chart ranges offered: name, span, bucket width.
const RANGES: [(&str, i64, i64); 4] =
    [("1h", 3600, 60), ("24h", 86_400, 900), ("7d", 7 * 86_400, 7200), ("30d", 30 * 86_400, 43_200)];

/// The canary page's chart range (`range`: one of [`RANGES`], `24h` when absent); the runs'
/// `before` and `status` are read as the API reads them.
#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    /// A chart range of [`RANGES`].
    #[serde(default)]
    pub range: String,
}

/// What the page shows, read from the store.
struct Figures {
    alarms: Vec<AlarmStatus>,
    source: Option<String>,
    runs: Vec<RunSummary>,
    run_buckets: Vec<RunBucket>,
    step_buckets: Vec<StepBucket>,
}

/// `GET /canaries/{name}`.
pub async fn page(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
    Query(query): Query<RangeQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let now = Utc::now();
    let (range, span, bucket) = RANGES.iter().copied().find(|r| r.0 == query.range).unwrap_or(RANGES[1]);
    let page = RunPage { limit: RUNS_PER_PAGE, ..parse_page(raw.as_deref().unwrap_or(""))? };
    let (status, before) = (page.status, page.before);
    let canary = backend.canary(&name);
    // Charts start on a bucket's edge, so every bucket drawn is whole.
    let since =
        DateTime::from_timestamp((now.timestamp() - span).div_euclid(bucket) * bucket, 0).unwrap_or(now);
    let figures = {
        let name = name.clone();
        blocking(move || {
            let store = backend.store();
            let mut alarms = backend.alarms()?;
            alarms.retain(|a| a.canary.as_deref() == Some(name.as_str()));
            let runs = store.runs(&name, page)?;
            let source = backend.canary_source(&name);
            let query = BucketQuery { canary: Some(name), since, until: now, bucket_secs: bucket };
            Ok(Figures {
                alarms,
                source,
                runs,
                run_buckets: store.run_buckets(&query)?,
                step_buckets: store.step_buckets(&query)?,
            })
        })
        .await?
    };
    if canary.is_none() && figures.runs.is_empty() && before.is_none() && status.is_none() {
        return Err(
            ApiError::not_found(format!("no canary named `{name}`, and no runs of it in history")).into()
        );
    }
    let view = View { name: &name, canary: canary.as_ref(), range, status, before, now, since, bucket };
    Ok(layout(&name, Section::Canaries, view.render(&figures)))
}

type Points = Vec<(DateTime<Utc>, f64)>;

struct View<'a> {
    name: &'a str,
    canary: Option<&'a CanaryStatus>,
    range: &'static str,
    status: Option<RunStatus>,
    before: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
    bucket: i64,
}

impl View<'_> {
    fn render(&self, figures: &Figures) -> Markup {
        let (alarms, source) = (&figures.alarms, figures.source.as_deref());
        html! {
            h1 { (self.name) }
            (self.status_block())
            (self.charts(figures))
            section {
                h2 { "Alarms" }
                @if alarms.is_empty() {
                    p.muted { "No alarm watches this canary." }
                } @else {
                    (super::alarms::alarm_table(alarms, self.now))
                }
            }
            (self.runs(&figures.runs))
            @if let Some(source) = source {
                section {
                    h2 { "Canary file" }
                    @if let Some(canary) = self.canary { p { code { (canary.file.display()) } " as loaded; secrets show as ***." } }
                    pre.source { (source) }
                }
            }
        }
    }

    fn status_block(&self) -> Markup {
        let Some(canary) = self.canary else {
            return html! { p.notice { "This canary is no longer loaded; its history is kept." } };
        };
        html! {
            dl.facts {
                dt { "Status" }
                dd {
                    @if canary.running { (badge("running")) " " }
                    @match &canary.last_run {
                        Some(run) => { (badge(run.status.as_str())) " " a href=(run_url(&run.run_id)) { (when(run.start, self.now)) } }
                        None => span.muted { "never run" },
                    }
                }
                @if let Some(reason) = canary.last_run.as_ref().and_then(|r| r.reason.as_ref()) {
                    dt { "Reason" } dd.reason { (reason) }
                }
                dt { "Blueprint" } dd { (canary.blueprint) }
                dt { "Schedule" } dd { code { (canary.schedule) } @if !canary.enabled { " (disabled)" } }
                dt { "Next run" } dd {
                    @match canary.next_fire { Some(at) => (when(at, self.now)), None => span.muted { "–" } }
                }
                dt { "File" } dd { code { (canary.file.display()) } }
                @if !canary.tags.is_empty() {
                    dt { "Tags" } dd { @for (k, v) in &canary.tags { span.tag { (k) "=" (v) } " " } }
                }
            }
            p.actions {
                button type="button" data-post={ "/api/v1/canaries/" (super::segment(&canary.name)) "/run" } data-done="Run started; this page shows it when it ends." { "Run now" }
                " " output {}
            }
        }
    }

    fn charts(&self, figures: &Figures) -> Markup {
        let success = Series {
            name: "SuccessPercent".into(),
            points: figures
                .run_buckets
                .iter()
                .map(|b| (b.start, f64::from(b.passed) * 100.0 / f64::from(b.runs.max(1))))
                .collect(),
        };
        let duration = Series {
            name: "Duration".into(),
            points: figures.run_buckets.iter().map(|b| (b.start, b.mean_duration_ms)).collect(),
        };
        // Step name → (the order it first appears in, its points).
        let mut steps: BTreeMap<&str, (usize, Points)> = BTreeMap::new();
        for (order, b) in figures.step_buckets.iter().enumerate() {
            steps
                .entry(b.step.as_str())
                .or_insert_with(|| (order, Vec::new()))
                .1
                .push((b.start, b.mean_duration_ms));
        }
        let mut step_series: Vec<(usize, Series)> = steps
            .into_iter()
            .map(|(name, (order, points))| (order, Series { name: name.to_string(), points }))
            .collect();
        step_series.sort_by_key(|(order, _)| *order);
        let step_series: Vec<Series> = step_series.into_iter().map(|(_, s)| s).take(8).collect();
        let gap = Duration::seconds(self.bucket * 3);
        html! {
            section {
                h2 { "Over time" }
                nav.ranges aria-label="Chart range" {
                    @for (range, _, _) in RANGES {
                        @if range == self.range {
                            a href={ (canary_url(self.name)) "?range=" (range) } aria-current="true" { (range) }
                        } @else {
                            a href={ (canary_url(self.name)) "?range=" (range) } { (range) }
                        }
                    }
                }
                div.charts {
                    (line_chart("SuccessPercent", &[success], self.since, self.now, gap, Unit::Percent))
                    (line_chart("Duration (mean per bucket)", &[duration], self.since, self.now, gap, Unit::Milliseconds))
                    (line_chart("Step durations", &step_series, self.since, self.now, gap, Unit::Milliseconds))
                }
            }
        }
    }

    fn runs(&self, runs: &[RunSummary]) -> Markup {
        let base = canary_url(self.name);
        let status_param = self.status.map(|s| format!("&status={}", s.as_str())).unwrap_or_default();
        let next = (runs.len() == RUNS_PER_PAGE).then(|| runs.last()).flatten().map(|last| {
            format!(
                "{base}?range={}{status_param}&before={}",
                self.range,
                segment(&last.start.to_rfc3339_opts(SecondsFormat::Millis, true))
            )
        });
        html! {
            section id="runs" {
                h2 { "Runs" }
                nav.ranges aria-label="Run status" {
                    @for (value, label) in [("", "all"), ("PASSED", "passed"), ("FAILED", "failed"), ("ERROR", "error"), ("TIMEOUT", "timeout")] {
                        @let href = format!("{base}?range={}{}#runs", self.range, if value.is_empty() { String::new() } else { format!("&status={value}") });
                        @if self.status.map_or("", RunStatus::as_str) == value {
                            a href=(href) aria-current="true" { (label) }
                        } @else {
                            a href=(href) { (label) }
                        }
                    }
                }
                @if runs.is_empty() {
                    p.muted { "No runs." }
                } @else {
                    (table("runs", &["Started", "Status", "Duration", "Attempt", "Reason"], html! {
                                @for run in runs {
                                    tr {
                                        td { a href=(run_url(&run.run_id)) { (when(run.start, self.now)) } }
                                        td { (badge(run.status.as_str())) }
                                        td { (duration_ms(run.duration_ms)) }
                                        td { (run.attempt) }
                                        td.reason { @if let Some(reason) = &run.reason { (reason) } }
                                    }
                                }
                            }))
                }
                p.paging {
                    @if self.before.is_some() { a href={ (base) "?range=" (self.range) (status_param) "#runs" } { "Newest" } " " }
                    @if let Some(next) = next { a href={ (next) "#runs" } { "Older runs" } }
                }
            }
        }
    }
}
