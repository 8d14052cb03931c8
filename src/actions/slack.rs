//! `slack`: a message to a Slack incoming webhook (`webhook_url`). The message has a plain
//! `text` (what notifications and old clients show) and one attachment coloured by the new state
//! holding Block Kit blocks: the alarm (linked to the dashboard when known), the transition, the
//! reason, the canary and the time. With a `template`, the message is the rendered text alone
//! (`{"text": ...}`, Slack's `mrkdwn`). Slack answers 2xx (`ok`) when it took the message.

use std::collections::BTreeMap;
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

/// The settings of a `type: slack` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Slack incoming webhook's URL.
    pub webhook_url: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The message text, instead of the default message.
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
        let url = parse_url(&self.webhook_url, "webhook_url")?;
        Ok(Arc::new(Slack { url, headers: self.headers.into_iter().collect(), template: self.template }))
    }
}

/// The `slack` channel.
pub struct Slack {
    url: Url,
    headers: Vec<(String, String)>,
    template: Option<MessageTemplate>,
}

impl Channel for Slack {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let body = match render(self.template.as_ref(), n) {
                Some(text) => json!({ "text": text }),
                None => message(n),
            };
            post_json(&self.url, &self.headers, body.to_string()).await
        })
    }
}

/// The emoji and attachment colour for a state.
pub fn style(state: &str) -> (&'static str, &'static str) {
    match state {
        "ALARM" => (":red_circle:", "#E01E5A"),
        "OK" => (":large_green_circle:", "#2EB67D"),
        _ => (":white_circle:", "#9E9E9E"),
    }
}

/// The incoming-webhook message for a notification.
pub fn message(n: &Notification) -> Value {
    let (emoji, color) = style(&n.new_state);
    let text = format!("{emoji} {} is {} (was {})", escape(&n.alarm), n.new_state, n.old_state);
    let title = match &n.dashboard_url {
        Some(url) => format!("<{}|{}>", escape(url), escape(&n.alarm)),
        None => escape(&n.alarm),
    };
    let mut body = format!("{emoji} *{title}*: {} → *{}*", n.old_state, n.new_state);
    if let Some(description) = n.description.as_deref().filter(|d| !d.is_empty()) {
        body.push('\n');
        body.push_str(&escape(description));
    }
    if !n.reason.is_empty() {
        body.push_str("\n>");
        body.push_str(&escape(&n.reason));
    }
    let mut context = Vec::new();
    if let Some(canary) = &n.canary {
        context.push(format!("canary `{}`", escape(canary)));
    }
    context.push(n.time_rfc3339());
    json!({
        "text": text,
        "attachments": [{
            "color": color,
            "fallback": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": body}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context.join(" · ")}]},
            ],
        }],
    })
}

/// Slack's escaping for message text: `&`, `<` and `>`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
