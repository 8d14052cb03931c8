//! Semantic checks of a deserialized canary file or project file, beyond what the types enforce.
//! Each problem names the key path it is about; the loader turns paths into positions.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::model::{AlarmActions, AlarmSpec, CanaryFile, ProjectFile};
use super::path::{KeyPath, Problem};
use super::schedule::Schedule;
use super::section::Section;
use super::suggest::did_you_mean;

/// The default timeout of a run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most extra attempts after a failed run.
pub const MAX_RETRIES: u8 = 5;
/// The longest wait before one retry: `retry_delay` doubles from one retry to the next up to this.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// How long to wait before retry number `retry` (1 for the first retry): `base × 2^(retry-1)`, at
/// most [`MAX_RETRY_DELAY`]. A zero `base` retries at once.
pub fn retry_delay(base: Duration, retry: u32) -> Duration {
    let doubling = 2u32.saturating_pow(retry.saturating_sub(1));
    base.saturating_mul(doubling).min(MAX_RETRY_DELAY)
}

/// The waits of every retry of a run, added up.
pub fn total_retry_delay(base: Duration, retries: u8) -> Duration {
    (1..=u32::from(retries)).map(|retry| retry_delay(base, retry)).sum()
}
/// Metrics an alarm can watch (`docs/artifacts.md`).
pub const METRICS: [&str; 11] = [
    "SuccessPercent",
    "Duration",
    "2xx",
    "4xx",
    "5xx",
    "Failed",
    "FailedRequests",
    "VisualMonitoringSuccessPercent",
    "SelectorDrift",
    "LinksChecked",
    "BrokenLinks",
];
/// The longest range an alarm evaluates: `period` × `evaluation_periods`.
pub const MAX_EVALUATION_RANGE: Duration = Duration::from_secs(7 * 86_400);
/// Comparison operators an alarm's `comparison` accepts.
pub const COMPARISONS: [&str; 4] = ["<", "<=", ">", ">="];
/// Statistics an alarm's `statistic` accepts, besides percentiles (`p99`, `p99.9`).
pub const STATISTICS: [&str; 5] = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"];

static NAME_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new("^[A-Za-z0-9_-]{1,64}$").unwrap());
static PERCENTILE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^p(100|[0-9]{1,2}(\.[0-9]+)?)$").unwrap());
static TOKEN_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$").unwrap());
static IDENT_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new("^[A-Za-z_][A-Za-z0-9_]*$").unwrap());

/// Whether `name` is a valid canary name: `[A-Za-z0-9_-]{1,64}`.
pub fn is_valid_name(name: &str) -> bool {
    NAME_RE.is_match(name)
}

/// Whether `name` is an HTTP token (a header name, a method).
pub fn is_token(name: &str) -> bool {
    TOKEN_RE.is_match(name)
}

/// Whether `name` can be used as `${name}`: letters, digits and `_`, not starting with a digit.
pub fn is_identifier(name: &str) -> bool {
    IDENT_RE.is_match(name)
}

/// Whether an alarm statistic is valid: Average, Sum, Minimum, Maximum, SampleCount or pNN(.N).
pub fn is_valid_statistic(statistic: &str) -> bool {
    STATISTICS.contains(&statistic) || PERCENTILE_RE.is_match(statistic)
}

/// What the checks of a canary file settled, and the problems found.
#[derive(Debug)]
pub struct CanaryCheck {
    /// The name (explicit or the file stem), when valid.
    pub name: Option<String>,
    /// The parsed `schedule` (default `rate(5 minutes)`), when valid.
    pub schedule: Option<Schedule>,
    /// The run's `timeout` (default [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// The problems found.
    pub problems: Vec<Problem>,
}

/// Collects problems, leaving out those about values that already failed to deserialize or
/// expand (`tainted`): a default standing in for a bad value must not cause a second report.
pub struct Problems<'a> {
    tainted: &'a [KeyPath],
    list: Vec<Problem>,
}

fn starts_with(path: &KeyPath, prefix: &KeyPath) -> bool {
    path.0.len() >= prefix.0.len() && path.0[..prefix.0.len()] == prefix.0[..]
}

