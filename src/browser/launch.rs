//! Starting one Chromium process, connecting to it over CDP and noticing when it goes away.
//!
//! The process is spawned here (not by chromiumoxide) so that we own it: it dies with the aviary
//! process (see `orphans.rs`), a watcher waits for it to exit, which is how a crash is noticed
//! within milliseconds, and then removes its profile directory. chromiumoxide only gets the
//! DevTools WebSocket URL.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::error::CdpError;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::{Browser, Handler};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::ChildStderr;
use tokio::sync::{oneshot, watch};

use super::BrowserError;
use super::orphans::{ProcessId, Registry, kill_tree, spawn_with_parent_death_signal, wrapping_shell};

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
    /// The browser's DevTools WebSocket address.
    pub ws_url: String,
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
    /// A browser with windows (for `aviary record`); otherwise headless.
    pub headed: bool,
    pub launch_timeout: Duration,
    pub command_timeout: Duration,
    /// Where the running browser is recorded, so that a later start can reap it.
    pub registry: Option<Arc<Registry>>,
    /// Called once when the process has exited: `true` when it was not asked to.
    pub on_exit: Box<dyn FnOnce(bool) + Send + Sync + 'static>,
}

/// Profile directories are `<tmp>/aviary-chromium-<uuid>`, with the owner's pid in this file.
const PROFILE_PREFIX: &str = "aviary-chromium-";
const OWNER_FILE: &str = "aviary.pid";

/// Starts Chromium with a fresh profile directory and connects to it.
pub(crate) async fn launch(spec: LaunchSpec<'_>) -> Result<Launched, BrowserError> {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| drop(tokio::task::spawn_blocking(sweep_stale_profiles)));

    let profile = create_profile()?;
    let (mut process, stderr) = match Process::start(&spec, &profile).await {
        Ok(started) => started,
        Err(e) => {
            remove_dir(&profile).await;
            return Err(e);
        }
    };
    let connected = connect(&spec, &mut process, stderr).await.and_then(|connected| {
        refuse_wrapping_shell(&process)?;
        Ok(connected)
    });
    let connected = match connected {
        Ok(connected) => connected,
        Err(e) => {
            process.abort().await;
            remove_dir(&profile).await;
            return Err(e);
        }
    };
    let launched = supervise(process, connected, profile, spec.on_exit);
    with_user_agent(launched, spec.command_timeout).await
}

/// Fails (and kills the browser below it) when the executable is a script that started the
/// browser without `exec`: Aviary could not stop that browser, nor could the kernel when Aviary
/// dies.
fn refuse_wrapping_shell(process: &Process) -> Result<(), BrowserError> {
    let Some(shell) = wrapping_shell(process.pid()) else { return Ok(()) };
    if let Some(wrapper) = ProcessId::of(process.pid()) {
        kill_tree(wrapper);
    }
    Err(BrowserError::Launch(format!(
        "{} is a script that runs the browser without `exec` (it stays {shell}), so Aviary could not \
         stop the browser: name the browser's binary instead (Debian: \
         /usr/lib/chromium/chromium-headless-shell or /usr/lib/chromium/chromium), or start it with \
         `exec` in the script",
        process.executable.display()
    )))
}

