//! The blueprints, one module each. A module owns its settings type (the canary file's section
//! named after the blueprint), the checks of that section beyond its types, its run, what it adds
//! to redaction, and its `aviary new` template; [`registry`] lists them. Adding a blueprint is one
//! new module plus one line in [`registry::REGISTRY`] (`docs/architecture.md`).

pub mod api;
pub mod flow;
pub mod heartbeat;
pub mod links;
pub mod page_steps;
pub mod registry;
pub mod script;
pub mod visual;
pub mod workflow;

use std::path::Path;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

pub use registry::{REGISTRY, Registry};

use crate::spec::de::{Located, is_unknown_key};
use crate::spec::validate::Problems;
use crate::spec::yaml::Node;
use crate::spec::{Canary, KeyPath, Section, TemplateSteps};
use crate::step::{RunContext, StepError};

/// What a blueprint is: the registry holds one of each.
pub trait Blueprint: Sync {
    /// The name canary files give in `blueprint:`, and the key of its section.
    fn name(&self) -> &'static str;

    /// The commented canary file `aviary new` writes (from the top-level `blueprints/` folder).
    fn template(&self) -> &'static str;

    /// Whether a run needs a browser page.
    fn uses_browser(&self) -> bool;

    /// Every problem of the section: see [`crate::spec::BlueprintCatalog::check`].
    fn check(&self, section: &Section, tainted: &[KeyPath], file: &Path) -> Vec<Located>;

    /// The run of one canary (already validated).
    fn build(&self, canary: &Canary) -> Result<Box<dyn Runnable>, BuildError>;

    /// When the section's steps define variables for later steps: the steps.
    fn template_steps(&self, _section: &Node) -> Option<TemplateSteps> {
        None
    }

    /// The keys its section reads (for a key written at the wrong level); none by default.
    fn section_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// What the canary sends that redaction rules apply to (restricted headers, URL parameters).
    fn sent_values(&self, _canary: &Canary) -> SentValues {
        SentValues::default()
    }
}

/// A blueprint's run of one canary: its steps, through the [`RunContext`] step API.
///
/// `Ok(())` means the blueprint reached its end (its steps carry their own statuses); an `Err`
/// ends the run with that error outside any step.
pub trait Runnable: Send + Sync {
    /// Runs the canary's steps.
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>>;
}

/// Headers and URLs a canary's section makes it send.
#[derive(Debug, Default)]
pub struct SentValues {
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// URLs, as written (with `${name}` references left for run time).
    pub urls: Vec<String>,
    /// Values of `${secret:...}` references in files the section names (a recorded flow).
    pub secrets: Vec<String>,
}

/// Why a canary's run could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The canary names a blueprint the registry does not have.
    #[error("canary `{canary}`: blueprint `{blueprint}` is not implemented yet")]
    UnknownBlueprint {
        /// The canary's name.
        canary: String,
        /// The blueprint it names.
        blueprint: String,
    },
    /// The section does not validate (the canary was not loaded through validation).
    #[error("canary `{canary}`: {problem}")]
    InvalidSection {
        /// The canary's name.
        canary: String,
        /// The first problem found.
        problem: String,
    },
}

/// The canary's section read into the blueprint's settings type. Validation has already accepted
/// it, so a problem here means the canary was not loaded through validation.
pub fn settings<T: DeserializeOwned>(canary: &Canary) -> Result<T, BuildError> {
    let (value, problems) = canary.section.parse::<T>();
    match (value, problems.first()) {
        (Some(value), None) => Ok(value),
        (_, first) => Err(BuildError::InvalidSection {
            canary: canary.name.clone(),
            problem: first.map_or_else(|| "its section does not validate".to_string(), ToString::to_string),
        }),
    }
}

/// Reads a section into `T` and runs `checks` on it with paths relative to the section. Problems
/// at values that already have one (`tainted`, or a type error) are left out.
pub fn check_section<T: DeserializeOwned>(
    section: &Section,
    tainted: &[KeyPath],
    checks: impl FnOnce(&T, &mut Problems<'_>),
) -> Vec<Located> {
    let (value, mut located) = section.parse::<T>();
    let Some(value) = value else { return located };
    let failed = located.iter().filter(|p| !is_unknown_key(p)).map(|p| &p.path);
    let relative: Vec<KeyPath> = tainted.iter().chain(failed).filter_map(|p| section.relative(p)).collect();
    let mut problems = Problems::new(&relative);
    checks(&value, &mut problems);
    located.extend(section.place(problems.into_list()));
    located
}
