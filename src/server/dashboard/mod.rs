//! The dashboard: server-rendered pages (maud templates compiled into the binary, every value
//! escaped by the template) over what the daemon knows. Pages: the overview (`/`), a canary
//! (`/canaries/NAME`), a run (`/runs/ID`), the alarms (`/alarms`, `/alarms/NAME`) and the DNS
//! failover records (`/failover`). Charts and the HAR waterfall are SVG drawn here, so the pages
//! read fine without JavaScript; one small script of ours (`/assets/dashboard.js`) refreshes the
//! live parts, drives the token-guarded buttons and the visual slider. Nothing is loaded from
//! anywhere but the daemon, and the Content-Security-Policy allows nothing inline.

mod alarms;
mod assets;
mod canary;
mod chart;
mod format;
mod overview;
mod run;
mod waterfall;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

use super::backend::Backend;
use super::error::ApiError;

pub use format::segment;

/// The dashboard's routes (every one a `GET`), for a router whose state gives the backend.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<dyn Backend>: FromRef<S>,
{
    Router::new()
        .route("/", get(overview::page))
        .route("/canaries/{name}", get(canary::page))
        .route("/runs/{id}", get(run::page))
        .route("/alarms", get(alarms::list_page))
        .route("/alarms/{name}", get(alarms::alarm_page))
        .route("/failover", get(alarms::failover_page))
        .route("/assets/dashboard.css", get(assets::stylesheet))
        .route("/assets/dashboard.js", get(assets::script))
        .route("/assets/favicon.svg", get(assets::icon))
        .route("/favicon.ico", get(assets::icon))
        .route("/dashboard.css", get(assets::stylesheet))
}

/// Which entry of the navigation bar a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Canaries,
    Alarms,
    Failover,
}

/// A whole page: the head, the navigation bar, and `body` in `<main>`.
fn layout(title: &str, section: Section, body: Markup) -> Html<String> {
    let nav = [
        (Section::Canaries, "/", "Canaries"),
        (Section::Alarms, "/alarms", "Alarms"),
        (Section::Failover, "/failover", "Failover"),
    ];
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Aviary" }
                link rel="icon" href="/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                header {
                    a.brand href="/" { "Aviary" }
                    nav aria-label="Sections" {
                        @for (entry, href, label) in nav {
                            @if entry == section {
                                a href=(href) aria-current="page" { (label) }
                            } @else {
                                a href=(href) { (label) }
                            }
                        }
                        a href="/metrics" { "Metrics" }
                        a href="/api/v1/canaries" { "API" }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(page.into_string())
}

/// A page that could not be shown: the status and the message, in the dashboard's frame.
#[derive(Debug)]
struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(error: crate::store::StoreError) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let title = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            h1 { (title) }
            p.error { (self.0.message) }
            p { a href="/" { "Back to the canaries" } }
        };
        (status, layout(title, Section::Canaries, body)).into_response()
    }
}

/// Runs blocking store reads off the async workers, for pages.
async fn blocking<T, F>(work: F) -> Result<T, PageError>
where
    F: FnOnce() -> Result<T, PageError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| PageError(ApiError::internal(format!("request task failed: {e}"))))?
}

#[cfg(test)]
mod tests;
