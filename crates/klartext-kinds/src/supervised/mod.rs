//! What classification and regression share: learning from a target column of a
//! registered dataset with klartext-learn's baselines and gradient-boosted trees,
//! answering from features with exact explanations, and monitoring drift. Each of the
//! two kinds' modules says what is its own (metrics, gates, outcomes, card rows) and
//! calls these for the rest.

pub mod card;
pub mod encode;
pub mod input;
pub mod logrow;
pub(crate) mod monitor;
pub mod payload;
pub mod reasons;
pub mod score;
pub mod train;

use crate::artifact::Artifact;
use crate::error::{KindError, Result};
use crate::gates::{GateSpec, Measured};
use crate::kind::{
    answer_body, FallbackAnswer, Figures, Kind, Model, MonitorInput, MonitorSource, Operation,
    TrainInput, TrainOptions, Trained, TrainsFrom,
};
use crate::report::ReportHead;
use klartext_core::text::table;
use klartext_core::{Frame, Outcome, QualityReport, UseCase, UseCaseError, UseCaseKind};
use klartext_learn::select::Progress;
use klartext_monitor::report::MonitoringReport;
use payload::Supervised;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use train::{Target, TrainingReport};

/// Every supervised kind is a [`Kind`] through what it says of itself ([`Target`]).
impl<T: Target> Kind for T {
    fn kind(&self) -> UseCaseKind {
        self.use_case_kind()
    }

    fn trains_from(&self) -> TrainsFrom {
        TrainsFrom::TargetColumn
    }

    fn operations(&self) -> &'static [Operation] {
        &[Operation::Predict]
    }

    fn gates(&self) -> &'static [GateSpec] {
        self.gate_specs()
    }

    fn check(&self, uc: &UseCase, file: &str, text: &str) -> std::result::Result<(), UseCaseError> {
        self.check_more(uc, file, text)?;
        check(uc, self.gate_specs(), file, text)
    }

    fn train(
        &self,
        input: &TrainInput<'_>,
        opts: &TrainOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Trained> {
        train_kind(input, opts, progress)
    }

    fn load(&self, artifact: &Artifact) -> Result<Arc<dyn Model>> {
        Ok(Arc::new(Supervised::from_artifact(
            artifact,
            self.use_case_kind(),
        )?))
    }

    fn summary(&self, report: &Value) -> Result<String> {
        let r = read_report(report)?;
        Ok(summary(&r, &self.figures_line(&r.metrics)))
    }

    fn figures(&self, report: &Value) -> Result<Figures> {
        let r = read_report(report)?;
        let (name, value) = self.headline(&r.metrics);
        Ok(Figures {
            headline: value.map_or(String::new(), |v| format!("{name} {v:.4}")),
            metrics: serde_json::to_value(&r.metrics).expect("metrics serialise"),
        })
    }

    fn card(
        &self,
        uc: &UseCase,
        version: &str,
        report: &Value,
        trained_at: &str,
        trained_by: &str,
    ) -> Result<String> {
        let r = read_report(report)?;
        let rows = self.metric_rows(&r.metrics, &r.train_metrics);
        Ok(card::model_card(
            uc, version, &r, trained_at, trained_by, &rows,
        ))
    }

    fn fallback(&self, uc: &UseCase) -> FallbackAnswer {
        fallback(uc)
    }

    fn outcome(&self, uc: &UseCase, raw: &Value) -> std::result::Result<Outcome, String> {
        self.read_outcome(uc, raw)
    }

    fn monitor(
        &self,
        input: &MonitorInput<'_>,
        source: &dyn MonitorSource,
    ) -> Result<MonitoringReport> {
        monitor::on_traffic(input, source, self.live_performance())
    }

    fn drift_on(
        &self,
        input: &MonitorInput<'_>,
        frame: &Frame,
        source_name: &str,
    ) -> Result<MonitoringReport> {
        monitor::on_file(input, frame, source_name)
    }
}

/// The `[classification]` / `[regression]` table: nothing to set yet, and an unknown
/// key is an error naming it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

/// The checks a supervised use case needs beyond the common ones: a target column,
/// gates of its kind, and its table.
pub(crate) fn check(
    uc: &UseCase,
    gates: &[GateSpec],
    file: &str,
    text: &str,
) -> std::result::Result<(), UseCaseError> {
    uc.read_settings::<Settings>(file, text)?;
    let mut problems = Vec::new();
    if uc.data.target.trim().is_empty() {
        problems.push((
            "data.target".to_owned(),
            format!(
                "a {} use case needs `data.target`, the column to predict",
                uc.kind
            ),
        ));
    }
    problems.extend(crate::gates::check(uc, gates));
    match problems.into_iter().next() {
        Some((key, message)) => Err(UseCaseError::at_key(file, text, &key, message)),
        None => Ok(()),
    }
}

/// Train and package a supervised version for the store.
pub(crate) fn train_kind(
    input: &TrainInput<'_>,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Trained> {
    let d = &input.dataset;
    let t = train::train(
        d.frame,
        d.schema,
        input.usecase,
        d.id,
        d.quality,
        opts,
        progress,
    )?;
    let report = serde_json::to_value(&t.report).expect("reports serialise");
    let head = ReportHead::read(&report)?;
    Ok(Trained {
        bytes: t.bytes,
        version: t.version,
        sha256: t.sha256,
        report,
        head,
        reference: Some(t.reference.to_json()),
    })
}

/// A stored report, typed.
pub(crate) fn read_report(report: &Value) -> Result<TrainingReport> {
    TrainingReport::deserialize(report).map_err(|e| KindError::Report(e.to_string()))
}

