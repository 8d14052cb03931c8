//! The run of an API canary: each step resolved (its `${name}` references filled), sent, checked
//! and its values extracted for the steps after it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use hyper::Method;
use serde_json::{Map, Value, json};

use super::assertion::{self, Assertion, ResponseView};
use super::errors::NoValue;
use super::extract::Extraction;
use super::settings::{Settings, Step};
use crate::blueprints::Runnable;
use crate::fetch::{self, Client, FetchError, Options};
use crate::spec::expand::substitute;
use crate::step::{RunContext, StepError, StepOutcome};

/// The check a step makes when it has no `status` assertion.
pub const DEFAULT_STATUS_ASSERTION: &str = "status in 200-399";

/// An API canary's run.
pub struct Api {
    steps: Vec<Step>,
    continue_on_failure: bool,
}

impl Api {
    /// The run of these settings; `continue_default` is the canary's `continue_on_step_failure`.
    pub fn new(settings: Settings, continue_default: bool) -> Self {
        let continue_on_failure = settings.continue_on_step_failure.unwrap_or(continue_default);
        Self { steps: settings.steps, continue_on_failure }
    }
}

/// A step with its `${name}` references filled in, ready to send.
struct Resolved {
    request: fetch::Request,
    options: Options,
    /// The step's own `timeout:`, if any.
    timeout: Option<Duration>,
    assertions: Vec<Assertion>,
    /// The first assertion is the default `status in 200-399` (the step has no `status` one).
    implicit_status: bool,
    extractions: Vec<(String, Extraction)>,
}

/// Why a step could not be resolved.
enum Unresolved {
    /// A name it uses has no value (an earlier step did not extract it).
    Skip(String),
    /// After substitution, the step is not a valid request or its checks do not parse.
    Invalid(String),
}

/// What running one step produced.
struct StepRun {
    result: Result<StepOutcome, StepError>,
    details: Map<String, Value>,
    extracted: Vec<(String, Result<String, NoValue>)>,
}

impl Runnable for Api {
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            let mut values: HashMap<String, String> = HashMap::new();
            // Names that will not get a value, and why.
            let mut missing: HashMap<String, String> = HashMap::new();
            let mut stopped: Option<String> = None;
            for (i, step) in self.steps.iter().enumerate() {
                let number = i + 1;
                let lost = |missing: &mut HashMap<String, String>, why: String| {
                    for name in step.extract.keys() {
                        missing.entry(name.clone()).or_insert_with(|| why.clone());
                    }
                };
                if let Some(why) = &stopped {
                    ctx.skip_step(&step.name, why.clone());
                    lost(&mut missing, format!("step {number} `{}` was not run", step.name));
                    continue;
                }
                let resolved = match resolve(step, &values, &missing, ctx) {
                    Ok(resolved) => resolved,
                    Err(Unresolved::Skip(why)) => {
                        ctx.skip_step(&step.name, why);
                        lost(&mut missing, format!("step {number} `{}` was skipped", step.name));
                        continue;
                    }
                    Err(Unresolved::Invalid(why)) => {
                        ctx.begin_step(&step.name).await;
                        ctx.end_step(Err(StepError::Error(why))).await;
                        lost(&mut missing, format!("step {number} `{}` could not be sent", step.name));
                        if !self.continue_on_failure {
                            stopped = Some(format!("not run: step {number} `{}` did not pass", step.name));
                        }
                        continue;
                    }
                };
                ctx.begin_step(&step.name).await;
                let run = execute(ctx, resolved).await;
                for (name, value) in run.extracted {
                    match value {
                        Ok(value) => {
                            missing.remove(&name);
                            values.insert(name, value);
                        }
                        Err(why) => {
                            values.remove(&name);
                            missing.insert(
                                name,
                                format!("step {number} `{}` could not extract it ({why})", step.name),
                            );
                        }
                    }
                }
                let passed = run.result.is_ok();
                ctx.add_step_details(run.details);
                let result = run.result;
                ctx.end_step(result).await;
                if !passed && !self.continue_on_failure {
                    stopped = Some(format!("not run: step {number} `{}` did not pass", step.name));
                }
            }
            Ok(())
        }
        .boxed()
    }
}

