//! The whole project loaded and checked. The spec layer reads the files; each module checks what
//! it owns: the blueprints their sections, the channels and DNS providers theirs, the alarms
//! their composite rules. The CLI and the daemon load through here.

use std::path::{Path, PathBuf};

use crate::alarms::check::{check_rules, unknown_names};
use crate::blueprints::REGISTRY;
use crate::spec::expand::{Lookup, UnsetSecrets, process_env};
use crate::spec::load::{SectionCheck, alarm_names, read_project_with, rule_diagnostics};
use crate::spec::{self, Canary, Diagnostic, Project};

/// Loads and checks the project file (see [`spec::load_project`]); every problem, or the project.
/// An unset `${secret:NAME}` is one of the problems: for the daemon, which uses them all.
pub fn load_project(config: Option<&Path>, data_dir: Option<&Path>) -> Result<Project, Vec<Diagnostic>> {
    load_project_with(config, data_dir, &process_env)
}

/// [`load_project`] with a stand-in for the process environment.
pub fn load_project_with(
    config: Option<&Path>,
    data_dir: Option<&Path>,
    env: Lookup<'_>,
) -> Result<Project, Vec<Diagnostic>> {
    let project = load_project_unresolved(config, data_dir, env)?;
    project.require_secrets(&[]).map(|()| project)
}

/// [`load_project_with`] where unset secrets are not problems: they stay in
/// [`Project::missing_secrets`] for the command that uses one to refuse
/// ([`Project::require_secrets`]).
pub fn load_project_unresolved(
    config: Option<&Path>,
    data_dir: Option<&Path>,
    env: Lookup<'_>,
) -> Result<Project, Vec<Diagnostic>> {
    match read_project(config, data_dir, env) {
        (Some(project), problems) if problems.is_empty() => Ok(project),
        (_, problems) => Err(problems),
    }
}

/// The project whenever its file could be read into its types, and every problem of it: what
/// `aviary validate` needs to go on to the canaries.
pub fn read_project(
    config: Option<&Path>,
    data_dir: Option<&Path>,
    env: Lookup<'_>,
) -> (Option<Project>, Vec<Diagnostic>) {
    let checks: [SectionCheck; 2] = [crate::actions::check_channels, crate::dns::check_providers];
    let (project, mut problems) = read_project_with(config, data_dir, env, &checks);
    if let Some(project) = &project {
        problems.extend(rule_diagnostics(project, check_rules(&project.config)));
        problems.sort_by_key(|d| (d.line, d.column));
    }
    (project, problems)
}

/// Loads the canaries of `paths` (none: the project's `canaries` entries), each checked by its
/// blueprint.
pub fn load_canaries(project: &Project, paths: &[PathBuf]) -> (Vec<Canary>, Vec<Diagnostic>) {
    spec::load_canaries(project, paths, &REGISTRY)
}

/// [`load_canaries`] where an unset `${secret:NAME}` is not a problem (left as written): for
/// commands that read names and alarm definitions and run nothing.
pub fn load_canaries_unresolved(project: &Project, paths: &[PathBuf]) -> (Vec<Canary>, Vec<Diagnostic>) {
    spec::load_canaries_in(project, paths, &process_env, UnsetSecrets::Leave, &REGISTRY)
}

/// [`load_canaries`] with a stand-in for the process environment.
pub fn load_canaries_with(
    project: &Project,
    paths: &[PathBuf],
    env: Lookup<'_>,
) -> (Vec<Canary>, Vec<Diagnostic>) {
    spec::load_canaries_with(project, paths, env, &REGISTRY)
}

/// The checks across files once the canaries are loaded: alarm names unique over the project,
/// project-level alarms naming a loaded canary, composite rules naming alarms that exist.
pub fn check_references(project: &Project, canaries: &[Canary]) -> Vec<Diagnostic> {
    let mut out = spec::check_alarm_references(project, canaries);
    out.extend(rule_diagnostics(project, unknown_names(project, &alarm_names(project, canaries))));
    out.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out
}
