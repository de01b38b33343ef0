//! The model the CLI and server hold: one enum over every learner, with
//! prediction, explanation and versioned, deterministic serialisation.

use serde::{Deserialize, Serialize};

use crate::data::{Features, Schema, Task};
use crate::error::{LearnError, Result};
use crate::explain::Explanation;
use crate::gbdt::GbdtModel;
use crate::linear::LinearModel;

/// First bytes of every serialised model.
pub const FORMAT_MAGIC: &[u8; 8] = b"KLTXMODL";
/// The format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;

/// Any trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    Linear(LinearModel),
    Gbdt(GbdtModel),
}

/// The logistic link, stable for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Model {
    /// What the model predicts.
    pub fn task(&self) -> Task {
        match self {
            Model::Linear(m) => m.task,
            Model::Gbdt(m) => m.task,
        }
    }

    /// The features (names, kinds, order) a row must have.
    pub fn schema(&self) -> &Schema {
        match self {
            Model::Linear(m) => &m.schema,
            Model::Gbdt(m) => &m.schema,
        }
    }

    /// Short human name of the learner: `logistic`, `ridge` or `gbdt`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Model::Linear(m) if m.task == Task::BinaryClassification => "logistic",
            Model::Linear(_) => "ridge",
            Model::Gbdt(_) => "gbdt",
        }
    }

    /// Raw score of one row: log-odds for classification, the value for regression.
    /// Row encoding: see [`Features::row`] (NaN = missing, category code as f64).
    pub fn predict_raw(&self, row: &[f64]) -> Result<f64> {
        match self {
            Model::Linear(m) => m.predict_raw(row),
            Model::Gbdt(m) => m.predict_raw(row),
        }
    }

    /// Prediction of one row: probability of class 1, or the regression value.
    pub fn predict(&self, row: &[f64]) -> Result<f64> {
        let r = self.predict_raw(row)?;
        Ok(self.link(r))
    }

    fn link(&self, raw: f64) -> f64 {
        match self.task() {
            Task::BinaryClassification => sigmoid(raw),
            Task::Regression => raw,
        }
    }

    /// Raw scores of all rows (parallel, deterministic).
    pub fn predict_raw_batch(&self, x: &Features) -> Result<Vec<f64>> {
        match self {
            Model::Linear(m) => m.predict_raw_batch(x),
            Model::Gbdt(m) => m.predict_raw_batch(x),
        }
    }

    /// Predictions (probabilities or values) of all rows.
    pub fn predict_batch(&self, x: &Features) -> Result<Vec<f64>> {
        let mut v = self.predict_raw_batch(x)?;
        if self.task() == Task::BinaryClassification {
            v.iter_mut().for_each(|r| *r = sigmoid(*r));
        }
        Ok(v)
    }

    /// Exact additive explanation of one row in raw-score units: TreeSHAP for
    /// trees, weight times standardised value for linear models.
    pub fn explain(&self, row: &[f64]) -> Result<Explanation> {
        match self {
            Model::Linear(m) => m.explain(row),
            Model::Gbdt(m) => m.explain(row),
        }
    }

    /// Serialises to `FORMAT_MAGIC ‖ version (u32 LE) ‖ JSON`. The JSON holds only
    /// structs and vectors (no maps), so equal models give equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(FORMAT_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        serde_json::to_writer(&mut out, self).expect("models serialise to JSON");
        out
    }

    /// Reads bytes written by [`Model::to_bytes`] of this or an older version, and
    /// checks the structure so a damaged artifact fails here, not while serving.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        if bytes.len() < 12 || &bytes[..8] != FORMAT_MAGIC {
            return Err(LearnError::CorruptModel(
                "not a klartext model (bad magic)".into(),
            ));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version > FORMAT_VERSION || version == 0 {
            return Err(LearnError::UnsupportedFormat {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let model: Model = serde_json::from_slice(&bytes[12..])
            .map_err(|e| LearnError::CorruptModel(e.to_string()))?;
        model.validate()?;
        Ok(model)
    }

    fn validate(&self) -> Result<()> {
        match self {
            Model::Gbdt(m) => {
                if m.ensemble.n_features != m.schema.len() {
                    return Err(LearnError::CorruptModel(
                        "ensemble width differs from schema".into(),
                    ));
                }
                m.ensemble.validate()
            }
            Model::Linear(m) => {
                if m.weights.len() != m.columns.len()
                    || m.columns
                        .iter()
                        .any(|c| c.feature >= m.schema.len() || c.scale.is_nan() || c.scale <= 0.0)
                {
                    return Err(LearnError::CorruptModel(
                        "linear model is inconsistent".into(),
                    ));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_and_future_versions() {
        assert!(matches!(
            Model::from_bytes(b"hello"),
            Err(LearnError::CorruptModel(_))
        ));
        let mut b = FORMAT_MAGIC.to_vec();
        b.extend_from_slice(&7u32.to_le_bytes());
        b.extend_from_slice(b"{}");
        assert_eq!(
            Model::from_bytes(&b),
            Err(LearnError::UnsupportedFormat {
                found: 7,
                supported: FORMAT_VERSION
            })
        );
    }

    #[test]
    fn sigmoid_is_stable() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-800.0) >= 0.0 && sigmoid(800.0) <= 1.0);
    }
}