/// Fills `${name}` references from extracted values and builds the request and checks.
fn resolve(
    step: &Step,
    values: &HashMap<String, String>,
    missing: &HashMap<String, String>,
    ctx: &RunContext,
) -> Result<Resolved, Unresolved> {
    let absent: RefCell<Option<String>> = RefCell::new(None);
    let fill = |template: &str| -> Result<String, Unresolved> {
        substitute(template, |name| {
            let value = values.get(name).cloned();
            if value.is_none() && absent.borrow().is_none() {
                *absent.borrow_mut() = Some(name.to_string());
            }
            value
        })
        .map_err(|e| match absent.borrow().as_deref() {
            Some(name) => {
                let why = missing.get(name).map_or("no earlier step extracted it", String::as_str);
                Unresolved::Skip(format!("`${{{name}}}` has no value: {why}"))
            }
            None => Unresolved::Invalid(e.to_string()),
        })
    };
    let request = &step.request;
    let url_text = fill(&request.url)?;
    let url = url::Url::parse(&url_text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| Unresolved::Invalid(format!("`{url_text}` is not an absolute http(s) URL")))?;
    let method = Method::from_bytes(request.method.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| Unresolved::Invalid(format!("`{}` is not an HTTP method", request.method)))?;
    let mut headers = Vec::with_capacity(request.headers.len() + 1);
    for (name, value) in &request.headers {
        headers.push((name.clone(), fill(value)?));
    }
    let has =
        |headers: &[(String, String)], name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut body = None;
    let mut content_type = None;
    if let Some(template) = &request.json {
        let value = fill_json(template, &fill)?;
        body = Some(Bytes::from(serde_json::to_vec(&value).unwrap_or_default()));
        content_type = Some("application/json");
    } else if let Some(text) = &request.body {
        body = Some(Bytes::from(fill(text)?));
    } else if let Some(form) = &request.form {
        let mut encoder = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in form {
            encoder.append_pair(name, &fill(value)?);
        }
        body = Some(Bytes::from(encoder.finish()));
        content_type = Some("application/x-www-form-urlencoded");
    }
    if let Some(content_type) = content_type
        && !has(&headers, "content-type")
    {
        headers.push(("content-type".to_string(), content_type.to_string()));
    }

    let mut assertions = Vec::with_capacity(step.assert.len() + 1);
    for text in &step.assert {
        assertions.push(Assertion::parse(&fill(text)?).map_err(|e| Unresolved::Invalid(e.to_string()))?);
    }
    let implicit_status = !assertions.iter().any(|a| matches!(a.subject(), assertion::Subject::Status));
    if implicit_status {
        assertions
            .insert(0, Assertion::parse(DEFAULT_STATUS_ASSERTION).expect("the default assertion parses"));
    }
    let mut extractions = Vec::with_capacity(step.extract.len());
    for (name, text) in &step.extract {
        extractions.push((
            name.clone(),
            Extraction::parse(&fill(text)?).map_err(|e| Unresolved::Invalid(e.to_string()))?,
        ));
    }
    let report = &ctx.canary.spec.report;
    let options = Options {
        timeout: Duration::ZERO, // set when the step starts
        follow_redirects: request.follow_redirects,
        max_redirects: fetch::DEFAULT_MAX_REDIRECTS,
        verify_tls: request.verify_tls,
        max_request_bytes: request.max_request_bytes.map_or(fetch::DEFAULT_MAX_BODY_BYTES, |b| b.0),
        max_response_bytes: request.max_response_bytes.map_or(fetch::DEFAULT_MAX_BODY_BYTES, |b| b.0),
        capture_request_body: report.include_request_body,
        capture_response_body: report.include_response_body,
        truncate_response: false,
        pool: None,
    };
    Ok(Resolved {
        request: fetch::Request { method, url, headers, body },
        options,
        timeout: request.timeout.map(|t| t.0),
        assertions,
        implicit_status,
        extractions,
    })
}

