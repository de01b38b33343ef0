//! `klartext switch off|on USECASE`: the kill switch.

use super::{emit, print_json};
use crate::project::{actor, Project};
use anyhow::{bail, Result};
use klartext_store::Store;
use std::path::Path;

pub fn run(
    project: Option<&Path>,
    state: &str,
    usecase: &str,
    reason: Option<&str>,
    json: bool,
) -> Result<()> {
    let on = match state {
        "on" => true,
        "off" => false,
        other => bail!("`{other}` is not a switch state; use `off` or `on`"),
    };
    let reason = reason.map(str::trim).unwrap_or_default();
    if !on && reason.is_empty() {
        bail!(
            "switching `{usecase}` off needs --reason \"...\"; it is recorded in the audit trail"
        );
    }
    let p = Project::find(project)?;
    let uc = p.usecase(usecase)?;
    if !on {
        if let Some(rule) = &uc.fallback.rule {
            emit(&format!(
                "warning: `{}` has fallback rule `{rule}`; rule fallbacks are not supported yet, so it answers no decision\n",
                uc.id
            ));
        }
    }
    let s = p.open_store()?.set_switch(&uc.id, on, &actor(), reason)?;
    if json {
        print_json(&serde_json::to_value(&s)?);
        return Ok(());
    }
    if on {
        emit(&format!(
            "{} is switched on: it answers with its champion again\n",
            s.usecase_id
        ));
    } else {
        let f = &uc.fallback;
        let what = match (f.score, &f.label, f.none || f.rule.is_some()) {
            (_, _, true) | (None, None, _) => "no decision".to_owned(),
            (s, l, false) => format!(
                "score {} label {}",
                s.map_or("none".into(), |v| v.to_string()),
                l.clone().unwrap_or_else(|| "none".into())
            ),
        };
        emit(&format!(
            "{} is switched off: every server sharing this store answers its fallback ({what}) within a second, until `klartext switch on {}`\n",
            s.usecase_id, s.usecase_id
        ));
    }
    Ok(())
}
