//! Runs a canary: one attempt under its timeout, then retries, then artifacts and the store.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use super::artifacts;
use crate::blueprints::{Blueprint, BuildError, REGISTRY};
use crate::har;
use crate::report::{RequestCounts, RunReport, RunStatus, StepReport, StepStatus};
use crate::spec::Canary;
use crate::step::context::{RunContext, RunIdentity, RunParts, StepError, page_options};
use crate::step::redact::Redactor;
use crate::step::services::{ProgressEvent, Services};
use crate::store::layout;

/// Runs the canary, retrying a failed run up to `retries` times, each retry after its
/// `retry_delay`. Every attempt is written to the artifacts and the store; the last one is the
/// run's result.
pub async fn run_with_retries(canary: Arc<Canary>, services: Arc<Services>) -> Vec<RunReport> {
    let mut attempts = Vec::new();
    for attempt in 1..=u32::from(canary.retries) + 1 {
        if attempt > 1 {
            tokio::time::sleep(canary.retry_delay(attempt - 1)).await;
        }
        let report = run_attempt(canary.clone(), services.clone(), attempt).await;
        let passed = report.status == RunStatus::Passed;
        attempts.push(report);
        if passed {
            break;
        }
    }
    attempts
}

/// One attempt: runs the blueprint under the canary's timeout, writes the run folder, then the
/// database row (after the artifacts are on disk).
pub async fn run_attempt(canary: Arc<Canary>, services: Arc<Services>, attempt: u32) -> RunReport {
    let blueprint = REGISTRY.find(&canary.blueprint);
    // A browser run's clock starts once it has its page: waiting for a free browser slot is
    // neither its Duration nor part of its timeout.
    let page = match blueprint.is_some_and(Blueprint::uses_browser) {
        true => Some(services.browser.acquire(&page_options(&canary)).await),
        false => None,
    };
    services.progress(ProgressEvent::RunStarted { canary: &canary.name, attempt });
    let run_id = uuid::Uuid::new_v4().to_string();
    let start = Utc::now();
    let dir = layout::run_dir(&services.artifacts_root, &canary.name, start, &run_id);
    let redactor = Arc::new(redactor_for(&canary, blueprint));

    let mut run_failure: Option<(RunStatus, String)> = None;
    let page = match page {
        Some(Err(e)) => {
            run_failure = Some((RunStatus::Error, e.to_string()));
            None
        }
        Some(Ok(page)) => Some(page),
        None => None,
    };
    let identity = RunIdentity { run_id: run_id.clone(), attempt, start, dir: dir.clone() };
    let mut ctx = RunContext::new(canary.clone(), services.clone(), redactor.clone(), identity, page);
    ctx.log(format!("run {run_id} of canary `{}` attempt {attempt} starting", canary.name));

    if let Err(e) = std::fs::create_dir_all(&dir) {
        run_failure =
            Some((RunStatus::Error, format!("could not create artifact folder {}: {e}", dir.display())));
    } else if run_failure.is_none() {
        run_failure = run_blueprint(&canary, blueprint, &mut ctx).await;
    }
    ctx.release_page().await;
    let mut parts = ctx.into_parts();
    let mut report = build_report(&canary, &run_id, attempt, start, run_failure, &mut parts, &redactor);
    report.location.clone_from(&services.location);
    write_artifacts(&dir, &mut report, parts, &redactor);
    copy_to_object_store(&services, &dir, &report).await;
    save(&canary, &services, attempt, &mut report);
    services.progress(ProgressEvent::RunFinished { report: &report });
    report
}

