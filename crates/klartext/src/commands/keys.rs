//! `klartext keys`: API keys for the decision API. A key's secret is printed once, at
//! creation; the store keeps only its SHA-256.

use super::{emit, print_json};
use crate::cli::KeysCommand;
use crate::project::{actor, Project};
use crate::render::{table, time_ms};
use anyhow::{bail, Context, Result};
use klartext_store::{KeyRole, Store};
use std::path::Path;

pub fn run(project: Option<&Path>, c: KeysCommand) -> Result<()> {
    let p = Project::find(project)?;
    let store = p.open_store()?;
    match c {
        KeysCommand::Create { role, json } => {
            let role = KeyRole::parse(&role).context("role must be scorer, operator or admin")?;
            let (key, secret) = klartext_govern::keys::new_key(role, &actor())?;
            store.create_key(&key)?;
            if json {
                print_json(
                    &serde_json::json!({ "key": secret, "id": key.id, "role": role.as_str() }),
                );
            } else {
                emit(&format!(
                    "Created {} key {}. Its secret is shown only now; store it safely:\n\n  {secret}\n\nUse it as `Authorization: Bearer {secret}`.\n",
                    role.as_str(),
                    key.id
                ));
            }
        }
        KeysCommand::List { json } => {
            let keys = store.keys()?;
            if json {
                let list: Vec<serde_json::Value> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "id": k.id, "role": k.role.as_str(), "created_ms": k.created_ms,
                            "created_by": k.created_by, "revoked_ms": k.revoked_ms,
                        })
                    })
                    .collect();
                print_json(&serde_json::json!({ "keys": list }));
            } else if keys.is_empty() {
                emit("No API keys yet; create one with `klartext keys create --role scorer`.\n");
            } else {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.id.clone(),
                            k.role.as_str().into(),
                            time_ms(k.created_ms),
                            k.created_by.clone(),
                            k.revoked_ms
                                .map_or("active".into(), |t| format!("revoked {}", time_ms(t))),
                        ]
                    })
                    .collect();
                emit(&table(&["id", "role", "created", "by", "status"], &rows));
            }
        }
        KeysCommand::Revoke { id, json } => {
            if !store.revoke_key(&id, &actor())? {
                bail!("no API key `{id}`; `klartext keys list` shows them");
            }
            if json {
                print_json(&serde_json::json!({ "id": id, "revoked": true }));
            } else {
                emit(&format!(
                    "Revoked key {id}; servers refuse it within a few seconds.\n"
                ));
            }
        }
    }
    Ok(())
}
