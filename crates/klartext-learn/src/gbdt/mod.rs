//! Gradient-boosted decision trees (histogram-based, leaf-wise, LightGBM-style):
//! the public model type and its fitting entry points.

mod binning;
mod params;
mod train;

pub use params::{GbdtConfig, GbdtParams};

use serde::{Deserialize, Serialize};

use crate::data::{check_target, Features, Schema, Task};
use crate::ensemble::TreeEnsemble;
use crate::error::{LearnError, Result};
use crate::explain::Explanation;

/// A trained GBDT: schema, task, the parameters used, and the tree ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtModel {
    pub schema: Schema,
    pub task: Task,
    pub params: GbdtParams,
    pub ensemble: TreeEnsemble,
    /// Total split gain per feature (global importance).
    pub feature_gain: Vec<f64>,
    /// Validation loss per round when fitted with validation data, else empty.
    pub valid_loss: Vec<f64>,
}

impl GbdtModel {
    /// Fits on all rows. With `early_stopping_rounds` set, a stratified
    /// `validation_fraction` of the rows is held out to decide when to stop.
    pub fn fit(config: &GbdtConfig, task: Task, x: &Features, y: &[f64]) -> Result<GbdtModel> {
        let p = config.params();
        check_inputs(task, x, y)?;
        if p.early_stopping_rounds.is_some() {
            let (tr, va) =
                crate::split::train_test_split(task, y, p.validation_fraction, p.seed ^ 0xE5_u64)?;
            let xt = x.take_rows(&tr);
            let yt: Vec<f64> = tr.iter().map(|&i| y[i]).collect();
            let xv = x.take_rows(&va);
            let yv: Vec<f64> = va.iter().map(|&i| y[i]).collect();
            return Self::fit_with_validation(config, task, &xt, &yt, Some((&xv, &yv)));
        }
        Self::fit_with_validation(config, task, x, y, None)
    }

    /// Fits on `x` and reports the loss on `valid` after each round; with
    /// `early_stopping_rounds` the ensemble is cut at the best round.
    pub fn fit_with_validation(
        config: &GbdtConfig,
        task: Task,
        x: &Features,
        y: &[f64],
        valid: Option<(&Features, &[f64])>,
    ) -> Result<GbdtModel> {
        Self::fit_inner(config, task, x, y, valid, true)
    }

    /// Like [`GbdtModel::fit_with_validation`]; `truncate = false` keeps the trees
    /// grown after the best round (cross-validation picks the round count itself).
    pub(crate) fn fit_inner(
        config: &GbdtConfig,
        task: Task,
        x: &Features,
        y: &[f64],
        valid: Option<(&Features, &[f64])>,
        truncate: bool,
    ) -> Result<GbdtModel> {
        check_inputs(task, x, y)?;
        if let Some((vx, vy)) = valid {
            if vx.schema() != x.schema() {
                return Err(LearnError::InvalidInput(
                    "validation features differ from training features".into(),
                ));
            }
            if vy.len() != vx.n_rows {
                return Err(LearnError::LengthMismatch {
                    what: "validation target".into(),
                    expected: vx.n_rows,
                    found: vy.len(),
                });
            }
        }
        let out = train::train(config.params(), task, x, y, valid, truncate);
        Ok(GbdtModel {
            schema: x.schema(),
            task,
            params: config.params().clone(),
            ensemble: out.ensemble,
            feature_gain: out.feature_gain,
            valid_loss: out.valid_loss,
        })
    }

    /// Raw score (log-odds for classification) of one row.
    pub fn predict_raw(&self, row: &[f64]) -> Result<f64> {
        self.schema.check_row(row)?;
        Ok(self.ensemble.predict_raw(row))
    }

    /// Raw scores of all rows (parallel).
    pub fn predict_raw_batch(&self, x: &Features) -> Result<Vec<f64>> {
        check_features(&self.schema, x)?;
        Ok(self.ensemble.predict_raw_batch(x))
    }

    /// Exact TreeSHAP explanation of one row, in raw-score units.
    pub fn explain(&self, row: &[f64]) -> Result<Explanation> {
        self.schema.check_row(row)?;
        let (contributions, expected_value) = self.ensemble.shap_values_and_expected_value(row);
        Ok(Explanation {
            expected_value,
            contributions,
            raw_score: self.ensemble.predict_raw(row),
        })
    }
}

fn check_inputs(task: Task, x: &Features, y: &[f64]) -> Result<()> {
    x.validate()?;
    if x.n_features() == 0 {
        return Err(LearnError::EmptyData("no feature columns".into()));
    }
    check_target(task, y, x.n_rows)
}

/// Batch inputs must have the model's columns, by name and kind, in order.
pub(crate) fn check_features(schema: &Schema, x: &Features) -> Result<()> {
    x.validate()?;
    let s = x.schema();
    if s.features.len() != schema.features.len() {
        return Err(LearnError::LengthMismatch {
            what: "feature columns".into(),
            expected: schema.features.len(),
            found: s.features.len(),
        });
    }
    for (a, b) in s.features.iter().zip(&schema.features) {
        if a.name != b.name || std::mem::discriminant(&a.kind) != std::mem::discriminant(&b.kind) {
            return Err(LearnError::InvalidInput(format!(
                "column `{}` does not match the model's column `{}`",
                a.name, b.name
            )));
        }
    }
    Ok(())
}
