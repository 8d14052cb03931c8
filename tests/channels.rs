//! The paging and chat channels (pagerduty, opsgenie, teams, discord, ntfy, telegram) and message
//! templates, against one real HTTP receiver on 127.0.0.1 standing in for each service: it records
//! every request (method, path, query, headers, JSON body) and answers as the service does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary::actions::{Dispatcher, Notification};
use aviary::spec::Section;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use tokio::net::TcpListener;

mod support;

fn notification(old: &str, new: &str) -> Notification {
    Notification {
        alarm: "homepage-availability".into(),
        old_state: old.into(),
        new_state: new.into(),
        reason: "Threshold Crossed: 2 out of the last 3 datapoints were less than the threshold (90.0)"
            .into(),
        time: "2025-01-02T03:04:05Z".parse().unwrap(),
        canary: Some("homepage".into()),
        description: Some("The home page answers".into()),
        dashboard_url: Some("http://127.0.0.1:9090/alarms/homepage-availability".into()),
    }
}

fn alarm() -> Notification {
    notification("OK", "ALARM")
}

fn channels(specs: Value) -> BTreeMap<String, Section> {
    support::project_file(json!({ "channels": specs })).channels
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// What a service answers when it took the request (202 for PagerDuty, 204 for Discord…).
    status: StatusCode,
    answer: &'static str,
}

impl Receiver {
    fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn record(
    State(rx): State<Receiver>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let seen =
        Seen { method, path: uri.path().to_string(), query: uri.query().map(str::to_string), headers, body };
    rx.seen.lock().unwrap().push(seen);
    (rx.status, rx.answer)
}

/// A receiver on 127.0.0.1 answering every request with `status` and `answer`.
async fn service(status: u16, answer: &'static str) -> (SocketAddr, Receiver) {
    let rx = Receiver { seen: Arc::default(), status: StatusCode::from_u16(status).unwrap(), answer };
    let app = Router::new().fallback(record).with_state(rx.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rx)
}

/// Sends each notification in turn, each delivered before the next (as transitions happen).
async fn deliver(specs: &BTreeMap<String, Section>, channel: &[&str], sequence: Vec<Notification>) {
    let dispatcher = Dispatcher::new(specs, Path::new(".")).with_backoff(Duration::from_millis(10), 2);
    for n in sequence {
        dispatcher.dispatch(&names(channel), n);
        dispatcher.flush(Duration::from_secs(10)).await;
    }
    assert_eq!(dispatcher.in_flight(), 0);
}

fn assert_json_post(seen: &Seen) {
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.headers["content-type"], "application/json");
}

