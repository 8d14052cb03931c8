//! `aviary validate [PATH...]`: parses and checks everything, prints every problem at once.
//! Unset secrets of the project file (used by the daemon, not by `aviary run`) are warnings, or
//! errors with `--strict`.

use std::path::PathBuf;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::project;
use crate::spec::expand::process_env;

pub fn validate(globals: &Globals, paths: &[PathBuf], strict: bool) -> i32 {
    // The project file's problems do not stop the check: its canaries are checked too.
    let (project, mut problems) =
        project::read_project(globals.config.as_deref(), globals.data_dir.as_deref(), &process_env);
    let Some(project) = project else {
        super::print_diagnostics(&problems);
        return EXIT_BAD_INPUT;
    };
    if strict {
        problems.extend(project.missing_secrets.iter().cloned());
    } else {
        for missing in &project.missing_secrets {
            eprintln!("warning: {missing} (the daemon needs it; `--strict` makes this an error)");
        }
    }
    if let Some(nothing) = super::no_canaries(&project, paths) {
        super::print_diagnostics(&problems);
        eprintln!("error: {nothing}");
        return EXIT_BAD_INPUT;
    }
    let (canaries, canary_problems) = project::load_canaries(&project, paths);
    problems.extend(canary_problems);
    if paths.is_empty() {
        // Composite rules may name alarms of any canary: checked against the whole project.
        problems.extend(project::check_references(&project, &canaries));
    }
    super::print_diagnostics(&problems);
    if problems.is_empty() {
        if !globals.quiet {
            println!("{}", valid_summary(canaries.len()));
        }
        EXIT_OK
    } else {
        eprintln!("{} problem(s) found", problems.len());
        EXIT_BAD_INPUT
    }
}

/// `1 canary valid`, `3 canaries valid`.
fn valid_summary(count: usize) -> String {
    format!("{count} {} valid", if count == 1 { "canary" } else { "canaries" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_canary_is_singular() {
        assert_eq!(super::valid_summary(1), "1 canary valid");
        assert_eq!(super::valid_summary(0), "0 canaries valid");
        assert_eq!(super::valid_summary(2), "2 canaries valid");
    }
}
