//! Faults during runs, against the real `aviary daemon`: the data folder's disk full or
//! read-only, Chromium killed mid-run, and pages that never load, open endless dialogs or popups,
//! or allocate memory without end. Each time: the run says what happened, the daemon stays up,
//! and the next runs pass once the fault is gone.
//!
//! The disk faults mount a small tmpfs (`mount -t tmpfs`), so these tests need root (as CI has);
//! without it they fail and say so.

#[path = "support/api_site.rs"]
mod api_site;
#[path = "support/daemon.rs"]
mod daemon_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use api_site::start_api_site;
use aviary::store::{RunPage, SqliteStore, Store};
use daemon_support::{Daemon, field, http, is_run_of, listen_addr};
use serde_json::Value;
use support::{Project, start_site};

const T: Duration = Duration::from_secs(60);
const TOKEN: &str = "faults-token";

/// A tmpfs mounted for one test; unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`8m`) at `dir`. Panics, saying why, when mounting is not
    /// permitted: these tests must not pass without the fault they inject.
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(dir)
            .output();
        match output {
            Ok(output) if output.status.success() => Tmpfs { dir: dir.to_path_buf() },
            Ok(output) => panic!(
                "this test mounts a tmpfs at {} to inject disk faults and needs root \
                 (CAP_SYS_ADMIN): `mount -t tmpfs` failed: {}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(e) => panic!("this test needs the `mount` command to inject disk faults: {e}"),
        }
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// `mount -o remount,MODE` (`ro` or `rw`).
    fn remount(&self, mode: &str) {
        let output =
            Command::new("mount").args(["-o", &format!("remount,{mode}")]).arg(&self.dir).output().unwrap();
        assert!(
            output.status.success(),
            "remount,{mode} of {} failed: {}",
            self.dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Writes a file until the tmpfs is full; returns its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let error = loop {
            if let Err(e) = file.write_all(&chunk) {
                break e;
            }
        };
        assert_eq!(error.raw_os_error(), Some(28), "expected ENOSPC, got {error}");
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.dir).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a process of the test holds a file): detach it now, freed when closed.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// A project whose daemon serves its API on a free port, with a token for run-now.
fn project(extra: &str) -> Project {
    let project = Project::new();
    project.file("aviary.yaml", &format!("server: {{listen: \"127.0.0.1:0\", token: {TOKEN}}}\n{extra}"));
    project
}

/// A one-step API canary that runs at start, then only when asked.
fn api_canary(url: &str) -> String {
    format!(
        "blueprint: api\nschedule: rate(1 hour)\ntimeout: 20s\napi:\n  steps:\n    \
         - name: get\n      request: {{url: \"{url}\"}}\n      assert: [status == 200]\n"
    )
}

/// A heartbeat canary of `url` that runs at start, then only when asked.
fn heartbeat_canary(url: &str, timeout: &str) -> String {
    format!(
        "blueprint: heartbeat\nschedule: rate(1 hour)\ntimeout: {timeout}\nheartbeat:\n  urls: [\"{url}\"]\n"
    )
}

/// Asks the daemon to run `canary` now.
fn run_now(daemon: &Daemon, canary: &str) {
    let (status, body) =
        http(&listen_addr(daemon), "POST", &format!("/api/v1/canaries/{canary}/run"), Some(TOKEN));
    assert_eq!(status, 202, "run-now of {canary}: {body}");
}

/// Waits for the `n`-th finished run of `canary` (from 1); returns its log event.
fn nth_run(daemon: &mut Daemon, canary: &str, n: usize) -> Value {
    daemon.wait_for_n(&format!("run {n} of {canary}"), n, T, |e| is_run_of(e, canary)).remove(n - 1)
}

fn status(run: &Value) -> &str {
    field(run, "status").as_str().unwrap_or_default()
}

/// The run's reason, in lower case (OS error texts start with a capital).
fn reason(run: &Value) -> String {
    field(run, "reason").as_str().unwrap_or_default().to_lowercase()
}

/// The daemon process runs and answers `/healthz`.
fn assert_alive(daemon: &mut Daemon) {
    assert!(daemon.child.try_wait().unwrap().is_none(), "the daemon exited; log:\n{}", daemon.log_text());
    let (status, body) = http(&listen_addr(daemon), "GET", "/healthz", None);
    assert_eq!(status, 200, "{body}");
}

/// Stops the daemon (SIGTERM, exit 0) and checks its database.
fn stop_and_check_database(mut daemon: Daemon, db: &Path) -> SqliteStore {
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(T).and_then(|s| s.code()), Some(0), "log:\n{}", daemon.log_text());
    let store = SqliteStore::open(db).unwrap();
    assert!(store.integrity_check().unwrap(), "PRAGMA integrity_check is not ok");
    store
}

#[test]
fn a_full_disk_makes_runs_error_and_they_resume_when_space_returns() {
    let site = start_api_site();
    let project = project("");
    let data = Tmpfs::mount(&project.path().join("data"), "8m");
    project.canary("ok", &api_canary(&site.url("/api/status/200")));
    let data_dir = data.path().to_str().unwrap();
    let mut daemon = Daemon::start(project.path(), "daemon.log", &["--data-dir", data_dir]);
    assert_eq!(status(&nth_run(&mut daemon, "ok", 1)), "PASSED");

    let filler = data.fill();
    run_now(&daemon, "ok");
    let full = nth_run(&mut daemon, "ok", 2);
    assert_eq!(status(&full), "ERROR", "{full}");
    let why = reason(&full);
    assert!(why.contains("no space left on device"), "{why}");
    assert!(
        why.contains(&data.path().join("artifacts").join("ok").display().to_string().to_lowercase()),
        "{why}"
    );
    assert_alive(&mut daemon);

    std::fs::remove_file(filler).unwrap();
    run_now(&daemon, "ok");
    assert_eq!(status(&nth_run(&mut daemon, "ok", 3)), "PASSED");
    assert_alive(&mut daemon);

    let store = stop_and_check_database(daemon, &data.path().join("aviary.db"));
    let runs = store.runs("ok", RunPage::first(10)).unwrap();
    let passed = runs.iter().filter(|r| r.status == aviary::report::RunStatus::Passed).count();
    assert_eq!(passed, 2, "{runs:?}");
}

