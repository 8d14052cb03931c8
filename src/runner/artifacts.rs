//! Writes a run's folder: `report.json` (already redacted), `<canary>.har` and `log.txt`
//! (redacted here).

use std::path::Path;

use crate::har::{self, Har};
use crate::report::RunReport;
use crate::step::redact::Redactor;
pub use crate::store::layout::ArtifactError;
use crate::store::layout::write_file;

/// Writes the run's files into `dir`; screenshots are already there.
pub fn write_run_files(
    dir: &Path,
    report: &RunReport,
    har: Har,
    log: &[String],
    redactor: &Redactor,
) -> Result<(), ArtifactError> {
    let mut har = har;
    redactor.redact_har(&mut har);
    write_json(&dir.join(format!("{}.har", report.canary)), &har)?;

    let mut log_text = String::with_capacity(log.iter().map(|l| l.len() + 1).sum());
    for line in log {
        log_text.push_str(&redactor.redact_message(line));
        log_text.push('\n');
    }
    write_file(&dir.join("log.txt"), log_text.as_bytes())?;

    write_json(&dir.join("report.json"), report)
}

/// A HAR of the run's pages and entries, in request order.
pub fn build_har(pages: Vec<har::Page>, mut entries: Vec<har::Entry>) -> Har {
    entries.sort_by(|a, b| a.started_date_time.cmp(&b.started_date_time));
    Har::new(pages, entries)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ArtifactError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|source| ArtifactError::Encode { path: path.to_path_buf(), source })?;
    write_file(path, &bytes)
}