impl<'a> Problems<'a> {
    /// A collector that leaves out problems at or around the `tainted` paths.
    pub fn new(tainted: &'a [KeyPath]) -> Self {
        Self { tainted, list: Vec::new() }
    }

    /// Whether a value at `path` (or inside it, or around it) already has a problem.
    pub fn is_tainted(&self, path: &KeyPath) -> bool {
        self.tainted.iter().any(|t| starts_with(path, t) || (!path.is_root() && starts_with(t, path)))
    }

    /// Records a problem unless its value already has one.
    pub fn add(&mut self, path: KeyPath, message: impl Into<String>) {
        if !self.is_tainted(&path) {
            self.list.push(Problem::new(path, message));
        }
    }

    /// The problems recorded.
    pub fn into_list(self) -> Vec<Problem> {
        self.list
    }
}

fn root() -> KeyPath {
    KeyPath::root()
}

fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Checks the fields every canary file has (its blueprint's section is the blueprint's to
/// check). `file` is its path (for the default name), `tainted` the paths that already have
/// problems.
pub fn check_canary(spec: &CanaryFile, file: &Path, tainted: &[KeyPath]) -> CanaryCheck {
    let mut p = Problems::new(tainted);
    let name = check_name(spec, file, &mut p);

    let schedule_text = spec.schedule.as_deref().unwrap_or("rate(5 minutes)");
    let schedule = match Schedule::parse(schedule_text) {
        Ok(s) => Some(s),
        Err(e) => {
            p.add(root().key("schedule"), e.to_string());
            None
        }
    };
    if let Some(Schedule::Cron { .. }) = &schedule
        && schedule.as_ref().and_then(|s| s.next_after(chrono::Utc::now())).is_none()
    {
        p.add(root().key("schedule"), format!("schedule `{schedule_text}` never fires again"));
    }
    let timeout = spec.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    if timeout.is_zero() {
        p.add(root().key("timeout"), "timeout must be greater than 0");
    } else if let Some(period) = schedule.as_ref().and_then(Schedule::period)
        && timeout > period
        && !p.is_tainted(&root().key("schedule"))
    {
        p.add(
            root().key("timeout"),
            format!("timeout {} exceeds the schedule period {}", fmt_duration(timeout), fmt_duration(period)),
        );
    }
    if spec.retries > MAX_RETRIES {
        p.add(root().key("retries"), format!("retries must be 0..{MAX_RETRIES}, found {}", spec.retries));
    } else if !p.is_tainted(&root().key("schedule")) {
        check_retry_delay(spec, timeout, schedule.as_ref().and_then(Schedule::period), &mut p);
    }
    check_common(spec, &mut p);
    check_alarms(&spec.alarms, &root().key("alarms"), &mut p);
    for (i, location) in spec.locations.iter().enumerate() {
        if !super::is_location_name(location) {
            p.add(
                root().key("locations").index(i),
                format!("`{location}` is not a location name: use letters, digits, `.`, `_` and `-` (e.g. eu-west)"),
            );
        }
    }
    CanaryCheck { name, schedule, timeout, problems: p.list }
}

/// `retry_delay` needs retries, is at most [`MAX_RETRY_DELAY`], and the first attempt's timeout
/// plus every wait must fit in the schedule's period (else the next scheduled run would come
/// before the last retry).
fn check_retry_delay(spec: &CanaryFile, timeout: Duration, period: Option<Duration>, p: &mut Problems<'_>) {
    let Some(base) = spec.retry_delay.map(|d| d.0) else { return };
    let at = root().key("retry_delay");
    if base > MAX_RETRY_DELAY {
        p.add(
            at,
            format!(
                "retry_delay must be at most {}, found {}",
                fmt_duration(MAX_RETRY_DELAY),
                fmt_duration(base)
            ),
        );
        return;
    }
    if spec.retries == 0 && !base.is_zero() {
        p.add(at, "retry_delay without retries has no effect; set `retries: 1` (or more) or remove it");
        return;
    }
    let waits = total_retry_delay(base, spec.retries);
    if let Some(period) = period
        && timeout + waits > period
    {
        p.add(
            at,
            format!(
                "retry_delay {}: the {} retries wait {} in all (doubling each time), which with the {} \
                 timeout exceeds the schedule period {}; lower retry_delay or retries",
                fmt_duration(base),
                spec.retries,
                fmt_duration(waits),
                fmt_duration(timeout),
                fmt_duration(period)
            ),
        );
    }
}

fn check_name(spec: &CanaryFile, file: &Path, p: &mut Problems<'_>) -> Option<String> {
    match &spec.name {
        Some(name) if is_valid_name(name) => Some(name.clone()),
        Some(name) => {
            p.add(
                root().key("name"),
                format!("invalid canary name `{name}`: use 1 to 64 of A-Z a-z 0-9 _ -"),
            );
            None
        }
        None => {
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if is_valid_name(&stem) {
                Some(stem)
            } else {
                p.add(
                    root(),
                    format!(
                        "the file name `{stem}` is not a valid canary name (1 to 64 of A-Z a-z 0-9 _ -): \
                         rename the file or set `name:`"
                    ),
                );
                None
            }
        }
    }
}

fn check_common(spec: &CanaryFile, p: &mut Problems<'_>) {
    let viewport = root().key("browser").key("viewport");
    for (key, value) in [("width", spec.browser.viewport.width), ("height", spec.browser.viewport.height)] {
        if !(100..=10_000).contains(&value) {
            p.add(viewport.key(key), format!("viewport {key} must be 100..10000, found {value}"));
        }
    }
    for (name, value) in &spec.browser.extra_headers {
        if !TOKEN_RE.is_match(name) {
            p.add(
                root().key("browser").key("extra_headers").key(name),
                format!("`{name}` is not a header name"),
            );
        }
        if value.contains(['\r', '\n']) {
            p.add(root().key("browser").key("extra_headers").key(name), "header values cannot span lines");
        }
    }
    let report = root().key("report");
    for (i, header) in spec.report.restricted_headers.iter().enumerate() {
        if !TOKEN_RE.is_match(header) {
            p.add(report.key("restricted_headers").index(i), format!("`{header}` is not a header name"));
        }
    }
    for (i, param) in spec.report.restricted_url_parameters.iter().enumerate() {
        if param.trim().is_empty() {
            p.add(report.key("restricted_url_parameters").index(i), "empty parameter name");
        }
    }
    for (key, value) in [("success", spec.retention.success), ("failure", spec.retention.failure)] {
        if value.0.is_zero() {
            p.add(root().key("retention").key(key), "retention must be greater than 0");
        }
    }
}

/// An absolute http(s) URL. `${name}` references left for run time stand for a path segment.
pub fn check_url(url: &str, path: KeyPath, p: &mut Problems<'_>) {
    if let Some(message) = http_url_problem(url) {
        p.add(path, message);
    }
}

/// What is wrong with `url` as an absolute http(s) URL, if anything. `${name}` references left
/// for run time stand for a path segment.
pub fn http_url_problem(url: &str) -> Option<String> {
    static REF_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}").unwrap());
    if let Some(found) = REF_RE.find(url) {
        // Completed at run time from an earlier step's extraction: only a scheme written out
        // can be checked now; the step reports a bad URL when it runs.
        let prefix = &url[..found.start()];
        return match prefix.split_once("://") {
            Some((scheme, _)) if !matches!(scheme, "http" | "https") => {
                Some(format!("`{url}` is not an http(s) URL (scheme `{scheme}`)"))
            }
            _ => None,
        };
    }
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => {
            None
        }
        Ok(u) => Some(format!("`{url}` is not an http(s) URL (scheme `{}`)", u.scheme())),
        Err(e) => Some(format!("`{url}` is not an absolute http(s) URL ({e})")),
    }
}

