//! Storage behind a trait: datasets, registrations and the audit trail. Only this crate
//! knows SQL; callers see domain records.
//!
//! The embedded implementation is SQLite (WAL, full sync) beside a folder of snapshot
//! files written atomically, so a crash never leaves a half-registered dataset.

mod audit;
mod blobs;
mod checkpoint;
mod error;
mod govern;
mod monitoring;
mod sqlite;
mod subjects;
mod webhooks;

pub use audit::{AuditEvent, NewAuditEvent};
pub use checkpoint::{
    AuditProblem, AuditProblemKind, AuditVerification, Checkpoint, CHECKPOINT_EVERY, KEY_FILE,
};
pub use error::{Result, StoreError};
pub use govern::{
    Alias, AliasChange, AliasName, ChallengerMode, Governance, Promotion, Rollback, Switch,
};
pub use monitoring::{MonitoredOutcome, VisitMonitored};
pub use sqlite::SqliteStore;
pub use subjects::{
    check_audit_purge, ErasedDataset, Erasure, ErasureReport, Objection, PurgeReport,
    RetentionRule, Review, ReviewOrigin, ReviewStatus, SnapshotRewrite, SubjectRecords,
    Suppression, AUDIT_MIN_RETENTION_DAYS,
};
pub use webhooks::{PendingDelivery, Webhook, WebhookAttempt};

use klartext_core::{DecisionStatus, Outcome, QualityReport, Schema, UseCaseKind};
use serde::{Deserialize, Serialize};

/// A registered, immutable dataset snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    pub id: String,
    pub sha256: String,
    /// The file name it was ingested from.
    pub source_name: String,
    /// How to re-read the bytes (owned by the data layer, opaque here).
    pub snapshot: serde_json::Value,
    pub rows: u64,
    pub columns: u64,
    pub bytes: u64,
    pub created_ms: i64,
    pub created_by: String,
}

/// A dataset as registered for one use case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub dataset_id: String,
    pub usecase_id: String,
    pub schema: Schema,
    pub report: QualityReport,
    pub created_ms: i64,
    pub created_by: String,
}

/// A trained model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub usecase_id: String,
    /// Content address: the first 12 hex digits of the artifact's SHA-256.
    pub version: String,
    pub sha256: String,
    pub dataset_id: String,
    pub learner: String,
    pub gates_passed: bool,
    /// The training report (owned by the training layer, opaque here).
    pub report: serde_json::Value,
    /// The model card, Markdown.
    pub card: String,
    pub created_ms: i64,
    pub created_by: String,
}

/// Snapshot bytes written and synced under a temporary name. Dropping it without
/// publishing removes the file.
#[derive(Debug)]
pub struct StagedSnapshot {
    temp: Option<blobs::Temp>,
}

impl Drop for StagedSnapshot {
    fn drop(&mut self) {
        if let Some(t) = self.temp.take() {
            let _ = std::fs::remove_file(&t.path);
        }
    }
}

/// What `register_dataset` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// New content, new registration.
    New,
    /// Known content, newly registered for this use case.
    NewForUseCase,
    /// Already registered for this use case: nothing changed.
    Existing,
}

/// What an API key may do: a scorer predicts and sends feedback; an operator and an
/// admin may do everything the API offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    Scorer,
    Operator,
    Admin,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Scorer => "scorer",
            KeyRole::Operator => "operator",
            KeyRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<KeyRole> {
        match s {
            "scorer" => Some(KeyRole::Scorer),
            "operator" => Some(KeyRole::Operator),
            "admin" => Some(KeyRole::Admin),
            _ => None,
        }
    }
}

/// An API key as stored: the secret itself is never kept, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub role: KeyRole,
    /// Hex SHA-256 of the secret.
    pub key_sha256: String,
    pub created_ms: i64,
    pub created_by: String,
    pub revoked_ms: Option<i64>,
}

