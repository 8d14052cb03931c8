//! Canary and project files: model, `${VAR}` expansion, validation with positions, schedules.
//!
//! Loading a file goes [`yaml`] (text to a positioned node tree) → [`expand`] (`${NAME}`) →
//! [`de`] (serde, collecting every problem) → [`validate`] (semantic checks) and ends in
//! [`load`], which turns problems into [`Diagnostic`]s with `file:line:col`.
pub mod catalog;
pub mod de;
pub mod expand;
pub mod indent;
pub mod kind;
pub mod load;
pub mod model;
pub mod path;
pub mod schedule;
pub mod section;
pub mod status;
pub mod suggest;
pub mod validate;
pub mod yaml;

pub use catalog::{BlueprintCatalog, TemplateSteps};
pub use load::{
    Canary, Diagnostic, Project, SectionCheck, check_alarm_references, load_canaries, load_canaries_in,
    load_canaries_with, load_project, load_project_with, read_project_with,
};
pub use path::{KeyPath, PathSeg, Problem};
pub use schedule::Schedule;
pub use section::Section;
pub use status::StatusRanges;

/// Whether `name` can name a location: 1 to 64 letters, digits, `.`, `_` or `-`.
pub fn is_location_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
