//! `klartext models list|show` and `klartext card`.

use super::{emit, print_json};
use crate::cli::ModelsCommand;
use crate::project::Project;
use crate::render::{table, time_ms};
use anyhow::{bail, Context, Result};
use klartext_store::{ModelRecord, Store};
use std::path::Path;

/// Split `USECASE@VERSION`.
fn parse_target(target: &str) -> Result<(&str, &str)> {
    match target.split_once('@') {
        Some((u, v)) if !u.is_empty() && !v.is_empty() => Ok((u, v)),
        _ => bail!("`{target}` is not USECASE@VERSION (for example churn@1a2b3c4d5e6f)"),
    }
}

pub(super) fn find(p: &Project, target: &str) -> Result<ModelRecord> {
    let (usecase, version) = parse_target(target)?;
    let uc = p.usecase(usecase)?;
    let store = p.open_store()?;
    store.model(&uc.id, version)?.with_context(|| {
        format!("use case `{}` has no model version `{version}` (or the prefix is not unique); `klartext models list {}` shows them", uc.id, uc.id)
    })
}

pub fn run(project: Option<&Path>, cmd: ModelsCommand) -> Result<()> {
    let p = Project::find(project)?;
    match cmd {
        ModelsCommand::List { usecase, json } => {
            let uc = p.usecase(&usecase)?;
            let kind = klartext_kinds::kind_of(uc.kind)?;
            let store = p.open_store()?;
            let models = store.models(&uc.id)?;
            // A report that does not read as its kind's shows no figures, not an error.
            let figures = |m: &ModelRecord| kind.figures(&m.report).ok();
            let aliases = store.aliases(Some(&uc.id))?;
            let alias_of = |version: &str| -> Vec<String> {
                aliases
                    .iter()
                    .filter(|a| a.version == version)
                    .map(|a| match (a.mode, a.canary_share) {
                        (Some(klartext_store::ChallengerMode::Canary), Some(s)) => {
                            format!("challenger (canary {:.1}%)", s * 100.0)
                        }
                        (Some(m), _) => format!("challenger ({})", m.as_str()),
                        (None, _) => a.alias.as_str().to_owned(),
                    })
                    .collect()
            };
            if json {
                let v: Vec<serde_json::Value> = models
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "version": m.version, "usecase": m.usecase_id, "dataset_id": m.dataset_id,
                            "learner": m.learner, "gates_passed": m.gates_passed, "metrics": figures(m).map(|f| f.metrics),
                            "created_ms": m.created_ms, "created_by": m.created_by,
                            "aliases": alias_of(&m.version),
                        })
                    })
                    .collect();
                print_json(&serde_json::Value::Array(v));
                return Ok(());
            }
            if models.is_empty() {
                emit(&format!(
                    "use case `{}` has no model versions; train one with `klartext train {}`\n",
                    uc.id, uc.id
                ));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = models
                .iter()
                .map(|m| {
                    let metric = figures(m).map(|f| f.headline).unwrap_or_default();
                    vec![
                        m.version.clone(),
                        alias_of(&m.version).join(", "),
                        m.learner.clone(),
                        metric,
                        if m.gates_passed {
                            "passed".into()
                        } else {
                            "failed".into()
                        },
                        m.dataset_id.clone(),
                        time_ms(m.created_ms),
                        m.created_by.clone(),
                    ]
                })
                .collect();
            emit(&table(
                &[
                    "version", "alias", "learner", "held-out", "gates", "dataset", "trained", "by",
                ],
                &rows,
            ));
            Ok(())
        }
        ModelsCommand::Show { target, json } => {
            let m = find(&p, &target)?;
            if json {
                print_json(&serde_json::json!({
                    "version": m.version, "usecase": m.usecase_id, "sha256": m.sha256, "dataset_id": m.dataset_id,
                    "learner": m.learner, "gates_passed": m.gates_passed, "created_ms": m.created_ms,
                    "created_by": m.created_by, "report": m.report,
                }));
            } else {
                let kind = klartext_kinds::kind_of(p.usecase(&m.usecase_id)?.kind)?;
                // A report that does not read as its kind's is shown as stored.
                match kind.summary(&m.report) {
                    Ok(s) => emit(&format!("Model {}@{}: {s}", m.usecase_id, m.version)),
                    Err(_) => print_json(&m.report),
                }
                emit(&format!(
                    "Trained {} by {}; artifact sha256 {}\n",
                    time_ms(m.created_ms),
                    m.created_by,
                    m.sha256
                ));
            }
            Ok(())
        }
    }
}

pub fn card(project: Option<&Path>, target: &str, output: Option<&Path>) -> Result<()> {
    let p = Project::find(project)?;
    let m = find(&p, target)?;
    match output {
        Some(path) => {
            std::fs::write(path, &m.card)
                .with_context(|| format!("cannot write {}", path.display()))?;
            emit(&format!(
                "Wrote the model card of {}@{} to {}\n",
                m.usecase_id,
                m.version,
                path.display()
            ));
        }
        None => emit(&m.card),
    }
    Ok(())
}