/// One decision of any kind, as logged before its answer goes out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub prediction_id: String,
    pub at_ms: i64,
    pub usecase_id: String,
    /// The use case's kind; `None` for rows logged before kinds were recorded whose use
    /// case had no model to tell it.
    #[serde(default)]
    pub kind: Option<UseCaseKind>,
    /// The model version that answered, or `fallback` / `objected` when none did.
    pub model_version: String,
    pub subject_id: Option<String>,
    /// Hex SHA-256 of the canonical input JSON (the input itself is not kept).
    pub input_digest: String,
    /// How the decision was answered.
    #[serde(default)]
    pub status: DecisionStatus,
    /// The kind's output (score, label, reasons, ...): typed by the kind, opaque here.
    pub output: serde_json::Value,
    pub latency_us: i64,
    /// The API key id of the caller.
    pub caller: String,
    pub fallback: bool,
    /// Whether this prediction was answered, or only scored and logged (a shadow
    /// challenger's).
    #[serde(default)]
    pub role: PredictionRole,
    /// The score answered (absent for a fallback without one), for monitoring.
    #[serde(default)]
    pub score: Option<f64>,
    /// The row's feature values in the kind's compact encoding, for drift; erased
    /// with the subject.
    #[serde(default, skip_serializing)]
    pub features: Option<Vec<u8>>,
    /// For a shadow row: the served prediction it was scored beside.
    #[serde(default)]
    pub shadow_of: Option<String>,
    /// For a row scored offline (`klartext score`): the batch it belongs to.
    #[serde(default)]
    pub batch_id: Option<String>,
}

/// What a logged prediction was for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PredictionRole {
    /// Answered to the caller (by the champion, a canary challenger, or a fallback).
    #[default]
    Served,
    /// Scored by a shadow challenger beside the served prediction; never answered.
    Shadow,
}

impl PredictionRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PredictionRole::Served => "served",
            PredictionRole::Shadow => "shadow",
        }
    }

    pub fn parse(s: &str) -> Option<PredictionRole> {
        match s {
            "served" => Some(PredictionRole::Served),
            "shadow" => Some(PredictionRole::Shadow),
            _ => None,
        }
    }
}

/// A real outcome attached to a logged prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub prediction_id: String,
    /// What the caller sent.
    pub outcome: serde_json::Value,
    /// The outcome as the decision's kind read it; `None` for feedback stored before
    /// outcomes were read on arrival.
    #[serde(default)]
    pub typed: Option<Outcome>,
    pub at_ms: i64,
    pub caller: String,
}

/// Everything klartext keeps. Implementations must make each call atomic: after a crash
/// a call either happened completely or not at all.
pub trait Store: Send + Sync {
    /// Store snapshot bytes under their hash (idempotent) and return the blob's path
    /// relative to the store. Call before `register_dataset`.
    fn put_snapshot(&self, sha256: &str, extension: &str, bytes: &[u8]) -> Result<String>;

    /// Write snapshot bytes durably before their hash is known, so that the write can
    /// overlap with parsing. Nothing is visible until `publish_snapshot`.
    fn stage_snapshot(&self, bytes: &[u8]) -> Result<StagedSnapshot>;

    /// Give a staged snapshot its content name; returns the path as `put_snapshot` does.
    fn publish_snapshot(
        &self,
        staged: StagedSnapshot,
        sha256: &str,
        extension: &str,
    ) -> Result<String>;

    /// Read a registered dataset's snapshot bytes, checking their hash.
    fn snapshot_bytes(&self, dataset: &DatasetRecord) -> Result<Vec<u8>>;

    /// Register a dataset for a use case, with an audit event, in one transaction.
    fn register_dataset(
        &self,
        dataset: &DatasetRecord,
        blob_path: &str,
        reg: &Registration,
    ) -> Result<Registered>;

    fn dataset(&self, id: &str) -> Result<Option<DatasetRecord>>;

    /// Registrations, newest first, optionally of one use case.
    fn registrations(&self, usecase: Option<&str>) -> Result<Vec<Registration>>;

    fn registration(&self, dataset_id: &str, usecase: &str) -> Result<Option<Registration>>;

    /// Store a model artifact under its hash (idempotent); returns its relative path.
    fn put_artifact(&self, sha256: &str, bytes: &[u8]) -> Result<String>;

    /// Register a model version with an audit event, in one transaction.
    fn register_model(&self, model: &ModelRecord, blob_path: &str) -> Result<Registered>;

    /// Model versions of a use case, newest first.
    fn models(&self, usecase: &str) -> Result<Vec<ModelRecord>>;

    /// One model version by its id or a unique prefix of it.
    fn model(&self, usecase: &str, version: &str) -> Result<Option<ModelRecord>>;

    /// A model's artifact bytes, checking their hash.
    fn model_bytes(&self, model: &ModelRecord) -> Result<Vec<u8>>;

    /// Note the content hash of a use-case file klartext acts on: the first content is
    /// audited as `usecase.created`, a different one as `usecase.changed`; the same one
    /// again is no event (`None`).
    fn record_usecase(
        &self,
        usecase: &str,
        sha256: &str,
        actor: &str,
    ) -> Result<Option<AuditEvent>>;

    /// Append an audit event in its own transaction.
    fn append_audit(&self, event: &NewAuditEvent) -> Result<AuditEvent>;

