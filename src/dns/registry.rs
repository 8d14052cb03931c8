//! The DNS provider types by their `type:` name. Adding a provider is one module owning a
//! [`ProviderConfig`] and one line in [`KINDS`].

use std::sync::Arc;

use super::{DnsError, DnsProvider, rfc2136};
use crate::spec::Section;
use crate::spec::de::Located;
use crate::spec::model::ProjectFile;
use crate::spec::section::SectionSettings;

/// A provider type's settings (its section of `dns_providers:`, without `type`): read with serde
/// (unknown keys rejected), checked, then turned into the provider.
pub trait ProviderConfig: SectionSettings {
    /// The provider.
    fn build(self) -> Result<Arc<dyn DnsProvider>, DnsError>;
}

/// One provider type: its `type:` name and its settings type, erased.
struct Kind {
    name: &'static str,
    check: fn(&Section) -> Vec<Located>,
    build: fn(&Section) -> Result<Arc<dyn DnsProvider>, DnsError>,
}

const fn kind<C: ProviderConfig>(name: &'static str) -> Kind {
    Kind { name, check: check::<C>, build: build_as::<C> }
}

#[cfg(feature = "route53")]
const ROUTE53: Kind = kind::<super::route53::Config>("route53");

/// Without the feature, `type: route53` is known but rejected.
#[cfg(not(feature = "route53"))]
const ROUTE53: Kind = Kind {
    name: "route53",
    check: |section| {
        vec![section.problem(
            &crate::spec::KeyPath::root().key("type"),
            "this aviary was built without the `route53` feature (use rfc2136)",
        )]
    },
    build: |_| Err(DnsError::NotBuiltIn("route53")),
};

/// Every provider type, in the order messages list them.
const KINDS: &[Kind] = &[kind::<rfc2136::Config>("rfc2136"), ROUTE53];

/// The `type:` names of the provider types.
pub fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

fn check<C: ProviderConfig>(section: &Section) -> Vec<Located> {
    section.read::<C>().err().unwrap_or_default()
}

fn build_as<C: ProviderConfig>(section: &Section) -> Result<Arc<dyn DnsProvider>, DnsError> {
    section.read::<C>().map_err(|problems| DnsError::Settings { problems })?.build()
}

/// The type a provider's section names and the section without `type`.
fn kind_of(section: &Section) -> Result<(&'static Kind, Section), Located> {
    let (name, rest) = section.kind(&kind_names(), "DNS provider")?;
    let kind = KINDS.iter().find(|k| k.name == name).expect("`Section::kind` picks one of the names given");
    Ok((kind, rest))
}

/// Every problem of the project file's DNS providers, placed in the file. What `aviary validate`
/// and every command loading the project run (through `project::load_project`).
pub fn check_providers(config: &ProjectFile) -> Vec<Located> {
    let mut problems = Vec::new();
    for section in config.dns_providers.values() {
        match kind_of(section) {
            Ok((kind, rest)) => problems.extend((kind.check)(&rest)),
            Err(problem) => problems.push(problem),
        }
    }
    problems
}

/// The provider a section of `dns_providers:` describes.
pub fn build_provider(section: &Section) -> Result<Arc<dyn DnsProvider>, DnsError> {
    let (kind, rest) = kind_of(section).map_err(|problem| DnsError::Settings { problems: vec![problem] })?;
    (kind.build)(&rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::de::from_node;
    use crate::spec::yaml;

    fn problems(text: &str) -> Vec<String> {
        let doc = yaml::parse(text).unwrap();
        let (config, problems) = from_node::<ProjectFile>(&doc);
        assert!(problems.is_empty(), "{problems:?}");
        check_providers(&config.unwrap()).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn rfc2136_needs_server_and_zone_and_a_known_algorithm() {
        assert_eq!(
            problems("dns_providers:\n  lab: {type: rfc2136, zone: z.}\n"),
            ["2:8: dns_providers.lab: missing key `server`"]
        );
        let got = problems(
            "dns_providers:\n  lab:\n    type: rfc2136\n    server: 127.0.0.1\n    zone: example.test.\n    \
             tsig: {name: k., algorithm: hmac-md5, secret: 'not base64!'}\n    timeout: 0s\n",
        );
        assert_eq!(
            got,
            [
                "6:33: dns_providers.lab.tsig.algorithm: unknown TSIG algorithm `hmac-md5`; expected one of: \
                 hmac-sha256, hmac-sha384, hmac-sha512",
                "6:51: dns_providers.lab.tsig.secret: the secret is not valid base64",
                "7:14: dns_providers.lab.timeout: timeout must be greater than 0",
            ]
        );
    }

    #[test]
    fn route53_needs_a_hosted_zone_or_the_feature() {
        let got = problems("dns_providers:\n  aws: {type: route53, endpoint_url: 'ftp://h'}\n");
        if cfg!(feature = "route53") {
            assert_eq!(got, ["2:8: dns_providers.aws: missing key `hosted_zone_id`",]);
        } else {
            assert_eq!(
                got,
                [
                    "2:14: dns_providers.aws.type: this aviary was built without the `route53` feature (use rfc2136)"
                ]
            );
        }
    }

    #[test]
    fn a_value_that_failed_to_expand_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aviary.yaml");
        std::fs::write(
            &file,
            "dns_providers:\n  lab:\n    type: rfc2136\n    server: 127.0.0.1\n    zone: example.test.\n    \
             tsig: {name: k., algorithm: hmac-sha256, secret: '${secret:NOPE}'}\n",
        )
        .unwrap();
        let checks: [crate::spec::SectionCheck; 1] = [check_providers];
        let (project, problems) = crate::spec::read_project_with(Some(&file), None, &|_: &str| None, &checks);
        // An unset secret is not a load problem: the project records it, the check skips it.
        assert!(problems.is_empty(), "{problems:?}");
        let missing = project.unwrap().missing_secrets;
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert_eq!(missing[0].path, "dns_providers.lab.tsig.secret");
        assert!(missing[0].message.contains("is not set"), "{missing:?}");
    }

    #[test]
    fn an_unknown_type_or_key_gets_a_hint() {
        let got = problems(
            "dns_providers:\n  lab: {type: rfc2163, server: h, zone: z.}\n  b: {type: rfc2136, server: h, zone: z., zon: y}\n",
        );
        assert_eq!(
            got,
            [
                "3:43: dns_providers.b.zon: unknown key `zon`; expected one of: server, zone, tsig, timeout; did you \
                 mean `zone`?",
                "2:15: dns_providers.lab.type: unknown value `rfc2163`; expected one of: rfc2136, route53; did you \
                 mean `rfc2136`?",
            ]
        );
    }
}
