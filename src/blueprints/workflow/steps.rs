//! The `workflow.steps` list as written (one action key per step, plus `name` and `timeout`),
//! and its translation into page steps.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::blueprints::page_steps::{ExpectedNavigation, PageAction, PageStep};
use crate::browser::engine::{
    Click, CountOperator, ElementCondition, MouseButton, Scope, Selectors, Viewport, key,
};
use crate::spec::KeyPath;
use crate::spec::model::HumanDuration;
use crate::spec::validate::Problems;

/// Every action a step may name, in the order the docs list them.
pub const ACTIONS: &[&str] = &[
    "navigate",
    "input",
    "select",
    "check",
    "uncheck",
    "click",
    "click_and_navigate",
    "hover",
    "press",
    "scroll",
    "wait_for",
    "wait_for_navigation",
    "wait_for_expression",
    "verify_text",
    "verify_selector",
    "screenshot",
    "set_viewport",
];

/// A selector: one (`"#submit"`, `"aria/Sign in"`), or alternatives tried together, each a
/// string or a chain through shadow roots and frames.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SelectorValue {
    /// One selector.
    One(String),
    /// Alternatives.
    Alternatives(Vec<Alternative>),
}

/// One alternative of a selector list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Alternative {
    /// A selector.
    One(String),
    /// A chain: each part inside the previous one's shadow root or frame.
    Chain(Vec<String>),
}

impl SelectorValue {
    fn parse(&self) -> Result<Selectors, String> {
        let alternatives: Vec<Vec<String>> = match self {
            Self::One(one) => vec![vec![one.clone()]],
            Self::Alternatives(list) => list
                .iter()
                .map(|a| match a {
                    Alternative::One(one) => vec![one.clone()],
                    Alternative::Chain(chain) => chain.clone(),
                })
                .collect(),
        };
        Selectors::parse(&alternatives).map_err(|e| e.to_string())
    }

    fn first(&self) -> String {
        match self {
            Self::One(one) => one.clone(),
            Self::Alternatives(list) => match list.first() {
                Some(Alternative::One(one)) => one.clone(),
                Some(Alternative::Chain(chain)) => chain.join(" >> "),
                None => String::new(),
            },
        }
    }
}

/// `{selector, text}` (input, verify_text) or `{selector, value}` (select).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldValue {
    /// The element.
    pub selector: SelectorValue,
    /// The text to type, or that must appear.
    #[serde(alias = "value")]
    pub text: String,
}

/// `click:` a selector, or `{selector, button, double, offset_x, offset_y}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ClickValue {
    /// Click the element's centre with the primary button.
    Selector(SelectorValue),
    /// Click with options.
    Options(ClickOptions),
}

/// How to click.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickOptions {
    /// The element.
    pub selector: SelectorValue,
    /// `left` (default), `right` or `middle`.
    #[serde(default)]
    pub button: Option<String>,
    /// Double click.
    #[serde(default)]
    pub double: bool,
    /// From the element's left edge, in CSS pixels (with `offset_y`); the centre by default.
    pub offset_x: Option<f64>,
    /// From the element's top edge.
    pub offset_y: Option<f64>,
}

/// `press: Enter`, or `{key, selector}` to press it in an element.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PressValue {
    /// A key name.
    Key(String),
    /// A key in an element.
    In {
        /// The key name.
        key: String,
        /// The element to focus first.
        selector: SelectorValue,
    },
}

/// `scroll: {x, y}` (the window) or `{selector, x, y}` (an element's content).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrollValue {
    /// The element to scroll; the window when absent.
    pub selector: Option<SelectorValue>,
    /// Pixels from the left.
    #[serde(default)]
    pub x: f64,
    /// Pixels from the top.
    #[serde(default)]
    pub y: f64,
}

/// `wait_for:` a selector, or `{selector, count, operator, visible}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum WaitForValue {
    /// Wait for one element.
    Selector(SelectorValue),
    /// Wait for a count.
    Options(WaitForOptions),
}

/// What to wait for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForOptions {
    /// The elements.
    pub selector: SelectorValue,
    /// How many (default 1).
    pub count: Option<usize>,
    /// `>=` (default), `==` or `<=`.
    pub operator: Option<String>,
    /// `false`: wait until the condition no longer holds (the element is gone).
    pub visible: Option<bool>,
}

/// `wait_for_navigation: {}` or `{url, title}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NavigationValue {
    /// The URL the page must land on.
    pub url: Option<String>,
    /// The title it must have.
    pub title: Option<String>,
}

