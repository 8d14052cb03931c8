//! The PostgreSQL store against a real server: a throwaway cluster (`initdb`, `pg_ctl`) on a
//! free port of 127.0.0.1. The same contract as the SQLite store, then what only a shared server
//! brings: concurrent first starts, a server restart, `store:` in the project file, and
//! `aviary store migrate` from SQLite.

#[path = "support/daemon.rs"]
mod daemon_support;
#[path = "support/postgres.rs"]
mod pg;
#[path = "support/store_contract.rs"]
mod store_contract;
mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};

use aviary::report::RunStatus;
use aviary::store::{
    AlarmTransition, PG_SCHEMA_VERSION, PostgresStore, RunPage, SlotClaim, SqliteStore, Store, StoreError,
    VersionDrift,
};
use store_contract::{at, report, save};
use support::{Project, start_site, stderr, stdout};

/// A store on a fresh database, or `None` (the test skips) without PostgreSQL.
fn fresh() -> Option<(Box<dyn Store>, String)> {
    let cluster = pg::cluster()?;
    let url = cluster.database();
    Some((Box::new(PostgresStore::open(&url).unwrap()), url))
}

store_contract_tests!(fresh());

#[test]
fn the_schema_is_versioned_and_applied_once_when_daemons_start_together() {
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.database();
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::open(&url).map(|_| ()))
        })
        .collect();
    for opener in openers {
        opener.join().unwrap().unwrap();
    }
    let mut client = cluster.client(&url);
    let versions: Vec<i64> =
        client.query("SELECT version FROM aviary_schema", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, [i64::from(PG_SCHEMA_VERSION)]);

    // A database from a newer aviary is refused, naming it.
    client.execute("UPDATE aviary_schema SET version = 99", &[]).unwrap();
    let error = PostgresStore::open(&url).unwrap_err();
    assert!(matches!(error, StoreError::SchemaTooNew { found: 99, .. }), "{error:?}");
    assert!(error.to_string().contains(&format!("127.0.0.1:{}", cluster.port)), "{error}");
}

#[test]
fn an_unreachable_server_is_an_error_within_the_deadline_and_hides_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let error =
        PostgresStore::open(&format!("postgres://aviary:s3cret-pw@127.0.0.1:{port}/nowhere")).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    let message = error.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("s3cret-pw"), "the password leaked: {message}");
    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
}

#[test]
fn the_store_reconnects_after_the_server_restarts() {
    let Some(cluster) = pg::own_cluster() else { return };
    let url = cluster.database();
    let store = PostgresStore::open(&url).unwrap();
    save(&store, &report("homepage", "before-restart-01", at(0), RunStatus::Passed));
    cluster.restart();
    // The first call may meet the dead connection; the next opens a new one.
    let mut saved = Err(None);
    for _ in 0..3 {
        match store.save_run(&report("homepage", "after-restart-001", at(60), RunStatus::Passed), &[]) {
            Ok(()) => {
                saved = Ok(());
                break;
            }
            Err(e) => saved = Err(Some(e.to_string())),
        }
    }
    saved.unwrap();
    let runs = store.runs("homepage", RunPage::first(10)).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["after-restart-001", "before-restart-01"]
    );
}

/// A project whose API canary passes against the fixture site, with `store:` set to `url`.
fn project_on(url: &str, base: &str) -> Project {
    let project = Project::new();
    project.file("aviary.yaml", &format!("store: \"{url}\"\n"));
    project.canary(
        "status",
        &format!(
            "blueprint: api\ntimeout: 20s\napi:\n  steps:\n    - name: get\n      request: {{url: \"{base}/about\"}}\n      \
             assert: [status == 200]\n"
        ),
    );
    project
}

