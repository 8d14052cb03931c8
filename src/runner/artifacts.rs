//! Writes a run's folder: `report.json` (already redacted), `<canary>.har` and `log.txt`
//! (redacted here).

use std::path::{Path, PathBuf};

use crate::har::{self, Har};
use crate::report::RunReport;
use crate::step::redact::Redactor;

/// A run file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file's contents could not be encoded as JSON.
    #[error("could not encode {}: {source}", path.display())]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The encoder's error.
        source: serde_json::Error,
    },
    /// The file could not be written.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

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

/// Writes a file whole. Readers find runs through the database, whose row is written after
/// every file, so no reader sees a file being written; a process killed mid-run leaves no row.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    std::fs::write(path, bytes).map_err(|source| ArtifactError::Write { path: path.to_path_buf(), source })
}
