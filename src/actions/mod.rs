//! Notification channels: what alarm transitions are delivered through.
//!
//! One file per channel type behind one small trait, [`Channel`] (the model is Gatus'
//! `alerting/provider/<name>`): [`webhook`], [`slack`], [`exec`], [`email`]. Adding a channel is
//! one new file plus one line in [`build`].
//!
//! The [`Dispatcher`] is what the alarm engine calls: [`Dispatcher::dispatch`] never blocks; it
//! spawns one delivery per channel, each retried with exponential backoff (1s, 2s, 4s, 8s: five
//! attempts by default), each attempt under the channel's `timeout` (default 10s) and logged with
//! the channel, the alarm and the outcome. A failing or slow channel never delays the caller or
//! the other channels. Channel URLs and passwords are never logged: at most the channel's name and
//! host.
//!
//! ```no_run
//! # async fn demo(config: &aviary::spec::model::ProjectFile) {
//! use aviary::actions::{Dispatcher, Notification};
//! let dispatcher = Dispatcher::new(&config.channels, std::path::Path::new("."));
//! let notification = Notification {
//!     alarm: "homepage-availability".into(),
//!     old_state: "OK".into(),
//!     new_state: "ALARM".into(),
//!     reason: "Threshold Crossed".into(),
//!     time: chrono::Utc::now(),
//!     canary: Some("homepage".into()),
//!     description: None,
//!     dashboard_url: None,
//! };
//! dispatcher.dispatch(&["ops".to_string()], notification);
//! dispatcher.flush(std::time::Duration::from_secs(30)).await; // on shutdown
//! # }
//! ```

pub mod email;
pub mod exec;
pub mod slack;
pub mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::spec::model::{ChannelKind, ChannelSpec};

/// Version of the JSON payload sent by `webhook` and `exec` (the `version` field).
pub const PAYLOAD_VERSION: u32 = 1;
/// A delivery attempt's time limit when the channel sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Delay before the first retry; doubled before each next one.
pub const DEFAULT_FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Attempts per delivery, the first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// A boxed, sendable future (what [`Channel::deliver`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One alarm state change to tell people about.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Notification {
    pub alarm: String,
    pub old_state: String,
    pub new_state: String,
    pub reason: String,
    pub time: DateTime<Utc>,
    pub canary: Option<String>,
    pub description: Option<String>,
    pub dashboard_url: Option<String>,
}

impl Notification {
    /// The documented JSON payload (webhook body, exec stdin).
    pub fn payload(&self) -> Value {
        json!({
            "version": PAYLOAD_VERSION,
            "alarm": self.alarm,
            "old_state": self.old_state,
            "new_state": self.new_state,
            "reason": self.reason,
            "time": self.time_rfc3339(),
            "canary": self.canary,
            "description": self.description,
            "dashboard_url": self.dashboard_url,
        })
    }

    /// `time` as RFC 3339 in UTC with milliseconds, e.g. `2025-01-01T12:00:00.000Z`.
    pub fn time_rfc3339(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// A way of delivering a notification. One implementation per file of this module.
pub trait Channel: Send + Sync {
    /// One delivery attempt. `Err` carries a message for the log (never a secret); the
    /// dispatcher retries and bounds the attempt by the channel's timeout.
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>>;
}

/// Builds the channel a spec describes. `base_dir` is the project folder (relative `exec`
/// commands are resolved against it). `Err` when the spec cannot work (e.g. an invalid URL).
pub fn build(spec: &ChannelSpec, base_dir: &Path) -> Result<Arc<dyn Channel>, String> {
    Ok(match spec.kind {
        ChannelKind::Webhook => Arc::new(webhook::Webhook::new(spec)?),
        ChannelKind::Slack => Arc::new(slack::Slack::new(spec)?),
        ChannelKind::Exec => Arc::new(exec::Exec::new(spec, base_dir)?),
        ChannelKind::Email => Arc::new(email::Email::new(spec)?),
    })
}

/// A configured channel: what to log it as and how long an attempt may take.
struct Configured {
    channel: Result<Arc<dyn Channel>, String>,
    timeout: Duration,
}

struct Inner {
    channels: BTreeMap<String, Configured>,
    first_backoff: Duration,
    max_attempts: u32,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// Delivers notifications to the project's channels. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("channels", &self.inner.channels.keys().collect::<Vec<_>>())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// The project's channels; `base_dir` is the project folder (for relative `exec` commands).
    /// A channel that cannot be built is logged now and again at each dispatch to it.
    pub fn new(channels: &BTreeMap<String, ChannelSpec>, base_dir: &Path) -> Dispatcher {
        let channels = channels
            .iter()
            .map(|(name, spec)| {
                let channel = build(spec, base_dir);
                if let Err(e) = &channel {
                    tracing::error!(channel = %name, "channel cannot be used: {e}");
                }
                let timeout = spec.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
                (name.clone(), Configured { channel, timeout })
            })
            .collect();
        Dispatcher {
            inner: Arc::new(Inner {
                channels,
                first_backoff: DEFAULT_FIRST_BACKOFF,
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
            }),
        }
    }

    /// The same channels with another retry schedule: `max_attempts` attempts (at least 1),
    /// waiting `first` before the first retry and doubling it each time. Call before dispatching.
    #[must_use]
    pub fn with_backoff(self, first: Duration, max_attempts: u32) -> Dispatcher {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            channels: shared
                .channels
                .iter()
                .map(|(k, c)| (k.clone(), Configured { channel: c.channel.clone(), timeout: c.timeout }))
                .collect(),
            first_backoff: shared.first_backoff,
            max_attempts: shared.max_attempts,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
        });
        Dispatcher {
            inner: Arc::new(Inner { first_backoff: first, max_attempts: max_attempts.max(1), ..inner }),
        }
    }

