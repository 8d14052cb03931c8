//! The `aviary` binary: parses the command line and runs it (see `aviary::cli`).

fn main() {
    std::process::exit(aviary::cli::main());
}
