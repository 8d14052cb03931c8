//! RFC 2136 against a real BIND9 `named` started on 127.0.0.1 (skipped only when not installed).

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
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false)
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

    // Nothing listening: unreachable, one line.
    let err = provider(free_port(), "aviary-key.", SECRET).current(&record()).await.unwrap_err();
    assert!(matches!(err, DnsError::Unreachable { .. }), "{err}");
}

fn set_state(store: &aviary::store::SqliteStore, alarm: &str, old: &str, new: &str) {
    use aviary::store::{AlarmTransition, Store};
    store
        .record_alarm_transition(&AlarmTransition {
            alarm: alarm.into(),
            time: chrono::Utc::now(),
            old_state: old.into(),
            new_state: new.into(),
            reason: "test".into(),
        })
        .unwrap();
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

    set_state(&store, "home", "INSUFFICIENT_DATA", "ALARM");
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "198.51.100.20");
    let status = controller.status();
    assert_eq!(status[0].desired_answer, Some("secondary"));
    assert!(status[0].last_change.is_some() && status[0].last_error.is_none());

    // INSUFFICIENT_DATA under last_known keeps the secondary.
    set_state(&store, "home", "ALARM", "INSUFFICIENT_DATA");
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "198.51.100.20");

    set_state(&store, "home", "INSUFFICIENT_DATA", "OK");
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    // Someone edits the record by hand: put back.
    provider(named.port, "aviary-key.", SECRET).replace(&record(), &["203.0.113.9".into()]).await.unwrap();
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");

    // Dry run changes nothing.
    controller.dry_run.store(true, std::sync::atomic::Ordering::Relaxed);
    set_state(&store, "home", "OK", "ALARM");
    controller.check_once().await;
    assert_eq!(dig(named.port, "www.example.test").trim(), "192.0.2.10");
    assert_eq!(controller.status()[0].desired, vec!["198.51.100.20"]);
}

#[test]
fn failover_status_command() {
    let Some(named) = start_named() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("canaries")).unwrap();
    let yaml = format!(
        "dns_providers:\n  lab: {{type: rfc2136, server: \"127.0.0.1:{}\", zone: \"example.test.\",\n    \
         tsig: {{name: \"aviary-key.\", algorithm: hmac-sha256, secret: \"${{secret:TSIG_SECRET}}\"}}}}\n\
         failover:\n  - name: www\n    provider: lab\n    record: {{name: \"www.example.test.\", type: A, ttl: 60}}\n    \
         primary: [\"192.0.2.10\"]\n    secondary: [\"198.51.100.20\"]\n    primary_health: home\n    \
         insufficient_data: unhealthy\n",
        named.port
    );
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
}
