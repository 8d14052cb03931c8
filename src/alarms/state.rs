//! Alarm states and transitions (CloudWatch's `OK`, `ALARM`, `INSUFFICIENT_DATA`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of an alarm. New alarms start in [`AlarmState::InsufficientData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// The metric is within its threshold.
    Ok,
    /// The metric breached its threshold.
    Alarm,
    /// Not enough data to decide; the state of a new alarm.
    #[default]
    InsufficientData,
}

impl AlarmState {
    /// The state as stored and shown: `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses `OK`, `ALARM`, `INSUFFICIENT_DATA` (case-insensitive).
impl FromStr for AlarmState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "OK" => Ok(AlarmState::Ok),
            "ALARM" => Ok(AlarmState::Alarm),
            "INSUFFICIENT_DATA" => Ok(AlarmState::InsufficientData),
            _ => Err(format!("unknown alarm state `{s}`; expected OK, ALARM or INSUFFICIENT_DATA")),
        }
    }
}

/// What an evaluation decided: a new state (maybe the same one) and why; `None` state means
/// "keep the current state" (`treat_missing_data: ignore` with no data).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The new state; `None` to keep the current one.
    pub state: Option<AlarmState>,
    /// The reason recorded with the state.
    pub reason: String,
}
