//! The embedded store: one SQLite file plus a snapshot folder, under one directory.

use crate::audit::{canonical, chain_hash, AuditEvent, NewAuditEvent, GENESIS};
use crate::blobs;
use crate::checkpoint::{self, AuditVerification, Checkpoint};
use crate::error::{Result, StoreError};
use crate::govern::{self, Alias, AliasChange, Governance, Promotion, Rollback, Switch};
use crate::monitoring::{self, MonitoredOutcome, VisitMonitored};
use crate::webhooks::{self, PendingDelivery, Webhook, WebhookAttempt};
use crate::{
    now_ms, ApiKey, DatasetRecord, Feedback, KeyRole, ModelRecord, PredictionRecord,
    PredictionRole, Registered, Registration, StagedSnapshot, Store,
};
use klartext_core::{DecisionStatus, UseCaseKind};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Versioned migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_models.sql")),
    (3, include_str!("../migrations/0003_serving.sql")),
    (4, include_str!("../migrations/0004_governance.sql")),
    (5, include_str!("../migrations/0005_usecases.sql")),
    (6, include_str!("../migrations/0006_shadow.sql")),
    (7, include_str!("../migrations/0007_webhooks.sql")),
    (8, include_str!("../migrations/0008_monitoring.sql")),
    (9, include_str!("../migrations/0009_subjects.sql")),
    (10, include_str!("../migrations/0010_suppression.sql")),
    (11, include_str!("../migrations/0011_kinds.sql")),
];

pub struct SqliteStore {
    dir: PathBuf,
    conn: Mutex<Connection>,
    /// A second connection, opened on first use, for lookups on the request path (API
    /// keys): in WAL mode it reads beside the writer instead of queueing behind the
    /// prediction log's commits on `conn`.
    reader: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.dir)
            .finish()
    }
}