#[test]
fn runs_go_to_the_store_of_the_project_file_and_the_history_commands_read_it() {
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.database();
    let site = start_site();
    let project = project_on(&url, &site.url(""));
    for _ in 0..2 {
        let out = project.aviary(&["run"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert!(!project.path().join(".aviary/aviary.db").exists(), "no SQLite file beside a PostgreSQL store");
    let store = PostgresStore::open(&url).unwrap();
    let runs = store.runs("status", RunPage::first(10)).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.status == RunStatus::Passed), "{runs:?}");

    let out = project.aviary(&["runs", "status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let out = project.aviary(&["show", &runs[0].run_id[..8]]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&runs[0].run_id), "{}", stdout(&out));
}

#[test]
fn a_bad_store_setting_says_where_and_what() {
    let project = Project::new();
    project.file("aviary.yaml", "store: mysql://root@localhost/aviary\n");
    let out = project.aviary(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("aviary.yaml:1:8: store: expected a PostgreSQL URL"), "{}", stderr(&out));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("postgres://aviary:pw@127.0.0.1:{port}/db");
    let out = Project::new().aviary(&["runs", "anything", "--store", &unreachable]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains(&format!("could not open the database postgres://aviary:***@127.0.0.1:{port}/db")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn store_migrate_copies_sqlite_history_once() {
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.database();
    let project = Project::new();
    let sqlite = SqliteStore::open(&project.path().join(".aviary/aviary.db")).unwrap();
    // 1,203 runs of two canaries, some sharing a start millisecond across a page boundary.
    for i in 0..1200 {
        let status = if i % 7 == 0 { RunStatus::Failed } else { RunStatus::Passed };
        save(&sqlite, &report("home", &format!("home-run-{i:06}"), at(i / 2), status));
    }
    for i in 0..3 {
        save(&sqlite, &report("api", &format!("api-run-{i:06}"), at(i * 60), RunStatus::Passed));
    }
    let transition = |seconds, old: &str, new: &str| AlarmTransition {
        alarm: "home-down".into(),
        time: at(seconds),
        old_state: old.into(),
        new_state: new.into(),
        reason: format!("to {new}"),
    };
    sqlite.record_alarm_transition(&transition(0, "INSUFFICIENT_DATA", "OK")).unwrap();
    sqlite.record_alarm_transition(&transition(90, "OK", "ALARM")).unwrap();
    drop(sqlite);

    let out = project.aviary(&["store", "migrate", "--to", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("copied 1203 runs") && stdout(&out).contains("2 alarm transitions"),
        "{}",
        stdout(&out)
    );
    let check = |store: &PostgresStore| {
        let mut home = Vec::new();
        let mut page = RunPage::first(5000);
        home.extend(store.runs("home", page).unwrap());
        page.limit = 10;
        assert_eq!(home.len(), 1200);
        assert_eq!(store.runs("api", page).unwrap().len(), 3);
        let states = store.alarm_states().unwrap();
        assert_eq!((states[0].alarm.as_str(), states[0].state.as_str()), ("home-down", "ALARM"));
        assert_eq!(states[0].since, at(90));
        assert_eq!(store.alarm_history("home-down", 10).unwrap().len(), 2);
        let points = store.run_datapoints("home-run-000007").unwrap();
        assert_eq!(points, report("home", "home-run-000007", at(3), RunStatus::Failed).datapoints());
    };
    check(&PostgresStore::open(&url).unwrap());

    // Again: runs replace themselves, the alarm's history is not doubled.
    let out = project.aviary(&["store", "migrate", "--to", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("left 1 alarms and 0 failovers alone"), "{}", stdout(&out));
    check(&PostgresStore::open(&url).unwrap());

    // Mistakes are said plainly.
    let out = project.aviary(&["store", "migrate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("give --to postgres://"), "{}", stderr(&out));
    let out = project.aviary(&["store", "migrate", "--from", "missing.db", "--to", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no SQLite database at missing.db"), "{}", stderr(&out));
}

/// A claim of the slot `slot` seconds after `base`, held until `expires` seconds after it.
fn claim(base: DateTime<Utc>, runner: &str, slot: i64, expires: i64) -> SlotClaim {
    SlotClaim {
        canary: "home".into(),
        location: "eu".into(),
        slot: base + chrono::Duration::seconds(slot),
        runner: runner.into(),
        expires: base + chrono::Duration::seconds(expires),
    }
}

#[test]
fn a_slot_is_held_by_one_runner_until_done_or_its_claim_expires() {
    let Some((_, url)) = fresh() else { return };
    let (a, b) = (PostgresStore::open(&url).unwrap(), PostgresStore::open(&url).unwrap());
    assert!(a.is_shared());
    // Claims expire by the claiming runner's clock: these slots are now and expire within seconds.
    let base = Utc::now().with_nanosecond(0).unwrap();
    let at = |seconds: i64| base + chrono::Duration::seconds(seconds);
    assert!(a.claim_slot(&claim(base, "a", 0, 2)).unwrap());
    assert!(!b.claim_slot(&claim(base, "b", 0, 100)).unwrap(), "a holds the slot");
    assert!(a.claim_slot(&claim(base, "a", 0, 3)).unwrap(), "the holder renews its claim");
    assert!(b.claim_slot(&claim(base, "b", 60, 160)).unwrap(), "another slot is free");
    let other_location = SlotClaim { location: "us".into(), ..claim(base, "b", 0, 100) };
    assert!(b.claim_slot(&other_location).unwrap(), "each location has its own slots");

    // a dies: nothing abandoned before its claim expires, then b takes the slot over.
    assert!(b.abandoned_slots("eu", at(2), 10).unwrap().is_empty());
    let abandoned = b.abandoned_slots("eu", at(4), 10).unwrap();
    assert_eq!(abandoned.iter().map(|c| (c.slot, c.runner.as_str())).collect::<Vec<_>>(), [(at(0), "a")]);
    assert!(!b.claim_slot(&claim(base, "b", 0, 300)).unwrap(), "not before a's claim expired");
    std::thread::sleep((at(3) - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(100));
    assert!(b.claim_slot(&claim(base, "b", 0, 300)).unwrap(), "b takes over the expired claim");
    assert!(!a.claim_slot(&claim(base, "a", 0, 400)).unwrap(), "b holds it now");
    b.finish_slot(&claim(base, "b", 0, 300)).unwrap();
    assert!(!a.claim_slot(&claim(base, "a", 0, 400)).unwrap(), "a done slot is never claimed again");
    assert!(b.abandoned_slots("eu", at(10_000), 10).unwrap().iter().all(|c| c.slot != at(0)));
}

#[test]
fn one_runner_leads_until_its_session_ends() {
    let Some((_, url)) = fresh() else { return };
    let a = PostgresStore::open(&url).unwrap();
    let b = PostgresStore::open(&url).unwrap();
    assert!(a.try_lead().unwrap());
    assert!(a.try_lead().unwrap(), "the leader stays the leader");
    assert!(!b.try_lead().unwrap());
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.try_lead().unwrap() {
        assert!(Instant::now() < deadline, "the lock outlived its session");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn canaries_whose_files_differ_between_runners_are_named() {
    let Some((_, url)) = fresh() else { return };
    let store = PostgresStore::open(&url).unwrap();
    let versions =
        |list: &[(&str, &str)]| list.iter().map(|(c, v)| (c.to_string(), v.to_string())).collect::<Vec<_>>();
    let one = versions(&[("home", "v1"), ("api", "v1")]);
    assert_eq!(store.share_canary_versions("a", &one, at(0), at(-180)).unwrap(), []);
    assert_eq!(store.share_canary_versions("b", &one, at(1), at(-179)).unwrap(), [], "same files");
    let changed = versions(&[("home", "v2"), ("api", "v1")]);
    let drift = store.share_canary_versions("c", &changed, at(2), at(-178)).unwrap();
    let expected = VersionDrift {
        canary: "home".into(),
        versions: vec![("v1".into(), vec!["a".into(), "b".into()]), ("v2".into(), vec!["c".into()])],
    };
    assert_eq!(drift, [expected]);
    // a and b move on to v2 (b's report replaces its old one); then only the stale a differs,
    // and once a is no longer heard from nothing does.
    assert_eq!(store.share_canary_versions("b", &changed, at(60), at(-120)).unwrap().len(), 1);
    assert_eq!(store.share_canary_versions("c", &changed, at(200), at(20)).unwrap(), []);
}

#[test]
fn a_runner_shows_the_run_folder_another_runner_copied_to_the_object_store() {
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.database();
    let site = start_site();
    let shared = tempfile::tempdir().unwrap();
    let copies = format!("file://{}/runs", shared.path().display());
    let project_file =
        format!("store: \"{url}\"\nartifacts: {{url: \"{copies}\"}}\nserver: {{listen: \"127.0.0.1:0\"}}\n");

    // One runner runs the canary: its folder is copied before the run is saved.
    let maker = project_on(&url, &site.url(""));
    maker.file("aviary.yaml", &format!("{project_file}location: eu-west\n"));
    let out = maker.aviary(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = PostgresStore::open(&url).unwrap().runs("status", RunPage::first(1)).unwrap().remove(0);
    let made = maker.path().join(".aviary/artifacts").join(&run.artifacts);
    let copied = shared.path().join("runs").join(&run.artifacts);
    assert_eq!(
        std::fs::read(copied.join("report.json")).unwrap(),
        std::fs::read(made.join("report.json")).unwrap()
    );

    // Another runner, with nothing of that run on its disk, serves it from the copy.
    let viewer = project_on(&url, &site.url(""));
    viewer.file("aviary.yaml", &project_file);
    let daemon = daemon_support::Daemon::start(viewer.path(), "daemon.log", &[]);
    let addr = daemon_support::listen_addr(&daemon);
    let (status, listing) =
        daemon_support::http(&addr, "GET", &format!("/api/v1/runs/{}/artifacts", run.run_id), None);
    assert_eq!(status, 200, "{listing}");
    let listing: serde_json::Value = serde_json::from_str(&listing).unwrap();
    let files: Vec<&str> =
        listing["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(files.contains(&"report.json") && files.contains(&"log.txt"), "{files:?}");
    let (status, log) =
        daemon_support::http(&addr, "GET", &format!("/api/v1/runs/{}/artifacts/log.txt", run.run_id), None);
    assert_eq!(status, 200);
    assert_eq!(log, std::fs::read_to_string(made.join("log.txt")).unwrap());
    assert!(
        viewer.path().join(".aviary/artifacts").join(&run.artifacts).join("report.json").is_file(),
        "fetched once, kept"
    );
    let (status, page) = daemon_support::http(&addr, "GET", &format!("/runs/{}", run.run_id), None);
    assert_eq!(status, 200);
    assert!(!page.contains("folder is gone"), "{page}");
    assert!(page.contains("<dt>Location</dt><dd>eu-west</dd>"), "the run page names where it ran: {page}");

    // A folder the store never had is said to be gone, not an error.
    std::fs::remove_dir_all(&made).unwrap();
    std::fs::remove_dir_all(&copied).unwrap();
    std::fs::remove_dir_all(viewer.path().join(".aviary/artifacts").join(&run.artifacts)).unwrap();
    let (status, body) =
        daemon_support::http(&addr, "GET", &format!("/api/v1/runs/{}/artifacts", run.run_id), None);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no longer on disk"), "{body}");
}
