//! `webhook`: `POST` the JSON payload ([`Notification::payload`]) to `url`, with the configured
//! extra `headers`; with a `template`, the payload also has the rendered `message`. A 2xx answer
//! means delivered; anything else (another status, no answer) is retried by the dispatcher.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use url::Url;

use super::http::{check_url, parse_url, post_json};
use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification};
use crate::spec::Problem;
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;

/// The settings of a `type: webhook` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to `POST` (http or https).
    pub url: String,
    /// Extra request headers (`Authorization`, ...).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The payload's `message`.
    pub template: Option<MessageTemplate>,
    /// Limit of one delivery attempt (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        check_url(&self.url, "url").into_iter().collect()
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ChannelConfig for Config {
    fn build(self, _base_dir: &Path) -> Result<Arc<dyn Channel>, ChannelError> {
        Ok(Arc::new(Webhook {
            url: parse_url(&self.url, "url")?,
            headers: self.headers.into_iter().collect(),
            template: self.template,
        }))
    }
}

/// The `webhook` channel.
pub struct Webhook {
    url: Url,
    headers: Vec<(String, String)>,
    template: Option<MessageTemplate>,
}

impl Channel for Webhook {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let message = render(self.template.as_ref(), n);
            post_json(&self.url, &self.headers, n.payload_with(message.as_deref()).to_string()).await
        })
    }
}
