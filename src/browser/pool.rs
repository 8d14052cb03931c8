//! Warm browsers handing out isolated contexts, bounded by `max_concurrency` pages in total.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use tokio::sync::Semaphore;

use super::launch::{LaunchSpec, Launched, launch};
use super::orphans::{Registry, reap_orphans};
use super::page::{BrowserPage, Prepared, apply_options, dispose, dispose_in_background, prepare};
use super::popups;
use super::{BrowserError, PageOptions, PoolConfig, PoolStats, Purpose, find_chromium};

/// Pages one browser serves before the pool starts another one (contexts are isolated, so one
/// browser is enough for small pools; a second was measured not to make sequential runs faster).
const PAGES_PER_BROWSER: usize = 4;

/// One Chromium process in the pool.
pub(crate) struct PooledBrowser {
    id: u64,
    pub launched: Launched,
    /// Acquisitions so far (for recycling).
    runs: AtomicU32,
    /// Pages handed out and not yet released.
    active: AtomicUsize,
    /// Takes no new pages; closed when the last one is released.
    retiring: AtomicBool,
    /// A context + page made ready in the background for the next acquire.
    spare: tokio::sync::Mutex<Option<Prepared>>,
}

impl PooledBrowser {
    fn usable(&self) -> bool {
        !self.launched.life.is_gone() && !self.retiring.load(Ordering::SeqCst)
    }
}

pub(crate) struct Shared {
    pub config: PoolConfig,
    semaphore: Arc<Semaphore>,
    browsers: Mutex<Vec<Arc<PooledBrowser>>>,
    /// Serializes launches; caches the executable once found.
    launching: tokio::sync::Mutex<Option<PathBuf>>,
    launches: AtomicU64,
    crashes: AtomicU64,
    pages_in_use: AtomicUsize,
    /// Pages asked for so far (see `PoolConfig::expected_pages`).
    pages_asked: AtomicU64,
    next_id: AtomicU64,
    shut_down: AtomicBool,
    /// The options of the latest acquire: spares are prepared with them.
    last_options: Mutex<Option<PageOptions>>,
    /// Where running browsers are recorded (`PoolConfig::orphan_registry`).
    registry: Option<Arc<Registry>>,
}

