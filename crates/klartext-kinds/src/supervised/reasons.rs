//! Explanations in words: the top contributions of a prediction, worded from the schema.

use crate::supervised::encode::Encoder;
use klartext_learn::{Explanation, Task};
use serde::{Deserialize, Serialize};

/// One feature's part in a prediction, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub feature: String,
    pub value: String,
    /// In raw-score units (log-odds for classification).
    pub contribution: f64,
}

/// Contributions sorted by size, largest first.
pub fn contributions(encoder: &Encoder, row: &[f64], e: &Explanation) -> Vec<Contribution> {
    e.ranked()
        .into_iter()
        .map(|i| Contribution {
            feature: encoder.features[i].name.clone(),
            value: encoder.describe_value(i, row[i]),
            contribution: e.contributions[i],
        })
        .collect()
}

/// Up to `k` sentences for the largest contributions ("tenure_months of 2 raises the
/// likelihood of churn"). Contributions too small to matter are left out.
pub fn reasons(
    encoder: &Encoder,
    row: &[f64],
    e: &Explanation,
    task: Task,
    target: &str,
    k: usize,
) -> Vec<String> {
    reasons_of(encoder, e, &contributions(encoder, row, e), task, target, k)
}

/// [`reasons`] from the contributions [`contributions`] returned for the same row and
/// explanation, so that a caller who needs both ranks and describes the features once.
pub fn reasons_of(
    encoder: &Encoder,
    e: &Explanation,
    contributions: &[Contribution],
    task: Task,
    target: &str,
    k: usize,
) -> Vec<String> {
    // Summed in schema order, as always (the order decides the last bits).
    let total: f64 = e.contributions.iter().map(|c| c.abs()).sum();
    let is_label = |name: &str| {
        encoder
            .features
            .iter()
            .find(|f| f.name == name)
            .is_some_and(|f| {
                !matches!(
                    f.encoding,
                    crate::supervised::encode::Encoding::Numeric { .. }
                ) || f.kind == klartext_core::ColumnKind::Boolean
            })
    };
    contributions
        .iter()
        .filter(|c| total > 0.0 && c.contribution.abs() >= 0.01 * total && c.contribution != 0.0)
        .take(k)
        .map(|c| {
            let dir = if c.contribution > 0.0 {
                "raises"
            } else {
                "lowers"
            };
            let what = match task {
                Task::BinaryClassification => "the likelihood of",
                Task::Regression => "the predicted",
            };
            if c.value == "missing" {
                format!("{} being unknown {dir} {what} {target}", c.feature)
            } else if is_label(&c.feature) {
                format!("{} = {} {dir} {what} {target}", c.feature, c.value)
            } else {
                format!("{} of {} {dir} {what} {target}", c.feature, c.value)
            }
        })
        .collect()
}
