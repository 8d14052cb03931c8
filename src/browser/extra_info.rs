//! The headers Chromium really sent and received, from `Network.requestWillBeSentExtraInfo` and
//! `Network.responseReceivedExtraInfo`: the `Cookie` header of a request, the `Set-Cookie` of a
//! response, and everything the network stack added. chromiumoxide drops these events (current
//! Chromium sends fields its typed structs do not parse), so a second DevTools connection to the
//! page receives them as raw JSON and keeps only the request id and headers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::Connection;
use chromiumoxide::error::CdpError;
use chromiumoxide::types::{CdpJsonEventMessage, Message};
use futures::StreamExt;
use serde::Deserialize;
use tokio::task::JoinHandle;

/// Why the second connection could not be set up (the HAR then lacks the extra headers).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExtraInfoError {
    #[error("could not connect to {url}: {source}")]
    Connect { url: String, source: CdpError },
    #[error("Network.enable failed on {url}: {reason}")]
    Enable { url: String, reason: String },
    #[error("{url} did not answer Network.enable within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
}

/// The part of both events that is used: they share these two fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExtraInfoEvent {
    request_id: String,
    headers: serde_json::Map<String, serde_json::Value>,
}

/// Headers per request id, one entry per hop of a redirect chain, in the order they came.
#[derive(Debug, Default)]
pub(crate) struct ExtraHeaders {
    pub requests: HashMap<String, Vec<serde_json::Map<String, serde_json::Value>>>,
    pub responses: HashMap<String, Vec<serde_json::Map<String, serde_json::Value>>>,
}

/// A page's second DevTools connection; closed when dropped.
pub(crate) struct ExtraInfo {
    headers: Arc<Mutex<ExtraHeaders>>,
    reader: JoinHandle<()>,
}

impl Drop for ExtraInfo {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl ExtraInfo {
    /// Connects to page `target_id` of the browser at `browser_ws_url` and enables `Network`
    /// there, so that the events of every request made from now on are received.
    pub async fn attach(
        browser_ws_url: &str,
        target_id: &str,
        timeout: Duration,
    ) -> Result<ExtraInfo, ExtraInfoError> {
        let url = page_ws_url(browser_ws_url, target_id);
        let connected = tokio::time::timeout(timeout, enabled_connection(&url)).await;
        let connection = connected.map_err(|_| ExtraInfoError::Timeout { url: url.clone(), timeout })??;
        let headers = Arc::new(Mutex::new(ExtraHeaders::default()));
        let reader = tokio::spawn(read_events(connection, headers.clone()));
        Ok(ExtraInfo { headers, reader })
    }

    /// Everything received so far; the store starts empty again.
    pub fn take(&self) -> ExtraHeaders {
        std::mem::take(&mut *self.headers.lock().expect("extra headers lock"))
    }
}

/// `ws://host:port/devtools/browser/<id>` → `ws://host:port/devtools/page/<target>`.
fn page_ws_url(browser_ws_url: &str, target_id: &str) -> String {
    let base = browser_ws_url.split("/devtools/").next().unwrap_or(browser_ws_url);
    format!("{base}/devtools/page/{target_id}")
}

async fn enabled_connection(url: &str) -> Result<Connection<CdpJsonEventMessage>, ExtraInfoError> {
    let mut connection = Connection::<CdpJsonEventMessage>::connect(url)
        .await
        .map_err(|source| ExtraInfoError::Connect { url: url.to_string(), source })?;
    let failed = |reason: String| ExtraInfoError::Enable { url: url.to_string(), reason };
    let id = connection
        // Bodies are kept by the page's main connection; this one needs no copy of them.
        .submit_command(
            "Network.enable".into(),
            None,
            serde_json::json!({"maxTotalBufferSize": 1, "maxResourceBufferSize": 1}),
        )
        .map_err(|e| failed(e.to_string()))?;
    while let Some(message) = connection.next().await {
        match message {
            Ok(Message::Response(response)) if response.id == id => {
                return match response.error {
                    Some(error) => Err(failed(error.message)),
                    None => Ok(connection),
                };
            }
            Ok(_) => {}
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    Err(failed("the connection closed".to_string()))
}

/// Keeps the extra-info events until the page (and so the connection) goes away.
async fn read_events(mut connection: Connection<CdpJsonEventMessage>, store: Arc<Mutex<ExtraHeaders>>) {
    while let Some(message) = connection.next().await {
        let event = match message {
            Ok(Message::Event(event)) => event,
            Ok(Message::Response(_)) | Err(CdpError::InvalidMessage(..)) => continue,
            Err(_) => break,
        };
        let is_request = match event.method.as_ref() {
            "Network.requestWillBeSentExtraInfo" => true,
            "Network.responseReceivedExtraInfo" => false,
            _ => continue,
        };
        let Ok(parsed) = serde_json::from_value::<ExtraInfoEvent>(event.params) else { continue };
        let mut store = store.lock().expect("extra headers lock");
        let by_id = if is_request { &mut store.requests } else { &mut store.responses };
        by_id.entry(parsed.request_id).or_default().push(parsed.headers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_url_is_derived_from_the_browser_url() {
        assert_eq!(
            page_ws_url("ws://127.0.0.1:4567/devtools/browser/abc-def", "T1"),
            "ws://127.0.0.1:4567/devtools/page/T1"
        );
    }
}
