//! Metric alarm evaluation, as CloudWatch does it.
//!
//! Datapoints are aggregated per period (periods aligned to multiples of the period since the
//! Unix epoch, UTC). Only complete periods are evaluated. The *evaluation range* is the last
//! `evaluation_periods + 2` complete periods ([`EXTRA_RANGE_PERIODS`]); when it holds at least N
//! periods with data, the most recent N of those decide (missing periods are skipped, never
//! filled). When fewer than N periods have data, every real datapoint of the range counts and
//! `treat_missing_data` decides the rest: `breaching` / `not_breaching` add as few filled
//! datapoints as reach N; `missing` evaluates the real datapoints alone, with CloudWatch's
//! premature-alarm rule; `ignore` does the same but keeps the current state where that rule
//! would decide (and when there is no data at all). See `docs/alarms.md`.

use chrono::{DateTime, TimeZone, Utc};

use super::state::{AlarmState, Outcome};
use crate::spec::model::{AlarmSpec, MissingData};

/// How many periods beyond N the evaluation range holds.
pub const EXTRA_RANGE_PERIODS: usize = 2;

/// An alarm statistic (`docs/alarms.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    /// The mean of the values.
    Average,
    /// The sum of the values.
    Sum,
    /// The smallest value.
    Minimum,
    /// The largest value.
    Maximum,
    /// How many values there are.
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
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
}

impl Comparison {
    /// Parses `<`, `<=`, `>` or `>=`.
    pub fn parse(s: &str) -> Option<Comparison> {
        Some(match s {
            "<" => Comparison::Less,
            "<=" => Comparison::LessOrEqual,
            ">" => Comparison::Greater,
            ">=" => Comparison::GreaterOrEqual,
            _ => return None,
        })
    }

    /// Whether `value` is on the alarming side of `threshold`.
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
    /// The statistic computed over each period.
    pub statistic: Statistic,
    /// Seconds, at least 1.
    pub period_secs: i64,
    /// N.
    pub evaluation_periods: usize,
    /// M.
    pub datapoints_to_alarm: usize,
    /// How a period's statistic is compared with the threshold.
    pub comparison: Comparison,
    /// The value the statistic is compared with.
    pub threshold: f64,
    /// How periods without datapoints count (`treat_missing_data`).
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