/// A new, empty profile directory with this process's pid in it (see [`sweep_stale_profiles`]).
fn create_profile() -> Result<PathBuf, BrowserError> {
    let dir = std::env::temp_dir().join(format!("{PROFILE_PREFIX}{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(OWNER_FILE), std::process::id().to_string()))
        .map_err(|e| {
            BrowserError::Launch(format!("could not create the profile directory {}: {e}", dir.display()))
        })?;
    Ok(dir)
}

/// Who may signal the process: only until it has exited, since its pid may be reused once it
/// is reaped.
#[derive(Debug)]
struct ProcessHandle {
    pid: u32,
    exited: Mutex<bool>,
}

impl ProcessHandle {
    #[allow(unsafe_code, reason = "signals a process we started, by pid: libc has no safe wrapper")]
    fn kill(&self) {
        let exited = self.exited.lock().expect("process lock");
        if !*exited {
            // SAFETY: a plain kill(2); the pid is our unreaped child (checked under the lock).
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// Kills the process when dropped: the watcher task holds it, so a runtime shut down without
/// closing the pool does not leave the browser running.
struct KillOnDrop(Arc<ProcessHandle>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill();
    }
}

/// A started Chromium process.
struct Process {
    handle: Arc<ProcessHandle>,
    /// The exit status, once it has exited.
    exit: oneshot::Receiver<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
    executable: PathBuf,
    registry: Option<Arc<Registry>>,
}

impl Process {
    /// Spawns Chromium (with the parent-death signal), records it and starts waiting for its exit.
    async fn start(spec: &LaunchSpec<'_>, profile: &Path) -> Result<(Process, ChildStderr), BrowserError> {
        let mut command = std::process::Command::new(spec.executable);
        command
            .args(BASE_ARGS.iter().filter(|arg| !(spec.headed && arg.starts_with("--headless"))))
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(spec.extra_args.iter().map(|a| normalize_arg(a)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let spawned = tokio::task::spawn_blocking(move || spawn_with_parent_death_signal(command))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let could_not = |e: std::io::Error| {
            BrowserError::Launch(format!("could not start {}: {e}", spec.executable.display()))
        };
        let mut child = spawned.map_err(could_not)?;
        let stderr = child.stderr.take().ok_or_else(|| std::io::Error::other("no stderr pipe"));
        let stderr = stderr.and_then(ChildStderr::from_std);
        let handle = Arc::new(ProcessHandle { pid: child.id(), exited: Mutex::new(false) });
        let process = Process {
            exit: wait_in_thread(child, handle.clone()),
            handle,
            tail: Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL))),
            executable: spec.executable.to_path_buf(),
            registry: spec.registry.clone(),
        };
        process.record();
        match stderr {
            Ok(stderr) => Ok((process, stderr)),
            Err(e) => {
                process.abort().await;
                Err(could_not(e))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.handle.pid
    }

    fn record(&self) {
        let Some(registry) = &self.registry else { return };
        let recorded = match ProcessId::of(self.pid()) {
            Some(id) => registry.record(id).map_err(|e| e.to_string()),
            None => Err(format!("Chromium (pid {}) is not in /proc", self.pid())),
        };
        if let Err(e) = recorded {
            tracing::warn!("a browser left by a killed aviary could not be reaped at restart: {e}");
        }
    }

    fn forget(&self) {
        if let Some(Err(e)) = self.registry.as_ref().map(|r| r.forget(self.pid())) {
            tracing::warn!("{e}");
        }
    }

    /// Waits for the exit status (at most `wait`).
    async fn status_within(&mut self, wait: Duration) -> String {
        match tokio::time::timeout(wait, &mut self.exit).await {
            Ok(Ok(status)) => status,
            _ => "no exit status".to_string(),
        }
    }

    /// Kills a browser that failed to start properly.
    async fn abort(mut self) {
        self.handle.kill();
        self.status_within(Duration::from_secs(5)).await;
        self.forget();
    }
}

/// Waits for the child in a thread of its own (not a runtime's: shutting one down would wait
/// for it). It notes the exit *before* reaping, so that the pid is never signalled after reuse.
fn wait_in_thread(mut child: std::process::Child, handle: Arc<ProcessHandle>) -> oneshot::Receiver<String> {
    let (tx, rx) = oneshot::channel();
    let waiter = move || {
        wait_without_reaping(handle.pid);
        *handle.exited.lock().expect("process lock") = true;
        let status = match child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => format!("could not wait for it: {e}"),
        };
        let _ = tx.send(status);
    };
    if let Err(e) = std::thread::Builder::new().name("aviary-browser-wait".to_string()).spawn(waiter) {
        tracing::warn!("could not start a thread to wait for Chromium: {e}");
    }
    rx
}

/// Blocks until process `pid` (our child) has exited, leaving it a zombie.
#[allow(unsafe_code, reason = "waitid(WNOWAIT) on our own child: libc has no safe wrapper")]
fn wait_without_reaping(pid: u32) {
    loop {
        // SAFETY: `info` is a zeroed siginfo_t owned by this frame; waitid only writes to it.
        let done = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT)
        };
        if done == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// Waits for the DevTools address on stderr and connects to it.
async fn connect(
    spec: &LaunchSpec<'_>,
    process: &mut Process,
    stderr: ChildStderr,
) -> Result<(Browser, Handler, String), BrowserError> {
    let executable = process.executable.display().to_string();
    let url = tokio::time::timeout(spec.launch_timeout, read_ws_url(stderr, process.tail.clone())).await;
    let ws_url = match url {
        Ok(Some(url)) => url,
        Ok(None) => {
            let status = process.status_within(Duration::from_secs(2)).await;
            let tail = tail_text(&process.tail);
            return Err(BrowserError::Launch(format!("{executable} exited during startup ({status}){tail}")));
        }
        Err(_) => {
            return Err(BrowserError::Launch(format!(
                "{executable} did not print its DevTools address within {:?}{}",
                spec.launch_timeout,
                tail_text(&process.tail)
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
    match connected {
        Ok(Ok((browser, handler))) => Ok((browser, handler, ws_url)),
        Ok(Err(e)) => Err(BrowserError::Launch(format!("could not connect to Chromium at {ws_url}: {e}"))),
        Err(_) => Err(BrowserError::Launch(format!(
            "could not connect to Chromium at {ws_url} within {:?}",
            spec.launch_timeout
        ))),
    }
}

/// Starts the two tasks that look after a connected browser: the process watcher and the CDP
/// handler.
fn supervise(
    process: Process,
    (browser, handler, ws_url): (Browser, Handler, String),
    profile: PathBuf,
    on_exit: Box<dyn FnOnce(bool) + Send + Sync + 'static>,
) -> Launched {
    let life = Life::new();
    let closing = Arc::new(AtomicBool::new(false));
    let (kill_tx, kill_rx) = oneshot::channel::<()>();
    let (exited_tx, exited_rx) = watch::channel(false);
    let pid = process.pid();
    let exit =
        ExitWatch { life: life.clone(), closing: closing.clone(), on_exit, profile, exited: exited_tx };
    tokio::spawn(watch_process(process, kill_rx, exit));
    tokio::spawn(drive_handler(handler, pid, life.clone(), exited_rx.clone()));
    Launched {
        browser,
        ws_url,
        pid,
        user_agent: String::new(),
        life,
        closing,
        kill: Mutex::new(Some(kill_tx)),
        exited: exited_rx,
    }
}

/// What happens when the process exits.
struct ExitWatch {
    life: Life,
    closing: Arc<AtomicBool>,
    on_exit: Box<dyn FnOnce(bool) + Send + Sync + 'static>,
    profile: PathBuf,
    exited: watch::Sender<bool>,
}

/// The process watcher, the first to know about a crash: waits for the process to exit, killing
/// it when asked to (or when the asker goes away), then reports and cleans up.
async fn watch_process(mut process: Process, kill: oneshot::Receiver<()>, exit: ExitWatch) {
    let guard = KillOnDrop(process.handle.clone());
    let status = tokio::select! {
        status = &mut process.exit => status.unwrap_or_else(|_| "no exit status".to_string()),
        _ = kill => {
            guard.0.kill();
            process.status_within(Duration::from_secs(30)).await
        }
    };
    process.forget();
    let intended = exit.closing.load(Ordering::SeqCst);
    let reason = if intended {
        "the browser was closed".to_string()
    } else if status.contains("signal") {
        format!("browser process exited unexpectedly ({status})")
    } else {
        format!("browser process exited unexpectedly ({status}){}", tail_text(&process.tail))
    };
    if !intended {
        tracing::warn!(pid = process.pid(), "{reason}");
    }
    // The pool counts the crash before anyone waiting on `life` can look at its figures.
    (exit.on_exit)(!intended);
    exit.life.mark_gone(reason);
    remove_dir(&exit.profile).await;
    let _ = exit.exited.send(true);
}

/// Drives the CDP connection; errors are logged, a lost connection ends the browser's life.
async fn drive_handler(mut handler: Handler, pid: u32, life: Life, mut exited: watch::Receiver<bool>) {
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
    let _ = tokio::time::timeout(Duration::from_millis(500), exited.wait_for(|done| *done)).await;
    if life.mark_gone(lost.clone()) {
        tracing::warn!(pid, "{lost}");
    }
}

/// Asks the browser for its user agent (the first CDP round trip: proof that it answers).
async fn with_user_agent(launched: Launched, timeout: Duration) -> Result<Launched, BrowserError> {
    let version = tokio::time::timeout(timeout, launched.browser.version()).await;
    let failure = match version {
        Ok(Ok(version)) => return Ok(Launched { user_agent: version.user_agent, ..launched }),
        Ok(Err(e)) => format!("Chromium did not answer Browser.getVersion: {e}"),
        Err(_) => format!("Chromium did not answer Browser.getVersion within {timeout:?}"),
    };
    launched.closing.store(true, Ordering::SeqCst);
    launched.kill_and_wait(Duration::from_secs(5)).await;
    Err(BrowserError::Launch(failure))
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

async fn remove_dir(dir: &Path) {
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