fn check_alarms(alarms: &[AlarmSpec], path: &KeyPath, p: &mut Problems<'_>) {
    let mut names = HashSet::new();
    for (i, alarm) in alarms.iter().enumerate() {
        let at = path.index(i);
        if !names.insert(alarm.name.as_str()) {
            p.add(at.key("name"), format!("alarm name `{}` is used twice", alarm.name));
        }
        check_alarm(alarm, &at, p);
    }
}

fn check_alarm(alarm: &AlarmSpec, at: &KeyPath, p: &mut Problems<'_>) {
    if alarm.locations.is_some_and(|q| q.min_failing == 0) {
        p.add(at.key("locations").key("min_failing"), "min_failing must be at least 1");
    }
    if alarm.name.is_empty() || alarm.name.contains(|c: char| c.is_whitespace() || "(),".contains(c)) {
        p.add(
            at.key("name"),
            format!("invalid alarm name `{}`: no spaces, commas or parentheses", alarm.name),
        );
    }
    if !METRICS.contains(&alarm.metric.as_str()) {
        p.add(
            at.key("metric"),
            format!(
                "unknown metric `{}`; expected one of: {}{}",
                alarm.metric,
                METRICS.join(", "),
                did_you_mean(&alarm.metric, METRICS)
            ),
        );
    }
    if !is_valid_statistic(&alarm.statistic) {
        p.add(
            at.key("statistic"),
            format!(
                "invalid statistic `{}`; expected Average, Sum, Minimum, Maximum, SampleCount or a percentile \
                 like p90 or p99.9",
                alarm.statistic
            ),
        );
    }
    if alarm.period.0.is_zero() {
        p.add(at.key("period"), "period must be greater than 0");
    }
    if alarm.evaluation_periods == 0 {
        p.add(at.key("evaluation_periods"), "evaluation_periods must be at least 1");
    } else if alarm.period.0.saturating_mul(alarm.evaluation_periods) > MAX_EVALUATION_RANGE {
        p.add(
            at.key("evaluation_periods"),
            format!(
                "period × evaluation_periods must be at most 7 days (as in CloudWatch), found {} × {}",
                humantime::format_duration(alarm.period.0),
                alarm.evaluation_periods
            ),
        );
    }
    if let Some(m) = alarm.datapoints_to_alarm
        && (m == 0 || m > alarm.evaluation_periods)
    {
        p.add(
            at.key("datapoints_to_alarm"),
            format!(
                "datapoints_to_alarm must be 1..{} (evaluation_periods), found {m}",
                alarm.evaluation_periods
            ),
        );
    }
    if !COMPARISONS.contains(&alarm.comparison.as_str()) {
        p.add(
            at.key("comparison"),
            format!("invalid comparison `{}`; expected one of: < <= > >=", alarm.comparison),
        );
    }
    if !alarm.threshold.is_finite() {
        p.add(at.key("threshold"), "threshold must be a finite number");
    }
}

