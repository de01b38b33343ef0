//! Governance records: aliases (champion, challenger) with their history, kill switches,
//! and the version counter that servers sharing the store poll to notice a change.

use crate::error::{Result, StoreError};
use crate::now_ms;
use crate::sqlite::audit_usecase;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

/// The two aliases of a use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AliasName {
    /// Answers every request (unless a canary challenger takes a share).
    Champion,
    /// Runs beside the champion: in shadow (scored and logged, never returned) or as a
    /// canary (answers a sticky share of subjects).
    Challenger,
}

impl AliasName {
    pub fn as_str(self) -> &'static str {
        match self {
            AliasName::Champion => "champion",
            AliasName::Challenger => "challenger",
        }
    }

    pub fn parse(s: &str) -> Option<AliasName> {
        match s {
            "champion" => Some(AliasName::Champion),
            "challenger" => Some(AliasName::Challenger),
            _ => None,
        }
    }
}

/// How a challenger runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengerMode {
    Shadow,
    Canary,
}

impl ChallengerMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengerMode::Shadow => "shadow",
            ChallengerMode::Canary => "canary",
        }
    }

    pub fn parse(s: &str) -> Option<ChallengerMode> {
        match s {
            "shadow" => Some(ChallengerMode::Shadow),
            "canary" => Some(ChallengerMode::Canary),
            _ => None,
        }
    }
}

/// An alias as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub usecase_id: String,
    pub alias: AliasName,
    pub version: String,
    /// Challenger only.
    pub mode: Option<ChallengerMode>,
    /// Canary only: the share of subjects it answers, 0..1.
    pub canary_share: Option<f64>,
    pub set_ms: i64,
    pub set_by: String,
}

/// A request to point an alias at a model version. The caller has checked the gates;
/// the store records the outcome of that check with the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    pub usecase_id: String,
    pub version: String,
    pub alias: AliasName,
    pub mode: Option<ChallengerMode>,
    pub canary_share: Option<f64>,
    pub actor: String,
    /// Required when `override_gates` is set.
    pub reason: Option<String>,
    /// Promoted although gates failed (or were not evaluated).
    pub override_gates: bool,
    /// The gates that did not pass, as the caller describes them.
    pub failed_gates: serde_json::Value,
}

/// One change of an alias, oldest first in `alias_history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasChange {
    pub seq: i64,
    pub usecase_id: String,
    pub alias: AliasName,
    /// `promote`, `rollback` or `clear`.
    pub action: String,
    pub version: Option<String>,
    pub mode: Option<ChallengerMode>,
    pub canary_share: Option<f64>,
    pub at_ms: i64,
    pub actor: String,
    pub reason: Option<String>,
    pub override_gates: bool,
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    pub usecase_id: String,
    pub from: String,
    pub to: String,
}

/// A use case's kill switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Switch {
    pub usecase_id: String,
    /// `false`: switched off, the use case answers its fallback.
    pub on: bool,
    pub reason: String,
    pub at_ms: i64,
    pub actor: String,
}

/// Everything a server needs to route requests, read in one transaction.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Governance {
    /// The governance version this snapshot was read at.
    pub version: i64,
    pub aliases: Vec<Alias>,
    pub switches: Vec<Switch>,
    /// Use cases whose champion alias was ever set: those never fall back to "the
    /// newest version whose gates passed".
    pub champion_ever_set: Vec<String>,
}

pub(crate) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT version FROM governance_version WHERE id = 1",
        [],
        |r| r.get(0),
    )?)
}

pub(crate) fn bump(tx: &Transaction<'_>) -> Result<()> {
    tx.execute(
        "UPDATE governance_version SET version = version + 1 WHERE id = 1",
        [],
    )?;
    Ok(())
}

