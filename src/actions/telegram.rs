//! `telegram`: a message from a Telegram bot through the Bot API's `sendMessage`
//! (`POST <api_url>/bot<bot_token>/sendMessage` with `{"chat_id", "text"}`). The text is the
//! headline and the default text, as plain text; or the rendered `template`, parsed as
//! `parse_mode` says when set (`HTML`, `MarkdownV2`, `Markdown`). Link previews are off. The bot
//! token is part of the URL: errors name the host only. Telegram answers `200` (`"ok": true`)
//! when it sent the message.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::http::{check_not_blank, check_optional_url, endpoint, parse_url, post_json};
use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification, clip};
use crate::spec::Problem;
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;

/// The Bot API's root unless `api_url` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// Telegram's limit of a message's text, in characters.
const TEXT_MAX: usize = 4096;

/// How Telegram reads a template's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ParseMode {
    /// Telegram's HTML subset.
    #[serde(rename = "HTML")]
    Html,
    /// MarkdownV2.
    MarkdownV2,
    /// The legacy Markdown.
    Markdown,
}

/// The settings of a `type: telegram` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The bot's token from @BotFather (a secret).
    pub bot_token: String,
    /// The chat: a numeric id (`-1001234567890`) or a channel's `@username`.
    pub chat_id: String,
    /// The Bot API's root (default [`DEFAULT_API_URL`]).
    pub api_url: Option<String>,
    /// How Telegram parses the template's text (plain text when unset).
    pub parse_mode: Option<ParseMode>,
    /// The message text, instead of the default one.
    pub template: Option<MessageTemplate>,
    /// Limit of one delivery attempt (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        check_not_blank(&self.bot_token, "bot_token")
            .into_iter()
            .chain(check_not_blank(&self.chat_id, "chat_id"))
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
        let bot = format!("bot{}", self.bot_token.trim());
        let chat_id = self.chat_id.trim();
        Ok(Arc::new(Telegram {
            url: endpoint(&api_url, &[&bot, "sendMessage"]),
            chat_id: chat_id.parse::<i64>().map_or_else(|_| chat_id.into(), Value::from),
            parse_mode: self.parse_mode,
            template: self.template,
        }))
    }
}

/// The `telegram` channel.
pub struct Telegram {
    url: Url,
    chat_id: Value,
    parse_mode: Option<ParseMode>,
    template: Option<MessageTemplate>,
}

impl Channel for Telegram {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move { post_json(&self.url, &[], self.message(n).to_string()).await })
    }
}

impl Telegram {
    /// The `sendMessage` request for a notification.
    pub fn message(&self, n: &Notification) -> Value {
        let mut message = json!({
            "chat_id": self.chat_id,
            "link_preview_options": {"is_disabled": true},
        });
        match render(self.template.as_ref(), n) {
            Some(text) => {
                message["text"] = clip(&text, TEXT_MAX).into();
                if let Some(mode) = self.parse_mode {
                    message["parse_mode"] = json!(mode);
                }
            }
            None => message["text"] = clip(&format!("{}\n{}", n.headline(), n.text()), TEXT_MAX).into(),
        }
        message
    }
}