/// Alarm actions name channels of the project file.
pub fn check_actions(
    actions: &AlarmActions,
    at: &KeyPath,
    channels: &BTreeMap<String, Section>,
    problems: &mut Vec<Problem>,
) {
    for (key, list) in
        [("alarm", &actions.alarm), ("ok", &actions.ok), ("insufficient_data", &actions.insufficient_data)]
    {
        for (i, name) in list.iter().enumerate() {
            if !channels.contains_key(name) {
                let known: Vec<&str> = channels.keys().map(String::as_str).collect();
                let message = if known.is_empty() {
                    format!("unknown channel `{name}`: the project file defines no `channels`")
                } else {
                    format!(
                        "unknown channel `{name}`; defined channels: {}{}",
                        known.join(", "),
                        did_you_mean(name, known.iter().copied())
                    )
                };
                problems.push(Problem::new(at.key(key).index(i), message));
            }
        }
    }
}

/// Checks the project file.
pub fn check_project(config: &ProjectFile, tainted: &[KeyPath]) -> Vec<Problem> {
    let mut p = Problems::new(tainted);
    if config.data_dir.trim().is_empty() {
        p.add(root().key("data_dir"), "data_dir cannot be empty");
    }
    for (i, entry) in config.canaries.iter().enumerate() {
        if entry.trim().is_empty() {
            p.add(root().key("canaries").index(i), "empty path");
        }
    }
    if config.browser.max_concurrency == 0 {
        p.add(root().key("browser").key("max_concurrency"), "max_concurrency must be at least 1");
    }
    if config.browser.recycle_after_runs == 0 {
        p.add(root().key("browser").key("recycle_after_runs"), "recycle_after_runs must be at least 1");
    }
    if config.runner.max_concurrency == 0 {
        p.add(root().key("runner").key("max_concurrency"), "max_concurrency must be at least 1");
    }
    check_server(config, &mut p);
    check_store(config, &mut p);
    check_artifacts(config, &mut p);
    check_location(config, &mut p);
    check_failover(config, &mut p);
    check_alarms(&config.alarms, &root().key("alarms"), &mut p);
    for (i, alarm) in config.alarms.iter().enumerate() {
        if alarm.canary.as_deref().is_none_or(str::is_empty) {
            p.add(
                root().key("alarms").index(i),
                format!(
                    "alarm `{}` in the project file needs `canary:` (the canary whose metric it watches)",
                    alarm.name
                ),
            );
        }
    }
    let mut actions = Vec::new();
    for (i, alarm) in config.alarms.iter().enumerate() {
        check_actions(
            &alarm.actions,
            &root().key("alarms").index(i).key("actions"),
            &config.channels,
            &mut actions,
        );
    }
    let mut composite_names = HashSet::new();
    for (i, composite) in config.composite_alarms.iter().enumerate() {
        let at = root().key("composite_alarms").index(i);
        if !composite_names.insert(composite.name.as_str()) {
            p.add(at.key("name"), format!("composite alarm name `{}` is used twice", composite.name));
        }
        if composite.rule.trim().is_empty() {
            p.add(at.key("rule"), "empty rule");
        }
        check_actions(&composite.actions, &at.key("actions"), &config.channels, &mut actions);
    }
    for problem in actions {
        p.add(problem.path, problem.message);
    }
    p.list
}

