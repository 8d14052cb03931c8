//! The Route 53 provider against moto's server mode (a local Route 53 stand-in, from PyPI) started
//! on 127.0.0.1, and against a local server that throttles every request.
//!
//! One test function: the AWS credential chain reads the process environment, which is set once
//! here before anything else runs.
#![cfg(feature = "route53")]

#[path = "support/moto.rs"]
mod moto;
mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aviary::dns::route53::Config;
use aviary::dns::route53::Route53;
use aviary::dns::{DnsError, DnsProvider};
use aviary::spec::model::RecordSpec;
use aviary::store::SqliteStore;
use moto::{free_port, start_moto};

const ACCESS_KEY: &str = "AKIAAVIARYTESTKEY000";
const SECRET_KEY: &str = "aviary-test-secret-access-key-0123456789";

fn spec(endpoint: &str, zone: &str) -> Config {
    serde_json::from_value(serde_json::json!({
        "hosted_zone_id": zone, "endpoint_url": endpoint, "timeout": "20s",
    }))
    .unwrap()
}

fn record() -> RecordSpec {
    serde_json::from_value(serde_json::json!({"name": "www.example.test.", "type": "A", "ttl": 60})).unwrap()
}

/// Creates the hosted zone `example.test.` with `www` answering 192.0.2.10; returns its id.
async fn create_zone(endpoint: &str) -> String {
    let config = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_route53::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let client = aws_sdk_route53::Client::from_conf(config);
    let zone = client
        .create_hosted_zone()
        .name("example.test.")
        .caller_reference("aviary-test")
        .send()
        .await
        .unwrap();
    let id = zone.hosted_zone().unwrap().id().trim_start_matches("/hostedzone/").to_string();
    Route53::new(spec(endpoint, &id)).replace(&record(), &["192.0.2.10".into()]).await.unwrap();
    id
}