    /// The rule in words: `Average over 300 s less than 90, 2 of 3 periods (missing data: missing)`.
    pub fn describe(&self) -> String {
        let statistic = match self.statistic {
            Statistic::Percentile(p) => format!("p{}", number(p)),
            other => format!("{other:?}"),
        };
        format!(
            "{statistic} over {} s {} {}, {} of {} periods (missing data: {})",
            self.period_secs,
            self.comparison.words(),
            number(self.threshold),
            self.datapoints_to_alarm,
            self.evaluation_periods,
            format!("{:?}", self.missing).to_lowercase()
        )
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
    ///
    /// With at least N real datapoints in the range, the N most recent decide. With fewer, every
    /// real datapoint of the range counts, and `breaching` / `not_breaching` add as few filled
    /// datapoints as reach N; `missing` and `ignore` evaluate the real datapoints alone, with the
    /// premature-alarm rule for `missing` (where it would decide, `ignore` keeps the state).
    pub fn evaluate(&self, slots: &[Slot], current: AlarmState) -> Outcome {
        let n = self.evaluation_periods;
        let real: Vec<(DateTime<Utc>, f64)> = slots.iter().flatten().copied().collect();
        if real.len() >= n {
            return self.verdict(&real[real.len() - n..], 0, current);
        }
        if real.is_empty() {
            let (state, prefix) = match self.missing {
                MissingData::Missing => (Some(AlarmState::InsufficientData), "Insufficient Data"),
                MissingData::Ignore => (None, "Unchanged"),
                MissingData::Breaching => (Some(AlarmState::Alarm), "Threshold Crossed"),
                MissingData::NotBreaching => (Some(AlarmState::Ok), "Threshold Crossed"),
            };
            return Outcome {
                state,
                reason: format!(
                    "{prefix}: no datapoints were received for {n} period{} and {}.",
                    plural(n),
                    self.filled_note(n, true)
                ),
            };
        }
        let filled = n - real.len();
        match self.missing {
            MissingData::Breaching | MissingData::NotBreaching => self.verdict(&real, filled, current),
            MissingData::Missing | MissingData::Ignore => {
                let breaching = real.iter().filter(|(_, v)| self.breaches(*v)).count();
                let window = &slots[slots.len().saturating_sub(n)..];
                match premature_alarm(window, self.datapoints_to_alarm, &|v| self.breaches(v)) {
                    Some(age) if breaching < self.datapoints_to_alarm => {
                        let bad: Vec<_> = real.iter().filter(|(_, v)| self.breaches(*v)).copied().collect();
                        Outcome {
                            state: (self.missing == MissingData::Missing).then_some(AlarmState::Alarm),
                            reason: format!(
                                "Threshold Crossed: {breaching} out of the last {} datapoints {} {} {} the \
                                 threshold ({}) and {}, the oldest breaching datapoint being {age} periods \
                                 old (premature-alarm rule; minimum {} for {current} -> ALARM transition).",
                                n,
                                list(&bad),
                                was(breaching),
                                self.comparison.words(),
                                number(self.threshold),
                                self.filled_note(filled, true),
                                datapoints(self.datapoints_to_alarm),
                            ),
                        }
                    }
                    _ => self.verdict(&real, filled, current),
                }
            }
        }
    }

    fn breaches(&self, value: f64) -> bool {
        self.comparison.breaches(value, self.threshold)
    }

    /// `3 missing datapoints were treated as [Breaching]` (without `were` unless `verb`).
    fn filled_note(&self, filled: usize, verb: bool) -> String {
        let how = match self.missing {
            MissingData::Missing => "Missing",
            MissingData::Ignore => "Ignore",
            MissingData::Breaching => "Breaching",
            MissingData::NotBreaching => "NonBreaching",
        };
        let noun = format!("{filled} missing datapoint{}", plural(filled));
        if verb {
            format!("{noun} {} treated as [{how}]", was(filled))
        } else {
            format!("{noun} treated as [{how}]")
        }
    }

    /// The state from the evaluated real datapoints `points` and the `filled` missing ones that
    /// complete them to N: counted as breaching or not for `breaching` / `not_breaching`, only
    /// named in the reason for `missing` / `ignore`. The reason counts exactly the datapoints it
    /// lists plus the filled ones it names.
    fn verdict(&self, points: &[(DateTime<Utc>, f64)], filled: usize, current: AlarmState) -> Outcome {
        let (bad, good): (Vec<_>, Vec<_>) = points.iter().copied().partition(|(_, v)| self.breaches(*v));
        let counted = match self.missing {
            MissingData::Breaching | MissingData::NotBreaching => filled,
            MissingData::Missing | MissingData::Ignore => 0,
        };
        let fill_bad = if self.missing == MissingData::Breaching { counted } else { 0 };
        let fill_good = counted - fill_bad;
        let breaching = bad.len() + fill_bad;
        let including = |k: usize| {
            if k == 0 { String::new() } else { format!(", including {}", self.filled_note(k, false)) }
        };
        let m = self.datapoints_to_alarm;
        if breaching >= m {
            return Outcome {
                state: Some(AlarmState::Alarm),
                reason: format!(
                    "Threshold Crossed: {breaching} out of the last {} datapoints {} {} {} the threshold \
                     ({}){} (minimum {} for {current} -> ALARM transition).",
                    self.evaluation_periods,
                    list(&bad),
                    was(breaching),
                    self.comparison.words(),
                    number(self.threshold),
                    including(fill_bad),
                    datapoints(m),
                ),
            };
        }
        let ok = good.len() + fill_good;
        let reason = if ok > 0 {
            format!(
                "Threshold Crossed: {ok} out of the last {} datapoints {} {} not {} the threshold ({}){} \
                 (minimum 1 datapoint for {current} -> OK transition).",
                self.evaluation_periods,
                list(&good),
                was(ok),
                self.comparison.words(),
                number(self.threshold),
                including(fill_good),
            )
        } else {
            // Only with `missing` / `ignore`: every datapoint breaches, but there are fewer than M.
            format!(
                "Threshold Crossed: {breaching} out of the last {} datapoints {} {} {} the threshold ({}) \
                 and {}, fewer than the minimum {} for {current} -> ALARM transition.",
                self.evaluation_periods,
                list(&bad),
                was(breaching),
                self.comparison.words(),
                number(self.threshold),
                self.filled_note(filled, true),
                datapoints(m),
            )
        };
        Outcome { state: Some(AlarmState::Ok), reason }
    }
}

/// One period of the evaluation range: its start and statistic, or `None` when it had no data.
pub type Slot = Option<(DateTime<Utc>, f64)>;

/// CloudWatch's rule against premature alarms (applied for `missing`; `ignore` keeps the state
/// where it would decide): the alarm goes to ALARM when the oldest breaching datapoint in the
/// last N periods is at least M periods old and every more recent period is breaching or
/// missing, even with fewer than M datapoints. Returns that datapoint's age in periods.
fn premature_alarm(window: &[Slot], m: usize, breaching: &dyn Fn(f64) -> bool) -> Option<usize> {
    let oldest = window.iter().position(|s| s.is_some_and(|(_, v)| breaching(v)))?;
    let age = window.len() - oldest;
    (age >= m && window[oldest..].iter().all(|s| s.is_none_or(|(_, v)| breaching(v)))).then_some(age)
}

fn plural(k: usize) -> &'static str {
    if k == 1 { "" } else { "s" }
}

fn was(k: usize) -> &'static str {
    if k == 1 { "was" } else { "were" }
}

/// `1 datapoint`, `2 datapoints`.
fn datapoints(k: usize) -> String {
    format!("{k} datapoint{}", plural(k))
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
