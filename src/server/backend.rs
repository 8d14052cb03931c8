//! What the HTTP server asks of the daemon. The daemon (`src/daemon/`) implements
//! [`Backend`]; the server (`crate::server`) only reads through it, so each can change alone.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::alarms::{AlarmState, AlarmStatus, SetStateError};
use crate::browser::PoolStats;
use crate::dns::controller::RecordStatus;
use crate::report::{RunReport, RunStatus};
use crate::store::{AlarmTransition, Store, StoreError};

/// One canary as the daemon sees it now.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryStatus {
    /// The canary's name.
    pub name: String,
    /// The canary's blueprint.
    pub blueprint: String,
    /// The canary file it was loaded from.
    pub file: PathBuf,
    /// Whether the canary runs on its schedule.
    pub enabled: bool,
    /// As written (`rate(5 minutes)`, `cron(...)`, `once`).
    pub schedule: String,
    /// When the canary is next scheduled to run; `None` when no run is scheduled.
    pub next_fire: Option<DateTime<Utc>>,
    /// Whether a run is in progress.
    pub running: bool,
    /// The canary's tags.
    pub tags: BTreeMap<String, String>,
    /// The final attempt of the latest finished run.
    pub last_run: Option<RunReport>,
}

/// A file that does not validate, as the daemon last read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenFile {
    /// The file.
    pub file: PathBuf,
    /// Its problems, as `file:line:col: message` lines.
    pub problems: Vec<String>,
    /// Whether an earlier version of the file is still in use; `false` for a file that has not
    /// validated since the daemon started (its canaries do not run).
    pub previous_version: bool,
}

/// A Prometheus-style histogram: cumulative bucket counts by upper bound (seconds).
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    /// `(le, cumulative count)`, ascending; `+Inf` is implied by `count`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observed values.
    pub sum: f64,
    /// Number of observed values.
    pub count: u64,
}

impl Histogram {
    /// A histogram with these upper bounds (seconds).
    pub fn new(bounds: &[f64]) -> Self {
        Self { buckets: bounds.iter().map(|b| (*b, 0)).collect(), sum: 0.0, count: 0 }
    }

    /// Counts `value` in every bucket whose bound it does not exceed.
    pub fn observe(&mut self, value: f64) {
        for (le, count) in &mut self.buckets {
            if value <= *le {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }
}

/// Counters and histograms of the daemon, snapshotted for `/metrics`.
#[derive(Debug, Clone)]
pub struct DaemonMetrics {
    /// Finished runs (every attempt) by canary and status.
    pub runs_total: BTreeMap<(String, RunStatus), u64>,
    /// Run durations by canary.
    pub run_duration_seconds: BTreeMap<String, Histogram>,
    /// How late runs started against their scheduled fire time.
    pub start_lateness_seconds: Histogram,
    /// Fires skipped because the canary's previous run was still going, by canary.
    pub skipped_fires_total: BTreeMap<String, u64>,
    /// Runs due but waiting for a free slot.
    pub queued_runs: usize,
    /// Runs in progress.
    pub running_runs: usize,
    /// The browser pool's counters.
    pub browser: PoolStats,
    /// Each DNS failover record's last check.
    pub failover: Vec<RecordStatus>,
    /// The daemon's `location`, added to every series as the label `location` (none when the
    /// daemon names no location).
    pub location: Option<String>,
}

/// Why a run-now request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunNowError {
    /// No canary has this name.
    #[error("no canary named `{0}`")]
    UnknownCanary(String),
    /// The canary has a run in progress.
    #[error("canary `{0}` is already running")]
    AlreadyRunning(String),
    /// The daemon is stopping and starts no runs.
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

/// The daemon as the server sees it.
pub trait Backend: Send + Sync + 'static {
    /// Every loaded canary, sorted by name.
    fn canaries(&self) -> Vec<CanaryStatus>;
    /// One loaded canary.
    fn canary(&self, name: &str) -> Option<CanaryStatus> {
        self.canaries().into_iter().find(|c| c.name == name)
    }
    /// The files that do not validate, sorted by file.
    fn broken_files(&self) -> Vec<BrokenFile>;
    /// Canaries whose file differs between the runners sharing the store (none alone).
    fn version_drift(&self) -> Vec<crate::store::VersionDrift> {
        Vec::new()
    }
    /// Starts a run of the canary now (outside its schedule).
    fn run_now(&self, canary: &str) -> Result<(), RunNowError>;
    /// The run history.
    fn store(&self) -> Arc<dyn Store>;
    /// The artifacts root: run folders are relative to it.
    fn artifacts_root(&self) -> PathBuf;
    /// The object store run folders are copied to (`artifacts.url`), if any.
    fn object_copies(&self) -> Option<crate::store::ObjectCopies> {
        None
    }
    /// The daemon's counters and histograms now.
    fn metrics(&self) -> DaemonMetrics;
    /// Why the daemon cannot do its job (a task it needs has stopped), or `None` when healthy.
    fn unhealthy(&self) -> Option<String> {
        None
    }

    /// The canary's file as loaded, its secrets' values replaced by `***`; `None` for a canary
    /// not loaded (blocking: may read the file).
    fn canary_source(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    /// The folder visual baselines are kept in; `None` when this daemon keeps none.
    fn baselines_root(&self) -> Option<PathBuf> {
        None
    }

    /// Every alarm with its state (blocking: reads the store).
    fn alarms(&self) -> Result<Vec<AlarmStatus>, StoreError> {
        Ok(Vec::new())
    }
    /// An alarm's transitions, newest first; `None` for an unknown alarm (blocking).
    fn alarm_history(&self, name: &str, limit: usize) -> Result<Option<Vec<AlarmTransition>>, StoreError> {
        let _ = (name, limit);
        Ok(None)
    }
    /// `set-state`: holds until the alarm's next evaluation (blocking).
    fn set_alarm_state(
        &self,
        name: &str,
        state: AlarmState,
        reason: &str,
    ) -> Result<Vec<AlarmTransition>, SetStateError> {
        let _ = (state, reason);
        Err(SetStateError::UnknownAlarm(name.to_string()))
    }
}
