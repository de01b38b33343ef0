//! Data-subject rights in the store: what is kept about one subject, erasure (snapshot
//! rewrites, pseudonymised prediction log, deleted feedback) in one transaction,
//! objections (GDPR Art. 21), the human review queue (Art. 22), retention purges, and
//! the rule that the audit trail is kept at least six months (AI Act Art. 26(6)).
//!
//! Audit events written here never hold a subject's id nor a hash of it.

use crate::audit::NewAuditEvent;
use crate::error::{Result, StoreError};
use crate::sqlite::{
    append_in, feedback_from_row, prediction_from_row, FEEDBACK_COLUMNS, PREDICTION_COLUMNS,
};
use crate::{now_ms, Feedback, PredictionRecord};
use klartext_core::{QualityReport, Schema};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The audit trail is kept at least this long (AI Act Art. 26(6): six months).
pub const AUDIT_MIN_RETENTION_DAYS: i64 = 183;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The output fields a pseudonymised prediction keeps: the decision, not the reasons
/// (which name the subject's values).
const KEPT_OUTPUT_FIELDS: &[&str] = &[
    "score",
    "label",
    "decision",
    "fallback",
    "review",
    "objected",
    "shadow_of",
];

/// A subject's objection to profiling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objection {
    pub subject_id: String,
    pub at_ms: i64,
    pub actor: String,
    pub reason: Option<String>,
}

/// Where a review item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Rejected,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewStatus> {
        match s {
            "pending" => Some(ReviewStatus::Pending),
            "approved" => Some(ReviewStatus::Approved),
            "rejected" => Some(ReviewStatus::Rejected),
            _ => None,
        }
    }
}

/// Why a decision waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOrigin {
    /// The use case has `significant_effect = true`: every decision is reviewed.
    SignificantEffect,
    /// The subject contested the decision.
    Contested,
}

impl ReviewOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewOrigin::SignificantEffect => "significant_effect",
            ReviewOrigin::Contested => "contested",
        }
    }
}

/// One item of the human review queue, with the prediction it is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub prediction_id: String,
    pub usecase_id: String,
    pub origin: ReviewOrigin,
    pub queued_ms: i64,
    pub contest_reason: Option<String>,
    pub status: ReviewStatus,
    pub decided_ms: Option<i64>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
    /// From the prediction log.
    pub subject_id: Option<String>,
    pub model_version: String,
    pub score: Option<f64>,
    pub output: serde_json::Value,
}

/// Everything the store keeps about one subject (datasets are read by the caller).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubjectRecords {
    pub predictions: Vec<PredictionRecord>,
    pub feedback: Vec<Feedback>,
    pub objection: Option<Objection>,
    pub reviews: Vec<Review>,
}

impl SubjectRecords {
    pub fn is_empty(&self) -> bool {
        self.predictions.is_empty()
            && self.feedback.is_empty()
            && self.objection.is_none()
            && self.reviews.is_empty()
    }
}

/// A dataset's new snapshot without the subject's rows: already published under its
/// content name (see `Store::publish_snapshot`), not yet referenced.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRewrite {
    pub dataset_id: String,
    /// The hash the rewrite was computed from; the erasure is refused if it changed.
    pub old_sha256: String,
    pub new_sha256: String,
    pub new_blob_path: String,
    /// The new snapshot description (owned by the data layer).
    pub snapshot: serde_json::Value,
    pub rows: u64,
    pub bytes: u64,
    pub rows_removed: u64,
    /// Schema and report recomputed for each use case the dataset is registered for.
    pub registrations: Vec<(String, Schema, QualityReport)>,
}

/// What to erase.
#[derive(Debug, Clone, PartialEq)]
pub struct Erasure {
    pub subject_id: String,
    pub actor: String,
    pub datasets: Vec<SnapshotRewrite>,
}

/// One dataset's part of an erasure, as the audit event records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErasedDataset {
    pub dataset_id: String,
    pub old_sha256: String,
    pub new_sha256: String,
    pub rows_removed: u64,
}

/// What an erasure did: counts and hashes only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErasureReport {
    pub datasets: Vec<ErasedDataset>,
    pub predictions_pseudonymised: u64,
    pub feedback_deleted: u64,
    pub reviews_cleared: u64,
    pub objection_removed: bool,
    pub audit_seq: i64,
}

