//! `aviary validate [PATH...]`: parses and checks everything, prints each problem.

use std::path::PathBuf;

use super::{EXIT_BAD_INPUT, EXIT_OK, Globals};

pub fn validate(globals: &Globals, paths: &[PathBuf]) -> i32 {
    let project = match super::load_project(globals) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (canaries, problems) = crate::spec::load_canaries(&project, paths);
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