/// Substitutes every string in a JSON template (keys stay as written).
fn fill_json(
    template: &Value,
    fill: &dyn Fn(&str) -> Result<String, Unresolved>,
) -> Result<Value, Unresolved> {
    Ok(match template {
        Value::String(s) => Value::String(fill(s)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_json(v, fill)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(k.clone(), fill_json(v, fill)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// `POST /api/items?x=1`, with restricted parameters redacted: how messages about a response name
/// its request (the step's URL is in the report).
fn label(ctx: &RunContext, method: &Method, url: &url::Url) -> String {
    let mut target = url.path().to_string();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    format!("{method} {}", ctx.redactor.redact_url(&target))
}

/// `GET http://127.0.0.1:8080/health`, redacted: how a request that got no response is named, as
/// browser errors name the page's whole URL.
fn full_label(ctx: &RunContext, method: &Method, url: &url::Url) -> String {
    format!("{method} {}", ctx.redactor.redact_url(url.as_str()))
}

async fn execute(ctx: &mut RunContext, mut resolved: Resolved) -> StepRun {
    let remaining = ctx.remaining();
    let (timeout, bound_by_step) = match resolved.timeout {
        Some(t) if t < remaining => (t, true),
        _ => (remaining, false),
    };
    resolved.options.timeout = timeout;
    let label = label(ctx, &resolved.request.method, &resolved.request.url);
    let no_response_label = full_label(ctx, &resolved.request.method, &resolved.request.url);
    let mut details = Map::new();
    details.insert("method".into(), json!(resolved.request.method.as_str()));
    details.insert("url".into(), json!(resolved.request.url.as_str()));

    let exchange = Client::shared().fetch(resolved.request, &resolved.options).await;
    let latency = exchange.elapsed;
    details.insert("latency_ms".into(), json!((latency.as_secs_f64() * 1_000_000.0).round() / 1000.0));
    if let Some(last) = exchange.hops.last() {
        details.insert("timings".into(), last.phases.to_json());
    }
    if exchange.hops.len() > 1 {
        details
            .insert("requests".into(), Value::Array(exchange.hops.iter().map(fetch::Hop::to_json).collect()));
    }
    let final_url = exchange.hops.last().map(|h| h.url.to_string());
    let outcome = exchange.outcome;
    ctx.add_har_entries(exchange.hops.into_iter().map(|h| h.entry));

    let response = match outcome {
        Ok(response) => response,
        Err(error) => {
            let timeout_owner = if bound_by_step {
                " (the step's timeout)".to_string()
            } else {
                format!(" (the run's {} timeout)", fetch::format_duration(ctx.canary.timeout))
            };
            return no_response(&no_response_label, &error, &timeout_owner, details, resolved.extractions);
        }
    };
    details.insert("status".into(), json!(response.status.as_u16()));
    details.insert("http_version".into(), json!(format!("{:?}", response.version)));
    details.insert("response_bytes".into(), json!(response.body.len()));

    let view = ResponseView::new(response.status.as_u16(), &response.headers, &response.body, latency);
    let mut failures = Vec::new();
    let results = check_assertions(&resolved.assertions, resolved.implicit_status, &view, &mut failures);
    details.insert("assertions".into(), Value::Array(results.into_iter().map(Value::Object).collect()));
    let extracted = extract_values(&resolved.extractions, &view, &mut failures);
    if !resolved.extractions.is_empty() {
        let names = extracted.iter().filter(|(_, v)| v.is_ok()).map(|(name, _)| json!(name)).collect();
        details.insert("extracted".into(), Value::Array(names));
    }
    let result = match failures.split_first() {
        None => Ok(StepOutcome { url: final_url, details: Map::new() }),
        Some((first, rest)) => {
            let more = match rest.len() {
                0 => String::new(),
                1 => " (and 1 more failure)".to_string(),
                n => format!(" (and {n} more failures)"),
            };
            Err(StepError::Failed(format!("{label}: {first}{more}")))
        }
    };
    StepRun { result, details, extracted }
}

/// A step whose request got no response: FAILED, or TIMEOUT with whose timeout it was.
fn no_response(
    label: &str,
    error: &FetchError,
    timeout_owner: &str,
    mut details: Map<String, Value>,
    extractions: Vec<(String, Extraction)>,
) -> StepRun {
    let mut reason = format!("{label}: {error}");
    if let FetchError::Timeout { .. } = error {
        reason.push_str(timeout_owner);
    }
    details.insert("error".into(), json!(error.to_string()));
    let result = Err(if error.is_timeout() { StepError::Timeout(reason) } else { StepError::Failed(reason) });
    let extracted = extractions
        .into_iter()
        .map(|(name, _)| (name, Err(NoValue("the request got no response".to_string()))))
        .collect();
    StepRun { result, details, extracted }
}

/// Each assertion's verdict for the report; failed ones also go to `failures`.
fn check_assertions(
    assertions: &[Assertion],
    implicit_status: bool,
    view: &ResponseView<'_>,
    failures: &mut Vec<String>,
) -> Vec<Map<String, Value>> {
    let mut results = Vec::with_capacity(assertions.len());
    for assertion in assertions {
        let verdict = assertion.check(view);
        let mut entry = Map::new();
        entry.insert("assertion".into(), json!(assertion.text()));
        entry.insert("passed".into(), json!(verdict.passed));
        entry.insert("found".into(), json!(verdict.found));
        results.push(entry);
        if !verdict.passed {
            failures.push(format!("expected {assertion}, got {}", verdict.found));
        }
    }
    if implicit_status && let Some(first) = results.first_mut() {
        first.insert("implicit".into(), json!(true));
    }
    results
}

/// Each extraction's value (or why there is none, which also goes to `failures`).
fn extract_values(
    extractions: &[(String, Extraction)],
    view: &ResponseView<'_>,
    failures: &mut Vec<String>,
) -> Vec<(String, Result<String, NoValue>)> {
    let mut extracted = Vec::with_capacity(extractions.len());
    for (name, extraction) in extractions {
        let value = extraction.apply(view);
        if let Err(why) = &value {
            failures.push(format!("could not extract `{name}`: {why}"));
        }
        extracted.push((name.clone(), value));
    }
    extracted
}
