//! The daemon's side of the alarm engine: evaluation after each saved run and on a tick, and
//! the adapter from alarm transitions to the notification channels (`crate::actions`).

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;

use super::state::State;
use crate::actions::Dispatcher;
use crate::alarms::{Definitions, Notification, Notifier, SETTLE, TICK};
use crate::spec::Project;

/// Hands transitions to the project's channels (rebuilt on reload).
#[derive(Default)]
pub struct ChannelNotifier {
    dispatcher: Mutex<Option<(Arc<Dispatcher>, String)>>,
}

impl ChannelNotifier {
    pub fn set_project(&self, project: &Project) {
        let dispatcher = Dispatcher::new(&project.config.channels, &project.root);
        let base_url = project.config.server.base_url();
        *self.dispatcher.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Arc::new(dispatcher), base_url));
    }
}

impl ChannelNotifier {
    /// Waits up to `deadline` for the deliveries in flight (retries included) to end.
    pub async fn flush(&self, deadline: std::time::Duration) {
        let dispatcher = self.dispatcher.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some((dispatcher, _)) = dispatcher {
            dispatcher.flush(deadline).await;
        }
    }
}

impl Notifier for ChannelNotifier {
    fn notify(&self, channels: &[String], n: Notification) {
        let dispatcher = self.dispatcher.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let Some((dispatcher, base_url)) = dispatcher else {
            tracing::warn!(alarm = %n.alarm, "no channels loaded; notification dropped");
            return;
        };
        // The daemon's own view of the alarm: its state history, on the API.
        let dashboard_url = format!("{base_url}/alarms/{}", url_path_segment(&n.alarm));
        dispatcher.dispatch(channels, Notification { dashboard_url: Some(dashboard_url), ..n });
    }
}

/// `name` percent-encoded for one URL path segment.
fn url_path_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Applies a (re)loaded project: alarm definitions and channels. Nothing is evaluated here: the
/// stored states (set-state included) hold until each alarm's next evaluation (see
/// [`crate::alarms::Engine::set_definitions`]).
pub fn apply_project(state: &State, project: &Project) {
    let canaries: Vec<crate::spec::Canary> =
        state.lock().canaries.values().map(|l| (*l.canary).clone()).collect();
    state.notifier.set_project(project);
    state.failover.set_project(&project.config);
    state.alarms.set_definitions(Definitions::build(&project.config, &canaries));
}

/// Evaluates the alarms of `canary` after one of its runs was saved.
pub async fn after_run(state: &Arc<State>, canary: &str) {
    if !state.leading.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let engine = state.alarms.clone();
    let canary = canary.to_string();
    let result = tokio::task::spawn_blocking(move || engine.evaluate_canary(&canary, Utc::now())).await;
    log_failure(result);
}

/// Evaluates due alarms every [`TICK`] (so missing data is noticed without runs).
pub async fn tick_loop(state: Arc<State>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if state.leading.load(std::sync::atomic::Ordering::SeqCst) {
            let engine = state.alarms.clone();
            log_failure(tokio::task::spawn_blocking(move || engine.tick(Utc::now())).await);
        }
        let now = Utc::now();
        let wait = state
            .alarms
            .next_due(now)
            .and_then(|at| (at - now).to_std().ok())
            .map_or(TICK, |d| (d + SETTLE).min(TICK));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

fn log_failure<T>(result: Result<Result<T, crate::store::StoreError>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!("alarm evaluation failed: {e}"),
        Err(e) => tracing::warn!("alarm evaluation failed: {e}"),
    }
}
