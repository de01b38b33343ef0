//! `klartext promote U@VERSION` and `klartext rollback U`: the aliases, guarded by gates.

use super::{emit, print_json};
use crate::project::{actor, Project};
use anyhow::{bail, Context, Result};
use klartext_core::UseCase;
use klartext_store::{AliasName, ChallengerMode, ModelRecord, Promotion, Store};
use klartext_train::gates::GateResult;
use serde::Serialize;
use std::path::Path;

/// A gate of the use case that the version does not pass as it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateProblem {
    pub gate: String,
    /// `failed`, `not_evaluated` or `threshold_changed`.
    pub problem: &'static str,
    pub message: String,
}

/// The gates the use case sets now, with their thresholds (`no_leakage = true` counts as
/// threshold 0, as training records it).
fn current_gates(uc: &UseCase) -> Vec<(String, f64)> {
    let v = serde_json::to_value(&uc.gates).expect("gates serialise");
    let mut out = Vec::new();
    if let serde_json::Value::Object(m) = v {
        for (k, v) in m {
            match v {
                serde_json::Value::Number(n) => out.push((k, n.as_f64().unwrap_or(f64::NAN))),
                serde_json::Value::Bool(true) => out.push((k, 0.0)),
                _ => {}
            }
        }
    }
    out
}

/// Every gate of the use case must have been evaluated on this version, at the threshold
/// the use case sets now, and passed. Returns what stands in the way.
pub fn gate_problems(uc: &UseCase, model: &ModelRecord) -> Vec<GateProblem> {
    let evaluated: Vec<GateResult> =
        serde_json::from_value(model.report["gates"].clone()).unwrap_or_default();
    let mut out = Vec::new();
    for (gate, threshold) in current_gates(uc) {
        match evaluated.iter().find(|g| g.gate == gate) {
            None => out.push(GateProblem {
                message: format!(
                    "gate `{gate}` was not evaluated on this version (added to the use case after training?); retrain to evaluate it"
                ),
                gate,
                problem: "not_evaluated",
            }),
            Some(g) if (g.threshold - threshold).abs() > 1e-12 => out.push(GateProblem {
                message: format!(
                    "gate `{gate}` was evaluated at threshold {}, but the use case now asks for {threshold}; retrain to evaluate it",
                    g.threshold
                ),
                gate,
                problem: "threshold_changed",
            }),
            Some(g) if !g.passed => out.push(GateProblem {
                message: format!(
                    "gate `{gate}` failed: {} is {}, the threshold is {threshold}",
                    g.detail,
                    g.value.map_or("not measurable".into(), |v| format!("{v:.4}"))
                ),
                gate,
                problem: "failed",
            }),
            Some(_) => {}
        }
    }
    out
}

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

    fn uc(gates: &str) -> UseCase {
        let text = format!(
            "id = \"churn\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"classification\"\nowner = \"o\"\nrisk = \"limited\"\n[data]\ntarget = \"y\"\n[gates]\n{gates}\n"
        );
        UseCase::parse("churn.toml", &text, None).unwrap()
    }

    fn model(gates: serde_json::Value) -> ModelRecord {
        ModelRecord {
            usecase_id: "churn".into(),
            version: "abc".into(),
            sha256: "00".into(),
            dataset_id: "ds".into(),
            learner: "gbdt".into(),
            gates_passed: true,
            report: serde_json::json!({ "gates": gates }),
            card: String::new(),
            created_ms: 0,
            created_by: "t".into(),
        }
    }

    fn gate(name: &str, threshold: f64, value: f64, passed: bool) -> serde_json::Value {
        serde_json::json!({"gate": name, "threshold": threshold, "value": value, "passed": passed, "detail": "measured"})
    }

    #[test]
    fn every_gate_evaluated_and_passed_is_needed() {
        let u = uc("min_auc = 0.75\nmax_overfit_gap = 0.05");
        let ok = model(serde_json::json!([
            gate("min_auc", 0.75, 0.8, true),
            gate("max_overfit_gap", 0.05, 0.01, true)
        ]));
        assert!(gate_problems(&u, &ok).is_empty());

        let failed = model(serde_json::json!([
            gate("min_auc", 0.75, 0.7, false),
            gate("max_overfit_gap", 0.05, 0.01, true)
        ]));
        let p = gate_problems(&u, &failed);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].gate.as_str(), p[0].problem), ("min_auc", "failed"));

        let gap_failed = model(serde_json::json!([
            gate("min_auc", 0.75, 0.8, true),
            gate("max_overfit_gap", 0.05, 0.2, false)
        ]));
        assert_eq!(gate_problems(&u, &gap_failed)[0].gate, "max_overfit_gap");
    }

    #[test]
    fn a_gate_added_after_training_or_a_changed_threshold_is_refused() {
        let trained = model(serde_json::json!([gate("min_auc", 0.7, 0.72, true)]));
        let added = uc("min_auc = 0.7\nmin_demographic_parity_ratio = 0.8");
        let p = gate_problems(&added, &trained);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].problem, "not_evaluated");
        assert_eq!(p[0].gate, "min_demographic_parity_ratio");
        let stricter = uc("min_auc = 0.75");
        let p = gate_problems(&stricter, &trained);
        assert_eq!(p[0].problem, "threshold_changed");
        // A boolean gate counts as set only when true.
        let leak = uc("min_auc = 0.7\nno_leakage = true");
        assert_eq!(gate_problems(&leak, &trained)[0].gate, "no_leakage");
        let no_leak = uc("min_auc = 0.7\nno_leakage = false");
        assert!(gate_problems(&no_leak, &trained).is_empty());
    }

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
