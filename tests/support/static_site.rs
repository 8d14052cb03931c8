//! A folder served as it is over HTTP on 127.0.0.1: the example site (`canaries/site`) for the
//! browser tests that record or replay flows against it.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The example site of this repository, `canaries/site`.
pub fn example_site_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("canaries").join("site")
}

/// Serves the files of `dir` (`/` is `index.html`) until the test process ends; returns the
/// address.
pub fn serve_dir(dir: PathBuf) -> SocketAddr {
    crate::support::spawn_server(move |listener| async move {
        let app = Router::new()
            .route("/", get(|State(dir): State<PathBuf>| async move { file(&dir, "index.html").await }))
            .route(
                "/{*path}",
                get(|State(dir): State<PathBuf>, UrlPath(path): UrlPath<String>| async move {
                    file(&dir, &path).await
                }),
            )
            .with_state(dir);
        axum::serve(listener, app).await.unwrap();
    })
}

async fn file(dir: &Path, relative: &str) -> Response {
    let relative = Path::new(relative);
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let content_type = match relative.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(dir.join(relative)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
