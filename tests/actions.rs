//! Notification channels against real local receivers on 127.0.0.1: an axum webhook receiver, a
//! shell script for `exec`, and a minimal SMTP sink for `email`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aviary::actions::{ChannelConfig, Dispatcher, Notification};
use aviary::spec::Section;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::prelude::{BASE64_STANDARD, Engine};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

mod support;

fn notification() -> Notification {
    Notification {
        alarm: "homepage-availability".into(),
        old_state: "OK".into(),
        new_state: "ALARM".into(),
        reason: "Threshold Crossed: 2 out of the last 3 datapoints were less than the threshold (90.0)"
            .into(),
        time: "2025-01-02T03:04:05Z".parse().unwrap(),
        canary: Some("homepage".into()),
        description: Some("The home page answers".into()),
        dashboard_url: Some("http://127.0.0.1:9090/alarms/homepage-availability".into()),
    }
}

/// The `channels:` of a project file, checked as `aviary validate` does.
fn channels(specs: Value) -> BTreeMap<String, Section> {
    support::project_file(json!({ "channels": specs })).channels
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// What the webhook receiver saw: one entry per request.
#[derive(Clone, Default)]
struct Received {
    requests: Arc<Mutex<Vec<(Instant, HeaderMap, Value)>>>,
    /// Status codes to answer with, in order; 200 once they run out.
    script: Arc<Mutex<Vec<u16>>>,
}

impl Received {
    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
    fn all(&self) -> Vec<(Instant, HeaderMap, Value)> {
        self.requests.lock().unwrap().clone()
    }
}

async fn hook(State(rx): State<Received>, headers: HeaderMap, body: String) -> StatusCode {
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    rx.requests.lock().unwrap().push((Instant::now(), headers, value));
    let mut script = rx.script.lock().unwrap();
    let code = if script.is_empty() { 200 } else { script.remove(0) };
    StatusCode::from_u16(code).unwrap()
}

/// An axum receiver on 127.0.0.1 answering `statuses` first, then 200.
async fn receiver(statuses: &[u16]) -> (SocketAddr, Received) {
    let rx = Received { script: Arc::new(Mutex::new(statuses.to_vec())), ..Received::default() };
    let app = Router::new().route("/hook", post(hook)).with_state(rx.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rx)
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn webhook_receives_documented_payload_and_headers() {
    let (addr, rx) = receiver(&[]).await;
    let specs = channels(json!({
        "ops": {"type": "webhook", "url": format!("http://{addr}/hook"), "headers": {"Authorization": "Bearer t0ken", "X-Team": "web"}}
    }));
    let dispatcher = Dispatcher::new(&specs, Path::new("."));
    dispatcher.dispatch(&names(&["ops"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    assert_eq!(dispatcher.in_flight(), 0);
    let got = rx.all();
    assert_eq!(got.len(), 1);
    let (_, headers, body) = &got[0];
    assert_eq!(headers["authorization"], "Bearer t0ken");
    assert_eq!(headers["x-team"], "web");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body,
        &json!({
            "version": 1,
            "alarm": "homepage-availability",
            "old_state": "OK",
            "new_state": "ALARM",
            "reason": "Threshold Crossed: 2 out of the last 3 datapoints were less than the threshold (90.0)",
            "time": "2025-01-02T03:04:05.000Z",
            "canary": "homepage",
            "description": "The home page answers",
            "dashboard_url": "http://127.0.0.1:9090/alarms/homepage-availability",
        })
    );
}

#[tokio::test]
async fn webhook_failing_twice_is_delivered_on_third_attempt_with_backoff() {
    let (addr, rx) = receiver(&[500, 503]).await;
    let specs = channels(json!({"ops": {"type": "webhook", "url": format!("http://{addr}/hook")}}));
    let dispatcher = Dispatcher::new(&specs, Path::new(".")).with_backoff(Duration::from_millis(100), 5);
    dispatcher.dispatch(&names(&["ops"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    let got = rx.all();
    assert_eq!(got.len(), 3, "two failures, then delivered, then no more attempts");
    let first_gap = got[1].0 - got[0].0;
    let second_gap = got[2].0 - got[1].0;
    assert!(first_gap >= Duration::from_millis(100), "first retry after {first_gap:?}");
    assert!(second_gap >= Duration::from_millis(200), "backoff doubles: second retry after {second_gap:?}");
    assert_eq!(got[2].2["alarm"], "homepage-availability");
}

#[tokio::test]
async fn webhook_gives_up_after_max_attempts() {
    let (addr, rx) = receiver(&[500; 10]).await;
    let specs = channels(json!({"ops": {"type": "webhook", "url": format!("http://{addr}/hook")}}));
    let dispatcher = Dispatcher::new(&specs, Path::new(".")).with_backoff(Duration::from_millis(10), 3);
    dispatcher.dispatch(&names(&["ops"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    assert_eq!(dispatcher.in_flight(), 0);
    assert_eq!(rx.count(), 3);
}

#[tokio::test]
async fn silent_channel_delays_neither_caller_nor_other_channels() {
    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let (addr, rx) = receiver(&[]).await;
    let specs = channels(json!({
        "stuck": {"type": "webhook", "url": format!("http://{silent_addr}/hook"), "timeout": "1500ms"},
        "ops": {"type": "webhook", "url": format!("http://{addr}/hook")},
    }));
    let dispatcher = Dispatcher::new(&specs, Path::new(".")).with_backoff(Duration::from_millis(10), 2);
    let started = Instant::now();
    dispatcher.dispatch(&names(&["stuck", "ops"]), notification());
    assert!(started.elapsed() < Duration::from_millis(50), "dispatch returned after {:?}", started.elapsed());
    wait_for("delivery to ops", Duration::from_secs(5), || rx.count() == 1).await;
    assert!(started.elapsed() < Duration::from_secs(1), "ops waited for stuck: {:?}", started.elapsed());
    assert_eq!(dispatcher.in_flight(), 1, "stuck is still trying");
    dispatcher.flush(Duration::from_secs(5)).await;
    assert_eq!(dispatcher.in_flight(), 0, "stuck gave up after 2 timed-out attempts");
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[tokio::test]
async fn flush_returns_at_its_deadline() {
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let specs = channels(
        json!({"stuck": {"type": "webhook", "url": format!("http://{silent_addr}/hook"), "timeout": "30s"}}),
    );
    let dispatcher = Dispatcher::new(&specs, Path::new("."));
    dispatcher.dispatch(&names(&["stuck"]), notification());
    let started = Instant::now();
    dispatcher.flush(Duration::from_millis(200)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(dispatcher.in_flight(), 1);
}

#[tokio::test]
async fn slack_message_shape() {
    let (addr, rx) = receiver(&[]).await;
    let specs = channels(json!({"team": {"type": "slack", "webhook_url": format!("http://{addr}/hook")}}));
    let dispatcher = Dispatcher::new(&specs, Path::new("."));
    let mut n = notification();
    n.reason = "a < b & c".into();
    dispatcher.dispatch(&names(&["team"]), n);
    dispatcher.flush(Duration::from_secs(10)).await;
    let got = rx.all();
    assert_eq!(got.len(), 1);
    let (_, headers, body) = &got[0];
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["text"], ":red_circle: homepage-availability is ALARM (was OK)");
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["color"], "#E01E5A");
    assert_eq!(attachment["fallback"], body["text"]);
    let section = &attachment["blocks"][0];
    assert_eq!(section["type"], "section");
    assert_eq!(section["text"]["type"], "mrkdwn");
    let text = section["text"]["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            ":red_circle: *<http://127.0.0.1:9090/alarms/homepage-availability|homepage-availability>*: OK → *ALARM*"
        ),
        "{text}"
    );
    assert!(text.contains("a &lt; b &amp; c"), "reason escaped: {text}");
    let context = &attachment["blocks"][1];
    assert_eq!(context["type"], "context");
    assert_eq!(context["elements"][0]["text"], "canary `homepage` · 2025-01-02T03:04:05.000Z");

    let mut ok = notification();
    ok.old_state = "ALARM".into();
    ok.new_state = "OK".into();
    let message = aviary::actions::slack::message(&ok);
    assert_eq!(message["attachments"][0]["color"], "#2EB67D");
    assert!(message["text"].as_str().unwrap().starts_with(":large_green_circle:"));
}

fn script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "#!/bin/sh\n{body}").unwrap();
    drop(file);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn exec_gets_payload_on_stdin_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "notify.sh",
        "cat > stdin.json\nenv | grep '^AVIARY_' | sort > env.txt\necho \"$1\" > arg.txt",
    );
    let specs = channels(json!({"pager": {"type": "exec", "command": ["./notify.sh", "first arg"]}}));
    let dispatcher = Dispatcher::new(&specs, dir.path());
    dispatcher.dispatch(&names(&["pager"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    let stdin: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("stdin.json")).unwrap()).unwrap();
    assert_eq!(stdin, notification().payload());
    assert_eq!(stdin["version"], 1);
    let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
    for line in [
        "AVIARY_ALARM=homepage-availability",
        "AVIARY_OLD_STATE=OK",
        "AVIARY_NEW_STATE=ALARM",
        "AVIARY_REASON=Threshold Crossed: 2 out of the last 3 datapoints were less than the threshold (90.0)",
        "AVIARY_TIME=2025-01-02T03:04:05.000Z",
        "AVIARY_CANARY=homepage",
        "AVIARY_DESCRIPTION=The home page answers",
        "AVIARY_DASHBOARD_URL=http://127.0.0.1:9090/alarms/homepage-availability",
    ] {
        assert!(env.lines().any(|l| l == line), "missing `{line}` in:\n{env}");
    }
    assert_eq!(std::fs::read_to_string(dir.path().join("arg.txt")).unwrap(), "first arg\n");
}

#[tokio::test]
async fn exec_failing_script_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "flaky.sh",
        "echo x >> attempts.txt\nif [ $(wc -l < attempts.txt) -lt 3 ]; then echo 'pager service down' >&2; exit 3; fi\ncat > delivered.json",
    );
    let specs = channels(json!({"pager": {"type": "exec", "command": ["./flaky.sh"]}}));
    let dispatcher = Dispatcher::new(&specs, dir.path()).with_backoff(Duration::from_millis(20), 5);
    dispatcher.dispatch(&names(&["pager"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    assert_eq!(std::fs::read_to_string(dir.path().join("attempts.txt")).unwrap().lines().count(), 3);
    let delivered: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("delivered.json")).unwrap()).unwrap();
    assert_eq!(delivered["new_state"], "ALARM");
}

#[tokio::test]
async fn exec_failure_carries_stderr_and_slow_program_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "fail.sh", "echo 'no route to pager' >&2\nexit 7");
    script(dir.path(), "slow.sh", "sleep 30 &\necho $! > child.pid\nwait");
    let fail: aviary::actions::exec::Config =
        serde_json::from_value(json!({"command": ["./fail.sh"]})).unwrap();
    let channel = fail.build(dir.path()).unwrap();
    let error = channel.deliver(&notification()).await.unwrap_err().to_string();
    assert!(error.contains("exit code 7") && error.contains("no route to pager"), "{error}");

    let specs = channels(json!({"slow": {"type": "exec", "command": ["./slow.sh"], "timeout": "200ms"}}));
    let dispatcher = Dispatcher::new(&specs, dir.path()).with_backoff(Duration::from_millis(10), 1);
    let started = Instant::now();
    dispatcher.dispatch(&names(&["slow"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    assert_eq!(dispatcher.in_flight(), 0);
    assert!(started.elapsed() < Duration::from_secs(5), "slow program not stopped: {:?}", started.elapsed());
    let child = std::fs::read_to_string(dir.path().join("child.pid")).unwrap();
    let gone = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.trim())).unwrap_or_default();
        let state = stat.rsplit(')').next().unwrap_or("").split_whitespace().next().unwrap_or("").to_string();
        stat.is_empty() || state == "Z"
    };
    // SIGKILL is delivered asynchronously: allow the kernel a moment.
    wait_for("the program's child to be killed", Duration::from_secs(2), gone).await;
}

#[tokio::test]
async fn exec_background_process_does_not_hold_delivery() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "spawner.sh", "sleep 2 &\necho started >&2\nexit 0");
    let specs = channels(json!({"pager": {"type": "exec", "command": ["./spawner.sh"], "timeout": "5s"}}));
    let dispatcher = Dispatcher::new(&specs, dir.path()).with_backoff(Duration::from_millis(10), 1);
    let started = Instant::now();
    dispatcher.dispatch(&names(&["pager"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited for the background process: {:?}",
        started.elapsed()
    );
}

/// What the SMTP sink saw in one session.
#[derive(Debug, Default, Clone)]
struct Session {
    commands: Vec<String>,
    data: String,
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// A minimal SMTP server: EHLO/HELO, STARTTLS (when given an acceptor), AUTH, MAIL, RCPT, DATA,
/// QUIT. Each session's commands ("STARTTLS" and after are prefixed `tls:` once upgraded).
async fn smtp_sink_with(tls: Option<tokio_rustls::TlsAcceptor>) -> (SocketAddr, Arc<Mutex<Vec<Session>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let seen = sessions.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let seen = seen.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let mut session = Session::default();
                let mut io: BufReader<Box<dyn Io>> = BufReader::new(Box::new(socket));
                let mut secure = false;
                io.get_mut().write_all(b"220 sink ESMTP ready\r\n").await.unwrap();
                loop {
                    let mut line = String::new();
                    if io.read_line(&mut line).await.unwrap_or(0) == 0 {
                        break;
                    }
                    let line = line.trim_end().to_string();
                    session.commands.push(if secure { format!("tls:{line}") } else { line.clone() });
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" if tls.is_some() && !secure => {
                            b"250-sink greets you\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
                        }
                        "EHLO" => b"250-sink greets you\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n",
                        "STARTTLS" => {
                            io.get_mut().write_all(b"220 Ready to start TLS\r\n").await.unwrap();
                            let inner = io.into_inner();
                            let Ok(stream) = tls.as_ref().unwrap().accept(inner).await else {
                                break;
                            };
                            io = BufReader::new(Box::new(stream));
                            secure = true;
                            continue;
                        }
                        "HELO" => b"250 sink\r\n",
                        "AUTH" => b"235 2.7.0 Authentication successful\r\n",
                        "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" => {
                            io.get_mut().write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await.unwrap();
                            loop {
                                let mut data = String::new();
                                if io.read_line(&mut data).await.unwrap_or(0) == 0 || data.trim_end() == "." {
                                    break;
                                }
                                session.data.push_str(data.trim_end_matches(['\r', '\n']));
                                session.data.push('\n');
                            }
                            b"250 OK: queued\r\n"
                        }
                        "QUIT" => {
                            io.get_mut().write_all(b"221 Bye\r\n").await.unwrap();
                            let _ = io.get_mut().flush().await;
                            break;
                        }
                        _ => b"502 Command not implemented\r\n",
                    };
                    io.get_mut().write_all(reply).await.unwrap();
                    io.get_mut().flush().await.unwrap();
                }
                seen.lock().unwrap().push(session);
            });
        }
    });
    (addr, sessions)
}

