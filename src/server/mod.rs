//! The daemon's HTTP server (axum): dashboard, JSON API, `/metrics`, `/healthz`.

pub mod backend;

pub use backend::{Backend, CanaryStatus, DaemonMetrics, Histogram, RunNowError};
