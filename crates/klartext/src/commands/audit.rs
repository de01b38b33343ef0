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
            let n = store.audit_events(0)?.len();
            let broken = store.verify_audit()?;
            if json {
                print_json(
                    &serde_json::json!({ "events": n, "intact": broken.is_none(), "first_broken_seq": broken }),
                );
            }
            match broken {
                None => {
                    if !json {
                        println!("audit trail intact: {n} events, hash chain verified");
                    }
                    Ok(())
                }
                Some(seq) => {
                    bail!("audit trail broken at event {seq}: it was edited, deleted or reordered")
                }
            }
        }
    }
}
