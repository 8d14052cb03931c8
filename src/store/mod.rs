//! Run history (runs, steps, metric datapoints, alarm and failover history) behind the narrow
//! [`Store`] trait, and the artifact folder layout.
//!
//! Nothing outside this module writes SQL. [`SqliteStore`] keeps one machine's history in a file;
//! [`PostgresStore`] keeps the history several daemons share ([`open`] picks by the setting).
//!
//! Redaction happens before anything reaches the store (see `runner::redact`): the store keeps
//! what it is given.

mod copy;
pub mod layout;
mod object_copies;
mod postgres;
pub mod retention;
mod rows;
mod sqlite;

pub use copy::{CopyCounts, copy_history};
pub use object_copies::{ObjectCopies, ObjectCopyError};
pub use postgres::{PG_SCHEMA_VERSION, PostgresStore, is_postgres_url, shown_url};
pub use sqlite::{SCHEMA_VERSION, SqliteStore};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::{Datapoint, RunReport, RunStatus};

/// The shortest run-id prefix [`Store::run`] accepts in place of a whole run id (like git).
pub const MIN_RUN_ID_PREFIX: usize = 6;

/// Where runs and their metrics are kept.
pub trait Store: Send + Sync {
    /// Saves a run, its steps and its datapoints in one transaction. Saving a run whose
    /// `run_id` is already stored replaces it (steps and datapoints included).
    fn save_run(&self, report: &RunReport, datapoints: &[Datapoint]) -> Result<(), StoreError>;

    /// A page of a canary's runs, newest (by start) first.
    fn runs(&self, canary: &str, page: RunPage) -> Result<Vec<RunSummary>, StoreError>;

    /// One run's full report, by its id or by a prefix of at least [`MIN_RUN_ID_PREFIX`]
    /// characters that matches exactly one run. `Ok(None)` when nothing matches (or the prefix
    /// is too short); [`StoreError::AmbiguousRunId`] when the prefix matches several runs.
    fn run(&self, run_id: &str) -> Result<Option<RunReport>, StoreError>;

    /// The latest run (by start) of every canary that has one, ordered by canary name.
    fn latest_runs(&self) -> Result<Vec<RunSummary>, StoreError>;

    /// The datapoints matching `query`, oldest first.
    fn datapoints(&self, query: &MetricQuery) -> Result<Vec<Datapoint>, StoreError>;

    /// Every datapoint one run left, in the order they were saved.
    fn run_datapoints(&self, run_id: &str) -> Result<Vec<Datapoint>, StoreError>;

    /// Runs of `canary` that started before `older_than`: passed runs when `status_passed`,
    /// every other status otherwise. Oldest first. For the retention sweep.
    fn expired_runs(
        &self,
        canary: &str,
        status_passed: bool,
        older_than: DateTime<Utc>,
    ) -> Result<Vec<RunSummary>, StoreError>;

    /// Deletes these runs with their steps and datapoints, in one transaction; returns how many
    /// runs were deleted (unknown ids are ignored).
    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, StoreError>;

    /// The current state of every alarm that has one, ordered by name.
    fn alarm_states(&self) -> Result<Vec<AlarmRecord>, StoreError>;

    /// Sets an alarm's state and appends the transition to its history, in one transaction.
    fn record_alarm_transition(&self, transition: &AlarmTransition) -> Result<(), StoreError>;

    /// An alarm's transitions, newest first, at most `limit`.
    fn alarm_history(&self, alarm: &str, limit: usize) -> Result<Vec<AlarmTransition>, StoreError>;

    /// Whether a run with exactly this id is stored (cheap: no report is read).
    fn has_run(&self, run_id: &str) -> Result<bool, StoreError>;

    /// Appends a change the failover controller made to a DNS record.
    fn record_failover_change(&self, change: &FailoverChange) -> Result<(), StoreError>;

    /// A failover record's changes, newest first, at most `limit`.
    fn failover_history(&self, failover: &str, limit: usize) -> Result<Vec<FailoverChange>, StoreError>;

    /// Names of the failovers that have changes recorded, sorted.
    fn failovers(&self) -> Result<Vec<String>, StoreError>;

