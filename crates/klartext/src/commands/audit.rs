//! `klartext audit log|verify`.

use super::print_json;
use crate::cli::AuditCommand;
use crate::project::Project;
use crate::render::{table, time_ms};
use anyhow::{bail, Result};
use klartext_store::Store;
use std::path::Path;

pub fn run(project: Option<&Path>, cmd: AuditCommand) -> Result<()> {
    let p = Project::find(project)?;
    let store = p.open_store()?;
    match cmd {
        AuditCommand::Log { since, json } => {
            let events = store.audit_events(since)?;
            if json {
                print_json(&serde_json::to_value(&events)?);
            } else {
                let rows: Vec<Vec<String>> = events
                    .iter()
                    .map(|e| {
                        vec![
                            e.seq.to_string(),
                            time_ms(e.at_ms),
                            e.actor.clone(),
                            e.action.clone(),
                            e.subject.clone(),
                            e.details.to_string(),
                        ]
                    })
                    .collect();
                super::emit(&table(
                    &["seq", "time", "actor", "action", "subject", "details"],
                    &rows,
                ));
            }
            Ok(())
        }
        AuditCommand::Verify { json } => {
            let v = store.verify_audit_detailed()?;
            if json {
                print_json(&serde_json::json!({
                    "events": v.events,
                    "last_seq": v.last_seq,
                    "intact": v.problem.is_none(),
                    "first_broken_seq": v.problem.as_ref().map(|p| p.seq),
                    "problem": v.problem,
                    "checkpoint": v.checkpoint,
                }));
            }
            match v.problem {
                None => {
                    if !json {
                        let cp = match &v.checkpoint {
                            Some(c) => {
                                format!("; newest signed checkpoint at event {} verified", c.seq)
                            }
                            None => {
                                "; no signed checkpoint yet (`klartext audit checkpoint`)".into()
                            }
                        };
                        println!(
                            "audit trail intact: {} events, hash chain verified{cp}",
                            v.events
                        );
                    }
                    Ok(())
                }
                Some(p) => bail!(
                    "audit trail broken at event {} ({}): {}",
                    p.seq,
                    p.kind.as_str(),
                    p.message
                ),
            }
        }
        AuditCommand::Checkpoint { json } => {
            let Some(cp) = store.audit_checkpoint()? else {
                bail!("the audit trail is empty: nothing to checkpoint");
            };
            if json {
                print_json(&serde_json::to_value(&cp)?);
            } else {
                println!(
                    "signed checkpoint at event {} (hash {}); public key {}",
                    cp.seq, cp.hash, cp.public_key
                );
            }
            Ok(())
        }
        AuditCommand::Purge { before } => super::retention::audit_purge(&before),
    }
}
