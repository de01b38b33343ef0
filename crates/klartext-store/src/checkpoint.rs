//! Signed audit checkpoints and the detailed chain check.
//!
//! The hash chain catches an edited, deleted or reordered event, but not the newest
//! events cut off the end: what is left is still a valid chain. A checkpoint is the
//! installation's Ed25519 signature over "the trail had event `seq` with hash `hash`",
//! written every [`CHECKPOINT_EVERY`] events and on demand; `verify` checks the trail
//! reaches every checkpoint and matches it.

use crate::audit::{canonical, chain_hash, AuditEvent, NewAuditEvent, GENESIS};
use crate::error::{Result, StoreError};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A checkpoint is signed automatically after every this many events.
pub const CHECKPOINT_EVERY: i64 = 100;

/// The installation key's file name in the store folder.
pub const KEY_FILE: &str = "audit-signing.key";

/// A signed statement about the trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last event covered.
    pub seq: i64,
    /// That event's hash.
    pub hash: String,
    pub at_ms: i64,
    /// Hex Ed25519 public key.
    pub public_key: String,
    /// Hex Ed25519 signature over [`Checkpoint::statement`].
    pub signature: String,
}

impl Checkpoint {
    /// The signed bytes.
    pub fn statement(seq: i64, hash: &str, at_ms: i64) -> String {
        serde_json::json!({ "klartext_audit_checkpoint": 1, "seq": seq, "hash": hash, "at_ms": at_ms })
            .to_string()
    }
}

/// What is wrong with the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditProblemKind {
    /// The event's content no longer matches its hash.
    Edited,
    /// One or more events are missing before this one.
    Deleted,
    /// The event chains to an event that is elsewhere in the trail.
    Reordered,
    /// The newest events were cut off: a signed checkpoint names a later event.
    Truncated,
    /// A checkpoint's signature does not verify, or the chain contradicts it.
    Checkpoint,
}

impl AuditProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditProblemKind::Edited => "edited",
            AuditProblemKind::Deleted => "deleted",
            AuditProblemKind::Reordered => "reordered",
            AuditProblemKind::Truncated => "truncated",
            AuditProblemKind::Checkpoint => "checkpoint",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditProblem {
    /// The first event affected.
    pub seq: i64,
    pub kind: AuditProblemKind,
    pub message: String,
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditVerification {
    pub events: u64,
    pub last_seq: i64,
    /// The newest checkpoint, when there is one.
    pub checkpoint: Option<Checkpoint>,
    pub problem: Option<AuditProblem>,
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn key_path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

fn read_key(path: &Path) -> Result<Option<SigningKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    StoreError::Decode(format!(
                        "{} is not a hex Ed25519 secret key",
                        path.display()
                    ))
                })?;
            Ok(Some(SigningKey::from_bytes(&bytes)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, e)),
    }
}

/// The installation key, created (readable by the owner only) on first use.
pub(crate) fn signing_key(dir: &Path) -> Result<SigningKey> {
    let path = key_path(dir);
    if let Some(k) = read_key(&path)? {
        return Ok(k);
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| StoreError::Decode(format!("no randomness for the audit key: {e}")))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(hex::encode(secret).as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| io(&path, e))?;
            Ok(SigningKey::from_bytes(&secret))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(&path)?
            .ok_or_else(|| StoreError::Decode(format!("{} vanished", path.display()))),
        Err(e) => Err(io(&path, e)),
    }
}

/// The installation's public key, when its key file exists.
pub(crate) fn public_key(dir: &Path) -> Result<Option<VerifyingKey>> {
    Ok(read_key(&key_path(dir))?.map(|k| k.verifying_key()))
}

/// Sign and store a checkpoint for event `seq` with `hash` (idempotent per seq).
pub(crate) fn checkpoint_in(
    conn: &Connection,
    dir: &Path,
    seq: i64,
    hash: &str,
) -> Result<Checkpoint> {
    let key = signing_key(dir)?;
    let at_ms = crate::now_ms();
    let sig = key.sign(Checkpoint::statement(seq, hash, at_ms).as_bytes());
    let cp = Checkpoint {
        seq,
        hash: hash.to_owned(),
        at_ms,
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: hex::encode(sig.to_bytes()),
    };
    conn.execute(
        "INSERT OR REPLACE INTO audit_checkpoints (seq, hash, at_ms, public_key, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![cp.seq, cp.hash, cp.at_ms, cp.public_key, cp.signature],
    )?;
    Ok(cp)
}

