//! Copying history from one store to another (`aviary store migrate`): runs with their steps and
//! datapoints, alarm states and transitions, failover changes.
//!
//! Copying again is safe: a run saved again replaces itself, and an alarm's or failover's
//! history is copied only when the target holds none for that name yet.

use std::collections::HashSet;

use super::{RunPage, Store, StoreError};

/// Runs read per page while copying.
const PAGE: usize = 500;

/// What [`copy_history`] copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyCounts {
    /// Runs saved in the target (with their steps).
    pub runs: usize,
    /// Datapoints saved with them.
    pub datapoints: usize,
    /// Alarm transitions replayed in the target.
    pub alarm_transitions: usize,
    /// Alarms left alone because the target already had history for them.
    pub alarms_skipped: usize,
    /// Failover changes copied.
    pub failover_changes: usize,
    /// Failovers left alone because the target already had history for them.
    pub failovers_skipped: usize,
}

/// Copies everything `from` holds into `to`; `progress` hears the count of runs copied so far
/// after each page.
pub fn copy_history(
    from: &dyn Store,
    to: &dyn Store,
    progress: &mut dyn FnMut(usize),
) -> Result<CopyCounts, StoreError> {
    let mut counts = CopyCounts::default();
    for latest in from.latest_runs()? {
        // Pages end just after their last run's start, so runs that share that millisecond are
        // read again on the next page (and skipped) rather than lost.
        let mut copied = HashSet::new();
        let mut page = RunPage::first(PAGE);
        loop {
            let runs = from.runs(&latest.canary, page)?;
            let mut new = 0;
            for summary in &runs {
                if !copied.insert(summary.run_id.clone()) {
                    continue;
                }
                new += 1;
                let Some(report) = from.run(&summary.run_id)? else { continue };
                let datapoints = from.run_datapoints(&summary.run_id)?;
                to.save_run(&report, &datapoints)?;
                counts.runs += 1;
                counts.datapoints += datapoints.len();
            }
            progress(counts.runs);
            match runs.last() {
                Some(last) if runs.len() == PAGE && new > 0 => {
                    page.before = Some(last.start + chrono::TimeDelta::milliseconds(1));
                }
                // A whole page within one millisecond: step past it.
                Some(last) if runs.len() == PAGE => page.before = Some(last.start),
                _ => break,
            }
        }
    }
    for state in from.alarm_states()? {
        if !to.alarm_history(&state.alarm, 1)?.is_empty() {
            counts.alarms_skipped += 1;
            continue;
        }
        for transition in from.alarm_history(&state.alarm, usize::MAX)?.iter().rev() {
            to.record_alarm_transition(transition)?;
            counts.alarm_transitions += 1;
        }
    }
    for failover in from.failovers()? {
        if !to.failover_history(&failover, 1)?.is_empty() {
            counts.failovers_skipped += 1;
            continue;
        }
        for change in from.failover_history(&failover, usize::MAX)?.iter().rev() {
            to.record_failover_change(change)?;
            counts.failover_changes += 1;
        }
    }
    Ok(counts)
}
