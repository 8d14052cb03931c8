//! Typed model of the fields every canary file has, and of the project file (the reference is
//! `docs/canary-file.md` and `docs/daemon.md`).
//!
//! Every string here has already had `${NAME}` expanded by [`super::expand`]. Durations are
//! humantime strings. A blueprint's own section is not modelled here: the blueprint owns it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::section::Section;

/// A humantime duration such as `500ms`, `30s`, `5m`, `31d`, at most [`HumanDuration::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The longest duration any setting takes (365 days): bounded where it is read, so adding
    /// it to a time or an `Instant` later never overflows.
    pub const MAX: Duration = Duration::from_secs(365 * 86_400);

    /// Parses and bounds a duration; the message says what was expected and what was found.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let shown = super::yaml::shorten(text).into_owned();
        let value = humantime::parse_duration(text.trim())
            .map_err(|e| DurationError::Invalid { shown: shown.clone(), reason: e.to_string() })?;
        if value > Self::MAX {
            return Err(DurationError::TooLong { shown });
        }
        Ok(Self(value))
    }
}

/// A duration setting that does not parse, or is longer than [`HumanDuration::MAX`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a humantime duration.
    #[error("invalid duration {shown:?} ({reason}); expected e.g. 500ms, 30s, 5m, 1h")]
    Invalid {
        /// The text, cut.
        shown: String,
        /// What humantime said.
        reason: String,
    },
    /// Over 365 days.
    #[error("expected a duration up to 365d, found {shown:?}")]
    TooLong {
        /// The text, cut.
        shown: String,
    },
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// A size in bytes: an integer, or a string with a unit — `512B`, `64KB`, `10MB`, `1GB` (powers of
/// 1000) or `64KiB`, `10MiB`, `1GiB` (powers of 1024). Case-insensitive; spaces allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

/// A size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// `10 parsecs`.
    #[error("invalid size {text:?}: unknown unit `{unit}`; expected e.g. 512KB, 10MB, 1MiB")]
    UnknownUnit {
        /// The size as written.
        text: String,
        /// The unit it ends with.
        unit: String,
    },
    /// No number.
    #[error("invalid size {text:?}; expected a number of bytes or e.g. 512KB, 10MB, 1MiB")]
    NotANumber {
        /// The size as written.
        text: String,
    },
    /// More bytes than a 64-bit count holds, or negative.
    #[error("invalid size {text:?}: out of range")]
    OutOfRange {
        /// The size as written.
        text: String,
    },
}

impl ByteSize {
    /// Parses `10MB`, `512 KiB`, `1048576`.
    pub fn parse(text: &str) -> Result<Self, SizeError> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
        let (number, unit) = (&text[..split], text[split..].trim());
        let factor: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" | "k" => 1_000,
            "mb" | "m" => 1_000_000,
            "gb" | "g" => 1_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            _ => return Err(SizeError::UnknownUnit { text: text.to_string(), unit: unit.to_string() }),
        };
        let value: f64 = number.parse().map_err(|_| SizeError::NotANumber { text: text.to_string() })?;
        let bytes = value * factor as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(SizeError::OutOfRange { text: text.to_string() });
        }
        Ok(Self(bytes.round() as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl de::Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 1048576, 512KB, 10MB or 1MiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ByteSize, E> {
                ByteSize::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(SizeVisitor)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, size) in [
            ("GiB", 1u64 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
            ("GB", 1_000_000_000),
            ("MB", 1_000_000),
            ("KB", 1_000),
        ] {
            if n >= size && n.is_multiple_of(size) {
                return write!(f, "{}{unit}", n / size);
            }
        }
        write!(f, "{n} bytes")
    }
}

fn yes() -> bool {
    true
}

/// The fields every canary file has (`docs/canary-file.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryFile {
    /// `name`: the canary's name, `[A-Za-z0-9_-]{1,64}`, unique in the project (default: the file's
    /// stem).
    pub name: Option<String>,
    /// The blueprint's name; its settings are the section of the same name, which the spec layer
    /// hands to the blueprint unread (see [`super::Section`]).
    pub blueprint: String,
    /// `schedule`: `rate(…)`, `cron(…)`, a 5-field cron string or `once`, in UTC (default
    /// `rate(5 minutes)`).
    pub schedule: Option<String>,
    /// `timeout`: limit of the whole run, screenshots included (default 60s); at most the
    /// schedule's period.
    pub timeout: Option<HumanDuration>,
    /// `retries`: extra attempts after a run that did not pass, 0 to 5 (default 0); every attempt
    /// is kept.
    #[serde(default)]
    pub retries: u8,
    /// `retry_delay`: the wait before the first retry, doubled before each next one, at most 5m a
    /// wait (default: none, retry at once).
    pub retry_delay: Option<HumanDuration>,
    /// `enabled`: whether the daemon runs the canary (default `true`); `aviary run` with explicit
    /// paths runs it anyway.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `tags`: free labels.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `env`: variables for `${NAME}`, looked up before the process environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `retention`: how long the daemon keeps runs and artifacts.
    #[serde(default)]
    pub retention: Retention,
    /// `browser`: the page's viewport, user agent suffix and extra headers.
    #[serde(default)]
    pub browser: BrowserOptions,
    /// `report`: what reports and HAR files redact or keep.
    #[serde(default)]
    pub report: ReportOptions,
    /// `screenshots`: when step screenshots are taken.
    #[serde(default)]
    pub screenshots: ScreenshotOptions,
    /// `continue_on_step_failure`: go on with the next step after one fails (default `false`: the
    /// steps after it are `SKIPPED`); the run fails either way.
    #[serde(default)]
    pub continue_on_step_failure: bool,
    /// `alarms`: metric alarms on this canary, evaluated by the daemon.
    #[serde(default)]
    pub alarms: Vec<AlarmSpec>,
    /// `locations`: the daemons' locations this canary runs in (default: every location).
    #[serde(default)]
    pub locations: Vec<String>,
}

