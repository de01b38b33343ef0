//! `klartext usecase check|list`.

use super::print_json;
use crate::cli::UsecaseCommand;
use crate::project::Project;
use crate::render::table;
use anyhow::{bail, Result};
use std::path::Path;

pub fn run(project: Option<&Path>, cmd: UsecaseCommand) -> Result<()> {
    let p = Project::find(project)?;
    let all = p.load_usecases()?;
    match cmd {
        UsecaseCommand::Check { json } => {
            // A rule fallback loads, but cannot be served yet: say so here, not when the
            // use case is switched off.
            let unsupported = |uc: &klartext_core::UseCase, path: &Path| {
                uc.fallback.rule.as_ref().map(|r| {
                    format!(
                        "{}: [fallback] rule = \"{r}\" is not supported yet; use a constant `score` (and `label`) or `none = true`",
                        path.display()
                    )
                })
            };
            let bad: Vec<String> = all
                .iter()
                .filter_map(|(path, r)| match r {
                    Err(e) => Some(e.to_string()),
                    Ok(uc) => unsupported(uc, path),
                })
                .collect();
            if json {
                print_json(&serde_json::json!({
                    "checked": all.len(),
                    "ok": all.len() - bad.len(),
                    "errors": bad,
                }));
            } else {
                for (path, r) in &all {
                    match r {
                        Ok(uc) => match unsupported(uc, path) {
                            Some(e) => println!("error  {e}"),
                            None => println!("ok     {} ({}, {})", path.display(), uc.id, uc.kind),
                        },
                        Err(e) => println!("error  {e}"),
                    }
                }
            }
            if all.is_empty() && !json {
                println!("no use-case files in {}", p.usecase_dir().display());
            }
            if !bad.is_empty() {
                bail!(
                    "{} of {} use-case files do not load; first: {}",
                    bad.len(),
                    all.len(),
                    bad[0]
                );
            }
            Ok(())
        }
        UsecaseCommand::List { json } => {
            let ok: Vec<_> = all.into_iter().filter_map(|(_, r)| r.ok()).collect();
            if json {
                print_json(&serde_json::to_value(&ok)?);
            } else {
                let rows: Vec<Vec<String>> = ok
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.clone(),
                            u.kind.to_string(),
                            format!("{:?}", u.risk).to_lowercase(),
                            u.owner.clone(),
                            u.title.clone(),
                        ]
                    })
                    .collect();
                super::emit(&table(&["id", "kind", "risk", "owner", "title"], &rows));
            }
            Ok(())
        }
    }
}
