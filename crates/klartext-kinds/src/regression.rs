//! The regression kind: revenue, basket value. It learns a numeric target column;
//! answers the predicted value with reasons; its gates cover the errors, overfitting
//! and data; feedback is the real value; monitoring watches drift (live error figures
//! from feedback are not computed yet).

use crate::error::Result;
use crate::gates::{Bound, GateSpec, Measured, Range};
use crate::supervised::card::MetricRow;
use crate::supervised::train::{Metrics, Target, TrainingReport};
use crate::supervised::{f4, held_out, measure_shared};
use klartext_core::{Outcome, QualityReport, UseCase, UseCaseError, UseCaseKind};
use klartext_learn::{metrics, Task};
use serde_json::Value;

pub struct Regression;

/// The gates a regression use case may set, in report order.
pub const GATES: &[GateSpec] = &[
    GateSpec::new(
        "max_rmse",
        Bound::AtMost,
        Range::NonNegative,
        "RMSE on held-out rows",
    ),
    GateSpec::new(
        "max_mae",
        Bound::AtMost,
        Range::NonNegative,
        "MAE on held-out rows",
    ),
    GateSpec::new("min_r2", Bound::AtLeast, Range::Any, "R² on held-out rows"),
    GateSpec::new(
        "max_overfit_gap",
        Bound::AtMost,
        Range::Unit,
        "training minus held-out R²",
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

impl Target for Regression {
    fn use_case_kind(&self) -> UseCaseKind {
        UseCaseKind::Regression
    }

    fn task(&self) -> Task {
        Task::Regression
    }

    fn gate_specs(&self) -> &'static [GateSpec] {
        GATES
    }

    fn check_more(
        &self,
        uc: &UseCase,
        file: &str,
        text: &str,
    ) -> std::result::Result<(), UseCaseError> {
        if uc.data.positive.is_some() {
            return Err(UseCaseError::at_key(
                file,
                text,
                "data.positive",
                "`data.positive` applies to classification only".into(),
            ));
        }
        Ok(())
    }

    fn figures_line(&self, m: &Metrics) -> String {
        format!("RMSE {}, MAE {}, R² {}", f4(m.rmse), f4(m.mae), f4(m.r2))
    }

    fn headline(&self, m: &Metrics) -> (&'static str, Option<f64>) {
        ("rmse", m.rmse)
    }

    fn metric_rows(&self, m: &Metrics, t: &Metrics) -> Vec<MetricRow> {
        vec![
            ("RMSE", m.rmse, t.rmse),
            ("MAE", m.mae, t.mae),
            ("R²", m.r2, t.r2),
        ]
    }

    fn read_outcome(&self, uc: &UseCase, raw: &Value) -> std::result::Result<Outcome, String> {
        outcome(uc, raw)
    }

    /// Live error figures from feedback are not computed yet: drift only.
    fn live_performance(&self) -> bool {
        false
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

    fn measure(&self, key: &str, r: &TrainingReport, data: Option<&QualityReport>) -> Measured {
        let m = &r.metrics;
        match key {
            "max_rmse" => held_out(m.rmse, "RMSE", r),
            "max_mae" => held_out(m.mae, "MAE", r),
            "min_r2" => held_out(m.r2, "R²", r),
            other => measure_shared(other, r, data).expect("every gate in GATES is measured"),
        }
    }
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
    let v = crate::supervised::reported_value(uc, raw).ok_or_else(expected)?;
    let value = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite())
    .ok_or_else(expected)?;
    Ok(Outcome::Value { value })
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