impl SqliteStore {
    /// Open (creating when needed) the store in `dir` and bring its schema up to date.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let conn = Connection::open(dir.join("klartext.db"))?;
        // WAL lets readers (a second server) run beside a writer; FULL sync makes every
        // acknowledged commit survive a power cut, not just a process crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A checkpoint runs inside the commit that fills the WAL and holds up every
        // prediction waiting on the log. At SQLite's default (1,000 pages, about every
        // 200 group commits under load) those stalls touched more than 1% of requests
        // and set the p99; at 4,000 pages (a 16 MiB WAL) they are a quarter as frequent.
        conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut conn = conn;
        migrate(&mut conn)?;
        crate::subjects::remove_pending_blobs(&conn, dir)?;
        blobs::sweep_temp(&dir.join("snapshots"));
        blobs::sweep_temp(&dir.join("models"));
        Ok(SqliteStore {
            dir: dir.to_owned(),
            conn: Mutex::new(conn),
            reader: Mutex::new(None),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<i64> {
        let conn = self.lock();
        Ok(conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?)
    }

    /// A stored file's bytes, refused when they no longer match their recorded hash.
    fn read_verified(&self, rel: &str, sha256: &str) -> Result<Vec<u8>> {
        let path = self.dir.join(rel);
        let shown = || path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|source| StoreError::Io {
            path: shown(),
            source,
        })?;
        let found = hex::encode(Sha256::digest(&bytes));
        if found != sha256 {
            return Err(StoreError::Corrupt {
                path: shown(),
                expected: sha256.to_owned(),
                found,
            });
        }
        Ok(bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent: keep going.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
    )?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    for &(version, sql) in MIGRATIONS {
        // Each step under the write lock, the version read inside it: two processes
        // opening one store at once apply every migration once.
        let tx = write_tx(conn)?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        if current > known {
            return Err(StoreError::TooNew {
                found: current,
                known,
            });
        }
        if version <= current {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)",
            params![version, now_ms()],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// A transaction that writes: it takes SQLite's write lock when it begins, so that it
/// waits its turn (the busy timeout) instead of failing when it first writes after
/// another process committed since its read (`SQLITE_BUSY`, which no timeout helps).
pub(crate) fn write_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain records serialise")
}

fn dataset_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(DatasetRecord, String)> {
    let snapshot: String = r.get(3)?;
    Ok((
        DatasetRecord {
            id: r.get(0)?,
            sha256: r.get(1)?,
            source_name: r.get(2)?,
            snapshot: serde_json::from_str(&snapshot).unwrap_or(serde_json::Value::Null),
            rows: r.get::<_, i64>(4)? as u64,
            columns: r.get::<_, i64>(5)? as u64,
            bytes: r.get::<_, i64>(6)? as u64,
            created_ms: r.get(7)?,
            created_by: r.get(8)?,
        },
        r.get(9)?,
    ))
}

const DATASET_COLUMNS: &str =
    "id, sha256, source_name, snapshot, rows, columns, bytes, created_ms, created_by, blob_path";

fn registration_from_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, String, i64, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn to_registration(t: (String, String, String, String, i64, String)) -> Result<Registration> {
    Ok(Registration {
        dataset_id: t.0,
        usecase_id: t.1,
        schema: decode(&t.2)?,
        report: decode(&t.3)?,
        created_ms: t.4,
        created_by: t.5,
    })
}

/// Append an event about a use case (`usecase/<id>`) inside a transaction.
pub(crate) fn audit_usecase(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    usecase: &str,
    details: serde_json::Value,
) -> Result<AuditEvent> {
    append_in(
        tx,
        &NewAuditEvent {
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: format!("usecase/{usecase}"),
            details,
        },
    )
}

pub(crate) fn append_in(tx: &Transaction<'_>, e: &NewAuditEvent) -> Result<AuditEvent> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev_hash) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_owned()),
    };
    let at_ms = now_ms();
    let hash = chain_hash(&prev_hash, &canonical(seq, at_ms, e));
    tx.execute(
        "INSERT INTO audit_events (seq, at_ms, actor, action, subject, details, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![seq, at_ms, e.actor, e.action, e.subject, e.details.to_string(), prev_hash, hash],
    )?;
    // Every so many events, a signed checkpoint, so that cutting off the tail shows.
    if seq % crate::checkpoint::CHECKPOINT_EVERY == 0 {
        if let Some(db) = tx.path().filter(|p| !p.is_empty()) {
            let dir = Path::new(db).parent().unwrap_or(Path::new("."));
            crate::checkpoint::checkpoint_in(tx, dir, seq, &hash)?;
        }
    }
    Ok(AuditEvent {
        seq,
        at_ms,
        actor: e.actor.clone(),
        action: e.action.clone(),
        subject: e.subject.clone(),
        details: e.details.clone(),
        prev_hash,
        hash,
    })
}

impl Store for SqliteStore {
    fn record_usecase(
        &self,
        usecase: &str,
        sha256: &str,
        actor: &str,
    ) -> Result<Option<AuditEvent>> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let latest: Option<String> = tx
            .query_row(
                "SELECT sha256 FROM usecase_versions WHERE usecase_id = ?1 ORDER BY seen_ms DESC, rowid DESC LIMIT 1",
                [usecase],
                |r| r.get(0),
            )
            .optional()?;
        if latest.as_deref() == Some(sha256) {
            return Ok(None);
        }
        // Going back to an earlier content is a change too: record it as seen again.
        tx.execute(
            "DELETE FROM usecase_versions WHERE usecase_id = ?1 AND sha256 = ?2",
            [usecase, sha256],
        )?;
        tx.execute(
            "INSERT INTO usecase_versions (usecase_id, sha256, seen_ms, seen_by) VALUES (?1, ?2, ?3, ?4)",
            params![usecase, sha256, now_ms(), actor],
        )?;
        let event = append_in(
            &tx,
            &NewAuditEvent {
                actor: actor.to_owned(),
                action: if latest.is_none() {
                    "usecase.created"
                } else {
                    "usecase.changed"
                }
                .into(),
                subject: format!("usecase/{usecase}"),
                details: serde_json::json!({ "sha256": sha256, "previous_sha256": latest }),
            },
        )?;
        tx.commit()?;
        Ok(Some(event))
    }

    fn put_snapshot(&self, sha256: &str, extension: &str, bytes: &[u8]) -> Result<String> {
        let name = format!("{sha256}.{extension}");
        blobs::write_atomic(&self.dir.join("snapshots"), &name, bytes)?;
        Ok(format!("snapshots/{name}"))
    }

    fn stage_snapshot(&self, bytes: &[u8]) -> Result<StagedSnapshot> {
        let temp = blobs::write_temp(&self.dir.join("snapshots"), bytes)?;
        Ok(StagedSnapshot { temp: Some(temp) })
    }

    fn publish_snapshot(
        &self,
        mut staged: StagedSnapshot,
        sha256: &str,
        extension: &str,
    ) -> Result<String> {
        let name = format!("{sha256}.{extension}");
        let tmp = staged
            .temp
            .take()
            .expect("a staged snapshot has its file until published");
        blobs::publish(&self.dir.join("snapshots"), tmp, &name)?;
        Ok(format!("snapshots/{name}"))
    }

    fn snapshot_bytes(&self, dataset: &DatasetRecord) -> Result<Vec<u8>> {
        let rel: String = self.lock().query_row(
            "SELECT blob_path FROM datasets WHERE id = ?1",
            [&dataset.id],
            |r| r.get(0),
        )?;
        self.read_verified(&rel, &dataset.sha256)
    }

    fn register_dataset(
        &self,
        d: &DatasetRecord,
        blob_path: &str,
        reg: &Registration,
    ) -> Result<Registered> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let known: bool = tx
            .query_row("SELECT 1 FROM datasets WHERE id = ?1", [&d.id], |_| Ok(()))
            .optional()?
            .is_some();
        if !known {
            tx.execute(
                &format!("INSERT INTO datasets ({DATASET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    d.id, d.sha256, d.source_name, d.snapshot.to_string(), d.rows as i64, d.columns as i64,
                    d.bytes as i64, d.created_ms, d.created_by, blob_path
                ],
            )?;
        }
        let registered: bool = tx
            .query_row(
                "SELECT 1 FROM dataset_registrations WHERE dataset_id = ?1 AND usecase_id = ?2",
                [&reg.dataset_id, &reg.usecase_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if registered {
            return Ok(Registered::Existing);
        }
        tx.execute(
            "INSERT INTO dataset_registrations (dataset_id, usecase_id, schema, report, created_ms, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![reg.dataset_id, reg.usecase_id, encode(&reg.schema), encode(&reg.report), reg.created_ms, reg.created_by],
        )?;
        audit_usecase(
            &tx,
            &reg.created_by,
            "dataset.registered",
            &reg.usecase_id,
            serde_json::json!({
                "dataset_id": d.id,
                "sha256": d.sha256,
                "rows": d.rows,
                "columns": d.columns,
            }),
        )?;
        tx.commit()?;
        Ok(if known {
            Registered::NewForUseCase
        } else {
            Registered::New
        })
    }

    fn dataset(&self, id: &str) -> Result<Option<DatasetRecord>> {
        let conn = self.lock();
        let row = conn
            .query_row(
                &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE id = ?1"),
                [id],
                dataset_from_row,
            )
            .optional()?;
        Ok(row.map(|(d, _)| d))
    }

    fn registrations(&self, usecase: Option<&str>) -> Result<Vec<Registration>> {
        let conn = self.lock();
        let sql = "SELECT dataset_id, usecase_id, schema, report, created_ms, created_by FROM dataset_registrations \
                   WHERE (?1 IS NULL OR usecase_id = ?1) ORDER BY created_ms DESC, rowid DESC";
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map([usecase], registration_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(to_registration).collect()
    }

    fn registration(&self, dataset_id: &str, usecase: &str) -> Result<Option<Registration>> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT dataset_id, usecase_id, schema, report, created_ms, created_by FROM dataset_registrations WHERE dataset_id = ?1 AND usecase_id = ?2",
                [dataset_id, usecase],
                registration_from_row,
            )
            .optional()?;
        row.map(to_registration).transpose()
    }

    fn append_audit(&self, event: &NewAuditEvent) -> Result<AuditEvent> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let e = append_in(&tx, event)?;
        tx.commit()?;
        Ok(e)
    }