async fn smtp_sink() -> (SocketAddr, Arc<Mutex<Vec<Session>>>) {
    smtp_sink_with(None).await
}

#[tokio::test]
async fn email_is_delivered_to_local_smtp_sink() {
    let (addr, sessions) = smtp_sink().await;
    let specs = channels(json!({"mail": {
        "type": "email", "smtp": addr.to_string(), "from": "Aviary <aviary@example.test>",
        "to": ["ops@example.test", "oncall@example.test"], "username": "robot", "password": "s3cret",
    }}));
    let dispatcher = Dispatcher::new(&specs, Path::new("."));
    let mut n = notification();
    n.description = Some(".leading dot line".into());
    dispatcher.dispatch(&names(&["mail"]), n);
    dispatcher.flush(Duration::from_secs(10)).await;
    wait_for("the SMTP session to end", Duration::from_secs(5), || !sessions.lock().unwrap().is_empty())
        .await;
    let session = sessions.lock().unwrap()[0].clone();
    let plain = BASE64_STANDARD.encode("\0robot\0s3cret");
    assert_eq!(
        session.commands,
        vec![
            "EHLO aviary".to_string(),
            format!("AUTH PLAIN {plain}"),
            "MAIL FROM:<aviary@example.test>".into(),
            "RCPT TO:<ops@example.test>".into(),
            "RCPT TO:<oncall@example.test>".into(),
            "DATA".into(),
            "QUIT".into(),
        ]
    );
    let data = &session.data;
    assert!(data.contains("Subject: [ALARM] homepage-availability\n"), "{data}");
    assert!(data.contains("From: Aviary <aviary@example.test>\n"), "{data}");
    assert!(data.contains("To: ops@example.test, oncall@example.test\n"), "{data}");
    assert!(data.contains("Content-Type: text/plain; charset=utf-8\n"), "{data}");
    assert!(data.contains("State:     OK -> ALARM\n"), "{data}");
    assert!(data.contains("Reason:    Threshold Crossed: 2 out of the last 3"), "{data}");
    assert!(data.contains("Canary:    homepage\n"), "{data}");
    assert!(data.contains("Dashboard: http://127.0.0.1:9090/alarms/homepage-availability\n"), "{data}");
    assert!(data.contains("\n..leading dot line\n"), "dot-stuffed: {data}");
}

