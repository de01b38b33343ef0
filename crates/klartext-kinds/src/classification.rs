//! The classification kind: lead scoring, conversion propensity, churn. It learns a
//! yes/no target column (`data.target`, `data.positive`); answers the probability of
//! the positive class, a label at the model's threshold and reasons; its gates cover
//! ranking, calibration, overfitting, fairness and data; feedback says whether the
//! positive class happened; monitoring adds live AUC per window to drift.

use crate::error::Result;
use crate::gates::{Bound, GateSpec, Measured, Range};
use crate::supervised::card::MetricRow;
use crate::supervised::train::{Metrics, Target, TrainingReport};
use crate::supervised::{f4, held_out, measure_shared};
use klartext_core::{Outcome, QualityReport, UseCase, UseCaseKind};
use klartext_learn::fairness::FairnessReport;
use klartext_learn::{metrics, Task};
use serde_json::Value;

pub struct Classification;

/// The gates a classification use case may set, in report order.
pub const GATES: &[GateSpec] = &[
    GateSpec::new(
        "min_auc",
        Bound::AtLeast,
        Range::Unit,
        "ROC AUC on held-out rows",
    ),
    GateSpec::new(
        "min_pr_auc",
        Bound::AtLeast,
        Range::Unit,
        "PR AUC (average precision) on held-out rows",
    ),
    GateSpec::new(
        "max_log_loss",
        Bound::AtMost,
        Range::NonNegative,
        "log loss on held-out rows",
    ),
    GateSpec::new(
        "max_calibration_error",
        Bound::AtMost,
        Range::Unit,
        "expected calibration error on held-out rows",
    ),
    GateSpec::new(
        "max_overfit_gap",
        Bound::AtMost,
        Range::Unit,
        "training minus held-out AUC",
    ),
    GateSpec::new(
        "min_demographic_parity_ratio",
        Bound::AtLeast,
        Range::Unit,
        "demographic parity ratio, worst protected attribute",
    ),
    GateSpec::new(
        "max_demographic_parity_difference",
        Bound::AtMost,
        Range::Unit,
        "demographic parity difference, worst protected attribute",
    ),
    GateSpec::new(
        "max_equalized_odds_difference",
        Bound::AtMost,
        Range::Unit,
        "equalized odds difference, worst protected attribute",
    ),
    GateSpec::new(
        "max_missing_share",
        Bound::AtMost,
        Range::Unit,
        "largest share of missing values among the features",
    ),
    GateSpec::new(
        "no_leakage",
        Bound::Flag,
        Range::Flag,
        "leakage suspects among the features",
    ),
];

impl Target for Classification {
    fn use_case_kind(&self) -> UseCaseKind {
        UseCaseKind::Classification
    }

    fn task(&self) -> Task {
        Task::BinaryClassification
    }

    fn gate_specs(&self) -> &'static [GateSpec] {
        GATES
    }

    fn figures_line(&self, m: &Metrics) -> String {
        format!(
            "AUC {}, PR-AUC {}, log loss {}, Brier {}, calibration error {}, lift@10% {}, gain@10% {}",
            f4(m.auc),
            f4(m.pr_auc),
            f4(m.log_loss),
            f4(m.brier),
            f4(m.calibration_error),
            f4(m.lift_top10),
            f4(m.gain_top10)
        )
    }

    fn headline(&self, m: &Metrics) -> (&'static str, Option<f64>) {
        ("auc", m.auc)
    }

    fn metric_rows(&self, m: &Metrics, t: &Metrics) -> Vec<MetricRow> {
        vec![
            ("ROC AUC", m.auc, t.auc),
            ("PR AUC", m.pr_auc, t.pr_auc),
            ("log loss", m.log_loss, t.log_loss),
            ("Brier score", m.brier, t.brier),
            (
                "calibration error (ECE)",
                m.calibration_error,
                t.calibration_error,
            ),
            ("lift in top 10%", m.lift_top10, t.lift_top10),
            ("gain in top 10%", m.gain_top10, t.gain_top10),
        ]
    }

    fn read_outcome(&self, uc: &UseCase, raw: &Value) -> std::result::Result<Outcome, String> {
        outcome(uc, raw)
    }

    /// Live AUC per window from feedback, against the card's.
    fn live_performance(&self) -> bool {
        true
    }

    fn metrics(&self, y: &[f64], raw: &[f64]) -> Result<Metrics> {
        let p = crate::supervised::score::scores_of(Task::BinaryClassification, raw);
        let m = metrics::binary_metrics(y, &p)?;
        Ok(Metrics {
            n: m.n,
            auc: Some(m.auc),
            pr_auc: Some(m.pr_auc),
            log_loss: Some(m.log_loss),
            brier: Some(m.brier),
            calibration_error: Some(m.ece),
            lift_top10: Some(m.lift_top10),
            gain_top10: Some(m.gain_top10),
            ..Metrics::default()
        })
    }

    fn gap_figure(&self, m: &Metrics) -> f64 {
        m.auc.unwrap_or(0.0)
    }

    fn measure(&self, key: &str, r: &TrainingReport, data: Option<&QualityReport>) -> Measured {
        let m = &r.metrics;
        match key {
            "min_auc" => held_out(m.auc, "ROC AUC", r),
            "min_pr_auc" => held_out(m.pr_auc, "PR AUC (average precision)", r),
            "max_log_loss" => held_out(m.log_loss, "log loss", r),
            "max_calibration_error" => {
                held_out(m.calibration_error, "expected calibration error", r)
            }
            "min_demographic_parity_ratio" => fairness(
                r,
                "demographic parity ratio",
                |f| f.demographic_parity_ratio,
                true,
            ),
            "max_demographic_parity_difference" => fairness(
                r,
                "demographic parity difference",
                |f| f.demographic_parity_difference,
                false,
            ),
            "max_equalized_odds_difference" => fairness(
                r,
                "equalized odds difference",
                |f| f.equalized_odds_difference,
                false,
            ),
            other => measure_shared(other, r, data).expect("every gate in GATES is measured"),
        }
    }
}