fn check_store(config: &ProjectFile, p: &mut Problems<'_>) {
    let is_postgres = |s: &str| s.starts_with("postgres://") || s.starts_with("postgresql://");
    // `${secret:...}` left as written is reported as an unset secret, not here.
    if let Some(store) = config.store.as_deref().filter(|s| !s.starts_with("${") && !is_postgres(s)) {
        p.add(
            root().key("store"),
            format!(
                "expected a PostgreSQL URL like postgres://user@host/db, found `{store}` (leave `store` out \
                 for SQLite in data_dir)"
            ),
        );
    }
}

fn check_artifacts(config: &ProjectFile, p: &mut Problems<'_>) {
    let Some(url) = config.artifacts.url.as_deref().filter(|u| !u.starts_with("${")) else { return };
    if !(url.starts_with("s3://") || url.starts_with("file:///")) {
        p.add(
            root().key("artifacts").key("url"),
            format!(
                "expected s3://bucket/prefix or file:///absolute/folder, found `{url}` (leave `url` out to keep \
                 run folders in `dir` only)"
            ),
        );
    }
}

fn check_location(config: &ProjectFile, p: &mut Problems<'_>) {
    if let Some(location) = config.location.as_deref().filter(|l| !super::is_location_name(l)) {
        p.add(
            root().key("location"),
            format!(
                "`{location}` is not a location name: use letters, digits, `.`, `_` and `-` (e.g. eu-west)"
            ),
        );
    }
}

fn check_server(config: &ProjectFile, p: &mut Problems<'_>) {
    let server = root().key("server");
    if let Some(url) = &config.server.public_url {
        check_url(url, server.key("public_url"), p);
    }
    match config.server.listen.parse::<SocketAddr>() {
        Err(_) => p.add(
            server.key("listen"),
            format!("`{}` is not a socket address like 127.0.0.1:9090", config.server.listen),
        ),
        Ok(addr) => {
            let token = config.server.token.as_deref().is_some_and(|t| !t.is_empty());
            if !addr.ip().is_loopback() && !token {
                p.add(
                    server.key("listen"),
                    format!("listening on {addr} (not loopback) needs `server.token` to guard writes"),
                );
            }
        }
    }
}

