//! The engine's actions on a [`BrowserPage`]: each finds its tab (the page or a popup), waits as
//! its kind needs, acts, and frees the remote objects it made.

use std::time::Instant;

use chromiumoxide::cdp::browser_protocol::emulation::{
    ScreenOrientation, ScreenOrientationType, SetDeviceMetricsOverrideParams, SetTouchEmulationEnabledParams,
};
// The protocol marks it deprecated for `emulateNetworkConditionsByRule`, which Chromium 156 and
// Puppeteer do not need yet; it still throttles every request of the page.
#[allow(deprecated)]
use chromiumoxide::cdp::browser_protocol::network::EmulateNetworkConditionsParams;
use serde_json::{Value, json};

use super::locate::pause;
use super::script::{Arg, Script};
use super::{
    ActionError, Click, CountOperator, ElementCondition, Landed, Matched, NavigationMark, NetworkConditions,
    Scope, Selectors, Viewport,
};
use crate::browser::BrowserPage;
use crate::browser::page::Tab;
use crate::fetch::format_duration;

impl BrowserPage {
    /// The tab a scope names: the run's page, or the popup with that URL (waited for).
    async fn scope_tab(&self, scope: &Scope, deadline: Instant) -> Result<Tab, ActionError> {
        let Some(target) = scope.target.as_deref().filter(|t| *t != "main") else {
            return Ok(self.tab().await);
        };
        let started = Instant::now();
        loop {
            if let Some(tab) = self.popup(target).await? {
                return Ok(tab);
            }
            if Instant::now() >= deadline {
                let waited = format_duration(started.elapsed());
                return Err(ActionError::NoTarget { target: target.to_string(), waited });
            }
            pause(deadline).await;
        }
    }