/// A header value with RFC 2047 base64 words (`=?utf-8?b?...?=`) decoded; whitespace between two
/// encoded words dropped, as the RFC says.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            break;
        };
        let (before, word) = rest.split_at(start);
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let end = word[2..].find("?=").map(|e| e + 4).expect(word);
        let parts: Vec<&str> = word[2..end - 2].splitn(3, '?').collect();
        assert!(parts[0].eq_ignore_ascii_case("utf-8") && parts[1].eq_ignore_ascii_case("b"), "{word}");
        out.push_str(&String::from_utf8(BASE64_STANDARD.decode(parts[2]).unwrap()).unwrap());
        rest = &word[end..];
        after_word = true;
    }
    out
}

#[tokio::test]
async fn email_with_a_non_ascii_alarm_and_description() {
    let (addr, sessions) = smtp_sink().await;
    let specs = channels(json!({"mail": {
        "type": "email", "smtp": addr.to_string(), "from": "aviary@example.test", "to": ["ops@example.test"],
    }}));
    let dispatcher = Dispatcher::new(&specs, Path::new("."));
    let mut n = notification();
    n.alarm = "disponibilité-de-la-page-d’accueil-€-✓".into();
    n.description = Some("La page d’accueil répond en moins de 2 s — ou pas ✗".into());
    dispatcher.dispatch(&names(&["mail"]), n.clone());
    dispatcher.flush(Duration::from_secs(10)).await;
    wait_for("the SMTP session to end", Duration::from_secs(5), || !sessions.lock().unwrap().is_empty())
        .await;
    let data = sessions.lock().unwrap()[0].data.clone();
    // The subject: ASCII only (RFC 2047 encoded words for the rest), on folded lines, decoding
    // to the text.
    let start = data.find("Subject: ").unwrap() + "Subject: ".len();
    let mut folded = String::new();
    for (i, line) in data[start..].split('\n').enumerate() {
        if i > 0 && !line.starts_with([' ', '\t']) {
            break;
        }
        assert!(line.is_ascii(), "{data}");
        folded.push_str(line);
    }
    let subject = decode_encoded_words(&folded);
    assert_eq!(subject, format!("[ALARM] {}", n.alarm));
    // The body is UTF-8 as written.
    assert!(data.contains("Content-Type: text/plain; charset=utf-8\n"), "{data}");
    assert!(data.contains(&format!("Alarm:     {}\n", n.alarm)), "{data}");
    assert!(data.contains("\nLa page d’accueil répond en moins de 2 s — ou pas ✗\n"), "{data}");
}

