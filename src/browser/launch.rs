//! Starting one Chromium process, connecting to it over CDP and noticing when it goes away.
//!
//! The process is spawned here (not by chromiumoxide) so that we own it: a watcher task waits
//! for it to exit, which is how a crash is noticed within milliseconds, and then removes its
//! profile directory. chromiumoxide only gets the DevTools WebSocket URL.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::error::CdpError;
use chromiumoxide::handler::HandlerConfig;
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::sync::{oneshot, watch};

use super::BrowserError;

/// Flags every browser gets. Headless (new mode), no sandbox (we usually run as root in a
/// container), and everything that makes Chromium phone home, update or throttle turned off.
const BASE_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--disable-breakpad",
    "--disable-extensions",
    "--disable-component-extensions-with-background-pages",
    "--disable-default-apps",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-back-forward-cache",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--disable-client-side-phishing-detection",
    "--disable-field-trial-config",
    "--disable-search-engine-choice-screen",
    // The last four matter most: by default every new context's window builds WebUI omnibox
    // popups (an extra ~150 MB renderer each) and a spare renderer for the wrong profile, which
    // doubled the CPU a run costs.
    "--disable-features=Translate,MediaRouter,DialMediaRouteProvider,OptimizationHints,PaintHolding,\
     AcceptCHFrame,CertificateTransparencyComponentUpdater,HttpsUpgrades,LensOverlay,\
     DestroyProfileOnBrowserClose,PreloadTopChromeWebUI,SpareRendererForSitePerProcess,\
     WebUIOmniboxPopup,WebUIOmniboxAimPopup",
    "--no-service-autorun",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--force-color-profile=srgb",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-port=0",
    // No initial tab: every page lives in its own context, created on demand.
    "--no-startup-window",
];

/// How many trailing stderr lines are kept for error messages.
const STDERR_TAIL: usize = 20;

/// "This browser is gone" (crashed, closed or unreachable), with the reason, observable by every
/// page so that calls fail at once instead of waiting for their timeout.
#[derive(Clone, Debug)]
pub(crate) struct Life {
    tx: Arc<watch::Sender<Option<String>>>,
}

impl Life {
    pub(crate) fn new() -> Self {
        Life { tx: Arc::new(watch::Sender::new(None)) }
    }

    /// Records the reason the first time; later calls are ignored. True when this call did it.
    pub fn mark_gone(&self, reason: String) -> bool {
        self.tx.send_if_modified(|state| {
            if state.is_none() {
                *state = Some(reason);
                true
            } else {
                false
            }
        })
    }

    pub fn gone_reason(&self) -> Option<String> {
        self.tx.borrow().clone()
    }

    pub fn is_gone(&self) -> bool {
        self.tx.borrow().is_some()
    }

    /// Resolves (with the reason) once the browser is gone.
    pub async fn gone(&self) -> String {
        let mut rx = self.tx.subscribe();
        let reason = rx.wait_for(Option::is_some).await.map(|reason| reason.clone().unwrap_or_default());
        match reason {
            Ok(reason) => reason,
            // Unreachable: `self` keeps the sender alive.
            Err(_) => std::future::pending().await,
        }
    }
}

/// A running Chromium with its CDP connection.
pub(crate) struct Launched {
    pub browser: Browser,
    pub pid: u32,
    pub user_agent: String,
    pub life: Life,
    /// Set before an intended shutdown, so that the exit is not counted as a crash.
    pub closing: Arc<AtomicBool>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    exited: watch::Receiver<bool>,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched").field("pid", &self.pid).finish_non_exhaustive()
    }
}

impl Launched {
    /// Kills the process (if still running) and waits, at most `wait`, until it has exited and
    /// its profile directory is removed.
    pub async fn kill_and_wait(&self, wait: Duration) {
        if let Some(kill) = self.kill.lock().expect("kill lock").take() {
            let _ = kill.send(());
        }
        let mut exited = self.exited.clone();
        let _ = tokio::time::timeout(wait, exited.wait_for(|done| *done)).await;
    }
}

/// What the launcher needs to know about the pool.
pub(crate) struct LaunchSpec<'a> {
    pub executable: &'a Path,
    pub extra_args: &'a [String],
    pub launch_timeout: Duration,
    pub command_timeout: Duration,
    /// Called once when the process has exited: `true` when it was not asked to.
    pub on_exit: Box<dyn FnOnce(bool) + Send + 'static>,
}

/// Profile directories are `<tmp>/aviary-chromium-<uuid>`, with the owner's pid in this file.
const PROFILE_PREFIX: &str = "aviary-chromium-";
const OWNER_FILE: &str = "aviary.pid";

