//! One run of a canary from start to stored report: picks the blueprint from the registry,
//! applies the whole-run timeout and retries, writes the artifacts, then the store.

pub mod artifacts;
pub mod execute;

pub use execute::{canary_redactor, run_attempt, run_with_retries};
