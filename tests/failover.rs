//! RFC 2136 against a real BIND9 `named` started on 127.0.0.1 (skipped only when not installed,
//! outside CI): the provider, the controller, the commands, and the daemon end to end.

#[path = "support/daemon.rs"]
mod daemon_support;
mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aviary::dns::rfc2136::Rfc2136;
use aviary::dns::{DnsError, DnsProvider};
use aviary::spec::model::{DnsProviderSpec, RecordSpec};

const NAMED: &str = "/usr/sbin/named";
const SECRET: &str = "c2VjcmV0LWtleS1mb3ItYXZpYXJ5LXRlc3RzLTAxMjM0NTY3ODk=";

struct Named {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_named() -> Option<Named> {
    if !Path::new(NAMED).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{NAMED} is missing: run `AVIARY_SETUP_TESTS=1 bash scripts/setup.sh`"
        );
        eprintln!("SKIPPED: {NAMED} is not installed (Debian package `bind9`)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("example.test.zone"),
        "$TTL 60\n@ IN SOA ns1.example.test. admin.example.test. 1 3600 600 86400 60\n\
         @ IN NS ns1.example.test.\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.10\n",
    )
    .unwrap();
    for _ in 0..5 {
        let port = free_port();
        let conf = format!(
            "key \"aviary-key.\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\n\
             options {{ directory \"{d}\"; pid-file \"{d}/named.pid\"; listen-on port {port} {{ 127.0.0.1; }};\n\
             listen-on-v6 {{ none; }}; recursion no; session-keyfile \"{d}/session.key\"; }};\n\
             controls {{ }};\n\
             zone \"example.test.\" {{ type primary; file \"{d}/example.test.zone\"; allow-update {{ key \"aviary-key.\"; }}; }};\n"
        );
        std::fs::write(dir.path().join("named.conf"), conf).unwrap();
        let mut cmd = Command::new(NAMED);
        cmd.args(["-g", "-c"]).arg(dir.path().join("named.conf"));
        if is_root() {
            cmd.args(["-u", "root"]);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if dig(port, "www.example.test").contains("192.0.2.10") {
                return Some(Named { child, port, _dir: dir });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("named did not start");
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"))
}

fn dig(port: u16, name: &str) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), name, "A", "+short", "+tcp", "+time=1", "+tries=1"])
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

fn provider(port: u16, key: &str, secret: &str) -> Rfc2136 {
    let yaml = serde_json::json!({
        "type": "rfc2136",
        "server": format!("127.0.0.1:{port}"),
        "zone": "example.test.",
        "tsig": {"name": key, "algorithm": "hmac-sha256", "secret": secret},
    });
    let spec: DnsProviderSpec = serde_json::from_value(yaml).unwrap();
    Rfc2136::from_spec(&spec).unwrap()
}

fn record() -> RecordSpec {
    serde_json::from_value(serde_json::json!({"name": "www.example.test.", "type": "A", "ttl": 30})).unwrap()
}