/// A fairness gate holds for the worst protected attribute.
fn fairness(
    r: &TrainingReport,
    what: &str,
    f: fn(&FairnessReport) -> f64,
    lowest: bool,
) -> Measured {
    let worst = r
        .fairness
        .iter()
        .map(|p| (f(&p.report), p.attribute.as_str()))
        .filter(|(v, _)| !v.is_nan())
        .reduce(|a, b| if (b.0 < a.0) == lowest { b } else { a });
    let detail = match worst {
        Some((_, attr)) => format!("{what} on held-out rows, worst protected attribute `{attr}`"),
        None if r.fairness.is_empty() => {
            format!("{what}: the use case names no protected attribute present in the data")
        }
        None => format!("{what}: not measurable (a group without rows)"),
    };
    Measured {
        value: worst.map(|w| w.0),
        detail,
    }
}

/// Did a reported outcome turn out positive? What the caller sent: a bare value, or
/// an object holding the target column (`{"churn": "Yes"}`), `outcome`, or one value.
pub fn outcome(uc: &UseCase, raw: &Value) -> std::result::Result<Outcome, String> {
    let expected = || {
        format!(
            "expected the real outcome of `{}`: true or false, the class as in the data (e.g. {:?}), or an object such as {{\"{}\": true}}",
            uc.data.target,
            uc.positive_label().unwrap_or_else(|| "yes".into()),
            uc.data.target
        )
    };
    let v = crate::supervised::reported_value(uc, raw).ok_or_else(expected)?;
    let positive = match v {
        Value::Bool(b) => *b,
        Value::Number(n) => uc.is_positive(&n.to_string()),
        Value::String(s) if !s.trim().is_empty() => uc.is_positive(s),
        _ => return Err(expected()),
    };
    Ok(Outcome::Binary { positive })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_read_as_sent_and_others_are_refused() {
        let uc = UseCase::parse(
            "u.toml",
            "id = \"churn\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"classification\"\nowner = \"o\"\nrisk = \"limited\"\n[data]\ntarget = \"churn\"\npositive = \"Yes\"\n",
            None,
        )
        .unwrap();
        let pos = |v: Value| outcome(&uc, &v).map(|o| o == Outcome::Binary { positive: true });
        assert_eq!(pos(json!({"churn": "Yes"})), Ok(true));
        assert_eq!(pos(json!({"churn": "No"})), Ok(false));
        assert_eq!(pos(json!(true)), Ok(true));
        assert_eq!(pos(json!({"converted": false})), Ok(false));
        assert_eq!(pos(json!({"outcome": "yes"})), Ok(true));
        for bad in [
            json!({"a": 1, "b": 2}),
            json!(null),
            json!([true]),
            json!({"churn": {"x": 1}}),
            json!(""),
        ] {
            let e = outcome(&uc, &bad).unwrap_err();
            assert!(e.contains("`churn`"), "{bad}: {e}");
        }
    }
}
