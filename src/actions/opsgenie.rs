//! `opsgenie`: alerts through the Opsgenie Alert API, authenticated by `Authorization: GenieKey
//! <api_key>`. `ALARM` and `INSUFFICIENT_DATA` create an alert (`POST /v2/alerts`) whose `alias`
//! is the alarm's name, so Opsgenie keeps one open alert per alarm; `OK` closes it by that alias
//! (`POST /v2/alerts/<alarm>/close?identifierType=alias`). The alert's `message` is the headline,
//! its `description` the default text or the rendered `template` (also the close's `note`).
//! `api_url` picks the region: `https://api.opsgenie.com` (default) or `https://api.eu.opsgenie.com`.
//! Opsgenie answers `202` when it queued the request.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::http::{check_not_blank, check_optional_url, endpoint, parse_url, post_json};
use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification, clip};
use crate::spec::Problem;
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;

/// The API's root unless `api_url` says otherwise (EU accounts: `https://api.eu.opsgenie.com`).
pub const DEFAULT_API_URL: &str = "https://api.opsgenie.com";
/// Opsgenie's limits, in characters.
const MESSAGE_MAX: usize = 130;
const ALIAS_MAX: usize = 512;
const DESCRIPTION_MAX: usize = 15_000;
const NOTE_MAX: usize = 25_000;

/// An alert's priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Priority {
    /// Critical.
    P1,
    /// High.
    P2,
    /// Moderate (Opsgenie's default).
    P3,
    /// Low.
    P4,
    /// Informational.
    P5,
}

/// The settings of a `type: opsgenie` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The key of an Opsgenie API integration (a secret).
    pub api_key: String,
    /// The API's root (default [`DEFAULT_API_URL`]).
    pub api_url: Option<String>,
    /// The alerts' priority (Opsgenie's default, P3, when unset).
    pub priority: Option<Priority>,
    /// Tags added to every alert.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The alert's `description` and the close's `note`, instead of the default text.
    pub template: Option<MessageTemplate>,
    /// Limit of one delivery attempt (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        check_not_blank(&self.api_key, "api_key")
            .into_iter()
            .chain(check_optional_url(self.api_url.as_deref(), "api_url"))
            .collect()
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ChannelConfig for Config {
    fn build(self, _base_dir: &Path) -> Result<Arc<dyn Channel>, ChannelError> {
        let api_url = parse_url(self.api_url.as_deref().unwrap_or(DEFAULT_API_URL), "api_url")?;
        Ok(Arc::new(Opsgenie {
            auth: vec![("Authorization".into(), format!("GenieKey {}", self.api_key.trim()))],
            api_url,
            priority: self.priority,
            tags: self.tags,
            template: self.template,
        }))
    }
}

/// The `opsgenie` channel.
pub struct Opsgenie {
    api_url: Url,
    auth: Vec<(String, String)>,
    priority: Option<Priority>,
    tags: Vec<String>,
    template: Option<MessageTemplate>,
}

impl Channel for Opsgenie {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let (url, body) = self.request(n);
            post_json(&url, &self.auth, body.to_string()).await
        })
    }
}

impl Opsgenie {
    /// Where to `POST` and what: a close for `OK`, else a create.
    pub fn request(&self, n: &Notification) -> (Url, Value) {
        let alias = clip(&n.alarm, ALIAS_MAX);
        let text = render(self.template.as_ref(), n).unwrap_or_else(|| n.text());
        if n.new_state == "OK" {
            let mut url = endpoint(&self.api_url, &["v2", "alerts", &alias, "close"]);
            url.query_pairs_mut().append_pair("identifierType", "alias");
            return (url, json!({"source": "Aviary", "note": clip(&text, NOTE_MAX)}));
        }
        let mut details = BTreeMap::from([
            ("old_state", n.old_state.clone()),
            ("new_state", n.new_state.clone()),
            ("reason", n.reason.clone()),
            ("time", n.time_rfc3339()),
        ]);
        details.extend(n.canary.clone().map(|c| ("canary", c)));
        details.extend(n.dashboard_url.clone().map(|u| ("dashboard_url", u)));
        let mut tags = vec!["aviary".to_string()];
        tags.extend(self.tags.iter().cloned());
        let mut body = json!({
            "message": clip(&n.headline(), MESSAGE_MAX),
            "alias": alias,
            "description": clip(&text, DESCRIPTION_MAX),
            "source": "Aviary",
            "tags": tags,
            "details": details,
        });
        if let Some(canary) = &n.canary {
            body["entity"] = canary.as_str().into();
        }
        if let Some(priority) = self.priority {
            body["priority"] = format!("{priority:?}").into();
        }
        (endpoint(&self.api_url, &["v2", "alerts"]), body)
    }
}
