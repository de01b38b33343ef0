//! `klartext promote U@VERSION` and `klartext rollback U`: the aliases, guarded by gates.

use super::{emit, print_json};
use crate::project::{actor, Project};
use anyhow::{bail, Context, Result};
use klartext_govern::promotion::gate_problems;
use klartext_store::{AliasName, ChallengerMode, Promotion, Store};
use std::path::Path;

/// `10%`, `10` or `0.1` as a share 0..1.
fn parse_share(s: &str) -> Result<f64> {
    let t = s.trim();
    let (num, pct) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .with_context(|| format!("`--canary {s}` is not a share; write it like 10%"))?;
    let share = if pct || v > 1.0 { v / 100.0 } else { v };
    if !(share > 0.0 && share < 1.0) {
        bail!("`--canary {s}`: the share must be above 0% and below 100%");
    }
    Ok(share)
}

pub fn promote(
    project: Option<&Path>,
    target: &str,
    to: &str,
    canary: Option<&str>,
    override_gates: bool,
    reason: Option<&str>,
    json: bool,
) -> Result<()> {
    let Some((usecase, version)) = target
        .split_once('@')
        .filter(|(u, v)| !u.is_empty() && !v.is_empty())
    else {
        bail!("`{target}` is not USECASE@VERSION (for example churn@1a2b3c4d5e6f)");
    };
    let alias = AliasName::parse(to).with_context(|| format!("no alias `{to}`"))?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if override_gates && reason.is_none() {
        bail!("--override needs --reason \"...\": an override is recorded with its reason");
    }
    let (mode, share) = match (alias, canary) {
        (AliasName::Champion, Some(_)) => {
            bail!("--canary applies to a challenger: use --to challenger --canary 10%")
        }
        (AliasName::Champion, None) => (None, None),
        (AliasName::Challenger, None) => (Some(ChallengerMode::Shadow), None),
        (AliasName::Challenger, Some(c)) => (Some(ChallengerMode::Canary), Some(parse_share(c)?)),
    };
    let p = Project::find(project)?;
    let uc = p.usecase(usecase)?;
    let store = p.open_store()?;
    let model = store.model(&uc.id, version)?.with_context(|| {
        format!(
            "use case `{}` has no model version `{version}` (or the prefix is not unique); `klartext models list {}` shows them",
            uc.id, uc.id
        )
    })?;
    let problems = gate_problems(&uc, &model);
    if !problems.is_empty() && !override_gates {
        let list: Vec<&str> = problems.iter().map(|g| g.message.as_str()).collect();
        bail!(
            "promotion of {}@{} refused: {}; fix and retrain, or pass --override --reason \"...\" (recorded in the audit trail)",
            uc.id,
            model.version,
            list.join("; ")
        );
    }
    let a = store.promote(&Promotion {
        usecase_id: uc.id.clone(),
        version: model.version.clone(),
        alias,
        mode,
        canary_share: share,
        actor: actor(),
        reason: reason.map(str::to_owned),
        override_gates: override_gates && !problems.is_empty(),
        failed_gates: serde_json::to_value(&problems)?,
    })?;
    if json {
        print_json(&serde_json::json!({
            "use_case": a.usecase_id, "alias": a.alias, "version": a.version, "mode": a.mode,
            "canary_share": a.canary_share, "override": override_gates && !problems.is_empty(),
            "failed_gates": problems, "reason": reason,
        }));
        return Ok(());
    }
    let how = match (a.mode, a.canary_share) {
        (Some(ChallengerMode::Canary), Some(s)) => {
            format!(" (canary: {:.1}% of subjects)", s * 100.0)
        }
        (Some(ChallengerMode::Shadow), _) => " (shadow: scored and logged, never answered)".into(),
        _ => String::new(),
    };
    emit(&format!(
        "{}@{} is now the {}{how}\n",
        a.usecase_id,
        a.version,
        a.alias.as_str()
    ));
    if !problems.is_empty() {
        emit(&format!(
            "OVERRIDE recorded in the audit trail: {} gate(s) not passed; reason: {}\n",
            problems.len(),
            reason.unwrap_or_default()
        ));
    }
    emit("Running servers pick this up within a second.\n");
    Ok(())
}

pub fn rollback(
    project: Option<&Path>,
    usecase: &str,
    reason: Option<&str>,
    json: bool,
) -> Result<()> {
    let p = Project::find(project)?;
    let uc = p.usecase(usecase)?;
    let r = p.open_store()?.rollback(
        &uc.id,
        &actor(),
        reason.map(str::trim).filter(|r| !r.is_empty()),
    )?;
    if json {
        print_json(&serde_json::json!({ "use_case": r.usecase_id, "from": r.from, "to": r.to }));
    } else {
        emit(&format!(
            "{}: champion rolled back from {} to {}\n",
            r.usecase_id, r.from, r.to
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_shares_parse() {
        assert_eq!(parse_share("10%").unwrap(), 0.1);
        assert_eq!(parse_share("0.25").unwrap(), 0.25);
        assert_eq!(parse_share("5").unwrap(), 0.05);
        assert!(parse_share("0%").is_err());
        assert!(parse_share("100%").is_err());
        assert!(parse_share("ten").is_err());
    }
}
