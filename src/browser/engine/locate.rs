//! Finding elements: each alternative's chain resolved part by part (CSS, XPath, pierce and text
//! in the page script; aria through Chromium's accessibility tree), the alternatives tried in the
//! order listed, and waiting for a match and for the element to take input.

use std::time::{Duration, Instant};

use chromiumoxide::cdp::js_protocol::runtime::RemoteObjectId;
use serde_json::{Value, json};

use super::script::{Arg, Script};
use super::selector::{SelectorChain, SelectorPart, Selectors};
use super::{ActionError, Matched, Scope};
use crate::fetch::format_duration;

/// How often a wait looks again.
pub(super) const POLL: Duration = Duration::from_millis(100);

/// The elements one alternative matched (a page-script array), and which alternative it was.
pub(super) struct Found {
    pub matched: Matched,
    pub elements: RemoteObjectId,
    pub count: usize,
}

impl Script<'_> {
    /// The document of the scope's frame, in a page-script array.
    pub async fn frame_root(&self, scope: &Scope) -> Result<RemoteObjectId, ActionError> {
        let window = self.window().await?;
        let root = self.call(&window, "frameRoot", vec![Arg::Json(json!(scope.frame))]).await?;
        root.object_id.ok_or_else(|| ActionError::Page("the frame has no document".to_string()))
    }

    /// Every element one chain matches, as a page-script array.
    async fn resolve_chain(
        &self,
        root: &RemoteObjectId,
        chain: &SelectorChain,
    ) -> Result<(RemoteObjectId, usize), ActionError> {
        let mut current = root.clone();
        for (i, part) in chain.parts.iter().enumerate() {
            let first = i == 0;
            let next = match part {
                SelectorPart::Aria { name, role } => {
                    let roots = self.call(&current, "searchRoots", vec![Arg::Json(json!(first))]).await?;
                    let roots =
                        roots.object_id.ok_or_else(|| ActionError::Page("no search roots".to_string()))?;
                    let mut found = Vec::new();
                    for root in self.items(&roots).await? {
                        found.extend(self.aria(&root, name.as_deref(), role.as_deref()).await?);
                    }
                    self.call(&current, "pack", found.iter().map(Arg::Object).collect()).await?
                }
                SelectorPart::Css(v)
                | SelectorPart::XPath(v)
                | SelectorPart::Pierce(v)
                | SelectorPart::Text(v) => {
                    let args =
                        vec![Arg::Json(json!(part.kind())), Arg::Json(json!(v)), Arg::Json(json!(first))];
                    self.call(&current, "query", args).await?
                }
            };
            current = next
                .object_id
                .ok_or_else(|| ActionError::Page("the selector query returned nothing".to_string()))?;
        }
        let count = self.value(&current, "count", vec![]).await?.as_u64().unwrap_or(0);
        Ok((current, usize::try_from(count).unwrap_or(usize::MAX)))
    }

    /// The first alternative, in the order listed, that matches at least one element now.
    pub async fn find(&self, scope: &Scope, selectors: &Selectors) -> Result<Option<Found>, ActionError> {
        let root = self.frame_root(scope).await?;
        for (index, chain) in selectors.alternatives.iter().enumerate() {
            let (elements, count) = match self.resolve_chain(&root, chain).await {
                Ok(found) => found,
                // A selector the page rejects (bad CSS or XPath) matches nothing; the others may.
                Err(ActionError::Page(_)) => continue,
                Err(e) => return Err(e),
            };
            if count > 0 {
                return Ok(Some(Found {
                    matched: Matched { index, selector: chain.to_string() },
                    elements,
                    count,
                }));
            }
        }
        Ok(None)
    }

    /// Waits until an alternative matches an element that takes input (attached, visible,
    /// stable, and enabled when `need_enabled`); returns it and the point to act at.
    pub async fn actionable(
        &self,
        scope: &Scope,
        selectors: &Selectors,
        offset: Option<(f64, f64)>,
        need_enabled: bool,
        deadline: Instant,
    ) -> Result<(Found, (f64, f64)), ActionError> {
        let started = Instant::now();
        let mut last_state: Option<(String, String)> = None;
        loop {
            if let Some(found) = self.find(scope, selectors).await? {
                let offset = offset.map_or(Value::Null, |(x, y)| json!([x, y]));
                let state = self
                    .value(
                        &found.elements,
                        "actionable",
                        vec![Arg::Json(offset), Arg::Json(json!(need_enabled))],
                    )
                    .await?;
                if state.get("ok").and_then(Value::as_bool) == Some(true) {
                    let coordinate = |k: &str| state.get(k).and_then(Value::as_f64).unwrap_or_default();
                    return Ok((found, (coordinate("x"), coordinate("y"))));
                }
                let reason = state.get("reason").and_then(Value::as_str).unwrap_or("not ready").to_string();
                last_state = Some((found.matched.selector, reason));
            }
            if Instant::now() >= deadline {
                let waited = format_duration(started.elapsed().max(Duration::from_millis(1)));
                return Err(match last_state {
                    Some((selector, reason)) => ActionError::NotActionable { selector, reason, waited },
                    None => ActionError::NotFound { tried: selectors.to_string(), waited },
                });
            }
            pause(deadline).await;
        }
    }
}

/// Sleeps one poll interval, or less when the deadline is nearer.
pub(super) async fn pause(deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(left.min(POLL)).await;
}
