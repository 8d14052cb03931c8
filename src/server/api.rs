//! The JSON API under `/api/v1`: canaries, their runs (paged), run reports, load errors, and
//! run-now. Artifact files are in [`super::artifacts`].

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::backend::{Backend, CanaryStatus, RunNowError};
use super::error::{ApiError, blocking};
use crate::report::{RunReport, RunStatus};
use crate::store::{RunPage, RunSummary};

/// Runs in a page when `limit` is not given.
pub const DEFAULT_PAGE: usize = 20;
/// The largest `limit` accepted.
pub const MAX_PAGE: usize = 1000;

/// The latest run of a canary, as listings show it.
#[derive(Debug, Serialize)]
pub struct LastRun<'a> {
    /// The run's id.
    pub run_id: &'a str,
    /// Which attempt of the scheduled run this was, from 1.
    pub attempt: u32,
    /// How the run ended.
    pub status: RunStatus,
    /// Why the run did not pass, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// When the run started.
    pub start: DateTime<Utc>,
    /// When the run ended.
    pub end: DateTime<Utc>,
    /// How long the run took, in milliseconds.
    pub duration_ms: f64,
    /// The run's folder, relative to the artifacts root.
    pub artifacts: &'a str,
}

impl<'a> From<&'a RunReport> for LastRun<'a> {
    fn from(r: &'a RunReport) -> Self {
        Self {
            run_id: &r.run_id,
            attempt: r.attempt,
            status: r.status,
            reason: r.reason.as_deref(),
            start: r.start,
            end: r.end,
            duration_ms: r.duration_ms,
            artifacts: &r.artifacts,
        }
    }
}

/// A canary in the `GET /canaries` listing: its status with a summary of its last run.
#[derive(Debug, Serialize)]
pub struct CanaryItem<'a> {
    /// The canary's name.
    pub name: &'a str,
    /// The canary's blueprint.
    pub blueprint: &'a str,
    /// The canary file it was loaded from.
    pub file: &'a std::path::Path,
    /// Whether the canary runs on its schedule.
    pub enabled: bool,
    /// The schedule as written.
    pub schedule: &'a str,
    /// When the canary is next scheduled to run; `None` when no run is scheduled.
    pub next_fire: Option<DateTime<Utc>>,
    /// Whether a run is in progress.
    pub running: bool,
    /// The canary's tags.
    pub tags: &'a std::collections::BTreeMap<String, String>,
    /// Its latest finished run, when there is one.
    pub last_run: Option<LastRun<'a>>,
}

impl<'a> From<&'a CanaryStatus> for CanaryItem<'a> {
    fn from(c: &'a CanaryStatus) -> Self {
        Self {
            name: &c.name,
            blueprint: &c.blueprint,
            file: &c.file,
            enabled: c.enabled,
            schedule: &c.schedule,
            next_fire: c.next_fire,
            running: c.running,
            tags: &c.tags,
            last_run: c.last_run.as_ref().map(LastRun::from),
        }
    }
}

/// `GET /api/v1/canaries`.
pub async fn canaries(State(backend): State<Arc<dyn Backend>>) -> Json<serde_json::Value> {
    let canaries = backend.canaries();
    let items: Vec<CanaryItem<'_>> = canaries.iter().map(CanaryItem::from).collect();
    Json(serde_json::json!({ "canaries": items }))
}

/// `GET /api/v1/canaries/{name}`: the canary's status with its whole last report.
pub async fn canary(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
) -> Result<Json<CanaryStatus>, ApiError> {
    find_canary(backend.as_ref(), &name).map(Json)
}

/// The body of `GET /api/v1/canaries/{name}/runs`.
#[derive(Debug, Serialize)]
pub struct RunsPage {
    /// The canary's name.
    pub canary: String,
    /// Newest first.
    pub runs: Vec<RunSummary>,
    /// The `before` of the next page; `null` on the last page.
    pub next: Option<String>,
}

/// `GET /api/v1/canaries/{name}/runs?limit=&before=&status=`.
pub async fn canary_runs(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<RunsPage>, ApiError> {
    let page = parse_page(query.as_deref().unwrap_or(""))?;
    let known = backend.canaries().iter().any(|c| c.name == name);
    blocking(move || {
        let runs = backend.store().runs(&name, page)?;
        if runs.is_empty() && page.before.is_none() && !known {
            return Err(ApiError::not_found(format!(
                "no canary named `{name}`, and no runs of it in history"
            )));
        }
        let next = (runs.len() == page.limit)
            .then(|| runs.last().map(|r| r.start.to_rfc3339_opts(SecondsFormat::Millis, true)))
            .flatten();
        Ok(Json(RunsPage { canary: name, runs, next }))
    })
    .await
}

/// Reads `limit`, `before` and `status` from a query string.
pub fn parse_page(query: &str) -> Result<RunPage, ApiError> {
    let mut page = RunPage::first(DEFAULT_PAGE);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                page.limit = value.parse().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`limit` must be a whole number from 1 to {MAX_PAGE}, got `{value}`"
                    ))
                })?;
            }
            "before" if value.is_empty() => {}
            "before" => {
                let at = DateTime::parse_from_rfc3339(&value).map_err(|e| {
                    ApiError::bad_request(format!(
                        "`before` must be an RFC 3339 time like 2025-03-04T05:06:07.123Z (the `next` of the \
                         previous page), got `{value}`: {e}"
                    ))
                })?;
                page.before = Some(at.with_timezone(&Utc));
            }
            "status" if value.is_empty() => {}
            "status" => {
                page.status = Some(RunStatus::parse(&value.to_ascii_uppercase()).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`status` must be PASSED, FAILED, ERROR or TIMEOUT, got `{value}`"
                    ))
                })?);
            }
            _ => {}
        }
    }
    Ok(page)
}

