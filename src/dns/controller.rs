//! The daemon's failover reconciler: for each `failover` entry, on every alarm state change and
//! every [`RESYNC`], reads the record, computes the desired answer and replaces it if different.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::decide::{Answer, Health, decide};
use super::{DnsError, DnsProvider, build_provider, normalize};
use crate::spec::model::{FailoverSpec, ProjectFile};
use crate::store::{FailoverChange, Store, off_thread};

/// How often alarm states are read to notice changes.
pub const POLL: Duration = Duration::from_secs(2);
/// How often every record is checked even without state changes (drift).
pub const RESYNC: Duration = Duration::from_secs(30);
/// Longest wait between retries after errors.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One failover record's status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordStatus {
    /// The `failover` entry's name.
    pub name: String,
    /// The DNS name of the record it manages.
    pub record: String,
    /// The values the record should have now (normalized, sorted).
    pub desired: Vec<String>,
    /// Which answer that is: `primary` or `secondary` (`None` before the first decision).
    pub desired_answer: Option<&'static str>,
    /// The alarm whose state says whether the primary is healthy.
    pub primary_health: String,
    /// The alarm that says whether the secondary is healthy, when one does.
    pub secondary_health: Option<String>,
    /// The values the server last answered (`None` until it was read).
    pub actual: Option<Vec<String>>,
    /// Why the desired answer is what it is, in one line.
    pub why: String,
    /// When aviary last changed the record.
    pub last_change: Option<DateTime<Utc>>,
    /// The last check's or change's error, if it failed.
    pub last_error: Option<String>,
    /// Failed checks or changes since the daemon started.
    pub errors_total: u64,
    #[serde(skip)]
    failures: u32,
    #[serde(skip)]
    retry_at: Option<Instant>,
    #[serde(skip)]
    last_answer: Option<Answer>,
}

#[derive(Default)]
struct Config {
    failover: Vec<FailoverSpec>,
    /// Built once per (re)load, so clients and connections are reused between checks.
    providers: BTreeMap<String, Result<Arc<dyn DnsProvider>, DnsError>>,
}

/// The failover reconciler: holds the project's `failover` entries, their providers and every
/// record's status.
pub struct Controller {
    store: Arc<dyn Store>,
    /// Only log the changes it would make (`aviary daemon --dry-run`), never replace a record.
    pub dry_run: AtomicBool,
    /// Whether this runner drives failover (the leader of a shared store; always, alone).
    pub leading: AtomicBool,
    config: Mutex<Config>,
    status: Mutex<BTreeMap<String, RecordStatus>>,
}

impl Controller {
    /// A controller with no `failover` entries yet, recording changes in `store`.
    pub fn new(store: Arc<dyn Store>) -> Controller {
        Controller {
            store,
            dry_run: AtomicBool::new(false),
            leading: AtomicBool::new(true),
            config: Mutex::new(Config::default()),
            status: Mutex::new(BTreeMap::new()),
        }
    }

