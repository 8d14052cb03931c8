//! How the dashboard writes times, durations, statuses and links.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{Markup, html};

/// One URL path segment, percent-encoded (everything but RFC 3986 unreserved characters).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The URL of a file of a run's folder (`file` relative to the folder, `/` separated).
pub fn artifact_url(run_id: &str, file: &str) -> String {
    let path: Vec<String> = file.split('/').map(segment).collect();
    format!("/api/v1/runs/{}/artifacts/{}", segment(run_id), path.join("/"))
}

/// The dashboard page of a canary.
pub fn canary_url(name: &str) -> String {
    format!("/canaries/{}", segment(name))
}

/// The dashboard page of a run.
pub fn run_url(run_id: &str) -> String {
    format!("/runs/{}", segment(run_id))
}

/// The dashboard page of an alarm.
pub fn alarm_url(name: &str) -> String {
    format!("/alarms/{}", segment(name))
}

/// `2026-12-03 08:21:03Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true).replacen('T', " ", 1)
}

/// A time as a `<time>` element: the relative form to read, the exact one on hover.
pub fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) title=(timestamp(at)) { (relative(at, now)) }
    }
}

/// `3 min ago`, `in 12 s`, `2 h ago`, `5 d ago`.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let span = seconds.unsigned_abs();
    let amount = match span {
        0..=1 => return "now".to_string(),
        2..=119 => format!("{span} s"),
        120..=7199 => format!("{} min", span / 60),
        7200..=172_799 => format!("{} h", span / 3600),
        _ => format!("{} d", span / 86_400),
    };
    if seconds >= 0 { format!("{amount} ago") } else { format!("in {amount}") }
}

/// `850 ms`, `12.4 s`, `3 min 5 s`.
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "–".to_string();
    }
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        let seconds = (ms / 1000.0).round() as u64;
        format!("{} min {} s", seconds / 60, seconds % 60)
    }
}

/// `12 kB`, `3.4 MB`.
pub fn bytes(count: i64) -> String {
    match count {
        c if c < 0 => "–".to_string(),
        c if c < 1000 => format!("{c} B"),
        c if c < 1_000_000 => format!("{:.0} kB", c as f64 / 1000.0),
        c => format!("{:.1} MB", c as f64 / 1_000_000.0),
    }
}

/// A table in a box that scrolls sideways on narrow screens: its class, column headings and rows.
pub fn table(class: &str, headings: &[&str], rows: Markup) -> Markup {
    html! {
        div.scroll {
            table class=[(!class.is_empty()).then_some(class)] {
                thead { tr { @for heading in headings { th scope="col" { (heading) } } } }
                tbody { (rows) }
            }
        }
    }
}

/// `1 request`, `3 requests`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// A status as a badge; the class carries the colour and the word says it, so colour is never
/// the only sign.
pub fn badge(status: &str) -> Markup {
    html! { span class={ "badge " (status_class(status)) } { (status) } }
}

/// The CSS class of a status word.
pub fn status_class(status: &str) -> &'static str {
    match status {
        "PASSED" | "OK" => "good",
        "FAILED" | "ERROR" | "TIMEOUT" | "ALARM" => "bad",
        "running" => "busy",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_artifact_urls() {
        assert_eq!(segment("home page/ü"), "home%20page%2F%C3%BC");
        assert_eq!(segment("api-orders_1.x~"), "api-orders_1.x~");
        assert_eq!(
            artifact_url("r 1", "screenshots/01 home.png"),
            "/api/v1/runs/r%201/artifacts/screenshots/01%20home.png"
        );
    }

    #[test]
    fn relative_times_and_durations() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().with_timezone(&Utc);
        let at = |s: i64| now - chrono::Duration::seconds(s);
        assert_eq!(relative(at(0), now), "now");
        assert_eq!(relative(at(45), now), "45 s ago");
        assert_eq!(relative(at(-45), now), "in 45 s");
        assert_eq!(relative(at(600), now), "10 min ago");
        assert_eq!(relative(at(3 * 3600), now), "3 h ago");
        assert_eq!(relative(at(3 * 86_400), now), "3 d ago");
        assert_eq!(duration_ms(850.4), "850 ms");
        assert_eq!(duration_ms(12_400.0), "12.4 s");
        assert_eq!(duration_ms(185_000.0), "3 min 5 s");
        assert_eq!(duration_ms(f64::NAN), "–");
        assert_eq!(bytes(12_345), "12 kB");
        assert_eq!(bytes(-1), "–");
    }
}