fn check_failover(config: &ProjectFile, p: &mut Problems<'_>) {
    let mut names = HashSet::new();
    for (i, f) in config.failover.iter().enumerate() {
        let at = root().key("failover").index(i);
        if !names.insert(f.name.as_str()) {
            p.add(at.key("name"), format!("failover name `{}` is used twice", f.name));
        }
        if !config.dns_providers.contains_key(&f.provider) {
            let known: Vec<&str> = config.dns_providers.keys().map(String::as_str).collect();
            let message = if known.is_empty() {
                format!("unknown DNS provider `{}`: the project file defines no `dns_providers`", f.provider)
            } else {
                format!(
                    "unknown DNS provider `{}`; defined providers: {}{}",
                    f.provider,
                    known.join(", "),
                    did_you_mean(&f.provider, known.iter().copied())
                )
            };
            p.add(at.key("provider"), message);
        }
        let kind = f.record.kind.to_ascii_uppercase();
        if !["A", "AAAA", "CNAME"].contains(&kind.as_str()) {
            p.add(
                at.key("record").key("type"),
                format!("record type `{}`: expected A, AAAA or CNAME", f.record.kind),
            );
        }
        if f.record.name.trim().is_empty() {
            p.add(at.key("record").key("name"), "empty record name");
        }
        if f.primary.is_empty() {
            p.add(at.key("primary"), "`primary` must list at least one value");
        }
        for (key, values) in [("primary", &f.primary), ("secondary", &f.secondary)] {
            for (j, value) in values.iter().enumerate() {
                let ok = match kind.as_str() {
                    "A" => value.parse::<std::net::Ipv4Addr>().is_ok(),
                    "AAAA" => value.parse::<std::net::Ipv6Addr>().is_ok(),
                    _ => !value.trim().is_empty(),
                };
                if !ok {
                    p.add(at.key(key).index(j), format!("`{value}` is not a valid {kind} record value"));
                }
            }
        }
        if kind == "CNAME" && (f.primary.len() > 1 || f.secondary.len() > 1) {
            p.add(at.key("record"), "a CNAME record holds a single value");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::de::{from_node, from_node_with_sections};
    use crate::spec::yaml::{Node, parse};

    fn common(doc: &Node) -> CanaryFile {
        let (spec, problems) = from_node_with_sections::<CanaryFile>(doc, &["heartbeat"]);
        assert!(problems.is_empty(), "{problems:?}");
        spec.unwrap()
    }

    fn canary(text: &str) -> Vec<String> {
        let check = check_canary(&common(&parse(text).unwrap()), Path::new("dir/home.yaml"), &[]);
        check.problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
    }

    fn project(text: &str) -> Vec<String> {
        let doc = parse(text).unwrap();
        let (config, problems) = from_node::<ProjectFile>(&doc);
        assert!(problems.is_empty(), "{problems:?}");
        check_project(&config.unwrap(), &[]).iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
    }

    const HB: &str = "blueprint: heartbeat\nheartbeat: {urls: ['http://h/']}\n";

    #[test]
    fn a_valid_heartbeat() {
        assert_eq!(canary(HB), Vec::<String>::new());
    }

    #[test]
    fn names() {
        assert!(is_valid_name("home_page-2"));
        assert!(!is_valid_name("home page"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert_eq!(
            canary(&format!("name: 'a b'\n{HB}")),
            ["name: invalid canary name `a b`: use 1 to 64 of A-Z a-z 0-9 _ -"]
        );
        let spec = common(&parse(HB).unwrap());
        let check = check_canary(&spec, Path::new("my canary.yaml"), &[]);
        assert!(
            check.problems[0].message.starts_with("the file name `my canary` is not a valid canary name")
        );
        assert_eq!(check_canary(&spec, Path::new("x/home.yaml"), &[]).name.as_deref(), Some("home"));
    }

    #[test]
    fn schedule_and_timeout() {
        assert_eq!(
            canary(&format!("{HB}schedule: rate(5 minutes)\ntimeout: 10m\n")),
            ["timeout: timeout 10m exceeds the schedule period 5m"]
        );
        assert_eq!(canary(&format!("{HB}schedule: '*/15 * * * *'\ntimeout: 15m\n")), Vec::<String>::new());
        assert_eq!(canary(&format!("{HB}schedule: once\ntimeout: 2h\n")), Vec::<String>::new());
        assert_eq!(canary(&format!("{HB}timeout: 0s\n")), ["timeout: timeout must be greater than 0"]);
        let got = canary(&format!("{HB}schedule: every 5 minutes\ntimeout: 1h\n"));
        assert_eq!(got.len(), 1, "a bad schedule does not also report the timeout: {got:?}");
        assert!(got[0].starts_with("schedule: invalid schedule"));
        assert_eq!(
            canary(&format!("{HB}schedule: cron(0 0 1 1 ? 2001)\n")),
            ["schedule: schedule `cron(0 0 1 1 ? 2001)` never fires again"]
        );
        assert_eq!(canary(&format!("{HB}retries: 6\n")), ["retries: retries must be 0..5, found 6"]);
    }

    #[test]
    fn retry_delay_doubles_up_to_its_cap() {
        let base = Duration::from_secs(5);
        let waits: Vec<u64> = (1..=5).map(|retry| retry_delay(base, retry).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80]);
        assert_eq!(retry_delay(Duration::from_secs(100), 3), MAX_RETRY_DELAY, "400s is capped at 5m");
        assert_eq!(retry_delay(Duration::ZERO, 4), Duration::ZERO);
        assert_eq!(retry_delay(Duration::from_secs(u64::MAX / 2), 5), MAX_RETRY_DELAY, "no overflow");
        assert_eq!(total_retry_delay(base, 3), Duration::from_secs(35));
        assert_eq!(total_retry_delay(base, 0), Duration::ZERO);
    }

    #[test]
    fn retry_delay_must_fit_the_schedule() {
        let ok = format!("{HB}schedule: rate(5 minutes)\ntimeout: 30s\nretries: 3\nretry_delay: 10s\n");
        assert_eq!(canary(&ok), Vec::<String>::new());
        assert_eq!(
            canary(&format!("{HB}schedule: rate(1 minute)\ntimeout: 30s\nretries: 2\nretry_delay: 20s\n")),
            [
                "retry_delay: retry_delay 20s: the 2 retries wait 1m in all (doubling each time), which with the \
              30s timeout exceeds the schedule period 1m; lower retry_delay or retries"
            ]
        );
        assert_eq!(
            canary(&format!("{HB}retry_delay: 5s\n")),
            [
                "retry_delay: retry_delay without retries has no effect; set `retries: 1` (or more) or remove it"
            ]
        );
        assert_eq!(
            canary(&format!("{HB}schedule: once\nretries: 1\nretry_delay: 6m\n")),
            ["retry_delay: retry_delay must be at most 5m, found 6m"]
        );
        assert_eq!(
            canary(&format!("{HB}schedule: once\nretries: 5\nretry_delay: 5m\n")),
            Vec::<String>::new()
        );
        assert_eq!(canary(&format!("{HB}retries: 2\nretry_delay: 0s\n")), Vec::<String>::new());
    }

    #[test]
    fn second_rates_and_timeout() {
        assert_eq!(canary(&format!("{HB}schedule: rate(30 seconds)\ntimeout: 20s\n")), Vec::<String>::new());
        assert_eq!(
            canary(&format!("{HB}schedule: rate(30 seconds)\n")),
            ["timeout: timeout 1m exceeds the schedule period 30s"]
        );
        let got = canary(&format!("{HB}schedule: rate(5 seconds)\ntimeout: 1s\n"));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("schedule: ") && got[0].contains("at least 10 seconds"), "{got:?}");
        let got = canary(&format!("{HB}schedule: rate(0 minutes)\n"));
        assert!(got.len() == 1 && got[0].contains("schedule: once"), "{got:?}");
    }

    #[test]
    fn alarms() {
        let got = canary(&format!(
            "{HB}alarms:\n  - {{name: a, metric: SucessPercent, statistic: p99.9, period: 5m, evaluation_periods: 3, \
             datapoints_to_alarm: 4, comparison: '=<', threshold: 90}}\n  - {{name: a, metric: Duration, statistic: \
             Median, period: 1m, evaluation_periods: 0, comparison: '<', threshold: 1}}\n"
        ));
        assert_eq!(
            got,
            [
                "alarms[0].metric: unknown metric `SucessPercent`; expected one of: SuccessPercent, Duration, 2xx, 4xx, \
             5xx, Failed, FailedRequests, VisualMonitoringSuccessPercent, SelectorDrift, LinksChecked, BrokenLinks; did you mean `SuccessPercent`?",
                "alarms[0].datapoints_to_alarm: datapoints_to_alarm must be 1..3 (evaluation_periods), found 4",
                "alarms[0].comparison: invalid comparison `=<`; expected one of: < <= > >=",
                "alarms[1].name: alarm name `a` is used twice",
                "alarms[1].statistic: invalid statistic `Median`; expected Average, Sum, Minimum, Maximum, SampleCount \
             or a percentile like p90 or p99.9",
                "alarms[1].evaluation_periods: evaluation_periods must be at least 1",
            ]
        );
        assert_eq!(
            canary(&format!(
                "{HB}alarms:\n  - {{name: a, metric: Failed, period: 1d, evaluation_periods: 8, \
                 comparison: '>', threshold: 0}}\n"
            )),
            [
                "alarms[0].evaluation_periods: period × evaluation_periods must be at most 7 days (as in CloudWatch), \
              found 1day × 8"
            ]
        );
        let huge = canary(&format!(
            "{HB}alarms:\n  - {{name: a, metric: Failed, period: 365d, evaluation_periods: 4294967295, \
             comparison: '>', threshold: 0}}\n"
        ));
        assert!(
            huge[0].starts_with("alarms[0].evaluation_periods: period × evaluation_periods must be"),
            "{huge:?}"
        );
        for ok in ["Average", "p90", "p99.9", "p100", "p0"] {
            assert!(is_valid_statistic(ok), "{ok}");
        }
        for bad in ["p", "p101", "P90", "p9.", "avg"] {
            assert!(!is_valid_statistic(bad), "{bad}");
        }
    }

    #[test]
    fn tainted_paths_are_not_reported_twice() {
        let spec = common(&parse("blueprint: heartbeat\nheartbeat: {urls: ['x']}\ntimeout: 0s\n").unwrap());
        let tainted = [root().key("timeout")];
        assert!(check_canary(&spec, Path::new("a.yaml"), &tainted).problems.is_empty());
    }

    #[test]
    fn project_checks() {
        assert_eq!(project(""), Vec::<String>::new());
        let got = project(
            "server: {listen: '0.0.0.0:9090'}\nbrowser: {max_concurrency: 0}\nrunner: {max_concurrency: 0}\n\
             channels:\n  a: {type: webhook}\n  b: {type: slack, webhook_url: 'http://h', command: [x]}\n  \
             c: {type: exec, command: []}\n  d: {type: email, smtp: 'h:25'}\n\
             dns_providers:\n  lab: {type: rfc2136, zone: z.}\n  aws: {type: route53}\n\
             failover:\n  - {name: www, provider: lb, record: {name: www.}, primary: ['1.2.3.4'], secondary: [x], \
             primary_health: h}\n\
             alarms:\n  - {name: h, metric: Failed, period: 1m, evaluation_periods: 1, comparison: '>', threshold: 0, \
             actions: {alarm: [opz]}}\n",
        );
        // Channels and DNS providers are read and checked by their own modules.
        assert_eq!(
            got,
            [
                "browser.max_concurrency: max_concurrency must be at least 1",
                "runner.max_concurrency: max_concurrency must be at least 1",
                "server.listen: listening on 0.0.0.0:9090 (not loopback) needs `server.token` to guard writes",
                "failover[0].provider: unknown DNS provider `lb`; defined providers: aws, lab; did you mean `lab`?",
                "failover[0].secondary[0]: `x` is not a valid A record value",
                "alarms[0]: alarm `h` in the project file needs `canary:` (the canary whose metric it watches)",
                "alarms[0].actions.alarm[0]: unknown channel `opz`; defined channels: a, b, c, d",
            ]
        );
        assert_eq!(
            project("server: {listen: 'localhost'}\n"),
            ["server.listen: `localhost` is not a socket address like 127.0.0.1:9090"]
        );
        assert_eq!(project("server: {listen: '0.0.0.0:9090', token: t}\n"), Vec::<String>::new());
    }
}
