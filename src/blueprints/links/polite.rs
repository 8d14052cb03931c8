//! Politeness toward the sites checked: at most `concurrency` requests in flight to one host, at
//! least `interval` between the starts of two requests to it, and the waits a `429` or `503`
//! asks for (`Retry-After`), else an exponential backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Retries of a request answered `429` or `503`, at most.
pub const MAX_RETRIES: u32 = 3;
/// The first backoff when the server gives no `Retry-After`; doubled for each next retry.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest `Retry-After` honoured (a longer one is reported, not waited for).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The per-host limits of one run.
pub struct Hosts {
    concurrency: usize,
    interval: Duration,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

struct Host {
    in_flight: Arc<Semaphore>,
    next_start: tokio::sync::Mutex<Instant>,
}

impl Hosts {
    /// Limits of `concurrency` requests at once and `interval` between starts, per host.
    pub fn new(concurrency: usize, interval: Duration) -> Self {
        Self { concurrency: concurrency.max(1), interval, hosts: Mutex::new(HashMap::new()) }
    }

    /// Waits for a turn to send to `host`; the turn lasts as long as the permit is held.
    pub async fn turn(&self, host: &str) -> OwnedSemaphorePermit {
        let host = {
            let mut hosts = self.hosts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            hosts
                .entry(host.to_ascii_lowercase())
                .or_insert_with(|| {
                    Arc::new(Host {
                        in_flight: Arc::new(Semaphore::new(self.concurrency)),
                        next_start: tokio::sync::Mutex::new(Instant::now()),
                    })
                })
                .clone()
        };
        let permit = host.in_flight.clone().acquire_owned().await.expect("the semaphore is never closed");
        if !self.interval.is_zero() {
            let mut next = host.next_start.lock().await;
            tokio::time::sleep_until(*next).await;
            *next = Instant::now() + self.interval;
        }
        permit
    }
}

/// How long to wait before retry number `retry` (1-based) of a request answered `429`/`503`:
/// the `Retry-After` header (seconds or an HTTP date) when given, else the backoff.
pub fn retry_wait(retry_after: Option<&str>, retry: u32, now: DateTime<Utc>) -> Duration {
    retry_after
        .and_then(|value| parse_retry_after(value, now))
        .unwrap_or_else(|| FIRST_BACKOFF * 2u32.saturating_pow(retry.saturating_sub(1)))
}

fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date_else_backoff() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(retry_wait(Some("2"), 1, now), Duration::from_secs(2));
        assert_eq!(retry_wait(Some("Thu, 01 Jan 2026 00:00:03 GMT"), 1, now), Duration::from_secs(3));
        assert_eq!(retry_wait(Some("Wed, 31 Dec 2025 00:00:00 GMT"), 1, now), Duration::ZERO);
        assert_eq!(retry_wait(Some("soon"), 1, now), FIRST_BACKOFF);
        assert_eq!(retry_wait(None, 3, now), FIRST_BACKOFF * 4);
    }

    #[tokio::test]
    async fn one_host_gets_its_interval_and_concurrency() {
        use futures::FutureExt;
        let hosts = Hosts::new(1, Duration::from_millis(40));
        let started = Instant::now();
        let first = hosts.turn("a.test").await;
        assert!(hosts.turn("a.test").now_or_never().is_none(), "one request at a time to a host");
        let _other_host = hosts.turn("b.test").await;
        drop(first);
        let _second = hosts.turn("A.TEST").await;
        assert!(started.elapsed() >= Duration::from_millis(40), "the same host waits its interval");
    }
}
