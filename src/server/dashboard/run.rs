//! `GET /runs/ID`: a run's steps (status, reason, timing, screenshots, details), its `log.txt`,
//! the HAR as a waterfall, and the blueprint's own view: the broken links table, the visual
//! baseline / current / diff with a slider, the flow steps with the selector that matched and
//! drift warnings.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::Utc;
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::format::{artifact_url, badge, canary_url, duration_ms, table, timestamp, when};
use super::waterfall::{self, shorten};
use super::{PageError, Section, blocking, layout};
use crate::har::Har;
use crate::report::{RunReport, StepReport};
use crate::server::api::find_run;
use crate::server::artifacts::fetched_run_folder;
use crate::server::backend::Backend;

/// The most of `log.txt` shown on the page; the whole file is a link away.
const LOG_SHOWN_BYTES: usize = 256 * 1024;
/// A HAR larger than this is offered for download, not drawn.
const HAR_DRAWN_BYTES: u64 = 64 * 1024 * 1024;

/// The run's files the page reads.
struct Files {
    /// The folder exists (retention may have removed it).
    present: bool,
    har: Option<Result<Har, String>>,
    log: Option<String>,
    log_truncated: bool,
    visual: VisualFiles,
}

/// Which pictures of `visual/` the run folder holds.
#[derive(Debug, Default, Clone, Copy)]
struct VisualFiles {
    baseline: bool,
    current: bool,
    diff: bool,
}

/// `GET /runs/{id}`: by run id or a unique prefix.
pub async fn page(
    State(backend): State<Arc<dyn Backend>>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let report = blocking({
        let backend = backend.clone();
        move || Ok(find_run(backend.as_ref(), &id)?)
    })
    .await?;
    let dir = fetched_run_folder(&backend, &report.artifacts).await.ok();
    let (report, files) = blocking(move || {
        let files = read_files(dir.as_deref(), &report);
        Ok((report, files))
    })
    .await?;
    let title = format!("{} · run {}", report.canary, short_id(&report.run_id));
    Ok(layout(&title, Section::Canaries, render(&report, &files)))
}

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn read_files(dir: Option<&FsPath>, report: &RunReport) -> Files {
    let Some(dir) = dir.filter(|d| d.is_dir()) else {
        return Files {
            present: false,
            har: None,
            log: None,
            log_truncated: false,
            visual: VisualFiles::default(),
        };
    };
    let har_path: PathBuf = dir.join(format!("{}.har", report.canary));
    let har = match std::fs::metadata(&har_path) {
        Err(_) => None,
        Ok(meta) if meta.len() > HAR_DRAWN_BYTES => {
            Some(Err(format!("the HAR is {} MB, too large to draw here", meta.len() / 1_000_000)))
        }
        Ok(_) => {
            Some(std::fs::read(&har_path).map_err(|e| format!("could not read it: {e}")).and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| format!("it does not parse as a HAR: {e}"))
            }))
        }
    };
    let (log, log_truncated) = match std::fs::read(dir.join("log.txt")) {
        Ok(bytes) => {
            let truncated = bytes.len() > LOG_SHOWN_BYTES;
            let shown = &bytes[..bytes.len().min(LOG_SHOWN_BYTES)];
            (Some(String::from_utf8_lossy(shown).into_owned()), truncated)
        }
        Err(_) => (None, false),
    };
    let visual = VisualFiles {
        baseline: dir.join("visual/baseline.png").is_file(),
        current: dir.join("visual/current.png").is_file(),
        diff: dir.join("visual/diff.png").is_file(),
    };
    Files { present: true, har, log, log_truncated, visual }
}

