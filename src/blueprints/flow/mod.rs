//! Flow: replays a Chrome DevTools Recorder export (`flow: {file: flows/x.json}`) as
//! @puppeteer/replay does, one report step per recorded step.

pub mod recording;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;

use super::page_steps::{PageStep, run_steps};
use super::{Blueprint, BuildError, Runnable, SentValues, check_section, settings};
use crate::spec::de::Located;
use crate::spec::expand::{UnsetSecrets, process_env};
use crate::spec::model::HumanDuration;
use crate::spec::validate::Problems;
use crate::spec::{Canary, KeyPath, Section};
use crate::step::{RunContext, StepError};
use recording::{Recording, RecordingError};

/// The flow blueprint, as the registry lists it.
pub static FLOW: FlowBlueprint = FlowBlueprint;

/// A step's deadline when neither the step nor the recording sets one (@puppeteer/replay's).
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// `flow:` — the section of a flow canary (`docs/canary-file.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The Recorder export (JSON), relative to the canary file.
    pub file: String,
    /// The deadline of a step that sets none, when the recording sets none either; default 5s.
    pub step_timeout: Option<HumanDuration>,
}

/// Replays a recorded user flow.
pub struct FlowBlueprint;

fn recording_path(canary_file: &Path, file: &str) -> PathBuf {
    let dir = canary_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(file)
}

fn read_for(canary: &Canary, settings: &Settings) -> Result<Recording, RecordingError> {
    let path = recording_path(&canary.file, &settings.file);
    recording::read(&path, &settings.file, &canary.spec.env, &process_env, UnsetSecrets::Problem)
}

impl Blueprint for FlowBlueprint {
    fn name(&self) -> &'static str {
        "flow"
    }

    fn template(&self) -> &'static str {
        include_str!("../../../blueprints/flow.yaml")
    }

    fn uses_browser(&self) -> bool {
        true
    }

    fn check(&self, section: &Section, tainted: &[KeyPath], file: &Path) -> Vec<Located> {
        check_section(section, tainted, |settings: &Settings, p: &mut Problems<'_>| {
            if settings.step_timeout.is_some_and(|t| t.0.is_zero()) {
                p.add(KeyPath::root().key("step_timeout"), "step_timeout must be greater than 0");
            }
            // Values come from the canary's `env:` at run time; here only the recording's shape.
            let anything = |_: &str| Some(String::new());
            let path = recording_path(file, &settings.file);
            let no_env = BTreeMap::new();
            match recording::read(&path, &settings.file, &no_env, &anything, UnsetSecrets::Leave) {
                Ok(_) => {}
                Err(RecordingError::Invalid { file, problems }) => {
                    for problem in problems {
                        p.add(KeyPath::root().key("file"), format!("{file}:{problem}"));
                    }
                }
                Err(e) => p.add(KeyPath::root().key("file"), e.to_string()),
            }
        })
    }

    fn section_keys(&self) -> &'static [&'static str] {
        crate::spec::de::struct_keys::<Settings>()
    }

    fn build(&self, canary: &Canary) -> Result<Box<dyn Runnable>, BuildError> {
        let settings: Settings = settings(canary)?;
        let recording = read_for(canary, &settings).map_err(|e| BuildError::InvalidSection {
            canary: canary.name.clone(),
            problem: e.to_string(),
        })?;
        let default =
            recording.timeout.or(settings.step_timeout.map(|t| t.0)).unwrap_or(DEFAULT_STEP_TIMEOUT);
        Ok(Box::new(Flow { steps: recording.steps, default_timeout: default }))
    }

    fn sent_values(&self, canary: &Canary) -> SentValues {
        let secrets = settings::<Settings>(canary)
            .ok()
            .and_then(|s| read_for(canary, &s).ok())
            .map(|r| r.secrets)
            .unwrap_or_default();
        SentValues { secrets, ..SentValues::default() }
    }
}

/// A flow canary's run.
struct Flow {
    steps: Vec<PageStep>,
    default_timeout: Duration,
}

impl Runnable for Flow {
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>> {
        run_steps(ctx, &self.steps, self.default_timeout).boxed()
    }
}