    /// Names of the configured channels.
    pub fn channel_names(&self) -> Vec<String> {
        self.inner.channels.keys().cloned().collect()
    }

    /// Deliveries started and not yet finished (successfully or after the last attempt).
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Sends `notification` to each named channel, in the background: one spawned delivery per
    /// channel, retried with backoff, every attempt logged. Returns at once. Unknown channel
    /// names are logged as errors. Must be called inside a Tokio runtime (else logged, dropped).
    pub fn dispatch(&self, channel_names: &[String], notification: Notification) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(alarm = %notification.alarm, "notification dropped: no Tokio runtime to deliver it");
            return;
        };
        let notification = Arc::new(notification);
        let mut seen: Vec<&str> = Vec::new();
        for name in channel_names {
            if seen.contains(&name.as_str()) {
                continue;
            }
            seen.push(name);
            let Some(configured) = self.inner.channels.get(name) else {
                tracing::error!(
                    channel = %name,
                    alarm = %notification.alarm,
                    "notification not sent: unknown channel `{name}` (not in the project file's `channels`)"
                );
                continue;
            };
            let channel = match &configured.channel {
                Ok(channel) => channel.clone(),
                Err(e) => {
                    tracing::error!(channel = %name, alarm = %notification.alarm, "notification not sent: {e}");
                    continue;
                }
            };
            self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
            let guard = InFlight(self.inner.clone());
            let job = Delivery {
                name: name.clone(),
                channel,
                timeout: configured.timeout,
                first_backoff: self.inner.first_backoff,
                max_attempts: self.inner.max_attempts,
                notification: notification.clone(),
            };
            runtime.spawn(async move {
                job.run().await;
                drop(guard);
            });
        }
    }

    /// Waits until no delivery is in flight, or `deadline` has passed (then logs how many were
    /// abandoned; they keep running in the background while the runtime lives).
    pub async fn flush(&self, deadline: Duration) {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            let left = self.in_flight();
            if left == 0 {
                return;
            }
            if tokio::time::timeout_at(end, idle).await.is_err() {
                let left = self.in_flight();
                if left > 0 {
                    tracing::warn!("{left} notification deliveries still in flight after {deadline:?}");
                }
                return;
            }
        }
    }
}

/// Decrements the in-flight count when a delivery ends, even if its task panics or is aborted.
struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

struct Delivery {
    name: String,
    channel: Arc<dyn Channel>,
    timeout: Duration,
    first_backoff: Duration,
    max_attempts: u32,
    notification: Arc<Notification>,
}

impl Delivery {
    async fn run(self) {
        let n = &*self.notification;
        let mut backoff = self.first_backoff;
        for attempt in 1..=self.max_attempts {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(self.timeout, self.channel.deliver(n)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("timed out after {:?}", self.timeout)),
            };
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match outcome {
                Ok(()) => {
                    tracing::info!(
                        channel = %self.name, alarm = %n.alarm, new_state = %n.new_state, attempt, elapsed_ms,
                        outcome = "delivered", "notification delivered"
                    );
                    return;
                }
                Err(e) if attempt < self.max_attempts => {
                    tracing::warn!(
                        channel = %self.name, alarm = %n.alarm, new_state = %n.new_state, attempt, elapsed_ms,
                        outcome = "failed", retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        "notification attempt {attempt}/{} failed: {e}", self.max_attempts
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(e) => {
                    tracing::error!(
                        channel = %self.name, alarm = %n.alarm, new_state = %n.new_state, attempt, elapsed_ms,
                        outcome = "gave_up", "notification not delivered after {attempt} attempts: {e}"
                    );
                }
            }
        }
    }
}

/// The last `max` bytes of `text` (on a char boundary), trimmed, for error messages.
pub(crate) fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}
