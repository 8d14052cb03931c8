fn main() {
    std::process::exit(aviary::cli::main());
}