    fn audit_events(&self, since_seq: i64) -> Result<Vec<AuditEvent>>;

    /// Recompute the hash chain; `Ok(None)` when intact, else the first broken sequence number.
    fn verify_audit(&self) -> Result<Option<i64>>;

    // --- Monitoring ---

    /// Keep the reference profile (JSON owned by the monitoring crate) of a model
    /// version; `false` when no such version exists.
    fn set_model_reference(&self, usecase: &str, version: &str, reference: &str) -> Result<bool>;

    /// The reference profile of a model version; `None` for versions trained before
    /// profiles were kept.
    fn model_reference(&self, usecase: &str, version: &str) -> Result<Option<String>>;

    /// Call `f` with time, score and feature bytes of every answered, scored prediction
    /// of a model version made in `[from_ms, to_ms)`, oldest first; returns how many.
    fn visit_monitored(
        &self,
        usecase: &str,
        version: &str,
        from_ms: i64,
        to_ms: i64,
        f: &mut VisitMonitored<'_>,
    ) -> Result<usize>;

    /// Answered predictions of a model version made since `since_ms` that have
    /// feedback, with the latest outcome, oldest first.
    fn monitored_outcomes(
        &self,
        usecase: &str,
        version: &str,
        since_ms: i64,
    ) -> Result<Vec<MonitoredOutcome>>;

    /// Raise a monitoring alert: append `event` to the audit trail unless the use case
    /// raised this kind of alert in this window already (`None` then). Atomic.
    fn raise_alert(
        &self,
        usecase: &str,
        kind: &str,
        window_start_ms: i64,
        event: &NewAuditEvent,
    ) -> Result<Option<AuditEvent>>;

    /// Store a new API key with a `key.created` audit event, in one transaction.
    fn create_key(&self, key: &ApiKey) -> Result<()>;

    /// Every API key, oldest first.
    fn keys(&self) -> Result<Vec<ApiKey>>;

    /// The key whose secret hashes to `key_sha256`, revoked or not.
    fn key_by_hash(&self, key_sha256: &str) -> Result<Option<ApiKey>>;

    /// Revoke a key with a `key.revoked` audit event; `false` when no such key exists.
    /// Revoking a revoked key changes nothing and returns `true`.
    fn revoke_key(&self, id: &str, actor: &str) -> Result<bool>;

    /// Append prediction log rows in one transaction (group commit): all or none.
    fn log_predictions(&self, rows: &[PredictionRecord]) -> Result<()>;

    fn prediction(&self, id: &str) -> Result<Option<PredictionRecord>>;

    /// The logged predictions of a use case (served, fallback and shadow), oldest first,
    /// optionally only those at or after `since_ms`.
    fn predictions(&self, usecase: &str, since_ms: Option<i64>) -> Result<Vec<PredictionRecord>>;

    /// Every outcome attached to a prediction of a use case, oldest first.
    fn usecase_feedback(&self, usecase: &str) -> Result<Vec<Feedback>>;

    /// Attach an outcome to a logged prediction; `false` when the prediction is unknown.
    fn add_feedback(&self, feedback: &Feedback) -> Result<bool>;

    /// The outcomes attached to a prediction, oldest first.
    fn feedback(&self, prediction_id: &str) -> Result<Vec<Feedback>>;

    // --- Governance: aliases, rollback, kill switch, signed audit checkpoints. ---

    /// Point an alias at a model version, with its history row and a `model.promoted`
    /// audit event, in one transaction. Gates are the caller's to check; an override
    /// without a reason is refused.
    fn promote(&self, promotion: &Promotion) -> Result<Alias>;

    /// Restore the previous champion (`model.rolled_back`); refused when there is none.
    fn rollback(&self, usecase: &str, actor: &str, reason: Option<&str>) -> Result<Rollback>;