    /// Takes the (re)loaded project's `failover` and `dns_providers`.
    pub fn set_project(&self, config: &ProjectFile) {
        let providers =
            config.dns_providers.iter().map(|(name, spec)| (name.clone(), build_provider(spec))).collect();
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) =
            Config { failover: config.failover.clone(), providers };
        let names: Vec<String> = config.failover.iter().map(|f| f.name.clone()).collect();
        self.status.lock().unwrap_or_else(PoisonError::into_inner).retain(|k, _| names.contains(k));
    }

    /// Every record's status, by name.
    pub fn status(&self) -> Vec<RecordStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    /// Polls alarm states until `stop`; reconciles on changes, every [`RESYNC`], and on retries.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_states: Option<BTreeMap<String, String>> = None;
        let mut last_full = Instant::now();
        loop {
            if !self.leading.load(Ordering::SeqCst) {
                // A follower: the leader changes records. Check everything once this one leads.
                last_states = None;
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                continue;
            }
            let states = self.alarm_states().await;
            let changed = last_states.as_ref() != Some(&states);
            let full = changed || last_full.elapsed() >= RESYNC;
            if full {
                last_full = Instant::now();
            }
            self.reconcile(&states, full).await;
            last_states = Some(states);
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Reads the alarm states and checks every record once.
    pub async fn check_once(&self) {
        let states = self.alarm_states().await;
        self.reconcile(&states, true).await;
    }

    async fn alarm_states(&self) -> BTreeMap<String, String> {
        let store = self.store.clone();
        match off_thread(move || store.alarm_states()).await {
            Ok(records) => records.into_iter().map(|r| (r.alarm, r.state)).collect(),
            Err(e) => {
                tracing::error!(error = %e, "failover: cannot read the alarm states");
                BTreeMap::new()
            }
        }
    }

    /// Reconciles every record (`full`) or only those whose retry is due.
    pub async fn reconcile(&self, states: &BTreeMap<String, String>, full: bool) {
        let (failover, providers) = {
            let c = self.config.lock().unwrap_or_else(PoisonError::into_inner);
            (c.failover.clone(), c.providers.clone())
        };
        for f in &failover {
            let (due, last_answer) = {
                let status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
                let s = status.get(&f.name);
                let retry_due = s.and_then(|s| s.retry_at).is_some_and(|t| Instant::now() >= t);
                (full || retry_due || s.is_none(), s.and_then(|s| s.last_answer))
            };
            if !due {
                continue;
            }
            let mut new = self.reconcile_one(f, providers.get(&f.provider), states, last_answer).await;
            let known = self.status.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&f.name);
            if !known && new.last_change.is_none() {
                new.last_change = self.stored_last_change(&f.name).await;
            }
            let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
            let old = status.remove(&f.name).unwrap_or_default();
            status.insert(f.name.clone(), merge(old, new));
        }
    }

    async fn reconcile_one(
        &self,
        f: &FailoverSpec,
        provider: Option<&Result<Arc<dyn DnsProvider>, DnsError>>,
        states: &BTreeMap<String, String>,
        last_answer: Option<Answer>,
    ) -> RecordStatus {
        let primary = Health::parse(states.get(&f.primary_health).map(String::as_str));
        let secondary = f.secondary_health.as_ref().map(|a| Health::parse(states.get(a).map(String::as_str)));
        let mut status = RecordStatus {
            name: f.name.clone(),
            record: f.record.name.clone(),
            primary_health: f.primary_health.clone(),
            secondary_health: f.secondary_health.clone(),
            ..Default::default()
        };
        let provider = match provider {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                status.last_error = Some(format!("DNS provider `{}` cannot be used: {e}", f.provider));
                return status;
            }
            None => {
                status.last_error = Some(format!("unknown DNS provider `{}`", f.provider));
                return status;
            }
        };
        let actual = provider.current(&f.record).await;
        let primary_values = normalize(&f.record.kind, &f.primary);
        let secondary_values = normalize(&f.record.kind, &f.secondary);
        let last_answer = last_answer.or(match &actual {
            Ok(v) if *v == secondary_values => Some(Answer::Secondary),
            Ok(v) if *v == primary_values => Some(Answer::Primary),
            _ => None,
        });
        let decision = decide(primary, secondary, f.insufficient_data, last_answer);
        let desired = match decision.answer {
            Answer::Primary => primary_values,
            Answer::Secondary => secondary_values,
        };
        status.desired = desired.clone();
        status.desired_answer = Some(decision.answer.as_str());
        status.why = decision.why.clone();
        status.last_answer = Some(decision.answer);
        let actual = match actual {
            Ok(v) => v,
            Err(e) => {
                status.last_error = Some(e.to_string());
                return status;
            }
        };
        status.actual = Some(actual.clone());
        if actual == desired {
            return status;
        }
        let drift = last_answer == Some(decision.answer);
        let dry_run = self.dry_run.load(Ordering::Relaxed);
        if dry_run {
            tracing::info!(failover = %f.name, record = %f.record.name, actual = ?actual, desired = ?desired,
                why = %decision.why, "failover (dry run): would replace the record");
            return status;
        }
        if drift {
            tracing::warn!(failover = %f.name, record = %f.record.name, actual = ?actual, desired = ?desired,
                "failover: the record drifted from the desired answer; putting it back");
        } else {
            tracing::info!(failover = %f.name, record = %f.record.name, from = ?actual, to = ?desired,
                why = %decision.why, "failover: switching the record");
        }
        match provider.replace(&f.record, &desired).await {
            Ok(()) => {
                let why = if drift {
                    format!("put back after an edit by hand; {}", decision.why)
                } else {
                    decision.why.clone()
                };
                let change = FailoverChange {
                    failover: f.name.clone(),
                    record: f.record.name.clone(),
                    time: Utc::now(),
                    from: actual,
                    to: desired.clone(),
                    answer: decision.answer.as_str().to_string(),
                    why,
                };
                status.actual = Some(desired);
                status.last_change = Some(change.time);
                self.record_change(change).await;
            }
            Err(e) => status.last_error = Some(e.to_string()),
        }
        status
    }

    async fn record_change(&self, change: FailoverChange) {
        let store = self.store.clone();
        let name = change.failover.clone();
        if let Err(e) = off_thread(move || store.record_failover_change(&change)).await {
            tracing::error!(failover = %name, error = %e, "failover: cannot record the change");
        }
    }

    /// When the record last changed, from the history (a fresh controller, e.g. after a restart).
    async fn stored_last_change(&self, failover: &str) -> Option<DateTime<Utc>> {
        let store = self.store.clone();
        let name = failover.to_string();
        match off_thread(move || store.failover_history(&name, 1)).await {
            Ok(changes) => changes.first().map(|c| c.time),
            Err(e) => {
                tracing::error!(failover, error = %e, "failover: cannot read the history");
                None
            }
        }
    }
}

/// Carries the last change over and schedules retries with backoff after errors.
fn merge(old: RecordStatus, mut new: RecordStatus) -> RecordStatus {
    if new.last_change.is_none() {
        new.last_change = old.last_change;
    }
    new.errors_total = old.errors_total;
    if let Some(e) = &new.last_error {
        new.errors_total += 1;
        new.failures = old.failures.saturating_add(1);
        let backoff = Duration::from_secs(1u64 << new.failures.min(6)).min(MAX_BACKOFF);
        new.retry_at = Some(Instant::now() + backoff);
        tracing::error!(failover = %new.name, record = %new.record, retry_in_s = backoff.as_secs(), "failover: {e}");
    }
    if new.last_answer.is_none() {
        new.last_answer = old.last_answer;
    }
    new
}
