//! Gates: the use case's quality, overfitting, fairness and data thresholds, each
//! evaluated on a training run and recorded, passed or not.

use crate::train::TrainingReport;
use klartext_core::{QualityReport, UseCase};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The key in the use case's `[gates]` table.
    pub gate: String,
    pub threshold: f64,
    /// The measured value; `None` when it could not be measured (the gate fails).
    pub value: Option<f64>,
    pub passed: bool,
    /// What was measured, in words.
    pub detail: String,
}

fn at_least(gate: &str, threshold: f64, value: Option<f64>, detail: String) -> GateResult {
    GateResult {
        gate: gate.into(),
        threshold,
        value,
        passed: value.is_some_and(|v| v >= threshold),
        detail,
    }
}

fn at_most(gate: &str, threshold: f64, value: Option<f64>, detail: String) -> GateResult {
    GateResult {
        gate: gate.into(),
        threshold,
        value,
        passed: value.is_some_and(|v| v <= threshold),
        detail,
    }
}

/// Every gate the use case sets, in the order of the `[gates]` table's fields.
pub fn evaluate_gates(
    uc: &UseCase,
    r: &TrainingReport,
    data: Option<&QualityReport>,
) -> Vec<GateResult> {
    let g = &uc.gates;
    let m = &r.metrics;
    let mut out = Vec::new();
    let held_out = |what: &str| format!("{what} on {} held-out rows", m.n);
    if let Some(t) = g.min_auc {
        out.push(at_least("min_auc", t, m.auc, held_out("ROC AUC")));
    }
    if let Some(t) = g.min_pr_auc {
        out.push(at_least(
            "min_pr_auc",
            t,
            m.pr_auc,
            held_out("PR AUC (average precision)"),
        ));
    }
    if let Some(t) = g.max_log_loss {
        out.push(at_most("max_log_loss", t, m.log_loss, held_out("log loss")));
    }
    if let Some(t) = g.max_calibration_error {
        out.push(at_most(
            "max_calibration_error",
            t,
            m.calibration_error,
            held_out("expected calibration error"),
        ));
    }
    if let Some(t) = g.max_rmse {
        out.push(at_most("max_rmse", t, m.rmse, held_out("RMSE")));
    }
    if let Some(t) = g.max_mae {
        out.push(at_most("max_mae", t, m.mae, held_out("MAE")));
    }
    if let Some(t) = g.min_r2 {
        out.push(at_least("min_r2", t, m.r2, held_out("R²")));
    }
    if let Some(t) = g.max_overfit_gap {
        out.push(at_most(
            "max_overfit_gap",
            t,
            Some(r.overfit_gap),
            "training minus held-out score".into(),
        ));
    }
    // Fairness gates hold for the worst protected attribute.
    let worst = |f: fn(&klartext_learn::fairness::FairnessReport) -> f64, lowest: bool| {
        r.fairness
            .iter()
            .map(|p| (f(&p.report), p.attribute.as_str()))
            .filter(|(v, _)| !v.is_nan())
            .reduce(|a, b| if (b.0 < a.0) == lowest { b } else { a })
    };
    let no_protected = r.fairness.is_empty();
    if let Some(t) = g.min_demographic_parity_ratio {
        let w = worst(|f| f.demographic_parity_ratio, true);
        out.push(at_least(
            "min_demographic_parity_ratio",
            t,
            w.map(|x| x.0),
            fairness_detail("demographic parity ratio", w, no_protected),
        ));
    }
    if let Some(t) = g.max_demographic_parity_difference {
        let w = worst(|f| f.demographic_parity_difference, false);
        out.push(at_most(
            "max_demographic_parity_difference",
            t,
            w.map(|x| x.0),
            fairness_detail("demographic parity difference", w, no_protected),
        ));
    }
    if let Some(t) = g.max_equalized_odds_difference {
        let w = worst(|f| f.equalized_odds_difference, false);
        out.push(at_most(
            "max_equalized_odds_difference",
            t,
            w.map(|x| x.0),
            fairness_detail("equalized odds difference", w, no_protected),
        ));
    }
    if let Some(t) = g.max_missing_share {
        let worst = data.and_then(|d| {
            d.columns
                .iter()
                .filter(|c| r.features.contains(&c.name))
                .map(|c| (c.missing_share, c.name.as_str()))
                .reduce(|a, b| if b.0 > a.0 { b } else { a })
        });
        let detail = worst.map_or("no data report".into(), |(_, c)| {
            format!("largest missing share among features (`{c}`)")
        });
        out.push(at_most("max_missing_share", t, worst.map(|w| w.0), detail));
    }
    if g.no_leakage == Some(true) {
        let suspects: Vec<&str> = data
            .map(|d| {
                d.leakage_suspects
                    .iter()
                    .filter(|l| r.features.contains(&l.column))
                    .map(|l| l.column.as_str())
                    .collect()
            })
            .unwrap_or_default();
        out.push(GateResult {
            gate: "no_leakage".into(),
            threshold: 0.0,
            value: Some(suspects.len() as f64),
            passed: data.is_some() && suspects.is_empty(),
            detail: if suspects.is_empty() {
                "no leakage suspect among the features".into()
            } else {
                format!(
                    "leakage suspects among the features: {}",
                    suspects.join(", ")
                )
            },
        });
    }
    out
}

fn fairness_detail(what: &str, worst: Option<(f64, &str)>, none: bool) -> String {
    match worst {
        Some((_, attr)) => format!("{what} on held-out rows, worst protected attribute `{attr}`"),
        None if none => {
            format!("{what}: the use case names no protected attribute present in the data")
        }
        None => format!("{what}: not measurable (a group without rows)"),
    }
}
