//! The dashboard's stylesheet and script, compiled into the binary and served from our origin
//! (the Content-Security-Policy allows nothing inline and nothing from elsewhere).

use axum::http::header;
use axum::response::IntoResponse;

/// The stylesheet.
pub const STYLESHEET: &str = include_str!("assets/dashboard.css");
/// The script: live regions, token-guarded buttons, the visual slider.
pub const SCRIPT: &str = include_str!("assets/dashboard.js");

/// `GET /assets/dashboard.css`.
pub async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], STYLESHEET)
}

/// `GET /assets/dashboard.js`.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], SCRIPT)
}

/// The icon browsers show in the tab.
pub const ICON: &str = include_str!("assets/favicon.svg");

/// `GET /assets/favicon.svg` (and `/favicon.ico`, which browsers ask for on their own).
pub async fn icon() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "max-age=86400")], ICON)
}
