//! Chrome DevTools Recorder exports (the JSON @puppeteer/replay reads) as page steps: every step
//! type of the Recorder's schema, with its selectors, `target`, `frame`, `timeout` and
//! `assertedEvents`. Problems are placed in the JSON file (`line:col`, `steps[3].selectors`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::blueprints::page_steps::{ExpectedNavigation, PageAction, PageStep};
use crate::browser::engine::{
    Click, CountOperator, ElementCondition, MouseButton, NetworkConditions, Scope, Selectors, Viewport, key,
};
use crate::spec::KeyPath;
use crate::spec::de::{Located, from_node, is_unknown_key};
use crate::spec::expand::{Lookup, UnsetSecrets, expand_attached};
use crate::spec::yaml::{Node, parse};

/// The largest recording read.
const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// @puppeteer/replay's bounds for `timeout`, in milliseconds.
const TIMEOUT_MS: std::ops::RangeInclusive<f64> = 1.0..=30_000.0;

/// A recording read and checked.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Its title.
    pub title: String,
    /// Its steps.
    pub steps: Vec<PageStep>,
    /// The recording's own step timeout.
    pub timeout: Option<Duration>,
    /// Values of the `${secret:...}` references it uses.
    pub secrets: Vec<String>,
}

/// Why a recording could not be used: where and what.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file could not be read.
    #[error("cannot read {file}: {reason}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The file has problems, each placed in it.
    #[error("{}", .problems.iter().map(|p| format!("{}:{p}", .file)).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file, as the canary names it.
        file: String,
        /// Its problems.
        problems: Vec<Located>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecording {
    title: String,
    timeout: Option<f64>,
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSelector {
    One(String),
    Chain(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    title: Option<String>,
}

/// Every field any Recorder step has; which ones a step needs depends on its type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStep {
    #[serde(rename = "type")]
    kind: String,
    timeout: Option<f64>,
    asserted_events: Option<Vec<RawEvent>>,
    target: Option<String>,
    frame: Option<Vec<usize>>,
    selectors: Option<Vec<RawSelector>>,
    offset_x: Option<f64>,
    offset_y: Option<f64>,
    button: Option<String>,
    duration: Option<f64>,
    value: Option<String>,
    key: Option<String>,
    x: Option<f64>,
    y: Option<f64>,
    url: Option<String>,
    width: Option<f64>,
    height: Option<f64>,
    device_scale_factor: Option<f64>,
    is_mobile: Option<bool>,
    has_touch: Option<bool>,
    is_landscape: Option<bool>,
    download: Option<f64>,
    upload: Option<f64>,
    latency: Option<f64>,
    operator: Option<String>,
    count: Option<f64>,
    visible: Option<bool>,
    properties: Option<Value>,
    attributes: Option<BTreeMap<String, String>>,
    expression: Option<String>,
    name: Option<String>,
}

/// The step types of the Recorder's schema.
pub const STEP_TYPES: &[&str] = &[
    "setViewport",
    "navigate",
    "click",
    "doubleClick",
    "change",
    "keyDown",
    "keyUp",
    "scroll",
    "hover",
    "waitForElement",
    "waitForExpression",
    "emulateNetworkConditions",
    "close",
];

/// Reads `path` (named `shown` in messages), expands `${...}` in its values with the canary's
/// `env:` and the environment, and checks every step.
pub fn read(
    path: &Path,
    shown: &str,
    env: &BTreeMap<String, String>,
    process: Lookup<'_>,
    unset_secrets: UnsetSecrets,
) -> Result<Recording, RecordingError> {
    let read_error = |reason: String| RecordingError::Read { file: shown.to_string(), reason };
    let size = match std::fs::metadata(path) {
        Ok(metadata) => metadata.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(read_error(format!(
                "no such file; export the flow from Chrome DevTools' Recorder panel (Export → JSON) or record one with `aviary record URL -o {}`",
                path.display()
            )));
        }
        Err(e) => return Err(read_error(e.to_string())),
    };
    if size > MAX_BYTES {
        return Err(read_error(format!(
            "{size} bytes is more than the {MAX_BYTES} bytes a recording may have"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
    let invalid = |problems: Vec<Located>| RecordingError::Invalid { file: shown.to_string(), problems };
    let mut root = parse(&text).map_err(|e| {
        invalid(vec![Located { path: KeyPath::root(), line: e.line, col: e.col, message: e.message.clone() }])
    })?;
    let expansion = expand_attached(&mut root, env, process, unset_secrets);
    if !expansion.problems.is_empty() {
        return Err(invalid(expansion.problems));
    }
    let (raw, mut problems) = from_node::<RawRecording>(&root);
    // Recorder exports grow fields (`parameters`, tool-specific keys): ignore what is not replayed.
    problems.retain(|p| !is_unknown_key(p));
    let Some(raw) = raw.filter(|_| problems.is_empty()) else {
        if problems.is_empty() {
            problems.push(Located::at(
                &root,
                KeyPath::root(),
                "expected a Recorder export: {\"title\": ..., \"steps\": [...]}",
            ));
        }
        return Err(invalid(problems));
    };
    let step_nodes = root.get("steps").and_then(Node::items).unwrap_or_default();
    let mut steps = Vec::with_capacity(raw.steps.len());
    for (index, step) in raw.steps.iter().enumerate() {
        let path = KeyPath::root().key("steps").index(index);
        let node = step_nodes.get(index).unwrap_or(&root);
        let mut at = |field: Option<&str>, message: String| {
            let place = field.and_then(|f| node.get(f)).unwrap_or(node);
            let path = field.map_or_else(|| path.clone(), |f| path.key(f));
            problems.push(Located::at(place, path, message));
        };
        match convert(step) {
            Ok(step) => steps.push(step),
            Err((field, message)) => at(field, message),
        }
    }
    let timeout = match raw.timeout {
        Some(ms) if !TIMEOUT_MS.contains(&ms) => {
            let node = root.get("timeout").unwrap_or(&root);
            problems.push(Located::at(node, KeyPath::root().key("timeout"), timeout_message(ms)));
            None
        }
        ms => ms.map(millis),
    };
    if steps.is_empty() && problems.is_empty() {
        let node = root.get("steps").unwrap_or(&root);
        problems.push(Located::at(node, KeyPath::root().key("steps"), "the recording has no steps"));
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    Ok(Recording { title: raw.title, steps, timeout, secrets: expansion.secrets })
}

type Problem = (Option<&'static str>, String);

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms / 1000.0)
}

fn timeout_message(ms: f64) -> String {
    format!("timeout {ms} is not between 1 and 30000 milliseconds")
}

fn required<'a, T>(value: Option<&'a T>, field: &'static str, kind: &str) -> Result<&'a T, Problem> {
    value.ok_or_else(|| (None, format!("a `{kind}` step needs `{field}`")))
}

fn selectors(step: &RawStep) -> Result<Selectors, Problem> {
    let raw = required(step.selectors.as_ref(), "selectors", &step.kind)?;
    let alternatives: Vec<Vec<String>> = raw
        .iter()
        .map(|s| match s {
            RawSelector::One(one) => vec![one.clone()],
            RawSelector::Chain(chain) => chain.clone(),
        })
        .collect();
    Selectors::parse(&alternatives).map_err(|e| (Some("selectors"), e.to_string()))
}

/// The report name: the type and the first selector, key or URL.
fn step_name(step: &RawStep) -> String {
    let first = step.selectors.as_ref().and_then(|s| s.first()).map(|s| match s {
        RawSelector::One(one) => one.clone(),
        RawSelector::Chain(chain) => chain.join(" >> "),
    });
    let subject = first
        .or_else(|| step.url.clone())
        .or_else(|| step.key.clone())
        .or_else(|| step.expression.clone())
        .or_else(|| step.width.zip(step.height).map(|(w, h)| format!("{w}x{h}")));
    match subject {
        Some(subject) => format!("{} {}", step.kind, crate::spec::yaml::shorten(&subject)),
        None => step.kind.clone(),
    }
}

fn convert(step: &RawStep) -> Result<PageStep, Problem> {
    let kind = step.kind.as_str();
    let number = |v: Option<f64>, field: &'static str| required(v.as_ref(), field, kind).copied();
    let action = match kind {
        "navigate" => PageAction::Navigate(required(step.url.as_ref(), "url", kind)?.clone()),
        "click" | "doubleClick" => {
            let button = match step.button.as_deref() {
                None | Some("primary") => MouseButton::Left,
                Some("auxiliary") => MouseButton::Middle,
                Some("secondary") => MouseButton::Right,
                Some("back") => MouseButton::Back,
                Some("forward") => MouseButton::Forward,
                Some(other) => {
                    return Err((
                        Some("button"),
                        format!(
                            "unknown button {other:?}; expected primary, auxiliary, secondary, back or forward"
                        ),
                    ));
                }
            };
            let offset = match (step.offset_x, step.offset_y) {
                (Some(x), Some(y)) => Some((x, y)),
                _ => None,
            };
            let hold = step.duration.filter(|d| *d > 0.0).map(millis).unwrap_or_default();
            let count = if kind == "doubleClick" { 2 } else { 1 };
            PageAction::Click(selectors(step)?, Click { button, count, offset, hold })
        }
        "hover" => PageAction::Hover(selectors(step)?),
        "change" => PageAction::Fill(selectors(step)?, required(step.value.as_ref(), "value", kind)?.clone()),
        "keyDown" | "keyUp" => {
            let name = required(step.key.as_ref(), "key", kind)?;
            if key(name).is_none() {
                return Err((
                    Some("key"),
                    format!("unknown key {name:?} (names such as Enter, Tab, Escape, ArrowDown, a)"),
                ));
            }
            PageAction::Key(name.clone(), kind == "keyDown")
        }
        "scroll" => {
            let (x, y) = (step.x.unwrap_or(0.0), step.y.unwrap_or(0.0));
            match step.selectors {
                Some(_) => PageAction::ScrollElement(selectors(step)?, x, y),
                None => PageAction::ScrollPage(x, y),
            }
        }
        "waitForElement" => {
            let operator = match step.operator.as_deref() {
                None | Some(">=") => CountOperator::AtLeast,
                Some("==") => CountOperator::Exactly,
                Some("<=") => CountOperator::AtMost,
                Some(other) => {
                    return Err((
                        Some("operator"),
                        format!("unknown operator {other:?}; expected >=, == or <="),
                    ));
                }
            };
            let count = match step.count {
                None => 1,
                Some(c) if c >= 0.0 && c.fract() == 0.0 => c as usize,
                Some(c) => return Err((Some("count"), format!("count {c} is not a whole number ≥ 0"))),
            };
            let condition = ElementCondition {
                operator,
                count,
                visible: step.visible.unwrap_or(true),
                attributes: step.attributes.clone().unwrap_or_default(),
                properties: step.properties.clone(),
            };
            PageAction::WaitForElement(selectors(step)?, condition)
        }
        "waitForExpression" => {
            PageAction::WaitForExpression(required(step.expression.as_ref(), "expression", kind)?.clone())
        }
        "setViewport" => {
            let size = |v: f64, field: &'static str| {
                if (1.0..=100_000.0).contains(&v) && v.fract() == 0.0 {
                    Ok(v as u32)
                } else {
                    Err((
                        Some(field),
                        format!("{field} {v} is not a whole number of pixels from 1 to 100000"),
                    ))
                }
            };
            PageAction::SetViewport(Viewport {
                width: size(number(step.width, "width")?, "width")?,
                height: size(number(step.height, "height")?, "height")?,
                device_scale_factor: step.device_scale_factor.filter(|f| *f > 0.0).unwrap_or(1.0),
                is_mobile: step.is_mobile.unwrap_or(false),
                has_touch: step.has_touch.unwrap_or(false),
                is_landscape: step.is_landscape.unwrap_or(false),
            })
        }
        "emulateNetworkConditions" => PageAction::EmulateNetwork(NetworkConditions {
            download: number(step.download, "download")?,
            upload: number(step.upload, "upload")?,
            latency: number(step.latency, "latency")?,
        }),
        "close" => PageAction::Close,
        "customStep" => {
            let name = step.name.as_deref().unwrap_or("?");
            return Err((
                Some("type"),
                format!(
                    "`customStep` ({name}) is an extension of the recording's tool; Aviary cannot replay it"
                ),
            ));
        }
        other => {
            let known = STEP_TYPES.join(", ");
            let hint = crate::spec::suggest::closest(other, STEP_TYPES.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err((Some("type"), format!("unknown step type {other:?}; {hint}known types: {known}")));
        }
    };
    let timeout = match step.timeout {
        Some(ms) if !TIMEOUT_MS.contains(&ms) => return Err((Some("timeout"), timeout_message(ms))),
        ms => ms.map(millis),
    };
    let mut navigation = None;
    for event in step.asserted_events.iter().flatten() {
        if event.kind != "navigation" {
            return Err((
                Some("assertedEvents"),
                format!("unknown asserted event {:?}; only `navigation`", event.kind),
            ));
        }
        navigation = Some(ExpectedNavigation {
            url: event.url.clone().filter(|u| !u.is_empty()),
            title: event.title.clone().filter(|t| !t.is_empty()),
        });
    }
    let scope = Scope { target: step.target.clone(), frame: step.frame.clone().unwrap_or_default() };
    Ok(PageStep { name: step_name(step), scope, action, timeout, navigation })
}
