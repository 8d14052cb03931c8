//! Metric alarm evaluation, as CloudWatch does it.
//!
//! Datapoints are aggregated per period (periods aligned to multiples of the period since the
//! Unix epoch, UTC). Only complete periods are evaluated. The *evaluation range* is the last
//! `evaluation_periods + 2` complete periods ([`EXTRA_RANGE_PERIODS`]); when it holds at least N
//! periods with data, the most recent N of those decide (missing periods are skipped, never
//! filled). Only when fewer than N periods have data does `treat_missing_data` fill the gaps of
//! the last N periods (`breaching`, `not_breaching`) or leave them out (`missing`, `ignore`, with
//! CloudWatch's rule that avoids premature alarms). See `docs/alarms.md`.

use chrono::{DateTime, TimeZone, Utc};

use super::state::{AlarmState, Outcome};
use crate::spec::model::{AlarmSpec, MissingData};

/// How many periods beyond N the evaluation range holds.
pub const EXTRA_RANGE_PERIODS: usize = 2;

/// An alarm statistic (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    Average,
    Sum,
    Minimum,
    Maximum,
    SampleCount,
    /// `pNN`: the percentile NN (0 < NN <= 100), nearest-rank.
    Percentile(f64),
}

impl Statistic {
    /// Parses `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, `p90`, `p99.9`.
    pub fn parse(s: &str) -> Option<Statistic> {
        Some(match s {
            "Average" => Statistic::Average,
            "Sum" => Statistic::Sum,
            "Minimum" => Statistic::Minimum,
            "Maximum" => Statistic::Maximum,
            "SampleCount" => Statistic::SampleCount,
            _ => {
                let p: f64 = s.strip_prefix('p')?.parse().ok()?;
                if !(p > 0.0 && p <= 100.0) {
                    return None;
                }
                Statistic::Percentile(p)
            }
        })
    }

    /// The statistic of `values` (`None` when there are none).
    pub fn compute(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        Some(match self {
            Statistic::Average => values.iter().sum::<f64>() / n,
            Statistic::Sum => values.iter().sum(),
            Statistic::Minimum => values.iter().copied().fold(f64::INFINITY, f64::min),
            Statistic::Maximum => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Statistic::SampleCount => n,
            Statistic::Percentile(p) => percentile(values, p),
        })
    }
}

