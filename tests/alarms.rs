//! Alarms end to end: the real `aviary daemon` binary with a failing API canary and a metric
//! alarm on its SuccessPercent; `aviary alarms`, `aviary alarm set-state` (through the API, with
//! the token) and `aviary alarm history`; `aviary validate` on bad composite rules; the database
//! fallback when no daemon runs; set-state without a token over the daemon's Unix socket.

#[path = "support/api_site.rs"]
mod api_site;
#[path = "support/daemon.rs"]
mod daemon_support;
mod support;
#[path = "support/webhook.rs"]
mod webhook;

use std::time::{Duration, Instant};

use api_site::start_api_site;
use daemon_support::{Daemon, http, message};
use support::{Project, stderr, stdout};

const TOKEN: &str = "alarm-test-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A failing one-step API canary with an alarm on its SuccessPercent (2 s periods, 1 of 1).
fn failing_canary(base: &str) -> String {
    format!(
        "blueprint: api\nschedule: rate(1 minute)\ntimeout: 20s\nenv: {{BASE: \"{base}\"}}\n\
         alarms:\n  - {{name: failing-down, metric: SuccessPercent, period: 2s, evaluation_periods: 1, \
         comparison: \"<\", threshold: 90, treat_missing_data: ignore, \
         actions: {{alarm: [ops], ok: [ops]}}}}\n\
         api:\n  steps:\n    - name: get\n      request: {{url: \"${{BASE}}/api/status/500\"}}\n      \
         assert: [status == 200]\n"
    )
}

fn project_file(port: u16, hook: u16) -> String {
    format!(
        "server: {{listen: \"127.0.0.1:{port}\", token: \"{TOKEN}\"}}\n\
         channels:\n  ops: {{type: webhook, url: \"http://127.0.0.1:{hook}/hook\"}}\n\
         composite_alarms:\n  - name: site-down\n    rule: \"ALARM(failing-down) AND NOT ALARM(maintenance)\"\n  \
         - name: maintenance\n    rule: \"FALSE\"\n    actions: {{alarm: [ops]}}\n"
    )
}

