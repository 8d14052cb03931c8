//! The only module that touches chromiumoxide: Chromium discovery and launch, a pool of warm
//! browsers handing out isolated contexts, CDP network capture into HAR entries, screenshots.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aviary::browser::BrowserError> {
//! use std::time::Duration;
//! use aviary::browser::{BrowserPool, PageOptions, PoolConfig};
//!
//! let pool = BrowserPool::new(PoolConfig::default());
//! let page = pool.acquire(&PageOptions::default()).await?; // fresh, isolated context
//! let nav = page.goto("http://127.0.0.1:8080/", Duration::from_secs(30)).await?;
//! assert_eq!(nav.status, Some(200));
//! let png = page.screenshot(false).await?;
//! let (pages, entries) = page.take_har().await;
//! page.close().await;
//! pool.shutdown().await;
//! # let _ = (png, pages, entries); Ok(()) }
//! ```
//!
//! How it is fast: the browser stays warm and keeps one spare context + page ready (prepared in
//! the background when a page is closed, with the latest options already applied), so `acquire`
//! usually costs no CDP round trip, and `close` returns at once (the context is disposed in the
//! background). Chromium is started without the per-window browser UI it would otherwise build
//! for every new context (WebUI omnibox popups, preloaded top-chrome WebUI, spare renderers):
//! that alone halves the CPU a run costs. How it stays safe: every CDP call has a deadline and
//! races a "browser gone" signal fed by a task that waits on the Chromium process, so a crash
//! fails in-flight calls at once with [`BrowserError::Crashed`]. A page cannot stall its run on
//! dialogs (each is answered at once) nor flood the browser with popups (at most ten stay open
//! per run; newer ones are closed as they open).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

mod capture;
mod console;
mod dialogs;
mod discover;
pub mod engine;
mod extra_info;
mod launch;
mod orphans;
mod page;
mod pool;
mod popups;
pub mod record;

pub use console::ConsoleWatch;
pub use discover::{Purpose, find_chromium};
pub use page::BrowserPage;
pub use pool::BrowserPool;

/// How the pool launches and shares browsers.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The Chromium executable; `None` finds one with [`find_chromium`] at first launch.
    pub executable: Option<PathBuf>,
    /// At most this many pages (runs) at once, over all browsers.
    pub max_concurrency: usize,
    /// Extra Chromium flags (`--lang=de` or `lang=de`), appended after the pool's own.
    pub extra_args: Vec<String>,
    /// A browser is replaced after this many acquisitions (once its pages are closed).
    pub recycle_after_runs: u32,
    /// How long Chromium may take to start and accept the DevTools connection.
    pub launch_timeout: Duration,
    /// Deadline of each single CDP command (navigation has its own, per `goto`).
    pub command_timeout: Duration,
    /// A folder where the running browsers are recorded (pid and start time). When set, the
    /// pool first kills the browsers recorded there by aviary processes that are gone (see
    /// `docs/daemon.md`); `None` records nothing.
    pub orphan_registry: Option<PathBuf>,
    /// How many pages the pool will be asked for at most (`aviary run`: its browser runs,
    /// retries included): once that many were asked for, no spare page is made for a next run
    /// that will not come. `None` (the daemon): a spare is always kept ready.
    pub expected_pages: Option<u64>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            executable: None,
            max_concurrency: 2,
            extra_args: Vec::new(),
            recycle_after_runs: 100,
            launch_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(30),
            orphan_registry: None,
            expected_pages: None,
        }
    }
}

/// What a run wants of its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOptions {
    /// CSS pixels, width × height (device scale factor 1).
    pub viewport: (u32, u32),
    /// Appended (after a space) to the browser's own user agent.
    pub user_agent_suffix: Option<String>,
    /// Sent with every request of the page.
    pub extra_headers: BTreeMap<String, String>,
    /// Keep response bodies (≤ 1 MiB each) in the HAR.
    pub capture_response_bodies: bool,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions {
            viewport: (1920, 1080),
            user_agent_suffix: None,
            extra_headers: BTreeMap::new(),
            capture_response_bodies: false,
        }
    }
}