/// Nearest-rank percentile: the smallest value such that at least `p`% of the values are less
/// than or equal to it (rank `ceil(p/100 * n)`).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Rounded first: 99.9% of 1000 is 999, not 999.0000000000001.
    let exact = ((p / 100.0) * sorted.len() as f64 * 1e9).round() / 1e9;
    let rank = exact.ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `< <= > >=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    pub fn parse(s: &str) -> Option<Comparison> {
        Some(match s {
            "<" => Comparison::Less,
            "<=" => Comparison::LessOrEqual,
            ">" => Comparison::Greater,
            ">=" => Comparison::GreaterOrEqual,
            _ => return None,
        })
    }

    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Less => value < threshold,
            Comparison::LessOrEqual => value <= threshold,
            Comparison::Greater => value > threshold,
            Comparison::GreaterOrEqual => value >= threshold,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Comparison::Less => "less than",
            Comparison::LessOrEqual => "less than or equal to",
            Comparison::Greater => "greater than",
            Comparison::GreaterOrEqual => "greater than or equal to",
        }
    }
}

/// A metric alarm's evaluation settings, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub statistic: Statistic,
    /// Seconds, at least 1.
    pub period_secs: i64,
    /// N.
    pub evaluation_periods: usize,
    /// M.
    pub datapoints_to_alarm: usize,
    pub comparison: Comparison,
    pub threshold: f64,
    pub missing: MissingData,
}

impl Rule {
    /// The rule of a validated alarm (`None` if a field does not parse).
    pub fn from_spec(spec: &AlarmSpec) -> Option<Rule> {
        let n = spec.evaluation_periods as usize;
        Some(Rule {
            statistic: Statistic::parse(&spec.statistic)?,
            period_secs: i64::try_from(spec.period.0.as_secs()).ok().filter(|p| *p >= 1)?,
            evaluation_periods: n,
            datapoints_to_alarm: spec.datapoints_to_alarm.map_or(n, |m| m as usize),
            comparison: Comparison::parse(&spec.comparison)?,
            threshold: spec.threshold,
            missing: spec.treat_missing_data,
        })
    }

    /// How many periods the evaluation range holds.
    pub fn range_periods(&self) -> usize {
        self.evaluation_periods + EXTRA_RANGE_PERIODS
    }

    /// The end (exclusive) of the last complete period at `now`.
    pub fn range_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let secs = now.timestamp().div_euclid(self.period_secs) * self.period_secs;
        Utc.timestamp_opt(secs, 0).single().unwrap_or(now)
    }

    /// The start (inclusive) of the evaluation range ending at `end`.
    pub fn range_start(&self, end: DateTime<Utc>) -> DateTime<Utc> {
        end - chrono::Duration::seconds(self.period_secs * self.range_periods() as i64)
    }

    /// Aggregates raw `(time, value)` samples into the range's periods, oldest first: each slot
    /// is `Some((period start, statistic))` or `None` (no data in that period).
    pub fn slots(&self, samples: &[(DateTime<Utc>, f64)], end: DateTime<Utc>) -> Vec<Slot> {
        let start = self.range_start(end);
        let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); self.range_periods()];
        for (time, value) in samples {
            if *time < start || *time >= end {
                continue;
            }
            let i = ((*time - start).num_seconds() / self.period_secs) as usize;
            if let Some(bucket) = buckets.get_mut(i) {
                bucket.push(*value);
            }
        }
        buckets
            .iter()
            .enumerate()
            .map(|(i, values)| {
                let at = start + chrono::Duration::seconds(self.period_secs * i as i64);
                self.statistic.compute(values).map(|v| (at, v))
            })
            .collect()
    }

    /// Decides the state from the range's slots (oldest first), given the current state.
    pub fn evaluate(&self, slots: &[Slot], current: AlarmState) -> Outcome {
        let n = self.evaluation_periods;
        let m = self.datapoints_to_alarm;
        let real: Vec<(DateTime<Utc>, f64)> = slots.iter().flatten().copied().collect();
        let breaching = |v: f64| self.comparison.breaches(v, self.threshold);
        if real.len() >= n {
            let last = &real[real.len() - n..];
            return self.verdict(last, last.iter().filter(|(_, v)| breaching(*v)).count(), current);
        }
        if real.is_empty() {
            let (state, what) = match self.missing {
                MissingData::Missing => (Some(AlarmState::InsufficientData), "treated as missing"),
                MissingData::Ignore => (None, "ignored: the state is kept"),
                MissingData::Breaching => (Some(AlarmState::Alarm), "treated as breaching"),
                MissingData::NotBreaching => (Some(AlarmState::Ok), "treated as not breaching"),
            };
            return Outcome {
                state,
                reason: format!(
                    "no datapoints were received for the last {} periods; missing data is {what}",
                    self.range_periods()
                ),
            };
        }
        // Fewer than N periods with data: the last N periods decide, gaps by treat_missing_data.
        let window = &slots[slots.len().saturating_sub(n)..];
        match self.missing {
            MissingData::Breaching | MissingData::NotBreaching => {
                let fill = self.missing == MissingData::Breaching;
                let count = window.iter().filter(|s| s.map_or(fill, |(_, v)| breaching(v))).count();
                let shown: Vec<_> = window.iter().flatten().copied().collect();
                self.verdict(&shown, count, current)
            }
            MissingData::Missing | MissingData::Ignore => {
                let count = real.iter().filter(|(_, v)| breaching(*v)).count();
                if count >= m || premature_alarm(window, m, &breaching) {
                    let shown: Vec<_> = window.iter().flatten().copied().collect();
                    let count = count.max(shown.iter().filter(|(_, v)| breaching(*v)).count());
                    self.verdict_forced(&shown, count, current)
                } else {
                    self.verdict(&real, count, current)
                }
            }
        }
    }

    fn verdict(&self, shown: &[(DateTime<Utc>, f64)], breaching: usize, current: AlarmState) -> Outcome {
        if breaching >= self.datapoints_to_alarm {
            self.verdict_forced(shown, breaching, current)
        } else {
            let good: Vec<_> = shown
                .iter()
                .filter(|(_, v)| !self.comparison.breaches(*v, self.threshold))
                .copied()
                .collect();
            let k = self.evaluation_periods - breaching.min(self.evaluation_periods);
            Outcome {
                state: Some(AlarmState::Ok),
                reason: format!(
                    "Threshold Crossed: {k} out of the last {} datapoints {} {} not {} the threshold ({}) \
                     (minimum 1 datapoint for {current} -> OK transition).",
                    self.evaluation_periods,
                    list(&good),
                    if good.len() == 1 { "was" } else { "were" },
                    self.comparison.words(),
                    number(self.threshold),
                ),
            }
        }
    }

    fn verdict_forced(
        &self,
        shown: &[(DateTime<Utc>, f64)],
        breaching: usize,
        current: AlarmState,
    ) -> Outcome {
        let bad: Vec<_> =
            shown.iter().filter(|(_, v)| self.comparison.breaches(*v, self.threshold)).copied().collect();
        let m = self.datapoints_to_alarm;
        Outcome {
            state: Some(AlarmState::Alarm),
            reason: format!(
                "Threshold Crossed: {breaching} out of the last {} datapoints {} {} {} the threshold ({}) \
                 (minimum {m} datapoint{} for {current} -> ALARM transition).",
                self.evaluation_periods,
                list(&bad),
                if breaching == 1 { "was" } else { "were" },
                self.comparison.words(),
                number(self.threshold),
                if m == 1 { "" } else { "s" },
            ),
        }
    }
}

/// One period of the evaluation range: its start and statistic, or `None` when it had no data.
pub type Slot = Option<(DateTime<Utc>, f64)>;

/// CloudWatch's rule against premature alarms (for `missing` and `ignore`): the alarm goes to
/// ALARM when the oldest breaching datapoint in the last N periods is at least M periods old and
/// every more recent period is breaching or missing, even with fewer than M datapoints.
fn premature_alarm(window: &[Slot], m: usize, breaching: &dyn Fn(f64) -> bool) -> bool {
    let Some(oldest) = window.iter().position(|s| s.is_some_and(|(_, v)| breaching(v))) else {
        return false;
    };
    let age = window.len() - oldest;
    age >= m && window[oldest..].iter().all(|s| s.is_none_or(|(_, v)| breaching(v)))
}

/// `[0.0 (25/11/26 12:01:00), 0.0 (25/11/26 12:02:00)]`, as CloudWatch writes datapoints.
fn list(points: &[(DateTime<Utc>, f64)]) -> String {
    let items: Vec<String> =
        points.iter().map(|(t, v)| format!("{} ({})", number(*v), t.format("%d/%m/%y %H:%M:%S"))).collect();
    format!("[{}]", items.join(", "))
}

/// `90.0`, `0.5`, `123.456`.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.1}") } else { format!("{v}") }
}
