//! Visual monitoring: load a page, take a stable screenshot ([`shot`]), compare it with the
//! canary's baseline ([`baseline`]) through [`crate::visual`], and report both shares of
//! differing pixels, the changed regions and the diff picture ([`report`]).

pub mod baseline;
mod report;
pub mod shot;

use std::path::{Path, PathBuf};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{Blueprint, BuildError, Runnable, SentValues, check_section, settings};
use crate::spec::de::Located;
use crate::spec::validate::{Problems, check_url, is_valid_name};
use crate::spec::{Canary, KeyPath, Section};
use crate::step::{RunContext, StepError};
use crate::visual::Rect;

/// The visual blueprint, as the registry lists it.
pub static VISUAL: VisualBlueprint = VisualBlueprint;

/// Ignore areas a canary may list.
pub const MAX_IGNORE: usize = 20;
/// Selectors `hide:` may list.
pub const MAX_HIDE: usize = 50;
/// The tallest full-page screenshot `max_height` allows.
pub const MAX_HEIGHT_LIMIT: u32 = 100_000;

/// Where visual baselines live under a data folder.
pub fn baselines_root(data_dir: &Path) -> PathBuf {
    data_dir.join("baselines")
}

/// `visual:` — the section of a visual canary (`docs/visual.md`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The page, loaded in Chromium.
    pub url: String,
    /// Over this share of differing pixels (percent), the run fails; default 1.
    #[serde(default = "Settings::default_threshold_percent")]
    pub threshold_percent: f64,
    /// Over this share of differing pixels in any 64×64 window (percent), the run fails;
    /// default 10.
    #[serde(default = "Settings::default_window_threshold_percent")]
    pub window_threshold_percent: f64,
    /// Per-pixel perceptual (YIQ) distance under which two pixels count as alike, 0..1;
    /// default 0.1.
    #[serde(default = "Settings::default_pixel_threshold")]
    pub pixel_threshold: f64,
    /// Areas left out of the comparison: rectangles or the boxes of a selector's elements.
    #[serde(default)]
    pub ignore: Vec<IgnoreArea>,
    /// Selectors of elements made invisible before the shot (their space kept).
    #[serde(default)]
    pub hide: Vec<String>,
    /// Screenshot the whole page instead of the viewport; default `false`.
    #[serde(default)]
    pub full_page: bool,
    /// A whole-page screenshot is cut at this height (pixels); default 20000.
    #[serde(default = "Settings::default_max_height")]
    pub max_height: u32,
    /// Which screenshot is the baseline; default `first_run`.
    #[serde(default = "Settings::default_baseline")]
    pub baseline: String,
    /// The colour of differing pixels in `diff.png`; default `#fafa00`.
    #[serde(default = "Settings::default_highlight_color")]
    pub highlight_color: String,
    /// Fail the run when the page differs beyond the thresholds; default `true`.
    #[serde(default = "Settings::default_fail_on_variance")]
    pub fail_on_variance: bool,
    /// The screenshot's name: its baseline folder; default `page`.
    #[serde(default = "Settings::default_name")]
    pub name: String,
}

impl Settings {
    fn default_threshold_percent() -> f64 {
        1.0
    }
    fn default_window_threshold_percent() -> f64 {
        10.0
    }
    fn default_pixel_threshold() -> f64 {
        crate::visual::DEFAULT_PIXEL_THRESHOLD
    }
    fn default_max_height() -> u32 {
        20_000
    }
    fn default_baseline() -> String {
        "first_run".to_string()
    }
    fn default_highlight_color() -> String {
        "#fafa00".to_string()
    }
    fn default_fail_on_variance() -> bool {
        true
    }
    fn default_name() -> String {
        "page".to_string()
    }
}

