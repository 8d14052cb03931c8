//! Which answer a failover record should give, following Route 53's failover rules.

use crate::spec::model::InsufficientDataMode;

/// An alarm's state as far as failover cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The alarm is `OK`.
    Ok,
    /// The alarm is in `ALARM`.
    Alarm,
    /// The alarm is `INSUFFICIENT_DATA`, unknown or has no state yet.
    InsufficientData,
}

impl Health {
    /// From a stored state (`OK`, `ALARM`, `INSUFFICIENT_DATA`); unknown or missing alarms have
    /// insufficient data.
    pub fn parse(state: Option<&str>) -> Health {
        match state {
            Some("OK") => Health::Ok,
            Some("ALARM") => Health::Alarm,
            _ => Health::InsufficientData,
        }
    }
}

/// Which set of values a record answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The entry's `primary` values.
    Primary,
    /// The entry's `secondary` values.
    Secondary,
}

impl Answer {
    /// `primary` or `secondary`, as shown in status and history.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Primary => "primary",
            Answer::Secondary => "secondary",
        }
    }
}

/// The desired answer and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Which values the record should have.
    pub answer: Answer,
    /// Why, in one line.
    pub why: String,
}

/// `Some(healthy)` or `None` when the mode is `last_known` and the data is insufficient.
fn healthy(h: Health, mode: InsufficientDataMode) -> Option<bool> {
    match (h, mode) {
        (Health::Ok, _) => Some(true),
        (Health::Alarm, _) => Some(false),
        (Health::InsufficientData, InsufficientDataMode::Healthy) => Some(true),
        (Health::InsufficientData, InsufficientDataMode::Unhealthy) => Some(false),
        (Health::InsufficientData, InsufficientDataMode::LastKnown) => None,
    }
}

/// The desired answer from the primary's health, the secondary's health (`None`: no secondary
/// alarm, always healthy), how `INSUFFICIENT_DATA` counts, and the last answer given (`None`:
/// unknown, then insufficient data under `last_known` keeps the primary).
pub fn decide(
    primary: Health,
    secondary: Option<Health>,
    mode: InsufficientDataMode,
    last_known: Option<Answer>,
) -> Decision {
    let d = |answer, why: &str| Decision { answer, why: why.to_string() };
    let Some(primary_ok) = healthy(primary, mode) else {
        let answer = last_known.unwrap_or(Answer::Primary);
        return d(answer, "primary health has insufficient data; keeping the last known answer");
    };
    if primary_ok {
        return if primary == Health::Ok {
            d(Answer::Primary, "primary is healthy")
        } else {
            d(Answer::Primary, "primary health has insufficient data, counted as healthy")
        };
    }
    let secondary_ok = match secondary {
        None => Some(true),
        Some(h) => healthy(h, mode),
    };
    match secondary_ok {
        Some(true) => d(Answer::Secondary, "primary is unhealthy and the secondary is healthy"),
        Some(false) => {
            d(Answer::Primary, "primary and secondary are both unhealthy; answering with the primary")
        }
        None => d(
            last_known.unwrap_or(Answer::Primary),
            "primary is unhealthy and the secondary has insufficient data; keeping the last known answer",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::Answer::{Primary as P, Secondary as S};
    use super::Health::{Alarm as A, InsufficientData as I, Ok as O};
    use super::*;
    use InsufficientDataMode::{Healthy as H, LastKnown as L, Unhealthy as U};

    /// primary, secondary, mode, last known, expected.
    type Case = (Health, Option<Health>, InsufficientDataMode, Option<Answer>, Answer);

    #[test]
    fn table() {
        #[rustfmt::skip]
        let cases: &[Case] = &[
            // primary healthy: primary, whatever else
            (O, None, L, Some(S), P),
            (O, Some(A), U, None, P),
            (O, Some(I), H, Some(S), P),
            // primary in alarm, no secondary alarm: secondary
            (A, None, L, None, S),
            (A, None, U, Some(P), S),
            // primary in alarm, secondary healthy / in alarm
            (A, Some(O), L, Some(P), S),
            (A, Some(A), L, Some(S), P),
            (A, Some(A), H, None, P),
            // secondary insufficient data, by mode
            (A, Some(I), H, Some(P), S),
            (A, Some(I), U, Some(S), P),
            (A, Some(I), L, Some(S), S),
            (A, Some(I), L, Some(P), P),
            (A, Some(I), L, None, P),
            // primary insufficient data, by mode
            (I, None, H, Some(S), P),
            (I, None, U, Some(P), S),
            (I, Some(A), U, None, P),
            (I, Some(O), U, None, S),
            (I, None, L, Some(S), S),
            (I, None, L, Some(P), P),
            (I, None, L, None, P),
        ];
        for (i, &(p, s, mode, last, want)) in cases.iter().enumerate() {
            let got = decide(p, s, mode, last);
            assert_eq!(got.answer, want, "case {i}: {p:?} {s:?} {mode:?} {last:?}: {}", got.why);
        }
    }

    #[test]
    fn parse_states() {
        assert_eq!(Health::parse(Some("OK")), O);
        assert_eq!(Health::parse(Some("ALARM")), A);
        assert_eq!(Health::parse(Some("INSUFFICIENT_DATA")), I);
        assert_eq!(Health::parse(None), I);
    }
}
