//! The only module that touches chromiumoxide: Chromium discovery and launch, a pool of warm
//! browsers handing out isolated contexts, CDP network capture into HAR entries, screenshots.
//!
//! INTERFACE CONTRACT (implemented by the browser work package):
//!
//! ```ignore
//! pub struct BrowserPool;                // Clone-able handle (Arc inside)
//! impl BrowserPool {
//!     pub fn new(config: PoolConfig) -> BrowserPool;      // launches lazily
//!     pub async fn acquire(&self, options: &PageOptions) -> Result<BrowserPage, BrowserError>;
//!     pub async fn shutdown(&self);
//!     pub fn stats(&self) -> PoolStats;
//! }
//! pub struct BrowserPage;                // one fresh browser context + one page; holds a permit
//! impl BrowserPage {
//!     pub async fn goto(&self, url: &str, timeout: Duration) -> Result<Navigation, BrowserError>;
//!     pub async fn screenshot(&self, full_page: bool) -> Result<Vec<u8>, BrowserError>;
//!     pub async fn visible_text(&self) -> Result<String, BrowserError>;
//!     pub async fn current_url(&self) -> Result<String, BrowserError>;
//!     pub async fn evaluate(&self, js: &str) -> Result<serde_json::Value, BrowserError>;
//!     pub async fn take_har(&self) -> (Vec<crate::har::Page>, Vec<crate::har::Entry>);
//!     pub async fn close(self);
//! }
//! ```
