//! Several daemons on one shared store (PostgreSQL): each schedule slot of each canary in a
//! location runs once, on the runner that claims it; a slot whose runner died is taken over by
//! another; one runner leads (evaluates alarms, drives DNS failover).
//!
//! Runs at the daemon's start or after a reload are not claimed, and so not made: with a shared
//! store a canary runs in its slots only, or several runners starting together would each run
//! it. Run-now through the API runs where it was asked.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;

use super::scheduler::{Start, Trigger};
use super::state::State;
use crate::spec::Canary;
use crate::store::{SlotClaim, off_thread};

/// How often a runner looks for abandoned slots and asks for (or confirms) the leader's lock.
pub const POLL: Duration = Duration::from_secs(5);
/// Added to a run's longest time (every attempt and retry delay) to make its claim's lease.
const LEASE_MARGIN: Duration = Duration::from_secs(15);
/// Abandoned slots taken per look.
const TAKEOVER_BATCH: usize = 100;

/// What to do with a start.
pub enum Decision {
    /// Run it; when claimed, mark the claim done afterwards.
    Run(Option<SlotClaim>),
    /// Not this runner's: another holds the slot, or a shared store makes no start runs.
    Skip(&'static str),
}

/// How long a claim holds before another runner may take the slot over: the longest the run
/// can take, every attempt included.
fn lease(canary: &Canary) -> Duration {
    let attempts = u32::from(canary.retries) + 1;
    let delays: Duration = (1..attempts).map(|retry| canary.retry_delay(retry)).sum();
    canary.timeout * attempts + delays + LEASE_MARGIN
}

fn claim_for(state: &State, canary: &Canary, start: &Start) -> SlotClaim {
    let expires =
        Utc::now() + chrono::Duration::from_std(lease(canary)).unwrap_or(chrono::Duration::hours(24));
    SlotClaim {
        canary: canary.name.clone(),
        location: state.location.clone(),
        slot: start.due,
        runner: state.runner.clone(),
        expires,
    }
}

/// Decides whether this runner makes `start`.
pub async fn decide(state: &Arc<State>, canary: &Canary, start: &Start) -> Decision {
    let store = state.services.store.clone();
    if !store.is_shared() {
        return Decision::Run(None);
    }
    match start.trigger {
        Trigger::Api => Decision::Run(None),
        Trigger::Start | Trigger::Reload => {
            Decision::Skip("a shared store runs canaries in their slots only")
        }
        Trigger::Schedule => {
            let claim = claim_for(state, canary, start);
            let asked = claim.clone();
            match off_thread(move || store.claim_slot(&asked)).await {
                Ok(true) => Decision::Run(Some(claim)),
                Ok(false) => Decision::Skip("another runner claimed the slot"),
                Err(e) => {
                    tracing::warn!(canary = %canary.name, error = %e, "could not claim the slot; not running it");
                    Decision::Skip("the slot could not be claimed")
                }
            }
        }
    }
}

/// Marks a claimed slot done once its run is saved.
pub async fn finish(state: &Arc<State>, claim: SlotClaim) {
    let store = state.services.store.clone();
    let canary = claim.canary.clone();
    if let Err(e) = off_thread(move || store.finish_slot(&claim)).await {
        tracing::warn!(canary = %canary, error = %e, "could not mark the slot done");
    }
}

/// Every [`POLL`]: takes over slots of this location whose runner died (their claim expired
/// unfinished) and queues their runs here.
pub async fn takeover_loop(state: Arc<State>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let store = state.services.store.clone();
    if !store.is_shared() {
        return;
    }
    loop {
        if !state.is_shutting_down() {
            take_over(&state).await;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn take_over(state: &Arc<State>) {
    let store = state.services.store.clone();
    let location = state.location.clone();
    let abandoned =
        match off_thread(move || store.abandoned_slots(&location, Utc::now(), TAKEOVER_BATCH)).await {
            Ok(slots) => slots,
            Err(e) => return tracing::warn!(error = %e, "could not look for abandoned slots"),
        };
    for slot in abandoned {
        if !state.lock().canaries.contains_key(&slot.canary) {
            continue;
        }
        // Queued like any slot: the run claims it as it starts ([`decide`]), so of several
        // runners queueing one abandoned slot, one runs it. A canary busy here now is left for
        // the next look.
        let queued = state.lock().scheduler.queue_slot(&slot.canary, slot.slot);
        match queued {
            Ok(()) => {
                tracing::info!(canary = %slot.canary, slot = %slot.slot, from = %slot.runner, "taking over a slot its runner left unfinished");
                let _ = state.wake.send(super::state::Wake::Changed);
            }
            Err(e) => {
                tracing::debug!(canary = %slot.canary, ?e, "an abandoned slot waits: its canary is busy here");
            }
        }
    }
}

/// Every [`POLL`]: asks for the leader's lock (or confirms it is still held). Only the leader
/// evaluates alarms and drives DNS failover; when it dies, the next runner to ask leads.
pub async fn leader_loop(state: Arc<State>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let store = state.services.store.clone();
    if !store.is_shared() {
        return;
    }
    loop {
        let asking = store.clone();
        let leads = off_thread(move || asking.try_lead()).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not reach the store to lead; following meanwhile");
            false
        });
        let led = state.leading.swap(leads, Ordering::SeqCst);
        state.failover.leading.store(leads, Ordering::SeqCst);
        if leads && !led {
            tracing::info!(runner = %state.runner, "this runner leads: it evaluates alarms and drives failover");
        } else if led && !leads {
            tracing::info!(runner = %state.runner, "another runner leads alarms and failover");
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// How often a runner shares the versions of its canary files with the others.
const VERSIONS_EVERY: Duration = Duration::from_secs(60);
/// A runner not heard from for this long no longer counts in the comparison.
const VERSIONS_STALE: chrono::TimeDelta = chrono::TimeDelta::minutes(3);

/// Every [`VERSIONS_EVERY`] (the first soon after start): shares which version of each canary
/// file this runner loaded and learns which canaries differ between runners; logs a change of
/// that list and keeps it for the dashboard.
pub async fn versions_loop(state: Arc<State>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let store = state.services.store.clone();
    if !store.is_shared() {
        return;
    }
    let mut wait = POLL;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = VERSIONS_EVERY;
        let versions: Vec<(String, String)> = state
            .lock()
            .canaries
            .iter()
            .map(|(name, loaded)| (name.clone(), loaded.canary.version.clone()))
            .collect();
        let (sharing, runner) = (store.clone(), state.runner.clone());
        let now = Utc::now();
        let stale = now - VERSIONS_STALE;
        let shared = off_thread(move || sharing.share_canary_versions(&runner, &versions, now, stale)).await;
        let drift = match shared {
            Ok(drift) => drift,
            Err(error) => {
                tracing::warn!(%error, "could not compare canary versions with the other runners");
                continue;
            }
        };
        let before = std::mem::replace(&mut state.lock().version_drift, drift.clone());
        if drift != before {
            for canary in &drift {
                let seen: Vec<String> = canary
                    .versions
                    .iter()
                    .map(|(v, runners)| format!("{v} on {}", runners.join(", ")))
                    .collect();
                tracing::warn!(canary = %canary.canary, versions = %seen.join("; "), "runners run different versions of this canary file");
            }
        }
    }
}
