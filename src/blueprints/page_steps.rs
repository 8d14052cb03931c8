//! Steps on a page, shared by the blueprints that drive one (`flow`, `workflow`): each step is an
//! action of the browser's page-action engine, run as one report step with its own deadline.
//! A selector that matched by a later alternative than the first passes with a drift warning.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::browser::engine::{
    ActionError, Click, ElementCondition, Matched, NavigationMark, NetworkConditions, Scope, Selectors,
    Viewport,
};
use crate::step::{RunContext, StepError, StepOutcome};

/// One step on a page.
#[derive(Debug, Clone)]
pub struct PageStep {
    /// Its name in the report (`click #submit`).
    pub name: String,
    /// The page (or popup) and frame it acts in.
    pub scope: Scope,
    /// What it does.
    pub action: PageAction,
    /// Its own deadline; the blueprint's default when `None`.
    pub timeout: Option<Duration>,
    /// The action must navigate, to this URL and title when given.
    pub navigation: Option<ExpectedNavigation>,
}

/// A navigation a step must cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedNavigation {
    /// The URL the page must land on.
    pub url: Option<String>,
    /// The title the new document must have.
    pub title: Option<String>,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum PageAction {
    /// Load a URL and wait for its `load` event.
    Navigate(String),
    /// Click (or double click) an element.
    Click(Selectors, Click),
    /// Move the mouse over an element.
    Hover(Selectors),
    /// Type into or choose a value of a form field.
    Fill(Selectors, String),
    /// Check (`true`) or uncheck a checkbox.
    Check(Selectors, bool),
    /// Press (`true`) or release a key.
    Key(String, bool),
    /// Press and release a key, in an element when given.
    Press(Option<Selectors>, String),
    /// Scroll the window.
    ScrollPage(f64, f64),
    /// Scroll an element's content.
    ScrollElement(Selectors, f64, f64),
    /// Wait for elements.
    WaitForElement(Selectors, ElementCondition),
    /// Wait for an expression to be true.
    WaitForExpression(String),
    /// Wait for an element whose text contains this.
    VerifyText(Selectors, String),
    /// Wait for the page to load a new document.
    WaitForNavigation,
    /// Emulate a viewport.
    SetViewport(Viewport),
    /// Throttle the network.
    EmulateNetwork(NetworkConditions),
    /// Take a named screenshot.
    Screenshot(String),
    /// Close the popup (nothing for the run's page, which the run closes).
    Close,
}

/// Runs the steps in order; after a step that does not pass, the rest are skipped.
pub async fn run_steps(
    ctx: &mut RunContext,
    steps: &[PageStep],
    default_timeout: Duration,
) -> Result<(), StepError> {
    let mut stopped: Option<String> = None;
    let mut drifted = 0u32;
    let mut carried: Option<NavigationMark> = None;
    for (i, step) in steps.iter().enumerate() {
        if let Some(why) = &stopped {
            ctx.skip_step(&step.name, why.clone());
            continue;
        }
        ctx.begin_step(&step.name).await;
        let timeout = step.timeout.unwrap_or(default_timeout).min(ctx.step_time_left());
        // A `wait for navigation` step waits for a navigation its previous step started.
        let before_next = match steps.get(i + 1) {
            Some(next) if matches!(next.action, PageAction::WaitForNavigation) => Some(&next.scope),
            _ => None,
        };
        let result = match mark_before(ctx, before_next, timeout).await {
            Ok(mark) => {
                let result = run_step(ctx, step, timeout, carried.take()).await;
                carried = mark;
                result
            }
            Err(e) => Err(e),
        };
        let result = match result {
            Ok((outcome, Some(matched))) if matched.drifted() => {
                drifted += 1;
                ctx.log(format!(
                    "step {} `{}`: selector drift: the first selector no longer matches; matched alternative {} `{}`",
                    i + 1,
                    step.name,
                    matched.index + 1,
                    matched.selector
                ));
                let mut details = Map::new();
                details.insert("selector_drift".into(), json!(true));
                ctx.add_step_details(details);
                Ok(outcome)
            }
            Ok((outcome, _)) => Ok(outcome),
            Err(e) => Err(e),
        };
        if !ctx.end_step(result).await {
            stopped = Some(format!("not run: step {} `{}` did not pass", i + 1, step.name));
        }
    }
    ctx.details.insert("selector_drift".into(), json!(drifted));
    Ok(())
}

/// Where the page stands before a step, when the step after it waits for a navigation.
async fn mark_before(
    ctx: &mut RunContext,
    scope: Option<&Scope>,
    timeout: Duration,
) -> Result<Option<NavigationMark>, StepError> {
    let Some(scope) = scope else { return Ok(None) };
    let page = ctx.page().await?;
    let mark = page.navigation_mark(scope, Instant::now() + timeout).await;
    Ok(Some(mark.map_err(|e| action_error(e, timeout))?))
}

