//! Amazon Route 53: `ChangeResourceRecordSets` UPSERT through the AWS SDK, then `GetChange` until
//! the change is `INSYNC`. Credentials come from the standard AWS chain (environment, shared
//! config and credentials files, web identity, ECS, EC2 instance metadata).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_route53::Client;
use aws_sdk_route53::config::{BehaviorVersion, Region};
use aws_sdk_route53::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::{DnsError, DnsProvider, ProviderConfig, normalize};
use crate::spec::model::{HumanDuration, RecordSpec};
use crate::spec::section::SectionSettings;
use crate::spec::validate::http_url_problem;
use crate::spec::{KeyPath, Problem};

/// Default deadline for one API call (the SDK's retries included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a change may stay `PENDING` before the replace counts as failed (and is retried).
pub const INSYNC_DEADLINE: Duration = Duration::from_secs(120);
/// Route 53 is a global service signed for this region unless `region` says otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";
const INSYNC_POLL: Duration = Duration::from_secs(1);

/// The settings of a `type: route53` provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The hosted zone's id (`Z0123456789ABC`).
    pub hosted_zone_id: String,
    /// Another API endpoint (a test server, a proxy); default: AWS.
    pub endpoint_url: Option<String>,
    /// The region requests are signed for (default `us-east-1`).
    pub region: Option<String>,
    /// Limit of one API call, retries included (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        let root = KeyPath::root();
        let mut problems = Vec::new();
        if self.hosted_zone_id.trim().is_empty() {
            problems.push(Problem::new(root.key("hosted_zone_id"), "`hosted_zone_id` is empty"));
        }
        if let Some(message) = self.endpoint_url.as_deref().and_then(http_url_problem) {
            problems.push(Problem::new(root.key("endpoint_url"), message));
        }
        problems
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ProviderConfig for Config {
    fn build(self) -> Result<Arc<dyn DnsProvider>, DnsError> {
        Ok(Arc::new(Route53::new(self)))
    }
}

/// One hosted zone, reached through the AWS SDK.
pub struct Route53 {
    hosted_zone_id: String,
    endpoint_url: Option<String>,
    region: String,
    timeout: Duration,
    insync_deadline: Duration,
    /// Made on first use: loading the AWS configuration is async and reads files.
    client: OnceCell<Client>,
}

impl std::fmt::Debug for Route53 {
    // By hand: the client's configuration holds the credentials provider.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route53")
            .field("hosted_zone_id", &self.hosted_zone_id)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

impl Route53 {
    /// From checked settings.
    pub fn new(config: Config) -> Route53 {
        Route53 {
            hosted_zone_id: config.hosted_zone_id,
            endpoint_url: config.endpoint_url,
            region: config.region.unwrap_or_else(|| DEFAULT_REGION.to_string()),
            timeout: config.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.0),
            insync_deadline: INSYNC_DEADLINE,
            client: OnceCell::new(),
        }
    }

    /// Shortens the wait for `INSYNC` (tests).
    pub fn with_insync_deadline(mut self, deadline: Duration) -> Route53 {
        self.insync_deadline = deadline;
        self
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let http = aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https();
                let shared = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(self.region.clone()))
                    .http_client(http)
                    .load()
                    .await;
                let mut config = aws_sdk_route53::config::Builder::from(&shared);
                if let Some(url) = &self.endpoint_url {
                    config = config.endpoint_url(url);
                }
                Client::from_conf(config.build())
            })
            .await
    }

    fn zone(&self) -> String {
        format!("Route 53 zone {}", self.hosted_zone_id)
    }

    /// Runs one API call under the deadline.
    async fn call<T, E>(
        &self,
        operation: &'static str,
        request: impl std::future::Future<Output = Result<T, SdkError<E>>>,
    ) -> Result<T, DnsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(api_error(&self.zone(), operation, &e)),
            Err(_) => Err(DnsError::Timeout { server: self.zone(), secs: self.timeout.as_secs().max(1) }),
        }
    }

    /// Polls `GetChange` until the change is `INSYNC` or the deadline passes.
    async fn wait_insync(&self, client: &Client, change_id: &str) -> Result<(), DnsError> {
        let deadline = Instant::now() + self.insync_deadline;
        loop {
            let out = self.call("GetChange", client.get_change().id(change_id).send()).await?;
            if out.change_info().is_some_and(|c| *c.status() == ChangeStatus::Insync) {
                return Ok(());
            }
            if Instant::now() + INSYNC_POLL > deadline {
                return Err(DnsError::Api {
                    service: self.zone(),
                    reason: format!(
                        "change {change_id} is still PENDING after {} s",
                        self.insync_deadline.as_secs()
                    ),
                });
            }
            tokio::time::sleep(INSYNC_POLL).await;
        }
    }
}