/// Builds the canary's run and runs it under the canary's timeout. Returns how the run failed
/// outside its steps, if it did.
async fn run_blueprint(
    canary: &Canary,
    blueprint: Option<&'static dyn Blueprint>,
    ctx: &mut RunContext,
) -> Option<(RunStatus, String)> {
    let built = match blueprint {
        Some(blueprint) => blueprint.build(canary),
        None => Err(BuildError::UnknownBlueprint {
            canary: canary.name.clone(),
            blueprint: canary.blueprint.clone(),
        }),
    };
    let runnable = match built {
        Ok(runnable) => runnable,
        Err(e) => return Some((RunStatus::Error, e.to_string())),
    };
    match tokio::time::timeout(canary.timeout, runnable.run(ctx)).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            // Raised outside a step (or while one was open): the run ends here.
            ctx.close_open_step_with(error.clone());
            (!matches!(error, StepError::Skipped(_)))
                .then(|| (status_of_error(&error), error.reason().to_string()))
        }
        Err(_) => {
            let reason = ctx.close_open_step_as_timeout().await.unwrap_or_else(|| {
                format!("run timed out after {}", humantime::format_duration(canary.timeout))
            });
            Some((RunStatus::Timeout, reason))
        }
    }
}

/// The run's report from its steps (or from how it failed outside them), redacted.
fn build_report(
    canary: &Canary,
    run_id: &str,
    attempt: u32,
    start: chrono::DateTime<Utc>,
    run_failure: Option<(RunStatus, String)>,
    parts: &mut RunParts,
    redactor: &Redactor,
) -> RunReport {
    let (status, reason) = match run_failure {
        Some((status, reason)) => (status, Some(reason)),
        None => verdict(&parts.steps),
    };
    let mut steps = std::mem::take(&mut parts.steps);
    for step in &mut steps {
        step.url = step.url.as_deref().map(|u| redactor.redact_url(u));
    }
    let mut report = RunReport {
        canary: canary.name.clone(),
        run_id: run_id.to_string(),
        attempt,
        blueprint: canary.blueprint.clone(),
        status,
        reason,
        start,
        end: Utc::now(),
        duration_ms: parts.duration.as_secs_f64() * 1000.0,
        steps,
        artifacts: layout::run_dir_relative(&canary.name, start, run_id),
        requests: count_requests(&parts.har_entries),
        details: std::mem::take(&mut parts.details),
        location: None,
    };
    redact_report(&mut report, redactor);
    report
}

/// Writes `report.json`, the HAR and `log.txt` into the run folder; a failed write makes the
/// run ERROR.
fn write_artifacts(dir: &Path, report: &mut RunReport, parts: RunParts, redactor: &Redactor) {
    let mut log = parts.log;
    log.push(format!(
        "{} run {} {}{}",
        report.end.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        report.run_id,
        report.status,
        report.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
    ));
    if dir.is_dir() {
        let har = artifacts::build_har(parts.har_pages, parts.har_entries);
        if let Err(e) = artifacts::write_run_files(dir, report, har, &log, redactor) {
            report.status = RunStatus::Error;
            report.reason = Some(redactor.redact_message(&e.to_string()).into_owned());
        }
    }
}

/// Puts the run folder in the object store, before the run is saved, so that a runner that sees
/// the run can fetch its folder. A failure is logged and leaves the run as it is: its folder stays
/// on this runner's disk.
async fn copy_to_object_store(services: &Services, dir: &std::path::Path, report: &RunReport) {
    let Some(copies) = &services.object_copies else { return };
    if let Err(e) = copies.upload(dir, &report.artifacts).await {
        tracing::warn!(canary = %report.canary, run = %report.run_id, "could not copy the run folder: {e}");
    }
}

/// Stores the run. Metrics come from a run's final attempt only (CloudWatch's view of a retried
/// run): an attempt that will be retried is kept in history without datapoints.
fn save(canary: &Canary, services: &Services, attempt: u32, report: &mut RunReport) {
    let is_final = report.status == RunStatus::Passed || attempt > u32::from(canary.retries);
    let datapoints = if is_final { report.datapoints() } else { Vec::new() };
    if let Err(e) = services.store.save_run(report, &datapoints) {
        tracing::error!(canary = %report.canary, run = %report.run_id, "could not save run: {e}");
        if report.status == RunStatus::Passed {
            report.status = RunStatus::Error;
            report.reason = Some(format!("could not save the run: {e}"));
        }
    }
}

