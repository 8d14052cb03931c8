//! `/metrics`: the daemon's state in the Prometheus text exposition format (version 0.0.4).
//!
//! Every metric is listed, with its type and labels, in `docs/server.md`. Last-run metrics mirror
//! the CloudWatch metrics of SPEC §3 (`SuccessPercent`, `Duration` in milliseconds, request
//! counts); scheduler and browser metrics follow Prometheus naming (`_seconds`, `_total`).

use std::fmt::Write as _;

use super::backend::{CanaryStatus, DaemonMetrics, Histogram};
use crate::dns::controller::RecordStatus;
use crate::report::RunStatus;
use crate::report::StepStatus;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric family.
pub fn render(canaries: &[CanaryStatus], load_errors: usize, metrics: &DaemonMetrics) -> String {
    let mut out = Exposition::default();
    let last_runs = || canaries.iter().filter_map(|c| c.last_run.as_ref().map(|r| (c.name.as_str(), r)));

    out.family(
        "aviary_success_percent",
        "gauge",
        "SuccessPercent of the canary's last run: 100 passed, 0 not.",
    );
    for (canary, run) in last_runs() {
        let value = if run.status == RunStatus::Passed { 100.0 } else { 0.0 };
        out.sample("aviary_success_percent", &[("canary", canary)], value);
    }
    out.family("aviary_duration_ms", "gauge", "Duration of the canary's last run, in milliseconds.");
    for (canary, run) in last_runs() {
        out.sample("aviary_duration_ms", &[("canary", canary)], run.duration_ms);
    }
    out.family(
        "aviary_step_success_percent",
        "gauge",
        "SuccessPercent of each step of the canary's last run: 100 passed, 0 not (skipped steps are left out).",
    );
    for (canary, run) in last_runs() {
        for step in run.steps.iter().filter(|s| s.status != StepStatus::Skipped) {
            let value = if step.status == StepStatus::Passed { 100.0 } else { 0.0 };
            out.sample("aviary_step_success_percent", &[("canary", canary), ("step", &step.name)], value);
        }
    }
    out.family(
        "aviary_step_duration_ms",
        "gauge",
        "Duration of each step of the canary's last run, in milliseconds.",
    );
    for (canary, run) in last_runs() {
        for step in run.steps.iter().filter(|s| s.status != StepStatus::Skipped) {
            out.sample(
                "aviary_step_duration_ms",
                &[("canary", canary), ("step", &step.name)],
                step.duration_ms,
            );
        }
    }
    out.family(
        "aviary_requests",
        "gauge",
        "Requests of the canary's last run by outcome: 2xx, 3xx, 4xx, 5xx, failed (no response).",
    );
    for (canary, run) in last_runs() {
        let r = &run.requests;
        for (class, count) in [
            ("2xx", r.ok_2xx),
            ("3xx", r.redirect_3xx),
            ("4xx", r.client_4xx),
            ("5xx", r.server_5xx),
            ("failed", r.failed),
        ] {
            out.sample("aviary_requests", &[("canary", canary), ("class", class)], f64::from(count));
        }
    }
    out.family(
        "aviary_visual_success_percent",
        "gauge",
        "VisualMonitoringSuccessPercent of the canary's last run (visual canaries only).",
    );
    for (canary, run) in last_runs() {
        if let Some(value) = run.details.get("visual_success_percent").and_then(serde_json::Value::as_f64) {
            out.sample("aviary_visual_success_percent", &[("canary", canary)], value);
        }
    }
    out.family(
        "aviary_last_run_timestamp_seconds",
        "gauge",
        "When the canary's last run ended, in seconds since the Unix epoch.",
    );
    for (canary, run) in last_runs() {
        out.sample("aviary_last_run_timestamp_seconds", &[("canary", canary)], epoch_seconds(run.end));
    }

    out.family(
        "aviary_runs_total",
        "counter",
        "Finished runs (every attempt) by canary and status since the daemon started.",
    );
    for ((canary, status), count) in &metrics.runs_total {
        out.sample(
            "aviary_runs_total",
            &[("canary", canary), ("status", status.as_str())],
            count_value(*count),
        );
    }
    out.family(
        "aviary_run_duration_seconds",
        "histogram",
        "Duration of runs (every attempt) by canary, in seconds.",
    );
    for (canary, histogram) in &metrics.run_duration_seconds {
        out.histogram("aviary_run_duration_seconds", &[("canary", canary)], histogram);
    }

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
    out.family(
        "aviary_canary_next_fire_timestamp_seconds",
        "gauge",
        "When the canary fires next, in seconds since the Unix epoch (absent when it will not fire again).",
    );
    for canary in canaries {
        if let Some(next) = canary.next_fire {
            out.sample(
                "aviary_canary_next_fire_timestamp_seconds",
                &[("canary", &canary.name)],
                epoch_seconds(next),
            );
        }
    }
    out.family("aviary_canary_running", "gauge", "1 while the canary has a run in progress, else 0.");
    for canary in canaries {
        out.sample(
            "aviary_canary_running",
            &[("canary", &canary.name)],
            if canary.running { 1.0 } else { 0.0 },
        );
    }
    out.family("aviary_canary_enabled", "gauge", "1 when the canary is enabled (scheduled), else 0.");
    for canary in canaries {
        out.sample(
            "aviary_canary_enabled",
            &[("canary", &canary.name)],
            if canary.enabled { 1.0 } else { 0.0 },
        );
    }

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

    render_failover(&mut out, &metrics.failover);

    out.family(
        "aviary_config_errors",
        "gauge",
        "Canary or project files that no longer validate (their previous version keeps running).",
    );
    out.sample("aviary_config_errors", &[], usize_value(load_errors));
    out.family("aviary_canaries", "gauge", "Canaries loaded.");
    out.sample("aviary_canaries", &[], usize_value(canaries.len()));
    out.0
}

fn render_failover(out: &mut Exposition, records: &[RecordStatus]) {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
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
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{label}=\"{}\"", escape_label(text));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", format_value(value));
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
    fn histograms_end_with_inf_sum_and_count() {
        let mut histogram = Histogram::new(&[0.25, 1.0]);
        histogram.observe(0.25);
        histogram.observe(0.5);
        histogram.observe(3.0);
        let mut out = Exposition::default();
        out.histogram("x_seconds", &[("canary", "a")], &histogram);
        assert_eq!(
            out.0,
            "x_seconds_bucket{canary=\"a\",le=\"0.25\"} 1\n\
             x_seconds_bucket{canary=\"a\",le=\"1\"} 2\n\
             x_seconds_bucket{canary=\"a\",le=\"+Inf\"} 3\n\
             x_seconds_sum{canary=\"a\"} 3.75\n\
             x_seconds_count{canary=\"a\"} 3\n"
        );
    }
}
