//! `klartext review list|approve|reject`: the human review queue (GDPR Art. 22).

use super::{emit, print_json};
use crate::cli::ReviewCommand;
use crate::project::{actor, Project};
use crate::render::{table, time_ms};
use anyhow::{bail, Result};
use klartext_store::{ReviewStatus, Store};
use std::path::Path;

pub fn run(project: Option<&Path>, cmd: ReviewCommand) -> Result<()> {
    let p = Project::find(project)?;
    let store = p.open_store()?;
    match cmd {
        ReviewCommand::List {
            usecase,
            status,
            json,
        } => {
            let status = match status.as_str() {
                "all" => None,
                s => Some(ReviewStatus::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--status must be pending, approved, rejected or all, not `{s}`"
                    )
                })?),
            };
            let list = store.reviews(status, usecase.as_deref())?;
            if json {
                print_json(&serde_json::json!({ "reviews": list }));
                return Ok(());
            }
            if list.is_empty() {
                emit("no review items\n");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        r.prediction_id.clone(),
                        time_ms(r.queued_ms),
                        r.usecase_id.clone(),
                        r.subject_id.clone().unwrap_or_default(),
                        r.score.map_or_else(String::new, |s| format!("{s:.3}")),
                        r.origin.as_str().to_owned(),
                        r.status.as_str().to_owned(),
                        r.contest_reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            emit(&table(
                &[
                    "prediction",
                    "queued",
                    "use case",
                    "subject",
                    "score",
                    "why",
                    "status",
                    "contest reason",
                ],
                &rows,
            ));
        }
        ReviewCommand::Approve { id, reason, json } => decide(&store, &id, true, reason, json)?,
        ReviewCommand::Reject { id, reason, json } => decide(&store, &id, false, reason, json)?,
    }
    Ok(())
}

fn decide(
    store: &dyn Store,
    id: &str,
    approve: bool,
    reason: Option<String>,
    json: bool,
) -> Result<()> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if !approve && reason.is_none() {
        bail!("rejecting {id} needs --reason \"...\"");
    }
    let Some(r) = store.decide_review(id, approve, &actor(), reason.as_deref())? else {
        bail!("nothing is queued for review for prediction `{id}`; `klartext review list` shows the queue");
    };
    if json {
        print_json(&serde_json::to_value(&r)?);
    } else {
        emit(&format!("{id}: {}\n", r.status.as_str()));
    }
    Ok(())
}