/// One `ignore:` entry: a rectangle (`x`, `y`, `width`, `height`) or a `selector`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreArea {
    /// Left edge, in pixels of the screenshot.
    pub x: Option<u32>,
    /// Top edge.
    pub y: Option<u32>,
    /// Width.
    pub width: Option<u32>,
    /// Height.
    pub height: Option<u32>,
    /// A CSS selector: the boxes of every element it matches.
    pub selector: Option<String>,
}

impl IgnoreArea {
    /// The rectangle, when the entry is one.
    pub fn rect(&self) -> Option<Rect> {
        match (self.x, self.y, self.width, self.height, &self.selector) {
            (Some(x), Some(y), Some(width), Some(height), None) => Some(Rect { x, y, width, height }),
            _ => None,
        }
    }
}

/// Which screenshot a canary compares against (CloudWatch's choices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineChoice {
    /// The first run's screenshot, kept until approved or updated.
    FirstRun,
    /// The next run after the canary's visual settings change makes a new baseline.
    NextRun,
    /// The latest earlier run's screenshot becomes the baseline when the settings change.
    LastRun,
    /// That run's screenshot (a whole id or a unique prefix).
    Run(String),
}

impl BaselineChoice {
    /// Reads `baseline:`.
    pub fn parse(text: &str) -> Result<BaselineChoice, String> {
        match text {
            "first_run" => Ok(Self::FirstRun),
            "next_run" => Ok(Self::NextRun),
            "last_run" => Ok(Self::LastRun),
            id if id.len() >= crate::store::MIN_RUN_ID_PREFIX
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') =>
            {
                Ok(Self::Run(id.to_ascii_lowercase()))
            }
            other => Err(format!(
                "expected first_run, next_run, last_run or a run id (at least {} characters of one, from \
                 `aviary runs CANARY`), found `{other}`",
                crate::store::MIN_RUN_ID_PREFIX
            )),
        }
    }
}

fn check_selector(selector: &str, path: KeyPath, p: &mut Problems<'_>) {
    if selector.trim().is_empty() {
        p.add(path, "a selector must not be empty");
    } else if scraper::Selector::parse(selector).is_err() {
        p.add(path, format!("`{selector}` is not a valid CSS selector"));
    }
}

fn check_settings(s: &Settings, p: &mut Problems<'_>) {
    let root = KeyPath::root();
    check_url(&s.url, root.key("url"), p);
    for (key, value, max) in [
        ("threshold_percent", s.threshold_percent, 100.0),
        ("window_threshold_percent", s.window_threshold_percent, 100.0),
        ("pixel_threshold", s.pixel_threshold, 1.0),
    ] {
        if !(0.0..=max).contains(&value) {
            p.add(root.key(key), format!("{key} must be 0..={max}, got {value}"));
        }
    }
    if s.ignore.len() > MAX_IGNORE {
        p.add(root.key("ignore"), format!("at most {MAX_IGNORE} ignore areas, got {}", s.ignore.len()));
    }
    for (i, area) in s.ignore.iter().enumerate() {
        let path = root.key("ignore").index(i);
        let numbers = [area.x, area.y, area.width, area.height];
        match (&area.selector, numbers.iter().filter(|n| n.is_some()).count()) {
            (Some(selector), 0) => check_selector(selector, path.key("selector"), p),
            (None, 4) if area.width == Some(0) || area.height == Some(0) => {
                p.add(path, "an ignore area's width and height must be at least 1");
            }
            (None, 4) => {}
            (Some(_), _) => p.add(path, "an ignore area is either {selector: ...} or {x, y, width, height}, not both"),
            (None, _) => p.add(
                path,
                "an ignore area needs all of x, y, width and height (pixels), or a selector: e.g. {x: 0, y: 0, \
                 width: 300, height: 40} or {selector: \"#clock\"}",
            ),
        }
    }
    if s.hide.len() > MAX_HIDE {
        p.add(root.key("hide"), format!("at most {MAX_HIDE} selectors, got {}", s.hide.len()));
    }
    for (i, selector) in s.hide.iter().enumerate() {
        check_selector(selector, root.key("hide").index(i), p);
    }
    if !(1..=MAX_HEIGHT_LIMIT).contains(&s.max_height) {
        p.add(
            root.key("max_height"),
            format!("max_height must be 1..={MAX_HEIGHT_LIMIT}, got {}", s.max_height),
        );
    }
    if let Err(e) = BaselineChoice::parse(&s.baseline) {
        p.add(root.key("baseline"), e);
    }
    if let Err(e) = crate::visual::render::parse_color(&s.highlight_color) {
        p.add(root.key("highlight_color"), e);
    }
    if !is_valid_name(&s.name) {
        p.add(
            root.key("name"),
            format!("invalid screenshot name `{}`: use 1 to 64 of A-Z a-z 0-9 _ -", s.name),
        );
    }
}

