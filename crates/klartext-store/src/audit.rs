//! Audit events and their hash chain: each event's hash covers the previous hash and the
//! event's canonical bytes (SHA-256), so an edit, deletion or reordering breaks the chain.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash the first event chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEvent {
    pub actor: String,
    /// Dotted verb: `dataset.registered`, `model.trained`, ...
    pub action: String,
    /// What it happened to: `usecase/churn`, `dataset/ds_...`.
    pub subject: String,
    /// Non-personal details.
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The canonical bytes of an event: JSON with sorted keys (serde_json's map is ordered).
pub(crate) fn canonical(seq: i64, at_ms: i64, e: &NewAuditEvent) -> String {
    serde_json::json!({
        "seq": seq,
        "at_ms": at_ms,
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "details": e.details,
    })
    .to_string()
}

pub(crate) fn chain_hash(prev: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}
