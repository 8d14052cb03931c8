//! The retention sweep (canary `retention: {success, failure}`): runs older than their
//! retention go, with their artifact folders, steps and datapoints.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Store, StoreError, layout};

/// How long a canary's runs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Passed runs.
    pub success: Duration,
    /// Every other run (failed, error, timeout).
    pub failure: Duration,
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Runs deleted from the store.
    pub runs_deleted: usize,
    /// Artifact folders whose removal failed; their runs stay in the store so that the next
    /// sweep tries again.
    pub errors: Vec<String>,
}

/// Deletes the runs of `canary` that started longer ago than their retention, as of `now`:
/// first each run's artifact folder, then the runs' rows in one transaction (so a sweep cut
/// short leaves at worst rows whose folder is gone, never folders nobody will remove).
pub fn sweep(
    store: &dyn Store,
    artifacts_root: &Path,
    canary: &str,
    policy: RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<SweepOutcome, StoreError> {
    let mut outcome = SweepOutcome::default();
    let mut doomed = Vec::new();
    for (passed, keep) in [(true, policy.success), (false, policy.failure)] {
        // A retention too long to represent keeps everything.
        let Some(cutoff) =
            chrono::Duration::from_std(keep).ok().and_then(|keep| now.checked_sub_signed(keep))
        else {
            continue;
        };
        for run in store.expired_runs(canary, passed, cutoff)? {
            if !run.artifacts.is_empty()
                && let Err(e) = layout::remove_run_dir(artifacts_root, &run.artifacts)
            {
                outcome.errors.push(format!(
                    "could not remove the artifacts of run {} ({}): {e}",
                    run.run_id, run.artifacts
                ));
                continue;
            }
            doomed.push(run.run_id);
        }
    }
    outcome.runs_deleted = store.delete_runs(&doomed)?;
    Ok(outcome)
}

/// Removes run folders that no stored run owns and whose run started before `before` (as their
/// path says): the folders of runs that never finished (the process was killed, or a drain
/// abandoned them), which no retention sweep would otherwise reach. Folders not named by the
/// layout are left alone. Returns how many it removed; problems are logged.
pub fn sweep_orphans(store: &dyn Store, artifacts_root: &Path, before: DateTime<Utc>) -> usize {
    let mut removed = 0;
    for (relative, folder) in run_folders(artifacts_root) {
        let Some(run_id) = folder.splitn(4, '-').nth(3) else { continue };
        let old = layout::run_start(&relative).is_some_and(|start| start < before);
        if !old || !matches!(store.has_run(run_id), Ok(false)) {
            continue;
        }
        match layout::remove_run_dir(artifacts_root, &relative) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!("retention: could not remove the unfinished run folder {relative}: {e}"),
        }
    }
    removed
}

/// Every `<canary>/<YYYY>/<MM>/<DD>/<HH>/<run folder>` under the root: (relative path, folder name).
fn run_folders(artifacts_root: &Path) -> Vec<(String, String)> {
    let mut level: Vec<String> = vec![String::new()];
    for _ in 0..6 {
        let mut next = Vec::new();
        for relative in &level {
            let Ok(entries) = std::fs::read_dir(artifacts_root.join(relative)) else { continue };
            for entry in entries.flatten() {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if let (true, Some(name)) = (is_dir, entry.file_name().to_str()) {
                    next.push(if relative.is_empty() {
                        name.to_string()
                    } else {
                        format!("{relative}/{name}")
                    });
                }
            }
        }
        level = next;
    }
    level
        .into_iter()
        .map(|relative| {
            let folder = relative.rsplit('/').next().unwrap_or_default().to_string();
            (relative, folder)
        })
        .collect()
}
