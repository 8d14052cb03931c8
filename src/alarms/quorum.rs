//! Quorum alarms (`locations: {min_failing: N}`): each location's datapoints are evaluated
//! alone by the alarm's rule, and the alarm is `ALARM` while at least N locations are — "n of
//! m probes", so one location's network trouble does not page anybody.
//!
//! Locations are those with datapoints in the evaluated range (datapoints without a location
//! count as the location `default`). With none, the rule decides as for missing data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::metric::Rule;
use super::state::{AlarmState, Outcome};
use crate::report::Datapoint;

/// The location of datapoints that name none.
const UNNAMED: &str = "default";

/// The quorum's verdict over `points` (the alarm's metric in the range ending at `end`).
pub fn evaluate(
    rule: &Rule,
    min_failing: usize,
    points: &[Datapoint],
    end: DateTime<Utc>,
    current: AlarmState,
) -> Outcome {
    let mut by_location: BTreeMap<&str, Vec<(DateTime<Utc>, f64)>> = BTreeMap::new();
    for point in points {
        by_location
            .entry(point.location.as_deref().unwrap_or(UNNAMED))
            .or_default()
            .push((point.timestamp, point.value));
    }
    if by_location.is_empty() {
        return rule.evaluate(&rule.slots(&[], end), current);
    }
    let verdicts: Vec<(&str, Outcome)> = by_location
        .iter()
        .map(|(location, samples)| (*location, rule.evaluate(&rule.slots(samples, end), current)))
        .collect();
    let failing: Vec<&str> =
        verdicts.iter().filter(|(_, o)| o.state == Some(AlarmState::Alarm)).map(|(l, _)| *l).collect();
    let total = verdicts.len();
    let names = |list: &[&str]| if list.is_empty() { "none".to_string() } else { list.join(", ") };
    if failing.len() >= min_failing {
        return Outcome {
            state: Some(AlarmState::Alarm),
            reason: format!(
                "Threshold Crossed in {} of {total} locations ({}), at least {min_failing} needed. {}",
                failing.len(),
                names(&failing),
                first_reason(&verdicts, &failing)
            ),
        };
    }
    // Every location decided (none keeps its state for lack of data): the quorum is not met.
    let undecided: Vec<&str> = verdicts.iter().filter(|(_, o)| o.state.is_none()).map(|(l, _)| *l).collect();
    if !undecided.is_empty() && failing.len() + undecided.len() >= min_failing {
        return Outcome {
            state: None,
            reason: format!(
                "{} of {total} locations breaching ({}) and {} without enough data ({}): unchanged",
                failing.len(),
                names(&failing),
                undecided.len(),
                names(&undecided)
            ),
        };
    }
    Outcome {
        state: Some(AlarmState::Ok),
        reason: format!(
            "{} of {total} locations breaching ({}), fewer than the {min_failing} needed",
            failing.len(),
            names(&failing)
        ),
    }
}

/// The first failing location's own reason, as an example of what breached.
fn first_reason(verdicts: &[(&str, Outcome)], failing: &[&str]) -> String {
    verdicts
        .iter()
        .find(|(l, _)| failing.first() == Some(l))
        .map(|(l, o)| format!("{l}: {}", o.reason))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::metric::{Comparison, Statistic};
    use crate::spec::model::MissingData;

    fn rule() -> Rule {
        Rule {
            statistic: Statistic::Average,
            period_secs: 60,
            evaluation_periods: 2,
            datapoints_to_alarm: 2,
            comparison: Comparison::parse("<").unwrap(),
            threshold: 90.0,
            missing: MissingData::Missing,
        }
    }

    fn points(location: Option<&str>, values: &[f64], end: DateTime<Utc>) -> Vec<Datapoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Datapoint {
                metric: "SuccessPercent".into(),
                canary: "home".into(),
                step: None,
                location: location.map(str::to_string),
                timestamp: end - chrono::Duration::seconds(60 * (values.len() - i) as i64)
                    + chrono::Duration::seconds(1),
                value: *v,
            })
            .collect()
    }

    fn end() -> DateTime<Utc> {
        // A whole minute: the periods of the rule start on it.
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn one_failing_location_of_three_is_not_a_quorum_of_two() {
        let mut all = points(Some("eu"), &[0.0, 0.0], end());
        all.extend(points(Some("us"), &[100.0, 100.0], end()));
        all.extend(points(Some("ap"), &[100.0, 100.0], end()));
        let outcome = evaluate(&rule(), 2, &all, end(), AlarmState::Ok);
        assert_eq!(outcome.state, Some(AlarmState::Ok), "{}", outcome.reason);
        assert!(
            outcome.reason.starts_with("1 of 3 locations breaching (eu), fewer than the 2 needed"),
            "{}",
            outcome.reason
        );
    }

    #[test]
    fn two_failing_locations_make_the_alarm() {
        let mut all = points(Some("eu"), &[0.0, 0.0], end());
        all.extend(points(Some("us"), &[50.0, 0.0], end()));
        all.extend(points(None, &[100.0, 100.0], end()));
        let outcome = evaluate(&rule(), 2, &all, end(), AlarmState::Ok);
        assert_eq!(outcome.state, Some(AlarmState::Alarm), "{}", outcome.reason);
        assert!(
            outcome
                .reason
                .starts_with("Threshold Crossed in 2 of 3 locations (eu, us), at least 2 needed. eu: "),
            "{}",
            outcome.reason
        );
    }

    #[test]
    fn without_datapoints_the_missing_data_rule_decides() {
        let outcome = evaluate(&rule(), 2, &[], end(), AlarmState::Ok);
        assert_eq!(outcome.state, Some(AlarmState::InsufficientData), "{}", outcome.reason);
    }
}