/// `retention` of a canary file: how long the daemon keeps runs and their artifacts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// `success`: how long passed runs are kept (default 31d).
    #[serde(default = "Retention::default_days")]
    pub success: HumanDuration,
    /// `failure`: how long every other run (failed, error, timeout) is kept (default 31d).
    #[serde(default = "Retention::default_days")]
    pub failure: HumanDuration,
}

impl Retention {
    fn default_days() -> HumanDuration {
        HumanDuration(Duration::from_secs(31 * 86_400))
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self { success: Self::default_days(), failure: Self::default_days() }
    }
}

/// `browser.viewport` of a canary file: page and screenshot size (default 1920×1080).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Viewport {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Default for Viewport {
    fn default() -> Self {
        Self { width: 1920, height: 1080 }
    }
}

/// `browser` of a canary file: how its page is set up.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserOptions {
    /// `viewport`: page and screenshot size (default 1920×1080).
    #[serde(default)]
    pub viewport: Viewport,
    /// `user_agent_suffix`: appended to Chromium's user agent.
    pub user_agent_suffix: Option<String>,
    /// `extra_headers`: headers sent with every browser request.
    #[serde(default)]
    pub extra_headers: BTreeMap<String, String>,
}

/// `report` of a canary file: what reports and HAR files redact or keep.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportOptions {
    /// `restricted_headers`: headers whose values are written as `***` (`authorization`, `cookie`,
    /// `set-cookie` and `proxy-authorization` always are).
    #[serde(default)]
    pub restricted_headers: Vec<String>,
    /// `restricted_url_parameters`: query parameters whose values are written as `***` (names
    /// compared case-insensitively; `'*'` redacts all).
    #[serde(default)]
    pub restricted_url_parameters: Vec<String>,
    /// `include_request_body`: keep request bodies in the HAR (default `false`).
    #[serde(default)]
    pub include_request_body: bool,
    /// `include_response_body`: keep response bodies in the HAR, up to 1 MiB each (default
    /// `false`).
    #[serde(default)]
    pub include_response_body: bool,
}

/// `screenshots` of a canary file: when step screenshots are taken.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenshotOptions {
    /// `on_step_start`: when a step starts (default `false`).
    #[serde(default)]
    pub on_step_start: bool,
    /// `on_step_success`: when a step passes (default `true`).
    #[serde(default = "yes")]
    pub on_step_success: bool,
    /// `on_step_failure`: when a step does not pass (default `true`).
    #[serde(default = "yes")]
    pub on_step_failure: bool,
}

impl Default for ScreenshotOptions {
    fn default() -> Self {
        Self { on_step_start: false, on_step_success: true, on_step_failure: true }
    }
}

