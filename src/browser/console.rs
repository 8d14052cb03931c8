//! What a page reports as going wrong: uncaught exceptions, `console.error` calls and the
//! browser's own error log entries (a blocked resource, a Content-Security-Policy violation, a
//! failed load), collected while the watch lives.

use std::sync::{Arc, Mutex, PoisonError};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::log::{EnableParams as LogEnable, EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use futures::StreamExt;

/// The errors a page reported since [`BrowserPage::watch_console`](super::BrowserPage::watch_console).
#[derive(Debug, Clone, Default)]
pub struct ConsoleWatch {
    errors: Arc<Mutex<Vec<String>>>,
}

impl ConsoleWatch {
    /// The errors so far, oldest first, one line each.
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn push(&self, line: String) {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner).push(line);
    }

    /// Subscribes to `page`'s exceptions, console errors and error log entries.
    pub(crate) async fn attach(page: &Page) -> Result<ConsoleWatch, chromiumoxide::error::CdpError> {
        let watch = ConsoleWatch::default();
        let mut exceptions = page.event_listener::<EventExceptionThrown>().await?;
        let mut console = page.event_listener::<EventConsoleApiCalled>().await?;
        let mut log = page.event_listener::<EventEntryAdded>().await?;
        page.execute(LogEnable::default()).await?;
        let sink = watch.clone();
        // Each stream ends when the target (or the browser) goes away.
        tokio::spawn(async move {
            loop {
                let line = tokio::select! {
                    Some(e) = exceptions.next() => {
                        let details = &e.exception_details;
                        let text = details.exception.as_ref().and_then(|x| x.description.clone()).unwrap_or_else(|| details.text.clone());
                        format!("exception: {}", text.lines().next().unwrap_or_default())
                    }
                    Some(c) = console.next() => {
                        if c.r#type != ConsoleApiCalledType::Error { continue; }
                        let args: Vec<String> = c.args.iter().map(|a| a.value.as_ref().map_or_else(|| a.description.clone().unwrap_or_default(), ToString::to_string)).collect();
                        format!("console.error: {}", args.join(" "))
                    }
                    Some(entry) = log.next() => {
                        if entry.entry.level != LogEntryLevel::Error { continue; }
                        let url = entry.entry.url.as_deref().map(|u| format!(" ({u})")).unwrap_or_default();
                        format!("{}: {}{url}", entry.entry.source.as_ref(), entry.entry.text)
                    }
                    else => break,
                };
                sink.push(line);
            }
        });
        Ok(watch)
    }
}
