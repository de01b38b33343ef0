//! Monitoring storage: the reference profile of each model version, the rows of the
//! prediction log monitoring reads (scores, feature bytes, outcomes), and alerts raised
//! at most once per use case, kind and window.

use crate::audit::{AuditEvent, NewAuditEvent};
use crate::error::Result;
use crate::sqlite::append_in;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// What [`crate::Store::visit_monitored`] calls per row: time, score, feature bytes.
pub type VisitMonitored<'a> = dyn FnMut(i64, Option<f64>, Option<&[u8]>) + 'a;

/// One answered prediction of a model version with the outcome fed back for it.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitoredOutcome {
    pub at_ms: i64,
    pub score: Option<f64>,
    /// The latest feedback's outcome as the caller sent it.
    pub outcome: serde_json::Value,
    /// And as the decision's kind read it, when it was read on arrival.
    pub typed: Option<klartext_core::Outcome>,
}

pub(crate) fn set_reference(
    conn: &Connection,
    usecase: &str,
    version: &str,
    reference: &str,
) -> Result<bool> {
    let n = conn.execute(
        "UPDATE models SET reference = ?3 WHERE usecase_id = ?1 AND version = ?2",
        params![usecase, version, reference],
    )?;
    Ok(n == 1)
}

pub(crate) fn reference(conn: &Connection, usecase: &str, version: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT reference FROM models WHERE usecase_id = ?1 AND version = ?2",
            params![usecase, version],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// Answered (not shadow), scored (not fallback) predictions of a version in
/// `[from_ms, to_ms)`, oldest first.
pub(crate) fn visit(
    conn: &Connection,
    usecase: &str,
    version: &str,
    from_ms: i64,
    to_ms: i64,
    f: &mut VisitMonitored<'_>,
) -> Result<usize> {
    let mut stmt = conn.prepare_cached(
        "SELECT at_ms, score, features FROM predictions \
         WHERE usecase_id = ?1 AND at_ms >= ?3 AND at_ms < ?4 \
           AND model_version = ?2 AND role = 'served' AND fallback = 0 \
         ORDER BY at_ms",
    )?;
    let mut rows = stmt.query(params![usecase, version, from_ms, to_ms])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let features = match r.get_ref(2)? {
            rusqlite::types::ValueRef::Blob(b) => Some(b),
            _ => None,
        };
        f(r.get(0)?, r.get(1)?, features);
        n += 1;
    }
    Ok(n)
}

pub(crate) fn outcomes(
    conn: &Connection,
    usecase: &str,
    version: &str,
    since_ms: i64,
) -> Result<Vec<MonitoredOutcome>> {
    // The latest feedback per prediction counts (a correction replaces the first word).
    let mut stmt = conn.prepare(
        "SELECT p.at_ms, p.score, f.outcome, f.typed FROM predictions p \
         JOIN feedback f ON f.prediction_id = p.prediction_id \
         WHERE p.usecase_id = ?1 AND p.model_version = ?2 AND p.at_ms >= ?3 \
           AND p.role = 'served' AND p.fallback = 0 \
           AND f.seq = (SELECT MAX(seq) FROM feedback g WHERE g.prediction_id = p.prediction_id) \
         ORDER BY p.at_ms",
    )?;
    let rows = stmt
        .query_map(params![usecase, version, since_ms], |r| {
            let outcome: String = r.get(2)?;
            Ok(MonitoredOutcome {
                at_ms: r.get(0)?,
                score: r.get(1)?,
                outcome: serde_json::from_str(&outcome)
                    .unwrap_or(serde_json::Value::String(outcome)),
                typed: r
                    .get::<_, Option<String>>(3)?
                    .and_then(|t| serde_json::from_str(&t).ok()),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Append the alert's audit event unless this use case already raised this kind of
/// alert in this window; `None` then.
pub(crate) fn raise_alert(
    tx: &Transaction<'_>,
    usecase: &str,
    kind: &str,
    window_start_ms: i64,
    event: &NewAuditEvent,
) -> Result<Option<AuditEvent>> {
    let known = tx
        .query_row(
            "SELECT 1 FROM monitoring_alerts WHERE usecase_id = ?1 AND kind = ?2 AND window_start_ms = ?3",
            params![usecase, kind, window_start_ms],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if known {
        return Ok(None);
    }
    let e = append_in(tx, event)?;
    tx.execute(
        "INSERT INTO monitoring_alerts (usecase_id, kind, window_start_ms, raised_ms, audit_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![usecase, kind, window_start_ms, crate::now_ms(), e.seq],
    )?;
    Ok(Some(e))
}