/// A metric alarm (`docs/alarms.md`), on a canary or in the project file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmSpec {
    /// `name`: unique over all alarms; no spaces, commas or parentheses.
    pub name: String,
    /// `metric`: the metric watched, one of [`super::validate::METRICS`] (`docs/artifacts.md`).
    pub metric: String,
    /// `step`: watch only this step's datapoints (`SuccessPercent`, `Duration`); `None`: the whole
    /// run.
    pub step: Option<String>,
    /// The canary whose metric is watched; implied for alarms written on a canary.
    pub canary: Option<String>,
    /// `statistic`: how a period's datapoints become one value: `Average` (default), `Sum`,
    /// `Minimum`, `Maximum`, `SampleCount` or a percentile `pNN`.
    #[serde(default = "AlarmSpec::default_statistic")]
    pub statistic: String,
    /// `period`: length of one evaluation period, at least 1s; periods are aligned to the Unix
    /// epoch.
    pub period: HumanDuration,
    /// `evaluation_periods`: N, how many recent datapoints decide.
    pub evaluation_periods: u32,
    /// `datapoints_to_alarm`: M, how many of the N must breach for `ALARM` (1 to N; default N).
    pub datapoints_to_alarm: Option<u32>,
    /// `comparison`: `<`, `<=`, `>` or `>=`; `metric <op> threshold` is breaching.
    pub comparison: String,
    /// `threshold`: the value the statistic is compared with.
    pub threshold: f64,
    /// `treat_missing_data`: how missing datapoints count when fewer than N periods have data
    /// (default `missing`).
    #[serde(default)]
    pub treat_missing_data: MissingData,
    /// `actions`: the channels notified on each transition, by new state.
    #[serde(default)]
    pub actions: AlarmActions,
    /// `actions_enabled`: `false` records transitions without notifying anybody (default `true`).
    #[serde(default = "yes")]
    pub actions_enabled: bool,
    /// `description`: what the alarm means, shown in notifications.
    pub description: Option<String>,
    /// `locations`: a quorum alarm: `ALARM` when at least `min_failing` locations breach, each
    /// location's datapoints evaluated alone (`None`: every location's datapoints together).
    pub locations: Option<QuorumSpec>,
}

/// `locations` of a metric alarm: how many locations must breach.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumSpec {
    /// `min_failing`: at least this many locations in breach make the alarm `ALARM` (at least 1).
    pub min_failing: u32,
}

impl AlarmSpec {
    fn default_statistic() -> String {
        "Average".to_string()
    }
}

/// `treat_missing_data` of an alarm: how missing datapoints count when fewer than N periods have
/// data (`docs/alarms.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingData {
    /// `missing` (default): the datapoints there are decide; none at all is `INSUFFICIENT_DATA`.
    #[default]
    Missing,
    /// `ignore`: as `missing`, but the state is kept where there is no data or where the
    /// premature-alarm rule would decide.
    Ignore,
    /// `breaching`: missing datapoints count as breaching.
    Breaching,
    /// `not_breaching`: missing datapoints count as not breaching.
    NotBreaching,
}

/// `actions` of an alarm: the channels (names from `channels:`) notified when it enters each state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmActions {
    /// `alarm`: notified on entering `ALARM`.
    #[serde(default)]
    pub alarm: Vec<String>,
    /// `ok`: notified on entering `OK`.
    #[serde(default)]
    pub ok: Vec<String>,
    /// `insufficient_data`: notified on entering `INSUFFICIENT_DATA`.
    #[serde(default)]
    pub insufficient_data: Vec<String>,
}

