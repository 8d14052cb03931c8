//! The SQLite store and the artifact layout, against real database files in a temporary folder.

#[path = "support/store_contract.rs"]
mod store_contract;
mod support;

use std::path::Path;

use aviary::report::RunStatus;
use aviary::store::layout::{remove_run_dir, run_dir, run_dir_relative};
use aviary::store::retention::{RetentionPolicy, sweep};
use aviary::store::{SqliteStore, Store, StoreError};
use chrono::{Duration, TimeZone, Utc};
use store_contract::{at, query, report, save};
use support::aviary_in;

store_contract_tests!({
    let dir = tempfile::tempdir().unwrap();
    let store: Box<dyn Store> = Box::new(open(dir.path()));
    Some((store, dir))
});

#[test]
fn parent_folders_of_the_database_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path());
    assert!(dir.path().join("nested/folder/aviary.db").is_file());
}

fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("nested/folder/aviary.db")).unwrap()
}

#[test]
fn steps_are_kept_as_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let original = report("homepage", "run-steps-000001", at(0), RunStatus::Failed);
    save(&store, &original);
    drop(store);

    let conn = rusqlite::Connection::open(dir.path().join("nested/folder/aviary.db")).unwrap();
    let rows: Vec<(i64, String, String, Option<String>)> = conn
        .prepare("SELECT idx, name, status, reason FROM steps WHERE run_id = ?1 ORDER BY idx")
        .unwrap()
        .query_map([&original.run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].0, rows[0].1.as_str(), rows[0].2.as_str()), (1, "home", "PASSED"));
    assert_eq!((rows[1].0, rows[1].1.as_str(), rows[1].2.as_str()), (2, "about", "FAILED"));
    assert_eq!(rows[1].3.as_deref(), Some("about: expected status == 200, got 500"));
}

#[test]
fn runs_and_show_hint_at_a_typo_d_canary_and_a_too_short_prefix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("canaries")).unwrap();
    let store = SqliteStore::open(&dir.path().join(".aviary/aviary.db")).unwrap();
    save(&store, &report("homepage", "abcdef01-1111-4000-8000-000000000000", at(0), RunStatus::Passed));
    save(&store, &report("homepage", "abcdef02-2222-4000-8000-000000000000", at(60), RunStatus::Passed));
    drop(store);
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let out = aviary_in(dir.path(), &["runs", "homepgae"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no canary named `homepgae`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean `homepage`?"), "{}", stderr(&out));
    let out = aviary_in(dir.path(), &["runs", "checkout"]);
    assert!(stderr(&out).contains("no canary named `checkout`") && !stderr(&out).contains("did you mean"));

    let out = aviary_in(dir.path(), &["show", "abcd"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("use at least 6 characters"), "{}", stderr(&out));
    let out = aviary_in(dir.path(), &["show", "abcdef"]);
    assert!(stderr(&out).contains("ambiguous") && !stderr(&out).contains("at least 6"), "{}", stderr(&out));
    let out = aviary_in(dir.path(), &["show", "abcdef01"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let run = report("homepage", "durable-run-000001", at(0), RunStatus::Passed);
    {
        let store = open(dir.path());
        save(&store, &run);
    }
    let store = open(dir.path());
    assert_eq!(store.run(&run.run_id).unwrap().unwrap().run_id, run.run_id);
    assert_eq!(store.datapoints(&query("homepage", "SuccessPercent", None, 0, 3600)).unwrap().len(), 1);
    assert!(store.integrity_check().unwrap());
}

#[test]
fn the_database_is_in_wal_mode_with_a_versioned_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.integrity_check().unwrap());
    save(&store, &report("homepage", "wal-run-00000001", at(0), RunStatus::Passed));
    assert!(dir.path().join("nested/folder/aviary.db-wal").exists(), "a WAL file sits next to the database");

    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, aviary::store::SCHEMA_VERSION);
}

#[test]
fn a_newer_schema_is_refused_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();

    let error = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 99, supported, .. } if supported == aviary::store::SCHEMA_VERSION),
        "{error:?}"
    );
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}

#[test]
fn an_unopenable_database_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let error = SqliteStore::open(&blocker.join("aviary.db")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("aviary.db") && message.contains("could not create"), "{message}");
}

#[test]
fn two_stores_on_one_file_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let writer = open(dir.path());
    let reader = open(dir.path());
    save(&writer, &report("homepage", "shared-run-000001", at(0), RunStatus::Passed));
    assert!(reader.run("shared-run-000001").unwrap().is_some());
}

#[test]
fn run_dir_follows_the_cloudwatch_layout() {
    let start = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap() + Duration::milliseconds(67);
    let root = Path::new("/data/artifacts");
    assert_eq!(
        run_dir(root, "homepage", start, "run-1"),
        Path::new("/data/artifacts/homepage/2025/01/02/03/04-05-067-run-1")
    );
    assert_eq!(run_dir_relative("homepage", start, "run-1"), "homepage/2025/01/02/03/04-05-067-run-1");
}