/// The outcome of [`BrowserPage::goto`].
#[derive(Debug, Clone, PartialEq)]
pub struct Navigation {
    /// HTTP status of the final document response (after redirects), when there was one.
    pub status: Option<u16>,
    /// Its reason phrase (e.g. `Not Found`; the standard one when the server sent none), or empty.
    pub status_text: String,
    /// The final URL, after redirects.
    pub url: String,
    /// Milliseconds from navigation start to the end of `DOMContentLoaded`.
    pub dom_content_loaded_ms: Option<f64>,
    /// Milliseconds from navigation start to the end of the `load` event.
    pub load_ms: Option<f64>,
}

/// What a page was still waiting for (see [`BrowserPage::pending`]). Its `Display` is the tail
/// of a timeout reason: `waiting for the load event; 2 requests still open: GET http://a/slow,
/// GET http://a/img.png`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Whether the `load` event of the page's latest document has fired.
    pub load_event_fired: bool,
    /// `METHOD URL` of each network request neither finished nor failed, in request order.
    pub open_requests: Vec<String>,
}

/// Open requests named in [`Pending`]'s text; the rest are counted.
const PENDING_LISTED: usize = 5;

impl std::fmt::Display for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.load_event_fired {
            f.write_str("after the load event")?;
        } else {
            f.write_str("waiting for the load event")?;
        }
        let open = &self.open_requests;
        match open.len() {
            0 => return f.write_str("; no request open"),
            1 => f.write_str("; 1 request still open: ")?,
            n => write!(f, "; {n} requests still open: ")?,
        }
        f.write_str(&open.iter().take(PENDING_LISTED).cloned().collect::<Vec<_>>().join(", "))?;
        if open.len() > PENDING_LISTED {
            write!(f, " and {} more", open.len() - PENDING_LISTED)?;
        }
        Ok(())
    }
}

/// A snapshot of the pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Chromium processes currently running.
    pub browsers_alive: usize,
    /// Pages handed out and not yet closed.
    pub pages_in_use: usize,
    /// Chromium processes started since the pool was created.
    pub launches: u64,
    /// Chromium processes that exited without being asked to.
    pub crashes: u64,
    /// Pages prepared ahead for a next run.
    pub spares: usize,
}

/// Why a browser operation failed. Each message is one line a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// No Chromium executable; the message says how to install one or point to it.
    #[error("{0}")]
    NotFound(String),
    /// Chromium could not be started or connected to.
    #[error("could not launch Chromium: {0}")]
    Launch(String),
    /// The browser (or the page's renderer) died while in use.
    #[error("{0}")]
    Crashed(String),
    /// A deadline passed: navigation, a CDP command, or waiting for the browser.
    #[error("{0}")]
    Timeout(String),
    /// The page could not be loaded (`net::ERR_NAME_NOT_RESOLVED loading http://x/`).
    #[error("navigation failed: {0}")]
    Navigation(String),
    /// Chromium rejected a command, or a script threw.
    #[error("{0}")]
    Cdp(String),
}

#[cfg(test)]
mod tests {
    use super::Pending;

    fn pending(load_event_fired: bool, open: &[&str]) -> String {
        Pending { load_event_fired, open_requests: open.iter().map(ToString::to_string).collect() }
            .to_string()
    }

    #[test]
    fn pending_names_the_load_event_and_the_open_requests() {
        assert_eq!(
            pending(false, &["GET http://a/slow", "POST http://a/api"]),
            "waiting for the load event; 2 requests still open: GET http://a/slow, POST http://a/api"
        );
        assert_eq!(
            pending(true, &["GET http://a/poll"]),
            "after the load event; 1 request still open: GET http://a/poll"
        );
        assert_eq!(pending(true, &[]), "after the load event; no request open");
    }

    #[test]
    fn pending_lists_five_requests_and_counts_the_rest() {
        let urls: Vec<String> = (1..=7).map(|i| format!("GET http://a/{i}")).collect();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let text = pending(false, &urls);
        assert!(text.ends_with("GET http://a/5 and 2 more"), "{text}");
        assert!(text.contains("7 requests still open"), "{text}");
    }
}
