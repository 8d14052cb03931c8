//! Canary and project files: model, `${VAR}` expansion, validation with positions, schedules.
pub mod model;
pub mod path;

pub use path::{KeyPath, PathSeg, Problem};
