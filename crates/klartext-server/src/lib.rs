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

/// Limits of the API.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Most rows one batch request may carry.
    pub max_batch_rows: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 2 * 1024 * 1024,
            max_batch_rows: 10_000,
        }
    }
}

pub(crate) struct Inner {
    pub gov: Governor,
    pub errors: metrics::Errors,
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

/// Serve `router` on `listener` until `shutdown` resolves, then drain in-flight requests
/// and flush the prediction log.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let st = state.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        st.begin_shutdown();
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await?;
    state.flush_log().await;
    tracing::info!("prediction log flushed; stopped");
    Ok(())
}
