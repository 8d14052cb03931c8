//! `aviary validate [PATH...]`: parses and checks everything, prints every problem at once.

use std::path::PathBuf;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};
use crate::project;
use crate::spec::expand::process_env;

pub fn validate(globals: &Globals, paths: &[PathBuf]) -> i32 {
    // The project file's problems do not stop the check: its canaries are checked too.
    let (project, mut problems) =
        project::read_project(globals.config.as_deref(), globals.data_dir.as_deref(), &process_env);
    let Some(project) = project else {
        super::print_diagnostics(&problems);
        return EXIT_BAD_INPUT;
    };
    let (canaries, canary_problems) = project::load_canaries(&project, paths);
    problems.extend(canary_problems);
    if paths.is_empty() {
        // Composite rules may name alarms of any canary: checked against the whole project.
        problems.extend(project::check_references(&project, &canaries));
    }
    super::print_diagnostics(&problems);
    if problems.is_empty() {
        if !globals.quiet {
            println!("{} canaries valid", canaries.len());
        }
        EXIT_OK
    } else {
        eprintln!("{} problem(s) found", problems.len());
        EXIT_BAD_INPUT
    }
}
