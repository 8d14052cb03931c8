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
    /// The status as stored and shown: `PASSED`, `FAILED`, `ERROR` or `TIMEOUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Error => "ERROR",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// The status named by `text` (as [`RunStatus::as_str`] writes it), if any.
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
    /// The step did what it should.
    Passed,
    /// A check of the step failed.
    Failed,
    /// The step could not run to the end (not a check failure).
    Error,
    /// The step exceeded its timeout.
    Timeout,
    /// Not run: an earlier step failed, or its inputs were missing.
    Skipped,
}

impl StepStatus {
    /// The status as stored and shown: `PASSED`, `FAILED`, `ERROR`, `TIMEOUT` or `SKIPPED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Error => "ERROR",
            Self::Timeout => "TIMEOUT",
            Self::Skipped => "SKIPPED",
        }
    }

    /// The status named by `text` (as [`StepStatus::as_str`] writes it), if any.
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
    /// The step's name.
    pub name: String,
    /// How the step ended.
    pub status: StepStatus,
    /// Why the step did not pass, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the step started.
    pub start: DateTime<Utc>,
    /// How long the step took, in milliseconds.
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
    /// Name of the canary that ran.
    pub canary: String,
    /// The run's id.
    pub run_id: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The canary's blueprint.
    pub blueprint: String,
    /// How the run ended.
    pub status: RunStatus,
    /// Why the run did not pass, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the run started.
    pub start: DateTime<Utc>,
    /// When the run ended.
    pub end: DateTime<Utc>,
    /// How long the run took, in milliseconds.
    pub duration_ms: f64,
    /// The run's steps, in order.
    pub steps: Vec<StepReport>,
    /// The run's folder, relative to the artifacts root.
    pub artifacts: String,
    /// Request counts of the run: `2xx`, `4xx`, `5xx`, `failed` (no response).
    pub requests: RequestCounts,
    /// Blueprint-specific figures of the whole run (`visual_success_percent`, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
    /// Where the run checked from: the daemon's `location`; `None` for a run without one
    /// (`aviary run`, or a daemon that names none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// How many requests of a run got each class of response.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Responses with a `2xx` status.
    #[serde(rename = "2xx")]
    pub ok_2xx: u32,
    /// Responses with a `3xx` status.
    #[serde(rename = "3xx")]
    pub redirect_3xx: u32,
    /// Responses with a `4xx` status.
    #[serde(rename = "4xx")]
    pub client_4xx: u32,
    /// Responses with a `5xx` status.
    #[serde(rename = "5xx")]
    pub server_5xx: u32,
    /// Requests that got no response.
    pub failed: u32,
}

/// One metric datapoint (`docs/artifacts.md`): CloudWatch names, dimensions `canary` and optionally `step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datapoint {
    /// The metric's name (`SuccessPercent`, `Duration`, ...).
    pub metric: String,
    /// The `canary` dimension.
    pub canary: String,
    /// The `step` dimension; `None` for run-level datapoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The `location` dimension: where the run checked from (`None`: no location named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// When the value was measured (the run's end).
    pub timestamp: DateTime<Utc>,
    /// The value; durations are in milliseconds.
    pub value: f64,
}

/// A run-level figure a blueprint leaves in [`RunReport::details`] that is also a metric.
#[derive(Debug, Clone, Copy)]
pub struct DetailMetric {
    /// Its key in `details`.
    pub key: &'static str,
    /// The metric's name (alarms, the store).
    pub metric: &'static str,
    /// The Prometheus gauge of the canary's last run's value, on `/metrics`.
    pub family: &'static str,
    /// That gauge's help text.
    pub help: &'static str,
}

/// Every blueprint figure that is a metric.
pub const DETAIL_METRICS: [DetailMetric; 4] = [
    DetailMetric {
        key: "visual_success_percent",
        metric: "VisualMonitoringSuccessPercent",
        family: "aviary_visual_success_percent",
        help: "VisualMonitoringSuccessPercent of the canary's last run (visual canaries only).",
    },
    DetailMetric {
        key: "selector_drift",
        metric: "SelectorDrift",
        family: "aviary_selector_drift_steps",
        help: "Steps of the canary's last run whose first selector no longer matched but a later alternative did (flow and workflow canaries only).",
    },
    DetailMetric {
        key: "links_checked",
        metric: "LinksChecked",
        family: "aviary_links_checked",
        help: "Unique links the canary's last run checked, the start page included (broken-links canaries only).",
    },
    DetailMetric {
        key: "broken_links",
        metric: "BrokenLinks",
        family: "aviary_broken_links",
        help: "Unique links broken in the canary's last run (broken-links canaries only).",
    },
];

impl RunReport {
    /// The metrics of this run, as `docs/artifacts.md` names them.
    pub fn datapoints(&self) -> Vec<Datapoint> {
        let point = |metric: &str, step: Option<&str>, value: f64| Datapoint {
            metric: metric.to_string(),
            canary: self.canary.clone(),
            step: step.map(str::to_string),
            location: self.location.clone(),
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
        for metric in &DETAIL_METRICS {
            if let Some(value) = self.details.get(metric.key).and_then(serde_json::Value::as_f64) {
                points.push(point(metric.metric, None, value));
            }
        }
        points
    }
}
