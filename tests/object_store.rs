//! Run folders copied to an object store (`artifacts.url`): S3 against moto's server mode (a local
//! stand-in, from PyPI), and what happens when the store cannot be used. Runners fetching each
//! other's folders are tested in `tests/postgres.rs`, on a shared history.

#[path = "support/daemon.rs"]
mod daemon_support;
#[path = "support/moto.rs"]
mod moto;
mod support;

use support::{Project, start_site, stderr, stdout};

/// A project whose API canary passes against `base`, with this `aviary.yaml`.
fn project(project_file: &str, base: &str) -> Project {
    let project = Project::new();
    project.file("aviary.yaml", project_file);
    project.canary(
        "status",
        &format!(
            "blueprint: api\napi:\n  steps:\n    - name: get\n      request: {{url: \"{base}/about\"}}\n"
        ),
    );
    project
}

#[cfg(feature = "s3")]
#[test]
fn every_file_of_a_run_folder_is_put_in_an_s3_bucket() {
    let Some(moto) = moto::start_moto() else { return };
    let server = moto.endpoint.trim_start_matches("http://").to_string();
    let (status, _, body) = daemon_support::request(&server, "PUT", "/aviary-runs", &[]);
    assert_eq!(status, 200, "could not create the bucket: {body}");
    let site = start_site();
    let project = project("artifacts: {url: \"s3://aviary-runs/team-a/\"}\n", &site.url(""));
    let env = [
        ("AWS_ENDPOINT", moto.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "AKIAAVIARYTESTKEY000"),
        ("AWS_SECRET_ACCESS_KEY", "aviary-test-secret-access-key-0123456789"),
        ("AWS_REGION", "us-east-1"),
    ];
    let out = project.aviary_env(&["run"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("could not copy"), "{}", stderr(&out));

    let out = project.aviary(&["runs", "status", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let run = &listed[0];
    let folder = run["artifacts"].as_str().unwrap();
    let local = project.path().join(".aviary/artifacts").join(folder);
    let mut files: Vec<String> = std::fs::read_dir(&local)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.contains(&"report.json".to_string()), "{files:?}");

    let (status, _, listing) = daemon_support::request(
        &server,
        "GET",
        &format!("/aviary-runs?list-type=2&prefix=team-a/{folder}/"),
        &[],
    );
    assert_eq!(status, 200, "{listing}");
    for file in &files {
        let size = std::fs::metadata(local.join(file)).unwrap().len();
        let key = format!("<Key>team-a/{folder}/{file}</Key>");
        assert!(listing.contains(&key), "{key} missing from {listing}");
        assert!(listing.contains(&format!("<Size>{size}</Size>")), "{file} ({size} bytes) in {listing}");
    }

    // A daemon reading the same history, with none of the run's files in its own artifacts
    // folder, fetches them from the bucket.
    let viewer = Project::new();
    viewer.file(
        "aviary.yaml",
        &format!(
            "data_dir: \"{}\"\nartifacts: {{dir: own, url: \"s3://aviary-runs/team-a\"}}\nserver: {{listen: \"127.0.0.1:0\"}}\n",
            project.path().join(".aviary").display()
        ),
    );
    let daemon = daemon_support::Daemon::start_env(viewer.path(), "daemon.log", &[], &env);
    let addr = daemon_support::listen_addr(&daemon);
    let run_id = run["run_id"].as_str().unwrap();
    let (status, body) =
        daemon_support::http(&addr, "GET", &format!("/api/v1/runs/{run_id}/artifacts/log.txt"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, std::fs::read_to_string(local.join("log.txt")).unwrap());
    assert!(viewer.path().join("own").join(folder).join("report.json").is_file());
}

#[test]
fn a_copy_that_fails_is_logged_and_the_run_is_saved_anyway() {
    let site = start_site();
    let shared = tempfile::tempdir().unwrap();
    // A file where the canary's folder would go: every put under it fails.
    std::fs::write(shared.path().join("status"), b"in the way").unwrap();
    let project =
        project(&format!("artifacts: {{url: \"file://{}\"}}\n", shared.path().display()), &site.url(""));
    let out = project.aviary(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("could not copy the run folder"), "{}", stderr(&out));
    let out = project.aviary(&["runs", "status", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

#[test]
fn an_object_store_url_it_cannot_use_is_refused_before_anything_runs() {
    let project = Project::new();
    project.file("aviary.yaml", "artifacts: {url: \"gs://bucket/runs\"}\n");
    project
        .canary("status", "blueprint: api\napi:\n  steps:\n    - request: {url: \"http://127.0.0.1:9/\"}\n");
    let out = project.aviary(&["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "artifacts.url: expected s3://bucket/prefix or file:///absolute/folder, found `gs://bucket/runs`"
        ),
        "{}",
        stderr(&out)
    );
}