/// Cut-offs of one use case's retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionRule {
    pub usecase_id: String,
    /// Prediction-log rows (with their feedback and review items) older than this go.
    pub predictions_before_ms: Option<i64>,
    /// Registrations older than this go; a dataset left without any loses its file.
    pub datasets_before_ms: Option<i64>,
}

/// What a retention purge removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PurgeReport {
    pub usecase_id: String,
    pub dry_run: bool,
    pub predictions: u64,
    pub feedback: u64,
    pub reviews: u64,
    pub registrations: Vec<String>,
    /// Datasets left without any registration: their snapshot files are removed.
    pub datasets_purged: Vec<String>,
    pub audit_seq: Option<i64>,
}

impl PurgeReport {
    pub fn is_empty(&self) -> bool {
        self.predictions == 0
            && self.feedback == 0
            && self.reviews == 0
            && self.registrations.is_empty()
    }
}

/// Refuse an audit purge that would keep less than [`AUDIT_MIN_RETENTION_DAYS`].
pub fn check_audit_purge(before_ms: i64, now_ms: i64) -> Result<()> {
    let earliest_allowed = now_ms - AUDIT_MIN_RETENTION_DAYS * DAY_MS;
    if before_ms > earliest_allowed {
        return Err(StoreError::Refused(format!(
            "refused: purging audit events before {} would keep less than {AUDIT_MIN_RETENTION_DAYS} days of the audit trail; the EU AI Act (Art. 26(6)) asks for at least six months, so the cut-off must be on or before {}",
            day(before_ms),
            day(earliest_allowed)
        )));
    }
    Ok(())
}

use klartext_core::calendar::date_of_ms as day;

fn event(actor: &str, action: &str, subject: &str, details: serde_json::Value) -> NewAuditEvent {
    NewAuditEvent {
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject: subject.to_owned(),
        details,
    }
}

const REVIEW_SELECT: &str =
    "SELECT r.prediction_id, r.usecase_id, r.origin, r.queued_ms, r.contest_reason, r.status, \
     r.decided_ms, r.decided_by, r.note, p.subject_id, p.model_version, p.score, p.output \
     FROM reviews r JOIN predictions p ON p.prediction_id = r.prediction_id";

fn review_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Review> {
    let origin: String = r.get(2)?;
    let status: String = r.get(5)?;
    let output: String = r.get(12)?;
    Ok(Review {
        prediction_id: r.get(0)?,
        usecase_id: r.get(1)?,
        origin: if origin == "contested" {
            ReviewOrigin::Contested
        } else {
            ReviewOrigin::SignificantEffect
        },
        queued_ms: r.get(3)?,
        contest_reason: r.get(4)?,
        status: ReviewStatus::parse(&status).unwrap_or(ReviewStatus::Pending),
        decided_ms: r.get(6)?,
        decided_by: r.get(7)?,
        note: r.get(8)?,
        subject_id: r.get(9)?,
        model_version: r.get(10)?,
        score: r.get(11)?,
        output: serde_json::from_str(&output).unwrap_or(serde_json::Value::String(output)),
    })
}

fn objection_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Objection> {
    Ok(Objection {
        subject_id: r.get(0)?,
        at_ms: r.get(1)?,
        actor: r.get(2)?,
        reason: r.get(3)?,
    })
}

/// Queue the served decisions held for review: called in the prediction log's
/// transaction, so a queued decision is as durable as its log row.
pub(crate) fn queue_reviews(tx: &Transaction<'_>, rows: &[PredictionRecord]) -> Result<()> {
    let pending = rows.iter().filter(|p| {
        p.role == crate::PredictionRole::Served
            && p.status == klartext_core::DecisionStatus::HeldForReview
    });
    let mut stmt = None;
    for p in pending {
        let s = match &mut stmt {
            Some(s) => s,
            None => stmt.insert(tx.prepare_cached(
                "INSERT OR IGNORE INTO reviews (prediction_id, usecase_id, origin, queued_ms, status) VALUES (?1, ?2, 'significant_effect', ?3, 'pending')",
            )?),
        };
        s.execute(params![p.prediction_id, p.usecase_id, p.at_ms])?;
    }
    Ok(())
}

