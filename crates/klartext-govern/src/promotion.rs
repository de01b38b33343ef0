//! Promotion's guard: a version becomes champion or challenger only when every gate the
//! use case sets now was evaluated on it, at today's threshold, and passed (an override
//! with a reason is the caller's to record). Read from the stored report, typed.

use klartext_core::usecase::GateValue;
use klartext_core::UseCase;
use klartext_kinds::gates::GateResult;
use klartext_kinds::ReportHead;
use klartext_store::ModelRecord;
use serde::Serialize;

/// A gate of the use case that the version does not pass as it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateProblem {
    pub gate: String,
    /// `failed`, `not_evaluated` or `threshold_changed`.
    pub problem: &'static str,
    pub message: String,
}

/// The gates the use case sets now, with their thresholds (`no_leakage = true` counts as
/// threshold 0, as training records it; a yes/no gate set to false is no gate).
fn current_gates(uc: &UseCase) -> Vec<(String, f64)> {
    uc.gates
        .0
        .iter()
        .filter_map(|(k, v)| match v {
            GateValue::Number(x) => Some((k.clone(), *x)),
            GateValue::Flag(true) => Some((k.clone(), 0.0)),
            GateValue::Flag(false) => None,
        })
        .collect()
}

/// Every gate of the use case must have been evaluated on this version, at the threshold
/// the use case sets now, and passed. Returns what stands in the way.
pub fn gate_problems(uc: &UseCase, model: &ModelRecord) -> Vec<GateProblem> {
    // A report that does not read has no gate evaluated.
    let evaluated: Vec<GateResult> = ReportHead::read(&model.report)
        .map(|h| h.gates)
        .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A report that does not read has no gate evaluated: every gate set is refused.
    #[test]
    fn an_unreadable_report_passes_no_gate() {
        let mut m = model(serde_json::json!([gate("min_auc", 0.75, 0.8, true)]));
        m.report = serde_json::json!({"gates": m.report["gates"].clone()});
        let p = gate_problems(&uc("min_auc = 0.75"), &m);
        assert_eq!(p[0].problem, "not_evaluated");
    }

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
            report: serde_json::json!({
                "usecase": "churn", "dataset_id": "ds", "seed": 42, "rows_total": 100,
                "learner": "gbdt", "gates": gates, "gates_passed": true,
                "artifact_format": 2, "klartext_version": "0.1.0",
            }),
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
}
