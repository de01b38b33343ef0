//! The regression kind: revenue, basket value. It learns a numeric target column;
//! answers the predicted value with reasons; its gates cover the errors, overfitting
//! and data; feedback is the real value; monitoring watches drift (live error figures
//! from feedback are not computed yet).

use crate::artifact::Artifact;
use crate::error::Result;
use crate::gates::{evaluate, Bound, GateResult, GateSpec, Measured, Range};
use crate::kind::{
    FallbackAnswer, Figures, Kind, Model, MonitorInput, MonitorSource, Operation, TrainInput,
    TrainOptions, Trained, TrainsFrom,
};
use crate::supervised::card::MetricRow;
use crate::supervised::train::{Metrics, Target, TrainingReport};
use crate::supervised::{self, f4, held_out, measure_shared};
use klartext_core::{Frame, Outcome, QualityReport, UseCase, UseCaseError, UseCaseKind};
use klartext_learn::select::Progress;
use klartext_learn::{metrics, Task};
use klartext_monitor::report::MonitoringReport;
use serde_json::Value;
use std::sync::Arc;

pub struct Regression;

const fn gate(key: &'static str, bound: Bound, range: Range, measures: &'static str) -> GateSpec {
    GateSpec {
        key,
        bound,
        range,
        measures,
    }
}

/// The gates a regression use case may set, in report order.
pub const GATES: &[GateSpec] = &[
    gate(
        "max_rmse",
        Bound::AtMost,
        Range::NonNegative,
        "RMSE on held-out rows",
    ),
    gate(
        "max_mae",
        Bound::AtMost,
        Range::NonNegative,
        "MAE on held-out rows",
    ),
    gate("min_r2", Bound::AtLeast, Range::Any, "R² on held-out rows"),
    gate(
        "max_overfit_gap",
        Bound::AtMost,
        Range::Unit,
        "training minus held-out R²",
    ),
    gate(
        "max_missing_share",
        Bound::AtMost,
        Range::Unit,
        "largest share of missing values among the features",
    ),
    gate(
        "no_leakage",
        Bound::Flag,
        Range::Flag,
        "leakage suspects among the features",
    ),
];

impl Target for Regression {
    fn task(&self) -> Task {
        Task::Regression
    }

    fn metrics(&self, y: &[f64], raw: &[f64]) -> Result<Metrics> {
        let m = metrics::regression_metrics(y, raw)?;
        Ok(Metrics {
            n: m.n,
            rmse: Some(m.rmse),
            mae: Some(m.mae),
            r2: Some(m.r2),
            ..Metrics::default()
        })
    }

    fn gap_figure(&self, m: &Metrics) -> f64 {
        m.r2.unwrap_or(0.0)
    }

    fn gates(
        &self,
        uc: &UseCase,
        r: &TrainingReport,
        data: Option<&QualityReport>,
    ) -> Vec<GateResult> {
        evaluate(uc, GATES, |key| measure(key, r, data))
    }
}

fn measure(key: &str, r: &TrainingReport, data: Option<&QualityReport>) -> Measured {
    let m = &r.metrics;
    match key {
        "max_rmse" => held_out(m.rmse, "RMSE", r),
        "max_mae" => held_out(m.mae, "MAE", r),
        "min_r2" => held_out(m.r2, "R²", r),
        other => measure_shared(other, r, data).expect("every gate in GATES is measured"),
    }
}

fn metric_rows(m: &Metrics, t: &Metrics) -> Vec<MetricRow> {
    vec![
        ("RMSE", m.rmse, t.rmse),
        ("MAE", m.mae, t.mae),
        ("R²", m.r2, t.r2),
    ]
}