#[tokio::test]
async fn rfc2136_replace_and_wrong_key() {
    let Some(named) = start_named() else { return };
    let p = provider(named.port, "aviary-key.", SECRET);
    assert_eq!(p.current(&record()).await.unwrap(), vec!["192.0.2.10"]);

    p.replace(&record(), &["198.51.100.20".into(), "198.51.100.21".into()]).await.unwrap();
    let mut answer: Vec<String> = dig(named.port, "www.example.test").lines().map(str::to_string).collect();
    answer.sort();
    assert_eq!(answer, vec!["198.51.100.20", "198.51.100.21"]);
    assert_eq!(p.current(&record()).await.unwrap(), vec!["198.51.100.20", "198.51.100.21"]);

    p.replace(&record(), &["192.0.2.10".into()]).await.unwrap();
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    // Wrong secret: BADSIG, and the message does not carry the secret.
    let wrong_secret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0wMDA=";
    let err = provider(named.port, "aviary-key.", wrong_secret)
        .replace(&record(), &["203.0.113.1".into()])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DnsError::TsigRejected { .. }), "{msg}");
    assert!(msg.contains("BADSIG"), "{msg}");
    assert!(!msg.contains(wrong_secret) && !msg.contains(SECRET), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");

    // Unknown key name: BADKEY.
    let err = provider(named.port, "nobody-key.", SECRET)
        .replace(&record(), &["203.0.113.1".into()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("BADKEY"), "{err}");
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    // No key where the zone wants one: REFUSED. A zone the server does not serve: NOTAUTH.
    let spec = |zone: &str, tsig: bool| {
        let mut json = serde_json::json!({"type": "rfc2136", "server": format!("127.0.0.1:{}", named.port), "zone": zone});
        if tsig {
            json["tsig"] =
                serde_json::json!({"name": "aviary-key.", "algorithm": "hmac-sha256", "secret": SECRET});
        }
        Rfc2136::from_spec(&serde_json::from_value::<DnsProviderSpec>(json).unwrap()).unwrap()
    };
    let err = spec("example.test.", false).replace(&record(), &["203.0.113.1".into()]).await.unwrap_err();
    assert!(matches!(err, DnsError::Refused { .. }), "{err}");
    let other: RecordSpec =
        serde_json::from_value(serde_json::json!({"name": "www.other.test.", "type": "A"})).unwrap();
    let err = spec("other.test.", true).replace(&other, &["203.0.113.1".into()]).await.unwrap_err();
    assert!(matches!(err, DnsError::NotAuth { .. }), "{err}");
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    // Nothing listening: unreachable, one line.
    let err = provider(free_port(), "aviary-key.", SECRET).current(&record()).await.unwrap_err();
    assert!(matches!(err, DnsError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn controller_flips_and_puts_drift_back() {
    use aviary::dns::controller::Controller;
    let Some(named) = start_named() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(aviary::store::SqliteStore::open(&dir.path().join("db.sqlite")).unwrap());
    let project: aviary::spec::model::ProjectFile = serde_json::from_value(serde_json::json!({
        "dns_providers": {"lab": {"type": "rfc2136", "server": format!("127.0.0.1:{}", named.port),
            "zone": "example.test.", "tsig": {"name": "aviary-key.", "algorithm": "hmac-sha256", "secret": SECRET}}},
        "failover": [{"name": "www", "provider": "lab", "record": {"name": "www.example.test.", "type": "A", "ttl": 30},
            "primary": ["192.0.2.10"], "secondary": ["198.51.100.20"], "primary_health": "home",
            "insufficient_data": "last_known"}],
    }))
    .unwrap();
    let controller = Controller::new(store.clone());
    controller.set_project(&project);

    // No state yet (insufficient data, last_known from the record): stays primary.
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    support::record_alarm_state(&store, "home", "INSUFFICIENT_DATA", "ALARM");
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "198.51.100.20");
    let status = controller.status();
    assert_eq!(status[0].desired_answer, Some("secondary"));
    assert!(status[0].last_change.is_some() && status[0].last_error.is_none());

    // INSUFFICIENT_DATA under last_known keeps the secondary.
    support::record_alarm_state(&store, "home", "ALARM", "INSUFFICIENT_DATA");
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "198.51.100.20");

    support::record_alarm_state(&store, "home", "INSUFFICIENT_DATA", "OK");
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    // Someone edits the record by hand: put back.
    provider(named.port, "aviary-key.", SECRET).replace(&record(), &["203.0.113.9".into()]).await.unwrap();
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    // Every change is kept, newest first: the hand edit put back, back to primary, to secondary.
    use aviary::store::Store;
    let history = store.failover_history("www", 10).unwrap();
    let answers: Vec<&str> = history.iter().map(|c| c.answer.as_str()).collect();
    assert_eq!(answers, ["primary", "primary", "secondary"], "{history:?}");
    assert_eq!(history[0].from, vec!["203.0.113.9"]);
    assert!(history[0].why.starts_with("put back after an edit by hand"), "{}", history[0].why);
    assert_eq!(
        (history[2].from.clone(), history[2].to.clone()),
        (vec!["192.0.2.10".into()], vec!["198.51.100.20".into()])
    );

    // A fresh controller (a restarted daemon) knows when the record last changed.
    let restarted = Controller::new(store.clone());
    restarted.set_project(&project);
    restarted.check_once().await;
    assert_eq!(restarted.status()[0].last_change, Some(history[0].time));

    // Dry run changes nothing.
    controller.dry_run.store(true, std::sync::atomic::Ordering::Relaxed);
    support::record_alarm_state(&store, "home", "OK", "ALARM");
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");
    assert_eq!(controller.status()[0].desired, vec!["198.51.100.20"]);
}

#[test]
fn failover_status_command() {
    let Some(named) = start_named() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("canaries")).unwrap();
    let provider = format!(
        "{{type: rfc2136, server: \"127.0.0.1:{}\", zone: \"example.test.\", \
         tsig: {{name: \"aviary-key.\", algorithm: hmac-sha256, secret: \"${{secret:TSIG_SECRET}}\"}}}}",
        named.port
    );
    let yaml = support::failover_project("lab", &provider);
    std::fs::write(dir.path().join("aviary.yaml"), yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(["failover", "status", "--json"])
        .current_dir(dir.path())
        .env("TSIG_SECRET", SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // No alarm state yet, counted as unhealthy: secondary desired; status changes nothing.
    assert_eq!(status[0]["desired_answer"], "secondary", "{stdout}");
    assert_eq!(status[0]["actual"], serde_json::json!(["192.0.2.10"]), "{stdout}");
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    let history = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_aviary"))
            .args(["failover", "history", name])
            .current_dir(dir.path())
            .env("TSIG_SECRET", SECRET)
            .output()
            .unwrap()
    };
    let out = history("www");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no changes of `www` yet");
    let out = history("nope");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no failover record named `nope` (defined: www)"));
}

/// An origin that answers 200 while `up`, and drops every connection unanswered while not.
fn start_origin(up: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u16 {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if !up.load(std::sync::atomic::Ordering::SeqCst) {
                continue;
            }
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    port
}

/// What a person does: a daemon whose canary watches a local origin flips the record on
/// `set-state` and when the origin really goes down, and back; the TSIG secret is never logged.
#[test]
fn daemon_flips_the_record_with_its_alarm() {
    use daemon_support::{Daemon, http};
    use std::sync::atomic::Ordering;
    let Some(named) = start_named() else { return };
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let origin = start_origin(up.clone());
    let project = support::Project::new();
    let port = free_port();
    let token = "failover-test-token";
    project.file(
        "aviary.yaml",
        &format!(
            "server: {{listen: \"127.0.0.1:{port}\", token: \"{token}\"}}\n\
             dns_providers:\n  lab: {{type: rfc2136, server: \"127.0.0.1:{}\", zone: \"example.test.\",\n    \
             tsig: {{name: \"aviary-key.\", algorithm: hmac-sha256, secret: \"${{secret:TSIG_SECRET}}\"}}}}\n\
             failover:\n  - name: www\n    provider: lab\n    record: {{name: \"www.example.test.\", type: A, ttl: 30}}\n    \
             primary: [\"192.0.2.10\"]\n    secondary: [\"198.51.100.20\"]\n    primary_health: origin-down\n",
            named.port
        ),
    );
    project.canary(
        "origin",
        &format!(
            "blueprint: api\nschedule: rate(1 hour)\ntimeout: 10s\n\
             alarms:\n  - {{name: origin-down, metric: SuccessPercent, period: 2s, evaluation_periods: 1, \
             comparison: \"<\", threshold: 100, treat_missing_data: ignore}}\n\
             api:\n  steps:\n    - name: get\n      request: {{url: \"http://127.0.0.1:{origin}/\", timeout: 2s}}\n      \
             assert: [status == 200]\n"
        ),
    );
    let mut daemon = Daemon::start_env(project.path(), "daemon.log", &[], &[("TSIG_SECRET", SECRET)]);
    let addr = format!("127.0.0.1:{port}");
    let answers = |want: &str, what: &str, daemon: &Daemon| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while dig(named.port, "www.example.test").trim() != want {
            assert!(Instant::now() < deadline, "{what}: no {want} in time; log:\n{}", daemon.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    answers("192.0.2.10", "start", &daemon);
    // The run at start passes and the alarm settles on OK; once its datapoint has left the
    // evaluation range (N + 2 = 3 periods of 2 s), evaluations find no data (`ignore`) and keep
    // whatever state is set.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !support::stdout(&project.aviary_env(&["alarms"], &[("TSIG_SECRET", SECRET)]))
        .lines()
        .any(|l| l.starts_with("origin-down") && l.contains(" OK "))
    {
        assert!(Instant::now() < deadline, "the alarm did not settle on OK; log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(8));

    // The CloudWatch drill: set-state through the daemon's API.
    let set_state = |state: &str| {
        let args = ["alarm", "set-state", "origin-down", "--state-value", state, "--state-reason", "drill"];
        let out = project.aviary_env(&args, &[("TSIG_SECRET", SECRET)]);
        assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    };
    set_state("ALARM");
    answers("198.51.100.20", "set-state ALARM", &daemon);
    set_state("OK");
    answers("192.0.2.10", "set-state OK", &daemon);

    // The origin really goes down: the next run fails, the alarm fires, the record flips.
    up.store(false, Ordering::SeqCst);
    let (status, body) = http(&addr, "POST", "/api/v1/canaries/origin/run", Some(token));
    assert_eq!(status, 202, "{body}");
    answers("198.51.100.20", "origin down", &daemon);
    up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http(&addr, "POST", "/api/v1/canaries/origin/run", Some(token));
        if status == 202 {
            break;
        }
        assert!(status == 409 && Instant::now() < deadline, "{status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    answers("192.0.2.10", "origin back", &daemon);

    // Every change is in the history; the secret is nowhere in the log or the data folder.
    let out = project.aviary_env(&["failover", "history", "www", "--json"], &[("TSIG_SECRET", SECRET)]);
    let history: serde_json::Value = serde_json::from_str(&support::stdout(&out)).unwrap();
    let answers: Vec<&str> =
        history.as_array().unwrap().iter().map(|c| c["answer"].as_str().unwrap()).collect();
    assert_eq!(answers, ["primary", "secondary", "primary", "secondary"], "{history}");
    let (_, metrics) = http(&addr, "GET", "/metrics", None);
    assert!(metrics.contains("aviary_failover_answer{failover=\"www\",answer=\"primary\"} 1"), "{metrics}");
    assert!(metrics.contains("aviary_failover_in_sync{failover=\"www\"} 1"), "{metrics}");
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some_and(|s| s.success()));
    assert!(!daemon.log_text().contains(SECRET), "the TSIG secret is in the log");
    for entry in walk(project.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
        assert!(!found, "the TSIG secret is in {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
