//! API keys: making them, checking `Authorization: Bearer` on every `/v1` call, and what
//! each role may do. Only the SHA-256 of a secret is stored; the secret is shown once.

use crate::error::{ApiError, ErrorCode, ServerError};
use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use klartext_store::{ApiKey, KeyRole};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a checked key is trusted without asking the store again. A revocation
/// bumps the store's governance version, which every server polls (see
/// [`crate::GOVERNANCE_POLL`]) and then forgets its checked keys, so it takes effect
/// within a poll; this bound holds even if that signal were missed.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: String,
    pub role: KeyRole,
}

/// A new key: the record to store and the secret to show once.
pub fn new_key(role: KeyRole, created_by: &str) -> Result<(ApiKey, String), ServerError> {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| ServerError::Random(e.to_string()))?;
    getrandom::fill(&mut secret).map_err(|e| ServerError::Random(e.to_string()))?;
    // The prefix makes a leaked key recognisable to secret scanners.
    let secret = format!("kt_{}", hex::encode(secret));
    let key = ApiKey {
        id: format!("key_{}", hex::encode(id)),
        role,
        key_sha256: hash_secret(&secret),
        created_ms: klartext_store::now_ms(),
        created_by: created_by.to_owned(),
        revoked_ms: None,
    };
    Ok((key, secret))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checked keys by the SHA-256 of their secret, so that a hot path does not query the
/// store per call: the caller a key stands for, or why it is refused (revoked).
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    entries: RwLock<HashMap<[u8; 32], CachedKey>>,
}

/// The caller a key stands for (or why it is refused) and when that was checked.
type CachedKey = (Result<Caller, String>, Instant);

impl KeyCache {
    fn get(&self, hash: &[u8; 32]) -> Option<Result<Caller, String>> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(k, _)| k.clone())
    }

    /// Forget every checked key (a key was revoked somewhere).
    pub(crate) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn put(&self, hash: [u8; 32], key: Result<Caller, String>) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Keys are few; an occasional sweep keeps a flood of distinct keys bounded.
        if map.len() > 10_000 {
            map.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
        }
        map.insert(hash, (key, Instant::now()));
    }
}

/// What a stored key means for a request: its caller, or the id of a revoked key.
fn checked(key: ApiKey) -> Result<Caller, String> {
    match key.revoked_ms {
        Some(_) => Err(key.id),
        None => Ok(Caller {
            key_id: key.id,
            role: key.role,
        }),
    }
}

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
    let Some(secret) = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this call needs an API key: `Authorization: Bearer <key>` (create one with `klartext keys create`)",
        ));
    };
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let key = match state.inner.keys.get(&digest) {
        Some(k) => Some(k),
        None => {
            let store = state.inner.store.clone();
            let h = hex::encode(digest);
            let found = tokio::task::spawn_blocking(move || store.key_by_hash(&h))
                .await
                .map_err(|e| ApiError::internal("key lookup task failed", &e))?
                .map_err(|e| ApiError::internal("key lookup failed", &e))?
                .map(checked);
            // Unknown keys are not cached: a key created a moment ago works at once.
            if let Some(k) = &found {
                state.inner.keys.put(digest, k.clone());
            }
            found
        }
    };
    let caller = match key {
        None => return Err(ApiError::new(ErrorCode::Unauthorized, "unknown API key")),
        Some(Err(id)) => {
            return Err(ApiError::new(
                ErrorCode::KeyRevoked,
                format!("API key {id} has been revoked"),
            ))
        }
        Some(Ok(caller)) => caller,
    };
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}
