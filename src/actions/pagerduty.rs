//! `pagerduty`: events to the PagerDuty Events API v2 (`POST /v2/enqueue`). `ALARM` and
//! `INSUFFICIENT_DATA` send a `trigger`, `OK` a `resolve`; every event of one alarm carries the
//! same `dedup_key` (the alarm's name), so a flapping alarm stays one incident and `OK` resolves
//! it. The trigger's `summary` is the headline, or the rendered `template`; its `severity` is the
//! channel's (default `critical`). PagerDuty answers `202` when it took the event.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::http::{check_not_blank, check_optional_url, parse_url, post_json};
use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification, clip};
use crate::spec::Problem;
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;

/// Where events go unless `url` says otherwise.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// PagerDuty's limit of `summary`, in characters.
const SUMMARY_MAX: usize = 1024;
/// PagerDuty's limit of `dedup_key`, in characters.
const DEDUP_KEY_MAX: usize = 255;

/// An event's severity, as PagerDuty names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The default.
    #[default]
    Critical,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `info`.
    Info,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The settings of a `type: pagerduty` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The integration key of an Events API v2 integration (a secret).
    pub routing_key: String,
    /// The severity of triggered alerts (default `critical`).
    #[serde(default)]
    pub severity: Severity,
    /// The Events API endpoint (default [`DEFAULT_URL`]).
    pub url: Option<String>,
    /// The trigger's `summary`, instead of the headline.
    pub template: Option<MessageTemplate>,
    /// Limit of one delivery attempt (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        check_not_blank(&self.routing_key, "routing_key")
            .into_iter()
            .chain(check_optional_url(self.url.as_deref(), "url"))
            .collect()
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ChannelConfig for Config {
    fn build(self, _base_dir: &Path) -> Result<Arc<dyn Channel>, ChannelError> {
        Ok(Arc::new(PagerDuty {
            url: parse_url(self.url.as_deref().unwrap_or(DEFAULT_URL), "url")?,
            routing_key: self.routing_key.trim().to_string(),
            severity: self.severity,
            template: self.template,
        }))
    }
}

/// The `pagerduty` channel.
pub struct PagerDuty {
    url: Url,
    routing_key: String,
    severity: Severity,
    template: Option<MessageTemplate>,
}

impl Channel for PagerDuty {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move { post_json(&self.url, &[], self.event(n).to_string()).await })
    }
}

impl PagerDuty {
    /// The event for a notification: a `resolve` for `OK`, else a `trigger`.
    pub fn event(&self, n: &Notification) -> Value {
        let dedup_key = clip(&n.alarm, DEDUP_KEY_MAX);
        if n.new_state == "OK" {
            return json!({
                "routing_key": self.routing_key,
                "event_action": "resolve",
                "dedup_key": dedup_key,
            });
        }
        let summary = render(self.template.as_ref(), n).unwrap_or_else(|| n.headline());
        let mut payload = json!({
            "summary": clip(summary.trim(), SUMMARY_MAX),
            "source": n.canary.as_deref().unwrap_or("aviary"),
            "severity": self.severity.as_str(),
            "timestamp": n.time_rfc3339(),
            "class": "synthetic-monitoring",
            "custom_details": {
                "alarm": n.alarm,
                "old_state": n.old_state,
                "new_state": n.new_state,
                "reason": n.reason,
                "canary": n.canary,
                "description": n.description,
            },
        });
        if let Some(canary) = &n.canary {
            payload["component"] = canary.as_str().into();
        }
        let mut event = json!({
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": payload,
            "client": "Aviary",
        });
        if let Some(url) = &n.dashboard_url {
            event["client_url"] = url.as_str().into();
            event["links"] = json!([{"href": url, "text": "Alarm history"}]);
        }
        event
    }
}