    fn audit_events(&self, since_seq: i64) -> Result<Vec<AuditEvent>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT seq, at_ms, actor, action, subject, details, prev_hash, hash FROM audit_events WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([since_seq], |r| {
                let details: String = r.get(5)?;
                Ok(AuditEvent {
                    seq: r.get(0)?,
                    at_ms: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    subject: r.get(4)?,
                    details: serde_json::from_str(&details)
                        .unwrap_or(serde_json::Value::String(details)),
                    prev_hash: r.get(6)?,
                    hash: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn verify_audit(&self) -> Result<Option<i64>> {
        let mut prev = GENESIS.to_owned();
        for (expected_seq, e) in (1..).zip(self.audit_events(0)?) {
            let body = NewAuditEvent {
                actor: e.actor,
                action: e.action,
                subject: e.subject,
                details: e.details,
            };
            if e.seq != expected_seq
                || e.prev_hash != prev
                || chain_hash(&prev, &canonical(e.seq, e.at_ms, &body)) != e.hash
            {
                return Ok(Some(e.seq));
            }
            prev = e.hash;
        }
        Ok(None)
    }

    fn put_artifact(&self, sha256: &str, bytes: &[u8]) -> Result<String> {
        let name = format!("{sha256}.ktm");
        blobs::write_atomic(&self.dir.join("models"), &name, bytes)?;
        Ok(format!("models/{name}"))
    }

    fn register_model(&self, m: &ModelRecord, blob_path: &str) -> Result<Registered> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let known = tx
            .query_row(
                "SELECT 1 FROM models WHERE usecase_id = ?1 AND version = ?2",
                [&m.usecase_id, &m.version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if known {
            return Ok(Registered::Existing);
        }
        tx.execute(
            &format!("INSERT INTO models ({MODEL_COLUMNS}, blob_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            params![
                m.usecase_id, m.version, m.sha256, m.dataset_id, m.learner, m.gates_passed,
                m.report.to_string(), m.card, m.created_ms, m.created_by, blob_path
            ],
        )?;
        audit_usecase(
            &tx,
            &m.created_by,
            "model.trained",
            &m.usecase_id,
            serde_json::json!({
                "version": m.version,
                "sha256": m.sha256,
                "dataset_id": m.dataset_id,
                "learner": m.learner,
                "gates_passed": m.gates_passed,
            }),
        )?;
        tx.commit()?;
        Ok(Registered::New)
    }

    fn models(&self, usecase: &str) -> Result<Vec<ModelRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {MODEL_COLUMNS} FROM models WHERE usecase_id = ?1 ORDER BY created_ms DESC, rowid DESC"
        ))?;
        let rows = stmt
            .query_map([usecase], model_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn model(&self, usecase: &str, version: &str) -> Result<Option<ModelRecord>> {
        let conn = self.lock();
        // A unique prefix of the version is enough, as with git.
        let mut stmt = conn.prepare(&format!(
            "SELECT {MODEL_COLUMNS} FROM models WHERE usecase_id = ?1 AND version LIKE ?2 || '%' ORDER BY version LIMIT 2"
        ))?;
        let rows = stmt
            .query_map([usecase, version], model_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(if rows.len() == 1 {
            rows.into_iter().next()
        } else {
            None
        })
    }

    fn model_bytes(&self, m: &ModelRecord) -> Result<Vec<u8>> {
        let rel: String = self.lock().query_row(
            "SELECT blob_path FROM models WHERE usecase_id = ?1 AND version = ?2",
            [&m.usecase_id, &m.version],
            |r| r.get(0),
        )?;
        self.read_verified(&rel, &m.sha256)
    }

    fn create_key(&self, k: &ApiKey) -> Result<()> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        tx.execute(
            &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                k.id,
                k.role.as_str(),
                k.key_sha256,
                k.created_ms,
                k.created_by,
                k.revoked_ms
            ],
        )?;
        // The audit trail names the key and its role, never its hash: the hash of a
        // high-entropy secret is harmless, but nothing needs it there.
        append_in(
            &tx,
            &NewAuditEvent {
                actor: k.created_by.clone(),
                action: "key.created".into(),
                subject: format!("key/{}", k.id),
                details: serde_json::json!({ "id": k.id, "role": k.role.as_str() }),
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    fn keys(&self) -> Result<Vec<ApiKey>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_ms, rowid"
        ))?;
        let rows = stmt
            .query_map([], key_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().collect()
    }

    fn key_by_hash(&self, key_sha256: &str) -> Result<Option<ApiKey>> {
        let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if reader.is_none() {
            let c = Connection::open(self.dir.join("klartext.db"))?;
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            *reader = Some(c);
        }
        let conn = reader.as_ref().expect("opened above");
        // Cached: a server looks up every key it has not seen, unknown ones each time.
        let row = conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_sha256 = ?1"
            ))?
            .query_row([key_sha256], key_from_row)
            .optional()?;
        row.transpose()
    }

    fn revoke_key(&self, id: &str, actor: &str) -> Result<bool> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let revoked: Option<Option<i64>> = tx
            .query_row("SELECT revoked_ms FROM api_keys WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        match revoked {
            None => return Ok(false),
            Some(Some(_)) => return Ok(true),
            Some(None) => {}
        }
        tx.execute(
            "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1",
            params![id, now_ms()],
        )?;
        // Servers cache checked keys; the governance version they poll tells them to
        // forget the cache, so a revocation reaches them as fast as a switch.
        govern::bump(&tx)?;
        append_in(
            &tx,
            &NewAuditEvent {
                actor: actor.to_owned(),
                action: "key.revoked".into(),
                subject: format!("key/{id}"),
                details: serde_json::json!({ "id": id }),
            },
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn set_model_reference(&self, usecase: &str, version: &str, reference: &str) -> Result<bool> {
        monitoring::set_reference(&self.lock(), usecase, version, reference)
    }

    fn model_reference(&self, usecase: &str, version: &str) -> Result<Option<String>> {
        monitoring::reference(&self.lock(), usecase, version)
    }

    fn visit_monitored(
        &self,
        usecase: &str,
        version: &str,
        from_ms: i64,
        to_ms: i64,
        f: &mut VisitMonitored<'_>,
    ) -> Result<usize> {
        monitoring::visit(&self.lock(), usecase, version, from_ms, to_ms, f)
    }

    fn monitored_outcomes(
        &self,
        usecase: &str,
        version: &str,
        since_ms: i64,
    ) -> Result<Vec<MonitoredOutcome>> {
        monitoring::outcomes(&self.lock(), usecase, version, since_ms)
    }

    fn raise_alert(
        &self,
        usecase: &str,
        kind: &str,
        window_start_ms: i64,
        event: &NewAuditEvent,
    ) -> Result<Option<AuditEvent>> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let e = monitoring::raise_alert(&tx, usecase, kind, window_start_ms, event)?;
        tx.commit()?;
        Ok(e)
    }

    fn log_predictions(&self, rows: &[PredictionRecord]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO predictions ({PREDICTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
            ))?;
            for p in rows {
                stmt.execute(params![
                    p.prediction_id,
                    p.at_ms,
                    p.usecase_id,
                    p.model_version,
                    p.subject_id,
                    p.input_digest,
                    p.output.to_string(),
                    p.latency_us,
                    p.caller,
                    p.fallback,
                    p.role.as_str(),
                    p.score,
                    p.features,
                    p.kind.map(UseCaseKind::as_str),
                    p.status.as_str(),
                    p.shadow_of,
                    p.batch_id
                ])?;
            }
        }
        crate::subjects::queue_reviews(&tx, rows)?;
        tx.commit()?;
        Ok(())
    }

    fn prediction(&self, id: &str) -> Result<Option<PredictionRecord>> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                &format!("SELECT {PREDICTION_COLUMNS} FROM predictions WHERE prediction_id = ?1"),
                [id],
                prediction_from_row,
            )
            .optional()?)
    }

    fn predictions(&self, usecase: &str, since_ms: Option<i64>) -> Result<Vec<PredictionRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {PREDICTION_COLUMNS} FROM predictions \
             WHERE usecase_id = ?1 AND (?2 IS NULL OR at_ms >= ?2) ORDER BY at_ms, rowid"
        ))?;
        let rows = stmt
            .query_map(params![usecase, since_ms], prediction_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn usecase_feedback(&self, usecase: &str) -> Result<Vec<Feedback>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FEEDBACK_COLUMNS} FROM feedback f \
             JOIN predictions p ON p.prediction_id = f.prediction_id \
             WHERE p.usecase_id = ?1 ORDER BY f.seq"
        ))?;
        let rows = stmt
            .query_map([usecase], feedback_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn add_feedback(&self, f: &Feedback) -> Result<bool> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let known = tx
            .query_row(
                "SELECT 1 FROM predictions WHERE prediction_id = ?1",
                [&f.prediction_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !known {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO feedback (prediction_id, outcome, at_ms, caller, typed) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                f.prediction_id,
                f.outcome.to_string(),
                f.at_ms,
                f.caller,
                f.typed.map(|t| serde_json::to_string(&t).expect("outcomes serialise"))
            ],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn feedback(&self, prediction_id: &str) -> Result<Vec<Feedback>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FEEDBACK_COLUMNS} FROM feedback f WHERE f.prediction_id = ?1 ORDER BY f.seq"
        ))?;
        let rows = stmt
            .query_map([prediction_id], feedback_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn promote(&self, promotion: &Promotion) -> Result<Alias> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let a = govern::promote(&tx, promotion)?;
        tx.commit()?;
        Ok(a)
    }

    fn rollback(&self, usecase: &str, actor: &str, reason: Option<&str>) -> Result<Rollback> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let r = govern::rollback(&tx, usecase, actor, reason)?;
        tx.commit()?;
        Ok(r)
    }

    fn clear_challenger(
        &self,
        usecase: &str,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<Option<String>> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let r = govern::clear_challenger(&tx, usecase, actor, reason)?;
        tx.commit()?;
        Ok(r)
    }

    fn aliases(&self, usecase: Option<&str>) -> Result<Vec<Alias>> {
        govern::aliases(&self.lock(), usecase)
    }

    fn alias_history(&self, usecase: &str) -> Result<Vec<AliasChange>> {
        govern::history(&self.lock(), usecase)
    }

    fn set_switch(&self, usecase: &str, on: bool, actor: &str, reason: &str) -> Result<Switch> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let r = govern::set_switch(&tx, usecase, on, actor, reason)?;
        tx.commit()?;
        Ok(r)
    }

    fn switches(&self) -> Result<Vec<Switch>> {
        govern::switches(&self.lock())
    }

    fn governance_version(&self) -> Result<i64> {
        govern::version(&self.lock())
    }

    fn governance(&self) -> Result<Governance> {
        let mut conn = self.lock();
        // Read only: a deferred transaction, for one consistent snapshot.
        let tx = conn.transaction()?;
        let g = govern::snapshot(&tx)?;
        tx.commit()?;
        Ok(g)
    }

    fn audit_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let Some((seq, hash)) = checkpoint::last_event(&tx)? else {
            return Ok(None);
        };
        let cp = checkpoint::checkpoint_in(&tx, &self.dir, seq, &hash)?;
        tx.commit()?;
        Ok(Some(cp))
    }

    fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        checkpoint::checkpoints(&self.lock())
    }

    fn create_webhook(&self, webhook: &Webhook) -> Result<Webhook> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let w = webhooks::create(&tx, webhook)?;
        tx.commit()?;
        Ok(w)
    }

    fn webhooks(&self) -> Result<Vec<Webhook>> {
        webhooks::list(&self.lock())
    }

    fn remove_webhook(&self, id: &str, actor: &str) -> Result<bool> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let found = webhooks::remove(&tx, id, actor, now_ms())?;
        tx.commit()?;
        Ok(found)
    }

    fn pending_webhook_deliveries(&self, now_ms: i64) -> Result<Vec<PendingDelivery>> {
        let Some(min_cursor) = webhooks::list(&self.lock())?
            .iter()
            .filter(|w| w.revoked_ms.is_none())
            .map(|w| w.cursor_seq)
            .min()
        else {
            return Ok(Vec::new());
        };
        let events = self.audit_events(min_cursor)?;
        webhooks::pending(&self.lock(), &events, now_ms)
    }

    fn record_webhook_attempt(&self, attempt: &WebhookAttempt) -> Result<()> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        webhooks::record(&tx, attempt)?;
        tx.commit()?;
        Ok(())
    }

    fn webhook_attempts(&self, webhook: Option<&str>) -> Result<Vec<WebhookAttempt>> {
        webhooks::attempts(&self.lock(), webhook)
    }

    fn subject_records(&self, subject_id: &str) -> Result<crate::SubjectRecords> {
        let mut conn = self.lock();
        // Read only: a deferred transaction, for one consistent snapshot.
        let tx = conn.transaction()?;
        let r = crate::subjects::records(&tx, subject_id)?;
        tx.commit()?;
        Ok(r)
    }

    fn erase_subject(&self, erasure: &crate::Erasure) -> Result<crate::ErasureReport> {
        let mut conn = self.lock();
        let done: Result<crate::ErasureReport> = (|| {
            let tx = write_tx(&mut conn)?;
            let r = crate::subjects::erase(&tx, erasure)?;
            tx.commit()?;
            Ok(r)
        })();
        if done.is_err() {
            // Nothing references the new snapshot files: remove them (unless another
            // dataset has the same content).
            for d in &erasure.datasets {
                let referenced = conn
                    .query_row(
                        "SELECT 1 FROM datasets WHERE blob_path = ?1",
                        [&d.new_blob_path],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if !referenced {
                    let _ = std::fs::remove_file(self.dir.join(&d.new_blob_path));
                }
            }
        }
        let report = done?;
        crate::subjects::remove_pending_blobs(&conn, &self.dir)?;
        Ok(report)
    }

    fn object_subject(
        &self,
        subject_id: &str,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<(crate::Objection, bool)> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let r = crate::subjects::object(&tx, subject_id, actor, reason)?;
        tx.commit()?;
        Ok(r)
    }

    fn withdraw_objection(&self, subject_id: &str, actor: &str) -> Result<bool> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let withdrawn = crate::subjects::withdraw(&tx, subject_id, actor)?;
        tx.commit()?;
        Ok(withdrawn)
    }

    fn objections(&self) -> Result<Vec<crate::Objection>> {
        crate::subjects::objections(&self.lock())
    }

    fn suppression(&self) -> Result<crate::Suppression> {
        crate::subjects::suppression(&self.lock())
    }

    fn reviews(
        &self,
        status: Option<crate::ReviewStatus>,
        usecase: Option<&str>,
    ) -> Result<Vec<crate::Review>> {
        crate::subjects::reviews(&self.lock(), status, usecase)
    }

    fn review(&self, prediction_id: &str) -> Result<Option<crate::Review>> {
        crate::subjects::review(&self.lock(), prediction_id)
    }

    fn contest_prediction(
        &self,
        prediction_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Option<crate::Review>> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let r = crate::subjects::contest(&tx, prediction_id, reason, actor)?;
        tx.commit()?;
        Ok(r)
    }

    fn decide_review(
        &self,
        prediction_id: &str,
        approve: bool,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Option<crate::Review>> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let r = crate::subjects::decide(&tx, prediction_id, approve, actor, note)?;
        tx.commit()?;
        Ok(r)
    }

    fn purge_retention(
        &self,
        rule: &crate::RetentionRule,
        dry_run: bool,
        actor: &str,
    ) -> Result<crate::PurgeReport> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let r = crate::subjects::purge(&tx, rule, dry_run, actor)?;
        tx.commit()?;
        crate::subjects::remove_pending_blobs(&conn, &self.dir)?;
        Ok(r)
    }

    fn verify_audit_detailed(&self) -> Result<AuditVerification> {
        // Checkpoints first: events appended meanwhile only lengthen the trail read after.
        let cps = checkpoint::checkpoints(&self.lock())?;
        let events = self.audit_events(0)?;
        Ok(checkpoint::verify(
            &events,
            &cps,
            checkpoint::public_key(&self.dir)?,
        ))
    }
}

