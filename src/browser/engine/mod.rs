//! The page-action engine: what a person does to a page (click, type, choose, press keys,
//! scroll, hover) and what a check waits for (an element, an expression, a navigation), for the
//! `flow` and `workflow` blueprints alike.
//!
//! Elements are found with [`Selectors`] as Chrome's Recorder writes them, the alternatives tried
//! in order: [`Matched`] says which one matched, so a step whose first selector no longer
//! matches can pass with a drift warning. An element action waits, up to its deadline, for the
//! element to be attached, visible, stable (the same box over two animation frames) and enabled,
//! then scrolls it into view and acts with real input events (`Input.dispatchMouseEvent`,
//! `Input.dispatchKeyEvent`), as @puppeteer/replay and Playwright do.
//!
//! Frames are reached through [`Scope::frame`] (indexes into child frames, as the Recorder's
//! `frame` writes them) or a selector chain through an `<iframe>`; both reach same-origin frames.
//! Popups opened by the page are reached through [`Scope::target`] (the popup's URL).

mod input;
mod keys;
mod locate;
mod ops;
mod script;
mod selector;

use std::collections::BTreeMap;
use std::time::Duration;

pub use keys::key;
pub use selector::{SelectorChain, SelectorError, SelectorPart, Selectors};

use super::BrowserError;

/// Where a step acts: the run's page or a popup it opened, and a frame in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `None` (or `main`): the run's page; otherwise the URL of a page it opened.
    pub target: Option<String>,
    /// Indexes into child frames, outermost first; empty for the top document.
    pub frame: Vec<usize>,
}

/// Which selector alternative found the element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// 0-based position in the list of alternatives.
    pub index: usize,
    /// The alternative, as written.
    pub selector: String,
}

impl Matched {
    /// The first-listed alternative did not match but a later one did.
    pub fn drifted(&self) -> bool {
        self.index > 0
    }
}

/// A mouse button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MouseButton {
    /// The primary button.
    #[default]
    Left,
    /// The auxiliary (wheel) button.
    Middle,
    /// The secondary button (context menu).
    Right,
    /// The browser-back button.
    Back,
    /// The browser-forward button.
    Forward,
}

/// How to click.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Click {
    /// Which button.
    pub button: MouseButton,
    /// 1 for a click, 2 for a double click.
    pub count: u8,
    /// From the element's top-left corner, in CSS pixels; `None` clicks its centre.
    pub offset: Option<(f64, f64)>,
    /// How long the button stays down.
    pub hold: Duration,
}

/// How a count of matched elements compares with the wanted count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CountOperator {
    /// At least (`>=`), the default.
    #[default]
    AtLeast,
    /// Exactly (`==`).
    Exactly,
    /// At most (`<=`).
    AtMost,
}

/// What `wait_for_element` waits for (the Recorder's `waitForElement`).
#[derive(Debug, Clone, PartialEq)]
pub struct ElementCondition {
    /// How the count compares.
    pub operator: CountOperator,
    /// The count to compare with (default 1).
    pub count: usize,
    /// `true`: wait until the condition holds; `false`: until it does not.
    pub visible: bool,
    /// Attributes every matched element must have, with these values.
    pub attributes: BTreeMap<String, String>,
    /// Properties every matched element must have (compared deeply).
    pub properties: Option<serde_json::Value>,
}

impl Default for ElementCondition {
    fn default() -> Self {
        Self {
            operator: CountOperator::AtLeast,
            count: 1,
            visible: true,
            attributes: BTreeMap::new(),
            properties: None,
        }
    }
}

/// A viewport to emulate (the Recorder's `setViewport`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    /// CSS pixels.
    pub width: u32,
    /// CSS pixels.
    pub height: u32,
    /// Device pixels per CSS pixel.
    pub device_scale_factor: f64,
    /// Emulate a mobile device (meta viewport, overlay scrollbars).
    pub is_mobile: bool,
    /// Emulate a touch screen.
    pub has_touch: bool,
    /// Landscape orientation.
    pub is_landscape: bool,
}

/// Network throttling (the Recorder's `emulateNetworkConditions`); all zero is offline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkConditions {
    /// Bytes per second; 0 with `upload` 0 means offline.
    pub download: f64,
    /// Bytes per second.
    pub upload: f64,
    /// Added round-trip latency, in milliseconds.
    pub latency: f64,
}

/// Where a document stood before an action, to tell whether the action navigated.
#[derive(Debug, Clone, PartialEq)]
pub struct NavigationMark {
    origin: f64,
    url: String,
}

/// The document after a navigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    /// Its URL.
    pub url: String,
    /// Its title.
    pub title: String,
}

/// Why a page action failed. Each message names what was tried and for how long.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The browser failed (crash, CDP deadline, navigation error).
    #[error(transparent)]
    Browser(#[from] BrowserError),
    /// No alternative matched an element before the deadline.
    #[error("no element matched within {waited}; tried {tried}")]
    NotFound {
        /// Every alternative, as written.
        tried: String,
        /// How long it waited.
        waited: String,
    },
    /// An element matched but never became ready for input.
    #[error("{selector}: {reason} (waited {waited})")]
    NotActionable {
        /// The alternative that matched.
        selector: String,
        /// The last reason it was not ready.
        reason: String,
        /// How long it waited.
        waited: String,
    },
    /// A condition did not hold before the deadline (what was expected and what was found).
    #[error("{0}")]
    Unmet(String),
    /// The page refused: an exception in the page, a select without that option, ...
    #[error("{0}")]
    Page(String),
    /// A key this keyboard does not have.
    #[error("unknown key `{0}` (use names such as Enter, Tab, Escape, ArrowDown, a, A, 1, F5)")]
    UnknownKey(String),
    /// No page with the step's target URL was opened.
    #[error("no page {target} was open within {waited}")]
    NoTarget {
        /// The target's URL.
        target: String,
        /// How long it waited.
        waited: String,
    },
}

impl ActionError {
    /// A deadline passed (rather than something going wrong).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Browser(BrowserError::Timeout(_)))
    }
}
