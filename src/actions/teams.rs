//! `teams`: a Microsoft Teams channel message through a Workflows webhook ("When a Teams webhook
//! request is received"): `{"type": "message", "attachments": [...]}` with one Adaptive Card 1.4:
//! the headline coloured by the new state, the text (the alarm's description and reason, or the
//! rendered `template`), facts (transition, canary, time; left out with a template) and a button
//! opening the alarm's history when its link is known. The workflow answers `202` when it took
//! the message.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::http::{check_url, parse_url, post_json};
use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification};
use crate::spec::Problem;
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;

/// The settings of a `type: teams` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The workflow's webhook URL (a secret: it carries its signature).
    pub webhook_url: String,
    /// The card's text, instead of the description, reason and facts.
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
        Ok(Arc::new(Teams { url: parse_url(&self.webhook_url, "webhook_url")?, template: self.template }))
    }
}

/// The `teams` channel.
pub struct Teams {
    url: Url,
    template: Option<MessageTemplate>,
}

impl Channel for Teams {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let message = message(n, render(self.template.as_ref(), n));
            post_json(&self.url, &[], message.to_string()).await
        })
    }
}

/// The Adaptive Card colour of a state's headline.
fn color(state: &str) -> &'static str {
    match state {
        "ALARM" => "Attention",
        "OK" => "Good",
        _ => "Warning",
    }
}

/// The message for a notification; `text` is the rendered template, when there is one.
pub fn message(n: &Notification, text: Option<String>) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "text": n.headline(), "size": "Medium", "weight": "Bolder",
        "color": color(&n.new_state), "wrap": true,
    })];
    let templated = text.is_some();
    let text = text.unwrap_or_else(|| n.details());
    if !text.trim().is_empty() {
        body.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    }
    if !templated {
        let mut facts =
            vec![json!({"title": "State", "value": format!("{} → {}", n.old_state, n.new_state)})];
        if let Some(canary) = &n.canary {
            facts.push(json!({"title": "Canary", "value": canary}));
        }
        facts.push(json!({"title": "Time", "value": n.time_rfc3339()}));
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(url) = &n.dashboard_url {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Alarm history", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}