/// The columns [`feedback_from_row`] reads, prefixed with the feedback table's alias.
pub(crate) const FEEDBACK_COLUMNS: &str = "f.prediction_id, f.outcome, f.at_ms, f.caller, f.typed";

/// A feedback row of `SELECT {FEEDBACK_COLUMNS}`.
pub(crate) fn feedback_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Feedback> {
    let outcome: String = r.get(1)?;
    Ok(Feedback {
        prediction_id: r.get(0)?,
        outcome: serde_json::from_str(&outcome).unwrap_or(serde_json::Value::String(outcome)),
        at_ms: r.get(2)?,
        caller: r.get(3)?,
        typed: r
            .get::<_, Option<String>>(4)?
            .and_then(|t| serde_json::from_str(&t).ok()),
    })
}

const MODEL_COLUMNS: &str =
    "usecase_id, version, sha256, dataset_id, learner, gates_passed, report, card, created_ms, created_by";

fn model_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelRecord> {
    let report: String = r.get(6)?;
    Ok(ModelRecord {
        usecase_id: r.get(0)?,
        version: r.get(1)?,
        sha256: r.get(2)?,
        dataset_id: r.get(3)?,
        learner: r.get(4)?,
        gates_passed: r.get(5)?,
        report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
        card: r.get(7)?,
        created_ms: r.get(8)?,
        created_by: r.get(9)?,
    })
}