    /// Runs that started in `[since, until)` counted by canary and time bucket, oldest bucket
    /// first: what the dashboard's bars and charts draw without reading every run. Buckets of
    /// whole hours come from hourly totals: `since` counts from the start of its hour.
    fn run_buckets(&self, query: &BucketQuery) -> Result<Vec<RunBucket>, StoreError>;

    /// Mean step durations of one canary's runs in `[since, until)`, by step name and time
    /// bucket (`query.canary` must be set).
    fn step_buckets(&self, query: &BucketQuery) -> Result<Vec<StepBucket>, StoreError>;

    /// Whether several daemons share this store: then each schedule slot is claimed before it
    /// runs, and one of them leads (evaluates alarms, drives failover).
    fn is_shared(&self) -> bool {
        false
    }

    /// Claims a schedule slot for `claim.runner` until `claim.expires`: `true` when this runner
    /// holds it now (nobody had it, this runner had it, or its holder's claim expired before
    /// the slot was done: a runner that died). One runner alone needs no claim: `true`.
    fn claim_slot(&self, claim: &SlotClaim) -> Result<bool, StoreError> {
        let _ = claim;
        Ok(true)
    }

    /// Marks a claimed slot done (its run is saved): nobody takes it over.
    fn finish_slot(&self, claim: &SlotClaim) -> Result<(), StoreError> {
        let _ = claim;
        Ok(())
    }

    /// Slots of `location` whose claim expired before `now` without being done, oldest first,
    /// at most `limit`: runs whose runner died, for another to take over.
    fn abandoned_slots(
        &self,
        location: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SlotClaim>, StoreError> {
        let _ = (location, now, limit);
        Ok(Vec::new())
    }

    /// Tries to be (or stay) the one runner that evaluates alarms: `true` while this process
    /// leads. One runner alone always leads.
    fn try_lead(&self) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Records which version of each canary file `runner` loaded (`(canary, version)`), forgets
    /// runners not heard from since `stale_before`, and returns the canaries whose version
    /// differs between the runners left. One runner alone: none.
    fn share_canary_versions(
        &self,
        runner: &str,
        versions: &[(String, String)],
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<VersionDrift>, StoreError> {
        let _ = (runner, versions, now, stale_before);
        Ok(Vec::new())
    }
}

/// A canary whose file differs between runners of a shared store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDrift {
    /// Name of the canary.
    pub canary: String,
    /// Each version seen, with the runners that loaded it.
    pub versions: Vec<(String, Vec<String>)>,
}

/// One schedule slot of one canary in one location, as claimed by a runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotClaim {
    /// Name of the canary.
    pub canary: String,
    /// The location the slot runs in.
    pub location: String,
    /// The slot: the scheduled fire time.
    pub slot: DateTime<Utc>,
    /// Who claims it (a runner id: host, process and a random part).
    pub runner: String,
    /// Until when the claim holds without the slot being done.
    pub expires: DateTime<Utc>,
}

/// Which runs [`Store::run_buckets`] and [`Store::step_buckets`] count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketQuery {
    /// One canary, or every canary when `None`.
    pub canary: Option<String>,
    /// Inclusive.
    pub since: DateTime<Utc>,
    /// Exclusive.
    pub until: DateTime<Utc>,
    /// Bucket width in seconds (at least 1); buckets start at multiples of it since the epoch.
    pub bucket_secs: i64,
}

/// Runs of one canary in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunBucket {
    /// Name of the canary.
    pub canary: String,
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Runs that passed.
    pub passed: u32,
    /// Every run (any status).
    pub runs: u32,
    /// Mean run duration, in milliseconds.
    pub mean_duration_ms: f64,
}

/// One step's mean duration in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepBucket {
    /// The step's name.
    pub step: String,
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Mean duration of the step, in milliseconds.
    pub mean_duration_ms: f64,
}

/// One change of a failover record's answer (or a drift put back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverChange {
    /// Name of the failover.
    pub failover: String,
    /// The DNS record changed (its name).
    pub record: String,
    /// When the change was made.
    pub time: DateTime<Utc>,
    /// What the server answered before (sorted values).
    pub from: Vec<String>,
    /// What the record answers now (sorted values).
    pub to: Vec<String>,
    /// `primary` or `secondary`.
    pub answer: String,
    /// Why the controller made the change.
    pub why: String,
}

