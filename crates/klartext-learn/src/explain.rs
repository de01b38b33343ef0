//! The explanation type every model returns for one row.

use serde::{Deserialize, Serialize};

/// Additive explanation of one prediction in raw-score units (log-odds for
/// classification): `expected_value + Σ contributions = raw_score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The model's baseline output (see each model for its definition).
    pub expected_value: f64,
    /// One contribution per input feature, in schema order.
    pub contributions: Vec<f64>,
    /// The raw score being explained.
    pub raw_score: f64,
}

impl Explanation {
    /// Feature indices ordered by absolute contribution, largest first (ties by index).
    pub fn ranked(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.contributions.len()).collect();
        idx.sort_by(|&a, &b| {
            self.contributions[b]
                .abs()
                .total_cmp(&self.contributions[a].abs())
                .then(a.cmp(&b))
        });
        idx
    }
}
