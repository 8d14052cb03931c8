//! Browsers an aviary process leaves behind when it is killed, and how they are reaped.
//!
//! Two safeguards (see `docs/daemon.md`, "Stopping"):
//! - Chromium is started with a parent-death signal ([`spawn_with_parent_death_signal`]), so the
//!   kernel kills it when the aviary process dies, even by SIGKILL.
//! - Every launched browser is recorded (pid and process start time) in a file of the data folder
//!   while it runs; at start, [`reap_orphans`] kills the recorded browsers of owners that are gone,
//!   matching pid *and* start time, so a reused pid is never hit. Names are never matched.

use std::collections::HashMap;
use std::io;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcessId {
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`: clock ticks after boot when the process started.
    pub start_time: u64,
}

impl ProcessId {
    /// The running (not zombie) process `pid`, if there is one.
    pub fn of(pid: u32) -> Option<ProcessId> {
        let stat = ProcStat::read(pid)?;
        (stat.state != 'Z').then_some(ProcessId { pid, start_time: stat.start_time })
    }

    /// This process.
    pub fn current() -> Option<ProcessId> {
        ProcessId::of(std::process::id())
    }

    /// Whether this very process is still running.
    pub fn is_alive(&self) -> bool {
        ProcessId::of(self.pid) == Some(*self)
    }
}

/// The few fields of `/proc/PID/stat` used here.
struct ProcStat {
    state: char,
    parent: u32,
    start_time: u64,
}

impl ProcStat {
    fn read(pid: u32) -> Option<ProcStat> {
        ProcStat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// The command name (field 2) is in parentheses and may hold spaces and `)`: fields are
    /// counted from the last `)`.
    fn parse(stat: &str) -> Option<ProcStat> {
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(ProcStat {
            state: fields.first()?.chars().next()?,
            parent: fields.get(1)?.parse().ok()?,
            start_time: fields.get(19)?.parse().ok()?,
        })
    }
}

/// Why the browser record could not be kept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    #[error("could not write the browser record {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("this process has no entry in /proc, so its browsers cannot be recorded")]
    NoProc,
}

/// The file of one pool of this process listing its running browsers:
/// `<dir>/<owner pid>-<owner start time>-<n>.browsers`, a `pid start_time` line per browser.
#[derive(Debug)]
pub(crate) struct Registry {
    path: PathBuf,
    browsers: Mutex<Vec<ProcessId>>,
}

const EXTENSION: &str = "browsers";

impl Registry {
    pub fn new(dir: &Path) -> Result<Registry, RegistryError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let owner = ProcessId::current().ok_or(RegistryError::NoProc)?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}-{}-{n}.{EXTENSION}", owner.pid, owner.start_time));
        Ok(Registry { path, browsers: Mutex::new(Vec::new()) })
    }

    pub fn record(&self, browser: ProcessId) -> Result<(), RegistryError> {
        let mut browsers = self.browsers.lock().expect("registry lock");
        browsers.push(browser);
        self.write(&browsers)
    }

    pub fn forget(&self, pid: u32) -> Result<(), RegistryError> {
        let mut browsers = self.browsers.lock().expect("registry lock");
        browsers.retain(|b| b.pid != pid);
        self.write(&browsers)
    }

    /// Replaces the file at once (write, then rename), or removes it when nothing runs.
    fn write(&self, browsers: &[ProcessId]) -> Result<(), RegistryError> {
        let failed = |source| RegistryError::Write { path: self.path.clone(), source };
        if browsers.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(failed(e)),
                _ => Ok(()),
            };
        }
        let text: String = browsers.iter().map(|b| format!("{} {}\n", b.pid, b.start_time)).collect();
        let temporary = self.path.with_extension("tmp");
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        std::fs::write(&temporary, text).map_err(failed)?;
        std::fs::rename(&temporary, &self.path).map_err(failed)
    }
}

/// Kills the browsers recorded in `dir` by aviary processes that are gone, with their child
/// processes, and removes those records. Returns the pids killed.
pub(crate) fn reap_orphans(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut killed = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|e| e != EXTENSION) {
            continue;
        }
        let owner = path.file_stem().and_then(|s| s.to_str()).and_then(owner_of);
        if owner.is_some_and(|o| o.is_alive()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for browser in text.lines().filter_map(record_of) {
            killed.extend(kill_tree(browser));
        }
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!("could not remove the browser record {}: {e}", path.display());
        }
    }
    killed
}

/// `<pid>-<start time>-<n>` → the owner.
fn owner_of(stem: &str) -> Option<ProcessId> {
    let mut parts = stem.split('-');
    let pid = parts.next()?.parse().ok()?;
    let start_time = parts.next()?.parse().ok()?;
    Some(ProcessId { pid, start_time })
}

/// `pid start_time` → the browser.
fn record_of(line: &str) -> Option<ProcessId> {
    let (pid, start_time) = line.trim().split_once(' ')?;
    Some(ProcessId { pid: pid.parse().ok()?, start_time: start_time.parse().ok()? })
}

/// Shells that may run the browser from a wrapper script.
const SHELLS: [&str; 6] = ["sh", "dash", "bash", "zsh", "ash", "busybox"];

/// The shell `pid` still is, once it has started the browser: a wrapper script that ran the
/// browser without `exec` (Debian's `/usr/bin/chromium-headless-shell` is one). Killing such a
/// wrapper, or its parent-death signal, would leave the browser running.
pub(crate) fn wrapping_shell(pid: u32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_str()?;
    SHELLS.contains(&name).then(|| exe.display().to_string())
}

/// Kills `root` (if it is still that process) and every process below it; returns their pids.
pub(crate) fn kill_tree(root: ProcessId) -> Vec<u32> {
    if !root.is_alive() {
        return Vec::new();
    }
    // Children first found, then the root: a helper is not reparented away mid-walk.
    let mut victims = descendants(root.pid);
    victims.push(root);
    victims.into_iter().filter(|p| kill_exactly(*p)).map(|p| p.pid).collect()
}

/// Every process whose parent chain leads to `pid`, with its start time.
fn descendants(pid: u32) -> Vec<ProcessId> {
    let mut children: HashMap<u32, Vec<ProcessId>> = HashMap::new();
    let pids = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    for child in pids.filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()) {
        if let Some(stat) = ProcStat::read(child) {
            let id = ProcessId { pid: child, start_time: stat.start_time };
            children.entry(stat.parent).or_default().push(id);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        for child in children.remove(&parent).unwrap_or_default() {
            queue.push(child.pid);
            found.push(child);
        }
    }
    found
}

/// SIGKILL to `process` only if the pid still names it: through a pidfd, so the check and the
/// signal concern the same process even if the pid is reused in between.
#[allow(unsafe_code, reason = "pidfd_open and pidfd_send_signal: libc has no safe wrapper")]
fn kill_exactly(process: ProcessId) -> bool {
    // SAFETY: plain system calls on integers; the descriptor is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, process.pid as libc::pid_t, 0) };
    if fd < 0 {
        // Kernels before 5.3 have no pidfds: check, then signal (a far smaller race window).
        let no_pidfds = io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS);
        // SAFETY: a plain kill(2) of a process just checked to be the recorded one.
        return no_pidfds
            && process.is_alive()
            && unsafe { libc::kill(process.pid as libc::pid_t, libc::SIGKILL) } == 0;
    }
    let fd = fd as libc::c_int;
    let sent = process.is_alive()
        // SAFETY: `fd` is the pidfd opened above; no siginfo is passed.
        && unsafe {
            libc::syscall(libc::SYS_pidfd_send_signal, fd, libc::SIGKILL, std::ptr::null::<()>(), 0)
        } == 0;
    // SAFETY: `fd` was opened above and is not used afterwards.
    unsafe { libc::close(fd) };
    sent
}

/// Starts `command` so that the kernel sends it SIGKILL when its parent dies.
///
/// The parent-death signal fires when the *thread* that forked the process exits, not the
/// process; so every browser is forked by one thread that lives as long as the process.
#[allow(
    unsafe_code,
    reason = "prctl(PR_SET_PDEATHSIG) in pre_exec: the only way to tie a child to its parent"
)]
pub(crate) fn spawn_with_parent_death_signal(mut command: Command) -> io::Result<Child> {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // system calls (prctl, getppid).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent died before the signal was armed: nobody else would kill us.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::other("the aviary process exited while Chromium started"));
            }
            Ok(())
        });
    }
    spawner().send_and_wait(command)
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// The lasting thread that forks every browser.
struct Spawner {
    requests: Mutex<mpsc::Sender<SpawnRequest>>,
}

impl Spawner {
    fn send_and_wait(&self, command: Command) -> io::Result<Child> {
        let (reply, answer) = mpsc::channel();
        let sent = self.requests.lock().expect("spawner lock").send((command, reply));
        sent.map_err(|_| io::Error::other("the browser spawner thread is gone"))?;
        answer.recv().map_err(|_| io::Error::other("the browser spawner thread is gone"))?
    }
}

fn spawner() -> &'static Spawner {
    static SPAWNER: OnceLock<Spawner> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        // The sender lives in a static, so `recv` never fails and the thread never ends.
        let _ = std::thread::Builder::new().name("aviary-browser-spawner".to_string()).spawn(move || {
            for (mut command, reply) in incoming {
                let _ = reply.send(command.spawn());
            }
        });
        Spawner { requests: Mutex::new(requests) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper() -> Child {
        Command::new("sleep").arg("600").spawn().expect("sleep runs")
    }

    fn exited(child: &mut Child) -> bool {
        for _ in 0..100 {
            if child.try_wait().expect("try_wait").is_some() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let stat = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2";
        let parsed = ProcStat::parse(stat).expect("parses");
        assert_eq!((parsed.state, parsed.parent, parsed.start_time), ('S', 17, 987654));
    }

    #[test]
    fn records_of_gone_owners_are_reaped_by_pid_and_start_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut recorded, mut reused) = (sleeper(), sleeper());
        let recorded_id = ProcessId::of(recorded.id()).expect("running");
        // Same pid as a record but another start time: a different process, never touched.
        let reused_id = ProcessId::of(reused.id()).expect("running");
        let stale = ProcessId { start_time: reused_id.start_time + 1, ..reused_id };
        let me = ProcessId::current().expect("in /proc");
        let gone_owner = format!("{}-{}-0.{EXTENSION}", me.pid, me.start_time + 1);
        let lines =
            format!("{} {}\n{} {}\n", recorded_id.pid, recorded_id.start_time, stale.pid, stale.start_time);
        std::fs::write(dir.path().join(&gone_owner), lines).expect("write");

        let killed = reap_orphans(dir.path());

        let reused_alive = reused.try_wait().expect("try_wait").is_none();
        let _ = reused.kill();
        let _ = reused.wait();
        assert_eq!(killed, [recorded.id()]);
        assert!(exited(&mut recorded), "the recorded process was not killed");
        assert!(reused_alive, "a process with a recorded pid but another start time was killed");
        assert!(!dir.path().join(gone_owner).exists(), "the record of a gone owner stays");
    }

    #[test]
    fn records_of_a_running_owner_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::new(dir.path()).expect("registry");
        let mut child = sleeper();
        registry.record(ProcessId::of(child.id()).expect("running")).expect("record");

        let killed = reap_orphans(dir.path());

        let alive = child.try_wait().expect("try_wait").is_none();
        let _ = child.kill();
        let _ = child.wait();
        assert!(killed.is_empty() && alive, "the browser of a running aviary was killed");
        registry.forget(child.id()).expect("forget");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "an empty record stays");
    }
}