#[test]
fn remove_run_dir_prunes_empty_parents_and_refuses_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts");
    let a = run_dir(&root, "homepage", at(0), "run-a");
    let b = run_dir(&root, "homepage", at(1), "run-b"); // same hour folder as `a`
    let c = run_dir(&root, "homepage", at(86_400), "run-c"); // the next day
    for d in [&a, &b, &c] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("report.json"), "{}").unwrap();
    }
    let hour = a.parent().unwrap().to_path_buf();

    remove_run_dir(&root, &run_dir_relative("homepage", at(0), "run-a")).unwrap();
    assert!(!a.exists());
    assert!(hour.is_dir(), "a folder still holding a run stays");

    remove_run_dir(&root, &run_dir_relative("homepage", at(1), "run-b")).unwrap();
    assert!(!hour.exists(), "empty hour folder pruned");
    assert!(!root.join("homepage/2025/03/04").exists(), "empty day folder pruned");
    assert!(root.join("homepage/2025/03").is_dir(), "the month still holds the next day's run");
    assert!(c.is_dir());

    remove_run_dir(&root, &run_dir_relative("homepage", at(86_400), "run-c")).unwrap();
    assert!(!root.join("homepage/2025").exists());
    assert!(root.join("homepage").is_dir(), "the canary folder itself stays");

    // Already gone: fine.
    remove_run_dir(&root, &run_dir_relative("homepage", at(0), "run-a")).unwrap();

    // Escapes are refused and touch nothing.
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    for bad in ["../outside", "homepage/../../outside", "/etc", "homepage", "", "."] {
        let error = remove_run_dir(&root, bad).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bad}: {error}");
    }
    assert!(outside.is_dir());
    assert!(root.join("homepage").is_dir());

    #[cfg(unix)]
    {
        // A symbolic link inside the root that leads outside it.
        std::fs::create_dir_all(outside.join("2025")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
        let error = remove_run_dir(&root, "linked/2025").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
        assert!(outside.join("2025").is_dir());
    }
}

#[test]
fn the_retention_sweep_deletes_expired_runs_and_their_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts");
    let store = open(dir.path());
    let now = at(100 * 86_400);
    let runs = [
        report("homepage", "sweep-old-pass-01", now - Duration::days(10), RunStatus::Passed),
        report("homepage", "sweep-old-fail-02", now - Duration::days(10), RunStatus::Failed),
        report("homepage", "sweep-new-pass-03", now - Duration::days(1), RunStatus::Passed),
    ];
    for run in &runs {
        std::fs::create_dir_all(root.join(&run.artifacts)).unwrap();
        save(&store, run);
    }
    let policy = RetentionPolicy {
        success: std::time::Duration::from_secs(5 * 86_400),
        failure: std::time::Duration::from_secs(30 * 86_400),
    };
    let outcome = sweep(&store, &root, "homepage", policy, now).unwrap();
    assert_eq!(outcome.runs_deleted, 1);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(store.run("sweep-old-pass-01").unwrap().is_none());
    assert!(!root.join(&runs[0].artifacts).exists());
    for kept in &runs[1..] {
        assert!(store.run(&kept.run_id).unwrap().is_some());
        assert!(root.join(&kept.artifacts).is_dir());
    }
}

#[test]
fn unfinished_run_folders_are_swept_when_their_run_started_before_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let root = dir.path().join("artifacts");
    let finished = report("homepage", "aaaaaaaa-1111-4111-8111-111111111111", at(0), RunStatus::Passed);
    save(&store, &finished);
    assert!(store.has_run(&finished.run_id).unwrap());
    assert!(!store.has_run("aaaaaaaa").unwrap(), "a prefix is not a run");
    let kept = run_dir(&root, "homepage", at(0), &finished.run_id);
    let orphan = run_dir(&root, "homepage", at(60), "bbbbbbbb-2222-4222-8222-222222222222");
    let gone_canary = run_dir(&root, "removed", at(120), "cccccccc-3333-4333-8333-333333333333");
    for folder in [&kept, &orphan, &gone_canary] {
        std::fs::create_dir_all(folder).unwrap();
        std::fs::write(folder.join("log.txt"), "partial").unwrap();
    }

    // Runs that started after the process did may be in flight: kept. So are folders the layout
    // did not make.
    let stray = root.join("homepage/2025/03/04/05/not-a-run-folder");
    std::fs::create_dir_all(&stray).unwrap();
    assert_eq!(aviary::store::retention::sweep_orphans(&store, &root, at(60)), 0);
    assert!(orphan.exists() && gone_canary.exists());

    assert_eq!(aviary::store::retention::sweep_orphans(&store, &root, at(121)), 2);
    assert!(stray.exists());

    let start = at(59) + Duration::milliseconds(123);
    let relative = run_dir_relative("homepage", start, "dddddddd-4444-4444-8444-444444444444");
    assert_eq!(aviary::store::layout::run_start(&relative), Some(start));
    assert_eq!(aviary::store::layout::run_start("homepage/2025/03/04/05/not-a-run-folder"), None);
    assert!(kept.join("log.txt").exists(), "a stored run's folder stays");
    assert!(!orphan.exists() && !gone_canary.exists());
    assert!(!root.join("removed/2025").exists(), "emptied parents are removed");
}

#[test]
fn an_older_database_gets_its_hourly_totals_from_the_runs_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aviary.db");
    let store = SqliteStore::open(&path).unwrap();
    save(&store, &report("home", "older-run-0001", at(0), RunStatus::Passed));
    save(&store, &report("home", "older-run-0002", at(60), RunStatus::Failed));
    drop(store);
    // Back to schema 3: no hourly totals, no locations.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER run_hours_insert; DROP TRIGGER run_hours_delete; DROP TABLE run_hours;
         ALTER TABLE runs DROP COLUMN location; ALTER TABLE datapoints DROP COLUMN location;",
    )
    .unwrap();
    conn.pragma_update(None, "user_version", 3).unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    let query = aviary::store::BucketQuery { canary: None, since: at(0), until: at(3600), bucket_secs: 3600 };
    let buckets = store.run_buckets(&query).unwrap();
    assert_eq!(buckets.iter().map(|b| (b.passed, b.runs)).collect::<Vec<_>>(), [(1, 2)], "{buckets:?}");
}
