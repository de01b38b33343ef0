//! Answering with a supervised model: check the request's features, encode, predict,
//! explain, word the reasons; and the log's record of it. Training's held-out figures,
//! batch scoring and serving all turn raw model output into a score here.

use crate::error::{KindError, Result};
use crate::kind::{answer_body, Answer, Model, Operation, Problem, Refusal};
use crate::supervised::input::check;
use crate::supervised::payload::Supervised;
use crate::supervised::reasons::{contributions, reasons_of, Contribution};
use klartext_learn::Task;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The score of a raw model output: the probability of the positive class
/// (classification) or the predicted value (regression).
pub fn score_of(task: Task, raw: f64) -> f64 {
    match task {
        Task::BinaryClassification => klartext_learn::model::sigmoid(raw),
        Task::Regression => raw,
    }
}

/// [`score_of`] for many raw outputs.
pub fn scores_of(task: Task, raw: &[f64]) -> Vec<f64> {
    raw.iter().map(|&r| score_of(task, r)).collect()
}

/// The answer for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Probability of the positive class, or the predicted value.
    pub score: f64,
    /// The positive class (or its negation) at the model's threshold; `None` for regression.
    pub label: Option<String>,
    /// Every feature's contribution, largest first (empty when not asked for).
    pub explanation: Vec<Contribution>,
    pub reasons: Vec<String>,
    /// The row as the learner saw it (for the log's feature bytes).
    pub row: Vec<f64>,
}

/// What a supervised decision answers: `score`, `label` (null for regression),
/// `reasons`, and `explanation` when asked for.
#[derive(Debug, Serialize)]
pub struct ScoredBody {
    pub score: f64,
    pub label: Option<String>,
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Vec<Contribution>>,
}

/// What the prediction log keeps of a supervised decision (also the shape of rows
/// logged before kinds were recorded).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoredOutput {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub score: Option<f64>,
}

impl ScoredOutput {
    /// The log's JSON: `{"label", "reasons", "score"}`.
    pub fn to_value(label: Option<&str>, reasons: &[String], score: f64) -> Value {
        let mut output = Map::new();
        output.insert("label".into(), Value::from(label));
        output.insert("reasons".into(), Value::from(reasons.to_vec()));
        output.insert("score".into(), Value::from(score));
        Value::Object(output)
    }
}

impl Supervised {
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
        let score = score_of(h.task, raw);
        let label = match h.task {
            Task::BinaryClassification => h.threshold.map(|t| {
                if score >= t {
                    h.positive.clone().unwrap_or_else(|| "yes".into())
                } else {
                    h.negative.clone().unwrap_or_else(|| "no".into())
                }
            }),
            Task::Regression => None,
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

impl Model for Supervised {
    fn inputs(&self) -> Vec<&str> {
        self.header
            .encoder
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect()
    }

    fn decide(
        &self,
        op: Operation,
        features: &Map<String, Value>,
        explain: bool,
        prefix: &str,
    ) -> std::result::Result<Answer, Refusal> {
        match op {
            Operation::Predict => {}
        }
        let enc = &self.header.encoder;
        let checked = check(enc, features, prefix).map_err(Refusal::Invalid)?;
        let scored = self
            .score(
                |name| {
                    enc.features
                        .iter()
                        .position(|f| f.name == name)
                        .and_then(|i| checked.values[i].clone())
                },
                explain,
            )
            .map_err(|e| match e {
                KindError::Input { feature, message } => {
                    Refusal::Invalid(vec![Problem::new(format!("{prefix}{feature}"), message)])
                }
                other => Refusal::Failed(other),
            })?;
        let features = Some(enc.log_row(&scored.row, |i| checked.values[i].as_deref()));
        let output = ScoredOutput::to_value(scored.label.as_deref(), &scored.reasons, scored.score);
        Ok(Answer {
            score: Some(scored.score),
            output,
            warnings: checked.warnings,
            features,
            body: answer_body(&ScoredBody {
                score: scored.score,
                label: scored.label,
                reasons: scored.reasons,
                explanation: explain.then_some(scored.explanation),
            }),
        })
    }
}