/// The real value a caller reports: a number, numeric text, or an object holding the
/// target column (`{"basket_value": 42.5}`), `outcome`, or one value.
pub fn outcome(uc: &UseCase, raw: &Value) -> std::result::Result<Outcome, String> {
    let expected = || {
        format!(
            "expected the real value of `{}`: a number, or an object such as {{\"{}\": 42.5}}",
            uc.data.target, uc.data.target
        )
    };
    let v = match raw {
        Value::Object(m) => m
            .get(&uc.data.target)
            .or_else(|| m.get("outcome"))
            .or_else(|| (m.len() == 1).then(|| m.values().next()).flatten())
            .ok_or_else(expected)?,
        other => other,
    };
    let value = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite())
    .ok_or_else(expected)?;
    Ok(Outcome::Value { value })
}

impl Kind for Regression {
    fn kind(&self) -> UseCaseKind {
        UseCaseKind::Regression
    }

    fn trains_from(&self) -> TrainsFrom {
        TrainsFrom::TargetColumn
    }

    fn operations(&self) -> &'static [Operation] {
        &[Operation::Predict]
    }

    fn gates(&self) -> &'static [GateSpec] {
        GATES
    }

    fn check(&self, uc: &UseCase, file: &str, text: &str) -> std::result::Result<(), UseCaseError> {
        if uc.data.positive.is_some() {
            return Err(UseCaseError::at_key(
                file,
                text,
                "data.positive",
                "`data.positive` applies to classification only".into(),
            ));
        }
        supervised::check(uc, GATES, file, text)
    }

    fn train(
        &self,
        input: &TrainInput<'_>,
        opts: &TrainOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Trained> {
        supervised::train_kind(input, opts, progress)
    }

    fn load(&self, artifact: &Artifact) -> Result<Arc<dyn Model>> {
        supervised::load(artifact)
    }

    fn summary(&self, report: &Value) -> Result<String> {
        let r = supervised::read_report(report)?;
        let m = &r.metrics;
        let figures = format!("RMSE {}, MAE {}, R² {}", f4(m.rmse), f4(m.mae), f4(m.r2));
        Ok(supervised::summary(&r, &figures))
    }

    fn figures(&self, report: &Value) -> Result<Figures> {
        let r = supervised::read_report(report)?;
        let (name, value) = ("rmse", r.metrics.rmse);
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
        let r = supervised::read_report(report)?;
        let rows = metric_rows(&r.metrics, &r.train_metrics);
        Ok(supervised::card::model_card(
            uc, version, &r, trained_at, trained_by, &rows,
        ))
    }

    fn fallback(&self, uc: &UseCase) -> FallbackAnswer {
        supervised::fallback(uc)
    }

    fn outcome(&self, uc: &UseCase, raw: &Value) -> std::result::Result<Outcome, String> {
        outcome(uc, raw)
    }

    fn monitor(
        &self,
        input: &MonitorInput<'_>,
        source: &dyn MonitorSource,
    ) -> Result<MonitoringReport> {
        supervised::monitor::on_traffic(input, source, false)
    }

    fn drift_on(
        &self,
        input: &MonitorInput<'_>,
        frame: &Frame,
        source_name: &str,
    ) -> Result<MonitoringReport> {
        supervised::monitor::on_file(input, frame, source_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_are_real_values() {
        let uc = UseCase::parse(
            "u.toml",
            "id = \"basket\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"regression\"\nowner = \"o\"\nrisk = \"minimal\"\n[data]\ntarget = \"value\"\n",
            None,
        )
        .unwrap();
        let v = |raw: Value| outcome(&uc, &raw);
        assert_eq!(v(json!(12.5)), Ok(Outcome::Value { value: 12.5 }));
        assert_eq!(v(json!({"value": 3})), Ok(Outcome::Value { value: 3.0 }));
        assert_eq!(
            v(json!({"outcome": "7.25"})),
            Ok(Outcome::Value { value: 7.25 })
        );
        for bad in [
            json!(true),
            json!("lots"),
            json!({"a": 1, "b": 2}),
            json!(null),
        ] {
            assert!(v(bad.clone()).unwrap_err().contains("`value`"), "{bad}");
        }
    }
}
