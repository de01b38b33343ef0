//! API keys: making them, and checking a presented secret against the stored ones with
//! a short-lived cache. Only the SHA-256 of a secret is stored; the secret is shown once.

use crate::error::{GovernError, Result};
use klartext_store::{ApiKey, KeyRole, Store};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a checked key is trusted without asking the store again. A revocation
/// bumps the store's governance version, which every server polls (see
/// [`crate::GOVERNANCE_POLL`]) and then forgets its checked keys, so it takes effect
/// within a poll; this bound holds even if that signal were missed.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// Who calls: an API key and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: String,
    pub role: KeyRole,
}

/// Why a presented key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    Unknown,
    /// Revoked: the key's id.
    Revoked(String),
}

/// A new key: the record to store and the secret to show once.
pub fn new_key(role: KeyRole, created_by: &str) -> Result<(ApiKey, String)> {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| GovernError::Random(e.to_string()))?;
    getrandom::fill(&mut secret).map_err(|e| GovernError::Random(e.to_string()))?;
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

/// The SHA-256 of a presented secret, as the cache keys it.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Checked keys by the SHA-256 of their secret, so that a hot path does not query the
/// store per call.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<[u8; 32], CachedKey>>,
}

type CachedKey = (std::result::Result<Caller, KeyRefusal>, Instant);

impl KeyCache {
    /// What a recently checked key stands for; `None` when it must be looked up.
    pub fn cached(&self, digest: &[u8; 32]) -> Option<std::result::Result<Caller, KeyRefusal>> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        map.get(digest)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(k, _)| k.clone())
    }

    /// Look a key up in the store (blocking) and remember what it stands for. Unknown
    /// keys are not remembered: a key created a moment ago works at once.
    pub fn look_up(
        &self,
        store: &dyn Store,
        digest: [u8; 32],
    ) -> Result<std::result::Result<Caller, KeyRefusal>> {
        let found = store.key_by_hash(&hex::encode(digest))?;
        let Some(key) = found else {
            return Ok(Err(KeyRefusal::Unknown));
        };
        let checked = match key.revoked_ms {
            Some(_) => Err(KeyRefusal::Revoked(key.id)),
            None => Ok(Caller {
                key_id: key.id,
                role: key.role,
            }),
        };
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Keys are few; an occasional sweep keeps a flood of distinct keys bounded.
        if map.len() > 10_000 {
            map.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
        }
        map.insert(digest, (checked.clone(), Instant::now()));
        Ok(checked)
    }

    /// Forget every checked key (a key was revoked somewhere).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
