//! `klartext retention run` (each use case's `[retention]`) and the audit trail's floor:
//! `klartext audit purge` is refused when it would keep less than six months.

use super::{emit, print_json};
use crate::cli::RetentionCommand;
use crate::project::{actor, Project};
use crate::render::table;
use anyhow::{bail, Result};
use klartext_govern::rights;
use std::path::Path;

pub fn run(project: Option<&Path>, cmd: RetentionCommand) -> Result<()> {
    let RetentionCommand::Run { dry_run, json } = cmd;
    let p = Project::find(project)?;
    let store = p.open_store()?;
    let ucs = super::subject::usecases(&p)?;
    let reports = rights::run_retention(&store, &ucs, dry_run, &actor())?;
    if json {
        print_json(&serde_json::json!({ "dry_run": dry_run, "use_cases": reports }));
        return Ok(());
    }
    if reports.is_empty() {
        emit("no use case has a [retention] section; nothing to purge\n");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.usecase_id.clone(),
                r.predictions.to_string(),
                r.feedback.to_string(),
                r.reviews.to_string(),
                r.registrations.len().to_string(),
                r.datasets_purged.len().to_string(),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "use case",
            "predictions",
            "feedback",
            "reviews",
            "registrations",
            "datasets purged",
        ],
        &rows,
    );
    out.push_str(if dry_run {
        "dry run: nothing was removed\n"
    } else {
        "the audit trail is kept whole\n"
    });
    emit(&out);
    Ok(())
}

/// `klartext audit purge --before DATE`.
pub fn audit_purge(before: &str) -> Result<()> {
    let Some(before_ms) = klartext_core::calendar::parse_date_ms(before) else {
        bail!("--before `{before}` is not a date; write YYYY-MM-DD");
    };
    klartext_store::check_audit_purge(before_ms, klartext_store::now_ms())?;
    bail!("klartext keeps the whole audit trail: purging events older than six months is not offered yet, and nothing was removed")
}