/// `set_viewport: {width, height, ...}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewportValue {
    /// CSS pixels.
    pub width: u32,
    /// CSS pixels.
    pub height: u32,
    /// Default 1.
    pub device_scale_factor: Option<f64>,
    /// Default false.
    #[serde(default)]
    pub mobile: bool,
    /// Default false.
    #[serde(default)]
    pub touch: bool,
    /// Default false.
    #[serde(default)]
    pub landscape: bool,
}

/// One step as written: one action key, and optionally `name` and `timeout`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct WorkflowStep {
    /// Its name in the report; made from the action and selector when absent.
    pub name: Option<String>,
    /// Its deadline; the section's `step_timeout` when absent.
    pub timeout: Option<HumanDuration>,
    pub navigate: Option<String>,
    pub input: Option<FieldValue>,
    pub select: Option<FieldValue>,
    pub check: Option<SelectorValue>,
    pub uncheck: Option<SelectorValue>,
    pub click: Option<ClickValue>,
    pub click_and_navigate: Option<SelectorValue>,
    pub hover: Option<SelectorValue>,
    pub press: Option<PressValue>,
    pub scroll: Option<ScrollValue>,
    pub wait_for: Option<WaitForValue>,
    pub wait_for_navigation: Option<NavigationValue>,
    pub wait_for_expression: Option<String>,
    pub verify_text: Option<FieldValue>,
    pub verify_selector: Option<SelectorValue>,
    pub screenshot: Option<String>,
    pub set_viewport: Option<ViewportValue>,
}

