//! JavaScript dialogs (`alert`, `confirm`, `prompt`, `beforeunload`) answered at once, as a
//! person closing them would. A dialog left open stops its page's scripts, its navigation and
//! every DevTools command sent to it after the dialog, until the run's timeout.

use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::page::{
    DialogType, EventJavascriptDialogOpening, HandleJavaScriptDialogParams,
};
use futures::StreamExt;

/// The most answering one dialog may take (the page is gone if it takes longer).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers every dialog `page` opens, for as long as the page exists: dismissed (`confirm` is
/// false, `prompt` null), except `beforeunload`, which is accepted so that leaving the page goes
/// on.
pub(crate) async fn dismiss_dialogs(page: &Page) {
    let Ok(mut dialogs) = page.event_listener::<EventJavascriptDialogOpening>().await else { return };
    let page = page.clone();
    tokio::spawn(async move {
        // The stream ends when the target (or the browser) goes away.
        while let Some(dialog) = dialogs.next().await {
            let accept = dialog.r#type == DialogType::Beforeunload;
            let answer = page.execute(HandleJavaScriptDialogParams::new(accept));
            let _ = tokio::time::timeout(ANSWER_TIMEOUT, answer).await;
        }
    });
}
