//! `api:` — the section of an API canary (`docs/api.md`), and its checks beyond the types.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::assertion::Assertion;
use super::extract::Extraction;
use crate::spec::KeyPath;
use crate::spec::expand::substitute;
use crate::spec::model::{ByteSize, HumanDuration};
use crate::spec::validate::{Problems, check_url, is_identifier, is_token};

/// `api:` — multi-step HTTP, no browser.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The requests to make, in order; at least one.
    pub steps: Vec<Step>,
    /// Continue with the next step after a failed one (CloudWatch's
    /// `continueOnHttpStepFailure`); defaults to the canary's `continue_on_step_failure`.
    pub continue_on_step_failure: Option<bool>,
}

/// One request with its assertions and extractions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The step's name, unique in the canary.
    pub name: String,
    /// What the step sends.
    pub request: Request,
    /// Assertions on the response, one per line (`docs/api.md`).
    #[serde(default)]
    pub assert: Vec<String>,
    /// Values to extract for later steps' `${name}`: name to extraction.
    #[serde(default)]
    pub extract: BTreeMap<String, String>,
}

/// What a step sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// HTTP method; default `GET`, case-insensitive.
    #[serde(default = "Request::default_method")]
    pub method: String,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Headers sent as given.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A value sent as JSON (adds `content-type: application/json` unless set).
    pub json: Option<serde_json::Value>,
    /// Raw text sent as is.
    pub body: Option<String>,
    /// Fields sent as `application/x-www-form-urlencoded`.
    pub form: Option<BTreeMap<String, String>>,
    /// Limit for the whole request, redirects included; default the run's remaining time.
    pub timeout: Option<HumanDuration>,
    /// Follow redirects (at most 10); default `true`.
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Check the server's certificate; default `true`.
    #[serde(default = "yes")]
    pub verify_tls: bool,
    /// Largest response body read, e.g. `10MB` (default 10MB); past it the step fails.
    pub max_response_bytes: Option<ByteSize>,
    /// Largest request body sent, e.g. `1MB` (default 10MB); past it the step fails unsent.
    pub max_request_bytes: Option<ByteSize>,
}

impl Request {
    fn default_method() -> String {
        "GET".to_string()
    }
}

fn yes() -> bool {
    true
}

/// The checks of the section beyond its types. Paths are relative to the section.
pub fn check(settings: &Settings, p: &mut Problems<'_>) {
    let steps = KeyPath::root().key("steps");
    if settings.steps.is_empty() {
        p.add(steps.clone(), "`steps` must list at least one step");
    }
    let mut names = HashSet::new();
    for (i, step) in settings.steps.iter().enumerate() {
        let at = steps.index(i);
        if step.name.trim().is_empty() {
            p.add(at.key("name"), "a step needs a name");
        } else if !names.insert(step.name.as_str()) {
            p.add(at.key("name"), format!("step name `{}` is used twice", step.name));
        }
        check_request(&step.request, &at.key("request"), p);
        check_checks(step, &at, p);
    }
}

fn check_request(request: &Request, at: &KeyPath, p: &mut Problems<'_>) {
    if !is_token(&request.method) {
        p.add(at.key("method"), format!("`{}` is not an HTTP method", request.method));
    }
    check_url(&request.url, at.key("url"), p);
    let bodies: Vec<&str> = [
        ("json", request.json.is_some()),
        ("body", request.body.is_some()),
        ("form", request.form.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if bodies.len() > 1 {
        p.add(at.clone(), format!("use only one of `json`, `body`, `form` (found {})", bodies.join(", ")));
    }
    if request.timeout.is_some_and(|t| t.0.is_zero()) {
        p.add(at.key("timeout"), "timeout must be greater than 0");
    }
    for (name, value) in &request.headers {
        if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            p.add(at.key("headers").key(name.clone()), format!("`{name}` is not a header name"));
        } else if value.contains(['\r', '\n']) {
            p.add(at.key("headers").key(name.clone()), "header values cannot span lines");
        }
    }
    for (key, size) in
        [("max_request_bytes", request.max_request_bytes), ("max_response_bytes", request.max_response_bytes)]
    {
        if size.is_some_and(|s| s.0 == 0) {
            p.add(at.key(key), format!("{key} must be greater than 0"));
        }
    }
}

/// Assertions and extractions parse, and extracted names can be used as `${name}`. `${name}`
/// references left for run time are checked with a stand-in value.
fn check_checks(step: &Step, at: &KeyPath, p: &mut Problems<'_>) {
    let probe =
        |text: &str| substitute(text, |_| Some("200".to_string())).unwrap_or_else(|_| text.to_string());
    for (j, text) in step.assert.iter().enumerate() {
        if let Err(e) = Assertion::parse(&probe(text)) {
            p.add(at.key("assert").index(j), e.to_string());
        }
    }
    for (name, text) in &step.extract {
        let path = at.key("extract").key(name.clone());
        if !is_identifier(name) {
            p.add(
                path.clone(),
                format!("`{name}` cannot be used as `${{{name}}}`: use letters, digits and _"),
            );
        }
        if let Err(e) = Extraction::parse(&probe(text)) {
            p.add(path, e.to_string());
        }
    }
}
