//! Popups (`window.open`, links with `target=_blank`) stay usable up to [`MAX_POPUPS`] open at
//! once per run; beyond that the newest are closed as they open, so a page that opens windows
//! in a loop cannot exhaust the browser. Popups answer their dialogs like the run's own tab.

use std::collections::{HashMap, HashSet};
use std::sync::Weak;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::target::{
    CloseTargetParams, EventTargetCreated, EventTargetDestroyed, TargetId,
};
use futures::StreamExt;

use super::dialogs::dismiss_dialogs;
use super::pool::PooledBrowser;

/// Popups a run's pages may have open at once; the first ones stay, newer ones are closed.
pub(crate) const MAX_POPUPS: usize = 10;

/// How long a popup's page may take to become reachable over DevTools.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);

enum TargetEvent {
    Created(Box<EventTargetCreated>),
    Destroyed(TargetId),
}

/// Watches the targets of `browser` for as long as its DevTools connection lasts, capping the
/// popups of each browser context (one context per run).
pub(crate) async fn watch(browser: Weak<PooledBrowser>) {
    let Some(strong) = browser.upgrade() else { return };
    let cdp = &strong.launched.browser;
    let (Ok(created), Ok(destroyed)) = (
        cdp.event_listener::<EventTargetCreated>().await,
        cdp.event_listener::<EventTargetDestroyed>().await,
    ) else {
        tracing::warn!("popups will not be capped: could not listen to the browser's targets");
        return;
    };
    drop(strong);
    let created = created.map(|e| TargetEvent::Created(Box::new((*e).clone())));
    let destroyed = destroyed.map(|e| TargetEvent::Destroyed(e.target_id.clone()));
    let mut events = std::pin::pin!(futures::stream::select(created, destroyed));
    let mut popups = Popups::default();
    while let Some(event) = events.next().await {
        let Some(pooled) = browser.upgrade() else { return };
        match event {
            TargetEvent::Created(event) => {
                let info = &event.target_info;
                let Some(context) = info.browser_context_id.clone() else { continue };
                if info.r#type != "page" || info.opener_id.is_none() {
                    continue;
                }
                let target = info.target_id.clone();
                if popups.admit(&target, context) {
                    tokio::spawn(async move { answer_dialogs(&pooled, target).await });
                } else {
                    tokio::spawn(async move { close(&pooled, target).await });
                }
            }
            TargetEvent::Destroyed(target) => popups.gone(&target),
        }
    }
}

/// The open popups of each context.
#[derive(Default)]
struct Popups {
    open: HashMap<TargetId, BrowserContextId>,
    /// Contexts whose cap was reached (logged once each).
    capped: HashSet<BrowserContextId>,
}

impl Popups {
    /// Whether a new popup may stay open (and is now counted).
    fn admit(&mut self, target: &TargetId, context: BrowserContextId) -> bool {
        let count = self.open.values().filter(|c| **c == context).count();
        if count >= MAX_POPUPS {
            if self.capped.insert(context) {
                tracing::warn!("a page opened more than {MAX_POPUPS} popups: newer ones are closed");
            }
            return false;
        }
        self.open.insert(target.clone(), context);
        true
    }

    fn gone(&mut self, target: &TargetId) {
        if let Some(context) = self.open.remove(target)
            && !self.open.values().any(|c| *c == context)
        {
            self.capped.remove(&context);
        }
    }
}

/// Dismisses the dialogs of a popup once chromiumoxide has attached to it.
async fn answer_dialogs(browser: &PooledBrowser, target: TargetId) {
    let attach = async {
        loop {
            if let Ok(page) = browser.launched.browser.get_page(target.clone()).await {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if let Ok(page) = tokio::time::timeout(ATTACH_TIMEOUT, attach).await {
        dismiss_dialogs(&page).await;
    }
}

async fn close(browser: &PooledBrowser, target: TargetId) {
    let close = browser.launched.browser.execute(CloseTargetParams::new(target));
    let _ = tokio::time::timeout(ATTACH_TIMEOUT, close).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_popups_of_a_context_stay_and_newer_ones_are_refused_until_some_close() {
        let mut popups = Popups::default();
        let (a, b) = (BrowserContextId::new("a"), BrowserContextId::new("b"));
        let target = |i: usize| TargetId::new(format!("t{i}"));
        for i in 0..MAX_POPUPS {
            assert!(popups.admit(&target(i), a.clone()));
        }
        assert!(!popups.admit(&target(100), a.clone()));
        assert!(popups.admit(&target(200), b.clone()), "other contexts have their own cap");
        popups.gone(&target(0));
        assert!(popups.admit(&target(101), a.clone()));
        assert!(!popups.admit(&target(102), a));
    }
}
