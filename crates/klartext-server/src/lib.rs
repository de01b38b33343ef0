//! klartext's HTTP API: every decision route of the table ([`routes::ROUTES`]) goes
//! through the governance layer (`klartext-govern`): kill switch, objections, review,
//! the durable prediction log (answered only after the commit) and metrics; beside them
//! feedback, API keys with roles, subject rights, monitoring, health and Prometheus
//! metrics. Only this crate knows HTTP and the JSON shapes of the API.
//!
//! [`router`] builds the whole API; tests drive it without a socket, the binary serves
//! it with [`serve`].

mod api;
pub mod auth;
mod decision;
pub mod error;
mod json;
mod listen;
mod metrics;
mod monitoring;
pub mod openapi;
mod page;
pub mod routes;
mod stream;
mod subjects;
mod switch;
pub mod webhooks;

pub use error::{ApiError, ErrorCode, FieldProblem, ServerError};
pub use klartext_govern::keys::{hash_secret, new_key};
pub use klartext_govern::{Caller, ChampionSource, Governor, GOVERNANCE_POLL, RETENTION_EVERY};

use std::sync::Arc;
use std::time::Duration;

/// Limits of the API.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Most rows one batch request may carry.
    pub max_batch_rows: usize,
    /// Connections open at once; more are refused with 503 `too_many_connections` (keep
    /// it below the process's file limit).
    pub max_connections: usize,
    /// Time a connection may take to send a request's headers.
    pub header_timeout: Duration,
    /// Time a request body may go without a byte arriving (408 `request_timeout`).
    pub body_timeout: Duration,
    /// Time a keep-alive connection may stay open without a byte moving.
    pub idle_timeout: Duration,
    /// How long a shutdown waits for open connections to finish.
    pub drain_timeout: Duration,
    /// `/metrics` needs an operator key (it names use cases and versions).
    pub private_metrics: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 2 * 1024 * 1024,
            max_batch_rows: 10_000,
            max_connections: 1000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            private_metrics: false,
        }
    }
}

pub(crate) struct Inner {
    pub gov: Governor,
    pub errors: metrics::Errors,
    pub conns: Arc<listen::ConnStats>,
    pub config: ServerConfig,
}

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("gov", &self.inner.gov)
            .finish()
    }
}

impl AppState {
    /// Serve the decisions `gov` governs (opened with `serve: true`, so that its log
    /// writer runs and it follows the store).
    pub fn new(gov: Governor, config: ServerConfig) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                gov,
                errors: metrics::Errors::default(),
                conns: Arc::default(),
                config,
            }),
        }
    }

    pub fn governor(&self) -> &Governor {
        &self.inner.gov
    }

    /// Stop reporting ready (load balancers stop sending) and refuse new decisions.
    pub fn begin_shutdown(&self) {
        self.inner.gov.begin_shutdown();
    }

    /// Commit what the prediction log holds and stop its writer.
    pub async fn flush_log(&self) {
        self.inner.gov.flush_log().await;
    }
}

/// The whole API.
pub fn router(state: AppState) -> axum::Router {
    api::router(state)
}

pub use listen::serve;