/// The page's body.
fn render(report: &RunReport, files: &Files) -> Markup {
    let now = Utc::now();
    let id = &report.run_id;
    html! {
        h1 { a href=(canary_url(&report.canary)) { (report.canary) } " · run " code { (short_id(id)) } }
        dl.facts {
            dt { "Status" } dd { (badge(report.status.as_str())) }
            @if let Some(reason) = &report.reason { dt { "Reason" } dd.reason { (reason) } }
            dt { "Started" } dd { (timestamp(report.start)) " (" (when(report.start, now)) ")" }
            dt { "Duration" } dd { (duration_ms(report.duration_ms)) }
            dt { "Attempt" } dd { (report.attempt) }
            @if let Some(location) = &report.location { dt { "Location" } dd { (location) } }
            dt { "Blueprint" } dd { (report.blueprint) }
            dt { "Requests" } dd {
                (report.requests.ok_2xx) " 2xx · " (report.requests.redirect_3xx) " 3xx · "
                (report.requests.client_4xx) " 4xx · " (report.requests.server_5xx) " 5xx · "
                (report.requests.failed) " failed"
            }
            dt { "Run id" } dd { code { (id) } }
        }
        p.actions {
            a href={ "/api/v1/runs/" (super::segment(id)) } { "report.json" } " · "
            a href={ "/api/v1/runs/" (super::segment(id)) "/artifacts" } { "all files" }
        }
        @if !files.present { p.notice { "This run's folder is gone (removed by retention or by hand, or made by another runner and not copied to a shared place): only its report is left." } }
        (steps(report))
        (blueprint_view(report, files))
        section {
            h2 { "Network" }
            @match &files.har {
                None => p.muted { "No HAR for this run." },
                Some(Err(why)) => p.notice { "The HAR is not drawn: " (why) ". " a href=(artifact_url(id, &format!("{}.har", report.canary))) download { "Download it" } },
                Some(Ok(har)) => (waterfall::render(har, &artifact_url(id, &format!("{}.har", report.canary)))),
            }
        }
        section {
            h2 { "Log" }
            @match &files.log {
                None => p.muted { "No log.txt for this run." },
                Some(text) => {
                    pre.log { (text) }
                    @if files.log_truncated { p { "The log is longer: " a href=(artifact_url(id, "log.txt")) { "read all of log.txt" } } }
                }
            }
        }
    }
}

fn steps(report: &RunReport) -> Markup {
    html! {
        section {
            h2 { "Steps" }
            @if report.steps.is_empty() {
                p.muted { "No steps ran." }
            }
            ol.steps {
                @for step in &report.steps {
                    li class={ "step " (super::format::status_class(step.status.as_str())) } {
                        div.step-head {
                            (badge(step.status.as_str())) " "
                            strong { (step.name) }
                            " " small { (duration_ms(step.duration_ms)) }
                            @if step.details.get("selector_drift") == Some(&Value::Bool(true)) {
                                " " span.badge.warn title="The first selector no longer matches; an alternative did" { "selector drift" }
                            }
                        }
                        @if let Some(reason) = &step.reason { p.reason { (reason) } }
                        @if let Some(url) = &step.url { p { small { "URL " code { (shorten(url, 200)) } } } }
                        @if let Some(selector) = step.details.get("selector").and_then(Value::as_str) {
                            p { small { "matched " code { (selector) } } }
                        }
                        (screenshots(report, step))
                        (details(&step.details))
                    }
                }
            }
        }
    }
}

fn screenshots(report: &RunReport, step: &StepReport) -> Markup {
    html! {
        @if !step.screenshots.is_empty() {
            div.shots {
                @for shot in &step.screenshots {
                    @let url = artifact_url(&report.run_id, shot);
                    a href=(url) title="Open the full screenshot" {
                        img src=(url) alt={ "Screenshot " (shot) " of step " (step.name) } loading="lazy" width="240";
                    }
                }
            }
        }
    }
}