#[tokio::test]
async fn pagerduty_triggers_and_resolves_one_incident_across_a_flapping_alarm() {
    let (addr, rx) = service(202, r#"{"status":"success","message":"Event processed"}"#).await;
    let specs = channels(json!({"pager": {
        "type": "pagerduty", "routing_key": "R0UT1NGKEY0123456789012345678901", "severity": "error",
        "url": format!("http://{addr}/v2/enqueue"),
    }}));
    let flapping = vec![
        notification("OK", "ALARM"),
        notification("ALARM", "OK"),
        notification("OK", "ALARM"),
        notification("ALARM", "OK"),
    ];
    deliver(&specs, &["pager"], flapping).await;
    let seen = rx.all();
    let actions: Vec<&str> = seen.iter().map(|s| s.body["event_action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["trigger", "resolve", "trigger", "resolve"]);
    for event in &seen {
        assert_json_post(event);
        assert_eq!(event.path, "/v2/enqueue");
        assert_eq!(event.body["routing_key"], "R0UT1NGKEY0123456789012345678901");
        assert_eq!(event.body["dedup_key"], "homepage-availability", "one incident per alarm");
    }
    assert_eq!(
        seen[0].body,
        json!({
            "routing_key": "R0UT1NGKEY0123456789012345678901",
            "event_action": "trigger",
            "dedup_key": "homepage-availability",
            "payload": {
                "summary": "homepage-availability is ALARM (was OK)",
                "source": "homepage",
                "severity": "error",
                "timestamp": "2025-01-02T03:04:05.000Z",
                "component": "homepage",
                "class": "synthetic-monitoring",
                "custom_details": {
                    "alarm": "homepage-availability",
                    "old_state": "OK",
                    "new_state": "ALARM",
                    "reason": "Threshold Crossed: 2 out of the last 3 datapoints were less than the threshold (90.0)",
                    "canary": "homepage",
                    "description": "The home page answers",
                },
            },
            "client": "Aviary",
            "client_url": "http://127.0.0.1:9090/alarms/homepage-availability",
            "links": [{"href": "http://127.0.0.1:9090/alarms/homepage-availability", "text": "Alarm history"}],
        })
    );
    assert_eq!(
        seen[1].body,
        json!({"routing_key": "R0UT1NGKEY0123456789012345678901", "event_action": "resolve", "dedup_key": "homepage-availability"})
    );
}

#[tokio::test]
async fn opsgenie_creates_then_closes_the_alert_by_alias() {
    let (addr, rx) =
        service(202, r#"{"result":"Request will be processed","took":0.1,"requestId":"x"}"#).await;
    let specs = channels(json!({"genie": {
        "type": "opsgenie", "api_key": "eb243592-faa2-4ba2-a551q-1afdf565c889", "api_url": format!("http://{addr}"),
        "priority": "P2", "tags": ["web"],
    }}));
    let mut open = alarm();
    let mut close = notification("ALARM", "OK");
    // An alias is one path segment, whatever it holds.
    open.alarm = "shop/checkout latency".into();
    close.alarm = open.alarm.clone();
    deliver(&specs, &["genie"], vec![open, close]).await;
    let seen = rx.all();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_json_post(request);
        assert_eq!(request.headers["authorization"], "GenieKey eb243592-faa2-4ba2-a551q-1afdf565c889");
    }
    assert_eq!(seen[0].path, "/v2/alerts");
    let create = &seen[0].body;
    assert_eq!(create["message"], "shop/checkout latency is ALARM (was OK)");
    assert_eq!(create["alias"], "shop/checkout latency");
    assert_eq!(create["priority"], "P2");
    assert_eq!(create["tags"], json!(["aviary", "web"]));
    assert_eq!(create["entity"], "homepage");
    assert_eq!(create["source"], "Aviary");
    assert_eq!(create["details"]["new_state"], "ALARM");
    assert_eq!(create["details"]["dashboard_url"], "http://127.0.0.1:9090/alarms/homepage-availability");
    let description = create["description"].as_str().unwrap();
    assert!(description.starts_with("The home page answers\nThreshold Crossed: 2 out of"), "{description}");
    assert_eq!(seen[1].path, "/v2/alerts/shop%2Fcheckout%20latency/close");
    assert_eq!(seen[1].query.as_deref(), Some("identifierType=alias"));
    assert_eq!(seen[1].body["source"], "Aviary");
    assert!(seen[1].body["note"].as_str().unwrap().contains("Threshold Crossed"));
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_in_a_message() {
    let (addr, rx) = service(202, "").await;
    let specs = channels(
        json!({"teams": {"type": "teams", "webhook_url": format!("http://{addr}/workflows/abc?sig=x")}}),
    );
    deliver(&specs, &["teams"], vec![alarm()]).await;
    let seen = rx.all();
    assert_eq!(seen.len(), 1);
    assert_json_post(&seen[0]);
    assert_eq!(seen[0].path, "/workflows/abc");
    assert_eq!(seen[0].query.as_deref(), Some("sig=x"));
    let body = &seen[0].body;
    assert_eq!(body["type"], "message");
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
    assert_eq!(
        card["body"][0],
        json!({"type": "TextBlock", "text": "homepage-availability is ALARM (was OK)", "size": "Medium",
               "weight": "Bolder", "color": "Attention", "wrap": true})
    );
    assert_eq!(card["body"][1]["type"], "TextBlock");
    assert_eq!(
        card["body"][1]["text"],
        "The home page answers\n\nThreshold Crossed: 2 out of the last 3 datapoints were less than the threshold (90.0)"
    );
    assert_eq!(
        card["body"][2],
        json!({"type": "FactSet", "facts": [
            {"title": "State", "value": "OK → ALARM"},
            {"title": "Canary", "value": "homepage"},
            {"title": "Time", "value": "2025-01-02T03:04:05.000Z"},
        ]})
    );
    assert_eq!(
        card["actions"],
        json!([{"type": "Action.OpenUrl", "title": "Alarm history", "url": "http://127.0.0.1:9090/alarms/homepage-availability"}])
    );
}

#[tokio::test]
async fn discord_gets_an_embed_coloured_by_state() {
    let (addr, rx) = service(204, "").await;
    let specs = channels(json!({"discord": {
        "type": "discord", "webhook_url": format!("http://{addr}/api/webhooks/123/t0ken"), "username": "Aviary",
    }}));
    deliver(&specs, &["discord"], vec![alarm(), notification("ALARM", "OK")]).await;
    let seen = rx.all();
    assert_eq!(seen.len(), 2, "204 No Content means delivered");
    assert_json_post(&seen[0]);
    assert_eq!(seen[0].path, "/api/webhooks/123/t0ken");
    let body = &seen[0].body;
    assert_eq!(body["username"], "Aviary");
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    let embed = &body["embeds"][0];
    assert_eq!(embed["title"], "homepage-availability is ALARM (was OK)");
    assert_eq!(embed["url"], "http://127.0.0.1:9090/alarms/homepage-availability");
    assert_eq!(embed["color"], 0x00E0_1E5A);
    assert_eq!(embed["timestamp"], "2025-01-02T03:04:05.000Z");
    assert!(embed["description"].as_str().unwrap().starts_with("The home page answers\n\nThreshold Crossed"));
    assert_eq!(
        embed["fields"],
        json!([{"name": "State", "value": "OK → ALARM", "inline": true}, {"name": "Canary", "value": "homepage", "inline": true}])
    );
    assert_eq!(seen[1].body["embeds"][0]["color"], 0x002E_B67D);
}

#[tokio::test]
async fn ntfy_publishes_json_to_the_server_root() {
    let (addr, rx) = service(200, r#"{"id":"x","event":"message"}"#).await;
    let specs = channels(json!({
        "push": {"type": "ntfy", "url": format!("http://{addr}"), "topic": "aviary-alerts", "token": "tk_s3cret", "tags": ["web"]},
        "quiet": {"type": "ntfy", "url": format!("http://{addr}/"), "topic": "low", "priority": "min"},
    }));
    deliver(&specs, &["push"], vec![alarm(), notification("ALARM", "OK")]).await;
    deliver(&specs, &["quiet"], vec![alarm()]).await;
    let seen = rx.all();
    assert_eq!(seen.len(), 3);
    assert_json_post(&seen[0]);
    assert_eq!(seen[0].path, "/");
    assert_eq!(seen[0].headers["authorization"], "Bearer tk_s3cret");
    let message = &seen[0].body;
    assert_eq!(message["topic"], "aviary-alerts");
    assert_eq!(message["title"], "homepage-availability is ALARM (was OK)");
    assert_eq!(message["priority"], 4);
    assert_eq!(message["tags"], json!(["rotating_light", "web"]));
    assert_eq!(message["click"], "http://127.0.0.1:9090/alarms/homepage-availability");
    assert_eq!(
        message["message"],
        "The home page answers\nThreshold Crossed: 2 out of the last 3 datapoints were less than the threshold (90.0)\n\
         Canary: homepage\nTime: 2025-01-02T03:04:05.000Z\nDashboard: http://127.0.0.1:9090/alarms/homepage-availability"
    );
    assert_eq!(seen[1].body["priority"], 3);
    assert_eq!(seen[1].body["tags"], json!(["white_check_mark", "web"]));
    assert_eq!(seen[2].path, "/");
    assert_eq!(seen[2].body["topic"], "low");
    assert_eq!(seen[2].body["priority"], 1);
    assert!(seen[2].headers.get("authorization").is_none());
}

#[tokio::test]
async fn telegram_sends_a_message_with_the_bot_api() {
    let (addr, rx) = service(200, r#"{"ok":true,"result":{"message_id":1}}"#).await;
    let specs = channels(json!({
        "group": {"type": "telegram", "api_url": format!("http://{addr}"), "bot_token": "123456:ABC-def_ghi", "chat_id": "-1001234567890"},
        "channel": {"type": "telegram", "api_url": format!("http://{addr}"), "bot_token": "123456:ABC-def_ghi", "chat_id": "@aviary_alerts"},
    }));
    deliver(&specs, &["group"], vec![alarm()]).await;
    deliver(&specs, &["channel"], vec![alarm()]).await;
    let seen = rx.all();
    assert_eq!(seen.len(), 2);
    assert_json_post(&seen[0]);
    assert_eq!(seen[0].path, "/bot123456:ABC-def_ghi/sendMessage");
    let message = &seen[0].body;
    assert_eq!(message["chat_id"], -1_001_234_567_890_i64, "a numeric chat id is sent as a number");
    assert!(message.get("parse_mode").is_none(), "the default message is plain text");
    assert_eq!(message["link_preview_options"], json!({"is_disabled": true}));
    let text = message["text"].as_str().unwrap();
    assert!(text.starts_with("homepage-availability is ALARM (was OK)\nThe home page answers\n"), "{text}");
    assert_eq!(seen[1].body["chat_id"], "@aviary_alerts");
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

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn failing_services_never_log_their_keys_or_tokens() {
    let (addr, rx) = service(400, r#"{"ok":false,"description":"Bad Request: chat not found"}"#).await;
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let specs = channels(json!({
        "telegram": {"type": "telegram", "api_url": format!("http://{addr}"), "bot_token": "99:SECRET-BOT-TOKEN", "chat_id": "1"},
        "pager": {"type": "pagerduty", "url": format!("http://{addr}/v2/enqueue"), "routing_key": "SECRET-ROUTING-KEY"},
        "genie": {"type": "opsgenie", "api_url": format!("http://{addr}"), "api_key": "SECRET-GENIE-KEY"},
        "push": {"type": "ntfy", "url": format!("http://{addr}"), "topic": "t", "token": "SECRET-NTFY-TOKEN"},
    }));
    deliver(&specs, &["telegram", "pager", "genie", "push"], vec![alarm()]).await;
    assert_eq!(rx.all().len(), 8, "two attempts each");
    let text = logs.text();
    assert!(text.contains("channel=telegram") && text.contains("answered HTTP 400"), "{text}");
    assert!(text.contains("gave_up") || text.contains("not delivered after 2 attempts"), "{text}");
    for secret in ["SECRET-BOT-TOKEN", "SECRET-ROUTING-KEY", "SECRET-GENIE-KEY", "SECRET-NTFY-TOKEN"] {
        assert!(!text.contains(secret), "{secret} was logged:\n{text}");
    }
}

const TEMPLATE: &str =
    "[{{ new_state }}] {{ alarm }}{% if canary %} on {{ canary }}{% endif %}: {{ reason | lower }}";
const RENDERED: &str = "[ALARM] homepage-availability on homepage: threshold crossed: 2 out of the last 3 \
                        datapoints were less than the threshold (90.0)";

#[tokio::test]
async fn a_template_shapes_the_message_of_every_http_channel() {
    let (addr, rx) = service(200, r#"{"ok":true}"#).await;
    let url = |path: &str| format!("http://{addr}{path}");
    let specs = channels(json!({
        "webhook": {"type": "webhook", "url": url("/webhook"), "template": TEMPLATE},
        "slack": {"type": "slack", "webhook_url": url("/slack"), "template": TEMPLATE},
        "teams": {"type": "teams", "webhook_url": url("/teams"), "template": TEMPLATE},
        "discord": {"type": "discord", "webhook_url": url("/discord"), "template": TEMPLATE},
        "pagerduty": {"type": "pagerduty", "url": url("/pagerduty"), "routing_key": "k", "template": TEMPLATE},
        "opsgenie": {"type": "opsgenie", "api_url": url("/opsgenie"), "api_key": "k", "template": TEMPLATE},
        "ntfy": {"type": "ntfy", "url": url("/ntfy"), "topic": "t", "template": TEMPLATE},
        "telegram": {"type": "telegram", "api_url": url("/telegram"), "bot_token": "1:t", "chat_id": "1",
                     "parse_mode": "HTML", "template": "<b>{{ alarm }}</b> is {{ new_state }}"},
    }));
    let all = ["webhook", "slack", "teams", "discord", "pagerduty", "opsgenie", "ntfy", "telegram"];
    deliver(&specs, &all, vec![alarm()]).await;
    let seen = rx.all();
    let by_path = |prefix: &str| seen.iter().find(|s| s.path.starts_with(prefix)).unwrap().body.clone();

    let webhook = by_path("/webhook");
    assert_eq!(webhook["message"], RENDERED);
    assert_eq!(webhook["alarm"], "homepage-availability", "the payload's fields stay");
    assert_eq!(by_path("/slack"), json!({"text": RENDERED}));
    let card = &by_path("/teams")["attachments"][0]["content"];
    assert_eq!(card["body"][1], json!({"type": "TextBlock", "text": RENDERED, "wrap": true}));
    assert_eq!(card["body"].as_array().unwrap().len(), 2, "no facts with a template");
    let embed = &by_path("/discord")["embeds"][0];
    assert_eq!(embed["description"], RENDERED);
    assert!(embed.get("fields").is_none());
    assert_eq!(by_path("/pagerduty")["payload"]["summary"], RENDERED);
    let opsgenie = by_path("/opsgenie");
    assert_eq!(opsgenie["description"], RENDERED);
    assert_eq!(opsgenie["message"], "homepage-availability is ALARM (was OK)");
    assert_eq!(by_path("/ntfy")["message"], RENDERED);
    let telegram = by_path("/telegram");
    assert_eq!(telegram["text"], "<b>homepage-availability</b> is ALARM");
    assert_eq!(telegram["parse_mode"], "HTML");
}

#[tokio::test(flavor = "current_thread")]
async fn a_template_failing_at_delivery_falls_back_to_the_default_message() {
    let (addr, rx) = service(200, "ok").await;
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Valid for every sample notification, but this one has no reason to take a word from.
    let specs = channels(json!({"team": {
        "type": "slack", "webhook_url": format!("http://{addr}/slack"), "template": "{{ alarm }}: {{ (reason | split)[1] }}",
    }}));
    let mut n = alarm();
    n.reason = String::new();
    deliver(&specs, &["team"], vec![n]).await;
    let seen = rx.all();
    assert_eq!(seen.len(), 1, "delivered once, with the default message");
    assert_eq!(seen[0].body["text"], ":red_circle: homepage-availability is ALARM (was OK)");
    let text = logs.text();
    assert!(text.contains("WARN") && text.contains("sending the default message instead"), "{text}");
    assert!(text.contains("channel=team"), "the log names the channel: {text}");
}

#[test]
fn validate_places_template_problems_at_the_template_value() {
    let project = support::Project::new();
    project.file(
        "aviary.yaml",
        "channels:\n  \
         team: {type: slack, webhook_url: 'http://127.0.0.1:9/hook', template: '{{ alarm }'}\n  \
         pager:\n    type: pagerduty\n    routing_key: k\n    template: '{{ alarm | shout }}'\n  \
         mail:\n    type: email\n    smtp: 127.0.0.1:25\n    from: a@example.test\n    to: [b@example.test]\n    \
         template: |\n      Alarm {{ alarm }}\n      {{ cnary }}\n",
    );
    let out = project.aviary(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    let stderr = support::stderr(&out);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("aviary.yaml:")).collect();
    assert_eq!(
        lines,
        [
            "aviary.yaml:2:73: channels.team.template: template syntax error on line 1: unexpected `}`, expected \
             end of variable block",
            "aviary.yaml:6:15: channels.pager.template: template error on line 1: unknown filter (filter shout is \
             unknown)",
            "aviary.yaml:13:7: channels.mail.template: template uses unknown variable `cnary`; the fields are: \
             alarm, old_state, new_state, reason, time, canary, description, dashboard_url; did you mean `canary`?",
        ],
        "{stderr}"
    );
}
