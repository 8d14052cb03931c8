//! The messages between a script's child process and the run (JSON, one per line). The child
//! sends a [`Request`] and waits for its [`Reply`]; the run starts it with a [`Start`] and the
//! child ends with [`Request::Done`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::step::StepError;

/// The largest protocol line either side reads (a screenshot name or an evaluate result larger
/// than this is refused).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// What the child runs: the first line the run writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Start {
    /// The script file.
    pub file: String,
    /// The function called with the canary object.
    pub handler: String,
    /// The canary's `env:` (also the child's process environment).
    pub env: BTreeMap<String, String>,
    /// Folders put first on `sys.path`: the canary's folder, then the venv's site-packages.
    pub paths: Vec<String>,
}

/// A request of the child.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Start a report step.
    StepBegin {
        /// The step's name.
        name: String,
    },
    /// End the open step; `error` when an exception left it.
    StepEnd {
        /// Why it did not pass.
        error: Option<ScriptError>,
    },
    /// Load a URL.
    Goto {
        /// The URL.
        url: String,
        /// Seconds to wait for it.
        timeout: Option<f64>,
    },
    /// Click an element.
    Click {
        /// Its selector.
        selector: String,
        /// Seconds to wait for it.
        timeout: Option<f64>,
    },
    /// Type into a field.
    Type {
        /// The field's selector.
        selector: String,
        /// The text.
        text: String,
        /// Seconds to wait for it.
        timeout: Option<f64>,
    },
    /// Choose a value of a `<select>`.
    Select {
        /// The element's selector.
        selector: String,
        /// The value.
        value: String,
        /// Seconds to wait for it.
        timeout: Option<f64>,
    },
    /// Move the mouse over an element.
    Hover {
        /// Its selector.
        selector: String,
        /// Seconds to wait for it.
        timeout: Option<f64>,
    },
    /// Press a key, in an element when given.
    Press {
        /// The key (`Enter`, `a`).
        key: String,
        /// The element.
        selector: Option<String>,
        /// Seconds to wait for it.
        timeout: Option<f64>,
    },
    /// An element's text.
    Text {
        /// Its selector.
        selector: String,
        /// Seconds to wait for it.
        timeout: Option<f64>,
    },
    /// Wait until an element is visible.
    WaitForSelector {
        /// Its selector.
        selector: String,
        /// Seconds to wait.
        timeout: Option<f64>,
    },
    /// Wait for the navigation the last click or key press started.
    WaitForNavigation {
        /// Seconds to wait.
        timeout: Option<f64>,
    },
    /// Evaluate JavaScript in the page.
    Evaluate {
        /// The expression.
        js: String,
    },
    /// Take a named screenshot.
    Screenshot {
        /// Its name.
        name: String,
    },
    /// The page's URL.
    Url,
    /// The page's title.
    Title,
    /// An HTTP request outside the browser.
    Http {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// Headers, in order.
        headers: Vec<(String, String)>,
        /// The body, if any.
        body: Option<String>,
        /// Seconds to wait for the whole exchange.
        timeout: Option<f64>,
    },
    /// A line for `log.txt`.
    Log {
        /// `info`, `warning`, ...
        level: String,
        /// The line.
        message: String,
    },
    /// Fail the run at its end without stopping the script.
    AddExecutionError {
        /// Why.
        message: String,
    },
    /// Change the run's step settings.
    SetConfig {
        /// Screenshot when a step starts.
        screenshot_on_step_start: Option<bool>,
        /// Screenshot when a step passes.
        screenshot_on_step_success: Option<bool>,
        /// Screenshot when a step fails.
        screenshot_on_step_failure: Option<bool>,
        /// Go on after a failed step.
        continue_on_step_failure: Option<bool>,
    },
    /// The handler returned (`error`: it raised outside any step).
    Done {
        /// Why the run failed.
        error: Option<ScriptError>,
    },
}

/// An error crossing the pipe: its kind decides the step's or the run's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptError {
    /// `failed`, `error` or `timeout`.
    pub kind: ErrorKind,
    /// The message (with the script's `file:line` when it comes from the script).
    pub message: String,
}

/// How an error counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A check failed: FAILED.
    Failed,
    /// The canary could not do its work: ERROR.
    Error,
    /// Out of time: TIMEOUT.
    Timeout,
}

impl From<ScriptError> for StepError {
    fn from(e: ScriptError) -> Self {
        match e.kind {
            ErrorKind::Failed => Self::Failed(e.message),
            ErrorKind::Error => Self::Error(e.message),
            ErrorKind::Timeout => Self::Timeout(e.message),
        }
    }
}

impl From<StepError> for ScriptError {
    fn from(e: StepError) -> Self {
        let (kind, message) = match e {
            StepError::Failed(m) | StepError::Skipped(m) => (ErrorKind::Failed, m),
            StepError::Error(m) => (ErrorKind::Error, m),
            StepError::Timeout(m) => (ErrorKind::Timeout, m),
        };
        Self { kind, message }
    }
}

/// The run's answer to a request: a value, or the error the script sees as an exception.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// It worked; the value (or `null`).
    Ok(Value),
    /// It did not.
    Err(ScriptError),
}

impl Reply {
    /// The reply to a request that worked.
    pub fn value(value: impl Into<Value>) -> Self {
        Self::Ok(value.into())
    }
}

impl From<Result<Value, StepError>> for Reply {
    fn from(result: Result<Value, StepError>) -> Self {
        match result {
            Ok(v) => Self::Ok(v),
            Err(e) => Self::Err(e.into()),
        }
    }
}
