//! `GET /`: every canary with its status, a 24-hour success bar, last and next run, a duration
//! trend, blueprint and tags; filters by status, tag and text (a plain GET form, so filtered views
//! can be bookmarked); the files that do not validate.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{DateTime, Duration, DurationRound, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::chart::{Cell, sparkline, success_bar};
use super::format::{badge, canary_url, count, duration_ms, run_url, table, when};
use super::{PageError, Section, blocking, layout};
use crate::server::backend::{Backend, BrokenFile, CanaryStatus};
use crate::store::{BucketQuery, RunBucket, VersionDrift};

/// Hours the overview's bar and trend cover.
const HOURS: i64 = 24;

/// The overview's filters, from the query string.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    /// `passing`, `failing`, `running`, `never`, or empty for all.
    #[serde(default)]
    pub status: String,
    /// `key` or `key=value`.
    #[serde(default)]
    pub tag: String,
    /// Text the name, blueprint, file or a tag must contain (any case).
    #[serde(default)]
    pub q: String,
}

impl Filters {
    fn keeps(&self, canary: &CanaryStatus) -> bool {
        let status_ok = match self.status.as_str() {
            "passing" => canary.last_run.as_ref().is_some_and(|r| r.status.as_str() == "PASSED"),
            "failing" => canary.last_run.as_ref().is_some_and(|r| r.status.as_str() != "PASSED"),
            "running" => canary.running,
            "never" => canary.last_run.is_none(),
            _ => true,
        };
        let tag_ok = match self.tag.split_once('=') {
            _ if self.tag.is_empty() => true,
            Some((key, value)) => canary.tags.get(key).is_some_and(|v| v == value),
            None => canary.tags.contains_key(&self.tag),
        };
        let needle = self.q.trim().to_lowercase();
        let text_ok = needle.is_empty() || {
            let file = canary.file.display().to_string();
            let mut fields = vec![canary.name.as_str(), canary.blueprint.as_str(), file.as_str()];
            fields.extend(canary.tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]));
            fields.iter().any(|field| field.to_lowercase().contains(&needle))
        };
        status_ok && tag_ok && text_ok
    }
}

/// `GET /`.
pub async fn page(
    State(backend): State<Arc<dyn Backend>>,
    Query(filters): Query<Filters>,
) -> Result<Html<String>, PageError> {
    let now = Utc::now();
    let canaries = backend.canaries();
    let broken = backend.broken_files();
    let drift = backend.version_drift();
    let until = now.duration_trunc(Duration::hours(1)).unwrap_or(now) + Duration::hours(1);
    let since = until - Duration::hours(HOURS);
    let store = backend.store();
    let buckets = blocking(move || {
        Ok(store.run_buckets(&BucketQuery { canary: None, since, until, bucket_secs: 3600 })?)
    })
    .await?;
    Ok(layout(
        "Canaries",
        Section::Canaries,
        render(&canaries, (&broken, &drift), &buckets, &filters, since, now),
    ))
}

