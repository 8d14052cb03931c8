//! `scripts/demo.sh` reuses a release build that is newer than its sources, and builds otherwise;
//! it stops with a clear message when port 8080 (the example site's) is taken.
//! The script runs for real in a scratch copy of the repository, with stand-ins for what it
//! calls: `scripts/setup.sh` (a no-op), `cargo` (records that it ran) and
//! `target/release/aviary` (records its arguments).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

/// The script serves the example site on 127.0.0.1:8080: one test at a time may run it.
static PORT_8080: Mutex<()> = Mutex::new(());

fn write(path: &Path, text: &str, executable: bool) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    if executable {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn touch(path: &Path, date: &str) {
    let status = Command::new("touch").arg("-d").arg(date).arg(path).status().unwrap();
    assert!(status.success());
}

/// A scratch repository: the real demo script, sources dated `sources`, a release binary dated
/// `binary`. Returns what ran: (cargo's record, the binary's record).
fn demo(sources: &str, binary: &str) -> (String, String) {
    let _port = PORT_8080.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (output, ran) = run_demo(sources, binary);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let cargo = ran.lines().filter(|l| l.starts_with("cargo")).collect::<Vec<_>>().join("\n");
    let aviary = ran.lines().filter(|l| l.starts_with("aviary")).collect::<Vec<_>>().join("\n");
    (cargo, aviary)
}

/// Runs `demo.sh --once` in a scratch repository; returns its output and the record of what ran.
fn run_demo(sources: &str, binary: &str) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let script = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh")).unwrap();
    write(&root.join("scripts/demo.sh"), &script, true);
    write(&root.join("scripts/setup.sh"), "exit 0\n", true);
    fs::create_dir_all(root.join("canaries/site")).unwrap();
    let log = root.join("ran.log");
    let record = |what: &str| format!("#!/bin/sh\necho \"{what} $*\" >> '{}'\n", log.display());
    write(&root.join("bin/cargo"), &record("cargo"), true);
    for source in ["src/main.rs", "blueprints/api.yaml", "Cargo.toml", "Cargo.lock"] {
        write(&root.join(source), "", false);
        touch(&root.join(source), sources);
    }
    touch(&root.join("src"), sources);
    touch(&root.join("blueprints"), sources);
    let binary_path = root.join("target/release/aviary");
    write(&binary_path, &record("aviary"), true);
    touch(&binary_path, binary);

    let path = format!("{}:{}", root.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("bash")
        .arg(root.join("scripts/demo.sh"))
        .arg("--once")
        .env("PATH", path)
        .env("HOME", root)
        .output()
        .unwrap();
    (output, fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn an_up_to_date_release_build_is_reused_without_cargo() {
    let (cargo, aviary) = demo("2020-01-01", "2021-01-01");
    assert_eq!(cargo, "", "cargo ran although the release build is newer than every source");
    assert_eq!(aviary, "aviary run canaries/");
}

#[test]
fn a_source_newer_than_the_release_build_is_built() {
    let (cargo, aviary) = demo("2021-01-01", "2020-01-01");
    assert_eq!(cargo, "cargo build --release --locked");
    assert_eq!(aviary, "aviary run canaries/");
}

#[test]
fn a_taken_port_8080_stops_the_demo_with_a_message() {
    let _port = PORT_8080.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Ok(_taken) = std::net::TcpListener::bind("127.0.0.1:8080") else {
        panic!("port 8080 is in use outside this test; free it to run the demo tests");
    };
    let (output, ran) = run_demo("2020-01-01", "2021-01-01");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("port 8080 on 127.0.0.1 is already in use"), "{stderr}");
    assert!(!ran.contains("aviary run"), "the canaries ran against a site that is not the example: {ran}");
}