/// The project file `aviary.yaml` (`docs/canary-file.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// `canaries`: files or folders of canary files, not searched recursively (default
    /// `[canaries]`).
    #[serde(default = "ProjectFile::default_canaries")]
    pub canaries: Vec<String>,
    /// `data_dir`: folder of the database and artifacts (default `.aviary`; `--data-dir`
    /// overrides).
    #[serde(default = "ProjectFile::default_data_dir")]
    pub data_dir: String,
    /// `store`: where run history lives: a PostgreSQL URL (`postgres://user@host/db`) shared by
    /// several daemons; SQLite in `data_dir` when absent (`--store` overrides).
    #[serde(default)]
    pub store: Option<String>,
    /// `location`: where this daemon checks from; daemons of one location on a shared store
    /// share its schedule slots (default `default`; `--location` overrides).
    #[serde(default)]
    pub location: Option<String>,
    /// `artifacts`: where run folders go.
    #[serde(default)]
    pub artifacts: ArtifactsConfig,
    /// `server`: the daemon's HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// `browser`: the Chromium all runs share.
    #[serde(default)]
    pub browser: BrowserConfig,
    /// `runner`: how many runs at once.
    #[serde(default)]
    pub runner: RunnerConfig,
    /// Each channel's section, read by its type's module (`src/actions/`).
    #[serde(default)]
    pub channels: BTreeMap<String, Section>,
    /// Each DNS provider's section, read by its type's module (`src/dns/`).
    #[serde(default)]
    pub dns_providers: BTreeMap<String, Section>,
    /// `failover`: DNS records switched between two answers by alarm states (`docs/failover.md`).
    #[serde(default)]
    pub failover: Vec<FailoverSpec>,
    /// `alarms`: project-level metric alarms (each names its `canary`).
    #[serde(default)]
    pub alarms: Vec<AlarmSpec>,
    /// `composite_alarms`: alarms that combine other alarms' states with a rule.
    #[serde(default)]
    pub composite_alarms: Vec<CompositeAlarmSpec>,
}

impl ProjectFile {
    fn default_canaries() -> Vec<String> {
        vec!["canaries".to_string()]
    }
    fn default_data_dir() -> String {
        ".aviary".to_string()
    }
}

impl Default for ProjectFile {
    fn default() -> Self {
        Self {
            canaries: Self::default_canaries(),
            data_dir: Self::default_data_dir(),
            store: None,
            location: None,
            artifacts: ArtifactsConfig::default(),
            server: ServerConfig::default(),
            browser: BrowserConfig::default(),
            runner: RunnerConfig::default(),
            channels: BTreeMap::new(),
            dns_providers: BTreeMap::new(),
            failover: Vec::new(),
            alarms: Vec::new(),
            composite_alarms: Vec::new(),
        }
    }
}

/// `artifacts` of the project file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// Default: `<data_dir>/artifacts`.
    pub dir: Option<String>,
    /// `url`: an object store every run folder is copied to (`s3://bucket/prefix` or
    /// `file:///folder`), from which runners sharing a store fetch each other's runs.
    pub url: Option<String>,
}

/// `server` of the project file: the daemon's HTTP server (`docs/server.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `listen`: the address to listen on (default `127.0.0.1:9090`); a non-loopback address
    /// needs a `token`.
    #[serde(default = "ServerConfig::default_listen")]
    pub listen: String,
    /// `token`: the bearer token every write (run now, set-state) needs; without it, writes are
    /// refused.
    pub token: Option<String>,
    /// The address people reach the daemon at, for links in notifications (default: from
    /// `listen`).
    pub public_url: Option<String>,
}

impl ServerConfig {
    fn default_listen() -> String {
        "127.0.0.1:9090".to_string()
    }

    /// The base of links to the daemon: `public_url`, else `http://<listen>` (an unspecified
    /// address as the machine's name, which other machines can resolve more often than not).
    pub fn base_url(&self) -> String {
        if let Some(url) = self.public_url.as_deref().filter(|u| !u.is_empty()) {
            return url.trim_end_matches('/').to_string();
        }
        match self.listen.parse::<std::net::SocketAddr>() {
            Ok(addr) if addr.ip().is_unspecified() => {
                let host = machine_name();
                format!("http://{host}:{}", addr.port())
            }
            _ => format!("http://{}", self.listen),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { listen: Self::default_listen(), token: None, public_url: None }
    }
}

/// `browser` of the project file: the Chromium all runs share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserConfig {
    /// `auto` or a path to a Chromium executable.
    #[serde(default = "BrowserConfig::default_executable")]
    pub executable: String,
    /// `max_concurrency`: browser pages open at once, over all runs (default 2).
    #[serde(default = "BrowserConfig::default_max_concurrency")]
    pub max_concurrency: usize,
    /// `args`: extra Chromium flags, without the leading `--`.
    #[serde(default)]
    pub args: Vec<String>,
    /// Runs a browser serves before it is replaced by a fresh one.
    #[serde(default = "BrowserConfig::default_recycle_after")]
    pub recycle_after_runs: u32,
}

