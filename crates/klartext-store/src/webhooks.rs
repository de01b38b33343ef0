//! Webhook subscriptions and their delivery bookkeeping. The outbox is the audit trail
//! itself: each subscription keeps a cursor (the last audit seq delivered or given up
//! on), and every attempt is recorded with its outcome and next retry time.

use crate::audit::{AuditEvent, NewAuditEvent};
use crate::error::Result;
use crate::sqlite::append_in;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

/// A subscription of a URL to audit event types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// Action names (`model.promoted`, ...); `*` matches every event.
    pub events: Vec<String>,
    /// The HMAC-SHA256 signing secret.
    pub secret: String,
    pub created_ms: i64,
    pub created_by: String,
    pub revoked_ms: Option<i64>,
    /// The last audit seq delivered or given up on; set at creation to the
    /// `webhook.created` event, so only later events are delivered.
    #[serde(default)]
    pub cursor_seq: i64,
}

impl Webhook {
    pub fn wants(&self, action: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == action)
    }
}

/// One delivery attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    pub webhook_id: String,
    pub event_seq: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at_ms: i64,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
    /// When to try again; `None` once delivered or given up.
    pub next_retry_ms: Option<i64>,
}

/// An event due for delivery to a subscription, and which attempt this is.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingDelivery {
    pub webhook: Webhook,
    pub event: AuditEvent,
    pub attempt: u32,
}

const COLUMNS: &str = "id, url, events, secret, created_ms, created_by, revoked_ms, cursor_seq";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Webhook> {
    let events: String = r.get(2)?;
    Ok(Webhook {
        id: r.get(0)?,
        url: r.get(1)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        secret: r.get(3)?,
        created_ms: r.get(4)?,
        created_by: r.get(5)?,
        revoked_ms: r.get(6)?,
        cursor_seq: r.get(7)?,
    })
}

pub(crate) fn create(tx: &Transaction<'_>, w: &Webhook) -> Result<Webhook> {
    // The audit event names the URL and event types, never the secret.
    let e = append_in(
        tx,
        &NewAuditEvent {
            actor: w.created_by.clone(),
            action: "webhook.created".into(),
            subject: format!("webhook/{}", w.id),
            details: serde_json::json!({ "id": w.id, "url": w.url, "events": w.events }),
        },
    )?;
    let mut w = w.clone();
    w.cursor_seq = e.seq;
    tx.execute(
        &format!("INSERT INTO webhooks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            w.id,
            w.url,
            serde_json::to_string(&w.events).expect("strings serialise"),
            w.secret,
            w.created_ms,
            w.created_by,
            w.revoked_ms,
            w.cursor_seq
        ],
    )?;
    Ok(w)
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<Webhook>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM webhooks ORDER BY created_ms, id"
    ))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn remove(tx: &Transaction<'_>, id: &str, actor: &str, now: i64) -> Result<bool> {
    let revoked: Option<Option<i64>> = tx
        .query_row("SELECT revoked_ms FROM webhooks WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    match revoked {
        None => Ok(false),
        Some(Some(_)) => Ok(true),
        Some(None) => {
            tx.execute(
                "UPDATE webhooks SET revoked_ms = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            append_in(
                tx,
                &NewAuditEvent {
                    actor: actor.to_owned(),
                    action: "webhook.removed".into(),
                    subject: format!("webhook/{id}"),
                    details: serde_json::json!({ "id": id }),
                },
            )?;
            Ok(true)
        }
    }
}

/// For each active subscription, the first event after its cursor that it wants, unless
/// its last attempt asked to wait past `now_ms`. One per subscription keeps order. A
/// subscription that wants none of `events` has its cursor moved past them.
pub(crate) fn pending(
    conn: &Connection,
    events: &[AuditEvent],
    now_ms: i64,
) -> Result<Vec<PendingDelivery>> {
    let mut out = Vec::new();
    for w in list(conn)?.into_iter().filter(|w| w.revoked_ms.is_none()) {
        let Some(event) = events
            .iter()
            .find(|e| e.seq > w.cursor_seq && w.wants(&e.action))
            .cloned()
        else {
            // Nothing wanted among the events read: skip past them so that later polls
            // do not read them again (events appended meanwhile have higher seqs).
            if let Some(last) = events.last().filter(|e| e.seq > w.cursor_seq) {
                conn.execute(
                    "UPDATE webhooks SET cursor_seq = MAX(cursor_seq, ?2) WHERE id = ?1",
                    params![w.id, last.seq],
                )?;
            }
            continue;
        };
        let last: Option<(u32, Option<i64>)> = conn
            .query_row(
                "SELECT attempt, next_retry_ms FROM webhook_attempts WHERE webhook_id = ?1 AND event_seq = ?2 ORDER BY attempt DESC LIMIT 1",
                params![w.id, event.seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let attempt = match last {
            None => 1,
            Some((n, Some(next))) if next <= now_ms => n + 1,
            Some(_) => continue,
        };
        out.push(PendingDelivery {
            webhook: w,
            event,
            attempt,
        });
    }
    Ok(out)
}

pub(crate) fn record(tx: &Transaction<'_>, a: &WebhookAttempt) -> Result<()> {
    tx.execute(
        "INSERT INTO webhook_attempts (webhook_id, event_seq, attempt, at_ms, http_status, error, delivered, next_retry_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            a.webhook_id,
            a.event_seq,
            a.attempt,
            a.at_ms,
            a.http_status,
            a.error,
            a.delivered,
            a.next_retry_ms
        ],
    )?;
    if a.delivered || a.next_retry_ms.is_none() {
        tx.execute(
            "UPDATE webhooks SET cursor_seq = MAX(cursor_seq, ?2) WHERE id = ?1",
            params![a.webhook_id, a.event_seq],
        )?;
    }
    Ok(())
}

pub(crate) fn attempts(conn: &Connection, webhook: Option<&str>) -> Result<Vec<WebhookAttempt>> {
    let mut stmt = conn.prepare(
        "SELECT webhook_id, event_seq, attempt, at_ms, http_status, error, delivered, next_retry_ms FROM webhook_attempts \
         WHERE ?1 IS NULL OR webhook_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([webhook], |r| {
            Ok(WebhookAttempt {
                webhook_id: r.get(0)?,
                event_seq: r.get(1)?,
                attempt: r.get(2)?,
                at_ms: r.get(3)?,
                http_status: r.get(4)?,
                error: r.get(5)?,
                delivered: r.get(6)?,
                next_retry_ms: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
