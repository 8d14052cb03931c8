//! The command line: argument model and one function per command.

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    0
}