/// The step's details as a list; long or nested values folded away.
fn details(details: &Map<String, Value>) -> Markup {
    let shown: Vec<(&String, &Value)> = details
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "broken" | "regions" | "selector_drift"))
        .collect();
    html! {
        @if !shown.is_empty() {
            details.more {
                summary { "Details" }
                dl.facts {
                    @for (key, value) in shown {
                        dt { (key) }
                        dd { (shorten(&value_text(value), 2000)) }
                    }
                }
            }
        }
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn blueprint_view(report: &RunReport, files: &Files) -> Markup {
    html! {
        @if report.blueprint == "broken-links" { (broken_links(report)) }
        @if files.visual.current { (visual(report, files.visual)) }
    }
}

/// Every broken link any step lists.
fn broken_links(report: &RunReport) -> Markup {
    let broken: Vec<&Map<String, Value>> = report
        .steps
        .iter()
        .filter_map(|s| s.details.get("broken").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let text = |link: &Map<String, Value>, key: &str| link.get(key).map(value_text).unwrap_or_default();
    html! {
        section {
            h2 { "Broken links" }
            @if let (Some(checked), Some(count)) = (report.details.get("links_checked"), report.details.get("broken_links")) {
                p { (value_text(checked)) " links checked, " (value_text(count)) " broken." }
            }
            @if broken.is_empty() {
                p.muted { "No broken links." }
            } @else {
                (table("links", &["Link", "Status or reason", "Link text", "Linked from"], html! {
                            @for link in &broken {
                                tr {
                                    td.url { code { (shorten(&text(link, "url"), 200)) } }
                                    td.bad { (text(link, "reason")) }
                                    td { (text(link, "text")) }
                                    td {
                                        @for page in link.get("linked_from").and_then(Value::as_array).into_iter().flatten() {
                                            code { (shorten(&value_text(page), 200)) } br;
                                        }
                                    }
                                }
                            }
                        }))
            }
        }
    }
}

/// Baseline and current screenshot, one over the other with a slider, the diff picture and the
/// comparison's figures.
fn visual(report: &RunReport, files: VisualFiles) -> Markup {
    let id = &report.run_id;
    let compare = report
        .steps
        .iter()
        .find(|s| s.details.contains_key("diff_percent") || s.details.contains_key("baseline"));
    let figure = |key: &str| compare.and_then(|s| s.details.get(key)).map(value_text);
    html! {
        section.visual {
            h2 { "Visual comparison" }
            @if let Some(step) = compare {
                dl.facts {
                    @if let Some(v) = figure("diff_percent") { dt { "Pixels that differ" } dd { (v) "%" } }
                    @if let Some(v) = figure("window_percent") { dt { "Worst 64×64 window" } dd { (v) "%" } }
                    @if let Some(v) = figure("ssim") { dt { "SSIM" } dd { (v) } }
                    @if let Some(change) = step.details.get("size_change").and_then(|c| c.get("text")).and_then(Value::as_str) {
                        dt { "Size" } dd.bad { (change) }
                    }
                    @if let Some(baseline) = step.details.get("baseline").and_then(Value::as_object) {
                        dt { "Baseline" } dd { (baseline.get("id").map(value_text).unwrap_or_default()) " · " (baseline.get("source").map(value_text).unwrap_or_default()) }
                    }
                    @if let Some(regions) = step.details.get("regions").and_then(Value::as_array).filter(|r| !r.is_empty()) {
                        dt { "Changed regions" }
                        dd {
                            @for region in regions.iter().take(10) {
                                code { (region_text(region)) } " "
                            }
                        }
                    }
                }
            }
            @if files.baseline {
                div.compare data-compare="" {
                    img src=(artifact_url(id, "visual/current.png")) alt="This run's screenshot";
                    div.compare-top { img src=(artifact_url(id, "visual/baseline.png")) alt="The baseline"; }
                }
                label.slider { "Baseline ⟷ current " input type="range" min="0" max="100" value="50" data-compare-slider="" aria-label="How much of the baseline is shown"; }
            } @else {
                p { "This run's screenshot (it made the baseline):" }
                a href=(artifact_url(id, "visual/current.png")) { img.diff src=(artifact_url(id, "visual/current.png")) alt="This run's screenshot"; }
            }
            @if files.diff {
                p { "Changes in the diff picture (over a dimmed copy):" }
                a href=(artifact_url(id, "visual/diff.png")) { img.diff src=(artifact_url(id, "visual/diff.png")) alt="Diff picture: changed pixels highlighted"; }
            }
        }
    }
}

fn region_text(region: &Value) -> String {
    let n = |k: &str| region.get(k).and_then(Value::as_i64).unwrap_or(0);
    format!("{}×{} at ({}, {})", n("width"), n("height"), n("x"), n("y"))
}