pub(crate) fn records(conn: &Connection, subject: &str) -> Result<SubjectRecords> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PREDICTION_COLUMNS} FROM predictions WHERE subject_id = ?1 ORDER BY at_ms, rowid"
    ))?;
    let predictions = stmt
        .query_map([subject], prediction_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare(
        &format!("SELECT {FEEDBACK_COLUMNS} FROM feedback f \
         JOIN predictions p ON p.prediction_id = f.prediction_id WHERE p.subject_id = ?1 ORDER BY f.seq"),
    )?;
    let feedback = stmt
        .query_map([subject], feedback_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let objection = conn
        .query_row(
            "SELECT subject_id, at_ms, actor, reason FROM objections WHERE subject_id = ?1",
            [subject],
            objection_from_row,
        )
        .optional()?;
    let mut stmt = conn.prepare(&format!(
        "{REVIEW_SELECT} WHERE p.subject_id = ?1 ORDER BY r.queued_ms, r.rowid"
    ))?;
    let reviews = stmt
        .query_map([subject], review_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(SubjectRecords {
        predictions,
        feedback,
        objection,
        reviews,
    })
}

/// A prediction's output with only the decision left (see [`KEPT_OUTPUT_FIELDS`]).
fn strip_output(output: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(output) {
        Ok(serde_json::Value::Object(m)) => {
            let kept: serde_json::Map<_, _> = m
                .into_iter()
                .filter(|(k, _)| KEPT_OUTPUT_FIELDS.contains(&k.as_str()))
                .collect();
            serde_json::Value::Object(kept).to_string()
        }
        _ => "{}".into(),
    }
}

fn erased_marker() -> Result<String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Decode(format!("no randomness for an erasure marker: {e}")))?;
    Ok(format!("erased_{}", hex::encode(b)))
}