/// Starts Chromium with a fresh profile directory and connects to it.
pub(crate) async fn launch(spec: LaunchSpec<'_>) -> Result<Launched, BrowserError> {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| drop(tokio::task::spawn_blocking(sweep_stale_profiles)));

    let data_dir = std::env::temp_dir().join(format!("{PROFILE_PREFIX}{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir)
        .and_then(|()| std::fs::write(data_dir.join(OWNER_FILE), std::process::id().to_string()))
        .map_err(|e| {
            BrowserError::Launch(format!(
                "could not create the profile directory {}: {e}",
                data_dir.display()
            ))
        })?;

    let mut command = Command::new(spec.executable);
    command
        .args(BASE_ARGS)
        .arg(format!("--user-data-dir={}", data_dir.display()))
        .args(spec.extra_args.iter().map(|a| normalize_arg(a)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            remove_dir(&data_dir).await;
            return Err(BrowserError::Launch(format!("could not start {}: {e}", spec.executable.display())));
        }
    };
    let pid = child.id().unwrap_or_default();
    let stderr = child.stderr.take().expect("stderr is piped");
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));

    let ws_url = match tokio::time::timeout(spec.launch_timeout, read_ws_url(stderr, tail.clone())).await {
        Ok(Some(url)) => url,
        Ok(None) => {
            let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            let status = match status {
                Ok(Ok(status)) => status.to_string(),
                _ => "no exit status".to_string(),
            };
            let _ = child.kill().await;
            remove_dir(&data_dir).await;
            return Err(BrowserError::Launch(format!(
                "{} exited during startup ({status}){}",
                spec.executable.display(),
                tail_text(&tail)
            )));
        }
        Err(_) => {
            let _ = child.kill().await;
            remove_dir(&data_dir).await;
            return Err(BrowserError::Launch(format!(
                "{} did not print its DevTools address within {:?}{}",
                spec.executable.display(),
                spec.launch_timeout,
                tail_text(&tail)
            )));
        }
    };

    let handler_config = HandlerConfig {
        // A monitor must notice a bad certificate rather than click through it.
        ignore_https_errors: false,
        ignore_invalid_messages: true,
        viewport: None,
        context_ids: Vec::new(),
        request_timeout: spec.command_timeout.max(Duration::from_secs(60)),
        request_intercept: false,
        cache_enabled: true,
    };
    let connected = tokio::time::timeout(
        spec.launch_timeout,
        Browser::connect_with_config(ws_url.clone(), handler_config),
    )
    .await;
    let (browser, mut handler) = match connected {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => {
            let _ = child.kill().await;
            remove_dir(&data_dir).await;
            return Err(BrowserError::Launch(format!("could not connect to Chromium at {ws_url}: {e}")));
        }
        Err(_) => {
            let _ = child.kill().await;
            remove_dir(&data_dir).await;
            return Err(BrowserError::Launch(format!(
                "could not connect to Chromium at {ws_url} within {:?}",
                spec.launch_timeout
            )));
        }
    };

    let life = Life::new();
    let closing = Arc::new(AtomicBool::new(false));
    let (kill_tx, kill_rx) = oneshot::channel::<()>();
    let (exited_tx, exited_rx) = watch::channel(false);

    // The process watcher: the first to know about a crash.
    {
        let life = life.clone();
        let closing = closing.clone();
        let tail = tail.clone();
        let on_exit = spec.on_exit;
        tokio::spawn(async move {
            let status = watch_process(&mut child, kill_rx).await;
            let intended = closing.load(Ordering::SeqCst);
            let reason = if intended {
                "the browser was closed".to_string()
            } else if status.contains("signal") {
                format!("browser process exited unexpectedly ({status})")
            } else {
                format!("browser process exited unexpectedly ({status}){}", tail_text(&tail))
            };
            if !intended {
                tracing::warn!(pid, "{reason}");
            }
            // The pool counts the crash before anyone waiting on `life` can look at its figures.
            on_exit(!intended);
            life.mark_gone(reason);
            remove_dir(&data_dir).await;
            let _ = exited_tx.send(true);
        });
    }

    // The CDP handler: drives the connection; errors are logged, a lost connection ends it.
    {
        let life = life.clone();
        let exited = exited_rx.clone();
        tokio::spawn(async move {
            let lost = loop {
                tokio::select! {
                    event = handler.next() => match event {
                        Some(Ok(())) => {}
                        Some(Err(e)) if is_fatal(&e) => break format!("lost the DevTools connection to Chromium: {e}"),
                        Some(Err(e)) => tracing::debug!(pid, "CDP handler: {e}"),
                        None => break "the DevTools connection to Chromium closed".to_string(),
                    },
                    _ = life.gone() => return,
                }
            };
            // Usually the process died: let the watcher report that with its exit status.
            let mut exited = exited;
            let _ = tokio::time::timeout(Duration::from_millis(500), exited.wait_for(|done| *done)).await;
            if life.mark_gone(lost.clone()) {
                tracing::warn!(pid, "{lost}");
            }
        });
    }

    let launched = Launched {
        browser,
        pid,
        user_agent: String::new(),
        life,
        closing,
        kill: Mutex::new(Some(kill_tx)),
        exited: exited_rx,
    };
    let version = tokio::time::timeout(spec.command_timeout, launched.browser.version()).await;
    match version {
        Ok(Ok(version)) => Ok(Launched { user_agent: version.user_agent, ..launched }),
        Ok(Err(e)) => {
            launched.closing.store(true, Ordering::SeqCst);
            launched.kill_and_wait(Duration::from_secs(5)).await;
            Err(BrowserError::Launch(format!("Chromium did not answer Browser.getVersion: {e}")))
        }
        Err(_) => {
            launched.closing.store(true, Ordering::SeqCst);
            launched.kill_and_wait(Duration::from_secs(5)).await;
            Err(BrowserError::Launch(format!(
                "Chromium did not answer Browser.getVersion within {:?}",
                spec.command_timeout
            )))
        }
    }
}

