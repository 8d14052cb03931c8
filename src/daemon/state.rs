//! What the daemon knows, shared by the scheduler loop, the reload task and the HTTP server
//! (through [`Backend`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;

use super::reload::Loaded;
use super::scheduler::{QueueError, Scheduler};
use crate::report::{RunReport, RunStatus};
use crate::server::{Backend, BrokenFile, CanaryStatus, DaemonMetrics, Histogram, RunNowError};
use crate::step::Services;
use crate::store::Store;

/// Upper bounds (seconds) of the run duration histograms.
pub const DURATION_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// Upper bounds (seconds) of the start lateness histogram.
pub const LATENESS_BUCKETS: &[f64] =
    &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// What wakes the scheduler loop.
#[derive(Debug)]
pub enum Wake {
    /// The timers or the queue changed (reload, run-now).
    Changed,
    /// A run (with its retries) ended.
    Finished {
        /// The canary that ran.
        canary: String,
        /// The report of the final attempt; `None` when the run produced none.
        last: Option<Box<RunReport>>,
    },
}

/// The mutable part of the daemon's state, behind [`State::lock`].
pub struct Inner {
    /// Every loaded canary, by name.
    pub canaries: BTreeMap<String, Loaded>,
    /// The timers and the run queue.
    pub scheduler: Scheduler,
    /// The files that do not validate, with their problems.
    pub broken_files: Vec<BrokenFile>,
    /// The final attempt of each canary's latest finished run, by canary.
    pub last_runs: BTreeMap<String, Arc<RunReport>>,
    /// Finished attempts by canary and status.
    pub runs_total: BTreeMap<(String, RunStatus), u64>,
    /// Run durations in seconds, by canary.
    pub run_duration_seconds: BTreeMap<String, Histogram>,
    /// How late runs started against their fire time, in seconds.
    pub start_lateness_seconds: Histogram,
    /// Why the scheduler loop stopped while the daemon was not stopping (`/healthz` says 503).
    pub scheduler_failure: Option<String>,
    /// Canaries whose file differs between the runners of a shared store.
    pub version_drift: Vec<crate::store::VersionDrift>,
}

/// The daemon's state. Cheap to share (`Arc`).
pub struct State {
    inner: Mutex<Inner>,
    /// The alarm engine (definitions set on every reload).
    pub alarms: Arc<crate::alarms::Engine>,
    /// Sends alarm notifications to the configured channels.
    pub notifier: Arc<super::alarms::ChannelNotifier>,
    /// The browser pool, store and artifacts root runs use.
    pub services: Arc<Services>,
    /// Wakes the scheduler loop.
    pub wake: UnboundedSender<Wake>,
    /// Set once shutdown begins ([`State::begin_shutdown`]).
    pub shutting_down: AtomicBool,
    /// Wakes retries waiting out their `retry_delay` when shutdown begins.
    stopping: tokio::sync::Notify,
    /// The DNS failover reconciler (records set on every reload).
    pub failover: Arc<crate::dns::controller::Controller>,
    /// Where this daemon checks from.
    pub location: String,
    /// This process among the runners of a shared store: host, process id, a random part.
    pub runner: String,
    /// Whether this runner evaluates alarms (always, alone; the lock holder, on a shared store).
    pub leading: AtomicBool,
}

impl State {
    /// Empty state: no canaries yet, at most `max_concurrency` runs at once.
    pub fn new(
        services: Arc<Services>,
        max_concurrency: usize,
        wake: UnboundedSender<Wake>,
        location: String,
    ) -> Self {
        let notifier = Arc::new(super::alarms::ChannelNotifier::default());
        let alarms = Arc::new(crate::alarms::Engine::new(
            services.store.clone(),
            notifier.clone(),
            crate::alarms::Definitions::default(),
        ));
        let failover = Arc::new(crate::dns::controller::Controller::new(services.store.clone()));
        // Alone, this runner leads; on a shared store, only once it holds the lock.
        let alone = !services.store.is_shared();
        failover.leading.store(alone, Ordering::SeqCst);
        Self {
            failover,
            location,
            runner: runner_id(),
            leading: AtomicBool::new(alone),
            alarms,
            notifier,
            inner: Mutex::new(Inner {
                canaries: BTreeMap::new(),
                scheduler: Scheduler::new(max_concurrency),
                broken_files: Vec::new(),
                last_runs: BTreeMap::new(),
                runs_total: BTreeMap::new(),
                run_duration_seconds: BTreeMap::new(),
                start_lateness_seconds: Histogram::new(LATENESS_BUCKETS),
                scheduler_failure: None,
                version_drift: Vec::new(),
            }),
            services,
            wake,
            shutting_down: AtomicBool::new(false),
            stopping: tokio::sync::Notify::new(),
        }
    }

    /// The mutable state (a poisoned lock is taken over, not a panic).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Shutdown begins: no new runs or retries, and retries waiting for their turn give up.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.stopping.notify_waiters();
    }

    /// Waits `delay`; `false` (at once) when shutdown begins before or meanwhile.
    pub async fn wait_unless_stopping(&self, delay: std::time::Duration) -> bool {
        let stopping = self.stopping.notified();
        tokio::pin!(stopping);
        // Registered before the flag is read: a shutdown in between still wakes this wait.
        stopping.as_mut().enable();
        if self.is_shutting_down() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => !self.is_shutting_down(),
            () = stopping => false,
        }
    }

    /// Counts one finished attempt.
    pub fn record_attempt(&self, report: &RunReport) {
        let mut inner = self.lock();
        *inner.runs_total.entry((report.canary.clone(), report.status)).or_default() += 1;
        inner
            .run_duration_seconds
            .entry(report.canary.clone())
            .or_insert_with(|| Histogram::new(DURATION_BUCKETS))
            .observe(report.duration_ms / 1000.0);
    }
}