pub(crate) fn erase(tx: &Transaction<'_>, e: &Erasure) -> Result<ErasureReport> {
    let mut datasets = Vec::new();
    for d in &e.datasets {
        let current: Option<(String, String)> = tx
            .query_row(
                "SELECT sha256, blob_path FROM datasets WHERE id = ?1",
                [&d.dataset_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((sha, old_path)) = current else {
            return Err(StoreError::Refused(format!(
                "dataset {} is not in the store",
                d.dataset_id
            )));
        };
        if sha != d.old_sha256 {
            return Err(StoreError::Refused(format!(
                "dataset {} changed while the erasure was prepared; run it again",
                d.dataset_id
            )));
        }
        tx.execute(
            "UPDATE datasets SET sha256 = ?2, blob_path = ?3, snapshot = ?4, rows = ?5, bytes = ?6 WHERE id = ?1",
            params![
                d.dataset_id,
                d.new_sha256,
                d.new_blob_path,
                d.snapshot.to_string(),
                d.rows as i64,
                d.bytes as i64
            ],
        )?;
        for (usecase, schema, report) in &d.registrations {
            tx.execute(
                "UPDATE dataset_registrations SET schema = ?3, report = ?4 WHERE dataset_id = ?1 AND usecase_id = ?2",
                params![
                    d.dataset_id,
                    usecase,
                    serde_json::to_string(schema).expect("schemas serialise"),
                    serde_json::to_string(report).expect("reports serialise"),
                ],
            )?;
        }
        if old_path != d.new_blob_path {
            queue_removal(tx, &old_path)?;
        }
        datasets.push(ErasedDataset {
            dataset_id: d.dataset_id.clone(),
            old_sha256: d.old_sha256.clone(),
            new_sha256: d.new_sha256.clone(),
            rows_removed: d.rows_removed,
        });
    }
    let ids: Vec<(String, String)> = {
        let mut stmt =
            tx.prepare("SELECT prediction_id, output FROM predictions WHERE subject_id = ?1")?;
        let rows = stmt
            .query_map([&e.subject_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    let marker = erased_marker()?;
    let mut feedback_deleted = 0u64;
    let mut reviews_cleared = 0u64;
    for (id, output) in &ids {
        feedback_deleted +=
            tx.execute("DELETE FROM feedback WHERE prediction_id = ?1", [id])? as u64;
        reviews_cleared += tx.execute(
            "UPDATE reviews SET contest_reason = NULL, note = NULL WHERE prediction_id = ?1",
            [id],
        )? as u64;
        // The input digest is an unkeyed hash of the input, id included: it goes too.
        tx.execute(
            "UPDATE predictions SET subject_id = ?2, features = NULL, input_digest = 'erased', output = ?3 WHERE prediction_id = ?1",
            params![id, marker, strip_output(output)],
        )?;
    }
    let objection_removed = tx.execute(
        "DELETE FROM objections WHERE subject_id = ?1",
        [&e.subject_id],
    )? > 0;
    if objection_removed {
        // The objection outlives the erasure, as a keyed hash: if the subject's data
        // comes back, they are still not scored.
        let key = suppression_key(tx)?;
        tx.execute(
            "INSERT OR IGNORE INTO suppressed_subjects (subject_hmac, since_ms) VALUES (?1, ?2)",
            params![keyed(&key, &e.subject_id), now_ms()],
        )?;
    }
    let mut report = ErasureReport {
        datasets,
        predictions_pseudonymised: ids.len() as u64,
        feedback_deleted,
        reviews_cleared,
        objection_removed,
        audit_seq: 0,
    };
    let ev = append_in(
        tx,
        &event(
            &e.actor,
            "subject.erased",
            "subjects",
            serde_json::json!({
                "datasets": report.datasets,
                "predictions_pseudonymised": report.predictions_pseudonymised,
                "feedback_deleted": report.feedback_deleted,
                "reviews_cleared": report.reviews_cleared,
                "objection_removed": report.objection_removed,
                "objection_kept_as_keyed_hash": report.objection_removed,
            }),
        ),
    )?;
    if objection_removed {
        crate::govern::bump(tx)?;
    }
    report.audit_seq = ev.seq;
    Ok(report)
}

fn queue_removal(tx: &Transaction<'_>, rel: &str) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO blob_removals (path, queued_ms) VALUES (?1, ?2)",
        params![rel, now_ms()],
    )?;
    Ok(())
}

/// Remove the files whose removal was committed (after the commit, and at open for what
/// a crash left). A file still referenced by a dataset is kept.
pub(crate) fn remove_pending_blobs(conn: &Connection, dir: &Path) -> Result<()> {
    let paths: Vec<String> = {
        let mut stmt = conn.prepare("SELECT path FROM blob_removals")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    for rel in paths {
        let referenced = conn
            .query_row(
                "SELECT 1 FROM datasets WHERE blob_path = ?1 AND purged_ms IS NULL",
                [&rel],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !referenced {
            let path = dir.join(&rel);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path: path.display().to_string(),
                        source,
                    })
                }
            }
        }
        conn.execute("DELETE FROM blob_removals WHERE path = ?1", [&rel])?;
    }
    Ok(())
}

pub(crate) fn object(
    tx: &Transaction<'_>,
    subject: &str,
    actor: &str,
    reason: Option<&str>,
) -> Result<(Objection, bool)> {
    if subject.trim().is_empty() {
        return Err(StoreError::Refused("the subject id is empty".into()));
    }
    if let Some(o) = tx
        .query_row(
            "SELECT subject_id, at_ms, actor, reason FROM objections WHERE subject_id = ?1",
            [subject],
            objection_from_row,
        )
        .optional()?
    {
        return Ok((o, false));
    }
    let o = Objection {
        subject_id: subject.to_owned(),
        at_ms: now_ms(),
        actor: actor.to_owned(),
        reason: reason.map(str::to_owned),
    };
    tx.execute(
        "INSERT INTO objections (subject_id, at_ms, actor, reason) VALUES (?1, ?2, ?3, ?4)",
        params![o.subject_id, o.at_ms, o.actor, o.reason],
    )?;
    // Servers sharing the store poll this counter: the objection reaches them all.
    crate::govern::bump(tx)?;
    append_in(
        tx,
        &event(
            actor,
            "subject.objected",
            "subjects",
            serde_json::json!({ "reason_given": o.reason.is_some() }),
        ),
    )?;
    Ok((o, true))
}

/// Remove a subject's objection, also the keyed hash kept of it after an erasure.
pub(crate) fn withdraw(tx: &Transaction<'_>, subject: &str, actor: &str) -> Result<bool> {
    if subject.trim().is_empty() {
        return Err(StoreError::Refused("the subject id is empty".into()));
    }
    let objection = tx.execute("DELETE FROM objections WHERE subject_id = ?1", [subject])? > 0;
    let key = suppression_key(tx)?;
    let suppressed = tx.execute(
        "DELETE FROM suppressed_subjects WHERE subject_hmac = ?1",
        [keyed(&key, subject)],
    )? > 0;
    if !(objection || suppressed) {
        return Ok(false);
    }
    crate::govern::bump(tx)?;
    // Like `subject.objected`, the event names no subject.
    append_in(
        tx,
        &event(
            actor,
            "subject.objection_withdrawn",
            "subjects",
            serde_json::json!({ "kept_as_keyed_hash": suppressed && !objection }),
        ),
    )?;
    Ok(true)
}

/// Subjects whose objection outlived their erasure, as keyed hashes of their ids: no id
/// is kept, yet a returning id is recognised.
#[derive(Clone, Default)]
pub struct Suppression {
    key: Vec<u8>,
    hashes: std::collections::HashSet<String>,
}

impl std::fmt::Debug for Suppression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("Suppression")
            .field("subjects", &self.hashes.len())
            .finish()
    }
}