/// Waits for the process to exit, killing it when asked to (or when the asker goes away).
async fn watch_process(child: &mut Child, kill: oneshot::Receiver<()>) -> String {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("could not wait for it: {e}"),
    }
}

/// Reads stderr until Chromium prints `DevTools listening on ws://...`; keeps draining (and
/// remembering the last lines) in the background afterwards so the pipe never fills up.
async fn read_ws_url(stderr: ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) -> Option<String> {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(url) = line.split("listening on ").nth(1).filter(|u| u.starts_with("ws://")) {
            let url = url.trim().to_string();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::trace!(target: "aviary::browser::chromium", "{line}");
                    push_tail(&tail, line);
                }
            });
            return Some(url);
        }
        push_tail(&tail, line);
    }
    None
}

fn push_tail(tail: &Mutex<VecDeque<String>>, line: String) {
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    let mut tail = tail.lock().expect("stderr tail lock");
    if tail.len() == STDERR_TAIL {
        tail.pop_front();
    }
    tail.push_back(line.chars().take(300).collect());
}

/// `: last stderr lines` for error messages, or nothing.
fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    let tail = tail.lock().expect("stderr tail lock");
    if tail.is_empty() {
        return String::new();
    }
    let last: Vec<&str> = tail.iter().rev().take(3).rev().map(String::as_str).collect();
    format!("; stderr: {}", last.join(" | "))
}

fn is_fatal(error: &CdpError) -> bool {
    matches!(error, CdpError::Ws(_) | CdpError::Io(_))
}

/// `no-sandbox` and `--no-sandbox` both mean `--no-sandbox`.
fn normalize_arg(arg: &str) -> String {
    if arg.starts_with('-') { arg.to_string() } else { format!("--{arg}") }
}

/// Removes profile directories left behind by an aviary process that was killed: those whose
/// owner process is gone (or, without an owner file, older than a day).
fn sweep_stale_profiles() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_profile =
            path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(PROFILE_PREFIX));
        if !is_profile || !path.is_dir() {
            continue;
        }
        let stale = match std::fs::read_to_string(path.join(OWNER_FILE)) {
            Ok(pid) => {
                let pid = pid.trim();
                pid != std::process::id().to_string() && !Path::new("/proc").join(pid).exists()
            }
            Err(_) => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(24 * 3600)),
        };
        if stale && cfg!(target_os = "linux") {
            tracing::debug!("removing stale Chromium profile {}", path.display());
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

async fn remove_dir(dir: &PathBuf) {
    // Chromium's helper processes can still be writing for a moment after the browser exits.
    for attempt in 0..5 {
        match tokio::fs::remove_dir_all(dir).await {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) if attempt == 4 => {
                tracing::warn!("could not remove Chromium profile {}: {e}", dir.display());
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_get_dashes() {
        assert_eq!(normalize_arg("no-sandbox"), "--no-sandbox");
        assert_eq!(normalize_arg("--lang=de"), "--lang=de");
    }

    #[tokio::test]
    async fn life_reports_first_reason_only() {
        let life = Life::new();
        assert!(!life.is_gone());
        assert!(life.mark_gone("first".into()));
        assert!(!life.mark_gone("second".into()));
        assert_eq!(life.gone().await, "first");
    }
}