/// The page's body.
pub fn render(
    canaries: &[CanaryStatus],
    (broken, drift): (&[BrokenFile], &[VersionDrift]),
    buckets: &[RunBucket],
    filters: &Filters,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Markup {
    let mut by_canary: HashMap<&str, Vec<&RunBucket>> = HashMap::new();
    for bucket in buckets {
        by_canary.entry(bucket.canary.as_str()).or_default().push(bucket);
    }
    let shown: Vec<&CanaryStatus> = canaries.iter().filter(|c| filters.keeps(c)).collect();
    let failing = canaries
        .iter()
        .filter(|c| c.last_run.as_ref().is_some_and(|r| r.status.as_str() != "PASSED"))
        .count();
    let mut tags: Vec<String> =
        canaries.iter().flat_map(|c| c.tags.iter().map(|(k, v)| format!("{k}={v}"))).collect();
    tags.sort();
    tags.dedup();
    html! {
        h1 { "Canaries" }
        (broken_files(broken))
        (version_drift(drift))
        form.filters method="get" action="/" role="search" {
            label { "Status "
                select name="status" {
                    @for (value, text) in [("", "all"), ("failing", "failing"), ("passing", "passing"), ("running", "running"), ("never", "never run")] {
                        option value=(value) selected[filters.status == value] { (text) }
                    }
                }
            }
            label { "Tag "
                select name="tag" {
                    option value="" { "any" }
                    @for tag in &tags {
                        option value=(tag) selected[&filters.tag == tag] { (tag) }
                    }
                }
            }
            label { "Search " input type="search" name="q" value=(filters.q) placeholder="name, blueprint, file"; }
            button type="submit" { "Filter" }
        }
        div id="canaries" data-live="15" {
            p.summary {
                (count(canaries.len(), "canary", "canaries")) " · " (failing) " failing · showing " (shown.len())
                " · updated " (when(now, now))
            }
            @if shown.is_empty() {
                p.muted { "No canary matches these filters." }
            } @else {
                (table("canaries", &["Canary", "Status", "Last 24 h", "Last run", "Next run", "Duration"], html! {
                            @for canary in &shown {
                                (row(canary, by_canary.get(canary.name.as_str()).map_or(&[][..], Vec::as_slice), since, now))
                            }
                        }))
            }
        }
    }
}

fn row(canary: &CanaryStatus, buckets: &[&RunBucket], since: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    let hours: Vec<DateTime<Utc>> = (0..HOURS).map(|h| since + Duration::hours(h)).collect();
    let at = |hour: DateTime<Utc>| buckets.iter().find(|b| b.start == hour);
    let cells: Vec<Cell> = hours
        .iter()
        .map(|&start| match at(start) {
            Some(b) => Cell { start, passed: b.passed, runs: b.runs },
            None => Cell { start, passed: 0, runs: 0 },
        })
        .collect();
    let trend: Vec<Option<f64>> = hours.iter().map(|&h| at(h).map(|b| b.mean_duration_ms)).collect();
    let (passed, runs) = buckets.iter().fold((0, 0), |(p, r), b| (p + b.passed, r + b.runs));
    html! {
        tr {
            td {
                a href=(canary_url(&canary.name)) { (canary.name) }
                br;
                small { (canary.blueprint) }
                @for (key, value) in &canary.tags {
                    " " span.tag { (key) "=" (value) }
                }
            }
            td {
                @if canary.running { (badge("running")) " " }
                @match &canary.last_run {
                    Some(run) => (badge(run.status.as_str())),
                    None => span.muted { "never run" },
                }
            }
            td {
                (success_bar(&cells, &format!("{passed} of {runs} runs passed in the last 24 hours")))
                @if runs > 0 { br; small { (passed) "/" (runs) " passed" } }
            }
            td {
                @if let Some(run) = &canary.last_run {
                    a href=(run_url(&run.run_id)) { (when(run.start, now)) }
                    @if let Some(reason) = run.reason.as_ref().filter(|_| run.status.as_str() != "PASSED") {
                        br; small.reason { (reason) }
                    }
                } @else { span.muted { "–" } }
            }
            td {
                @match (canary.enabled, canary.next_fire) {
                    (false, _) => span.muted { "disabled" },
                    (true, Some(at)) => (when(at, now)),
                    (true, None) => span.muted { "–" },
                }
                br; small { code { (canary.schedule) } }
            }
            td {
                (sparkline(&trend, "mean run duration by hour"))
                @if let Some(run) = &canary.last_run { br; small { (duration_ms(run.duration_ms)) } }
            }
        }
    }
}

/// Canaries whose file differs between the runners sharing the store: each version with the
/// runners that loaded it.
fn version_drift(drift: &[VersionDrift]) -> Markup {
    html! {
        @if !drift.is_empty() {
            section.errors {
                h2 { "Canaries that differ between runners" }
                ul {
                    @for canary in drift {
                        li {
                            a href=(canary_url(&canary.canary)) { (canary.canary) }
                            ul {
                                @for (version, runners) in &canary.versions {
                                    li { "version " code { (version) } " on " (runners.join(", ")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The files that do not validate, each with what runs instead: its previous version, or nothing
/// when it has not validated since the daemon started.
fn broken_files(files: &[BrokenFile]) -> Markup {
    html! {
        @if !files.is_empty() {
            section.errors {
                h2 { "Files that do not validate" }
                ul {
                    @for file in files {
                        li {
                            code { (file.file.display()) }
                            " "
                            small {
                                @if file.previous_version { "(its previous version keeps running)" }
                                @else { "(not loaded: it has not validated since the daemon started)" }
                            }
                            ul { @for problem in &file.problems { li { code { (problem) } } } }
                        }
                    }
                }
            }
        }
    }
}
