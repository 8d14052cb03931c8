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
    /// The server could not be reached.
    #[error("DNS server {server} unreachable: {reason}")]
    Unreachable {
        /// The server's address.
        server: String,
        /// What went wrong, from the network.
        reason: String,
    },
    /// The server refused the TSIG signature.
    #[error("DNS server {server} rejected the TSIG key `{key}`: {code}")]
    TsigRejected {
        /// The server's address.
        server: String,
        /// The TSIG key's name (never its secret).
        key: String,
        /// The TSIG error and its likely cause, e.g. `BADSIG (wrong secret or algorithm)`.
        code: &'static str,
    },
    /// The server answered NOTAUTH.
    #[error(
        "DNS server {server} answered NOTAUTH: it is not authoritative for the zone or does not accept the key"
    )]
    NotAuth {
        /// The server's address.
        server: String,
    },
    /// The server answered REFUSED.
    #[error("DNS server {server} answered REFUSED: the update or query is not allowed")]
    Refused {
        /// The server's address.
        server: String,
    },
    /// The server answered SERVFAIL.
    #[error("DNS server {server} answered SERVFAIL")]
    ServFail {
        /// The server's address.
        server: String,
    },
    /// The server answered with another error code.
    #[error("DNS server {server} answered {code}")]
    Other {
        /// The server's address.
        server: String,
        /// The response code, as DNS names it.
        code: String,
    },
    /// The server did not answer in time.
    #[error("DNS server {server} did not answer within {secs} s")]
    Timeout {
        /// The server's address.
        server: String,
        /// How long the call waited, in seconds.
        secs: u64,
    },
    /// A provider's API throttled the request (worth retrying later).
    #[error("{service} throttled the request: {reason}")]
    Throttled {
        /// What was called, e.g. `Route 53 zone Z123…`.
        service: String,
        /// The API's message.
        reason: String,
    },
    /// A provider's API rejected the request or failed.
    #[error("{service}: {reason}")]
    Api {
        /// What was called, e.g. `Route 53 zone Z123…`.
        service: String,
        /// The API's message.
        reason: String,
    },
    /// The request could not be built: a bad record type or value, or it could not be signed or
    /// encoded.
    #[error("invalid DNS request: {0}")]
    Invalid(String),
    /// The provider's settings have problems (`aviary validate` shows them in full).
    #[error("invalid settings at {}", paths(.problems))]
    Settings {
        /// The problems, each at its place in the file.
        problems: Vec<Located>,
    },
    /// The provider's type needs a Cargo feature this build lacks (its name).
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