impl Suppression {
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether this subject id objected and was erased since.
    pub fn contains(&self, subject: &str) -> bool {
        !self.hashes.is_empty() && self.hashes.contains(&keyed(&self.key, subject))
    }
}

/// Hex HMAC-SHA256 of a subject id under the store's suppression key.
fn keyed(key: &[u8], subject: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(subject.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn suppression_key(conn: &Connection) -> Result<Vec<u8>> {
    Ok(conn.query_row(
        "SELECT key FROM store_keys WHERE name = 'suppression'",
        [],
        |r| r.get(0),
    )?)
}

pub(crate) fn suppression(conn: &Connection) -> Result<Suppression> {
    let key = suppression_key(conn)?;
    let mut stmt = conn.prepare("SELECT subject_hmac FROM suppressed_subjects")?;
    let hashes = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Suppression { key, hashes })
}

pub(crate) fn objections(conn: &Connection) -> Result<Vec<Objection>> {
    let mut stmt = conn
        .prepare("SELECT subject_id, at_ms, actor, reason FROM objections ORDER BY at_ms, rowid")?;
    let rows = stmt
        .query_map([], objection_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn review(conn: &Connection, prediction_id: &str) -> Result<Option<Review>> {
    Ok(conn
        .query_row(
            &format!("{REVIEW_SELECT} WHERE r.prediction_id = ?1"),
            [prediction_id],
            review_from_row,
        )
        .optional()?)
}

pub(crate) fn reviews(
    conn: &Connection,
    status: Option<ReviewStatus>,
    usecase: Option<&str>,
) -> Result<Vec<Review>> {
    let mut stmt = conn.prepare(&format!(
        "{REVIEW_SELECT} WHERE (?1 IS NULL OR r.status = ?1) AND (?2 IS NULL OR r.usecase_id = ?2) ORDER BY r.queued_ms, r.rowid"
    ))?;
    let rows = stmt
        .query_map(
            params![status.map(ReviewStatus::as_str), usecase],
            review_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Queue a served prediction for review because its subject contests it; a decided
/// item is reopened. `None` when no such prediction is logged.
pub(crate) fn contest(
    tx: &Transaction<'_>,
    prediction_id: &str,
    reason: &str,
    actor: &str,
) -> Result<Option<Review>> {
    let usecase: Option<String> = tx
        .query_row(
            "SELECT usecase_id FROM predictions WHERE prediction_id = ?1",
            [prediction_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(usecase) = usecase else {
        return Ok(None);
    };
    let at = now_ms();
    tx.execute(
        "INSERT INTO reviews (prediction_id, usecase_id, origin, queued_ms, contest_reason, status) VALUES (?1, ?2, 'contested', ?3, ?4, 'pending') \
         ON CONFLICT(prediction_id) DO UPDATE SET origin = 'contested', queued_ms = ?3, contest_reason = ?4, status = 'pending', decided_ms = NULL, decided_by = NULL, note = NULL",
        params![prediction_id, usecase, at, reason],
    )?;
    append_in(
        tx,
        &event(
            actor,
            "review.contested",
            &format!("usecase/{usecase}"),
            serde_json::json!({ "prediction_id": prediction_id }),
        ),
    )?;
    review(tx, prediction_id)
}

/// Approve or reject a pending item. `None` when nothing is queued for the prediction;
/// refused when it was decided already.
pub(crate) fn decide(
    tx: &Transaction<'_>,
    prediction_id: &str,
    approve: bool,
    actor: &str,
    note: Option<&str>,
) -> Result<Option<Review>> {
    let Some(r) = review(tx, prediction_id)? else {
        return Ok(None);
    };
    if r.status != ReviewStatus::Pending {
        return Err(StoreError::Refused(format!(
            "the review of {prediction_id} was {} already; a contest reopens it",
            r.status.as_str()
        )));
    }
    let status = if approve {
        ReviewStatus::Approved
    } else {
        ReviewStatus::Rejected
    };
    tx.execute(
        "UPDATE reviews SET status = ?2, decided_ms = ?3, decided_by = ?4, note = ?5 WHERE prediction_id = ?1",
        params![prediction_id, status.as_str(), now_ms(), actor, note],
    )?;
    append_in(
        tx,
        &event(
            actor,
            if approve {
                "review.approved"
            } else {
                "review.rejected"
            },
            &format!("usecase/{}", r.usecase_id),
            serde_json::json!({
                "prediction_id": prediction_id,
                "origin": r.origin.as_str(),
                "note_given": note.is_some(),
            }),
        ),
    )?;
    review(tx, prediction_id)
}

pub(crate) fn purge(
    tx: &Transaction<'_>,
    rule: &RetentionRule,
    dry_run: bool,
    actor: &str,
) -> Result<PurgeReport> {
    let mut rep = PurgeReport {
        usecase_id: rule.usecase_id.clone(),
        dry_run,
        ..PurgeReport::default()
    };
    let uc = &rule.usecase_id;
    if let Some(before) = rule.predictions_before_ms {
        const OLD: &str =
            "SELECT prediction_id FROM predictions WHERE usecase_id = ?1 AND at_ms < ?2";
        let count = |sql: &str| -> Result<u64> {
            Ok(tx.query_row(sql, params![uc, before], |r| r.get::<_, i64>(0))? as u64)
        };
        rep.predictions =
            count("SELECT COUNT(*) FROM predictions WHERE usecase_id = ?1 AND at_ms < ?2")?;
        rep.feedback = count(&format!(
            "SELECT COUNT(*) FROM feedback WHERE prediction_id IN ({OLD})"
        ))?;
        rep.reviews = count(&format!(
            "SELECT COUNT(*) FROM reviews WHERE prediction_id IN ({OLD})"
        ))?;
        if !dry_run {
            tx.execute(
                &format!("DELETE FROM feedback WHERE prediction_id IN ({OLD})"),
                params![uc, before],
            )?;
            tx.execute(
                &format!("DELETE FROM reviews WHERE prediction_id IN ({OLD})"),
                params![uc, before],
            )?;
            tx.execute(
                "DELETE FROM predictions WHERE usecase_id = ?1 AND at_ms < ?2",
                params![uc, before],
            )?;
        }
    }
    if let Some(before) = rule.datasets_before_ms {
        let expired: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT dataset_id FROM dataset_registrations WHERE usecase_id = ?1 AND created_ms < ?2 ORDER BY created_ms",
            )?;
            let rows = stmt
                .query_map(params![uc, before], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        for id in &expired {
            let others: i64 = tx.query_row(
                "SELECT COUNT(*) FROM dataset_registrations WHERE dataset_id = ?1 AND usecase_id <> ?2",
                params![id, uc],
                |r| r.get(0),
            )?;
            if others == 0 {
                rep.datasets_purged.push(id.clone());
            }
            if !dry_run {
                tx.execute(
                    "DELETE FROM dataset_registrations WHERE dataset_id = ?1 AND usecase_id = ?2",
                    params![id, uc],
                )?;
                if others == 0 {
                    let path: String =
                        tx.query_row("SELECT blob_path FROM datasets WHERE id = ?1", [id], |r| {
                            r.get(0)
                        })?;
                    tx.execute(
                        "UPDATE datasets SET purged_ms = ?2 WHERE id = ?1",
                        params![id, now_ms()],
                    )?;
                    queue_removal(tx, &path)?;
                }
            }
        }
        rep.registrations = expired;
    }
    if !dry_run && !rep.is_empty() {
        let ev = append_in(
            tx,
            &event(
                actor,
                "retention.purged",
                &format!("usecase/{uc}"),
                serde_json::json!({
                    "predictions_before_ms": rule.predictions_before_ms,
                    "datasets_before_ms": rule.datasets_before_ms,
                    "predictions": rep.predictions,
                    "feedback": rep.feedback,
                    "reviews": rep.reviews,
                    "registrations": rep.registrations,
                    "datasets_purged": rep.datasets_purged,
                }),
            ),
        )?;
        rep.audit_seq = Some(ev.seq);
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_purge_under_six_months_is_refused() {
        let now = 1_735_689_600_000;
        assert!(check_audit_purge(now - 30 * DAY_MS, now).is_err());
        assert!(check_audit_purge(now - 200 * DAY_MS, now).is_ok());
    }

    #[test]
    fn stripped_output_keeps_the_decision_only() {
        let s = strip_output(
            r#"{"score":0.7,"label":"Yes","reasons":["tenure 3 months"],"explanation":[1]}"#,
        );
        assert_eq!(s, r#"{"label":"Yes","score":0.7}"#);
    }
}
