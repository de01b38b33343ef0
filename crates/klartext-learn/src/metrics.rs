//! Evaluation metrics for binary classification and regression, defined as
//! scikit-learn defines them so numbers can be checked against it.

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result};

fn check_pair(y: &[f64], s: &[f64]) -> Result<()> {
    if y.len() != s.len() {
        return Err(LearnError::LengthMismatch {
            what: "scores".into(),
            expected: y.len(),
            found: s.len(),
        });
    }
    if y.is_empty() {
        return Err(LearnError::EmptyData("no rows to score".into()));
    }
    Ok(())
}

fn check_binary(y: &[f64], s: &[f64]) -> Result<(usize, usize)> {
    check_pair(y, s)?;
    if let Some(b) = y.iter().find(|&&v| v != 0.0 && v != 1.0) {
        return Err(LearnError::InvalidInput(format!(
            "labels must be 0 or 1, found {b}"
        )));
    }
    if s.iter().any(|v| v.is_nan()) {
        return Err(LearnError::InvalidInput("scores contain NaN".into()));
    }
    let pos = y.iter().filter(|&&v| v == 1.0).count();
    Ok((pos, y.len() - pos))
}

/// Row indices by score, highest first; ties keep row order (stable).
fn order_desc(s: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    idx
}

/// Area under the ROC curve; tied scores get their average rank (equal to
/// `sklearn.metrics.roc_auc_score`). Needs both classes.
pub fn roc_auc(y: &[f64], score: &[f64]) -> Result<f64> {
    let (pos, neg) = check_binary(y, score)?;
    if pos == 0 || neg == 0 {
        return Err(LearnError::SingleClass("AUC needs both classes".into()));
    }
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their average.
        let avg = (i + j + 2) as f64 / 2.0;
        for &k in &idx[i..=j] {
            if y[k] == 1.0 {
                rank_sum_pos += avg;
            }
        }
        i = j + 1;
    }
    let p = pos as f64;
    Ok((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * neg as f64))
}

/// Average precision (area under the precision-recall curve as
/// `sklearn.metrics.average_precision_score` computes it: Σ (Rₙ − Rₙ₋₁) Pₙ over
/// distinct score thresholds).
pub fn average_precision(y: &[f64], score: &[f64]) -> Result<f64> {
    let (pos, _) = check_binary(y, score)?;
    if pos == 0 {
        return Err(LearnError::SingleClass(
            "average precision needs positives".into(),
        ));
    }
    let idx = order_desc(score);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let s = score[idx[i]];
        while i < idx.len() && score[idx[i]] == s {
            if y[idx[i]] == 1.0 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        let recall = tp / pos as f64;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
    }
    Ok(ap)
}

/// Mean log loss of probabilities, clipped to `[ε, 1 − ε]` with ε = f64::EPSILON
/// (as scikit-learn ≥ 1.5 does for float64 input).
pub fn log_loss(y: &[f64], p: &[f64]) -> Result<f64> {
    check_binary(y, p)?;
    let eps = f64::EPSILON;
    let s: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            let p = p.clamp(eps, 1.0 - eps);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum();
    Ok(s / y.len() as f64)
}

/// Brier score: mean squared difference between probability and label.
pub fn brier(y: &[f64], p: &[f64]) -> Result<f64> {
    check_binary(y, p)?;
    Ok(y.iter().zip(p).map(|(y, p)| (p - y) * (p - y)).sum::<f64>() / y.len() as f64)
}

/// Expected calibration error over `n_bins` equal-width probability bins:
/// Σ (rows in bin / rows) · |mean label − mean probability|. A probability of
/// exactly 1 falls in the last bin.
pub fn expected_calibration_error(y: &[f64], p: &[f64], n_bins: usize) -> Result<f64> {
    check_binary(y, p)?;
    if n_bins == 0 {
        return Err(LearnError::invalid_param("n_bins", 0, "an integer >= 1"));
    }
    let mut cnt = vec![0usize; n_bins];
    let mut sy = vec![0.0; n_bins];
    let mut sp = vec![0.0; n_bins];
    for (&y, &p) in y.iter().zip(p) {
        let b = ((p * n_bins as f64).floor().max(0.0) as usize).min(n_bins - 1);
        cnt[b] += 1;
        sy[b] += y;
        sp[b] += p;
    }
    let n = y.len() as f64;
    Ok((0..n_bins)
        .filter(|&b| cnt[b] > 0)
        .map(|b| (cnt[b] as f64 / n) * ((sy[b] - sp[b]) / cnt[b] as f64).abs())
        .sum())
}

