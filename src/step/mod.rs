//! The step API every blueprint uses: [`RunContext`] opens and closes steps, times them, takes
//! screenshots, keeps the log and the HAR entries, and redacts secrets ([`redact`]) before
//! anything is written. It sits below the blueprints, so they never import the runner.

pub mod context;
pub mod redact;
pub mod services;

pub use context::{RunContext, StepError, StepOutcome};
pub use services::{ProgressEvent, ProgressSink, Services};
