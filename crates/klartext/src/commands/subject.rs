//! `klartext subject find|export|erase|object ID`: a data subject's rights (GDPR Art. 15,
//! 17, 21) across every dataset, the prediction log, feedback and the review queue.

use super::{emit, print_json};
use crate::cli::SubjectCommand;
use crate::project::{actor, Project};
use crate::render::{table, time_ms};
use anyhow::{Context, Result};
use klartext_core::UseCase;
use klartext_govern::rights;
use klartext_store::Store;
use std::path::Path;

/// Every use case whose file parses (the ones that do not are reported by `usecase check`).
pub(crate) fn usecases(p: &Project) -> Result<Vec<UseCase>> {
    Ok(p.load_usecases()?
        .into_iter()
        .filter_map(|(_, r)| r.ok())
        .collect())
}

pub fn run(project: Option<&Path>, cmd: SubjectCommand) -> Result<()> {
    let p = Project::find(project)?;
    let store = p.open_store()?;
    let ucs = usecases(&p)?;
    let key = p.secret_key()?;
    match cmd {
        SubjectCommand::Find { id, json } => {
            let hits = rights::find(&store, &ucs, &id, Some(&key))?;
            if json {
                print_json(&serde_json::json!({ "subject_id": id, "found": hits }));
            } else if hits.is_empty() {
                emit(&format!("nothing is kept about subject {id}\n"));
            } else {
                let rows: Vec<Vec<String>> = hits
                    .iter()
                    .map(|h| {
                        let s = |k: &str| h[k].as_str().unwrap_or("").to_owned();
                        vec![
                            s("kind"),
                            s("dataset_id"),
                            s("use_case"),
                            h["rows"].to_string(),
                        ]
                    })
                    .collect();
                emit(&table(&["kind", "dataset", "use case", "rows"], &rows));
            }
        }
        SubjectCommand::Export { id, json, html } => {
            let e = rights::export(&store, &ucs, &id, Some(&key))?;
            if let Some(path) = &html {
                std::fs::write(path, rights::export_html(&e))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if json {
                print_json(&serde_json::to_value(&e)?);
            } else {
                let mut out = format!(
                    "subject {id}: {} dataset rows in {} datasets, {} predictions, {} feedback, {}objection, {} review items\n",
                    e.datasets.iter().map(|d| d.rows.len()).sum::<usize>(),
                    e.datasets.len(),
                    e.predictions.len(),
                    e.feedback.len(),
                    if e.objection.is_some() { "" } else { "no " },
                    e.reviews.len()
                );
                let rows: Vec<Vec<String>> = e
                    .predictions
                    .iter()
                    .map(|p| {
                        let reasons: Vec<&str> = p["reasons"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|r| r.as_str()).take(3).collect())
                            .unwrap_or_default();
                        vec![
                            time_ms(p["at_ms"].as_i64().unwrap_or_default()),
                            p["use_case"].as_str().unwrap_or("").to_owned(),
                            p["model_version"].as_str().unwrap_or("").to_owned(),
                            p["score"].to_string(),
                            reasons.join("; "),
                        ]
                    })
                    .collect();
                if !rows.is_empty() {
                    out.push_str(&table(
                        &["time", "use case", "model", "score", "top reasons"],
                        &rows,
                    ));
                }
                if let Some(path) = &html {
                    out.push_str(&format!("HTML page written to {}\n", path.display()));
                }
                emit(&out);
            }
        }
        SubjectCommand::Erase { id, json } => {
            let r = rights::erase(&store, &ucs, &id, Some(&key), &actor())?;
            if json {
                print_json(&serde_json::json!({
                    "erased": true,
                    "report": r,
                    "note": "models already trained on this data are not retrained",
                }));
            } else {
                let mut out = format!(
                    "erased subject {id}: rows removed from {} datasets, {} predictions pseudonymised, {} feedback deleted{} (audit event {})\n",
                    r.datasets.len(),
                    r.predictions_pseudonymised,
                    r.feedback_deleted,
                    if r.objection_removed { ", objection removed" } else { "" },
                    r.audit_seq
                );
                for d in &r.datasets {
                    out.push_str(&format!(
                        "  {}: {} rows removed, snapshot {} -> {}\n",
                        d.dataset_id,
                        d.rows_removed,
                        &d.old_sha256[..12],
                        &d.new_sha256[..12]
                    ));
                }
                out.push_str("models already trained on this data are not retrained; retrain with `klartext train`\n");
                emit(&out);
            }
        }
        SubjectCommand::Object { id, reason, json } => {
            rights::check_subject(&id)?;
            let reason = reason
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty());
            let (o, new) = store.object_subject(&id, &actor(), reason.as_deref())?;
            if json {
                print_json(&serde_json::json!({ "objection": o, "new": new }));
            } else if new {
                emit(&format!("subject {id} objected: no use case scores it from now on (every server within a second), and training leaves its rows out\n"));
            } else {
                emit(&format!(
                    "subject {id} had objected already, on {}\n",
                    time_ms(o.at_ms)
                ));
            }
        }
        SubjectCommand::Withdraw { id, json } => {
            rights::check_subject(&id)?;
            let withdrawn = store.withdraw_objection(&id, &actor())?;
            if json {
                print_json(&serde_json::json!({ "subject_id": id, "withdrawn": withdrawn }));
            } else if withdrawn {
                emit(&format!("subject {id}: objection withdrawn; use cases may score it again (every server within a second), and training uses its rows again\n"));
            } else {
                emit(&format!("subject {id} had no objection: nothing changed\n"));
            }
        }
    }
    Ok(())
}
