use chrono::Utc;

use super::overview::{Filters, render};
use crate::server::backend::BrokenFile;

fn broken_file(name: &str, previous_version: bool) -> BrokenFile {
    BrokenFile {
        file: name.into(),
        problems: vec![format!("{name}:2:11: schedule: `rate(7 parsecs)` is not a schedule <script>")],
        previous_version,
    }
}

fn overview(files: &[BrokenFile]) -> String {
    render(&[], (files, &[]), &[], &Filters::default(), Utc::now(), Utc::now()).into_string()
}

#[test]
fn a_broken_file_says_whether_a_previous_version_runs() {
    let html = overview(&[broken_file("canaries/was-good.yaml", true)]);
    assert!(html.contains("Files that do not validate"), "{html}");
    assert!(
        html.contains("<code>canaries/was-good.yaml</code> <small>(its previous version keeps running)"),
        "{html}"
    );
    assert!(html.contains("canaries/was-good.yaml:2:11: schedule:"), "{html}");
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "escaped\n{html}");

    let html = overview(&[broken_file("canaries/never.yaml", false)]);
    assert!(!html.contains("previous version"), "a file that never loaded has none\n{html}");
    assert!(html.contains("(not loaded: it has not validated since the daemon started)"), "{html}");

    assert!(!overview(&[]).contains("do not validate"));
}
