//! The CDP side of the page script (`page.js`): calls its operations on remote objects, keeps
//! the objects of one engine operation in one object group, and resolves accessibility queries.

use std::sync::atomic::{AtomicU64, Ordering};

use chromiumoxide::cdp::browser_protocol::accessibility::QueryAxTreeParams;
use chromiumoxide::cdp::browser_protocol::dom::ResolveNodeParams;
use chromiumoxide::cdp::js_protocol::runtime::{
    CallArgument, CallFunctionOnParams, EvaluateParams, ExceptionDetails, GetPropertiesParams,
    ReleaseObjectGroupParams, RemoteObject, RemoteObjectId,
};
use serde_json::Value;

use super::ActionError;
use crate::browser::BrowserPage;
use crate::browser::page::Tab;

const PAGE_SCRIPT: &str = include_str!("page.js");

static GROUPS: AtomicU64 = AtomicU64::new(1);

/// One engine operation's view of a tab: its remote objects live in one group, released on drop
/// of the operation (in [`Script::release`]).
pub(super) struct Script<'a> {
    pub page: &'a BrowserPage,
    pub tab: Tab,
    group: String,
}

/// An argument of a page-script call.
pub(super) enum Arg<'a> {
    Json(Value),
    Object(&'a RemoteObjectId),
}

impl<'a> Script<'a> {
    pub fn new(page: &'a BrowserPage, tab: Tab) -> Self {
        let group = format!("aviary-engine-{}", GROUPS.fetch_add(1, Ordering::Relaxed));
        Script { page, tab, group }
    }

    /// The tab's `window`, as a remote object.
    pub async fn window(&self) -> Result<RemoteObjectId, ActionError> {
        let params = EvaluateParams::builder()
            .expression("window")
            .object_group(self.group.clone())
            .build()
            .map_err(ActionError::Page)?;
        let result = self.page.call(&self.tab, "Runtime.evaluate", params).await?;
        check_exception(result.exception_details.as_ref())?;
        result.result.object_id.ok_or_else(|| ActionError::Page("the page has no window".to_string()))
    }

    /// Runs `op` of the page script with `this` = `on`; the result stays in the page.
    pub async fn call(
        &self,
        on: &RemoteObjectId,
        op: &str,
        args: Vec<Arg<'_>>,
    ) -> Result<RemoteObject, ActionError> {
        self.call_with(on, op, args, false).await
    }

    /// Runs `op` of the page script with `this` = `on`; the result comes back as JSON.
    pub async fn value(
        &self,
        on: &RemoteObjectId,
        op: &str,
        args: Vec<Arg<'_>>,
    ) -> Result<Value, ActionError> {
        Ok(self.call_with(on, op, args, true).await?.value.unwrap_or(Value::Null))
    }

    async fn call_with(
        &self,
        on: &RemoteObjectId,
        op: &str,
        args: Vec<Arg<'_>>,
        by_value: bool,
    ) -> Result<RemoteObject, ActionError> {
        let mut arguments =
            vec![CallArgument { value: Some(Value::String(op.to_string())), ..Default::default() }];
        arguments.extend(args.into_iter().map(|arg| match arg {
            Arg::Json(value) => CallArgument { value: Some(value), ..Default::default() },
            Arg::Object(id) => CallArgument { object_id: Some(id.clone()), ..Default::default() },
        }));
        let params = CallFunctionOnParams {
            function_declaration: PAGE_SCRIPT.to_string(),
            object_id: Some(on.clone()),
            arguments: Some(arguments),
            return_by_value: Some(by_value),
            await_promise: Some(true),
            object_group: Some(self.group.clone()),
            silent: Some(true),
            ..CallFunctionOnParams::new(String::new())
        };
        let result = self.page.call(&self.tab, "Runtime.callFunctionOn", params).await?;
        check_exception(result.exception_details.as_ref())?;
        Ok(result.result)
    }

    /// The elements of a page-script array, one remote object each.
    pub async fn items(&self, array: &RemoteObjectId) -> Result<Vec<RemoteObjectId>, ActionError> {
        let params =
            GetPropertiesParams { own_properties: Some(true), ..GetPropertiesParams::new(array.clone()) };
        let properties = self.page.call(&self.tab, "Runtime.getProperties", params).await?;
        let mut indexed: Vec<(usize, RemoteObjectId)> = properties
            .result
            .into_iter()
            .filter_map(|p| Some((p.name.parse::<usize>().ok()?, p.value?.object_id?)))
            .collect();
        indexed.sort_by_key(|(i, _)| *i);
        Ok(indexed.into_iter().map(|(_, id)| id).collect())
    }

    /// Elements under `root` with this accessible name and role (Chromium's accessibility tree).
    pub async fn aria(
        &self,
        root: &RemoteObjectId,
        name: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<RemoteObjectId>, ActionError> {
        let params = QueryAxTreeParams {
            object_id: Some(root.clone()),
            accessible_name: name.map(str::to_string),
            role: role.map(str::to_string),
            ..Default::default()
        };
        let tree = self.page.call(&self.tab, "Accessibility.queryAXTree", params).await?;
        // Nodes of a frame resolve into that frame's world unless told otherwise.
        let world = self.page.main_world(&self.tab).await;
        let mut found = Vec::new();
        for node in tree.nodes {
            let role =
                node.role.as_ref().and_then(|r| r.value.as_ref()).and_then(Value::as_str).unwrap_or_default();
            if node.ignored || role == "StaticText" || role == "InlineTextBox" {
                continue;
            }
            let Some(backend) = node.backend_dom_node_id else { continue };
            let params = ResolveNodeParams {
                backend_node_id: Some(backend),
                object_group: Some(self.group.clone()),
                execution_context_id: world,
                ..Default::default()
            };
            if let Ok(resolved) = self.page.call(&self.tab, "DOM.resolveNode", params).await
                && let Some(id) = resolved.object.object_id
            {
                found.push(id);
            }
        }
        Ok(found)
    }

    /// Frees every remote object of this operation.
    pub async fn release(self) {
        let params = ReleaseObjectGroupParams::new(self.group.clone());
        let _ = self.page.call(&self.tab, "Runtime.releaseObjectGroup", params).await;
    }
}

/// A page-script exception as an error: its message, first line.
fn check_exception(exception: Option<&ExceptionDetails>) -> Result<(), ActionError> {
    let Some(exception) = exception else { return Ok(()) };
    let detail = exception
        .exception
        .as_ref()
        .and_then(|e| e.description.clone())
        .unwrap_or_else(|| exception.text.clone());
    let line = detail.lines().next().unwrap_or_default();
    let line = line.strip_prefix("Error: ").unwrap_or(line);
    Err(ActionError::Page(line.to_string()))
}
