//! `klartext export docs USECASE@VERSION`: the technical documentation bundle (Annex IV
//! style) of a model version as Markdown and HTML.

use super::{emit, print_json};
use crate::cli::ExportCommand;
use crate::project::Project;
use crate::render::time_ms;
use anyhow::{Context, Result};
use klartext_kinds::docs::{self, ChangeLogEntry, DocsInput};
use klartext_store::{AuditEvent, Store};
use std::path::{Path, PathBuf};

/// Whether an audit event is about this use case.
fn concerns(e: &AuditEvent, usecase: &str) -> bool {
    e.subject == format!("usecase/{usecase}")
        || e.details.get("usecase").and_then(|v| v.as_str()) == Some(usecase)
        || e.details.get("usecase_id").and_then(|v| v.as_str()) == Some(usecase)
}

pub fn run(project: Option<&Path>, cmd: ExportCommand) -> Result<()> {
    match cmd {
        ExportCommand::Docs {
            target,
            output,
            json,
        } => docs_cmd(project, &target, output.as_deref(), json),
    }
}

fn docs_cmd(project: Option<&Path>, target: &str, output: Option<&Path>, json: bool) -> Result<()> {
    let p = Project::find(project)?;
    let m = super::models::find(&p, target)?;
    let uc = p.usecase(&m.usecase_id)?;
    let store = p.open_store()?;
    let dataset = store.dataset(&m.dataset_id)?;
    let registration = store.registration(&m.dataset_id, &uc.id)?;
    let report = klartext_kinds::ReportHead::read(&m.report).ok();
    let changes: Vec<ChangeLogEntry> = store
        .audit_events(0)?
        .into_iter()
        .filter(|e| concerns(e, &uc.id))
        .map(|e| ChangeLogEntry {
            seq: e.seq,
            at: time_ms(e.at_ms),
            actor: e.actor,
            action: e.action,
            details: e.details,
        })
        .collect();
    let trained_at = time_ms(m.created_ms);
    let md = docs::technical_documentation(&DocsInput {
        usecase: &uc,
        version: &m.version,
        artifact_sha256: &m.sha256,
        dataset_id: &m.dataset_id,
        dataset_sha256: dataset.as_ref().map(|d| d.sha256.as_str()),
        dataset_source: dataset.as_ref().map(|d| d.source_name.as_str()),
        card: &m.card,
        report: report.as_ref(),
        schema: registration.as_ref().map(|r| &r.schema),
        quality: registration.as_ref().map(|r| &r.report),
        changes: &changes,
        trained_at: &trained_at,
        trained_by: &m.created_by,
        klartext_version: env!("CARGO_PKG_VERSION"),
    });
    let html = docs::html_page(
        &format!("Technical documentation: {} @ {}", uc.id, m.version),
        &md,
    );

    let dir: PathBuf = match output {
        Some(d) => d.to_path_buf(),
        None => p.root.join(format!("docs-{}-{}", uc.id, m.version)),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let md_path = dir.join("technical-documentation.md");
    let html_path = dir.join("technical-documentation.html");
    std::fs::write(&md_path, &md).with_context(|| format!("cannot write {}", md_path.display()))?;
    std::fs::write(&html_path, &html)
        .with_context(|| format!("cannot write {}", html_path.display()))?;

    if json {
        print_json(&serde_json::json!({
            "usecase": uc.id,
            "version": m.version,
            "dataset_id": m.dataset_id,
            "markdown": md_path,
            "html": html_path,
            "change_log_events": changes.len(),
        }));
    } else {
        emit(&format!(
            "Wrote the technical documentation of {}@{}:\n  {}\n  {}\n",
            uc.id,
            m.version,
            md_path.display(),
            html_path.display()
        ));
    }
    Ok(())
}