/// The redaction rules a run of `canary` uses, for showing anything of the canary elsewhere.
pub fn canary_redactor(canary: &Canary) -> Redactor {
    redactor_for(canary, REGISTRY.find(&canary.blueprint))
}

/// The canary's redaction rules. Values the canary itself sends in restricted headers and URL
/// parameters count as secrets too, so a page or API that echoes them back cannot leak them into bodies or logs.
fn redactor_for(canary: &Canary, blueprint: Option<&dyn Blueprint>) -> Redactor {
    let report = &canary.spec.report;
    let rules = Redactor::new(&[], &report.restricted_headers, &[]);
    let sent = blueprint.map(|b| b.sent_values(canary)).unwrap_or_default();
    let browser_headers = canary.spec.browser.extra_headers.iter();
    let section_headers = sent.headers.iter().map(|(n, v)| (n, v));
    let mut secrets = canary.secrets.clone();
    secrets.extend(sent.secrets.iter().cloned());
    for (name, value) in browser_headers.chain(section_headers) {
        if rules.is_restricted_header(name) && !value.contains("${") {
            // `Bearer abc`: the token alone is what a page would echo.
            secrets.extend(value.split_whitespace().filter(|part| part.len() >= 6).map(str::to_string));
            secrets.push(value.clone());
        }
    }
    let params = Redactor::new(&[], &[], &report.restricted_url_parameters);
    for url in sent.urls.iter().filter_map(|u| url::Url::parse(u).ok()) {
        let restricted = url
            .query_pairs()
            .filter(|(name, value)| params.is_restricted_parameter(name) && !value.is_empty());
        secrets.extend(restricted.map(|(_, value)| value.into_owned()));
    }
    Redactor::new(&secrets, &report.restricted_headers, &report.restricted_url_parameters)
}

/// Secrets out of every string of the report (reasons, details, step names), before it is
/// written anywhere.
fn redact_report(report: &mut RunReport, redactor: &Redactor) {
    let Ok(mut value) = serde_json::to_value(&*report) else { return };
    if redactor.redact_json(&mut value)
        && let Ok(redacted) = serde_json::from_value(value)
    {
        *report = redacted;
    }
}

fn status_of_error(error: &StepError) -> RunStatus {
    match error {
        StepError::Failed(_) => RunStatus::Failed,
        StepError::Timeout(_) => RunStatus::Timeout,
        StepError::Error(_) | StepError::Skipped(_) => RunStatus::Error,
    }
}

/// The run's status and reason from its steps: the first step that did not pass decides.
fn verdict(steps: &[StepReport]) -> (RunStatus, Option<String>) {
    let worst = steps.iter().find(|s| !matches!(s.status, StepStatus::Passed | StepStatus::Skipped));
    match worst {
        None => (RunStatus::Passed, None),
        Some(step) => {
            let status = match step.status {
                StepStatus::Error => RunStatus::Error,
                StepStatus::Timeout => RunStatus::Timeout,
                _ => RunStatus::Failed,
            };
            let why = step.reason.as_deref().unwrap_or("did not pass");
            (status, Some(format!("step {} `{}`: {why}", step.index, step.name)))
        }
    }
}

fn count_requests(entries: &[har::Entry]) -> RequestCounts {
    let mut counts = RequestCounts::default();
    for entry in entries {
        match entry.response.status {
            _ if entry.failed() => counts.failed += 1,
            200..=299 => counts.ok_2xx += 1,
            300..=399 => counts.redirect_3xx += 1,
            400..=499 => counts.client_4xx += 1,
            500..=599 => counts.server_5xx += 1,
            _ => {}
        }
    }
    counts
}
