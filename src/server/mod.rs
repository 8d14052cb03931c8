//! The daemon's HTTP server (axum): dashboard, JSON API, `/metrics`, `/healthz`.
//!
//! The server only reads through [`Backend`], which the daemon implements; [`serve`] runs it
//! until a shutdown future resolves and [`router`] gives the routes alone (for tests).
//! Endpoints, metrics and the token guard are described in `docs/server.md`.
//!
//! | module | job |
//! |---|---|
//! | [`api`] | the JSON API under `/api/v1` |
//! | [`artifacts`] | listing and safely serving a run's artifact files |
//! | [`metrics`] | the Prometheus text exposition |
//! | [`auth`] | the bearer-token guard on every write |
//! | [`dashboard`] | the HTML page at `/` |
//! | [`headers`] | security headers on every response |
//! | [`listen`] | the accept loop: header and idle timeouts, connection cap |
//! | [`socket`] | the Unix socket `<data_dir>/aviary.sock` (mode 0600) for local commands |

pub mod alarms;
pub mod api;
pub mod artifacts;
pub mod auth;
pub mod backend;
pub mod dashboard;
mod error;
pub mod headers;
pub mod listen;
pub mod metrics;
pub mod socket;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
pub use backend::{Backend, BrokenFile, CanaryStatus, DaemonMetrics, Histogram, RunNowError};
pub use error::ApiError;
pub use listen::Limits;
use tokio::net::{TcpListener, UnixListener};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("could not listen on {addr} (`server.listen`): {source}")]
    Bind {
        /// The address from `server.listen`.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bound listener could not report its local address.
    #[error("the HTTP listener has no address: {0}")]
    NoAddress(std::io::Error),
}

/// What every handler can reach.
#[derive(Clone)]
struct AppState {
    backend: Arc<dyn Backend>,
    token: auth::Token,
}

impl FromRef<AppState> for Arc<dyn Backend> {
    fn from_ref(state: &AppState) -> Self {
        state.backend.clone()
    }
}

impl FromRef<AppState> for auth::Token {
    fn from_ref(state: &AppState) -> Self {
        state.token.clone()
    }
}

/// Every route, behind the token guard. `token` guards every write; without one (or with an
/// empty one) writes are refused with 403.
pub fn router(backend: Arc<dyn Backend>, token: Option<String>) -> Router {
    let state = AppState { backend, token: auth::Token::new(token) };
    Router::new()
        .merge(dashboard::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_handler))
        .route("/api/v1/canaries", get(api::canaries))
        .route("/api/v1/canaries/{name}", get(api::canary))
        .route("/api/v1/canaries/{name}/runs", get(api::canary_runs))
        .route("/api/v1/canaries/{name}/run", post(api::run_now))
        .route("/api/v1/canaries/{name}/baseline", post(api::approve_baseline))
        .route("/api/v1/runs/{id}", get(api::run))
        .route("/api/v1/runs/{id}/artifacts", get(artifacts::list_handler))
        .route("/api/v1/runs/{id}/artifacts/{*file}", get(artifacts::file_handler))
        .route("/api/v1/config/errors", get(api::config_errors))
        .route("/api/v1/alarms", get(alarms::list))
        .route("/api/v1/alarms/{name}/history", get(alarms::history))
        .route("/api/v1/alarms/{name}/state", post(alarms::set_state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(axum::middleware::from_fn(headers::add))
        .with_state(state)
}

/// Binds `addr` and serves until `shutdown` resolves, then stops gracefully (no new
/// connections; requests in progress finish). A bind failure is an error naming the address.
pub async fn serve(
    addr: SocketAddr,
    backend: Arc<dyn Backend>,
    token: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    serve_on(listener, backend, token, shutdown).await
}

/// [`serve`] on a listener already bound (e.g. to port 0 in tests), with the default [`Limits`].
pub async fn serve_on(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    token: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with_limits(listener, backend, token, Limits::default(), shutdown).await
}

/// [`serve_on`] with these limits on slow clients and open connections.
pub async fn serve_with_limits(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    token: Option<String>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(ServeError::NoAddress)?;
    let guarded = token.as_deref().is_some_and(|t| !t.is_empty());
    tracing::info!(
        %addr,
        writes = if guarded { "token" } else { "refused" },
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        idle_timeout_s = limits.idle_timeout.as_secs_f64(),
        max_connections = limits.max_connections,
        "HTTP server listening"
    );
    listen::accept_loop(listener, router(backend, token), limits, shutdown).await;
    tracing::info!(%addr, "HTTP server stopped");
    Ok(())
}

/// Serves the API on the Unix socket until `shutdown` resolves, like [`serve_with_limits`].
/// Requests on it are trusted: writes need no token (the socket's mode 0600 guards it).
pub async fn serve_unix(
    listener: UnixListener,
    backend: Arc<dyn Backend>,
    token: Option<String>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let path = listener.local_addr().ok().and_then(|a| a.as_pathname().map(|p| p.display().to_string()));
    tracing::info!(
        socket = path.unwrap_or_default(),
        writes = "trusted",
        "HTTP server listening on the Unix socket"
    );
    let router = router(backend, token).layer(axum::Extension(auth::LocalSocket));
    listen::accept_loop(listener, router, limits, shutdown).await;
    tracing::info!("HTTP server on the Unix socket stopped");
}

/// `ok`, or 503 with the reason when the daemon cannot do its job.
async fn healthz(State(backend): State<Arc<dyn Backend>>) -> Response {
    match backend.unhealthy() {
        None => "ok".into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}

async fn metrics_handler(State(backend): State<Arc<dyn Backend>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok());
    let format = metrics::Format::negotiate(accept);
    let body = metrics::render(&backend.canaries(), backend.broken_files().len(), &backend.metrics(), format);
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see docs/server.md")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this endpoint")
}
