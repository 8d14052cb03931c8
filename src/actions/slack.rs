//! `slack`: a message to a Slack incoming webhook (`webhook_url`). The message has a plain
//! `text` (what notifications and old clients show) and one attachment coloured by the new state
//! holding Block Kit blocks: the alarm (linked to the dashboard when known), the transition, the
//! reason, the canary and the time. Slack answers 2xx (`ok`) when it took the message.

use serde_json::{Value, json};
use url::Url;

use super::webhook::{parse_url, post_json};
use super::{BoxFuture, Channel, Notification};
use crate::spec::model::ChannelSpec;

/// The `slack` channel.
pub struct Slack {
    url: Url,
    headers: Vec<(String, String)>,
}

impl Slack {
    /// From a `type: slack` spec (`webhook_url`, optional `headers`).
    pub fn new(spec: &ChannelSpec) -> Result<Self, String> {
        let url = parse_url(spec.webhook_url.as_deref(), "webhook_url")?;
        Ok(Self { url, headers: spec.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect() })
    }
}

impl Channel for Slack {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { post_json(&self.url, &self.headers, message(n).to_string()).await })
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
