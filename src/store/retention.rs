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
