//! klartext's HTTP decision API: the champion model of every use case behind
//! `POST /v1/usecases/{id}/predict`, with explanations, a durable prediction log (group
//! commit, answered only after the commit), feedback, API keys with roles, health and
//! Prometheus metrics.
//!
//! [`router`] builds the whole API; tests drive it without a socket, the binary serves
//! it with [`serve`].

mod api;
pub mod auth;
pub mod error;
mod features;
mod govern;
pub mod log;
mod metrics;
pub mod monitoring;
pub mod openapi;
mod page;
pub mod rights;
pub mod routes;
pub mod state;
mod stream;
mod subjects;
pub mod webhooks;

pub use auth::{hash_secret, new_key, Caller};
pub use error::{ApiError, ErrorCode, FieldProblem, ServerError};
pub use log::PredictionLog;
pub use state::{in_canary, ChampionSource, GOVERNANCE_POLL};
pub use subjects::{start_retention, RETENTION_EVERY};

use klartext_core::UseCase;
use klartext_store::Store;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
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

pub(crate) use state::{Served, UseCaseState};

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub usecases: BTreeMap<String, UseCaseState>,
    pub log: PredictionLog,
    pub errors: metrics::Errors,
    pub keys: auth::KeyCache,
    pub config: ServerConfig,
    pub shutting_down: AtomicBool,
    /// Subjects who objected (GDPR Art. 21): never scored.
    pub objected: subjects::Objected,
}

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("usecases", &self.inner.usecases.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl AppState {
    /// Load the model to serve for each use case (its champion alias; the newest version
    /// whose gates passed when no alias was ever set), start the prediction log writer,
    /// and follow alias and switch changes in the store (see [`state`]).
    pub fn new(
        store: Arc<dyn Store>,
        usecases: Vec<UseCase>,
        config: ServerConfig,
    ) -> Result<AppState, ServerError> {
        let (map, seen) = state::load(store.as_ref(), usecases)?;
        let objected = subjects::Objected::default();
        objected.reload(store.as_ref())?;
        let app = AppState {
            inner: Arc::new(Inner {
                log: PredictionLog::start(store.clone()),
                store,
                usecases: map,
                errors: metrics::Errors::default(),
                keys: auth::KeyCache::default(),
                config,
                shutting_down: AtomicBool::new(false),
                objected,
            }),
        };
        state::start_poller(Arc::downgrade(&app.inner), seen);
        Ok(app)
    }

    /// `(use case, served model version, why that one)` for every use case.
    pub fn champions(&self) -> Vec<(String, Option<String>, ChampionSource)> {
        self.inner
            .usecases
            .iter()
            .map(|(id, u)| {
                let live = u.live();
                (
                    id.clone(),
                    live.champion.as_ref().map(|s| s.version.clone()),
                    live.source,
                )
            })
            .collect()
    }

    /// Re-read aliases and switches from the store now, instead of at the next poll.
    pub fn refresh_governance(&self) -> Result<(), ServerError> {
        state::refresh_all(&self.inner).map(drop)
    }

    /// `(use case, served model version)` for every use case.
    pub fn served(&self) -> Vec<(String, Option<String>)> {
        self.inner
            .usecases
            .iter()
            .map(|(id, u)| (id.clone(), u.served().map(|s| s.version.clone())))
            .collect()
    }

    /// Stop reporting ready (load balancers stop sending) and refuse new predictions.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Commit what the prediction log holds and stop its writer.
    pub async fn flush_log(&self) {
        self.inner.log.flush_and_stop().await;
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
