//! A new user's first commands in a fresh folder: `aviary validate` with no canaries says what to
//! do next, and commands that only read the history create no data folder.

mod support;

use support::{Project, aviary_in, stderr, stdout};

#[test]
fn validate_in_an_empty_folder_suggests_aviary_new() {
    let dir = tempfile::tempdir().unwrap();
    let output = aviary_in(dir.path(), &["validate"]);
    assert_eq!(output.status.code(), Some(2), "nothing to check is not a pass");
    let said = stderr(&output);
    assert!(said.contains("no canaries yet: canaries/ does not exist"), "{said}");
    assert!(said.contains("`aviary new <blueprint> <name>`, e.g. `aviary new heartbeat homepage`"), "{said}");
    assert!(said.contains("blueprints: heartbeat, api"), "{said}");

    std::fs::create_dir(dir.path().join("canaries")).unwrap();
    let said = stderr(&aviary_in(dir.path(), &["validate"]));
    assert!(said.contains("no canaries yet: canaries/ holds no canary files (*.yaml)"), "{said}");
    let said = stderr(&aviary_in(dir.path(), &["run"]));
    assert!(said.contains("aviary new <blueprint> <name>"), "{said}");

    // The suggestion works: the written canary validates.
    assert_eq!(aviary_in(dir.path(), &["new", "heartbeat", "homepage"]).status.code(), Some(0));
    let output = aviary_in(dir.path(), &["validate"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!dir.path().join(".aviary").exists(), "validate created the data folder");
}

#[test]
fn read_only_commands_create_no_data_folder() {
    let project = Project::new();
    // No daemon answers on port 1: the commands read the (missing) database.
    project.file("aviary.yaml", "server: {listen: \"127.0.0.1:1\"}\n");
    project.canary(
        "home",
        "blueprint: api\nalarms:\n  - {name: home-down, metric: SuccessPercent, period: 5m, evaluation_periods: 1, \
         comparison: \"<\", threshold: 90}\n\
         api:\n  steps:\n    - name: get\n      request: {url: \"http://127.0.0.1:1/\"}\n",
    );
    let data = project.path().join(".aviary");

    let output = project.aviary(&["runs", "home"]);
    assert!(stderr(&output).contains("no runs of canary `home` yet"), "{}", stderr(&output));
    let output = project.aviary(&["show", "abcdef01"]);
    assert!(stderr(&output).contains("no run with id \"abcdef01\""), "{}", stderr(&output));
    let output = project.aviary(&["alarms"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("home-down"), "{}", stdout(&output));
    let output = project.aviary(&["alarm", "history", "home-down"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("has not changed state yet"), "{}", stdout(&output));
    assert_eq!(project.aviary(&["validate"]).status.code(), Some(0));
    assert!(!data.exists(), "a read-only command created {}", data.display());

    // Writing creates it as before.
    let output = project.aviary(&["alarm", "set-state", "home-down", "--state", "ALARM", "--reason", "test"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(data.join("aviary.db").is_file());
}