fn record_type(record: &RecordSpec) -> Result<RrType, DnsError> {
    match record.kind.to_ascii_uppercase().as_str() {
        "A" => Ok(RrType::A),
        "AAAA" => Ok(RrType::Aaaa),
        "CNAME" => Ok(RrType::Cname),
        other => Err(DnsError::Invalid(format!("record type `{other}`: expected A, AAAA or CNAME"))),
    }
}

/// Route 53 answers names fully qualified, lower case, with `*` as `\052`.
fn same_name(answered: &str, wanted: &str) -> bool {
    let clean = |s: &str| s.trim_end_matches('.').replace("\\052", "*").to_ascii_lowercase();
    clean(answered) == clean(wanted)
}

/// One line: the service's error code and message, or what kept the request from being answered.
fn api_error<E>(service: &str, operation: &str, e: &SdkError<E>) -> DnsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let one_line = |s: String| s.replace(['\n', '\r'], " ");
    match e {
        SdkError::ServiceError(_) => {
            let code = e.code().unwrap_or("error");
            let message = e.message().unwrap_or("");
            let reason = one_line(format!("{operation}: {code}: {message}"));
            if code.contains("Throttl") || code == "PriorRequestNotComplete" {
                DnsError::Throttled { service: service.to_string(), reason }
            } else {
                DnsError::Api { service: service.to_string(), reason }
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => DnsError::Unreachable {
            server: service.to_string(),
            reason: one_line(format!("{operation}: {}", DisplayErrorContext(e))),
        },
        _ => DnsError::Api {
            service: service.to_string(),
            reason: one_line(format!("{operation}: {}", DisplayErrorContext(e))),
        },
    }
}

fn build_error(e: impl std::fmt::Display) -> DnsError {
    DnsError::Invalid(format!("cannot build the Route 53 change: {e}"))
}

impl DnsProvider for Route53 {
    fn replace<'a>(
        &'a self,
        record: &'a RecordSpec,
        values: &'a [String],
    ) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async move {
            let kind = record_type(record)?;
            let records = values
                .iter()
                .map(|v| ResourceRecord::builder().value(v).build().map_err(build_error))
                .collect::<Result<Vec<_>, _>>()?;
            let set = ResourceRecordSet::builder()
                .name(&record.name)
                .r#type(kind)
                .ttl(i64::from(record.ttl))
                .set_resource_records(Some(records))
                .build()
                .map_err(build_error)?;
            let change = Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(set)
                .build()
                .map_err(build_error)?;
            let batch = ChangeBatch::builder()
                .comment("aviary failover")
                .changes(change)
                .build()
                .map_err(build_error)?;
            let client = self.client().await;
            let out = self
                .call(
                    "ChangeResourceRecordSets",
                    client
                        .change_resource_record_sets()
                        .hosted_zone_id(&self.hosted_zone_id)
                        .change_batch(batch)
                        .send(),
                )
                .await?;
            match out.change_info() {
                Some(info) if *info.status() == ChangeStatus::Insync => Ok(()),
                Some(info) => self.wait_insync(client, info.id().trim_start_matches("/change/")).await,
                None => Ok(()),
            }
        })
    }

    fn current<'a>(&'a self, record: &'a RecordSpec) -> BoxFuture<'a, Result<Vec<String>, DnsError>> {
        Box::pin(async move {
            let kind = record_type(record)?;
            let client = self.client().await;
            let out = self
                .call(
                    "ListResourceRecordSets",
                    client
                        .list_resource_record_sets()
                        .hosted_zone_id(&self.hosted_zone_id)
                        .start_record_name(&record.name)
                        .start_record_type(kind.clone())
                        .max_items(10)
                        .send(),
                )
                .await?;
            let values: Vec<String> = out
                .resource_record_sets()
                .iter()
                .filter(|set| *set.r#type() == kind && same_name(set.name(), &record.name))
                .filter(|set| set.set_identifier().is_none())
                .flat_map(|set| set.resource_records().iter().map(|r| r.value().to_string()))
                .collect();
            Ok(normalize(&record.kind, &values))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_as_route53_answers_them() {
        assert!(same_name("www.example.com.", "www.example.com"));
        assert!(same_name("www.example.com.", "WWW.Example.com."));
        assert!(same_name("\\052.example.com.", "*.example.com."));
        assert!(!same_name("www2.example.com.", "www.example.com."));
    }

    #[test]
    fn only_failover_record_types() {
        let record = |kind: &str| RecordSpec { name: "www.example.com.".into(), kind: kind.into(), ttl: 60 };
        assert_eq!(record_type(&record("a")).unwrap(), RrType::A);
        assert_eq!(record_type(&record("AAAA")).unwrap(), RrType::Aaaa);
        assert!(record_type(&record("MX")).unwrap_err().to_string().contains("expected A, AAAA or CNAME"));
    }
}
