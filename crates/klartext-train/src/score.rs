//! Scoring one row with a model artifact: encode, predict, explain, word the reasons.
//! Used by the batch `score` command and the HTTP server alike.

use crate::artifact::Artifact;
use crate::error::Result;
use crate::reasons::{contributions, reasons_of, Contribution};
use klartext_learn::model::sigmoid;
use klartext_learn::Task;
use serde::{Deserialize, Serialize};

/// The answer for one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Probability of the positive class, or the predicted value.
    pub score: f64,
    /// The positive class (or its negation) at the model's threshold; `None` for regression.
    pub label: Option<String>,
    /// Every feature's contribution, largest first (empty when not asked for).
    pub explanation: Vec<Contribution>,
    pub reasons: Vec<String>,
    /// The row as the learner saw it (for the log's feature bytes).
    #[serde(skip)]
    pub row: Vec<f64>,
}

impl Artifact {
    /// Score a row whose values `get` returns as text by feature name.
    pub fn score(&self, get: impl Fn(&str) -> Option<String>, explain: bool) -> Result<Scored> {
        let h = &self.header;
        let row = h.encoder.encode_row(get)?;
        let (raw, explanation, words) = if explain {
            let e = self.model.explain(&row)?;
            let c = contributions(&h.encoder, &row, &e);
            let words = reasons_of(&h.encoder, &e, &c, h.task, &h.target, 3);
            (e.raw_score, c, words)
        } else {
            (self.model.predict_raw(&row)?, Vec::new(), Vec::new())
        };
        let (score, label) = match h.task {
            Task::BinaryClassification => {
                let p = sigmoid(raw);
                let label = h.threshold.map(|t| {
                    if p >= t {
                        h.positive.clone().unwrap_or_else(|| "yes".into())
                    } else {
                        h.negative.clone().unwrap_or_else(|| "no".into())
                    }
                });
                (p, label)
            }
            Task::Regression => (raw, None),
        };
        Ok(Scored {
            score,
            label,
            explanation,
            reasons: words,
            row,
        })
    }
}
