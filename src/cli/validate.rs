//! `aviary validate [PATH...]`: parses and checks everything, prints each problem.

use std::path::PathBuf;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};

pub fn validate(globals: &Globals, paths: &[PathBuf]) -> i32 {
    let project = match super::load_project(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (canaries, mut problems) = crate::spec::load_canaries(&project, paths);
    if paths.is_empty() {
        // Composite rules may name alarms of any canary: checked against the whole project.
        problems.extend(crate::spec::check_alarm_references(&project, &canaries));
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