/// A pool of warm Chromium browsers. Cheap to clone (all clones share the pool).
#[derive(Clone)]
pub struct BrowserPool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BrowserPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserPool").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl BrowserPool {
    /// A pool that launches its first browser on the first [`BrowserPool::acquire`]. With an
    /// `orphan_registry`, the browsers a killed aviary left running are killed first.
    pub fn new(config: PoolConfig) -> BrowserPool {
        let mut config = config;
        config.max_concurrency = config.max_concurrency.max(1);
        config.recycle_after_runs = config.recycle_after_runs.max(1);
        let registry = config.orphan_registry.as_deref().and_then(open_registry);
        BrowserPool {
            shared: Arc::new(Shared {
                semaphore: Arc::new(Semaphore::new(config.max_concurrency)),
                config,
                browsers: Mutex::new(Vec::new()),
                launching: tokio::sync::Mutex::new(None),
                launches: AtomicU64::new(0),
                pages_asked: AtomicU64::new(0),
                crashes: AtomicU64::new(0),
                pages_in_use: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
                shut_down: AtomicBool::new(false),
                last_options: Mutex::new(None),
                registry,
            }),
        }
    }

    /// A fresh isolated browser context with one page, `options` applied. Waits for a free slot
    /// first (at most `max_concurrency` pages exist at once).
    pub async fn acquire(&self, options: &PageOptions) -> Result<BrowserPage, BrowserError> {
        let shared = &self.shared;
        let permit = shared.semaphore.clone().acquire_owned().await.map_err(|_| shut_down_error())?;
        *shared.last_options.lock().expect("options lock") = Some(options.clone());
        shared.pages_asked.fetch_add(1, Ordering::SeqCst);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let browser = shared.browser_for_page(options).await?;
            match shared.open_page(&browser, options).await {
                Ok(prepared) => {
                    shared.pages_in_use.fetch_add(1, Ordering::SeqCst);
                    return Ok(BrowserPage::new(prepared, browser, shared.clone(), options.clone(), permit));
                }
                Err(e) => {
                    browser.active.fetch_sub(1, Ordering::SeqCst);
                    shared.close_if_done(&browser);
                    // A browser that died under us is replaced once; anything else is reported.
                    if !browser.launched.life.is_gone() || attempt >= 2 {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Closes every browser, kills the processes and removes their profile directories. Later
    /// `acquire` calls fail; pages still held fail with [`BrowserError::Crashed`].
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.shut_down.store(true, Ordering::SeqCst);
        shared.semaphore.close();
        // Wait for a launch in progress, so that its browser is not left behind.
        drop(shared.launching.lock().await);
        let browsers: Vec<_> = std::mem::take(&mut *shared.browsers.lock().expect("pool lock"));
        futures::future::join_all(browsers.into_iter().map(close_browser)).await;
    }

    /// Browsers alive, pages in use, launches and crashes so far.
    pub fn stats(&self) -> PoolStats {
        let shared = &self.shared;
        let browsers = shared.browsers.lock().expect("pool lock");
        PoolStats {
            browsers_alive: browsers.iter().filter(|b| !b.launched.life.is_gone()).count(),
            pages_in_use: shared.pages_in_use.load(Ordering::SeqCst),
            launches: shared.launches.load(Ordering::SeqCst),
            crashes: shared.crashes.load(Ordering::SeqCst),
            spares: browsers.iter().filter(|b| b.spare.try_lock().is_ok_and(|spare| spare.is_some())).count(),
        }
    }

    /// Process ids of the running browsers.
    pub fn browser_pids(&self) -> Vec<u32> {
        let browsers = self.shared.browsers.lock().expect("pool lock");
        browsers.iter().filter(|b| !b.launched.life.is_gone()).map(|b| b.launched.pid).collect()
    }
}

/// Reaps what earlier processes left in `dir`, then opens this pool's record there.
fn open_registry(dir: &std::path::Path) -> Option<Arc<Registry>> {
    let killed = reap_orphans(dir);
    if !killed.is_empty() {
        tracing::warn!(
            pids = ?killed,
            "killed {} Chromium process(es) left running by an aviary process that is gone",
            killed.len()
        );
    }
    match Registry::new(dir) {
        Ok(registry) => Some(Arc::new(registry)),
        Err(e) => {
            tracing::warn!("browsers will not be recorded for reaping: {e}");
            None
        }
    }
}

fn shut_down_error() -> BrowserError {
    BrowserError::Launch("the browser pool has been shut down".to_string())
}

impl Shared {
    fn max_browsers(&self) -> usize {
        self.config.max_concurrency.div_ceil(PAGES_PER_BROWSER)
    }

    /// A browser for one more page (launching one if needed), with the page already counted.
    async fn browser_for_page(
        self: &Arc<Self>,
        options: &PageOptions,
    ) -> Result<Arc<PooledBrowser>, BrowserError> {
        if let Some(browser) = self.pick(options) {
            return Ok(browser);
        }
        let mut executable = self.launching.lock().await;
        loop {
            if self.shut_down.load(Ordering::SeqCst) {
                return Err(shut_down_error());
            }
            if let Some(browser) = self.pick(options) {
                return Ok(browser);
            }
            self.launch_browser(&mut executable).await?;
        }
    }

    /// The usable browser with a spare page ready and the fewest pages in use; `None` when all
    /// are busy and another may be started.
    fn pick(self: &Arc<Self>, options: &PageOptions) -> Option<Arc<PooledBrowser>> {
        if self.shut_down.load(Ordering::SeqCst) {
            return None;
        }
        let mut browsers = self.browsers.lock().expect("pool lock");
        browsers.retain(|b| !b.launched.life.is_gone());
        let usable = browsers.iter().filter(|b| b.usable());
        let count = usable.clone().count();
        let browser = usable
            .min_by_key(|b| {
                // `try_lock` fails while a spare is being prepared: that one is not ready yet.
                let ready = b.spare.try_lock().is_ok_and(|spare| spare.is_some());
                (
                    b.active.load(Ordering::SeqCst) >= PAGES_PER_BROWSER,
                    !ready,
                    b.active.load(Ordering::SeqCst),
                )
            })?
            .clone();
        if browser.active.load(Ordering::SeqCst) >= PAGES_PER_BROWSER && count < self.max_browsers() {
            return None;
        }
        drop(browsers);
        browser.active.fetch_add(1, Ordering::SeqCst);
        let runs = browser.runs.fetch_add(1, Ordering::SeqCst) + 1;
        if runs >= self.config.recycle_after_runs {
            browser.retiring.store(true, Ordering::SeqCst);
            // Start its successor now, off the critical path of the next run.
            let shared = self.clone();
            let options = options.clone();
            tokio::spawn(async move { shared.prelaunch(options).await });
        }
        Some(browser)
    }

    /// Launches a browser and adds it to the pool. No spare page is made on it here: a launch
    /// for a run is followed at once by that run's own page, which a spare made beside it would
    /// slow down.
    async fn launch_browser(
        self: &Arc<Self>,
        executable: &mut Option<PathBuf>,
    ) -> Result<Arc<PooledBrowser>, BrowserError> {
        let path = match executable.as_ref() {
            Some(path) => path.clone(),
            None => {
                let path = find_chromium(self.config.executable.as_deref(), Purpose::Headless)?;
                *executable = Some(path.clone());
                path
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let weak = Arc::downgrade(self);
        let on_exit = Box::new(move |crashed: bool| {
            if let Some(shared) = weak.upgrade() {
                shared.browsers.lock().expect("pool lock").retain(|b| b.id != id);
                if crashed {
                    shared.crashes.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let launched = launch(LaunchSpec {
            executable: &path,
            extra_args: &self.config.extra_args,
            headed: false,
            launch_timeout: self.config.launch_timeout,
            command_timeout: self.config.command_timeout,
            registry: self.registry.clone(),
            on_exit,
        })
        .await?;
        self.launches.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(pid = launched.pid, executable = %path.display(), "launched Chromium");
        let browser = Arc::new(PooledBrowser {
            id,
            launched,
            runs: AtomicU32::new(0),
            active: AtomicUsize::new(0),
            retiring: AtomicBool::new(false),
            spare: tokio::sync::Mutex::new(None),
        });
        if !browser.launched.life.is_gone() {
            self.browsers.lock().expect("pool lock").push(browser.clone());
        }
        tokio::spawn(popups::watch(Arc::downgrade(&browser)));
        Ok(browser)
    }

    /// Launches a replacement for a retiring browser (unless there is a usable one) and gets a
    /// spare page ready on it.
    async fn prelaunch(self: Arc<Self>, options: PageOptions) {
        let mut executable = self.launching.lock().await;
        if self.shut_down.load(Ordering::SeqCst) {
            return;
        }
        *self.last_options.lock().expect("options lock") = Some(options.clone());
        let usable = self.browsers.lock().expect("pool lock").iter().filter(|b| b.usable()).count();
        if usable > 0 {
            return;
        }
        match self.launch_browser(&mut executable).await {
            Ok(browser) => {
                drop(executable);
                self.fill_spare(browser, options).await;
            }
            Err(e) => tracing::warn!("could not start a replacement browser: {e}"),
        }
    }

    /// The spare page of `browser` if there is one, else a new one; then `options` applied.
    async fn open_page(
        self: &Arc<Self>,
        browser: &Arc<PooledBrowser>,
        options: &PageOptions,
    ) -> Result<Prepared, BrowserError> {
        let timeout = self.config.command_timeout;
        let spare = browser.spare.lock().await.take();
        let opened = match spare {
            // A spare can have died while it waited (renderer crash): then make a new one.
            Some(mut prepared) => match apply_options(browser, &mut prepared, options, timeout).await {
                Ok(()) if !prepared.tab.is_gone() => Ok(prepared),
                Err(e) if browser.launched.life.is_gone() => Err(e),
                _ => {
                    dispose_in_background(browser, prepared.context_id.clone());
                    prepare(browser, Some(options), timeout).await
                }
            },
            None => prepare(browser, Some(options), timeout).await,
        };
        // The next run's spare is made now, while this run loads its page, not after it closes;
        // and not before this page is ready, which it would slow down.
        let next = (self.clone(), browser.clone(), options.clone());
        tokio::spawn(async move { next.0.fill_spare(next.1, next.2).await });
        opened
    }

    /// Whether another page may still be asked for (`PoolConfig::expected_pages`).
    fn more_pages_expected(&self) -> bool {
        self.config.expected_pages.is_none_or(|n| self.pages_asked.load(Ordering::SeqCst) < n)
    }

    /// Makes a spare context + page (with `options` applied) on `browser`, if one more page is
    /// expected and it has none.
    async fn fill_spare(&self, browser: Arc<PooledBrowser>, options: PageOptions) {
        let mut spare = browser.spare.lock().await;
        if spare.is_some()
            || !browser.usable()
            || self.shut_down.load(Ordering::SeqCst)
            || !self.more_pages_expected()
        {
            return;
        }
        match prepare(&browser, Some(&options), self.config.command_timeout).await {
            Ok(prepared) => *spare = Some(prepared),
            Err(e) => tracing::debug!("could not prepare a spare page: {e}"),
        }
    }

    /// A page of `browser` was closed (or dropped): its context is disposed and the browser's
    /// next spare prepared in the background, off the next run's critical path.
    pub(crate) fn page_closed(self: &Arc<Self>, browser: Arc<PooledBrowser>, context_id: BrowserContextId) {
        self.pages_in_use.fetch_sub(1, Ordering::SeqCst);
        let shared = self.clone();
        let released = browser.clone();
        let task = async move {
            dispose(&browser, context_id).await;
            browser.active.fetch_sub(1, Ordering::SeqCst);
            shared.close_if_done(&browser);
            let options = shared.last_options.lock().expect("options lock").clone();
            if let Some(options) = options {
                shared.fill_spare(browser, options).await;
            }
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(task));
        } else {
            // No runtime (dropped at exit): the context goes when the browser does.
            drop(task);
            let browser = released;
            browser.active.fetch_sub(1, Ordering::SeqCst);
            self.close_if_done(&browser);
        }
    }

    /// Closes a retiring browser once its last page is gone.
    fn close_if_done(&self, browser: &Arc<PooledBrowser>) {
        if browser.retiring.load(Ordering::SeqCst)
            && browser.active.load(Ordering::SeqCst) == 0
            && !browser.launched.closing.swap(true, Ordering::SeqCst)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(close_browser(browser.clone()));
        }
    }
}

/// Stops a browser: its pages fail at once, the CDP connection is dropped from our side, the
/// process is killed (the profile is deleted anyway, so nothing is lost) and its profile removed.
async fn close_browser(browser: Arc<PooledBrowser>) {
    let launched = &browser.launched;
    launched.closing.store(true, Ordering::SeqCst);
    launched.life.mark_gone("the browser was closed".to_string());
    drop(browser.spare.lock().await.take());
    launched.kill_and_wait(Duration::from_secs(5)).await;
    tracing::debug!(pid = launched.pid, "closed Chromium");
}
