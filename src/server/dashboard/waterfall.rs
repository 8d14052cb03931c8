//! A run's HAR as a waterfall: one row per request, its phases (blocked, DNS, connect, TLS,
//! send, wait, receive) drawn to one time scale, as the browsers' network panels draw them.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::format::{bytes, count, duration_ms};
use crate::har::{Entry, Har};

/// Rows drawn at most; the rest are counted.
pub const MAX_ROWS: usize = 500;

/// The phases in the order they happen, with their CSS class. HAR counts TLS inside `connect`,
/// so `connect` is drawn without it.
const PHASES: [(&str, &str); 7] = [
    ("blocked", "ph-blocked"),
    ("DNS", "ph-dns"),
    ("connect", "ph-connect"),
    ("TLS", "ph-tls"),
    ("send", "ph-send"),
    ("wait", "ph-wait"),
    ("receive", "ph-receive"),
];

/// One request's phases in milliseconds, in [`PHASES`] order (0 where a phase did not apply).
fn phases(entry: &Entry) -> [f64; 7] {
    let t = &entry.timings;
    let ms = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
    let tls = ms(t.ssl);
    [ms(t.blocked), ms(t.dns), (ms(t.connect) - tls).max(0.0), tls, ms(t.send), ms(t.wait), ms(t.receive)]
}

/// `(phase index, start, length)` of each phase that took time, from `begin`, in milliseconds.
fn bars(phases: &[f64; 7], begin: f64) -> Vec<(usize, f64, f64)> {
    let mut at = begin;
    let mut out = Vec::new();
    for (i, ms) in phases.iter().enumerate() {
        if *ms > 0.0 {
            out.push((i, at, *ms));
        }
        at += ms;
    }
    out
}

fn start(entry: &Entry) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&entry.started_date_time).ok().map(|t| t.with_timezone(&Utc))
}

/// The waterfall of `har`; `download` is the HAR file's URL.
pub fn render(har: &Har, download: &str) -> Markup {
    let mut entries: Vec<(DateTime<Utc>, &Entry)> =
        har.log.entries.iter().filter_map(|e| start(e).map(|s| (s, e))).collect();
    entries.sort_by_key(|(s, _)| *s);
    let Some(first) = entries.first().map(|(s, _)| *s) else {
        return html! { p.muted { "The HAR holds no requests. " a href=(download) download { "Download the HAR" } } };
    };
    let offset = |s: DateTime<Utc>| (s - first).num_microseconds().unwrap_or(0) as f64 / 1000.0;
    let total =
        entries.iter().map(|(s, e)| offset(*s) + phases(e).iter().sum::<f64>()).fold(1.0_f64, f64::max);
    let scale = |ms: f64| ms / total * 1000.0;
    let hidden = entries.len().saturating_sub(MAX_ROWS);
    html! {
        p {
            (count(entries.len(), "request", "requests")) " over " (duration_ms(total)) ". "
            a href=(download) download { "Download the HAR" }
        }
        ul.legend {
            @for (name, class) in PHASES { li { span class={ "key " (class) } {} (name) } }
        }
        div.scroll {
            table.waterfall {
                thead { tr {
                    th scope="col" { "Request" } th scope="col" { "Status" } th scope="col" { "Size" }
                    th scope="col" { "Time" } th.timeline scope="col" { "0 – " (duration_ms(total)) }
                } }
                tbody {
                    @for (s, entry) in entries.iter().take(MAX_ROWS) {
                        @let phase = phases(entry);
                        @let begin = offset(*s);
                        tr {
                            td.url title=(entry.request.url) {
                                span.method { (entry.request.method) } " " (shorten(&entry.request.url, 90))
                            }
                            td {
                                @if entry.response.status == 0 {
                                    span.bad { (entry.error.as_deref().unwrap_or("no response")) }
                                } @else { (entry.response.status) }
                            }
                            td { (bytes(entry.response.content.size)) }
                            td { (duration_ms(phase.iter().sum())) }
                            td.timeline {
                                svg viewBox="0 0 1000 10" preserveAspectRatio="none" role="img"
                                    aria-label={ "starts at " (duration_ms(begin)) ", takes " (duration_ms(phase.iter().sum())) } {
                                    @for (i, from, ms) in bars(&phase, begin) {
                                        rect class=(PHASES[i].1) x=(format!("{:.2}", scale(from))) y="0"
                                            width=(format!("{:.2}", scale(ms).max(1.0))) height="10" {
                                            title { (PHASES[i].0) ": " (format!("{ms:.1} ms")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if hidden > 0 { p.muted { (count(hidden, "more request is", "more requests are")) " in the HAR." } }
    }
}

/// At most `max` characters, the cut marked with `…`.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn har(entries: serde_json::Value) -> Har {
        serde_json::from_value(serde_json::json!({
            "log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "pages": [], "entries": entries}
        }))
        .unwrap()
    }

    fn entry(start: &str, url: &str, timings: serde_json::Value, status: u16) -> serde_json::Value {
        serde_json::json!({
            "startedDateTime": start, "time": 0.0,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                        "queryString": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                         "content": {"size": 2048, "mimeType": "text/html"}, "redirectURL": "", "headersSize": -1, "bodySize": 2048},
            "cache": {}, "timings": timings
        })
    }

    #[test]
    fn phases_are_drawn_in_order_on_one_scale_with_tls_out_of_connect() {
        let har = har(serde_json::json!([
            entry(
                "2026-12-03T10:00:00.000Z",
                "https://example.test/",
                serde_json::json!({"blocked": 1.0, "dns": 10.0, "connect": 30.0, "ssl": 20.0, "send": 1.0, "wait": 50.0, "receive": 8.0}),
                200
            ),
            entry(
                "2026-12-03T10:00:00.100Z",
                "https://example.test/app.js",
                serde_json::json!({"blocked": -1.0, "dns": -1.0, "connect": -1.0, "ssl": -1.0, "send": 0.0, "wait": 40.0, "receive": 60.0}),
                404
            ),
        ]));
        let html = render(&har, "/x.har").into_string();
        assert!(html.contains("2 requests over 200 ms"), "{html}");
        // TLS is 20 of the 30 ms of connect: connect is drawn as 10 ms.
        assert!(html.contains("connect: 10.0 ms") && html.contains("TLS: 20.0 ms"), "{html}");
        assert!(!html.contains("DNS: -1"), "phases that did not apply are not drawn\n{html}");
        // The second request starts at 100 ms of 200: half way along.
        assert!(html.contains("class=\"ph-wait\" x=\"500.00\""), "{html}");
        assert!(html.contains(">404<"), "{html}");
    }

    #[test]
    fn an_empty_har_says_so() {
        assert!(render(&har(serde_json::json!([])), "/x.har").into_string().contains("holds no requests"));
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