/// The measures every supervised kind has: the overfitting gap and the data gates.
pub(crate) fn measure_shared(
    key: &str,
    r: &TrainingReport,
    data: Option<&QualityReport>,
) -> Option<Measured> {
    Some(match key {
        "max_overfit_gap" => Measured {
            value: Some(r.overfit_gap),
            detail: "training minus held-out score".into(),
        },
        "max_missing_share" => {
            let worst = data.and_then(|d| {
                d.columns
                    .iter()
                    .filter(|c| r.features.contains(&c.name))
                    .map(|c| (c.missing_share, c.name.as_str()))
                    .reduce(|a, b| if b.0 > a.0 { b } else { a })
            });
            Measured {
                value: worst.map(|w| w.0),
                detail: worst.map_or("no data report".into(), |(_, c)| {
                    format!("largest missing share among features (`{c}`)")
                }),
            }
        }
        "no_leakage" => {
            let suspects: Option<Vec<&str>> = data.map(|d| {
                d.leakage_suspects
                    .iter()
                    .filter(|l| r.features.contains(&l.column))
                    .map(|l| l.column.as_str())
                    .collect()
            });
            match suspects {
                None => Measured {
                    value: None,
                    detail: "no data report".into(),
                },
                Some(s) if s.is_empty() => Measured {
                    value: Some(0.0),
                    detail: "no leakage suspect among the features".into(),
                },
                Some(s) => Measured {
                    value: Some(s.len() as f64),
                    detail: format!("leakage suspects among the features: {}", s.join(", ")),
                },
            }
        }
        _ => return None,
    })
}

/// A measure on held-out rows, worded.
pub(crate) fn held_out(value: Option<f64>, what: &str, r: &TrainingReport) -> Measured {
    Measured {
        value,
        detail: format!("{what} on {} held-out rows", r.metrics.n),
    }
}

/// What a switched-off supervised use case answers: its `[fallback]` score (and
/// label), or no decision.
pub(crate) fn fallback(uc: &UseCase) -> FallbackAnswer {
    let f = &uc.fallback;
    let none = |warnings: Vec<String>| FallbackAnswer {
        body: answer_body(&FallbackBody {
            score: None,
            label: None,
        }),
        output: serde_json::json!({ "score": Value::Null, "label": Value::Null }),
        score: None,
        decides: false,
        warnings,
    };
    if f.rule.is_some() {
        return none(vec![
            "rule fallbacks are not supported yet: no decision".into()
        ]);
    }
    if f.none || (f.score.is_none() && f.label.is_none()) {
        return none(Vec::new());
    }
    FallbackAnswer {
        body: answer_body(&FallbackBody {
            score: f.score,
            label: f.label.clone(),
        }),
        output: serde_json::json!({ "score": f.score, "label": f.label }),
        score: f.score,
        decides: true,
        warnings: Vec::new(),
    }
}

/// A fallback's answer fields (reasons come from governance: the use case is off).
#[derive(Debug, serde::Serialize)]
struct FallbackBody {
    score: Option<f64>,
    label: Option<String>,
}

/// The training result as a person reads it, from the learner on (the caller names the
/// version before it). `figures` is the kind's line of held-out figures.
pub(crate) fn summary(r: &TrainingReport, figures: &str) -> String {
    let mut out = format!(
        "{} on dataset {} ({} training rows, {} held out; {})\n\n",
        r.learner, r.dataset_id, r.rows_train, r.rows_test, r.split
    );
    let rows: Vec<Vec<String>> =
        r.cv.rows
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    format!("{}{}", c.name, if i == r.cv.chosen { " *" } else { "" }),
                    format!("{:.4}", c.mean),
                    format!("{:.4}", c.std),
                    c.rounds.map_or(String::new(), |x| x.to_string()),
                ]
            })
            .collect();
    out.push_str(&format!(
        "{}-fold cross-validation ({}; * chosen):\n",
        r.cv.k, r.cv.metric
    ));
    out.push_str(&table(&["candidate", "mean", "std", "rounds"], &rows));
    out.push_str(&format!("\nHeld-out: {figures}"));
    out.push_str(&format!("\nOverfitting gap: {:.4}\n", r.overfit_gap));
    for p in &r.fairness {
        out.push_str(&format!(
            "Fairness `{}`: demographic parity ratio {:.3}, difference {:.3}, equalized odds difference {:.3}\n",
            p.attribute, p.report.demographic_parity_ratio, p.report.demographic_parity_difference, p.report.equalized_odds_difference
        ));
    }
    let fmt = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.4}"));
    if !r.gates.is_empty() {
        out.push_str("\nGates:\n");
        let rows: Vec<Vec<String>> = r
            .gates
            .iter()
            .map(|g| {
                vec![
                    g.gate.clone(),
                    g.threshold.to_string(),
                    fmt(g.value),
                    if g.passed {
                        "passed".into()
                    } else {
                        "FAILED".into()
                    },
                ]
            })
            .collect();
        out.push_str(&table(&["gate", "threshold", "measured", "result"], &rows));
    }
    out.push_str(&format!(
        "\n{}\nTop drivers: {}\n",
        if r.gates_passed {
            "All gates passed."
        } else {
            "Some gates failed: this version cannot be promoted without an override."
        },
        r.importance
            .iter()
            .take(5)
            .map(|i| i.feature.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out
}

/// The value a caller reports as the real outcome: a bare value, or an object holding
/// the target column (`{"churn": "Yes"}`), `outcome`, or a single value.
pub(crate) fn reported_value<'a>(uc: &UseCase, raw: &'a Value) -> Option<&'a Value> {
    match raw {
        Value::Object(m) => m
            .get(&uc.data.target)
            .or_else(|| m.get("outcome"))
            .or_else(|| (m.len() == 1).then(|| m.values().next()).flatten()),
        other => Some(other),
    }
}

/// A figure for a summary line.
pub(crate) fn f4(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.4}"))
}
