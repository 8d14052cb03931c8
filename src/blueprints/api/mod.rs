//! API canaries: multi-step HTTP without a browser (`docs/api.md`). Each step sends one
//! request (following redirects unless told not to), checks its assertions and extracts values
//! that later steps use as `${name}`. Every request goes to the run's HAR with its timing phases;
//! each step's phases, assertion results and extracted names go to `report.json`.
//!
//! Failure semantics (documented in docs/api.md):
//! - A step without a `status` assertion checks `status in 200-399`.
//! - After a step that did not pass, the remaining steps are SKIPPED ("not run: step N ... did
//!   not pass"), unless `api.continue_on_step_failure` (default: the canary's
//!   `continue_on_step_failure`, itself default `false`) is `true`.
//! - A step that uses a name an earlier step could not extract is SKIPPED with that reason.
//! - A request that times out makes its step TIMEOUT; any other failure makes it FAILED; a step
//!   that cannot even be built after substitution (e.g. an extracted value makes the URL invalid)
//!   is ERROR.

pub mod assertion;
pub mod errors;
pub mod extract;
pub mod jsonpath;
pub mod run;
pub mod settings;

use std::path::Path;

use super::{Blueprint, BuildError, Runnable, SentValues, check_section, settings as read_settings};
use crate::spec::de::Located;
use crate::spec::yaml::Node;
use crate::spec::{Canary, KeyPath, Section, TemplateSteps};

pub use run::DEFAULT_STATUS_ASSERTION;
pub use settings::Settings;

/// The API blueprint, as the registry lists it.
pub static API: ApiBlueprint = ApiBlueprint;

/// Multi-step HTTP with assertions and variables.
pub struct ApiBlueprint;

impl Blueprint for ApiBlueprint {
    fn name(&self) -> &'static str {
        "api"
    }

    fn template(&self) -> &'static str {
        include_str!("../../../blueprints/api.yaml")
    }

    fn uses_browser(&self) -> bool {
        false
    }

    fn check(&self, section: &Section, tainted: &[KeyPath], _file: &Path) -> Vec<Located> {
        check_section(section, tainted, settings::check)
    }

    fn section_keys(&self) -> &'static [&'static str] {
        crate::spec::de::struct_keys::<Settings>()
    }

    fn build(&self, canary: &Canary) -> Result<Box<dyn Runnable>, BuildError> {
        let settings: Settings = read_settings(canary)?;
        Ok(Box::new(run::Api::new(settings, canary.spec.continue_on_step_failure)))
    }

    /// A step's `extract:` names are variables of the steps after it.
    fn template_steps(&self, section: &Node) -> Option<TemplateSteps> {
        let steps = section.get("steps")?.items()?;
        let steps = steps
            .iter()
            .map(|step| {
                let name = step.get("name").and_then(Node::as_str).unwrap_or_default().to_string();
                let extract = step.get("extract").and_then(Node::entries).unwrap_or_default();
                (name, extract.iter().filter_map(|(k, _)| k.as_str().map(str::to_string)).collect())
            })
            .collect();
        Some(TemplateSteps { list_key: "steps", steps })
    }

    fn sent_values(&self, canary: &Canary) -> SentValues {
        let Ok(settings) = read_settings::<Settings>(canary) else { return SentValues::default() };
        let headers = settings.steps.iter().flat_map(|s| s.request.headers.clone()).collect();
        let urls = settings.steps.into_iter().map(|s| s.request.url).collect();
        SentValues { headers, urls, ..SentValues::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::ByteSize;

    #[test]
    fn sizes() {
        for (text, bytes) in [
            ("1048576", 1_048_576),
            ("10MB", 10_000_000),
            ("10 mb", 10_000_000),
            ("512KB", 512_000),
            ("1MiB", 1 << 20),
            ("64KiB", 64 << 10),
            ("1.5GB", 1_500_000_000),
            ("2GiB", 2 << 30),
            ("0", 0),
        ] {
            assert_eq!(ByteSize::parse(text), Ok(ByteSize(bytes)), "{text}");
        }
        assert!(ByteSize::parse("10 parsecs").unwrap_err().to_string().contains("unknown unit `parsecs`"));
        assert!(ByteSize::parse("MB").is_err());
        assert!(ByteSize::parse("-1").is_err());
        assert_eq!(ByteSize(10_000_000).to_string(), "10MB");
        assert_eq!(ByteSize(1 << 20).to_string(), "1MiB");
        assert_eq!(ByteSize(1234).to_string(), "1234 bytes");
    }

    fn problems(yaml_steps: &str) -> Vec<String> {
        let doc = crate::spec::yaml::parse(&format!("blueprint: api\napi:\n  steps:\n{yaml_steps}")).unwrap();
        let section = Section::of(&doc, "api").unwrap();
        let mut found = API.check(&section, &[], Path::new("a.yaml"));
        found.sort_by_key(|p| (p.line, p.col));
        found.into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
    }

    #[test]
    fn check_places_problems_at_their_key_path() {
        let found = problems(
            "    - name: a\n      request: {url: \"http://h/\", headers: {\"x y\": v}, max_request_bytes: 0}\n      \
             assert: [status == 200, \"json $.id == ${id}\", status = 1]\n      extract: {id: json id, ok: header etag}\n",
        );
        assert_eq!(
            found,
            [
                "api.steps[0].request.headers.x y: `x y` is not a header name",
                "api.steps[0].request.max_request_bytes: max_request_bytes must be greater than 0",
                "api.steps[0].assert[2]: invalid assertion `status = 1`: use `==` to compare, not `=`",
                "api.steps[0].extract.id: invalid extraction `json id`: invalid JSON path `id`: it must start \
                 with `$`, e.g. $.items[0].id",
            ]
        );
        // A value left for run time stands in for any value: `status == ${code}` is fine.
        assert!(
            problems(
                "    - name: a\n      request: {url: \"http://h/\"}\n      assert: [\"status == ${code}\"]\n"
            )
            .is_empty()
        );
    }
}