/// `GET /api/v1/runs/{id}`: the report, by run id or unique prefix.
pub async fn run(
    State(backend): State<Arc<dyn Backend>>,
    Path(id): Path<String>,
) -> Result<Json<RunReport>, ApiError> {
    blocking(move || find_run(backend.as_ref(), &id).map(Json)).await
}

/// `GET /api/v1/config/errors`: every problem as a line, and the files with their problems.
pub async fn config_errors(State(backend): State<Arc<dyn Backend>>) -> Json<serde_json::Value> {
    let files = backend.broken_files();
    let errors: Vec<&String> = files.iter().flat_map(|f| &f.problems).collect();
    Json(serde_json::json!({ "errors": errors, "files": files }))
}

/// `POST /api/v1/canaries/{name}/run` (behind the token guard): 202 once the run is started.
pub async fn run_now(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    match backend.run_now(&name) {
        Ok(()) => {
            Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "canary": name, "status": "started" }))))
        }
        Err(e @ RunNowError::UnknownCanary(_)) => Err(ApiError::not_found(e.to_string())),
        Err(e @ RunNowError::AlreadyRunning(_)) => Err(ApiError::new(StatusCode::CONFLICT, e.to_string())),
        Err(e @ RunNowError::ShuttingDown) => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
    }
}

/// The body of `POST /api/v1/canaries/{name}/baseline`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// The run whose screenshot becomes the baseline (id or unique prefix); default the latest.
    #[serde(default)]
    pub run: Option<String>,
}

/// `POST /api/v1/canaries/{name}/baseline` (behind the token guard): makes a run's screenshot
/// the visual canary's baseline, as `aviary baseline approve` does.
pub async fn approve_baseline(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<crate::blueprints::visual::baseline::Approval>, ApiError> {
    use crate::blueprints::visual::baseline::{self, BaselineError};
    let request: ApproveRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ApproveRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("expected {{\"run\": \"<run id>\"}} or {{}}: {e}")))?
    };
    let root = backend
        .baselines_root()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_IMPLEMENTED, "this server keeps no visual baselines"))?;
    if let Some(canary) = backend.canaries().into_iter().find(|c| c.name == name)
        && canary.blueprint != "visual"
    {
        return Err(ApiError::bad_request(format!(
            "canary `{name}` is a {} canary; only visual canaries have baselines",
            canary.blueprint
        )));
    }
    blocking(move || {
        let store = backend.store();
        baseline::approve(store.as_ref(), &backend.artifacts_root(), &root, &name, request.run.as_deref())
            .map(Json)
            .map_err(|e| match e {
                BaselineError::NoRun(_) => ApiError::not_found(e.to_string()),
                BaselineError::Store(inner) => ApiError::from(inner),
                other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
            })
    })
    .await
}

/// A canary the daemon has loaded, or 404.
pub fn find_canary(backend: &dyn Backend, name: &str) -> Result<CanaryStatus, ApiError> {
    backend.canary(name).ok_or_else(|| ApiError::not_found(format!("no canary named `{name}`")))
}

/// A stored run by id or unique prefix, or 404 (400 when the prefix is ambiguous). Blocking.
pub fn find_run(backend: &dyn Backend, id: &str) -> Result<RunReport, ApiError> {
    backend.store().run(id)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no run `{id}` (give a whole run id or a prefix of at least {} characters)",
            crate::store::MIN_RUN_ID_PREFIX
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parameters() {
        assert_eq!(parse_page("").unwrap(), RunPage::first(DEFAULT_PAGE));
        let page = parse_page("limit=5&before=2025-03-04T05%3A06%3A07.123Z&other=1").unwrap();
        assert_eq!(page.limit, 5);
        assert_eq!(
            page.before.unwrap().to_rfc3339_opts(SecondsFormat::Millis, true),
            "2025-03-04T05:06:07.123Z"
        );
        assert_eq!(parse_page("before=").unwrap().before, None);
        for bad in ["limit=0", "limit=-1", "limit=x", "limit=1001", "before=yesterday"] {
            assert_eq!(parse_page(bad).unwrap_err().status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
