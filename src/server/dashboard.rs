//! `GET /`: one server-rendered page listing every canary with its last run and next fire time,
//! links to the run's report, artifacts and screenshots, and the files that do not validate.
//! No JavaScript; the page refreshes itself every 30 seconds and takes its styles from
//! `/dashboard.css`, so the Content-Security-Policy allows nothing inline.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use chrono::{DateTime, SecondsFormat, Utc};

use super::backend::{Backend, BrokenFile, CanaryStatus};
use crate::report::RunStatus;

/// The page's styles, served from our origin so that the Content-Security-Policy needs no
/// `'unsafe-inline'`.
pub const STYLESHEET: &str = concat!(
    "body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}\n",
    "td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\n",
    ".PASSED{color:#17692b}.FAILED,.ERROR,.TIMEOUT{color:#b3261e;font-weight:bold}\n",
    ".errors{color:#b3261e}small{color:#666}\n"
);

/// `GET /dashboard.css`.
pub async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET)
}

/// `GET /`.
pub async fn page(State(backend): State<Arc<dyn Backend>>) -> Html<String> {
    Html(render(&backend.canaries(), &backend.broken_files(), Utc::now()))
}

/// The whole page.
pub fn render(canaries: &[CanaryStatus], broken_files: &[BrokenFile], now: DateTime<Utc>) -> String {
    let mut out = String::from(concat!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"refresh\" content=\"30\"><title>Aviary</title>",
        "<link rel=\"stylesheet\" href=\"/dashboard.css\"></head><body>\n<h1>Aviary</h1>\n"
    ));
    let _ = writeln!(
        out,
        "<p><small>{} canaries · {} · <a href=\"/metrics\">metrics</a> · \
         <a href=\"/api/v1/canaries\">API</a></small></p>",
        canaries.len(),
        time(now)
    );
    broken(&mut out, broken_files);
    out.push_str(
        "<table>\n<tr><th>canary</th><th>status</th><th>last run</th><th>next fire</th><th>schedule</th>\
         <th>screenshots</th></tr>\n",
    );
    for canary in canaries {
        row(&mut out, canary);
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

/// The files that do not validate, each with what runs instead: its previous version, or nothing
/// when it has not validated since the daemon started.
fn broken(out: &mut String, files: &[BrokenFile]) {
    if files.is_empty() {
        return;
    }
    out.push_str("<h2 class=\"errors\">Files that do not validate</h2>\n<ul class=\"errors\">\n");
    for file in files {
        let what_runs = if file.previous_version {
            "its previous version keeps running"
        } else {
            "not loaded: it has not validated since the daemon started"
        };
        let _ = writeln!(
            out,
            "<li><code>{}</code> <small>({what_runs})</small><ul>",
            escape(&file.file.display().to_string())
        );
        for problem in &file.problems {
            let _ = writeln!(out, "<li><code>{}</code></li>", escape(problem));
        }
        out.push_str("</ul></li>\n");
    }
    out.push_str("</ul>\n");
}

fn row(out: &mut String, canary: &CanaryStatus) {
    let name = escape(&canary.name);
    let _ = write!(
        out,
        "<tr><td><a href=\"/api/v1/canaries/{}\">{name}</a><br><small>{}</small></td>",
        segment(&canary.name),
        escape(&canary.blueprint)
    );
    let status = match (&canary.last_run, canary.running) {
        (_, true) => "<td>running…</td>".to_string(),
        (Some(run), false) => format!("<td class=\"{0}\">{0}</td>", run.status),
        (None, false) => "<td>–</td>".to_string(),
    };
    out.push_str(&status);
    match &canary.last_run {
        Some(run) => {
            let id = segment(&run.run_id);
            let _ = write!(
                out,
                "<td><a href=\"/api/v1/runs/{id}\">{}</a> · {:.0} ms · <a href=\"/api/v1/runs/{id}/artifacts\">files</a>",
                time(run.start),
                run.duration_ms
            );
            if run.status != RunStatus::Passed
                && let Some(reason) = &run.reason
            {
                let _ = write!(out, "<br><small>{}</small>", escape(reason));
            }
            out.push_str("</td>");
        }
        None => out.push_str("<td>never</td>"),
    }
    let next = match (canary.enabled, canary.next_fire) {
        (false, _) => "disabled".to_string(),
        (true, Some(at)) => time(at),
        (true, None) => "–".to_string(),
    };
    let _ = write!(out, "<td>{next}</td><td><code>{}</code></td><td>", escape(&canary.schedule));
    if let Some(run) = &canary.last_run {
        let id = segment(&run.run_id);
        for shot in run.steps.iter().flat_map(|s| &s.screenshots) {
            let href = shot.split('/').map(segment).collect::<Vec<_>>().join("/");
            let _ = write!(out, "<a href=\"/api/v1/runs/{id}/artifacts/{href}\">{}</a><br>", escape(shot));
        }
    }
    out.push_str("</td></tr>\n");
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(segment("home page/ü"), "home%20page%2F%C3%BC");
        assert_eq!(segment("api-orders_1.x~"), "api-orders_1.x~");
    }

    fn broken_file(name: &str, previous_version: bool) -> BrokenFile {
        BrokenFile {
            file: name.into(),
            problems: vec![format!("{name}:2:11: schedule: `rate(7 parsecs)` is not a schedule")],
            previous_version,
        }
    }

    #[test]
    fn a_broken_file_says_whether_a_previous_version_runs() {
        let html = render(&[], &[broken_file("canaries/was-good.yaml", true)], Utc::now());
        assert!(html.contains("Files that do not validate"), "{html}");
        assert!(
            html.contains("<code>canaries/was-good.yaml</code> <small>(its previous version keeps running)"),
            "{html}"
        );
        assert!(html.contains("canaries/was-good.yaml:2:11: schedule:"), "{html}");

        let html = render(&[], &[broken_file("canaries/never.yaml", false)], Utc::now());
        assert!(!html.contains("previous version"), "a file that never loaded has none\n{html}");
        assert!(html.contains("<code>canaries/never.yaml</code> <small>(not loaded: it has not validated since the daemon started)"), "{html}");

        assert!(!render(&[], &[], Utc::now()).contains("do not validate"));
    }
}
