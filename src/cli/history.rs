//! `aviary runs CANARY` and `aviary show RUN_ID`: read the run history from the store.

use std::fmt::Write;
use std::sync::Arc;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::report::RunReport;
use crate::spec::Project;
use crate::spec::suggest::did_you_mean;
use crate::store::{MIN_RUN_ID_PREFIX, RunPage, Store};

pub fn runs(globals: &Globals, canary: &str, limit: usize, as_json: bool) -> i32 {
    let (project, store) = match project_and_store(globals) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let runs = match store.runs(canary, RunPage { limit, before: None, status: None }) {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if runs.is_empty() {
        let known = known_canaries(&project, store.as_ref());
        if known.iter().any(|name| name == canary) {
            eprintln!("no runs of canary `{canary}` yet in {}", project.data_dir.display());
        } else {
            let hint = did_you_mean(canary, known.iter().map(String::as_str));
            eprintln!("no canary named `{canary}` in {}{hint}", project.data_dir.display());
        }
        return EXIT_BAD_INPUT;
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&runs).unwrap_or_default());
        return EXIT_OK;
    }
    println!(
        "{:<36}  {:<24}  {:<7}  {:>3}  {:>9}  REASON",
        "RUN", "START (UTC)", "STATUS", "TRY", "DURATION"
    );
    for run in &runs {
        println!(
            "{:<36}  {:<24}  {:<7}  {:>3}  {:>7.0}ms  {}",
            run.run_id,
            run.start.format("%Y-%m-%d %H:%M:%S%.3f"),
            run.status.as_str(),
            run.attempt,
            run.duration_ms,
            run.reason.as_deref().unwrap_or("")
        );
    }
    EXIT_OK
}

pub fn show(globals: &Globals, run_id: &str, as_json: bool) -> i32 {
    let (project, store) = match project_and_store(globals) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let report = match store.run(run_id) {
        Ok(Some(report)) => report,
        Ok(None) => {
            let hint = if run_id.chars().count() < MIN_RUN_ID_PREFIX {
                format!("; use at least {MIN_RUN_ID_PREFIX} characters of the run id")
            } else {
                String::new()
            };
            eprintln!("error: no run with id {run_id:?} in {}{hint}", project.data_dir.display());
            return EXIT_BAD_INPUT;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", describe(&report, &project.artifacts_dir.join(&report.artifacts).display().to_string()));
    }
    EXIT_OK
}

/// The names of the project's canaries that load and of those with runs stored.
fn known_canaries(project: &Project, store: &dyn Store) -> Vec<String> {
    let (loaded, _) = crate::project::load_canaries(project, &[]);
    let stored = store.latest_runs().unwrap_or_default();
    let mut names: Vec<String> =
        loaded.into_iter().map(|c| c.name).chain(stored.into_iter().map(|r| r.canary)).collect();
    names.sort();
    names.dedup();
    names
}

/// The project and its database, each failure already printed.
fn project_and_store(globals: &Globals) -> Result<(Project, Arc<dyn Store>), i32> {
    let project = super::load_project_unresolved(globals)?;
    let store = super::open_store_to_read(&project)?;
    Ok((project, store))
}

fn describe(report: &RunReport, folder: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "run       {}", report.run_id);
    let _ = writeln!(out, "canary    {} ({}), attempt {}", report.canary, report.blueprint, report.attempt);
    let _ = writeln!(out, "status    {}", report.status);
    if let Some(reason) = &report.reason {
        let _ = writeln!(out, "reason    {reason}");
    }
    let _ = writeln!(out, "start     {}", report.start.format("%Y-%m-%d %H:%M:%S%.3f UTC"));
    let _ = writeln!(out, "duration  {:.0} ms", report.duration_ms);
    let r = &report.requests;
    let _ = writeln!(
        out,
        "requests  {} 2xx, {} 3xx, {} 4xx, {} 5xx, {} failed",
        r.ok_2xx, r.redirect_3xx, r.client_4xx, r.server_5xx, r.failed
    );
    let _ = writeln!(out, "artifacts {folder}");
    let _ = writeln!(out, "steps");
    for step in &report.steps {
        let _ =
            writeln!(out, "  {:>2}. {} {} ({:.0} ms)", step.index, step.name, step.status, step.duration_ms);
        if let Some(reason) = &step.reason {
            let _ = writeln!(out, "      {reason}");
        }
        if let Some(url) = &step.url {
            let _ = writeln!(out, "      url: {url}");
        }
        for shot in &step.screenshots {
            let _ = writeln!(out, "      screenshot: {shot}");
        }
    }
    out
}
