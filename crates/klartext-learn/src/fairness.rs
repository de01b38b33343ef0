//! Group fairness of binary decisions, with fairlearn's definitions: per-group
//! selection rate, TPR and FPR, demographic parity difference and ratio, and
//! equalized odds difference.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result};

/// Rates of one protected group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRates {
    pub group: String,
    pub n: usize,
    /// Rows whose true label is 1.
    pub positives: usize,
    /// Share of rows predicted 1.
    pub selection_rate: f64,
    /// Share of true positives predicted 1; NaN when the group has no positives.
    #[serde(deserialize_with = "nan_from_null")]
    pub tpr: f64,
    /// Share of true negatives predicted 1; NaN when the group has no negatives.
    #[serde(deserialize_with = "nan_from_null")]
    pub fpr: f64,
}

/// JSON has no NaN: it is written as `null`, and read back as NaN.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Fairness of decisions across the groups of one protected attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessReport {
    /// Groups sorted by name.
    pub groups: Vec<GroupRates>,
    /// max − min selection rate over groups.
    #[serde(deserialize_with = "nan_from_null")]
    pub demographic_parity_difference: f64,
    /// min / max selection rate (1 when every group has rate 0).
    #[serde(deserialize_with = "nan_from_null")]
    pub demographic_parity_ratio: f64,
    /// max(TPR max − min, FPR max − min) over groups where the rate is defined.
    #[serde(deserialize_with = "nan_from_null")]
    pub equalized_odds_difference: f64,
}

fn spread(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.filter(|x| !x.is_nan())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        })
}

/// Computes per-group rates and the summary differences for 0/1 labels `y_true`,
/// 0/1 decisions `y_pred` and a group label per row. Groups whose TPR (or FPR) is
/// undefined are left out of that rate's difference.
pub fn fairness_report<G: AsRef<str>>(
    y_true: &[f64],
    y_pred: &[f64],
    groups: &[G],
) -> Result<FairnessReport> {
    if y_true.len() != y_pred.len() || y_true.len() != groups.len() {
        return Err(LearnError::LengthMismatch {
            what: "fairness inputs".into(),
            expected: y_true.len(),
            found: if y_pred.len() != y_true.len() {
                y_pred.len()
            } else {
                groups.len()
            },
        });
    }
    if y_true.is_empty() {
        return Err(LearnError::EmptyData("no rows to assess".into()));
    }
    if y_true.iter().chain(y_pred).any(|&v| v != 0.0 && v != 1.0) {
        return Err(LearnError::InvalidInput(
            "labels and decisions must be 0 or 1".into(),
        ));
    }
    // [n, selected, positives, true positives, negatives, false positives]
    let mut acc: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for ((&t, &p), g) in y_true.iter().zip(y_pred).zip(groups) {
        let a = acc.entry(g.as_ref()).or_default();
        let (t, p) = (t == 1.0, p == 1.0);
        a[0] += 1;
        a[1] += usize::from(p);
        a[2] += usize::from(t);
        a[3] += usize::from(t && p);
        a[4] += usize::from(!t);
        a[5] += usize::from(!t && p);
    }
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let groups: Vec<GroupRates> = acc
        .into_iter()
        .map(|(g, a)| GroupRates {
            group: g.to_string(),
            n: a[0],
            positives: a[2],
            selection_rate: ratio(a[1], a[0]),
            tpr: ratio(a[3], a[2]),
            fpr: ratio(a[5], a[4]),
        })
        .collect();
    let (smin, smax) = spread(groups.iter().map(|g| g.selection_rate));
    let (tmin, tmax) = spread(groups.iter().map(|g| g.tpr));
    let (fmin, fmax) = spread(groups.iter().map(|g| g.fpr));
    let diff = |lo: f64, hi: f64| if hi >= lo { hi - lo } else { 0.0 };
    Ok(FairnessReport {
        demographic_parity_difference: diff(smin, smax),
        demographic_parity_ratio: if smax > 0.0 { smin / smax } else { 1.0 },
        equalized_odds_difference: diff(tmin, tmax).max(diff(fmin, fmax)),
        groups,
    })
}

/// 0/1 decisions from probabilities: `p >= threshold` is 1.
pub fn decisions(p: &[f64], threshold: f64) -> Vec<f64> {
    p.iter()
        .map(|&v| f64::from(u8::from(v >= threshold)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        let y = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let p = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let g = ["a", "a", "a", "b", "b", "b"];
        let r = fairness_report(&y, &p, &g).unwrap();
        // a: sel 2/3, tpr 1/2, fpr 1; b: sel 1/3, tpr 1, fpr 0.
        assert!((r.demographic_parity_difference - 1.0 / 3.0).abs() < 1e-15);
        assert!((r.demographic_parity_ratio - 0.5).abs() < 1e-15);
        assert!((r.equalized_odds_difference - 1.0).abs() < 1e-15);
    }
}