/// Runs one step's action (without beginning or ending a report step): the `script` blueprint
/// drives the page action by action through it.
pub(crate) async fn run_step(
    ctx: &mut RunContext,
    step: &PageStep,
    timeout: Duration,
    carried: Option<NavigationMark>,
) -> Result<(StepOutcome, Option<Matched>), StepError> {
    let deadline = Instant::now() + timeout;
    if let PageAction::Screenshot(label) = &step.action {
        let file = ctx.named_screenshot(label).await?;
        let mut details = Map::new();
        details.insert("screenshot".into(), json!(file));
        return Ok((StepOutcome { url: None, details }, None));
    }
    let page = ctx.page().await?;
    let scope = &step.scope;
    let failed = |e: ActionError| action_error(e, timeout);
    // Where the page stands before the navigation this step waits for: a `wait for navigation`
    // step measures from before the step that started it, any other step from before itself.
    let mark = match (&step.action, carried) {
        (PageAction::WaitForNavigation, Some(mark)) => Some(mark),
        _ if step.navigation.is_some() || matches!(step.action, PageAction::WaitForNavigation) => {
            Some(page.navigation_mark(scope, deadline).await.map_err(failed)?)
        }
        _ => None,
    };
    let mut details = Map::new();
    let mut url = None;
    let matched = match &step.action {
        PageAction::Navigate(target) => {
            let nav = page.goto(target, timeout).await?;
            details.insert("status".into(), json!(nav.status));
            details.insert("load_ms".into(), json!(nav.load_ms));
            url = Some(nav.url);
            None
        }
        PageAction::Click(selectors, click) => Some(page.click(scope, selectors, click, deadline).await),
        PageAction::Hover(selectors) => Some(page.hover(scope, selectors, deadline).await),
        PageAction::Fill(selectors, value) => Some(page.fill(scope, selectors, value, deadline).await),
        PageAction::Check(selectors, checked) => {
            Some(page.set_checked(scope, selectors, *checked, deadline).await)
        }
        PageAction::Key(key, down) => {
            page.key(scope, key, *down, deadline).await.map_err(failed)?;
            None
        }
        PageAction::Press(selectors, key) => {
            page.press(scope, selectors.as_ref(), key, deadline).await.map_err(failed)?.map(Ok)
        }
        PageAction::ScrollPage(x, y) => {
            page.scroll_to(scope, *x, *y, deadline).await.map_err(failed)?;
            None
        }
        PageAction::ScrollElement(selectors, x, y) => {
            Some(page.scroll_element(scope, selectors, *x, *y, deadline).await)
        }
        PageAction::WaitForElement(selectors, condition) => {
            page.wait_for_element(scope, selectors, condition, deadline).await.map_err(failed)?.map(Ok)
        }
        PageAction::WaitForExpression(expression) => {
            page.wait_for_expression(scope, expression, deadline).await.map_err(failed)?;
            None
        }
        PageAction::VerifyText(selectors, text) => {
            let (matched, found) =
                page.wait_for_text(scope, selectors, text, deadline).await.map_err(failed)?;
            details.insert("text".into(), Value::String(crate::spec::yaml::shorten(&found).into_owned()));
            Some(Ok(matched))
        }
        PageAction::WaitForNavigation => None,
        PageAction::SetViewport(viewport) => {
            page.set_viewport(viewport, deadline).await.map_err(failed)?;
            None
        }
        PageAction::EmulateNetwork(conditions) => {
            page.emulate_network(conditions, deadline).await.map_err(failed)?;
            None
        }
        PageAction::Close => {
            page.close_target(scope, deadline).await.map_err(failed)?;
            None
        }
        PageAction::Screenshot(_) => unreachable!("handled above"),
    };
    let matched = matched.transpose().map_err(failed)?;
    if let Some(m) = &matched {
        details.insert("selector".into(), json!(m.selector));
        details.insert("selector_index".into(), json!(m.index));
    }
    if let Some(mark) = mark {
        let landed = page.wait_for_navigation(scope, &mark, deadline).await.map_err(failed)?;
        let expected = step.navigation.clone().unwrap_or_default();
        if let Some(want) = expected.url.filter(|u| *u != landed.url) {
            return Err(StepError::Failed(format!(
                "expected navigation to {want}, landed on {}",
                landed.url
            )));
        }
        if let Some(want) = expected.title.filter(|t| *t != landed.title) {
            return Err(StepError::Failed(format!("expected the title {want:?}, found {:?}", landed.title)));
        }
        url = Some(landed.url);
    }
    Ok((StepOutcome { url, details }, matched))
}

/// An engine failure as a step failure: the page not doing what the step expects fails the run,
/// a browser failure is the browser's (error or timeout).
pub(crate) fn action_error(e: ActionError, timeout: Duration) -> StepError {
    match e {
        ActionError::Browser(e) => e.into(),
        ActionError::UnknownKey(_) => StepError::Error(e.to_string()),
        other => {
            StepError::Failed(format!("{other} (step timeout {})", crate::fetch::format_duration(timeout)))
        }
    }
}
