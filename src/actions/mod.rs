//! Notification channels: what alarm transitions are delivered through.
//!
//! One module per channel type, each owning its settings type, their checks and the delivery
//! behind one small trait, [`Channel`] (the model is Gatus' `alerting/provider/<name>`):
//! [`webhook`], [`slack`], [`exec`], [`email`], [`pagerduty`], [`opsgenie`], [`teams`],
//! [`discord`], [`ntfy`], [`telegram`]. The [`registry`] maps the `type:` of a channel to its
//! module: adding a channel is one new module plus one line there. What they share lives in
//! [`http`] (checked URLs, one JSON `POST`) and [`template`] (the `template:` every channel takes).
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

pub mod discord;
pub mod email;
pub mod exec;
pub(crate) mod http;
pub mod ntfy;
pub mod opsgenie;
pub mod pagerduty;
pub mod registry;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod template;
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
use tracing::Instrument;

use crate::spec::Section;
use crate::spec::de::Located;

pub use registry::{ChannelConfig, Ready, build, check_channels};

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
    /// The alarm's name.
    pub alarm: String,
    /// The state it left: `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub old_state: String,
    /// The state it entered.
    pub new_state: String,
    /// Why, in one line (e.g. `Threshold Crossed: …`).
    pub reason: String,
    /// When the transition happened.
    pub time: DateTime<Utc>,
    /// The canary the alarm watches (`None` for project-level and composite alarms).
    pub canary: Option<String>,
    /// The alarm's `description`, when set.
    pub description: Option<String>,
    /// A link to the alarm's history on the daemon's server, when known (starts with
    /// `server.public_url`).
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

    /// [`Self::payload`] with the channel's rendered `template` as `message`, when there is one.
    pub fn payload_with(&self, message: Option<&str>) -> Value {
        let mut payload = self.payload();
        if let (Some(message), Some(fields)) = (message, payload.as_object_mut()) {
            fields.insert("message".into(), message.into());
        }
        payload
    }

    /// One line: `homepage-availability is ALARM (was OK)`.
    pub fn headline(&self) -> String {
        format!("{} is {} (was {})", self.alarm, self.new_state, self.old_state)
    }

    /// The alarm's description (when set) and the reason, a blank line apart: the default text
    /// of the card channels (`teams`, `discord`), which show the rest as fields.
    pub fn details(&self) -> String {
        let description = self.description.as_deref().filter(|d| !d.is_empty());
        description.into_iter().chain([self.reason.as_str()]).collect::<Vec<_>>().join("\n\n")
    }

    /// The default plain-text message of the chat and paging channels: the alarm's description
    /// (when set), the reason, then the canary, the time and the dashboard link, one per line.
    pub fn text(&self) -> String {
        let mut lines = Vec::new();
        if let Some(description) = self.description.as_deref().filter(|d| !d.is_empty()) {
            lines.push(description.to_string());
        }
        if !self.reason.is_empty() {
            lines.push(self.reason.clone());
        }
        if let Some(canary) = &self.canary {
            lines.push(format!("Canary: {canary}"));
        }
        lines.push(format!("Time: {}", self.time_rfc3339()));
        if let Some(url) = &self.dashboard_url {
            lines.push(format!("Dashboard: {url}"));
        }
        lines.join("\n")
    }

    /// `time` as RFC 3339 in UTC with milliseconds, e.g. `2025-01-01T12:00:00.000Z`.
    pub fn time_rfc3339(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// A way of delivering a notification. One implementation per module of this one.
pub trait Channel: Send + Sync {
    /// One delivery attempt. The error never carries a secret (it is logged); the dispatcher
    /// retries and bounds the attempt by the channel's timeout.
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>>;
}

/// Why a channel could not be built or a delivery attempt failed. Never holds a URL, header or
/// password: at most a host or a program.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChannelError {
    /// The channel's settings have problems (`aviary validate` shows them in full).
    #[error("invalid settings at {}", paths(.problems))]
    Invalid {
        /// The problems, each at its place in the file.
        problems: Vec<Located>,
    },
    /// A value passed validation but cannot be used (a URL completed only at run time).
    #[error("`{key}`: expected {expected}")]
    Unusable {
        /// The settings key, e.g. `url`.
        key: &'static str,
        /// What the value should have been.
        expected: &'static str,
    },
    /// An HTTP receiver answered, but not with a 2xx status.
    #[error("{host} answered HTTP {status}{}", suffix(.body))]
    Status {
        /// The receiver's host.
        host: String,
        /// The HTTP status code.
        status: u16,
        /// The end of the answer's body (at most 200 characters).
        body: String,
    },
    /// No HTTP answer.
    #[error("POST to {host} failed: {reason}")]
    Post {
        /// The receiver's host.
        host: String,
        /// What went wrong (connection, TLS, timeout…).
        reason: String,
    },
    /// An `exec` program could not be started.
    #[error("could not start {program}: {reason}")]
    Start {
        /// The program.
        program: String,
        /// The system's error.
        reason: String,
    },
    /// Waiting for an `exec` program to end failed.
    #[error("waiting for {program}: {reason}")]
    Wait {
        /// The program.
        program: String,
        /// The system's error.
        reason: String,
    },
    /// The program ended with another exit code than 0 (`code` is `None` when killed by a signal).
    #[error("{program}: {}{}", exit_text(*.code), suffix(.stderr))]
    Exit {
        /// The program.
        program: String,
        /// Its exit code.
        code: Option<i32>,
        /// The end of its standard error (at most 500 characters).
        stderr: String,
    },
    /// An `email` delivery failed.
    #[error("SMTP {server}: {source}")]
    Smtp {
        /// The SMTP server, `host:port`.
        server: String,
        /// What failed in the exchange.
        source: email::SmtpError,
    },
    /// The attempt took longer than the channel's `timeout` (the limit).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

fn paths(problems: &[Located]) -> String {
    let paths: Vec<String> = problems.iter().map(|p| p.path.to_string()).collect();
    paths.join(", ")
}

fn suffix(text: &str) -> String {
    if text.is_empty() { String::new() } else { format!(": {text}") }
}

fn exit_text(code: Option<i32>) -> String {
    code.map_or_else(|| "killed by a signal".to_string(), |code| format!("exit code {code}"))
}

struct Inner {
    channels: BTreeMap<String, Result<Ready, ChannelError>>,
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
    pub fn new(channels: &BTreeMap<String, Section>, base_dir: &Path) -> Dispatcher {
        let channels = channels
            .iter()
            .map(|(name, section)| {
                let channel = build(section, base_dir);
                if let Err(e) = &channel {
                    tracing::error!(channel = %name, "channel cannot be used: {e}");
                }
                (name.clone(), channel)
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
            channels: shared.channels.clone(),
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
            let ready = match configured {
                Ok(ready) => ready.clone(),
                Err(e) => {
                    tracing::error!(channel = %name, alarm = %notification.alarm, "notification not sent: {e}");
                    continue;
                }
            };
            self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
            let guard = InFlight(self.inner.clone());
            let job = Delivery {
                name: name.clone(),
                channel: ready.channel,
                timeout: ready.timeout,
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
        // Names the channel in what a channel logs itself (a failing template); the lines below
        // carry it as a field already.
        let span = tracing::info_span!("channel", channel = %self.name);
        let mut backoff = self.first_backoff;
        for attempt in 1..=self.max_attempts {
            let started = Instant::now();
            let attempt_future = self.channel.deliver(n).instrument(span.clone());
            let outcome = match tokio::time::timeout(self.timeout, attempt_future).await {
                Ok(outcome) => outcome,
                Err(_) => Err(ChannelError::Timeout(self.timeout)),
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

/// `text` cut to at most `max` characters, ending with `…` when cut (a service's field limit).
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((end, _)) if text[end..].chars().nth(1).is_some() => format!("{}…", &text[..end]),
        _ => text.to_string(),
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