    /// Remove the challenger; `None` when there was none.
    fn clear_challenger(
        &self,
        usecase: &str,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<Option<String>>;

    /// Current aliases, optionally of one use case.
    fn aliases(&self, usecase: Option<&str>) -> Result<Vec<Alias>>;

    /// Every alias change of a use case, oldest first.
    fn alias_history(&self, usecase: &str) -> Result<Vec<AliasChange>>;

    /// Switch a use case off (it answers its fallback) or on, with a `usecase.switched`
    /// audit event. Switching off needs a reason.
    fn set_switch(&self, usecase: &str, on: bool, actor: &str, reason: &str) -> Result<Switch>;

    /// Every use case ever switched, with its current state.
    fn switches(&self) -> Result<Vec<Switch>>;

    /// A counter bumped by every alias or switch change: cheap to poll.
    fn governance_version(&self) -> Result<i64>;

    /// Aliases and switches, read consistently.
    fn governance(&self) -> Result<Governance>;

    /// Sign a checkpoint for the newest audit event; `None` when the trail is empty.
    fn audit_checkpoint(&self) -> Result<Option<Checkpoint>>;

    /// Every checkpoint, oldest first.
    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>>;

    // --- Webhooks: subscriptions to audit event types, and their delivery attempts. ---

    /// Store a subscription with a `webhook.created` audit event; its cursor starts at
    /// that event, so only later events are delivered. Returns it as stored.
    fn create_webhook(&self, webhook: &Webhook) -> Result<Webhook>;

    /// Every subscription, revoked or not, oldest first.
    fn webhooks(&self) -> Result<Vec<Webhook>>;

    /// Revoke a subscription (`webhook.removed`); `false` when no such subscription exists.
    fn remove_webhook(&self, id: &str, actor: &str) -> Result<bool>;

    /// For each active subscription, the next event it wants that is due now (first
    /// attempt, or a retry whose time has come). At most one per subscription, in order.
    fn pending_webhook_deliveries(&self, now_ms: i64) -> Result<Vec<PendingDelivery>>;

    /// Record a delivery attempt; a delivered or final one moves the cursor past its event.
    fn record_webhook_attempt(&self, attempt: &WebhookAttempt) -> Result<()>;

    /// Every delivery attempt, oldest first, optionally of one subscription.
    fn webhook_attempts(&self, webhook: Option<&str>) -> Result<Vec<WebhookAttempt>>;

    /// Recompute the chain, check it against the signed checkpoints, and name the first
    /// problem and its kind (edited, deleted, reordered, truncated).
    fn verify_audit_detailed(&self) -> Result<AuditVerification>;

    // --- Data-subject rights: access, erasure, objection, human review, retention. ---
    // Audit events of this section never hold a subject's id nor a hash of it.

    /// Everything the store keeps about a subject: logged predictions, feedback, the
    /// objection, review items. (Dataset rows are in snapshots, read by the caller.)
    fn subject_records(&self, subject_id: &str) -> Result<SubjectRecords>;

    /// Erase a subject in one transaction: point each dataset at its rewritten snapshot
    /// (already published), pseudonymise the subject's prediction-log rows (irreversible
    /// marker, no features, no reasons), delete their feedback, clear contest reasons and
    /// the objection, with a `subject.erased` event. The old snapshot files are removed
    /// after the commit (or at the next open after a crash). On failure the new files
    /// are removed again.
    fn erase_subject(&self, erasure: &Erasure) -> Result<ErasureReport>;

    /// Record an objection (`subject.objected`) and bump the governance version so every
    /// server stops scoring the subject. Returns it and whether it is new.
    fn object_subject(
        &self,
        subject_id: &str,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<(Objection, bool)>;

    /// Withdraw a subject's objection (the subject's own wish): the objection, and the
    /// keyed hash kept of it if the subject was erased since, are removed with a
    /// `subject.objection_withdrawn` event, and the governance version is bumped so every
    /// server scores the subject again. `false` (and nothing written) when the subject
    /// had no objection.
    fn withdraw_objection(&self, subject_id: &str, actor: &str) -> Result<bool>;

    /// Every objection, oldest first.
    fn objections(&self) -> Result<Vec<Objection>>;

    /// Objections of erased subjects, kept as keyed hashes of their ids.
    fn suppression(&self) -> Result<Suppression>;

    /// Review items, oldest first, optionally of one status and one use case. Items are
    /// queued by `log_predictions` for served rows whose output has `"review": "pending"`.
    fn reviews(&self, status: Option<ReviewStatus>, usecase: Option<&str>) -> Result<Vec<Review>>;

    fn review(&self, prediction_id: &str) -> Result<Option<Review>>;

    /// Queue (or reopen) a logged prediction for review because its subject contests it
    /// (`review.contested`); `None` when the prediction is unknown.
    fn contest_prediction(
        &self,
        prediction_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Option<Review>>;

    /// Approve or reject a pending review item (`review.approved`/`review.rejected`);
    /// `None` when nothing is queued for it, `Refused` when it was decided already.
    fn decide_review(
        &self,
        prediction_id: &str,
        approve: bool,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Option<Review>>;

    /// Purge what a use case's retention lets expire (`retention.purged` when anything
    /// went); `dry_run` only counts.
    fn purge_retention(
        &self,
        rule: &RetentionRule,
        dry_run: bool,
        actor: &str,
    ) -> Result<PurgeReport>;
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