#[tokio::test]
async fn email_to_a_closed_port_is_retried_then_given_up() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let specs = channels(
        json!({"mail": {"type": "email", "smtp": addr.to_string(), "from": "a@example.test", "to": ["b@example.test"]}}),
    );
    let dispatcher = Dispatcher::new(&specs, Path::new(".")).with_backoff(Duration::from_millis(10), 2);
    dispatcher.dispatch(&names(&["mail"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    assert_eq!(dispatcher.in_flight(), 0);
}

/// A `MakeWriter` keeping everything logged.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn unknown_channel_is_logged_not_panicking_and_secrets_are_not_logged() {
    let (addr, rx) = receiver(&[500]).await;
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let specs = channels(
        json!({"ops": {"type": "webhook", "url": format!("http://{addr}/hook?token=SECRET-TOKEN")}}),
    );
    let dispatcher = Dispatcher::new(&specs, Path::new(".")).with_backoff(Duration::from_millis(10), 3);
    dispatcher.dispatch(&names(&["nope", "ops"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    assert_eq!(rx.count(), 2, "the known channel is still served, once failing then delivered");
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("ERROR") && text.contains("unknown channel `nope`"), "{text}");
    assert!(text.contains("notification attempt 1/3 failed"), "{text}");
    assert!(text.contains("channel=ops") && text.contains("alarm=homepage-availability"), "{text}");
    assert!(text.contains("notification delivered"), "{text}");
    assert!(!text.contains("SECRET-TOKEN"), "a channel URL was logged:\n{text}");
}

#[test]
fn dispatch_outside_a_runtime_does_not_panic() {
    let specs = channels(json!({"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}}));
    let dispatcher = Dispatcher::new(&specs, Path::new("."));
    dispatcher.dispatch(&names(&["ops"]), notification());
    assert_eq!(dispatcher.in_flight(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn unusable_channel_is_logged_and_others_still_served() {
    let (addr, rx) = receiver(&[]).await;
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // As if validation had been skipped: the dispatcher checks again and leaves the channel out.
    let specs = support::project_sections(json!({"channels": {
        "broken": {"type": "webhook", "url": "ftp://files.example.test/SECRET-PATH"},
        "ops": {"type": "webhook", "url": format!("http://{addr}/hook")},
    }}))
    .channels;
    let dispatcher = Dispatcher::new(&specs, Path::new("."));
    dispatcher.dispatch(&names(&["broken", "ops"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    assert_eq!(rx.count(), 1);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("channel=broken") && text.contains("invalid settings at channels.broken.url"),
        "{text}"
    );
    assert!(!text.contains("SECRET-PATH"), "{text}");
}

#[test]
fn email_subject_and_states() {
    let mut n = notification();
    assert_eq!(aviary::actions::email::subject(&n), "[ALARM] homepage-availability");
    n.new_state = "INSUFFICIENT_DATA".into();
    assert_eq!(aviary::actions::email::subject(&n), "[INSUFFICIENT_DATA] homepage-availability");
    assert_eq!(aviary::actions::slack::style("INSUFFICIENT_DATA"), (":white_circle:", "#9E9E9E"));
    n.canary = None;
    assert_eq!(n.payload()["canary"], Value::Null);
}

#[tokio::test]
async fn email_upgrades_with_starttls_when_offered() {
    use aviary::actions::Channel;
    use tokio_rustls::rustls;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
    let (addr, sessions) = smtp_sink_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await;
    let config: aviary::actions::email::Config = serde_json::from_value(json!({
        "smtp": format!("localhost:{}", addr.port()), "from": "aviary@example.test",
        "to": ["ops@example.test"], "username": "robot", "password": "s3cret",
    }))
    .unwrap();
    let email = aviary::actions::email::Email::new(config.clone())
        .unwrap()
        .with_extra_roots(certified.cert.pem().as_bytes());
    email.deliver(&notification()).await.unwrap();
    wait_for("the SMTP session to end", Duration::from_secs(5), || !sessions.lock().unwrap().is_empty())
        .await;
    let session = sessions.lock().unwrap()[0].clone();
    assert_eq!(session.commands[..3], ["EHLO aviary", "STARTTLS", "tls:EHLO aviary"]);
    assert!(session.commands[3].starts_with("tls:AUTH PLAIN "), "{:?}", session.commands);
    assert!(session.commands.contains(&"tls:DATA".to_string()), "{:?}", session.commands);
    assert!(session.data.contains("Subject: [ALARM] homepage-availability\n"), "{}", session.data);

    // Without trusting the certificate, the handshake fails: no mail, no password sent.
    let untrusted = aviary::actions::email::Email::new(config).unwrap();
    let error = untrusted.deliver(&notification()).await.unwrap_err().to_string();
    assert!(error.contains("TLS handshake failed"), "{error}");
}

#[test]
fn validate_places_channel_and_provider_problems_with_hints() {
    let project = support::Project::new();
    project.file(
        "aviary.yaml",
        "server: {listen: 'localhost'}\n\
         channels:\n  ops:\n    type: webhok\n    url: http://127.0.0.1:9/hook\n  \
         team:\n    type: slack\n    webhook_ur: http://127.0.0.1:9/hook\n  \
         pager: {type: exec}\n\
         dns_providers:\n  lab: {type: rfc2136, zone: example.test.}\n  \
         aws: {type: route53, hosted_zone_id: Z1, region: eu-west-1, endpoint_ur: x}\n",
    );
    let out = project.aviary(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    let stderr = support::stderr(&out);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("aviary.yaml:")).collect();
    let route53 = if cfg!(feature = "route53") {
        "aviary.yaml:12:63: dns_providers.aws.endpoint_ur: unknown key `endpoint_ur`; expected one of: \
         hosted_zone_id, endpoint_url, region, timeout; did you mean `endpoint_url`?"
    } else {
        "aviary.yaml:12:14: dns_providers.aws.type: this aviary was built without the `route53` feature (use rfc2136)"
    };
    assert_eq!(
        lines,
        [
            "aviary.yaml:1:18: server.listen: `localhost` is not a socket address like 127.0.0.1:9090",
            "aviary.yaml:4:11: channels.ops.type: unknown value `webhok`; expected one of: webhook, slack, exec, email, \
             pagerduty, opsgenie, teams, discord, ntfy, telegram; did you mean `webhook`?",
            "aviary.yaml:7:5: channels.team: missing key `webhook_url`",
            "aviary.yaml:8:5: channels.team.webhook_ur: unknown key `webhook_ur`; expected one of: webhook_url, \
             headers, template, timeout; did you mean `webhook_url`?",
            "aviary.yaml:9:10: channels.pager: missing key `command`",
            "aviary.yaml:11:8: dns_providers.lab: missing key `server`",
            route53,
        ],
        "{stderr}"
    );
}

#[tokio::test]
async fn email_and_exec_take_a_template() {
    let template = "{{ alarm }} went {{ old_state }} -> {{ new_state }}\n{{ reason }}\n";
    let (addr, sessions) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "notify.sh", "cat > stdin.json\nprintf '%s' \"$AVIARY_MESSAGE\" > message.txt");
    let specs = channels(json!({
        "mail": {"type": "email", "smtp": addr.to_string(), "from": "aviary@example.test", "to": ["ops@example.test"],
                 "template": template},
        "pager": {"type": "exec", "command": ["./notify.sh"], "template": template},
    }));
    let dispatcher = Dispatcher::new(&specs, dir.path());
    dispatcher.dispatch(&names(&["mail", "pager"]), notification());
    dispatcher.flush(Duration::from_secs(10)).await;
    wait_for("the SMTP session to end", Duration::from_secs(5), || !sessions.lock().unwrap().is_empty())
        .await;
    let rendered = "homepage-availability went OK -> ALARM\nThreshold Crossed: 2 out of the last 3 datapoints were \
                    less than the threshold (90.0)";
    let data = sessions.lock().unwrap()[0].data.clone();
    assert!(data.contains("Subject: [ALARM] homepage-availability\n"), "{data}");
    let body = data.split_once("\n\n").unwrap().1;
    assert_eq!(body, format!("{rendered}\n"), "the body is the rendered template alone");
    assert_eq!(std::fs::read_to_string(dir.path().join("message.txt")).unwrap(), rendered);
    let stdin: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("stdin.json")).unwrap()).unwrap();
    assert_eq!(stdin["message"], rendered);
    assert_eq!(stdin["alarm"], "homepage-availability");
}
