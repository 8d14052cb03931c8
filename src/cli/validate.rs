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
