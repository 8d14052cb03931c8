//! Stored rows turned back into the store's types, for every backend: the one place where a
//! stored time, status, attempt or JSON value is checked, so that both stores report a bad row
//! the same way.

use chrono::{DateTime, Utc};

use super::{RunSummary, StoreError};
use crate::report::{RunReport, RunStatus};

/// The columns of a `runs` row that make a [`RunSummary`], in this order.
pub(super) const SUMMARY_COLUMNS: &str =
    "run_id, canary, attempt, status, reason, started_at, duration_ms, artifacts";

/// Times are stored as integer milliseconds since the Unix epoch (UTC), so they sort and compare
/// as numbers in any database.
pub(super) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// A stored time back as a [`DateTime`]; `whose` names the row for the error.
pub(super) fn time(
    db: &str,
    millis: i64,
    whose: impl FnOnce() -> String,
) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| corrupt(db, format!("{}: time {millis} ms is out of range", whose())))
}

pub(super) fn corrupt(db: &str, what: String) -> StoreError {
    StoreError::Corrupt { db: db.to_string(), what }
}

/// A stored report (kept whole as JSON) read back.
pub(super) fn decode_report(db: &str, run_id: &str, json: &str) -> Result<RunReport, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| corrupt(db, format!("run {run_id}: its stored report does not decode: {e}")))
}

/// A failover change's record values as stored (a JSON list).
pub(super) fn encode_values(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_string())
}

pub(super) fn decode_values(db: &str, failover: &str, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt(db, format!("failover `{failover}`: values {json}: {e}")))
}

/// A `runs` row as read, before its text is checked.
pub(super) struct SummaryRow {
    pub run_id: String,
    pub canary: String,
    pub attempt: i64,
    pub status: String,
    pub reason: Option<String>,
    pub started_at: i64,
    pub duration_ms: f64,
    pub artifacts: String,
}

impl SummaryRow {
    pub(super) fn into_summary(self, db: &str) -> Result<RunSummary, StoreError> {
        let status = RunStatus::parse(&self.status)
            .ok_or_else(|| corrupt(db, format!("run {}: unknown status `{}`", self.run_id, self.status)))?;
        let start = time(db, self.started_at, || format!("run {} start", self.run_id))?;
        let attempt = u32::try_from(self.attempt).map_err(|_| {
            corrupt(db, format!("run {}: attempt {} is out of range", self.run_id, self.attempt))
        })?;
        Ok(RunSummary {
            run_id: self.run_id,
            canary: self.canary,
            attempt,
            status,
            reason: self.reason,
            start,
            duration_ms: self.duration_ms,
            artifacts: self.artifacts,
        })
    }
}

/// Runs of one prefix found, as `(run_id, report_json)`: the one run, none, or the ambiguity.
pub(super) fn one_by_prefix(
    db: &str,
    prefix: &str,
    mut found: Vec<(String, String)>,
) -> Result<Option<RunReport>, StoreError> {
    match found.len() {
        0 => Ok(None),
        1 => {
            let (id, json) = found.remove(0);
            decode_report(db, &id, &json).map(Some)
        }
        _ => Err(StoreError::AmbiguousRunId {
            db: db.to_string(),
            prefix: prefix.to_string(),
            matches: found.into_iter().map(|(id, _)| id).collect(),
        }),
    }
}

/// A time bucket's start as stored (milliseconds).
pub(super) fn bucket_start(db: &str, millis: i64) -> Result<DateTime<Utc>, StoreError> {
    time(db, millis, || "a run bucket".to_string())
}
