//! What a run reports: `report.json`, the database rows and the reporters all come from these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a run ended (`docs/artifacts.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// Every step passed.
    Passed,
    /// A check failed: status, assertion, broken link, visual variance.
    Failed,
    /// The canary could not run: browser crash, bad script, artifact write failure.
    Error,
    /// The run exceeded its timeout.
    Timeout,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Error => "ERROR",
            Self::Timeout => "TIMEOUT",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Passed, Self::Failed, Self::Error, Self::Timeout].into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StepStatus {
    Passed,
    Failed,
    Error,
    Timeout,
    /// Not run: an earlier step failed, or its inputs were missing.
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Error => "ERROR",
            Self::Timeout => "TIMEOUT",
            Self::Skipped => "SKIPPED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Passed, Self::Failed, Self::Error, Self::Timeout, Self::Skipped]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a run, as written to `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    /// 1-based position in the run.
    pub index: u32,
    pub name: String,
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub start: DateTime<Utc>,
    pub duration_ms: f64,
    /// File names (relative to the run folder) of this step's screenshots.
    #[serde(default)]
    pub screenshots: Vec<String>,
    /// The page's URL after the step (browser blueprints) or the request URL (API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Blueprint-specific figures: navigation timing, HTTP timing phases, assertions.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The whole run, as written to `report.json` and kept in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub canary: String,
    pub run_id: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    pub blueprint: String,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub duration_ms: f64,
    pub steps: Vec<StepReport>,
    /// The run's folder, relative to the artifacts root.
    pub artifacts: String,
    /// Request counts of the run: `2xx`, `4xx`, `5xx`, `failed` (no response).
    pub requests: RequestCounts,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct RequestCounts {
    #[serde(rename = "2xx")]
    pub ok_2xx: u32,
    #[serde(rename = "3xx")]
    pub redirect_3xx: u32,
    #[serde(rename = "4xx")]
    pub client_4xx: u32,
    #[serde(rename = "5xx")]
    pub server_5xx: u32,
    pub failed: u32,
}

/// One metric datapoint (`docs/artifacts.md`): CloudWatch names, dimensions `canary` and optionally `step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datapoint {
    pub metric: String,
    pub canary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub value: f64,
}

impl RunReport {
    /// The metrics of this run, as `docs/artifacts.md` names them.
    pub fn datapoints(&self) -> Vec<Datapoint> {
        let point = |metric: &str, step: Option<&str>, value: f64| Datapoint {
            metric: metric.to_string(),
            canary: self.canary.clone(),
            step: step.map(str::to_string),
            timestamp: self.end,
            value,
        };
        let passed = self.status == RunStatus::Passed;
        let mut points = vec![
            point("SuccessPercent", None, if passed { 100.0 } else { 0.0 }),
            point("Duration", None, self.duration_ms),
            point("2xx", None, f64::from(self.requests.ok_2xx)),
            point("4xx", None, f64::from(self.requests.client_4xx)),
            point("5xx", None, f64::from(self.requests.server_5xx)),
            point("Failed", None, if passed { 0.0 } else { 1.0 }),
            point("FailedRequests", None, f64::from(self.requests.failed)),
        ];
        for step in self.steps.iter().filter(|s| s.status != StepStatus::Skipped) {
            let ok = if step.status == StepStatus::Passed { 100.0 } else { 0.0 };
            points.push(point("SuccessPercent", Some(&step.name), ok));
            points.push(point("Duration", Some(&step.name), step.duration_ms));
        }
        if let Some(visual) = self.details.get("visual_success_percent").and_then(serde_json::Value::as_f64) {
            points.push(point("VisualMonitoringSuccessPercent", None, visual));
        }
        points
    }
}