    async fn script(&self, scope: &Scope, deadline: Instant) -> Result<Script<'_>, ActionError> {
        Ok(Script::new(self, self.scope_tab(scope, deadline).await?))
    }

    /// Runs `body` with a fresh script view of the scope's tab, then frees its objects.
    async fn with_script<T>(
        &self,
        scope: &Scope,
        deadline: Instant,
        body: impl AsyncFnOnce(&Script<'_>) -> Result<T, ActionError>,
    ) -> Result<T, ActionError> {
        let script = self.script(scope, deadline).await?;
        let result = body(&script).await;
        script.release().await;
        result
    }

    /// Clicks (or double-clicks) the element once it takes input.
    pub async fn click(
        &self,
        scope: &Scope,
        selectors: &Selectors,
        click: &Click,
        deadline: Instant,
    ) -> Result<Matched, ActionError> {
        self.with_script(scope, deadline, async |s| {
            let (found, point) = s.actionable(scope, selectors, click.offset, true, deadline).await?;
            self.click_at(&s.tab, point, click).await?;
            Ok(found.matched)
        })
        .await
    }

    /// Moves the mouse over the element once it is visible and stable.
    pub async fn hover(
        &self,
        scope: &Scope,
        selectors: &Selectors,
        deadline: Instant,
    ) -> Result<Matched, ActionError> {
        self.with_script(scope, deadline, async |s| {
            let (found, point) = s.actionable(scope, selectors, None, false, deadline).await?;
            self.move_mouse(&s.tab, point).await?;
            Ok(found.matched)
        })
        .await
    }

    /// Sets a form field's value as a person would: types into text fields (only what is not
    /// there yet), chooses a select's option (by value, then by its text), sets other inputs.
    pub async fn fill(
        &self,
        scope: &Scope,
        selectors: &Selectors,
        value: &str,
        deadline: Instant,
    ) -> Result<Matched, ActionError> {
        self.with_script(scope, deadline, async |s| {
            let (found, _) = s.actionable(scope, selectors, None, true, deadline).await?;
            if let Some(rest) =
                s.value(&found.elements, "fill", vec![Arg::Json(json!(value))]).await?.as_str()
            {
                self.type_text(&s.tab, rest).await?;
            }
            Ok(found.matched)
        })
        .await
    }

    /// Checks or unchecks a checkbox (or checks a radio button) by clicking it when its state
    /// differs.
    pub async fn set_checked(
        &self,
        scope: &Scope,
        selectors: &Selectors,
        checked: bool,
        deadline: Instant,
    ) -> Result<Matched, ActionError> {
        self.with_script(scope, deadline, async |s| {
            let (found, point) = s.actionable(scope, selectors, None, true, deadline).await?;
            let toggle = s.value(&found.elements, "needsToggle", vec![Arg::Json(json!(checked))]).await?;
            if toggle.as_bool() == Some(true) {
                self.click_at(&s.tab, point, &Click { count: 1, ..Click::default() }).await?;
            }
            Ok(found.matched)
        })
        .await
    }

    /// Presses (`down`) or releases a key in the focused element of the scope's tab.
    pub async fn key(
        &self,
        scope: &Scope,
        name: &str,
        down: bool,
        deadline: Instant,
    ) -> Result<(), ActionError> {
        let tab = self.scope_tab(scope, deadline).await?;
        self.key_event(&tab, name, down).await
    }

    /// Presses and releases a key, optionally after focusing an element.
    pub async fn press(
        &self,
        scope: &Scope,
        selectors: Option<&Selectors>,
        name: &str,
        deadline: Instant,
    ) -> Result<Option<Matched>, ActionError> {
        super::key(name).ok_or_else(|| ActionError::UnknownKey(name.to_string()))?;
        let matched = match selectors {
            Some(selectors) => Some(
                self.with_script(scope, deadline, async |s| {
                    let (found, point) = s.actionable(scope, selectors, None, true, deadline).await?;
                    self.click_at(&s.tab, point, &Click { count: 1, ..Click::default() }).await?;
                    Ok(found.matched)
                })
                .await?,
            ),
            None => None,
        };
        self.key(scope, name, true, deadline).await?;
        self.key(scope, name, false, deadline).await?;
        Ok(matched)
    }

    /// Scrolls the frame's window to `(x, y)`.
    pub async fn scroll_to(
        &self,
        scope: &Scope,
        x: f64,
        y: f64,
        deadline: Instant,
    ) -> Result<(), ActionError> {
        self.with_script(scope, deadline, async |s| {
            let window = s.window().await?;
            let args = vec![Arg::Json(json!(scope.frame)), Arg::Json(json!(x)), Arg::Json(json!(y))];
            s.call(&window, "scrollWindow", args).await.map(drop)
        })
        .await
    }

    /// Scrolls an element's content to `(x, y)` once the element is visible.
    pub async fn scroll_element(
        &self,
        scope: &Scope,
        selectors: &Selectors,
        x: f64,
        y: f64,
        deadline: Instant,
    ) -> Result<Matched, ActionError> {
        self.with_script(scope, deadline, async |s| {
            let (found, _) = s.actionable(scope, selectors, None, false, deadline).await?;
            s.call(&found.elements, "scrollElement", vec![Arg::Json(json!(x)), Arg::Json(json!(y))]).await?;
            Ok(found.matched)
        })
        .await
    }

    /// Waits until the elements an alternative matches meet `condition` (count, attributes,
    /// properties), or — with `visible: false` — until they no longer do. Returns the
    /// alternative that matched, if any did.
    pub async fn wait_for_element(
        &self,
        scope: &Scope,
        selectors: &Selectors,
        condition: &ElementCondition,
        deadline: Instant,
    ) -> Result<Option<Matched>, ActionError> {
        let started = Instant::now();
        self.with_script(scope, deadline, async |s| {
            loop {
                let found = s.find(scope, selectors).await?;
                let count = found.as_ref().map_or(0, |f| f.count);
                let mut holds = match condition.operator {
                    CountOperator::AtLeast => count >= condition.count,
                    CountOperator::Exactly => count == condition.count,
                    CountOperator::AtMost => count <= condition.count,
                };
                if holds
                    && let Some(found) = &found
                    && (!condition.attributes.is_empty() || condition.properties.is_some())
                {
                    let args = vec![
                        Arg::Json(json!(condition.attributes)),
                        Arg::Json(condition.properties.clone().unwrap_or(Value::Null)),
                    ];
                    holds = s.value(&found.elements, "matches", args).await?.as_bool() == Some(true);
                }
                if holds == condition.visible {
                    return Ok(found.map(|f| f.matched));
                }
                if Instant::now() >= deadline {
                    let wanted = match condition.operator {
                        CountOperator::AtLeast => format!("at least {}", condition.count),
                        CountOperator::Exactly => format!("exactly {}", condition.count),
                        CountOperator::AtMost => format!("at most {}", condition.count),
                    };
                    let not = if condition.visible { "" } else { "no longer " };
                    let extra = if condition.attributes.is_empty() && condition.properties.is_none() {
                        ""
                    } else {
                        " with the attributes and properties asked for"
                    };
                    return Err(ActionError::Unmet(format!(
                        "waited {} for {not}{wanted} element(s){extra} matching {selectors}; found {count}",
                        format_duration(started.elapsed())
                    )));
                }
                pause(deadline).await;
            }
        })
        .await
    }

    /// Waits until a JavaScript expression (awaited when a promise) is truthy in the scope's frame.
    pub async fn wait_for_expression(
        &self,
        scope: &Scope,
        expression: &str,
        deadline: Instant,
    ) -> Result<(), ActionError> {
        let started = Instant::now();
        self.with_script(scope, deadline, async |s| {
            let window = s.window().await?;
            loop {
                let args = vec![Arg::Json(json!(scope.frame)), Arg::Json(json!(expression))];
                let (holds, last) = match s.value(&window, "evaluate", args).await {
                    Ok(value) => (truthy(&value), value.to_string()),
                    Err(ActionError::Page(message)) => (false, format!("an error: {message}")),
                    Err(e) => return Err(e),
                };
                if holds {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(ActionError::Unmet(format!(
                        "waited {} for `{expression}` to be true; it was {last}",
                        format_duration(started.elapsed())
                    )));
                }
                pause(deadline).await;
            }
        })
        .await
    }

    /// Waits until an element's text (a form field's value) contains `expected`; returns the
    /// alternative that matched and the text found.
    pub async fn wait_for_text(
        &self,
        scope: &Scope,
        selectors: &Selectors,
        expected: &str,
        deadline: Instant,
    ) -> Result<(Matched, String), ActionError> {
        let started = Instant::now();
        self.with_script(scope, deadline, async |s| {
            let mut seen: Option<String> = None;
            loop {
                if let Some(found) = s.find(scope, selectors).await? {
                    let text = s
                        .value(&found.elements, "text", vec![])
                        .await?
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    if normalize(&text).contains(&normalize(expected)) {
                        return Ok((found.matched, text));
                    }
                    seen = Some(text);
                }
                if Instant::now() >= deadline {
                    let waited = format_duration(started.elapsed());
                    return Err(match seen {
                        Some(text) => ActionError::Unmet(format!(
                            "expected text {expected:?} in {selectors}, found {:?} (waited {waited})",
                            crate::spec::yaml::shorten(&normalize(&text))
                        )),
                        None => ActionError::NotFound { tried: selectors.to_string(), waited },
                    });
                }
                pause(deadline).await;
            }
        })
        .await
    }

    /// Emulates a viewport until the page closes (screenshots keep it).
    pub async fn set_viewport(&self, viewport: &Viewport, deadline: Instant) -> Result<(), ActionError> {
        let tab = self.scope_tab(&Scope::default(), deadline).await?;
        let orientation = if viewport.is_landscape {
            ScreenOrientation::new(ScreenOrientationType::LandscapePrimary, 90)
        } else {
            ScreenOrientation::new(ScreenOrientationType::PortraitPrimary, 0)
        };
        let metrics = SetDeviceMetricsOverrideParams {
            screen_orientation: Some(orientation),
            ..SetDeviceMetricsOverrideParams::new(
                i64::from(viewport.width.max(1)),
                i64::from(viewport.height.max(1)),
                viewport.device_scale_factor,
                viewport.is_mobile,
            )
        };
        self.call(&tab, "Emulation.setDeviceMetricsOverride", metrics).await?;
        let touch = SetTouchEmulationEnabledParams::new(viewport.has_touch);
        self.call(&tab, "Emulation.setTouchEmulationEnabled", touch).await?;
        self.set_emulated_viewport(*viewport);
        Ok(())
    }

    /// Throttles the page's network (all zero: offline).
    pub async fn emulate_network(
        &self,
        conditions: &NetworkConditions,
        deadline: Instant,
    ) -> Result<(), ActionError> {
        let tab = self.scope_tab(&Scope::default(), deadline).await?;
        let offline = conditions.download <= 0.0 && conditions.upload <= 0.0;
        let throughput = |v: f64| if v <= 0.0 && !offline { -1.0 } else { v };
        #[allow(deprecated)]
        let params = EmulateNetworkConditionsParams::new(
            offline,
            conditions.latency,
            throughput(conditions.download),
            throughput(conditions.upload),
        );
        self.call(&tab, "Network.emulateNetworkConditions", params).await?;
        Ok(())
    }

    /// Where the scope's document stands, before an action that may navigate.
    pub async fn navigation_mark(
        &self,
        scope: &Scope,
        deadline: Instant,
    ) -> Result<NavigationMark, ActionError> {
        let state = self.nav_state(scope, deadline).await?;
        Ok(NavigationMark { origin: state.origin, url: state.url })
    }

    /// Waits until the scope's frame has a new document (or a new URL in the same document)
    /// that finished loading, after `mark`.
    pub async fn wait_for_navigation(
        &self,
        scope: &Scope,
        mark: &NavigationMark,
        deadline: Instant,
    ) -> Result<Landed, ActionError> {
        let started = Instant::now();
        loop {
            // During the switch from one document to the next the page may not answer at once.
            let state = self.nav_state(scope, deadline).await;
            match state {
                Ok(state)
                    if (state.origin != mark.origin || state.url != mark.url)
                        && state.ready == "complete" =>
                {
                    return Ok(Landed { url: state.url, title: state.title });
                }
                Err(ActionError::Browser(e @ crate::browser::BrowserError::Crashed(_))) => {
                    return Err(e.into());
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(ActionError::Unmet(format!(
                    "expected a navigation; the page stayed at {} for {}",
                    mark.url,
                    format_duration(started.elapsed())
                )));
            }
            pause(deadline).await;
        }
    }

    async fn nav_state(&self, scope: &Scope, deadline: Instant) -> Result<NavState, ActionError> {
        self.with_script(scope, deadline, async |s| {
            let window = s.window().await?;
            let value = s.value(&window, "navState", vec![Arg::Json(json!(scope.frame))]).await?;
            let text = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            Ok(NavState {
                ready: text("ready"),
                origin: value.get("origin").and_then(Value::as_f64).unwrap_or_default(),
                url: text("url"),
                title: text("title"),
            })
        })
        .await
    }

    /// The scope's document URL and title now.
    pub async fn location(&self, scope: &Scope, deadline: Instant) -> Result<Landed, ActionError> {
        let state = self.nav_state(scope, deadline).await?;
        Ok(Landed { url: state.url, title: state.title })
    }

    /// Closes a popup; for the run's page, leaves it for the run to close.
    pub async fn close_target(&self, scope: &Scope, deadline: Instant) -> Result<(), ActionError> {
        match scope.target.as_deref().filter(|t| *t != "main") {
            Some(_) => {
                let tab = self.scope_tab(scope, deadline).await?;
                self.close_popup(&tab).await?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

struct NavState {
    ready: String,
    origin: f64,
    url: String,
    title: String,
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
