//! `aviary run [PATH...]`: runs canaries once, now, in parallel.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use regex::Regex;
use tokio::sync::Semaphore;

use super::progress::Progress;
use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, Globals};
use crate::blueprints::{Blueprint, REGISTRY};
use crate::browser::{BrowserPool, PoolConfig};
use crate::report::{RunReport, RunStatus};
use crate::runner;
use crate::spec::{Canary, Project};
use crate::step::Services;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Canary files or folders (default: the project's `canaries`).
    pub paths: Vec<PathBuf>,
    /// How results are printed: a line per step, a JSON document, or JUnit XML (on stdout).
    #[arg(long, value_enum, default_value_t = Reporter::List)]
    pub reporter: Reporter,
    /// Only run canaries whose name matches this regular expression.
    #[arg(long, value_name = "RE")]
    pub grep: Option<String>,
    /// Make this run's screenshots the visual baselines (visual canaries).
    #[arg(long)]
    pub update_baselines: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Reporter {
    List,
    Json,
    Junit,
}

pub async fn run(globals: &Globals, args: RunArgs) -> i32 {
    let project = match super::load_project_unresolved(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(nothing) = super::no_canaries(&project, &args.paths) {
        eprintln!("error: {nothing}");
        return EXIT_BAD_INPUT;
    }
    let (canaries, problems) = crate::project::load_canaries(&project, &args.paths);
    if !problems.is_empty() {
        super::print_diagnostics(&problems);
        eprintln!("error: {} problem(s) in the canary files; nothing was run", problems.len());
        return EXIT_BAD_INPUT;
    }
    // Disabled canaries run only when named by an explicit path (file or folder).
    let canaries: Vec<Canary> = if args.paths.is_empty() {
        let all = canaries.len();
        let enabled: Vec<Canary> = canaries.into_iter().filter(|c| c.spec.enabled).collect();
        if all > 0 && enabled.is_empty() {
            eprintln!("error: every canary is disabled (`enabled: false`); name a file to run one anyway");
            return EXIT_BAD_INPUT;
        }
        enabled
    } else {
        canaries
    };
    let canaries = match select(canaries, args.grep.as_deref()) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    let store = match super::open_store(&project) {
        Ok(s) => s,
        Err(code) => return code,
    };

    let progress = Arc::new(Progress::new(args.reporter == Reporter::List, globals.quiet, canaries.len()));
    let sink = progress.clone();
    let object_copies = match super::open_object_copies(&project) {
        Ok(copies) => copies,
        Err(code) => return code,
    };
    let pool = PoolConfig { expected_pages: Some(browser_runs(&canaries)), ..pool_config(&project) };
    let services = Arc::new(Services {
        object_copies,
        browser: BrowserPool::new(pool),
        store,
        artifacts_root: project.artifacts_dir.clone(),
        progress: Some(Arc::new(move |event| sink.event(event))),
        baselines_root: crate::blueprints::visual::baselines_root(&project.data_dir),
        location: project.config.location.clone(),
        update_baselines: args.update_baselines,
    });

    let (attempts, lost) = run_all(&project, canaries, services.clone()).await;
    services.browser.shutdown().await;
    progress.finish();

    let finals: Vec<&RunReport> = attempts.iter().filter_map(|a| a.last()).collect();
    let output = match args.reporter {
        Reporter::List => super::reporters::summary(&finals, &project),
        Reporter::Json => super::reporters::json(&attempts),
        Reporter::Junit => super::reporters::junit(&finals, &project),
    };
    print!("{output}");
    if lost > 0 {
        eprintln!("error: {lost} run(s) ended without a report (an internal error; see the log above)");
    }
    if lost == 0 && finals.iter().all(|r| r.status == RunStatus::Passed) { EXIT_OK } else { EXIT_FAILED }
}

fn select(canaries: Vec<Canary>, grep: Option<&str>) -> Result<Vec<Canary>, String> {
    let canaries = match grep {
        None => canaries,
        Some(pattern) => {
            let re =
                Regex::new(pattern).map_err(|e| format!("--grep {pattern:?} is not a valid regex: {e}"))?;
            let matched: Vec<Canary> = canaries.into_iter().filter(|c| re.is_match(&c.name)).collect();
            if matched.is_empty() {
                return Err(format!("no canary name matches --grep {pattern:?}"));
            }
            matched
        }
    };
    if canaries.is_empty() {
        return Err("no canaries to run".to_string());
    }
    Ok(canaries)
}

pub fn pool_config(project: &Project) -> PoolConfig {
    let browser = &project.config.browser;
    let executable = match browser.executable.as_str() {
        "auto" | "" => None,
        // A bare name (`chromium`) is looked up on PATH; a path is relative to the project.
        name if !name.contains('/') => Some(PathBuf::from(name)),
        path => Some(project.root.join(path)),
    };
    PoolConfig {
        executable,
        max_concurrency: browser.max_concurrency.max(1),
        extra_args: browser.args.clone(),
        recycle_after_runs: browser.recycle_after_runs.max(1),
        orphan_registry: Some(project.data_dir.join("browsers")),
        ..PoolConfig::default()
    }
}

/// The most browser pages the canaries' runs ask for: one a browser run, retries included.
fn browser_runs(canaries: &[Canary]) -> u64 {
    let uses_browser = |c: &&Canary| REGISTRY.find(&c.blueprint).is_some_and(Blueprint::uses_browser);
    canaries.iter().filter(uses_browser).map(|c| 1 + u64::from(c.retries)).sum()
}

/// Runs every canary (with its retries) at most `runner.max_concurrency` at a time; results come
/// back in the canaries' order, with the number of runs whose task died without a report.
async fn run_all(
    project: &Project,
    canaries: Vec<Canary>,
    services: Arc<Services>,
) -> (Vec<Vec<RunReport>>, usize) {
    let limit = Arc::new(Semaphore::new(project.config.runner.max_concurrency.max(1)));
    let mut tasks = Vec::with_capacity(canaries.len());
    for canary in canaries {
        let canary = Arc::new(canary);
        let (services, limit) = (services.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            runner::run_with_retries(canary, services).await
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    let mut lost = 0;
    for task in tasks {
        match task.await {
            Ok(attempts) => results.push(attempts),
            Err(e) => {
                lost += 1;
                tracing::error!("a run task failed: {e}");
            }
        }
    }
    (results, lost)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::pool_config;
    use crate::spec::Project;

    #[test]
    fn browser_executable_is_auto_a_name_on_path_or_a_path_in_the_project() {
        let mut project = Project::defaults(Path::new("/srv/monitoring"));
        let executable = |project: &Project| pool_config(project).executable;
        assert_eq!(executable(&project), None);
        project.config.browser.executable = "chromium".into();
        assert_eq!(executable(&project), Some(PathBuf::from("chromium")));
        project.config.browser.executable = "bin/chrome".into();
        assert_eq!(executable(&project), Some(PathBuf::from("/srv/monitoring/bin/chrome")));
        project.config.browser.executable = "/usr/bin/chromium".into();
        assert_eq!(executable(&project), Some(PathBuf::from("/usr/bin/chromium")));
    }
}
