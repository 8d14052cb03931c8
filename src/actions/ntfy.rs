//! `ntfy`: a push notification through an ntfy server, published as JSON (`POST` to the server's
//! root: `{"topic", "title", "message", "priority", "tags", "click"}`). The title is the headline,
//! the message the default text or the rendered `template`; the priority is `high` (4) for
//! `ALARM` and `default` (3) otherwise unless `priority` sets one; the first tag is an emoji by
//! state (`rotating_light`, `white_check_mark`, `grey_question`), then the channel's `tags`;
//! tapping the notification opens the alarm's history when its link is known. `token` is sent as
//! `Authorization: Bearer` (access tokens, `tk_...`) for protected topics.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::http::{check_not_blank, check_optional_url, parse_url, post_json};
use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification};
use crate::spec::Problem;
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;

/// The server unless `url` says otherwise.
pub const DEFAULT_URL: &str = "https://ntfy.sh";
/// Past this many bytes ntfy turns a message into an attachment: cut before.
const MESSAGE_MAX_BYTES: usize = 4096;

/// A message's priority, as ntfy names them (1 to 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// 1.
    Min,
    /// 2.
    Low,
    /// 3.
    Default,
    /// 4.
    High,
    /// 5.
    Max,
}

impl Priority {
    fn number(self) -> u8 {
        match self {
            Priority::Min => 1,
            Priority::Low => 2,
            Priority::Default => 3,
            Priority::High => 4,
            Priority::Max => 5,
        }
    }
}

/// The settings of a `type: ntfy` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The topic to publish to.
    pub topic: String,
    /// The server's root URL (default [`DEFAULT_URL`]).
    pub url: Option<String>,
    /// An access token for a protected topic (a secret).
    pub token: Option<String>,
    /// Every message's priority (default: `high` for `ALARM`, `default` otherwise).
    pub priority: Option<Priority>,
    /// Tags (or emoji short codes) added to every message.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The message, instead of the default text.
    pub template: Option<MessageTemplate>,
    /// Limit of one delivery attempt (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        check_not_blank(&self.topic, "topic")
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
        let auth = self.token.map(|token| ("Authorization".to_string(), format!("Bearer {}", token.trim())));
        Ok(Arc::new(Ntfy {
            url: parse_url(self.url.as_deref().unwrap_or(DEFAULT_URL), "url")?,
            topic: self.topic.trim().to_string(),
            auth: auth.into_iter().collect(),
            priority: self.priority,
            tags: self.tags,
            template: self.template,
        }))
    }
}

/// The `ntfy` channel.
pub struct Ntfy {
    url: Url,
    topic: String,
    auth: Vec<(String, String)>,
    priority: Option<Priority>,
    tags: Vec<String>,
    template: Option<MessageTemplate>,
}

impl Channel for Ntfy {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move { post_json(&self.url, &self.auth, self.message(n).to_string()).await })
    }
}

impl Ntfy {
    /// The JSON message for a notification.
    pub fn message(&self, n: &Notification) -> Value {
        let (emoji, priority) = match n.new_state.as_str() {
            "ALARM" => ("rotating_light", Priority::High),
            "OK" => ("white_check_mark", Priority::Default),
            _ => ("grey_question", Priority::Default),
        };
        let mut tags = vec![emoji.to_string()];
        tags.extend(self.tags.iter().cloned());
        let text = render(self.template.as_ref(), n).unwrap_or_else(|| n.text());
        let mut message = json!({
            "topic": self.topic,
            "title": n.headline(),
            "message": clip_bytes(&text, MESSAGE_MAX_BYTES),
            "priority": self.priority.unwrap_or(priority).number(),
            "tags": tags,
        });
        if let Some(url) = &n.dashboard_url {
            message["click"] = url.as_str().into();
        }
        message
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn clip_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
