//! Script: a Python canary script (`script: {file: checkout.py, handler: handler}`) run in a
//! child process of its own (`aviary __script-child`, Python embedded through pyo3). The child
//! asks the run for every page and HTTP action over a pipe, so the browser, HAR, redaction and
//! report stay here, and a script that exits, crashes, spins or floods ends its own run only.

pub mod check;
pub mod child;
pub mod parent;
pub mod protocol;
pub mod requests;

use std::path::{Path, PathBuf};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;

use super::{Blueprint, BuildError, Runnable, check_section, settings};
use crate::spec::de::Located;
use crate::spec::validate::Problems;
use crate::spec::{Canary, KeyPath, Section};
use crate::step::{RunContext, StepError};
use parent::Launch;
use protocol::Start;

/// The script blueprint, as the registry lists it.
pub static SCRIPT: ScriptBlueprint = ScriptBlueprint;

/// `script:` — the section of a script canary (`docs/canary-file.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The Python file, relative to the canary file.
    pub file: String,
    /// The function called with the canary object (default `handler`).
    #[serde(default = "default_handler")]
    pub handler: String,
    /// A virtual environment whose packages the script imports (relative to the canary file);
    /// default: `VIRTUAL_ENV` of aviary's environment, if set.
    pub python: Option<String>,
}

fn default_handler() -> String {
    "handler".to_string()
}

/// Runs Python canary scripts.
pub struct ScriptBlueprint;

fn relative(canary_file: &Path, file: &str) -> PathBuf {
    let dir = canary_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(file)
}

/// The venv a canary's script uses: `python:`, else `VIRTUAL_ENV`.
fn venv(canary_file: &Path, settings: &Settings) -> Option<PathBuf> {
    match &settings.python {
        Some(path) => Some(relative(canary_file, path)),
        None => std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()).map(PathBuf::from),
    }
}

/// The `site-packages` folders of a venv (`lib/python3.X/site-packages`).
pub fn site_packages(venv: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found
}

fn check_settings(file: &Path, settings: &Settings, p: &mut Problems<'_>) {
    if let Some(venv) = venv(file, settings) {
        if !venv.is_dir() {
            p.add(
                KeyPath::root().key("python"),
                format!("{}: no such folder (a virtual environment)", venv.display()),
            );
        } else if site_packages(&venv).is_empty() {
            p.add(
                KeyPath::root().key("python"),
                format!(
                    "{} has no lib/python3.*/site-packages: is it a virtual environment?",
                    venv.display()
                ),
            );
        }
    }
    let path = relative(file, &settings.file);
    for problem in check::check_script(&path, &settings.file, &settings.handler) {
        p.add(KeyPath::root().key("file"), problem);
    }
}

impl Blueprint for ScriptBlueprint {
    fn name(&self) -> &'static str {
        "script"
    }

    fn template(&self) -> &'static str {
        include_str!("../../../blueprints/script.yaml")
    }

    fn uses_browser(&self) -> bool {
        true
    }

    fn check(&self, section: &Section, tainted: &[KeyPath], file: &Path) -> Vec<Located> {
        check_section(section, tainted, |s: &Settings, p: &mut Problems<'_>| check_settings(file, s, p))
    }

    fn section_keys(&self) -> &'static [&'static str] {
        crate::spec::de::struct_keys::<Settings>()
    }

    fn build(&self, canary: &Canary) -> Result<Box<dyn Runnable>, BuildError> {
        let settings: Settings = settings(canary)?;
        let dir = canary.dir().to_path_buf();
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let venv = venv(&canary.file, &settings).map(|v| std::fs::canonicalize(&v).unwrap_or(v));
        let mut paths = vec![dir.display().to_string()];
        paths.extend(venv.iter().flat_map(|v| site_packages(v)).map(|p| p.display().to_string()));
        let file = dir.join(&settings.file);
        let start = Start {
            file: file.display().to_string(),
            handler: settings.handler,
            env: canary.spec.env.clone().into_iter().collect(),
            paths,
        };
        Ok(Box::new(Script { launch: Launch { start, dir, venv } }))
    }
}

/// A script canary's run.
struct Script {
    launch: Launch,
}

impl Runnable for Script {
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>> {
        parent::run(ctx, &self.launch).boxed()
    }
}
