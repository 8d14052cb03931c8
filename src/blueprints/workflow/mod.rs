//! Workflow: the GUI workflow builder's steps written out (`input`, `click`,
//! `click_and_navigate`, `verify_text`, ...), one report step each, on the page-action engine.

pub mod steps;

use std::path::Path;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;

use super::page_steps::{PageAction, PageStep, run_steps};
use super::{Blueprint, BuildError, Runnable, SentValues, check_section, settings};
use crate::browser::engine::Scope;
use crate::spec::de::Located;
use crate::spec::model::HumanDuration;
use crate::spec::validate::{Problems, check_url};
use crate::spec::{Canary, KeyPath, Section};
use crate::step::{RunContext, StepError};
use steps::{WorkflowStep, check_steps};

/// The workflow blueprint, as the registry lists it.
pub static WORKFLOW: WorkflowBlueprint = WorkflowBlueprint;

/// A step's deadline when neither the step nor the section sets one.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// `workflow:` — the section of a workflow canary (`docs/canary-file.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The page to open first (a step of its own); none when the steps navigate themselves.
    pub url: Option<String>,
    /// The deadline of each step that sets none; default 10s.
    pub step_timeout: Option<HumanDuration>,
    /// The steps, in order.
    pub steps: Vec<WorkflowStep>,
}

fn check_settings(settings: &Settings, p: &mut Problems<'_>) {
    if let Some(url) = &settings.url {
        check_url(url, KeyPath::root().key("url"), p);
    }
    if settings.step_timeout.is_some_and(|t| t.0.is_zero()) {
        p.add(KeyPath::root().key("step_timeout"), "step_timeout must be greater than 0");
    }
    check_steps(&settings.steps, p);
}

/// Drives a page through written-out steps.
pub struct WorkflowBlueprint;

impl Blueprint for WorkflowBlueprint {
    fn name(&self) -> &'static str {
        "workflow"
    }

    fn template(&self) -> &'static str {
        include_str!("../../../blueprints/workflow.yaml")
    }

    fn uses_browser(&self) -> bool {
        true
    }

    fn check(&self, section: &Section, tainted: &[KeyPath], _file: &Path) -> Vec<Located> {
        check_section(section, tainted, check_settings)
    }

    fn section_keys(&self) -> &'static [&'static str] {
        crate::spec::de::struct_keys::<Settings>()
    }

    fn build(&self, canary: &Canary) -> Result<Box<dyn Runnable>, BuildError> {
        let settings: Settings = settings(canary)?;
        let invalid = |problem: String| BuildError::InvalidSection { canary: canary.name.clone(), problem };
        let mut steps = Vec::with_capacity(settings.steps.len() + 1);
        if let Some(url) = &settings.url {
            steps.push(PageStep {
                name: format!("open {url}"),
                scope: Scope::default(),
                action: PageAction::Navigate(url.clone()),
                timeout: None,
                navigation: None,
            });
        }
        for (i, step) in settings.steps.iter().enumerate() {
            steps.push(step.to_page_step().map_err(|(_, m)| invalid(format!("steps[{i}]: {m}")))?);
        }
        let default_timeout = settings.step_timeout.map_or(DEFAULT_STEP_TIMEOUT, |t| t.0);
        Ok(Box::new(Workflow { steps, default_timeout }))
    }

    fn sent_values(&self, canary: &Canary) -> SentValues {
        let settings = settings::<Settings>(canary).ok();
        let urls = settings
            .iter()
            .flat_map(|s| s.url.iter().chain(s.steps.iter().filter_map(|s| s.navigate.as_ref())));
        SentValues { urls: urls.cloned().collect(), ..SentValues::default() }
    }
}

/// A workflow canary's run.
struct Workflow {
    steps: Vec<PageStep>,
    default_timeout: Duration,
}

impl Runnable for Workflow {
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>> {
        run_steps(ctx, &self.steps, self.default_timeout).boxed()
    }
}
