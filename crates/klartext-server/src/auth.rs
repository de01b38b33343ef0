//! `Authorization: Bearer` on every `/v1` call: the key is checked by the governance
//! layer (cached briefly); the router then refuses a key below the route's role in the
//! table, before any handler.

use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use klartext_govern::keys::digest;
use klartext_govern::KeyRefusal;

pub use klartext_govern::Caller;

/// Middleware for `/v1`: resolve the bearer key into a `Caller` extension.
pub(crate) async fn require_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The scheme is case-insensitive (RFC 9110, 11.1).
    let secret = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, s)| s.trim())
        .filter(|s| !s.is_empty());
    let Some(secret) = secret else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this call needs an API key: `Authorization: Bearer <key>` (create one with `klartext keys create`)",
        ));
    };
    let d = digest(secret);
    let gov = &state.inner.gov;
    let checked = match gov.keys().cached(&d) {
        Some(k) => k,
        None => {
            let gov = gov.clone();
            tokio::task::spawn_blocking(move || gov.keys().look_up(gov.store().as_ref(), d))
                .await
                .map_err(|e| ApiError::internal("key lookup task failed", &e))?
                .map_err(|e| ApiError::internal("key lookup failed", &e))?
        }
    };
    let caller = match checked {
        Ok(caller) => caller,
        Err(KeyRefusal::Unknown) => {
            return Err(ApiError::new(ErrorCode::Unauthorized, "unknown API key"))
        }
        Err(KeyRefusal::Revoked(id)) => {
            return Err(ApiError::new(
                ErrorCode::KeyRevoked,
                format!("API key {id} has been revoked"),
            ))
        }
    };
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}