const KEY_COLUMNS: &str = "id, role, key_sha256, created_ms, created_by, revoked_ms";

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ApiKey>> {
    let role: String = r.get(1)?;
    let Some(role) = KeyRole::parse(&role) else {
        return Ok(Err(StoreError::Decode(format!(
            "unknown key role `{role}`"
        ))));
    };
    Ok(Ok(ApiKey {
        id: r.get(0)?,
        role,
        key_sha256: r.get(2)?,
        created_ms: r.get(3)?,
        created_by: r.get(4)?,
        revoked_ms: r.get(5)?,
    }))
}

pub(crate) const PREDICTION_COLUMNS: &str = "prediction_id, at_ms, usecase_id, model_version, subject_id, input_digest, output, latency_us, caller, fallback, role, score, features, kind, status, shadow_of, batch_id";

pub(crate) fn prediction_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PredictionRecord> {
    let output: String = r.get(6)?;
    Ok(PredictionRecord {
        prediction_id: r.get(0)?,
        at_ms: r.get(1)?,
        usecase_id: r.get(2)?,
        model_version: r.get(3)?,
        subject_id: r.get(4)?,
        input_digest: r.get(5)?,
        output: serde_json::from_str(&output).unwrap_or(serde_json::Value::String(output)),
        latency_us: r.get(7)?,
        caller: r.get(8)?,
        fallback: r.get(9)?,
        role: PredictionRole::parse(&r.get::<_, String>(10)?).unwrap_or_default(),
        score: r.get(11)?,
        features: r.get(12)?,
        kind: r
            .get::<_, Option<String>>(13)?
            .and_then(|k| UseCaseKind::parse(&k)),
        status: DecisionStatus::parse(&r.get::<_, String>(14)?).unwrap_or_default(),
        shadow_of: r.get(15)?,
        batch_id: r.get(16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiKey, KeyRole, Store};

    /// Key lookups read on their own connection: one still answers while the writer's
    /// connection is held (as during a prediction log commit and its fsync).
    #[test]
    fn key_lookup_does_not_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open(dir.path()).unwrap());
        store
            .create_key(&ApiKey {
                id: "key_1".into(),
                role: KeyRole::Scorer,
                key_sha256: "h1".into(),
                created_ms: 1,
                created_by: "test".into(),
                revoked_ms: None,
            })
            .unwrap();
        let held = store.lock();
        let (tx, rx) = std::sync::mpsc::channel();
        let s = store.clone();
        std::thread::spawn(move || {
            let _ = tx.send((s.key_by_hash("h1"), s.key_by_hash("unknown")));
        });
        let (found, unknown) = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the lookup waited for the writer's connection");
        assert_eq!(found.unwrap().map(|k| k.id), Some("key_1".to_owned()));
        assert!(unknown.unwrap().is_none());
        drop(held);
    }
}