/// An alarm's current state as stored (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmRecord {
    /// Name of the alarm.
    pub alarm: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// Why the alarm is in this state.
    pub reason: String,
    /// When the alarm entered this state.
    pub since: DateTime<Utc>,
}

/// One state change of an alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmTransition {
    /// Name of the alarm.
    pub alarm: String,
    /// When the state changed.
    pub time: DateTime<Utc>,
    /// The state before.
    pub old_state: String,
    /// The state after.
    pub new_state: String,
    /// Why the state changed.
    pub reason: String,
}

/// Which page of runs [`Store::runs`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunPage {
    /// At most this many runs.
    pub limit: usize,
    /// Only runs that started strictly before this instant (the `start` of the last run of the
    /// previous page); `None` for the first page.
    pub before: Option<DateTime<Utc>>,
    /// Only runs that ended so; every run when `None`.
    pub status: Option<RunStatus>,
}

impl RunPage {
    /// The first page of `limit` runs.
    pub fn first(limit: usize) -> Self {
        Self { limit, before: None, status: None }
    }
}

/// One row of run history: what listings show without loading the whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub run_id: String,
    /// Name of the canary that ran.
    pub canary: String,
    /// Which attempt of the scheduled run this was, from 1.
    pub attempt: u32,
    /// The run's outcome.
    pub status: RunStatus,
    /// Why the run did not pass, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the run started.
    pub start: DateTime<Utc>,
    /// How long the run took, in milliseconds.
    pub duration_ms: f64,
    /// The run's folder, relative to the artifacts root.
    pub artifacts: String,
}

/// Which datapoints [`Store::datapoints`] returns: one metric of one canary in `[since, until)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    /// Name of the canary.
    pub canary: String,
    /// Name of the metric.
    pub metric: String,
    /// The `step` dimension: `Some(name)` for that step's datapoints, `None` for the run-level
    /// datapoints (those without a step dimension), as CloudWatch matches dimensions exactly.
    pub step: Option<String>,
    /// Inclusive.
    pub since: DateTime<Utc>,
    /// Exclusive.
    pub until: DateTime<Utc>,
}

/// Why a store call made off the async workers failed.
#[derive(Debug, thiserror::Error)]
pub enum OffThreadError {
    /// The store said no.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The call's task panicked or was cancelled.
    #[error("the store call stopped: {0}")]
    Stopped(#[from] tokio::task::JoinError),
}

/// Runs a (blocking) store call on the blocking pool, off the async workers.
pub async fn off_thread<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, OffThreadError> {
    Ok(tokio::task::spawn_blocking(call).await??)
}

/// What went wrong in the store. Every message names the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder for the database could not be created.
    #[error("could not create the folder {path} for the database {db}: {source}")]
    CreateDir {
        /// Path of the database.
        db: String,
        /// The folder that could not be created.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("could not open the database {db}: {source}")]
    Open {
        /// Path of the database.
        db: String,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// Migrating the schema to a newer version failed.
    #[error("could not migrate the database {db} to schema version {version}: {source}")]
    Migrate {
        /// Path of the database.
        db: String,
        /// The schema version being migrated to.
        version: u32,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// The database was written by a newer aviary.
    #[error(
        "the database {db} has schema version {found}, newer than this aviary supports \
         ({supported}); use a newer aviary"
    )]
    SchemaTooNew {
        /// Path of the database.
        db: String,
        /// The database's schema version.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },
    /// A read or write failed.
    #[error("could not {what} in the database {db}: {source}")]
    Query {
        /// Path of the database.
        db: String,
        /// What was being done, e.g. `save run 0b6f…`.
        what: String,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// A stored row could not be read back.
    #[error("corrupt row in the database {db}: {what}")]
    Corrupt {
        /// Path of the database.
        db: String,
        /// Which row, and what is wrong with it.
        what: String,
    },
    /// A run id prefix matches more than one run.
    #[error(
        "run id prefix `{prefix}` is ambiguous in the database {db}: it matches {}",
        matches.join(", ")
    )]
    AmbiguousRunId {
        /// Path of the database.
        db: String,
        /// The prefix given.
        prefix: String,
        /// The run ids it matches.
        matches: Vec<String>,
    },
}

/// The error a backend reports underneath a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