pub(crate) fn checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>> {
    let mut stmt = conn.prepare(
        "SELECT seq, hash, at_ms, public_key, signature FROM audit_checkpoints ORDER BY seq",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Checkpoint {
                seq: r.get(0)?,
                hash: r.get(1)?,
                at_ms: r.get(2)?,
                public_key: r.get(3)?,
                signature: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn last_event(conn: &Connection) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

fn signature_ok(key: &VerifyingKey, cp: &Checkpoint) -> bool {
    let Some(sig) = hex::decode(&cp.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    key.verify(
        Checkpoint::statement(cp.seq, &cp.hash, cp.at_ms).as_bytes(),
        &Signature::from_bytes(&sig),
    )
    .is_ok()
}

/// Recompute the chain and check it against every checkpoint; name the first problem.
pub(crate) fn verify(
    events: &[AuditEvent],
    checkpoints: &[Checkpoint],
    key: Option<VerifyingKey>,
) -> AuditVerification {
    let last_seq = events.last().map_or(0, |e| e.seq);
    let problem = chain_problem(events).or_else(|| checkpoint_problem(events, checkpoints, key));
    AuditVerification {
        events: events.len() as u64,
        last_seq,
        checkpoint: checkpoints.last().cloned(),
        problem,
    }
}

fn chain_problem(events: &[AuditEvent]) -> Option<AuditProblem> {
    // Where each stored hash sits, to tell a moved event from a deleted one.
    let by_hash: HashMap<&str, i64> = events.iter().map(|e| (e.hash.as_str(), e.seq)).collect();
    let mut prev = GENESIS.to_owned();
    let mut expected = 1;
    for e in events {
        let body = NewAuditEvent {
            actor: e.actor.clone(),
            action: e.action.clone(),
            subject: e.subject.clone(),
            details: e.details.clone(),
        };
        let own_ok = chain_hash(&e.prev_hash, &canonical(e.seq, e.at_ms, &body)) == e.hash;
        if e.seq > expected {
            let missing = if e.seq == expected + 1 {
                format!("event {expected} is missing")
            } else {
                format!("events {expected}-{} are missing", e.seq - 1)
            };
            return Some(AuditProblem {
                seq: expected,
                kind: AuditProblemKind::Deleted,
                message: format!(
                    "event {expected} was deleted: {missing} (the trail jumps from {} to {})",
                    expected - 1,
                    e.seq
                ),
            });
        }
        if e.prev_hash != prev {
            // It chains to an event that is still here, but elsewhere: moved. To a hash
            // nobody has: what it followed was deleted and the rest renumbered. Its own
            // hash not matching its place (the seq is hashed) also means it moved.
            let kind = match by_hash.get(e.prev_hash.as_str()) {
                Some(_) => AuditProblemKind::Reordered,
                None if !own_ok && e.prev_hash != GENESIS => AuditProblemKind::Reordered,
                None => AuditProblemKind::Deleted,
            };
            let message = match (kind, by_hash.get(e.prev_hash.as_str())) {
                (AuditProblemKind::Reordered, Some(at)) => format!(
                    "event {} is out of order: it was written after the event now at {at}, not after event {}",
                    e.seq,
                    e.seq - 1
                ),
                (AuditProblemKind::Reordered, None) => format!(
                    "event {} is out of order: it does not belong at this place in the chain",
                    e.seq
                ),
                _ => format!(
                    "an event before event {} was deleted (and the later ones renumbered): it chains to an event that is no longer in the trail",
                    e.seq
                ),
            };
            return Some(AuditProblem {
                seq: e.seq,
                kind,
                message,
            });
        }
        if !own_ok {
            return Some(AuditProblem {
                seq: e.seq,
                kind: AuditProblemKind::Edited,
                message: format!(
                    "event {} was edited: its content ({} {} by {}) no longer matches its hash",
                    e.seq, e.action, e.subject, e.actor
                ),
            });
        }
        prev = e.hash.clone();
        expected = e.seq + 1;
    }
    None
}

fn checkpoint_problem(
    events: &[AuditEvent],
    checkpoints: &[Checkpoint],
    key: Option<VerifyingKey>,
) -> Option<AuditProblem> {
    let last_seq = events.last().map_or(0, |e| e.seq);
    for cp in checkpoints {
        let Some(key) = key else {
            return Some(AuditProblem {
                seq: cp.seq,
                kind: AuditProblemKind::Checkpoint,
                message: format!(
                    "checkpoints exist but the installation key ({KEY_FILE} in the store folder) is missing, so they cannot be checked"
                ),
            });
        };
        if hex::encode(key.to_bytes()) != cp.public_key || !signature_ok(&key, cp) {
            return Some(AuditProblem {
                seq: cp.seq,
                kind: AuditProblemKind::Checkpoint,
                message: format!(
                    "the checkpoint at event {} is not signed by this installation's key: it was forged or edited",
                    cp.seq
                ),
            });
        }
        if cp.seq > last_seq {
            return Some(AuditProblem {
                seq: last_seq + 1,
                kind: AuditProblemKind::Truncated,
                message: format!(
                    "the trail was truncated: it ends at event {last_seq}, but a signed checkpoint covers event {}; events {}-{} were deleted",
                    cp.seq,
                    last_seq + 1,
                    cp.seq
                ),
            });
        }
        match events.iter().find(|e| e.seq == cp.seq) {
            Some(e) if e.hash == cp.hash => {}
            _ => {
                return Some(AuditProblem {
                    seq: cp.seq,
                    kind: AuditProblemKind::Checkpoint,
                    message: format!(
                        "event {} does not match its signed checkpoint: the trail up to it was rewritten",
                        cp.seq
                    ),
                })
            }
        }
    }
    None
}