/// The artifacts folder goes read-only. (The kernel refuses to remount a file system read-only
/// while a process has a file open for writing there, as the daemon has its database; so the
/// artifacts get a tmpfs of their own, as `artifacts.dir` allows.)
#[test]
fn a_read_only_artifacts_folder_makes_runs_error_and_they_resume_after_remount_rw() {
    let site = start_api_site();
    let project = project("artifacts: {dir: artifacts}\n");
    let artifacts = Tmpfs::mount(&project.path().join("artifacts"), "8m");
    project.canary("ok", &api_canary(&site.url("/api/status/200")));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    assert_eq!(status(&nth_run(&mut daemon, "ok", 1)), "PASSED");

    artifacts.remount("ro");
    run_now(&daemon, "ok");
    let read_only = nth_run(&mut daemon, "ok", 2);
    assert_eq!(status(&read_only), "ERROR", "{read_only}");
    let why = reason(&read_only);
    assert!(why.contains("read-only file system"), "{why}");
    assert!(why.contains("could not create artifact folder artifacts/ok/"), "{why}");
    assert_alive(&mut daemon);

    artifacts.remount("rw");
    run_now(&daemon, "ok");
    assert_eq!(status(&nth_run(&mut daemon, "ok", 3)), "PASSED");
    assert_alive(&mut daemon);

    let store = stop_and_check_database(daemon, &project.path().join(".aviary/aviary.db"));
    let runs = store.runs("ok", RunPage::first(10)).unwrap();
    let statuses: Vec<String> = runs.iter().rev().map(|r| r.status.to_string()).collect();
    assert_eq!(statuses, ["PASSED", "ERROR", "PASSED"], "the ERROR run is kept in history");
}

/// Kills (SIGKILL) the Chromium processes `daemon` started.
fn kill_browsers_of(daemon: &Daemon) {
    let status = Command::new("pkill").args(["-KILL", "-P", &daemon.pid().to_string()]).status().unwrap();
    assert!(status.success(), "no browser process to kill");
}

#[test]
fn chromium_killed_mid_run_errors_that_run_and_the_next_runs_pass() {
    let site = start_site();
    let project = project("");
    project.canary("victim", &heartbeat_canary(&site.url("/slow/4000"), "30s"));
    project.canary("bystander", &heartbeat_canary(&site.url("/"), "30s"));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    let started = Instant::now();
    while site.slow_hits.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < T, "the victim's page was never requested");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill_browsers_of(&daemon);
    let killed = nth_run(&mut daemon, "victim", 1);
    assert_eq!(status(&killed), "ERROR", "{killed}");
    assert!(reason(&killed).contains("browser process exited"), "{killed}");
    nth_run(&mut daemon, "bystander", 1);
    assert_alive(&mut daemon);

    for canary in ["victim", "bystander"] {
        run_now(&daemon, canary);
        let next = nth_run(&mut daemon, canary, 2);
        assert_eq!(status(&next), "PASSED", "{next}");
    }
    assert_alive(&mut daemon);
    stop_and_check_database(daemon, &project.path().join(".aviary/aviary.db"));
}

/// Each hostile page's run ends by its timeout (or, for memory, as a crash of its renderer) with
/// a reason that says so, and the browser serves the next run: a healthy canary run after each
/// of them passes.
#[test]
fn hostile_pages_end_by_their_timeout_and_the_browser_stays_usable() {
    let site = start_site();
    // A renderer's JavaScript heap capped low, so the memory hog meets its limit quickly.
    let project = project("browser: {args: [\"--js-flags=--max-old-space-size=128\"], max_concurrency: 1}\n");
    project.canary("healthy", &heartbeat_canary(&site.url("/"), "30s"));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    assert_eq!(status(&nth_run(&mut daemon, "healthy", 1)), "PASSED");

    let cases = [
        ("never-loads", "/hang-subresource", "TIMEOUT", "run timed out after 8s"),
        ("dialogs", "/dialogs", "TIMEOUT", "run timed out after 8s"),
        ("popups", "/popups", "TIMEOUT", "run timed out after 8s"),
        ("memory", "/memory", "ERROR", "renderer process crashed"),
    ];
    for (index, (canary, path, expected, says)) in cases.into_iter().enumerate() {
        project.canary(canary, &heartbeat_canary(&site.url(path), "8s"));
        let hostile = nth_run(&mut daemon, canary, 1);
        assert_eq!(status(&hostile), expected, "{hostile}");
        assert!(reason(&hostile).contains(says), "{hostile}");
        if canary == "popups" {
            let capped =
                daemon.events().iter().any(|e| daemon_support::message(e).contains("more than 10 popups"));
            assert!(capped, "the popup storm was not capped; log:\n{}", daemon.log_text());
        }
        std::fs::remove_file(project.path().join(format!("canaries/{canary}.yaml"))).unwrap();

        run_now(&daemon, "healthy");
        let next = nth_run(&mut daemon, "healthy", index + 2);
        assert_eq!(status(&next), "PASSED", "after {canary}: {next}");
        assert_alive(&mut daemon);
    }
    stop_and_check_database(daemon, &project.path().join(".aviary/aviary.db"));
}
