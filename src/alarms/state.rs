//! Alarm states and transitions (CloudWatch's `OK`, `ALARM`, `INSUFFICIENT_DATA`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of an alarm. New alarms start in [`AlarmState::InsufficientData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    #[default]
    InsufficientData,
}

impl AlarmState {
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
    pub state: Option<AlarmState>,
    pub reason: String,
}
