//! One run of a canary: the step API every blueprint uses ([`RunContext`]), the whole-run
//! timeout, retries, statuses, artifacts and the report.

pub mod artifacts;
pub mod context;
pub mod execute;
pub mod redact;
pub mod report;
pub mod services;

pub use context::{RunContext, StepError, StepOutcome};
pub use execute::{run_attempt, run_with_retries};
pub use report::{Datapoint, RequestCounts, RunReport, RunStatus, StepReport, StepStatus};
pub use services::{ProgressEvent, ProgressSink, Services};