/// Lift and gain when the top `fraction` of rows by score are selected
/// (`ceil(fraction · n)` rows; ties broken by row order). Lift = positive rate in
/// the selection / overall positive rate; gain = share of all positives selected.
pub fn lift_and_gain(y: &[f64], score: &[f64], fraction: f64) -> Result<(f64, f64)> {
    let (pos, _) = check_binary(y, score)?;
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(LearnError::invalid_param(
            "fraction",
            fraction,
            "a number in (0, 1]",
        ));
    }
    if pos == 0 {
        return Err(LearnError::SingleClass("lift needs positives".into()));
    }
    let n = y.len();
    let k = ((fraction * n as f64).ceil() as usize).clamp(1, n);
    let idx = order_desc(score);
    let hit = idx[..k].iter().filter(|&&i| y[i] == 1.0).count() as f64;
    let lift = (hit / k as f64) / (pos as f64 / n as f64);
    Ok((lift, hit / pos as f64))
}

/// Root mean squared error.
pub fn rmse(y: &[f64], pred: &[f64]) -> Result<f64> {
    check_pair(y, pred)?;
    Ok((y
        .iter()
        .zip(pred)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / y.len() as f64)
        .sqrt())
}

/// Mean absolute error.
pub fn mae(y: &[f64], pred: &[f64]) -> Result<f64> {
    check_pair(y, pred)?;
    Ok(y.iter().zip(pred).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64)
}

/// Coefficient of determination, `1 − SS_res / SS_tot` (sklearn's `r2_score`;
/// a constant target gives 1 for a perfect fit, else 0, as sklearn does).
pub fn r2(y: &[f64], pred: &[f64]) -> Result<f64> {
    check_pair(y, pred)?;
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
    let ss_res: f64 = y.iter().zip(pred).map(|(a, b)| (a - b) * (a - b)).sum();
    if ss_tot == 0.0 {
        return Ok(if ss_res == 0.0 { 1.0 } else { 0.0 });
    }
    Ok(1.0 - ss_res / ss_tot)
}

/// All binary-classification metrics of probabilities `p` on labels `y`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    pub n: usize,
    pub positives: usize,
    pub auc: f64,
    pub pr_auc: f64,
    pub log_loss: f64,
    pub brier: f64,
    /// Expected calibration error, 10 equal-width bins.
    pub ece: f64,
    pub lift_top10: f64,
    pub gain_top10: f64,
}

/// Computes [`BinaryMetrics`]; needs both classes.
pub fn binary_metrics(y: &[f64], p: &[f64]) -> Result<BinaryMetrics> {
    let (lift, gain) = lift_and_gain(y, p, 0.1)?;
    Ok(BinaryMetrics {
        n: y.len(),
        positives: y.iter().filter(|&&v| v == 1.0).count(),
        auc: roc_auc(y, p)?,
        pr_auc: average_precision(y, p)?,
        log_loss: log_loss(y, p)?,
        brier: brier(y, p)?,
        ece: expected_calibration_error(y, p, 10)?,
        lift_top10: lift,
        gain_top10: gain,
    })
}

/// All regression metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    pub n: usize,
    pub rmse: f64,
    pub mae: f64,
    pub r2: f64,
}

/// Computes [`RegressionMetrics`].
pub fn regression_metrics(y: &[f64], pred: &[f64]) -> Result<RegressionMetrics> {
    Ok(RegressionMetrics {
        n: y.len(),
        rmse: rmse(y, pred)?,
        mae: mae(y, pred)?,
        r2: r2(y, pred)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand_with_ties() {
        // Pairs (pos, neg): (0.8 vs 0.1) 1, (0.8 vs 0.4) 1, (0.4 vs 0.1) 1,
        // (0.4 vs 0.4) 0.5 -> 3.5 / 4.
        let y = [0.0, 0.0, 1.0, 1.0];
        let s = [0.1, 0.4, 0.4, 0.8];
        assert!((roc_auc(&y, &s).unwrap() - 0.875).abs() < 1e-15);
        assert!(roc_auc(&[1.0, 1.0], &[0.1, 0.2]).is_err());
    }

    #[test]
    fn regression_by_hand() {
        let y = [1.0, 2.0, 3.0];
        let p = [1.0, 2.0, 5.0];
        assert!((rmse(&y, &p).unwrap() - (4.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!((mae(&y, &p).unwrap() - 2.0 / 3.0).abs() < 1e-15);
        assert!((r2(&y, &p).unwrap() - (1.0 - 4.0 / 2.0)).abs() < 1e-15);
    }

    #[test]
    fn lift_by_hand() {
        // 20 rows, 4 positives; top 2 rows hold 1 positive: lift = (1/2)/(4/20) = 2.5.
        let mut y = vec![0.0; 20];
        y[0] = 1.0;
        y[5] = 1.0;
        y[6] = 1.0;
        y[7] = 1.0;
        let s: Vec<f64> = (0..20)
            .map(|i| if i < 2 { 1.0 - i as f64 * 0.1 } else { 0.1 })
            .collect();
        let (lift, gain) = lift_and_gain(&y, &s, 0.1).unwrap();
        assert!((lift - 2.5).abs() < 1e-15);
        assert!((gain - 0.25).abs() < 1e-15);
    }
}