#[test]
fn a_failing_canary_alarms_and_set_state_goes_through_the_api() {
    let site = start_api_site();
    let project = Project::new();
    let port = free_port();
    let receiver = webhook::Webhook::start();
    let hook = receiver.port;
    project.file("aviary.yaml", &project_file(port, hook));
    project.canary("failing", &failing_canary(&site.base()));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    let addr = format!("127.0.0.1:{port}");

    // The alarm goes to ALARM once the run's period is complete; the composite follows.
    let deadline = Instant::now() + Duration::from_secs(40);
    let listing = loop {
        let out = project.aviary(&["alarms"]);
        let text = stdout(&out);
        let alarm_line = text.lines().find(|l| l.starts_with("failing-down")).unwrap_or("").to_string();
        if alarm_line.contains(" ALARM ")
            && text.lines().any(|l| l.starts_with("site-down") && l.contains(" ALARM "))
        {
            // Over the daemon's Unix socket in the data folder.
            assert!(
                stderr(&out).contains("(from the daemon at ") && stderr(&out).contains("aviary.sock)"),
                "{}",
                stderr(&out)
            );
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no ALARM in time:\n{text}\n{}\nlog:\n{}",
            stderr(&out),
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let line = listing.lines().find(|l| l.starts_with("failing-down")).unwrap();
    assert!(
        line.contains("Threshold Crossed: 1 out of the last 1 datapoints [0.0 (")
            && line.contains("was less than the threshold (90.0)"),
        "{line}"
    );

    // The transition was sent to the webhook channel.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.bodies().is_empty() {
        assert!(Instant::now() < deadline, "no webhook delivery; log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    // A person reading the daemon's log at the default level sees the transition and the delivery.
    let transition = daemon.wait_for_n("the transition in the log", 1, Duration::from_secs(10), |e| {
        e["fields"]["message"] == "alarm state changed" && e["fields"]["alarm"] == "failing-down"
    });
    assert_eq!(transition[0]["fields"]["to"], "ALARM", "{}", transition[0]);
    assert!(transition[0]["fields"]["reason"].as_str().unwrap().contains("Threshold Crossed"));
    daemon.wait_for_n("the delivery in the log", 1, Duration::from_secs(10), |e| {
        e["fields"]["message"] == "notification delivered" && e["fields"]["channel"] == "ops"
    });
    let sent: serde_json::Value = serde_json::from_str(&receiver.bodies()[0]).unwrap();
    assert_eq!(sent["alarm"], "failing-down", "{sent}");
    assert_eq!(sent["new_state"], "ALARM", "{sent}");
    assert_eq!(sent["old_state"], "INSUFFICIENT_DATA", "{sent}");
    assert_eq!(sent["canary"], "failing", "{sent}");
    let link = sent["dashboard_url"].as_str().unwrap();
    assert!(link.ends_with("/alarms/failing-down"), "the dashboard page of the alarm: {link}");
    let (status, _) = http(&addr, "GET", link.split_once(&addr.clone()).unwrap().1, None);
    assert_eq!(status, 200, "the dashboard link answers");

    // The API lists alarms; writes need the token.
    let (status, body) = http(&addr, "GET", "/api/v1/alarms", None);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> =
        json["alarms"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["failing-down", "maintenance", "site-down"]);
    let (status, _) = http(&addr, "POST", "/api/v1/alarms/failing-down/state", None);
    assert_eq!(status, 401);
    let (status, _) = http(&addr, "POST", "/api/v1/alarms/failing-down/state", Some("wrong"));
    assert_eq!(status, 401);

    // set-state as in the AWS CLI, through the daemon: a maintenance window. The parent composite
    // reacts at once; the state holds until a child of `maintenance` changes (it has none).
    let out = project.aviary(&[
        "alarm",
        "set-state",
        "--alarm-name",
        "maintenance",
        "--state-value",
        "ALARM",
        "--state-reason",
        "testing purposes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("(from the daemon at"), "{}", stderr(&out));
    assert!(stdout(&out).contains("maintenance: OK -> ALARM"), "{}", stdout(&out));
    assert!(stdout(&out).contains("site-down: ALARM -> OK"), "{}", stdout(&out));

    // Actions react to set-state too.
    let deadline = Instant::now() + Duration::from_secs(20);
    let ok = loop {
        let found = receiver.bodies().into_iter().find(|b| b.contains("testing purposes"));
        if let Some(body) = found {
            break serde_json::from_str::<serde_json::Value>(&body).unwrap();
        }
        assert!(Instant::now() < deadline, "no set-state delivery; log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ok["alarm"], "maintenance", "{ok}");
    assert_eq!((ok["old_state"].as_str(), ok["new_state"].as_str()), (Some("OK"), Some("ALARM")), "{ok}");

    let out = project.aviary(&["alarm", "history", "maintenance"]);
    let text = stdout(&out);
    let first = text.lines().nth(1).unwrap_or_default();
    assert!(first.contains("OK") && first.contains("ALARM") && first.contains("testing purposes"), "{text}");
    let out = project.aviary(&["alarm", "history", "failing-down"]);
    let text = stdout(&out);
    assert!(text.contains("INSUFFICIENT_DATA") && text.contains("Threshold Crossed"), "{text}");
    let out = project.aviary(&["alarm", "history", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no alarm named `nope`"), "{}", stderr(&out));
    let out = project.aviary(&["alarm", "set-state", "maintenanse", "--state", "OK", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean `maintenance`?"), "{}", stderr(&out));

    // A file save (a reload) evaluates nothing early: the set state holds and no action fires.
    let delivered = receiver.bodies().len();
    project.file("aviary.yaml", &format!("{}# saved again\n", project_file(port, hook)));
    daemon.signal("HUP");
    daemon.wait_for("the SIGHUP reload", Duration::from_secs(10), |e| message(e).contains("SIGHUP"));
    // The reload's debounce, then several ticks of the 2 s alarm.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(maintenance_history(&project), 2, "log:\n{}", daemon.log_text());
    let text = stdout(&project.aviary(&["alarms"]));
    assert!(text.lines().any(|l| l.starts_with("maintenance") && l.contains(" ALARM ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("site-down") && l.contains(" OK ")), "{text}");
    assert_eq!(receiver.bodies().len(), delivered, "{:?}", receiver.bodies());

    // SIGKILL: nothing is flushed on the way out, yet every state and transition is kept.
    daemon.signal("KILL");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());

    // Without a daemon, the CLI reads the database and says so.
    let out = project.aviary(&["alarms"]);
    assert!(stderr(&out).contains("(from the database in"), "{}", stderr(&out));
    let text = stdout(&out);
    let state_of = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
    };
    assert_eq!(state_of("failing-down").as_deref(), Some("ALARM"), "{text}");
    assert_eq!(state_of("maintenance").as_deref(), Some("ALARM"), "{text}");
    assert_eq!(state_of("site-down").as_deref(), Some("OK"), "{text}");
    assert!(text.contains("testing purposes"), "{text}");

    // A restart does not evaluate the composites again either.
    let mut daemon = Daemon::start(project.path(), "daemon2.log", &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stderr(&project.aviary(&["alarms"])).contains("(from the daemon at") {
        assert!(Instant::now() < deadline, "the daemon did not answer; log:\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(maintenance_history(&project), 2, "log:\n{}", daemon.log_text());
    let text = stdout(&project.aviary(&["alarms"]));
    assert!(text.lines().any(|l| l.starts_with("maintenance") && l.contains(" ALARM ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("site-down") && l.contains(" OK ")), "{text}");
    daemon.signal("KILL");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());

    // set-state without a daemon writes the database (and says so).
    let out = project.aviary(&["alarm", "set-state", "maintenance", "--state", "OK", "--reason", "done"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("(from the database in"), "{}", stderr(&out));
    assert!(stdout(&out).contains("maintenance: ALARM -> OK"), "{}", stdout(&out));
    assert!(stdout(&out).contains("site-down: OK -> ALARM"), "{}", stdout(&out));
}

/// How many transitions `maintenance` has (its first evaluation, then the set-state).
fn maintenance_history(project: &Project) -> usize {
    let out = project.aviary(&["alarm", "history", "maintenance", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    json.as_array().unwrap_or_else(|| panic!("{json}")).len()
}

#[test]
fn validate_rejects_composite_cycles_unknown_names_and_bad_syntax_with_positions() {
    let project = Project::new();
    project.file(
        "aviary.yaml",
        "composite_alarms:\n  - name: a\n    rule: \"ALARM(b) OR ALARM(homepage-down)\"\n  - name: b\n    \
         rule: ALARM(a)\n  - name: c\n    rule: \"ALARM(nope) AND OK(homepage-dwn)\"\n  - name: d\n    \
         rule: \"ALARM(a) AND\"\n",
    );
    project.canary(
        "homepage",
        "blueprint: api\nalarms:\n  - {name: homepage-down, metric: SuccessPercent, period: 1m, \
         evaluation_periods: 1, comparison: '<', threshold: 90}\napi:\n  steps:\n    - name: get\n      \
         request: {url: \"http://127.0.0.1:1/\"}\n",
    );
    let out = project.aviary(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "aviary.yaml:3:18: composite_alarms[0].rule: composite alarms form a cycle: a -> b -> a"
        ),
        "{err}"
    );
    assert!(
        err.contains("aviary.yaml:9:24: composite_alarms[3].rule: invalid rule: unexpected end of rule"),
        "{err}"
    );

    // Without the cycle and the syntax error: unknown names, with their column.
    project.file(
        "aviary.yaml",
        "composite_alarms:\n  - name: a\n    rule: \"ALARM(b) OR ALARM(homepage-down)\"\n  - name: b\n    \
         rule: ALARM(homepage-down)\n  - name: c\n    rule: \"ALARM(nope) AND OK(homepage-dwn)\"\n\
         alarms:\n  - {name: slow, canary: homepag, metric: Duration, period: 1m, evaluation_periods: 1, \
         comparison: '>', threshold: 900}\n",
    );
    let out = project.aviary(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("aviary.yaml:7:18: composite_alarms[2].rule: unknown alarm `nope` in the rule"),
        "{err}"
    );
    assert!(
        err.contains("aviary.yaml:7:31: composite_alarms[2].rule: unknown alarm `homepage-dwn` in the rule; did you mean `homepage-down`?"),
        "{err}"
    );
    assert!(
        err.contains(
            "aviary.yaml:9:26: alarms[0].canary: unknown canary `homepag`; did you mean `homepage`?"
        ),
        "{err}"
    );
    assert!(!err.contains("composite_alarms[0]"), "{err}");

    // A project-level alarm must say which canary it watches.
    project.file(
        "aviary.yaml",
        "alarms:\n  - {name: slow, metric: Duration, period: 1m, evaluation_periods: 1, comparison: '>', \
         threshold: 900}\n",
    );
    let err = stderr(&project.aviary(&["validate"]));
    assert!(
        err.contains("aviary.yaml:2:5: alarms[0]: alarm `slow` in the project file needs `canary:`"),
        "{err}"
    );
}

/// `aviary validate` lists every problem at once: those of the project file do not hide those of
/// the canaries or those across files.
#[test]
fn validate_reports_every_independent_problem_at_once() {
    let project = Project::new();
    project.file(
        "aviary.yaml",
        "channels:\n  pager: {type: webhook, url: 'http://127.0.0.1:1/'}\ncomposite_alarms:\n  - name: a\n    \
         rule: ALARM(b)\n  - name: b\n    rule: \"ALARM(a) OR ALARM(no-such-alarm)\"\n",
    );
    project.canary(
        "home",
        "blueprint: heartbeat\nschedule: every five minutes\ntimeout: 3 parsecs\nretires: 2\n\
         alarms:\n  - {name: down, metric: Failed, period: 1m, evaluation_periods: 1, comparison: '>', \
         threshold: 0, actions: {alarm: [pagr]}}\nheartbeat: {urls: ['http://127.0.0.1:1/']}\n",
    );
    let out = project.aviary(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in [
        "canaries/home.yaml:4:1: retires: unknown key `retires`",
        "canaries/home.yaml:3:10: timeout: invalid duration",
        "canaries/home.yaml:2:11: schedule: invalid schedule",
        "alarms[0].actions.alarm[0]: unknown channel `pagr`; defined channels: pager; did you mean `pager`?",
        "aviary.yaml:5:17: composite_alarms[0].rule: composite alarms form a cycle: a -> b -> a",
        "aviary.yaml:7:30: composite_alarms[1].rule: unknown alarm `no-such-alarm` in the rule",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("6 problem(s) found"), "{err}");
}

/// A notification whose delivery is still being retried when SIGTERM comes is delivered before
/// the daemon exits.
#[test]
fn sigterm_waits_for_notifications_still_being_retried() {
    let site = start_api_site();
    let project = Project::new();
    let port = free_port();
    // Nothing listens on the hook's port yet: the first deliveries are refused.
    let hook = free_port();
    project.file(
        "aviary.yaml",
        &format!(
            "server: {{listen: \"127.0.0.1:{port}\", token: \"{TOKEN}\"}}\n\
             channels:\n  ops: {{type: webhook, url: \"http://127.0.0.1:{hook}/hook\"}}\n"
        ),
    );
    project.canary("failing", &failing_canary(&site.base()));
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    daemon.wait_for("a refused delivery", Duration::from_secs(40), |e| {
        daemon_support::field(e, "outcome") == "failed" && daemon_support::field(e, "channel") == "ops"
    });
    daemon.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    let receiver = webhook::Webhook::on_port(hook);
    let status = daemon.wait_exit(Duration::from_secs(40)).expect("the daemon exits");
    assert!(status.success(), "{status}; log:\n{}", daemon.log_text());
    let bodies = receiver.bodies();
    assert!(
        bodies.iter().any(|b| b.contains("\"new_state\":\"ALARM\"")),
        "{bodies:?}\nlog:\n{}",
        daemon.log_text()
    );
}

#[test]
fn an_unknown_alarm_name_gets_a_did_you_mean_hint() {
    let project = Project::new();
    project.file(
        "aviary.yaml",
        &format!(
            "server: {{listen: \"127.0.0.1:{}\"}}\ncomposite_alarms:\n  - name: maintenance\n    rule: \"FALSE\"\n",
            free_port()
        ),
    );
    let out = project.aviary(&["alarm", "set-state", "maintenence", "--state", "OK", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no alarm named `maintenence`; did you mean `maintenance`?"),
        "{}",
        stderr(&out)
    );
    let out = project.aviary(&["alarm", "history", "maintenence"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no alarm named `maintenence`; did you mean `maintenance`?"),
        "{}",
        stderr(&out)
    );
    let out = project.aviary(&["alarm", "history", "nope"]);
    assert!(stderr(&out).contains("no alarm named `nope`\n"), "{}", stderr(&out));
}

/// A plain HTTP/1.1 request over a Unix socket, without a token; returns the status and the body.
fn unix_http(socket: &std::path::Path, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// The daemon's socket path, from its "daemon started" line (relative to the project folder).
fn socket_of(project: &Project, daemon: &Daemon) -> std::path::PathBuf {
    let started = daemon.events().into_iter().find(|e| message(e) == "daemon started").expect("started");
    let socket = started["fields"]["socket"].as_str().unwrap_or_default().to_string();
    assert!(!socket.is_empty(), "no socket; log:\n{}", daemon.log_text());
    project.path().join(socket)
}

#[test]
fn without_a_token_local_commands_write_over_the_daemons_socket() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let project = Project::new();
    let port = free_port();
    project.file(
        "aviary.yaml",
        &format!(
            "server: {{listen: \"127.0.0.1:{port}\"}}\n\
             composite_alarms:\n  - name: maintenance\n    rule: \"FALSE\"\n"
        ),
    );
    let mut daemon = Daemon::start(project.path(), "daemon.log", &[]);
    let socket = socket_of(&project, &daemon);
    assert_eq!(socket.file_name().unwrap(), "aviary.sock");
    let meta = std::fs::symlink_metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // A write over the socket needs no token; the same write over TCP is refused.
    let body = r#"{"state": "ALARM", "reason": "over the socket"}"#;
    let (status, answer) = unix_http(&socket, "POST", "/api/v1/alarms/maintenance/state", body);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"ALARM\""), "{answer}");
    let (status, answer) =
        http(&format!("127.0.0.1:{port}"), "POST", "/api/v1/alarms/maintenance/state", None);
    assert_eq!(status, 403, "{answer}");

    // `aviary alarm set-state` without `server.token` goes through the daemon.
    let out =
        project.aviary(&["alarm", "set-state", "maintenance", "--state", "OK", "--reason", "from the CLI"]);
    assert_eq!(out.status.code(), Some(0), "{}\nlog:\n{}", stderr(&out), daemon.log_text());
    assert!(stderr(&out).contains("(from the daemon at "), "{}", stderr(&out));
    assert!(stdout(&out).contains("maintenance: ALARM -> OK"), "{}", stdout(&out));
    let text = stdout(&project.aviary(&["alarms"]));
    assert!(text.lines().any(|l| l.starts_with("maintenance") && l.contains(" OK ")), "{text}");

    // A killed daemon leaves its socket behind; a new daemon replaces it.
    daemon.signal("KILL");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());
    assert!(socket.exists(), "SIGKILL leaves the socket");
    let mut daemon = Daemon::start(project.path(), "daemon2.log", &[]);
    assert_eq!(socket_of(&project, &daemon), socket, "log:\n{}", daemon.log_text());
    let (status, answer) = unix_http(&socket, "GET", "/healthz", "");
    assert_eq!(status, 200, "{answer}");
    let meta = std::fs::symlink_metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // A clean stop removes it.
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some_and(|s| s.success()), "{}", daemon.log_text());
    assert!(!socket.exists(), "the socket is removed at a clean stop");
}