/// Compares a page's screenshot with its baseline.
pub struct VisualBlueprint;

impl Blueprint for VisualBlueprint {
    fn name(&self) -> &'static str {
        "visual"
    }

    fn template(&self) -> &'static str {
        include_str!("../../../blueprints/visual.yaml")
    }

    fn uses_browser(&self) -> bool {
        true
    }

    fn check(&self, section: &Section, tainted: &[KeyPath], _file: &Path) -> Vec<Located> {
        check_section(section, tainted, check_settings)
    }

    fn section_keys(&self) -> &'static [&'static str] {
        crate::spec::de::struct_keys::<Settings>()
    }

    fn build(&self, canary: &Canary) -> Result<Box<dyn Runnable>, BuildError> {
        let settings: Settings = settings(canary)?;
        let invalid = |problem: String| BuildError::InvalidSection { canary: canary.name.clone(), problem };
        let choice = BaselineChoice::parse(&settings.baseline).map_err(&invalid)?;
        let highlight = crate::visual::render::parse_color(&settings.highlight_color).map_err(&invalid)?;
        let viewport = &canary.spec.browser.viewport;
        Ok(Box::new(Visual { viewport: (viewport.width, viewport.height), choice, highlight, settings }))
    }

    fn sent_values(&self, canary: &Canary) -> SentValues {
        let urls = settings::<Settings>(canary).map(|s| vec![s.url]).unwrap_or_default();
        SentValues { urls, ..SentValues::default() }
    }
}

/// A visual canary's run.
pub(crate) struct Visual {
    settings: Settings,
    viewport: (u32, u32),
    choice: BaselineChoice,
    highlight: [u8; 3],
}

impl Visual {
    /// `1920x1080`: the viewport's part of the baseline folder.
    fn viewport_key(&self) -> String {
        format!("{}x{}", self.viewport.0, self.viewport.1)
    }

    /// What decides what the screenshot shows, with the baseline choice: a new value means the
    /// canary's settings changed (for `next_run`, `last_run` and a run id).
    fn setting(&self) -> String {
        let s = &self.settings;
        let shown = format!("{}\n{:?}\n{}\n{}\n{}", s.url, s.hide, s.full_page, s.max_height, s.name);
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let hash = shown
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        format!("{}#{hash:016x}", s.baseline)
    }
}

impl Runnable for Visual {
    fn run<'a>(&'a self, ctx: &'a mut RunContext) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            // The shot is the step's picture: `visual/current.png`.
            ctx.step_screenshots = false;
            ctx.begin_step(&format!("load {}", self.settings.url)).await;
            let shot = match shot::take(ctx, &self.settings).await {
                Ok(shot) => shot,
                Err(e) => {
                    ctx.end_step(Err(e)).await;
                    return Ok(());
                }
            };
            let loaded = crate::step::StepOutcome { url: Some(shot.url.clone()), details: shot.details() };
            ctx.end_step(Ok(loaded)).await;
            ctx.begin_step(&format!("compare {}", self.settings.name)).await;
            let result = report::compare(ctx, self, shot).await;
            ctx.end_step(result).await;
            Ok(())
        }
        .boxed()
    }
}