fn alias_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Alias> {
    let alias: String = r.get(1)?;
    let mode: Option<String> = r.get(3)?;
    Ok(Alias {
        usecase_id: r.get(0)?,
        alias: AliasName::parse(&alias).unwrap_or(AliasName::Challenger),
        version: r.get(2)?,
        mode: mode.as_deref().and_then(ChallengerMode::parse),
        canary_share: r.get(4)?,
        set_ms: r.get(5)?,
        set_by: r.get(6)?,
    })
}

pub(crate) fn aliases(conn: &Connection, usecase: Option<&str>) -> Result<Vec<Alias>> {
    let mut stmt = conn.prepare(
        "SELECT usecase_id, alias, version, mode, canary_share, set_ms, set_by FROM aliases \
         WHERE (?1 IS NULL OR usecase_id = ?1) ORDER BY usecase_id, alias",
    )?;
    let rows = stmt
        .query_map([usecase], alias_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn history(conn: &Connection, usecase: &str) -> Result<Vec<AliasChange>> {
    let mut stmt = conn.prepare(
        "SELECT seq, usecase_id, alias, action, version, mode, canary_share, at_ms, actor, reason, override \
         FROM alias_history WHERE usecase_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map([usecase], |r| {
            let alias: String = r.get(2)?;
            let mode: Option<String> = r.get(5)?;
            Ok(AliasChange {
                seq: r.get(0)?,
                usecase_id: r.get(1)?,
                alias: AliasName::parse(&alias).unwrap_or(AliasName::Challenger),
                action: r.get(3)?,
                version: r.get(4)?,
                mode: mode.as_deref().and_then(ChallengerMode::parse),
                canary_share: r.get(6)?,
                at_ms: r.get(7)?,
                actor: r.get(8)?,
                reason: r.get(9)?,
                override_gates: r.get(10)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The champion versions in promotion order, with rollbacks popped: the last is the
/// current champion, the one before it is what a rollback restores.
fn champion_stack(changes: &[AliasChange]) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    for c in changes.iter().filter(|c| c.alias == AliasName::Champion) {
        match (c.action.as_str(), &c.version) {
            ("promote", Some(v)) => stack.push(v.clone()),
            ("rollback", _) => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack
}

fn record_change(
    tx: &Transaction<'_>,
    usecase: &str,
    alias: AliasName,
    action: &str,
    version: Option<&str>,
    mode: Option<ChallengerMode>,
    share: Option<f64>,
    actor: &str,
    reason: Option<&str>,
    override_gates: bool,
) -> Result<()> {
    tx.execute(
        "INSERT INTO alias_history (usecase_id, alias, action, version, mode, canary_share, at_ms, actor, reason, override) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            usecase,
            alias.as_str(),
            action,
            version,
            mode.map(ChallengerMode::as_str),
            share,
            now_ms(),
            actor,
            reason,
            override_gates
        ],
    )?;
    Ok(())
}

fn put_alias(
    tx: &Transaction<'_>,
    usecase: &str,
    alias: AliasName,
    version: &str,
    mode: Option<ChallengerMode>,
    share: Option<f64>,
    actor: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO aliases (usecase_id, alias, version, mode, canary_share, set_ms, set_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (usecase_id, alias) DO UPDATE SET version = excluded.version, mode = excluded.mode, \
         canary_share = excluded.canary_share, set_ms = excluded.set_ms, set_by = excluded.set_by",
        params![usecase, alias.as_str(), version, mode.map(ChallengerMode::as_str), share, now_ms(), actor],
    )?;
    Ok(())
}

fn current(tx: &Transaction<'_>, usecase: &str, alias: AliasName) -> Result<Option<String>> {
    Ok(tx
        .query_row(
            "SELECT version FROM aliases WHERE usecase_id = ?1 AND alias = ?2",
            [usecase, alias.as_str()],
            |r| r.get(0),
        )
        .optional()?)
}

pub(crate) fn promote(tx: &Transaction<'_>, p: &Promotion) -> Result<Alias> {
    if p.override_gates && p.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(StoreError::Refused(
            "an override needs a reason; it is recorded in the audit trail".into(),
        ));
    }
    let known = tx
        .query_row(
            "SELECT 1 FROM models WHERE usecase_id = ?1 AND version = ?2",
            [&p.usecase_id, &p.version],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !known {
        return Err(StoreError::Refused(format!(
            "use case `{}` has no model version `{}`",
            p.usecase_id, p.version
        )));
    }
    let (mode, share) = match p.alias {
        AliasName::Champion => (None, None),
        AliasName::Challenger => {
            let mode = p.mode.unwrap_or(ChallengerMode::Shadow);
            let share = match mode {
                ChallengerMode::Shadow => None,
                ChallengerMode::Canary => match p.canary_share {
                    Some(s) if s > 0.0 && s < 1.0 => Some(s),
                    other => {
                        return Err(StoreError::Refused(format!(
                            "a canary share must be above 0% and below 100%, not {other:?}"
                        )))
                    }
                },
            };
            (Some(mode), share)
        }
    };
    let previous = current(tx, &p.usecase_id, p.alias)?;
    if p.alias == AliasName::Champion && previous.as_deref() == Some(p.version.as_str()) {
        return Err(StoreError::Refused(format!(
            "{}@{} is already the champion",
            p.usecase_id, p.version
        )));
    }
    put_alias(
        tx,
        &p.usecase_id,
        p.alias,
        &p.version,
        mode,
        share,
        &p.actor,
    )?;
    record_change(
        tx,
        &p.usecase_id,
        p.alias,
        "promote",
        Some(&p.version),
        mode,
        share,
        &p.actor,
        p.reason.as_deref(),
        p.override_gates,
    )?;
    // A challenger promoted to champion stops being the challenger.
    let mut cleared_challenger = false;
    if p.alias == AliasName::Champion
        && current(tx, &p.usecase_id, AliasName::Challenger)?.as_deref() == Some(p.version.as_str())
    {
        tx.execute(
            "DELETE FROM aliases WHERE usecase_id = ?1 AND alias = 'challenger'",
            [&p.usecase_id],
        )?;
        record_change(
            tx,
            &p.usecase_id,
            AliasName::Challenger,
            "clear",
            None,
            None,
            None,
            &p.actor,
            Some("promoted to champion"),
            false,
        )?;
        cleared_challenger = true;
    }
    audit_usecase(
        tx,
        &p.actor,
        "model.promoted",
        &p.usecase_id,
        serde_json::json!({
            "version": p.version,
            "alias": p.alias.as_str(),
            "mode": mode.map(ChallengerMode::as_str),
            "canary_share": share,
            "previous": previous,
            "override": p.override_gates,
            "failed_gates": p.failed_gates,
            "reason": p.reason,
            "cleared_challenger": cleared_challenger,
        }),
    )?;
    bump(tx)?;
    Ok(Alias {
        usecase_id: p.usecase_id.clone(),
        alias: p.alias,
        version: p.version.clone(),
        mode,
        canary_share: share,
        set_ms: now_ms(),
        set_by: p.actor.clone(),
    })
}

pub(crate) fn rollback(
    tx: &Transaction<'_>,
    usecase: &str,
    actor: &str,
    reason: Option<&str>,
) -> Result<Rollback> {
    let stack = champion_stack(&history(tx, usecase)?);
    let (from, to) = match stack.as_slice() {
        [] => {
            return Err(StoreError::Refused(format!(
                "use case `{usecase}` has no champion to roll back"
            )))
        }
        [only] => {
            return Err(StoreError::Refused(format!(
                "use case `{usecase}` has no previous champion to roll back to (its only champion is {only})"
            )))
        }
        [.., prev, cur] => (cur.clone(), prev.clone()),
    };
    put_alias(tx, usecase, AliasName::Champion, &to, None, None, actor)?;
    record_change(
        tx,
        usecase,
        AliasName::Champion,
        "rollback",
        Some(&to),
        None,
        None,
        actor,
        reason,
        false,
    )?;
    audit_usecase(
        tx,
        actor,
        "model.rolled_back",
        usecase,
        serde_json::json!({ "from": from, "to": to, "reason": reason }),
    )?;
    bump(tx)?;
    Ok(Rollback {
        usecase_id: usecase.to_owned(),
        from,
        to,
    })
}

pub(crate) fn clear_challenger(
    tx: &Transaction<'_>,
    usecase: &str,
    actor: &str,
    reason: Option<&str>,
) -> Result<Option<String>> {
    let Some(version) = current(tx, usecase, AliasName::Challenger)? else {
        return Ok(None);
    };
    tx.execute(
        "DELETE FROM aliases WHERE usecase_id = ?1 AND alias = 'challenger'",
        [usecase],
    )?;
    record_change(
        tx,
        usecase,
        AliasName::Challenger,
        "clear",
        None,
        None,
        None,
        actor,
        reason,
        false,
    )?;
    audit_usecase(
        tx,
        actor,
        "model.challenger_cleared",
        usecase,
        serde_json::json!({ "version": version, "reason": reason }),
    )?;
    bump(tx)?;
    Ok(Some(version))
}

pub(crate) fn set_switch(
    tx: &Transaction<'_>,
    usecase: &str,
    on: bool,
    actor: &str,
    reason: &str,
) -> Result<Switch> {
    if !on && reason.trim().is_empty() {
        return Err(StoreError::Refused(
            "switching a use case off needs a reason; it is recorded in the audit trail".into(),
        ));
    }
    let at_ms = now_ms();
    let state = if on { "on" } else { "off" };
    tx.execute(
        "INSERT INTO usecase_switches (usecase_id, state, reason, at_ms, actor) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (usecase_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, \
         at_ms = excluded.at_ms, actor = excluded.actor",
        params![usecase, state, reason, at_ms, actor],
    )?;
    audit_usecase(
        tx,
        actor,
        "usecase.switched",
        usecase,
        serde_json::json!({ "state": state, "reason": reason }),
    )?;
    bump(tx)?;
    Ok(Switch {
        usecase_id: usecase.to_owned(),
        on,
        reason: reason.to_owned(),
        at_ms,
        actor: actor.to_owned(),
    })
}

pub(crate) fn switches(conn: &Connection) -> Result<Vec<Switch>> {
    let mut stmt = conn.prepare(
        "SELECT usecase_id, state, reason, at_ms, actor FROM usecase_switches ORDER BY usecase_id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            let state: String = r.get(1)?;
            Ok(Switch {
                usecase_id: r.get(0)?,
                on: state != "off",
                reason: r.get(2)?,
                at_ms: r.get(3)?,
                actor: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn snapshot(tx: &Transaction<'_>) -> Result<Governance> {
    let mut stmt = tx.prepare(
        "SELECT DISTINCT usecase_id FROM alias_history WHERE alias = 'champion' ORDER BY usecase_id",
    )?;
    let ever = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Governance {
        version: version(tx)?,
        aliases: aliases(tx, None)?,
        switches: switches(tx)?,
        champion_ever_set: ever,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, v: &str) -> AliasChange {
        AliasChange {
            seq: 0,
            usecase_id: "u".into(),
            alias: AliasName::Champion,
            action: action.into(),
            version: Some(v.into()),
            mode: None,
            canary_share: None,
            at_ms: 0,
            actor: "t".into(),
            reason: None,
            override_gates: false,
        }
    }

    #[test]
    fn rollbacks_pop_the_champion_stack() {
        let h = vec![
            change("promote", "a"),
            change("promote", "b"),
            change("promote", "c"),
            change("rollback", "b"),
        ];
        assert_eq!(champion_stack(&h), vec!["a", "b"]);
        let mut h2 = h.clone();
        h2.push(change("rollback", "a"));
        assert_eq!(champion_stack(&h2), vec!["a"]);
    }
}
