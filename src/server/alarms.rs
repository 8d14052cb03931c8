//! The alarm endpoints under `/api/v1/alarms`: states, history and set-state (a write, behind
//! the token guard). See `docs/alarms.md`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::backend::Backend;
use super::error::{ApiError, blocking};
use crate::alarms::{AlarmState, AlarmStatus, SetStateError};
use crate::store::AlarmTransition;

/// History entries when `limit` is not given.
pub const DEFAULT_HISTORY: usize = 100;

/// `GET /api/v1/alarms`: `{"alarms": [...]}`, every alarm with its state, reason and since.
pub async fn list(State(backend): State<Arc<dyn Backend>>) -> Result<Json<serde_json::Value>, ApiError> {
    let alarms: Vec<AlarmStatus> = blocking(move || Ok(backend.alarms()?)).await?;
    Ok(Json(serde_json::json!({ "alarms": alarms })))
}

/// The query of `GET /api/v1/alarms/{name}/history`.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// Transitions returned at most; default 100, clamped to 1..=10000.
    pub limit: Option<usize>,
}

/// `GET /api/v1/alarms/{name}/history?limit=N`: `{"alarm": name, "history": [...]}`, newest
/// first.
pub async fn history(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_HISTORY).clamp(1, 10_000);
    let found = {
        let name = name.clone();
        blocking(move || Ok(backend.alarm_history(&name, limit)?)).await?
    };
    let history: Vec<AlarmTransition> =
        found.ok_or_else(|| ApiError::not_found(format!("no alarm named `{name}`")))?;
    Ok(Json(serde_json::json!({ "alarm": name, "history": history })))
}

/// The body of `POST /api/v1/alarms/{name}/state`; `state_value` / `state_reason` are accepted
/// too (the AWS CLI's names).
#[derive(Debug, Deserialize)]
pub struct SetStateBody {
    /// The new state: `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    #[serde(alias = "state_value", alias = "StateValue")]
    pub state: String,
    /// Why the state was set, recorded as the transition's reason.
    #[serde(alias = "state_reason", alias = "StateReason")]
    pub reason: String,
}

/// `POST /api/v1/alarms/{name}/state` with `{"state": "ALARM", "reason": "testing"}`: like
/// `aws cloudwatch set-alarm-state`; the state holds until the alarm's next evaluation.
pub async fn set_state(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
    body: Result<Json<SetStateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(body) =
        body.map_err(|e| ApiError::bad_request(format!("expected {{\"state\", \"reason\"}}: {e}")))?;
    let state: AlarmState = body.state.parse().map_err(ApiError::bad_request)?;
    let transitions = {
        let name = name.clone();
        blocking(move || {
            backend.set_alarm_state(&name, state, &body.reason).map_err(|e| match e {
                e @ SetStateError::UnknownAlarm(_) => ApiError::not_found(e.to_string()),
                SetStateError::Store(e) => e.into(),
            })
        })
        .await?
    };
    Ok(Json(serde_json::json!({ "alarm": name, "state": state, "transitions": transitions })))
}