/// A Route 53 stand-in that answers every request with a `Throttling` error.
fn start_throttling_server() -> String {
    let addr = support::spawn_server(|listener| async move {
        let app = axum::Router::new().fallback(|| async {
            (
                axum::http::StatusCode::BAD_REQUEST,
                [("content-type", "text/xml")],
                "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
                 <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>\
                 <RequestId>aviary-test</RequestId></ErrorResponse>",
            )
        });
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// A Route 53 stand-in whose changes stay `PENDING` for the first `pending` `GetChange` calls
/// (`u32::MAX`: for ever); returns its endpoint and the number of `GetChange` calls.
fn start_slow_sync_server(pending: u32) -> (String, Arc<AtomicU32>) {
    let polls = Arc::new(AtomicU32::new(0));
    let counter = polls.clone();
    let info = |status: &str| {
        format!(
            "<ChangeInfo><Id>/change/C0AVIARY</Id><Status>{status}</Status>\
             <SubmittedAt>2026-11-30T00:00:00.000Z</SubmittedAt></ChangeInfo>"
        )
    };
    let xml = |root: &str, body: String| {
        (
            [("content-type", "text/xml")],
            format!(
                "<?xml version=\"1.0\"?>\n<{root} xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">{body}</{root}>"
            ),
        )
    };
    let addr = support::spawn_server(move |listener| async move {
        let app = axum::Router::new()
            .route(
                "/2013-04-01/hostedzone/{zone}/rrset/",
                axum::routing::post(move || async move {
                    xml("ChangeResourceRecordSetsResponse", info("PENDING"))
                }),
            )
            .route(
                "/2013-04-01/hostedzone/{zone}/rrset",
                axum::routing::post(move || async move {
                    xml("ChangeResourceRecordSetsResponse", info("PENDING"))
                }),
            )
            .route(
                "/2013-04-01/change/{id}",
                axum::routing::get(move || async move {
                    let done = counter.fetch_add(1, Ordering::SeqCst) >= pending;
                    xml("GetChangeResponse", info(if done { "INSYNC" } else { "PENDING" }))
                }),
            );
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), polls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_provider_controller_and_status_command() {
    // SAFETY: the only test of this binary; no other thread reads the environment yet.
    #[allow(unsafe_code, reason = "the AWS SDK reads its credentials from the environment")]
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::remove_var("AWS_PROFILE");
    }
    let Some(moto) = start_moto() else { return };
    let zone = create_zone(&moto.endpoint).await;
    let provider = Route53::new(spec(&moto.endpoint, &zone));

    // UPSERT replaces the whole set and waits for INSYNC; `current` reads it back normalized.
    assert_eq!(provider.current(&record()).await.unwrap(), vec!["192.0.2.10"]);
    provider.replace(&record(), &["198.51.100.21".into(), "198.51.100.20".into()]).await.unwrap();
    assert_eq!(provider.current(&record()).await.unwrap(), vec!["198.51.100.20", "198.51.100.21"]);
    provider.replace(&record(), &["192.0.2.10".into()]).await.unwrap();
    assert_eq!(provider.current(&record()).await.unwrap(), vec!["192.0.2.10"]);
    let missing: RecordSpec =
        serde_json::from_value(serde_json::json!({"name": "nothing.example.test.", "type": "A"})).unwrap();
    assert_eq!(provider.current(&missing).await.unwrap(), Vec::<String>::new());

    // A zone that does not exist: the service's code, one line, no key.
    let err = Route53::new(spec(&moto.endpoint, "ZNOSUCHZONE")).current(&record()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DnsError::Api { .. }), "{msg}");
    assert!(msg.contains("ZNOSUCHZONE") && msg.contains("NoSuchHostedZone"), "{msg}");
    assert!(!msg.contains('\n') && !msg.contains(SECRET_KEY), "{msg}");

    // Nothing listening: unreachable.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let err = Route53::new(spec(&closed, &zone)).current(&record()).await.unwrap_err();
    assert!(matches!(err, DnsError::Unreachable { .. }), "{err}");

    // Throttled on every attempt (the SDK retries first): reported as throttling.
    let throttling = start_throttling_server();
    let err =
        Route53::new(spec(&throttling, &zone)).replace(&record(), &["203.0.113.1".into()]).await.unwrap_err();
    assert!(matches!(err, DnsError::Throttled { .. }), "{err}");
    assert!(err.to_string().contains("Rate exceeded"), "{err}");

    // A change PENDING for two polls: the replace waits for INSYNC.
    let (slow, polls) = start_slow_sync_server(2);
    Route53::new(spec(&slow, "ZSLOW")).replace(&record(), &["203.0.113.1".into()]).await.unwrap();
    assert_eq!(polls.load(Ordering::SeqCst), 3);
    // One that never syncs: an error after the deadline, retried later by the controller.
    let (stuck, _) = start_slow_sync_server(u32::MAX);
    let err = Route53::new(spec(&stuck, "ZSTUCK"))
        .with_insync_deadline(Duration::from_secs(2))
        .replace(&record(), &["203.0.113.1".into()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("change C0AVIARY is still PENDING after 2 s"), "{err}");

    // The controller flips on ALARM, comes back on OK and puts a hand edit back.
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).unwrap());
    let project = support::project_file(serde_json::json!({
        "dns_providers": {"aws": {"type": "route53", "hosted_zone_id": zone, "endpoint_url": moto.endpoint}},
        "failover": [{"name": "www", "provider": "aws", "record": {"name": "www.example.test.", "type": "A", "ttl": 60},
            "primary": ["192.0.2.10"], "secondary": ["198.51.100.20"], "primary_health": "home",
            "insufficient_data": "healthy"}],
    }));
    let controller = aviary::dns::controller::Controller::new(store.clone());
    controller.set_project(&project);
    controller.check_once().await;
    assert_eq!(provider.current(&record()).await.unwrap(), vec!["192.0.2.10"]);

    support::record_alarm_state(&store, "home", "INSUFFICIENT_DATA", "ALARM");
    controller.check_once().await;
    assert_eq!(provider.current(&record()).await.unwrap(), vec!["198.51.100.20"]);
    let status = &controller.status()[0];
    assert_eq!(status.desired_answer, Some("secondary"));
    assert!(status.last_change.is_some() && status.last_error.is_none(), "{status:?}");

    support::record_alarm_state(&store, "home", "ALARM", "OK");
    controller.check_once().await;
    assert_eq!(provider.current(&record()).await.unwrap(), vec!["192.0.2.10"]);

    provider.replace(&record(), &["203.0.113.9".into()]).await.unwrap();
    controller.check_once().await;
    assert_eq!(provider.current(&record()).await.unwrap(), vec!["192.0.2.10"]);

    // `aviary failover status` reads the record through the same chain and never prints the key.
    let project_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(project_dir.path().join("canaries")).unwrap();
    let provider =
        format!("{{type: route53, hosted_zone_id: \"{zone}\", endpoint_url: \"{}\"}}", moto.endpoint);
    let yaml = support::failover_project("aws", &provider);
    std::fs::write(project_dir.path().join("aviary.yaml"), yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(["-v", "failover", "status", "--json"])
        .current_dir(project_dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(SECRET_KEY) && !stderr.contains(SECRET_KEY), "{stdout}\n{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status[0]["desired_answer"], "secondary", "{stdout}");
    assert_eq!(status[0]["actual"], serde_json::json!(["192.0.2.10"]), "{stdout}");
    assert_eq!(status[0]["last_error"], serde_json::Value::Null, "{stdout}");
}