impl BrowserConfig {
    fn default_executable() -> String {
        "auto".to_string()
    }
    fn default_max_concurrency() -> usize {
        2
    }
    fn default_recycle_after() -> u32 {
        100
    }
}

impl Default for BrowserConfig {
    fn default() -> Self {
        Self {
            executable: Self::default_executable(),
            max_concurrency: Self::default_max_concurrency(),
            args: Vec::new(),
            recycle_after_runs: Self::default_recycle_after(),
        }
    }
}

/// `runner` of the project file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// `max_concurrency`: runs at once (default 16).
    #[serde(default = "RunnerConfig::default_max_concurrency")]
    pub max_concurrency: usize,
}

impl RunnerConfig {
    fn default_max_concurrency() -> usize {
        16
    }
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self { max_concurrency: Self::default_max_concurrency() }
    }
}

/// A `failover` entry: one DNS record answered from `primary` or `secondary` by alarm states
/// (`docs/failover.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// `name`: the entry's name (`aviary failover history <name>`).
    pub name: String,
    /// `provider`: the name of an entry of `dns_providers`.
    pub provider: String,
    /// `record`: the record set it manages.
    pub record: RecordSpec,
    /// `primary`: the record's values while the primary is healthy.
    pub primary: Vec<String>,
    /// `secondary`: the record's values while it is failed over.
    pub secondary: Vec<String>,
    /// `primary_health`: the alarm (metric or composite) whose state is the primary's health.
    pub primary_health: String,
    /// `secondary_health`: the alarm for the secondary's health; `None`: always healthy.
    pub secondary_health: Option<String>,
    /// `insufficient_data`: how `INSUFFICIENT_DATA` counts (default `last_known`).
    #[serde(default)]
    pub insufficient_data: InsufficientDataMode,
}

/// `record` of a failover entry: the DNS record set it manages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// `name`: the record's DNS name.
    pub name: String,
    /// `type`: `A` (default), `AAAA` or `CNAME`.
    #[serde(rename = "type", default = "RecordSpec::default_type")]
    pub kind: String,
    /// `ttl`: the TTL written with the values, in seconds (default 60).
    #[serde(default = "RecordSpec::default_ttl")]
    pub ttl: u32,
}

impl RecordSpec {
    fn default_type() -> String {
        "A".to_string()
    }
    fn default_ttl() -> u32 {
        60
    }
}

/// `insufficient_data` of a failover entry: how an alarm in `INSUFFICIENT_DATA` counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsufficientDataMode {
    /// `healthy`: as `OK`.
    Healthy,
    /// `unhealthy`: as `ALARM`.
    Unhealthy,
    /// `last_known` (default): keep the answer the record gives now (primary if unknown).
    #[default]
    LastKnown,
}

/// A composite alarm (`docs/alarms.md`): `ALARM` when its rule is true, `OK` otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeAlarmSpec {
    /// `name`: unique over all alarms.
    pub name: String,
    /// `rule`: a boolean rule over other alarms' states, e.g. `ALARM(a) AND NOT ALARM(b)`.
    pub rule: String,
    /// `actions`: the channels notified on each transition, by new state.
    #[serde(default)]
    pub actions: AlarmActions,
    /// `actions_enabled`: `false` records transitions without notifying anybody (default `true`).
    #[serde(default = "yes")]
    pub actions_enabled: bool,
    /// `description`: what the alarm means, shown in notifications.
    pub description: Option<String>,
}

/// This machine's host name (`localhost` when it cannot be read).
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::ServerConfig;

    #[test]
    fn links_use_the_public_url_else_the_listen_address() {
        let server = |listen: &str, public_url: Option<&str>| ServerConfig {
            listen: listen.into(),
            token: None,
            public_url: public_url.map(str::to_string),
        };
        assert_eq!(server("127.0.0.1:9090", None).base_url(), "http://127.0.0.1:9090");
        assert_eq!(
            server("0.0.0.0:9090", Some("https://aviary.example.com/")).base_url(),
            "https://aviary.example.com"
        );
        let unspecified = server("0.0.0.0:9090", None).base_url();
        assert!(unspecified.starts_with("http://") && unspecified.ends_with(":9090"), "{unspecified}");
        assert!(!unspecified.contains("0.0.0.0"), "{unspecified}");
    }
}