impl WorkflowStep {
    /// The action keys present.
    fn actions(&self) -> Vec<&'static str> {
        let present = [
            self.navigate.is_some(),
            self.input.is_some(),
            self.select.is_some(),
            self.check.is_some(),
            self.uncheck.is_some(),
            self.click.is_some(),
            self.click_and_navigate.is_some(),
            self.hover.is_some(),
            self.press.is_some(),
            self.scroll.is_some(),
            self.wait_for.is_some(),
            self.wait_for_navigation.is_some(),
            self.wait_for_expression.is_some(),
            self.verify_text.is_some(),
            self.verify_selector.is_some(),
            self.screenshot.is_some(),
            self.set_viewport.is_some(),
        ];
        ACTIONS.iter().zip(present).filter(|(_, p)| *p).map(|(a, _)| *a).collect()
    }

    /// The page step, or the problem at `(key, message)`.
    pub fn to_page_step(&self) -> Result<PageStep, (Option<&'static str>, String)> {
        let actions = self.actions();
        let action = match actions.as_slice() {
            [one] => *one,
            [] => {
                return Err((None, format!("a step needs one action: {}", ACTIONS.join(", "))));
            }
            several => {
                return Err((
                    Some(several[1]),
                    format!("a step has one action; this one has {}", several.join(" and ")),
                ));
            }
        };
        let at = |message: String| (Some(action), message);
        let sel = |s: &SelectorValue| s.parse().map_err(at);
        let mut navigation = None;
        let (subject, page_action) = match self {
            Self { navigate: Some(url), .. } => (url.clone(), PageAction::Navigate(url.clone())),
            Self { input: Some(f), .. } => {
                (f.selector.first(), PageAction::Fill(sel(&f.selector)?, f.text.clone()))
            }
            Self { select: Some(f), .. } => {
                (f.selector.first(), PageAction::Fill(sel(&f.selector)?, f.text.clone()))
            }
            Self { check: Some(s), .. } => (s.first(), PageAction::Check(sel(s)?, true)),
            Self { uncheck: Some(s), .. } => (s.first(), PageAction::Check(sel(s)?, false)),
            Self { click: Some(ClickValue::Selector(s)), .. } => {
                (s.first(), PageAction::Click(sel(s)?, Click { count: 1, ..Click::default() }))
            }
            Self { click: Some(ClickValue::Options(o)), .. } => {
                let button = match o.button.as_deref() {
                    None | Some("left") => MouseButton::Left,
                    Some("right") => MouseButton::Right,
                    Some("middle") => MouseButton::Middle,
                    Some(other) => {
                        return Err(at(format!("unknown button {other:?}; expected left, right or middle")));
                    }
                };
                let offset = match (o.offset_x, o.offset_y) {
                    (None, None) => None,
                    (x, y) => Some((x.unwrap_or(0.0), y.unwrap_or(0.0))),
                };
                let click = Click { button, count: if o.double { 2 } else { 1 }, offset, ..Click::default() };
                (o.selector.first(), PageAction::Click(sel(&o.selector)?, click))
            }
            Self { click_and_navigate: Some(s), .. } => {
                navigation = Some(ExpectedNavigation::default());
                (s.first(), PageAction::Click(sel(s)?, Click { count: 1, ..Click::default() }))
            }
            Self { hover: Some(s), .. } => (s.first(), PageAction::Hover(sel(s)?)),
            Self { press: Some(p), .. } => {
                let (name, selectors) = match p {
                    PressValue::Key(name) => (name, None),
                    PressValue::In { key, selector } => (key, Some(sel(selector)?)),
                };
                if key(name).is_none() {
                    return Err(at(format!(
                        "unknown key {name:?} (names such as Enter, Tab, Escape, ArrowDown, a)"
                    )));
                }
                (name.clone(), PageAction::Press(selectors, name.clone()))
            }
            Self { scroll: Some(s), .. } => match &s.selector {
                Some(selector) => (selector.first(), PageAction::ScrollElement(sel(selector)?, s.x, s.y)),
                None => (format!("to {},{}", s.x, s.y), PageAction::ScrollPage(s.x, s.y)),
            },
            Self { wait_for: Some(WaitForValue::Selector(s)), .. } => {
                (s.first(), PageAction::WaitForElement(sel(s)?, ElementCondition::default()))
            }
            Self { wait_for: Some(WaitForValue::Options(o)), .. } => {
                let operator = match o.operator.as_deref() {
                    None | Some(">=") => CountOperator::AtLeast,
                    Some("==") => CountOperator::Exactly,
                    Some("<=") => CountOperator::AtMost,
                    Some(other) => {
                        return Err(at(format!("unknown operator {other:?}; expected >=, == or <=")));
                    }
                };
                let condition = ElementCondition {
                    operator,
                    count: o.count.unwrap_or(1),
                    visible: o.visible.unwrap_or(true),
                    attributes: BTreeMap::new(),
                    properties: None,
                };
                (o.selector.first(), PageAction::WaitForElement(sel(&o.selector)?, condition))
            }
            Self { wait_for_navigation: Some(n), .. } => {
                navigation = Some(ExpectedNavigation { url: n.url.clone(), title: n.title.clone() });
                (n.url.clone().unwrap_or_default(), PageAction::WaitForNavigation)
            }
            Self { wait_for_expression: Some(e), .. } => {
                (e.clone(), PageAction::WaitForExpression(e.clone()))
            }
            Self { verify_text: Some(f), .. } => {
                (f.selector.first(), PageAction::VerifyText(sel(&f.selector)?, f.text.clone()))
            }
            Self { verify_selector: Some(s), .. } => {
                (s.first(), PageAction::WaitForElement(sel(s)?, ElementCondition::default()))
            }
            Self { screenshot: Some(name), .. } => (name.clone(), PageAction::Screenshot(name.clone())),
            Self { set_viewport: Some(v), .. } => (
                format!("{}x{}", v.width, v.height),
                PageAction::SetViewport(Viewport {
                    width: v.width,
                    height: v.height,
                    device_scale_factor: v.device_scale_factor.filter(|f| *f > 0.0).unwrap_or(1.0),
                    is_mobile: v.mobile,
                    has_touch: v.touch,
                    is_landscape: v.landscape,
                }),
            ),
            _ => unreachable!("one action is present"),
        };
        let name = self.name.clone().unwrap_or_else(|| {
            let subject = crate::spec::yaml::shorten(&subject).into_owned();
            if subject.is_empty() { action.to_string() } else { format!("{action} {subject}") }
        });
        let timeout = self.timeout.map(|t| t.0);
        Ok(PageStep { name, scope: Scope::default(), action: page_action, timeout, navigation })
    }
}

/// Checks every step, with problems at `steps[i]...`.
pub fn check_steps(steps: &[WorkflowStep], p: &mut Problems<'_>) {
    let list = KeyPath::root().key("steps");
    if steps.is_empty() {
        p.add(list.clone(), "`steps` must list at least one step");
    }
    for (i, step) in steps.iter().enumerate() {
        if let Err((key, message)) = step.to_page_step() {
            let at = list.index(i);
            p.add(key.map_or_else(|| at.clone(), |k| at.key(k)), message);
        }
        if step.timeout.is_some_and(|t| t.0.is_zero()) {
            p.add(list.index(i).key("timeout"), "timeout must be greater than 0");
        }
    }
}
