//! A killed aviary leaves no Chromium behind: the browser dies with the daemon (parent-death
//! signal), and at start-up the browsers recorded by a gone aviary are killed, matched by pid and
//! start time. Every process a test starts or sees started is killed when the test ends, pass or
//! fail.

#[path = "support/daemon.rs"]
mod daemon_support;
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use daemon_support::{Daemon, message};
use support::{Project, start_site};

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Proc {
    pid: u32,
    start_time: u64,
}

/// `(state, parent, start time)` from `/proc/PID/stat`, fields counted after the last `)`.
fn stat(pid: u32) -> Option<(char, u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some((fields[0].chars().next()?, fields[1].parse().ok()?, fields[19].parse().ok()?))
}

impl Proc {
    fn of(pid: u32) -> Option<Proc> {
        stat(pid).map(|(_, _, start_time)| Proc { pid, start_time })
    }

    /// Running, not a zombie waiting to be reaped.
    fn is_alive(&self) -> bool {
        matches!(stat(self.pid), Some((state, _, start)) if start == self.start_time && state != 'Z')
    }

    #[allow(unsafe_code, reason = "kill(2) has no safe wrapper in libc")]
    fn kill(&self) {
        if self.is_alive() {
            // SAFETY: kill(2) on a pid checked just above (a test-only race is acceptable).
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// Every process below `root` (its children, their children, ...).
fn descendants(root: u32) -> Vec<Proc> {
    let mut children: HashMap<u32, Vec<Proc>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let Some((_, parent, start_time)) = stat(pid) {
            children.entry(parent).or_default().push(Proc { pid, start_time });
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for child in children.remove(&parent).unwrap_or_default() {
            queue.push(child.pid);
            found.push(child);
        }
    }
    found
}

/// Kills every process it was told about when dropped, so a failing test leaves nothing behind.
#[derive(Default)]
struct Reaper {
    seen: Vec<Proc>,
}

impl Reaper {
    fn track(&mut self, processes: impl IntoIterator<Item = Proc>) {
        for process in processes {
            if !self.seen.contains(&process) {
                self.seen.push(process);
            }
        }
    }

    fn alive(&self) -> Vec<Proc> {
        self.seen.iter().copied().filter(Proc::is_alive).collect()
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.seen.iter().for_each(Proc::kill);
    }
}

/// The `pid start_time` records of `<data>/browsers/*.browsers`.
fn recorded_browsers(project: &Project) -> Vec<Proc> {
    let dir = project.path().join(".aviary/browsers");
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "browsers"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|line| {
                    let (pid, start) = line.split_once(' ')?;
                    Some(Proc { pid: pid.parse().ok()?, start_time: start.parse().ok()? })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn project_with_server() -> Project {
    let project = Project::new();
    project.file("aviary.yaml", "server: {listen: \"127.0.0.1:0\"}\n");
    project
}

#[test]
fn a_killed_daemon_leaves_no_browser_behind() {
    let site = start_site();
    let project = project_with_server();
    project.canary(
        "hangs",
        &format!(
            "blueprint: heartbeat\nschedule: rate(5 minutes)\ntimeout: 120s\nheartbeat:\n  urls: [\"{}\"]\n",
            site.url("/hang")
        ),
    );
    let mut reaper = Reaper::default();
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    let daemon_pid = daemon.pid();

    // Chromium runs and its page waits for `/hang`.
    let deadline = Instant::now() + Duration::from_secs(60);
    while site.hang_hits.load(Ordering::SeqCst) == 0 {
        reaper.track(descendants(daemon_pid));
        assert!(Instant::now() < deadline, "Chromium never requested the page; log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = descendants(daemon_pid);
    reaper.track(started.iter().copied());
    let recorded = recorded_browsers(&project);
    assert!(!recorded.is_empty(), "no browser recorded under .aviary/browsers");
    for browser in &recorded {
        assert!(started.contains(browser), "recorded {browser:?} is not a child of the daemon");
    }
    assert!(started.len() > recorded.len(), "Chromium's helper processes are missing: {started:?}");

    daemon.signal("KILL");
    assert!(daemon.wait_exit(Duration::from_secs(5)).is_some(), "the daemon survived SIGKILL");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive = reaper.alive();
        if alive.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still alive 5 s after the daemon was killed: {alive:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sleeper() -> Child {
    Command::new("sleep").arg("600").spawn().unwrap()
}

/// Kills and reaps a child when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_record(dir: &Path, owner: Proc, browsers: &[Proc]) {
    std::fs::create_dir_all(dir).unwrap();
    let lines: String = browsers.iter().map(|b| format!("{} {}\n", b.pid, b.start_time)).collect();
    std::fs::write(dir.join(format!("{}-{}-0.browsers", owner.pid, owner.start_time)), lines).unwrap();
}

#[test]
fn the_daemon_reaps_at_start_what_a_gone_aviary_recorded() {
    let project = project_with_server();
    let mut orphan = Reaped(sleeper());
    let mut bystander = Reaped(sleeper());
    let orphan_id = Proc::of(orphan.0.id()).unwrap();
    let bystander_id = Proc::of(bystander.0.id()).unwrap();
    // The owner: this test's pid with another start time, i.e. a process that is gone.
    let me = Proc::of(std::process::id()).unwrap();
    let gone_owner = Proc { start_time: me.start_time + 1, ..me };
    // The bystander's pid with another start time: the pid was reused, it must not be killed.
    let reused = Proc { start_time: bystander_id.start_time + 1, ..bystander_id };
    let records = project.path().join(".aviary/browsers");
    write_record(&records, gone_owner, &[orphan_id, reused]);

    let daemon = Daemon::start(project.path(), "daemon.log", &[]);

    let deadline = Instant::now() + Duration::from_secs(5);
    while orphan.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the recorded orphan was not killed; log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(bystander.0.try_wait().unwrap().is_none(), "a process with a reused pid was killed");
    let logged = daemon.events().iter().any(|e| message(e).contains("killed 1 Chromium process"));
    assert!(logged, "the reaping is not logged:\n{}", daemon.log_text());
    let left: Vec<_> = std::fs::read_dir(&records).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "the gone owner's record stays: {left:?}");
}

/// Processes whose command line holds `marker`.
fn with_marker(marker: &str) -> Vec<Proc> {
    let pids = std::fs::read_dir("/proc").unwrap().flatten();
    pids.filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .filter_map(Proc::of)
        .filter(Proc::is_alive)
        .collect()
}

/// A wrapper script that runs the browser without `exec` would outlive every way of stopping it
/// (Debian's /usr/bin/chromium-headless-shell is one): the launch is refused, saying why, and the
/// browser it started is killed.
#[test]
fn a_browser_behind_a_script_without_exec_is_refused_and_killed() {
    let browser = ["/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("Chromium is installed");
    let site = start_site();
    let project = Project::new();
    let wrapper = project.file("wrapper.sh", &format!("#!/bin/sh\n{browser} \"$@\"\n"));
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let marker = format!("aviary-wrapper-test-{}", std::process::id());
    project.file("aviary.yaml", &format!("browser: {{executable: ./wrapper.sh, args: [\"{marker}\"]}}\n"));
    project.canary(
        "home",
        &format!("blueprint: heartbeat\ntimeout: 30s\nheartbeat:\n  urls: [\"{}\"]\n", site.url("/")),
    );
    let mut reaper = Reaper::default();
    let output = project.aviary(&["run"]);
    reaper.track(with_marker(&marker));
    assert_eq!(output.status.code(), Some(1), "{}", support::stderr(&output));
    let report = support::read_json(&project.run_dirs()[0].join("report.json"));
    assert_eq!(report["status"], "ERROR");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("wrapper.sh is a script that runs the browser without `exec`"), "{reason}");
    assert!(reason.contains("/usr/lib/chromium/chromium-headless-shell"), "{reason}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !with_marker(&marker).is_empty() {
        assert!(Instant::now() < deadline, "still running: {:?}", with_marker(&marker));
        std::thread::sleep(Duration::from_millis(50));
    }
}
