//! DNS failover: the providers that change records ([`rfc2136`], `route53`), one module each
//! owning its settings, their checks and the updates behind [`DnsProvider`], found by their
//! `type:` in the [`registry`]; the pure decision of which answer a failover record should give
//! ([`decide`]); and the daemon's reconciler ([`controller`]).

pub mod controller;
pub mod decide;
pub mod registry;
pub mod rfc2136;
#[cfg(feature = "route53")]
pub mod route53;

use std::str::FromStr;

use futures::future::BoxFuture;
use hickory_proto::rr::{RData, RecordType};

use crate::spec::de::Located;
use crate::spec::model::RecordSpec;

pub use registry::{ProviderConfig, build_provider, check_providers};

/// Why a provider call failed: one line each, never containing the TSIG secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS server {server} unreachable: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("DNS server {server} rejected the TSIG key `{key}`: {code}")]
    TsigRejected { server: String, key: String, code: &'static str },
    #[error(
        "DNS server {server} answered NOTAUTH: it is not authoritative for the zone or does not accept the key"
    )]
    NotAuth { server: String },
    #[error("DNS server {server} answered REFUSED: the update or query is not allowed")]
    Refused { server: String },
    #[error("DNS server {server} answered SERVFAIL")]
    ServFail { server: String },
    #[error("DNS server {server} answered {code}")]
    Other { server: String, code: String },
    #[error("DNS server {server} did not answer within {secs} s")]
    Timeout { server: String, secs: u64 },
    #[error("{service} throttled the request: {reason}")]
    Throttled { service: String, reason: String },
    #[error("{service}: {reason}")]
    Api { service: String, reason: String },
    #[error("invalid DNS request: {0}")]
    Invalid(String),
    /// The provider's settings have problems (`aviary validate` shows them in full).
    #[error("invalid settings at {}", paths(.problems))]
    Settings { problems: Vec<Located> },
    #[error("this aviary was built without the `{0}` feature")]
    NotBuiltIn(&'static str),
}

fn paths(problems: &[Located]) -> String {
    let paths: Vec<String> = problems.iter().map(|p| p.path.to_string()).collect();
    paths.join(", ")
}

/// Something that can read and replace one record set.
pub trait DnsProvider: Send + Sync {
    /// Replaces the whole RRset `record` by `values` with the record's TTL, atomically.
    fn replace<'a>(
        &'a self,
        record: &'a RecordSpec,
        values: &'a [String],
    ) -> BoxFuture<'a, Result<(), DnsError>>;
    /// The RRset's current values, as the server answers them (sorted).
    fn current<'a>(&'a self, record: &'a RecordSpec) -> BoxFuture<'a, Result<Vec<String>, DnsError>>;
}

/// `values` normalized like [`DnsProvider::current`] answers them (parsed, printed, sorted), so
/// answers and configured values compare equal whatever their spelling.
pub fn normalize(kind: &str, values: &[String]) -> Vec<String> {
    let kind = RecordType::from_str(&kind.to_ascii_uppercase()).ok();
    let mut out: Vec<String> = values
        .iter()
        .map(|v| {
            kind.and_then(|k| RData::try_from_str(k, v).ok()).map_or_else(|| v.clone(), |d| d.to_string())
        })
        .collect();
    out.sort();
    out
}