/// A loaded canary as the server shows it.
fn status_of(inner: &Inner, name: &str, loaded: &Loaded) -> CanaryStatus {
    let canary = &loaded.canary;
    CanaryStatus {
        name: name.to_string(),
        blueprint: canary.blueprint.as_str().to_string(),
        file: canary.file.clone(),
        enabled: canary.enabled,
        schedule: canary.schedule.to_string(),
        next_fire: inner.scheduler.next_fire(name),
        running: inner.scheduler.is_busy(name),
        tags: canary.spec.tags.clone(),
        last_run: inner.last_runs.get(name).map(|r| (**r).clone()),
    }
}

/// The [`Backend`] the HTTP server reads through.
#[derive(Clone)]
pub struct DaemonBackend(pub Arc<State>);

impl Backend for DaemonBackend {
    fn canaries(&self) -> Vec<CanaryStatus> {
        let inner = self.0.lock();
        inner.canaries.iter().map(|(name, loaded)| status_of(&inner, name, loaded)).collect()
    }

    fn canary(&self, name: &str) -> Option<CanaryStatus> {
        let inner = self.0.lock();
        inner.canaries.get_key_value(name).map(|(name, loaded)| status_of(&inner, name, loaded))
    }

    fn broken_files(&self) -> Vec<BrokenFile> {
        self.0.lock().broken_files.clone()
    }

    fn version_drift(&self) -> Vec<crate::store::VersionDrift> {
        self.0.lock().version_drift.clone()
    }

    fn unhealthy(&self) -> Option<String> {
        self.0.lock().scheduler_failure.clone()
    }

    fn run_now(&self, canary: &str) -> Result<(), RunNowError> {
        if self.0.is_shutting_down() {
            return Err(RunNowError::ShuttingDown);
        }
        let mut inner = self.0.lock();
        if !inner.canaries.contains_key(canary) {
            return Err(RunNowError::UnknownCanary(canary.to_string()));
        }
        if !inner.scheduler.contains(canary) {
            // Disabled canaries have no timer; run-now still runs them once.
            let schedule = crate::spec::Schedule::Once;
            inner.scheduler.insert(canary, schedule, Utc::now(), None);
        }
        match inner.scheduler.run_now(canary, Utc::now()) {
            Ok(()) => {}
            Err(QueueError::Busy) => return Err(RunNowError::AlreadyRunning(canary.to_string())),
            Err(QueueError::Unknown) => return Err(RunNowError::UnknownCanary(canary.to_string())),
        }
        drop(inner);
        tracing::info!(canary, "run requested through the API");
        let _ = self.0.wake.send(Wake::Changed);
        Ok(())
    }

    fn store(&self) -> Arc<dyn Store> {
        self.0.services.store.clone()
    }

    fn artifacts_root(&self) -> PathBuf {
        self.0.services.artifacts_root.clone()
    }
    fn object_copies(&self) -> Option<crate::store::ObjectCopies> {
        self.0.services.object_copies.clone()
    }

    fn baselines_root(&self) -> Option<PathBuf> {
        Some(self.0.services.baselines_root.clone())
    }

    fn canary_source(&self, name: &str) -> Option<String> {
        let canary = self.0.lock().canaries.get(name)?.canary.clone();
        let text = std::fs::read_to_string(&canary.file).ok()?;
        Some(crate::runner::canary_redactor(&canary).redact_text(&text).into_owned())
    }

    fn alarms(&self) -> Result<Vec<crate::alarms::AlarmStatus>, crate::store::StoreError> {
        self.0.alarms.statuses()
    }

    fn alarm_history(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Option<Vec<crate::store::AlarmTransition>>, crate::store::StoreError> {
        if !self.0.alarms.definitions().contains(name) {
            return Ok(None);
        }
        self.0.services.store.alarm_history(name, limit).map(Some)
    }

    fn set_alarm_state(
        &self,
        name: &str,
        state: crate::alarms::AlarmState,
        reason: &str,
    ) -> Result<Vec<crate::store::AlarmTransition>, crate::alarms::SetStateError> {
        tracing::info!(alarm = name, state = %state, "alarm state set through the API");
        self.0.alarms.set_state(name, state, reason, Utc::now())
    }

    fn metrics(&self) -> DaemonMetrics {
        let inner = self.0.lock();
        DaemonMetrics {
            runs_total: inner.runs_total.clone(),
            run_duration_seconds: inner.run_duration_seconds.clone(),
            start_lateness_seconds: inner.start_lateness_seconds.clone(),
            skipped_fires_total: inner.scheduler.skipped().iter().map(|(k, v)| (k.clone(), *v)).collect(),
            queued_runs: inner.scheduler.queued(),
            running_runs: inner.scheduler.running(),
            browser: self.0.services.browser.stats(),
            failover: self.0.failover.status(),
            location: self.0.services.location.clone(),
        }
    }
}

/// A name for this process among runners: `host:pid:random`.
fn runner_id() -> String {
    let host = crate::spec::model::machine_name();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &random[..8])
}
