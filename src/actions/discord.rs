//! `discord`: a message to a Discord webhook (`POST webhook_url`) holding one embed: the headline
//! as title (linked to the alarm's history when known), coloured by the new state, the text (the
//! alarm's description and reason, or the rendered `template`) as description, fields for the
//! transition and canary (left out with a template) and the time. Mentions in the text never ping
//! anyone (`allowed_mentions` is empty). Discord answers `204` when it took the message.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::http::{check_url, parse_url, post_json};
use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification, clip};
use crate::spec::Problem;
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;

/// Discord's limits, in characters.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELD_MAX: usize = 1024;

/// The settings of a `type: discord` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The webhook's URL (a secret: it carries the webhook's token).
    pub webhook_url: String,
    /// The name the message is posted under, instead of the webhook's.
    pub username: Option<String>,
    /// The embed's description, instead of the description, reason and fields.
    pub template: Option<MessageTemplate>,
    /// Limit of one delivery attempt (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        check_url(&self.webhook_url, "webhook_url").into_iter().collect()
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ChannelConfig for Config {
    fn build(self, _base_dir: &Path) -> Result<Arc<dyn Channel>, ChannelError> {
        Ok(Arc::new(Discord {
            url: parse_url(&self.webhook_url, "webhook_url")?,
            username: self.username,
            template: self.template,
        }))
    }
}

/// The `discord` channel.
pub struct Discord {
    url: Url,
    username: Option<String>,
    template: Option<MessageTemplate>,
}

impl Channel for Discord {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let mut message = message(n, render(self.template.as_ref(), n));
            if let Some(username) = &self.username {
                message["username"] = username.as_str().into();
            }
            post_json(&self.url, &[], message.to_string()).await
        })
    }
}

/// The embed colour of a state (`0xRRGGBB`).
pub fn color(state: &str) -> u32 {
    match state {
        "ALARM" => 0x00E0_1E5A,
        "OK" => 0x002E_B67D,
        _ => 0x009E_9E9E,
    }
}

/// The message for a notification; `text` is the rendered template, when there is one.
pub fn message(n: &Notification, text: Option<String>) -> Value {
    let templated = text.is_some();
    let text = text.unwrap_or_else(|| n.details());
    let mut embed = json!({
        "title": clip(&n.headline(), TITLE_MAX),
        "color": color(&n.new_state),
        "timestamp": n.time_rfc3339(),
        "footer": {"text": "Aviary"},
    });
    if !text.trim().is_empty() {
        embed["description"] = clip(&text, DESCRIPTION_MAX).into();
    }
    if let Some(url) = &n.dashboard_url {
        embed["url"] = url.as_str().into();
    }
    if !templated {
        let mut fields = vec![
            json!({"name": "State", "value": format!("{} → {}", n.old_state, n.new_state), "inline": true}),
        ];
        if let Some(canary) = &n.canary {
            fields.push(json!({"name": "Canary", "value": clip(canary, FIELD_MAX), "inline": true}));
        }
        embed["fields"] = fields.into();
    }
    json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
}
