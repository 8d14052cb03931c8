//! `/metrics`: the daemon's state in the Prometheus text exposition format (version 0.0.4), or
//! in OpenMetrics 1.0 when the scraper asks for it (`Accept: application/openmetrics-text`, as
//! Prometheus does by default): the same families, with `# UNIT` for `_seconds` and `_bytes`,
//! counter families named without `_total` (their samples keep it) and a closing `# EOF`.
//!
//! Every metric is listed, with its type and labels, in `docs/server.md`. Names follow Prometheus
//! conventions (base units: `_seconds`; counters end in `_total`) so that `promtool check
//! metrics` has nothing to say; the CloudWatch metrics of a run (`SuccessPercent`, `Duration` in
//! milliseconds) that alarms read are kept in the store unchanged (see `docs/alarms.md`).

use std::collections::HashSet;
use std::fmt::Write as _;

use super::backend::{CanaryStatus, DaemonMetrics, Histogram};
use crate::dns::controller::RecordStatus;
use crate::report::{DETAIL_METRICS, RunReport, RunStatus};
use crate::report::{StepReport, StepStatus};

/// The exposition format a scraper gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The Prometheus text format 0.0.4: what a scraper gets unless it asks for OpenMetrics.
    #[default]
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` with a non-zero quality, else the Prometheus text format.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants_openmetrics = accept.into_iter().flat_map(|a| a.split(',')).any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let quality =
                parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            media.eq_ignore_ascii_case("application/openmetrics-text") && quality > 0.0
        });
        if wants_openmetrics { Self::OpenMetrics } else { Self::Prometheus }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Renders every metric family in `format`.
pub fn render(
    canaries: &[CanaryStatus],
    broken_files: usize,
    metrics: &DaemonMetrics,
    format: Format,
) -> String {
    let mut out = Exposition { text: String::new(), format, location: metrics.location.clone() };
    last_run_families(&mut out, canaries);
    step_families(&mut out, canaries);
    run_history_families(&mut out, metrics);
    scheduler_families(&mut out, metrics);
    canary_families(&mut out, canaries, broken_files);
    browser_families(&mut out, metrics);
    failover_families(&mut out, &metrics.failover);
    if format == Format::OpenMetrics {
        out.text.push_str("# EOF\n");
    }
    out.text
}

/// Each canary with its last run (the final attempt of its latest finished run).
fn last_runs(canaries: &[CanaryStatus]) -> impl Iterator<Item = (&str, &RunReport)> {
    canaries.iter().filter_map(|c| c.last_run.as_ref().map(|r| (c.name.as_str(), r)))
}

fn percent(passed: bool) -> f64 {
    if passed { 100.0 } else { 0.0 }
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

/// The canary-level figures of each canary's last run.
fn last_run_families(out: &mut Exposition, canaries: &[CanaryStatus]) {
    out.family(
        "aviary_success_percent",
        "gauge",
        "SuccessPercent of the canary's last run: 100 passed, 0 not.",
    );
    for (canary, run) in last_runs(canaries) {
        out.sample("aviary_success_percent", &[("canary", canary)], percent(run.status == RunStatus::Passed));
    }
    out.family("aviary_duration_seconds", "gauge", "Duration of the canary's last run, in seconds.");
    for (canary, run) in last_runs(canaries) {
        out.sample("aviary_duration_seconds", &[("canary", canary)], run.duration_ms / 1000.0);
    }
    out.family(
        "aviary_requests",
        "gauge",
        "Requests of the canary's last run by outcome: 2xx, 3xx, 4xx, 5xx, failed (no response).",
    );
    for (canary, run) in last_runs(canaries) {
        let r = &run.requests;
        let classes = [
            ("2xx", r.ok_2xx),
            ("3xx", r.redirect_3xx),
            ("4xx", r.client_4xx),
            ("5xx", r.server_5xx),
            ("failed", r.failed),
        ];
        for (class, count) in classes {
            out.sample("aviary_requests", &[("canary", canary), ("class", class)], f64::from(count));
        }
    }
    for metric in &DETAIL_METRICS {
        out.family(metric.family, "gauge", metric.help);
        for (canary, run) in last_runs(canaries) {
            if let Some(value) = run.details.get(metric.key).and_then(serde_json::Value::as_f64) {
                out.sample(metric.family, &[("canary", canary)], value);
            }
        }
    }
    out.family(
        "aviary_last_run_timestamp_seconds",
        "gauge",
        "When the canary's last run ended, in seconds since the Unix epoch.",
    );
    for (canary, run) in last_runs(canaries) {
        out.sample("aviary_last_run_timestamp_seconds", &[("canary", canary)], epoch_seconds(run.end));
    }
}

/// The steps of a run that have figures: not skipped, and the first of steps sharing a name (a
/// series is one canary and one step name).
fn measured_steps(run: &RunReport) -> impl Iterator<Item = &StepReport> {
    let mut names = HashSet::new();
    run.steps.iter().filter(move |s| s.status != StepStatus::Skipped && names.insert(s.name.as_str()))
}

/// The per-step figures of each canary's last run: only the steps of that run.
fn step_families(out: &mut Exposition, canaries: &[CanaryStatus]) {
    out.family(
        "aviary_step_success_percent",
        "gauge",
        "SuccessPercent of each step of the canary's last run: 100 passed, 0 not (skipped steps are left out).",
    );
    for (canary, run) in last_runs(canaries) {
        for step in measured_steps(run) {
            let labels = [("canary", canary), ("step", step.name.as_str())];
            out.sample("aviary_step_success_percent", &labels, percent(step.status == StepStatus::Passed));
        }
    }
    out.family(
        "aviary_step_duration_seconds",
        "gauge",
        "Duration of each step of the canary's last run, in seconds.",
    );
    for (canary, run) in last_runs(canaries) {
        for step in measured_steps(run) {
            let labels = [("canary", canary), ("step", step.name.as_str())];
            out.sample("aviary_step_duration_seconds", &labels, step.duration_ms / 1000.0);
        }
    }
}

/// Counters and histograms over every attempt since the daemon started.
fn run_history_families(out: &mut Exposition, metrics: &DaemonMetrics) {
    out.family(
        "aviary_runs_total",
        "counter",
        "Finished runs (every attempt) by canary and status since the daemon started.",
    );
    for ((canary, status), count) in &metrics.runs_total {
        let labels = [("canary", canary.as_str()), ("status", status.as_str())];
        out.sample("aviary_runs_total", &labels, count_value(*count));
    }
    out.family(
        "aviary_run_duration_seconds",
        "histogram",
        "Duration of runs (every attempt) by canary, in seconds.",
    );
    for (canary, histogram) in &metrics.run_duration_seconds {
        out.histogram("aviary_run_duration_seconds", &[("canary", canary)], histogram);
    }
}

fn scheduler_families(out: &mut Exposition, metrics: &DaemonMetrics) {
    out.family(
        "aviary_scheduler_start_lateness_seconds",
        "histogram",
        "How late runs started against their scheduled fire time, in seconds.",
    );
    out.histogram("aviary_scheduler_start_lateness_seconds", &[], &metrics.start_lateness_seconds);
    out.family(
        "aviary_scheduler_skipped_fires_total",
        "counter",
        "Fires skipped because the canary's previous run was still going.",
    );
    for (canary, count) in &metrics.skipped_fires_total {
        out.sample("aviary_scheduler_skipped_fires_total", &[("canary", canary)], count_value(*count));
    }
    out.family("aviary_scheduler_queued_runs", "gauge", "Runs that are due and wait for a free slot.");
    out.sample("aviary_scheduler_queued_runs", &[], usize_value(metrics.queued_runs));
    out.family("aviary_scheduler_running_runs", "gauge", "Runs in progress.");
    out.sample("aviary_scheduler_running_runs", &[], usize_value(metrics.running_runs));
}

/// What the daemon has loaded: each canary's schedule state, load errors, the count.
fn canary_families(out: &mut Exposition, canaries: &[CanaryStatus], broken_files: usize) {
    out.family(
        "aviary_canary_next_fire_timestamp_seconds",
        "gauge",
        "When the canary fires next, in seconds since the Unix epoch (absent when it will not fire again).",
    );
    for canary in canaries {
        if let Some(next) = canary.next_fire {
            let labels = [("canary", canary.name.as_str())];
            out.sample("aviary_canary_next_fire_timestamp_seconds", &labels, epoch_seconds(next));
        }
    }
    out.family("aviary_canary_running", "gauge", "1 while the canary has a run in progress, else 0.");
    for canary in canaries {
        out.sample("aviary_canary_running", &[("canary", &canary.name)], flag(canary.running));
    }
    out.family("aviary_canary_enabled", "gauge", "1 when the canary is enabled (scheduled), else 0.");
    for canary in canaries {
        out.sample("aviary_canary_enabled", &[("canary", &canary.name)], flag(canary.enabled));
    }
    out.family(
        "aviary_config_errors",
        "gauge",
        "Canary or project files that do not validate (a previous version of each keeps running, if it had one).",
    );
    out.sample("aviary_config_errors", &[], usize_value(broken_files));
    out.family("aviary_canaries", "gauge", "Canaries loaded.");
    out.sample("aviary_canaries", &[], usize_value(canaries.len()));
}

fn browser_families(out: &mut Exposition, metrics: &DaemonMetrics) {
    let pool = &metrics.browser;
    out.family("aviary_browser_processes", "gauge", "Chromium processes running in the browser pool.");
    out.sample("aviary_browser_processes", &[], usize_value(pool.browsers_alive));
    out.family(
        "aviary_browser_pages_in_use",
        "gauge",
        "Browser pages handed out to runs and not yet closed.",
    );
    out.sample("aviary_browser_pages_in_use", &[], usize_value(pool.pages_in_use));
    out.family(
        "aviary_browser_launches_total",
        "counter",
        "Chromium processes started since the daemon started.",
    );
    out.sample("aviary_browser_launches_total", &[], count_value(pool.launches));
    out.family(
        "aviary_browser_crashes_total",
        "counter",
        "Chromium processes that exited without being asked to.",
    );
    out.sample("aviary_browser_crashes_total", &[], count_value(pool.crashes));
}

fn failover_families(out: &mut Exposition, records: &[RecordStatus]) {
    out.family(
        "aviary_failover_answer",
        "gauge",
        "1 for the answer (primary or secondary) the failover record should give now, else 0.",
    );
    for r in records {
        for answer in ["primary", "secondary"] {
            let value = flag(r.desired_answer == Some(answer));
            out.sample("aviary_failover_answer", &[("failover", &r.name), ("answer", answer)], value);
        }
    }
    out.family(
        "aviary_failover_in_sync",
        "gauge",
        "1 when the DNS server answers what the failover record should give, else 0.",
    );
    for r in records {
        let value = flag(r.actual.as_ref().is_some_and(|a| *a == r.desired));
        out.sample("aviary_failover_in_sync", &[("failover", &r.name)], value);
    }
    out.family(
        "aviary_failover_error",
        "gauge",
        "1 when the last check or change of the failover record failed (see `aviary failover status`).",
    );
    for r in records {
        out.sample("aviary_failover_error", &[("failover", &r.name)], flag(r.last_error.is_some()));
    }
    out.family(
        "aviary_failover_errors_total",
        "counter",
        "Failed checks or changes of the failover record since the daemon started.",
    );
    for r in records {
        out.sample("aviary_failover_errors_total", &[("failover", &r.name)], count_value(r.errors_total));
    }
}

#[allow(clippy::cast_precision_loss)] // Counts stay far below 2^53.
fn count_value(count: u64) -> f64 {
    count as f64
}

#[allow(clippy::cast_precision_loss)]
fn usize_value(count: usize) -> f64 {
    count as f64
}

#[allow(clippy::cast_precision_loss)]
fn epoch_seconds(at: chrono::DateTime<chrono::Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

/// The exposition being written.
#[derive(Default)]
struct Exposition {
    text: String,
    /// Added to every sample as the label `location`.
    location: Option<String>,
    format: Format,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let out = &mut self.text;
        match self.format {
            Format::Prometheus => {
                let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
                let _ = writeln!(out, "# TYPE {name} {kind}");
            }
            Format::OpenMetrics => {
                let family =
                    if kind == "counter" { name.strip_suffix("_total").unwrap_or(name) } else { name };
                let _ = writeln!(out, "# TYPE {family} {kind}");
                if let Some(unit) =
                    ["seconds", "bytes"].into_iter().find(|u| family.ends_with(&format!("_{u}")))
                {
                    let _ = writeln!(out, "# UNIT {family} {unit}");
                }
                let _ = writeln!(out, "# HELP {family} {}", escape_help(help).replace('"', "\\\""));
            }
        }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let out = &mut self.text;
        out.push_str(name);
        let location = self.location.as_deref().map(|l| ("location", l));
        if !labels.is_empty() || location.is_some() {
            out.push('{');
            for (i, (label, text)) in location.iter().chain(labels).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{label}=\"{}\"", escape_label(text));
            }
            out.push('}');
        }
        let _ = writeln!(out, " {}", format_value(value));
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let bucket = format!("{name}_bucket");
        for (le, count) in &histogram.buckets {
            let le = format_value(*le);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, count_value(*count));
        }
        let mut with_le = labels.to_vec();
        with_le.push(("le", "+Inf"));
        self.sample(&bucket, &with_le, count_value(histogram.count));
        self.sample(&format!("{name}_sum"), labels, histogram.sum);
        self.sample(&format!("{name}_count"), labels, count_value(histogram.count));
    }
}

/// A label value: backslash, double quote and line feed escaped.
pub fn escape_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A `# HELP` text: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus reads it (`+Inf`, `-Inf`, `NaN`, else the shortest decimal).
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("two\nlines"), "two\\nlines");
        assert_eq!(escape_label("plain-name_1"), "plain-name_1");
    }

    #[test]
    fn values_use_prometheus_spelling() {
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(100.0), "100");
        assert_eq!(format_value(0.005), "0.005");
        assert_eq!(format_value(1500.25), "1500.25");
    }

    #[test]
    fn step_series_skip_skipped_steps_and_repeated_names() {
        let step = |name: &str, status| StepReport {
            index: 0,
            name: name.into(),
            status,
            reason: None,
            start: chrono::Utc::now(),
            duration_ms: 1.0,
            screenshots: Vec::new(),
            url: None,
            details: serde_json::Map::new(),
        };
        let run = RunReport {
            location: None,
            canary: "c".into(),
            run_id: "r".into(),
            attempt: 1,
            blueprint: "api".into(),
            status: RunStatus::Error,
            reason: None,
            start: chrono::Utc::now(),
            end: chrono::Utc::now(),
            duration_ms: 2.0,
            steps: vec![
                step("a", StepStatus::Failed),
                step("a", StepStatus::Passed),
                step("b", StepStatus::Skipped),
                step("c", StepStatus::Error),
            ],
            artifacts: String::new(),
            requests: crate::report::RequestCounts::default(),
            details: serde_json::Map::new(),
        };
        let measured: Vec<_> = measured_steps(&run).map(|s| (s.name.as_str(), s.status)).collect();
        assert_eq!(measured, [("a", StepStatus::Failed), ("c", StepStatus::Error)]);
    }

    #[test]
    fn openmetrics_is_served_to_scrapers_that_ask_for_it() {
        let negotiate = Format::negotiate;
        assert_eq!(negotiate(None), Format::Prometheus);
        assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Prometheus);
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(negotiate(Some("application/openmetrics-text; q=0")), Format::Prometheus);

        let mut out = Exposition { text: String::new(), format: Format::OpenMetrics, location: None };
        out.family("aviary_runs_total", "counter", "Runs \"finished\".");
        out.sample("aviary_runs_total", &[("canary", "a\"b")], 2.0);
        out.family("aviary_duration_seconds", "gauge", "Duration.");
        assert_eq!(
            out.text,
            "# TYPE aviary_runs counter\n\
             # HELP aviary_runs Runs \\\"finished\\\".\n\
             aviary_runs_total{canary=\"a\\\"b\"} 2\n\
             # TYPE aviary_duration_seconds gauge\n\
             # UNIT aviary_duration_seconds seconds\n\
             # HELP aviary_duration_seconds Duration.\n"
        );
    }

    #[test]
    fn histograms_end_with_inf_sum_and_count() {
        let mut histogram = Histogram::new(&[0.25, 1.0]);
        histogram.observe(0.25);
        histogram.observe(0.5);
        histogram.observe(3.0);
        let mut out = Exposition { text: String::new(), format: Format::Prometheus, location: None };
        out.histogram("x_seconds", &[("canary", "a")], &histogram);
        assert_eq!(
            out.text,
            "x_seconds_bucket{canary=\"a\",le=\"0.25\"} 1\n\
             x_seconds_bucket{canary=\"a\",le=\"1\"} 2\n\
             x_seconds_bucket{canary=\"a\",le=\"+Inf\"} 3\n\
             x_seconds_sum{canary=\"a\"} 3.75\n\
             x_seconds_count{canary=\"a\"} 3\n"
        );
    }
}
