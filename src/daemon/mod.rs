//! `aviary daemon`: the scheduler loop, hot reload, retention and graceful drain.
//!
//! One task owns the timer queue ([`scheduler::Scheduler`], a binary heap of next-fire times):
//! it sleeps until the earliest fire, queues due runs, skips fires of canaries still busy and
//! starts queued runs while `runner.max_concurrency` allows. Each run is a task of its own that
//! tells the loop when it ends. Reloads (file watch, SIGHUP) rebuild the canary set beside it;
//! a retention sweep runs at start and hourly. SIGTERM / SIGINT stop scheduling and drain.
//! See `docs/daemon.md`.

mod alarms;
mod claims;
pub mod reload;
pub mod scheduler;
pub mod state;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use crate::report::{RunReport, RunStatus};
use crate::runner;
use crate::server::Backend;
use crate::spec::Canary;
use crate::step::Services;
use crate::store::retention::{self, RetentionPolicy};
use scheduler::{Scheduler, Start, Trigger};
use state::{DaemonBackend, State, Wake};

/// How often the retention sweep runs (it also runs at start).
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Added to the longest canary timeout to make the default drain deadline (writing artifacts
/// and the database row after a run's timeout).
pub const DRAIN_GRACE: Duration = Duration::from_secs(10);
/// How long file events are collected before a reload.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(300);
/// How long a stopping daemon waits for alarm notifications still being delivered (retries
/// included) after its runs have finished.
pub const NOTIFY_FLUSH: Duration = Duration::from_secs(20);

/// How the daemon was started.
pub struct Options {
    /// `--config` and `--data-dir`, to read the project again on reload.
    pub config: Option<PathBuf>,
    /// `--data-dir`, when given.
    pub data_dir: Option<PathBuf>,
    /// The drain deadline; default: the longest canary timeout plus [`DRAIN_GRACE`].
    pub drain_timeout: Option<Duration>,
    /// `--dry-run`: DNS failover logs what it would change and changes nothing.
    pub dry_run: bool,
    /// Where the HTTP server listens (`server.listen`).
    pub listen: SocketAddr,
    /// The bearer token that guards the API's writes over TCP (`server.token`); without it
    /// those writes are refused.
    pub token: Option<String>,
    /// Where the API is also served without a token, for local commands
    /// (`<data_dir>/aviary.sock`, mode 0600); `None`: no socket.
    pub socket: Option<PathBuf>,
    /// Where this daemon checks from (`location`, `--location`): with a shared store, daemons
    /// of one location share its schedule slots.
    pub location: String,
}

/// The location of a daemon that names none.
pub const DEFAULT_LOCATION: &str = "default";

/// Why the daemon could not start, or stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A signal handler could not be installed.
    #[error("cannot handle {signal}: {source}")]
    Signal {
        /// `SIGTERM`, `SIGINT` or `SIGHUP`.
        signal: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The HTTP address could not be bound.
    #[error("could not listen on {addr} (`server.listen`): {source}")]
    Listen {
        /// `server.listen`.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The HTTP server stopped on its own.
    #[error("{0}")]
    Server(String),
}

/// The signals the daemon answers: SIGTERM and SIGINT stop it, SIGHUP reloads.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self, DaemonError> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &'static str| {
            signal(kind).map_err(|source| DaemonError::Signal { signal: name, source })
        };
        Ok(Self {
            term: install(SignalKind::terminate(), "SIGTERM")?,
            int: install(SignalKind::interrupt(), "SIGINT")?,
            hup: install(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// The next stop signal (a second one during the drain stops without waiting).
    async fn stop(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// The daemon's long-running tasks.
struct Tasks {
    server: JoinHandle<Result<(), crate::server::ServeError>>,
    reloader: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    alarm_ticker: JoinHandle<()>,
    failover: JoinHandle<()>,
    takeover: JoinHandle<()>,
    leader: JoinHandle<()>,
    versions: JoinHandle<()>,
    scheduler: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Tasks {
    /// Tells every task to stop and aborts those that do not wait for runs, then the browsers.
    async fn stop_all(&self, state: &State) {
        let _ = self.stop.send(true);
        let tasks = [
            &self.reloader,
            &self.sweeper,
            &self.alarm_ticker,
            &self.failover,
            &self.scheduler,
            &self.takeover,
            &self.leader,
            &self.versions,
        ];
        for task in tasks {
            task.abort();
        }
        state.services.browser.shutdown().await;
    }
}

/// Runs the daemon until SIGTERM / SIGINT, then drains. `services` holds the store and browser
/// pool of the project as loaded at start.
pub async fn run(
    options: Options,
    services: Arc<Services>,
    max_concurrency: usize,
) -> Result<(), DaemonError> {
    // Runs without a stored row that started before this were left by an earlier process.
    let started = Utc::now();
    let mut signals = Signals::install()?;
    // Bound before anything runs, so a busy port fails the start (and port 0 gets its number).
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| DaemonError::Listen { addr: options.listen, source })?;
    let listen =
        listener.local_addr().map_err(|source| DaemonError::Listen { addr: options.listen, source })?;
    // Removed at a clean stop when `socket_file` is dropped.
    let (unix, socket_file) = bind_socket(options.socket.as_deref()).unzip();

    let (wake_tx, wake_rx) = unbounded_channel();
    let state = Arc::new(State::new(services.clone(), max_concurrency, wake_tx, options.location.clone()));
    state.failover.dry_run.store(options.dry_run, Ordering::Relaxed);
    {
        // Spread rate canaries over their period; see `Scheduler::spread_rates`.
        let mut inner = state.lock();
        inner.scheduler = Scheduler::new(max_concurrency).spread_rates();
    }
    load_last_runs(&state).await;

    // The first load: every enabled canary fires now.
    let (reload_tx, reload_rx) = unbounded_channel::<()>();
    let first = reload_now(&state, &options, Trigger::Start).await;
    let mut watch = watch::FileWatch::new(reload_tx.clone());
    if let Some(project) = &first {
        watch.update(project);
    }
    let loaded = state.lock().canaries.len();
    let socket = socket_file.as_ref().map(|s| s.path().display().to_string()).unwrap_or_default();
    tracing::info!(canaries = loaded, listen = %listen, socket, "daemon started");

    let listeners = (listener, unix);
    let mut tasks = spawn_tasks(&state, &options, listeners, reload_rx, watch, wake_rx, started);
    let signal_name = tokio::select! {
        name = wait_for_stop(&mut signals, &reload_tx) => name,
        result = &mut tasks.server => {
            // The server stopped on its own (it failed to accept connections).
            let message = match result {
                Ok(Err(e)) => e.to_string(),
                Ok(Ok(())) => "the HTTP server stopped".to_string(),
                Err(e) => format!("the HTTP server failed: {e}"),
            };
            state.begin_shutdown();
            tasks.stop_all(&state).await;
            return Err(DaemonError::Server(message));
        }
    };
    drain(&state, &options, &mut signals, &mut tasks, signal_name).await;
    Ok(())
}

/// Binds the Unix socket; without one (an error is logged) the daemon serves TCP only.
fn bind_socket(
    path: Option<&std::path::Path>,
) -> Option<(tokio::net::UnixListener, crate::server::socket::SocketFile)> {
    match crate::server::socket::bind(path?) {
        Ok(bound) => Some(bound),
        Err(e) => {
            tracing::error!("{e}; local commands use server.listen (and server.token for writes)");
            None
        }
    }
}

/// Starts the HTTP server (TCP, and the Unix socket when there is one), hot reload, retention,
/// alarm evaluation, failover and the scheduler.
fn spawn_tasks(
    state: &Arc<State>,
    options: &Options,
    (listener, unix): (tokio::net::TcpListener, Option<tokio::net::UnixListener>),
    reload_rx: UnboundedReceiver<()>,
    watch: watch::FileWatch,
    wake_rx: UnboundedReceiver<Wake>,
    started: chrono::DateTime<Utc>,
) -> Tasks {
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let server = {
        let backend: Arc<dyn Backend> = Arc::new(DaemonBackend(state.clone()));
        let stopped = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let token = options.token.clone();
        let tcp = crate::server::serve_on(listener, backend.clone(), token.clone(), stopped(stop_rx.clone()));
        let local = unix.map(|unix| {
            let limits = crate::server::Limits::default();
            crate::server::serve_unix(unix, backend, token, limits, stopped(stop_rx.clone()))
        });
        tokio::spawn(async move {
            let local = async move {
                if let Some(local) = local {
                    local.await;
                }
            };
            tokio::join!(tcp, local).0
        })
    };
    let reloader = tokio::spawn(reload_loop(
        state.clone(),
        options.config.clone(),
        options.data_dir.clone(),
        reload_rx,
        watch,
    ));
    let sweeper = tokio::spawn(retention_loop(state.clone(), stop_rx.clone(), started));
    let alarm_ticker = tokio::spawn(alarms::tick_loop(state.clone(), stop_rx.clone()));
    let failover = tokio::spawn(state.failover.clone().run(stop_rx.clone()));
    let takeover = tokio::spawn(claims::takeover_loop(state.clone(), stop_rx.clone()));
    let leader = tokio::spawn(claims::leader_loop(state.clone(), stop_rx.clone()));
    let versions = tokio::spawn(claims::versions_loop(state.clone(), stop_rx));
    let scheduler = tokio::spawn({
        let state = state.clone();
        async move {
            if let Err(reason) = scheduler::catch_panic(schedule_loop(state.clone(), wake_rx)).await {
                tracing::error!(%reason, "the scheduler stopped: no canary runs until the daemon restarts");
                state.lock().scheduler_failure = Some(format!("the scheduler stopped: {reason}"));
            }
        }
    });
    Tasks { server, reloader, sweeper, alarm_ticker, failover, scheduler, takeover, leader, versions, stop }
}

/// Waits for SIGTERM or SIGINT; SIGHUP meanwhile asks for a reload.
async fn wait_for_stop(signals: &mut Signals, reload: &UnboundedSender<()>) -> &'static str {
    loop {
        tokio::select! {
            _ = signals.term.recv() => return "SIGTERM",
            _ = signals.int.recv() => return "SIGINT",
            _ = signals.hup.recv() => {
                tracing::info!("SIGHUP: reloading the canary files");
                let _ = reload.send(());
            }
        }
    }
}

/// Drain: no new runs; the ones in flight finish (without further retries) up to the deadline,
/// then notifications still being delivered, then the server.
async fn drain(
    state: &Arc<State>,
    options: &Options,
    signals: &mut Signals,
    tasks: &mut Tasks,
    signal_name: &'static str,
) {
    state.begin_shutdown();
    tasks.reloader.abort();
    let (dropped, in_flight, longest) = {
        let mut inner = state.lock();
        let longest = inner.canaries.values().map(|l| l.canary.timeout).max().unwrap_or_default();
        let in_flight = inner.scheduler.running();
        let queued = inner.scheduler.queued();
        inner.scheduler.clear_queue();
        (queued, in_flight, longest)
    };
    let deadline = options.drain_timeout.unwrap_or(longest + DRAIN_GRACE);
    tracing::info!(
        signal = signal_name,
        in_flight,
        dropped_queued = dropped,
        deadline_s = deadline.as_secs_f64(),
        "stopping: no new runs; waiting for the runs in flight"
    );
    let _ = state.wake.send(Wake::Changed);
    tokio::select! {
        _ = &mut tasks.scheduler => tracing::info!("every run in flight has finished"),
        () = tokio::time::sleep(deadline) => {
            let left = state.lock().scheduler.running();
            tracing::warn!(abandoned = left, "drain deadline passed; runs still in flight are abandoned (nothing half-written is kept)");
        }
        name = signals.stop() => tracing::warn!("second {name}: stopping without waiting"),
    }
    tasks.stop_all(state).await;
    tokio::select! {
        () = state.notifier.flush(NOTIFY_FLUSH) => {}
        name = signals.stop() => tracing::warn!("second {name}: notifications in flight are dropped"),
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), &mut tasks.server).await;
    tracing::info!("daemon stopped");
}

/// The latest finished run of every canary, from the store (for `CanaryStatus::last_run`).
async fn load_last_runs(state: &Arc<State>) {
    let store = state.services.store.clone();
    let found = tokio::task::spawn_blocking(move || {
        let latest = store.latest_runs().map_err(|e| e.to_string())?;
        let mut reports = Vec::new();
        for summary in latest {
            if let Ok(Some(report)) = store.run(&summary.run_id) {
                reports.push(report);
            }
        }
        Ok::<_, String>(reports)
    })
    .await;
    match found {
        Ok(Ok(reports)) => {
            let mut inner = state.lock();
            for report in reports {
                inner.last_runs.insert(report.canary.clone(), Arc::new(report));
            }
        }
        Ok(Err(e)) => tracing::warn!("could not read the latest runs: {e}"),
        Err(e) => tracing::warn!("could not read the latest runs: {e}"),
    }
}

/// Reads the project and canary files again and applies the changes. Returns the project when
/// it loaded (to update the file watches).
async fn reload_now(
    state: &Arc<State>,
    options_config: &Options,
    trigger: Trigger,
) -> Option<crate::spec::Project> {
    reload_with(state, options_config.config.clone(), options_config.data_dir.clone(), trigger).await
}

async fn reload_with(
    state: &Arc<State>,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    trigger: Trigger,
) -> Option<crate::spec::Project> {
    let loaded = tokio::task::spawn_blocking(move || {
        let project = crate::project::load_project(config.as_deref(), data_dir.as_deref())?;
        let (mut canaries, mut problems) = crate::project::load_canaries(&project, &[]);
        // What `aviary validate` checks across files (unique alarm names, references): a canary
        // file with such a problem keeps its previous version, like any file that does not validate.
        let across = crate::project::check_references(&project, &canaries);
        canaries.retain(|c| !across.iter().any(|d| d.file == c.file));
        problems.extend(across);
        Ok::<_, Vec<crate::spec::Diagnostic>>((project, canaries, problems))
    })
    .await;
    let (project, canaries, problems) = match loaded {
        Ok(Ok(loaded)) => loaded,
        Ok(Err(problems)) => {
            for problem in &problems {
                tracing::warn!("{problem}");
            }
            tracing::warn!("the project file does not validate; every canary keeps its previous version");
            // The daemon started with a project file that validated: that version is in use.
            let started = trigger != Trigger::Start;
            state.lock().broken_files = reload::broken_files(&problems, |_| started);
            return None;
        }
        Err(e) => {
            tracing::error!("reload failed: {e}");
            return None;
        }
    };
    for problem in &problems {
        tracing::warn!("{problem}");
    }
    let now = Utc::now();
    let plan = {
        let mut inner = state.lock();
        let plan = reload::plan(&inner.canaries, canaries, &problems);
        for name in plan.added.iter().chain(&plan.changed) {
            let canary = &plan.canaries[name].canary;
            let here = canary.spec.locations.is_empty() || canary.spec.locations.contains(&state.location);
            if canary.enabled && here {
                inner.scheduler.insert(name, canary.schedule.clone(), now, Some(trigger));
            } else {
                inner.scheduler.remove(name);
            }
        }
        for name in &plan.removed {
            inner.scheduler.remove(name);
        }
        inner.scheduler.set_max_concurrency(project.config.runner.max_concurrency);
        inner.broken_files = reload::broken_files(&problems, |file| {
            plan.kept.iter().any(|name| plan.canaries.get(name).is_some_and(|kept| kept.canary.file == file))
        });
        inner.canaries = plan.canaries.clone();
        plan
    };
    if trigger != Trigger::Start {
        for name in &plan.added {
            tracing::info!(canary = %name, "canary added");
        }
        for name in &plan.changed {
            tracing::info!(canary = %name, "canary changed; it runs now and then on its schedule");
        }
        for name in &plan.removed {
            tracing::info!(canary = %name, "canary removed");
        }
    }
    for name in &plan.kept {
        tracing::warn!(canary = %name, "its file does not validate; the previous version keeps running");
    }
    alarms::apply_project(state, &project);
    let _ = state.wake.send(Wake::Changed);
    Some(project)
}

/// Reloads on file events (debounced) and SIGHUP.
async fn reload_loop(
    state: Arc<State>,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    mut events: UnboundedReceiver<()>,
    mut watch: watch::FileWatch,
) {
    while events.recv().await.is_some() {
        // Collect the burst of events an editor or `git checkout` makes.
        while let Ok(Some(())) = tokio::time::timeout(RELOAD_DEBOUNCE, events.recv()).await {}
        if let Some(project) = reload_with(&state, config.clone(), data_dir.clone(), Trigger::Reload).await {
            watch.update(&project);
        }
    }
}

/// The retention sweep, at start and every [`RETENTION_INTERVAL`].
/// The first sweep also removes the folders of runs that a process before `started` never
/// finished (the runs of this process make theirs after `started`).
async fn retention_loop(
    state: Arc<State>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    started: chrono::DateTime<Utc>,
) {
    let mut orphans_before = Some(started);
    loop {
        let policies: BTreeMap<String, RetentionPolicy> = state
            .lock()
            .canaries
            .values()
            .map(|l| {
                let retention = &l.canary.spec.retention;
                (
                    l.canary.name.clone(),
                    RetentionPolicy { success: retention.success.0, failure: retention.failure.0 },
                )
            })
            .collect();
        let services = state.services.clone();
        let orphans = orphans_before.take();
        let swept = tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            let mut deleted = 0;
            if let Some(before) = orphans {
                let removed = retention::sweep_orphans(&*services.store, &services.artifacts_root, before);
                if removed > 0 {
                    tracing::info!(
                        folders_removed = removed,
                        "retention: removed the folders of unfinished runs"
                    );
                }
            }
            // Canaries whose file is gone keep their history for the default retention.
            let stored: Vec<String> = match services.store.latest_runs() {
                Ok(latest) => latest.into_iter().map(|r| r.canary).collect(),
                Err(e) => {
                    tracing::warn!("retention: cannot list the stored canaries: {e}");
                    Vec::new()
                }
            };
            let default = crate::spec::model::Retention::default();
            let default = RetentionPolicy { success: default.success.0, failure: default.failure.0 };
            let removed_canaries: Vec<(String, RetentionPolicy)> = stored
                .into_iter()
                .filter(|name| !policies.contains_key(name))
                .map(|name| (name, default))
                .collect();
            for (name, policy) in policies.into_iter().chain(removed_canaries) {
                match retention::sweep(&*services.store, &services.artifacts_root, &name, policy, now) {
                    Ok(outcome) => {
                        deleted += outcome.runs_deleted;
                        for error in outcome.errors {
                            tracing::warn!(canary = %name, "retention: {error}");
                        }
                    }
                    Err(e) => tracing::warn!(canary = %name, "retention sweep failed: {e}"),
                }
            }
            deleted
        })
        .await;
        if let Ok(deleted) = swept
            && deleted > 0
        {
            tracing::info!(runs_deleted = deleted, "retention sweep");
        }
        tokio::select! {
            () = tokio::time::sleep(RETENTION_INTERVAL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The scheduler loop: sleeps until the next fire or a wake-up, fires due timers, starts runs.
/// Returns once the daemon is shutting down and no run is in flight.
async fn schedule_loop(state: Arc<State>, mut wake: UnboundedReceiver<Wake>) {
    loop {
        let draining = state.is_shutting_down();
        let (starts, skips, running, next) = {
            let mut inner = state.lock();
            let now = Utc::now();
            let skips = if draining { Vec::new() } else { inner.scheduler.fire_due(now) };
            let starts = if draining { Vec::new() } else { inner.scheduler.start_ready(now) };
            for start in &starts {
                if start.trigger == Trigger::Schedule {
                    inner.start_lateness_seconds.observe(start.lateness.as_secs_f64());
                }
            }
            let starts: Vec<(Start, Option<Arc<Canary>>)> = starts
                .into_iter()
                .map(|s| {
                    let canary = inner.canaries.get(&s.canary).map(|l| l.canary.clone());
                    (s, canary)
                })
                .collect();
            (starts, skips, inner.scheduler.running(), inner.scheduler.next_wakeup())
        };
        for skip in skips {
            tracing::info!(
                canary = %skip.canary,
                due = %skip.due.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                "fire skipped: the previous run is still going"
            );
        }
        for (start, canary) in starts {
            match canary {
                Some(canary) => spawn_run(state.clone(), canary, start),
                None => state.lock().scheduler.finished(&start.canary),
            }
        }
        if draining && running == 0 {
            return;
        }
        let sleep = match next {
            Some(at) if !draining => (at - Utc::now()).to_std().unwrap_or_default(),
            _ => Duration::from_secs(3600),
        };
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            message = wake.recv() => match message {
                None => return,
                Some(Wake::Changed) => {}
                Some(Wake::Finished { canary, last }) => {
                    let mut inner = state.lock();
                    inner.scheduler.finished(&canary);
                    if let Some(report) = last {
                        inner.last_runs.insert(canary, Arc::new(*report));
                    }
                }
            },
        }
    }
}

/// Runs a canary with its retries in a task of its own (after claiming its slot, with a shared
/// store); tells the loop when it ends.
fn spawn_run(state: Arc<State>, canary: Arc<Canary>, start: Start) {
    tokio::spawn(async move {
        let name = canary.name.clone();
        let claim = match claims::decide(&state, &canary, &start).await {
            claims::Decision::Run(claim) => claim,
            claims::Decision::Skip(why) => {
                tracing::debug!(canary = %name, due = %start.due, why, "not running this start");
                let _ = state.wake.send(Wake::Finished { canary: name, last: None });
                return;
            }
        };
        let attempts = tokio::spawn(run_attempts(state.clone(), canary, start)).await;
        if let Some(claim) = claim {
            claims::finish(&state, claim).await;
        }
        let last = match attempts {
            Ok(last) => last.map(Box::new),
            Err(e) => {
                tracing::error!(canary = %name, "a run failed unexpectedly: {e}");
                None
            }
        };
        let _ = state.wake.send(Wake::Finished { canary: name, last });
    });
}

/// The attempts of one scheduled run: the first, then up to `retries` more while they fail. No
/// retry starts once the daemon is shutting down. Returns the final attempt.
async fn run_attempts(state: Arc<State>, canary: Arc<Canary>, start: Start) -> Option<RunReport> {
    let mut last = None;
    let attempts = u32::from(canary.retries) + 1;
    for attempt in 1..=attempts {
        if attempt > 1 {
            let delay = canary.retry_delay(attempt - 1);
            if !delay.is_zero() {
                tracing::info!(canary = %canary.name, attempt, delay_ms = delay.as_millis() as u64, "retrying after retry_delay");
            }
            if !state.wait_unless_stopping(delay).await {
                tracing::info!(canary = %canary.name, "no retry: the daemon is stopping");
                break;
            }
        }
        let report = runner::run_attempt(canary.clone(), state.services.clone(), attempt).await;
        state.record_attempt(&report);
        alarms::after_run(&state, &report.canary).await;
        let passed = report.status == RunStatus::Passed;
        let is_final = passed || attempt == attempts;
        tracing::info!(
            canary = %report.canary,
            status = %report.status,
            duration_ms = report.duration_ms.round() as u64,
            attempt,
            final_attempt = is_final,
            trigger = %start.trigger.as_str(),
            late_ms = if attempt == 1 { (start.lateness.as_secs_f64() * 10_000.0).round() / 10.0 } else { 0.0 },
            run_id = %report.run_id,
            reason = report.reason.as_deref().unwrap_or(""),
            "run finished"
        );
        last = Some(report);
        if passed {
            break;
        }
    }
    last
}
