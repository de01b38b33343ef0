//! Live performance from feedback: per time window the AUC, log loss, calibration error
//! and precision at the decision threshold of the predictions whose real outcome came
//! back, set against the validation figures of the model card.

use crate::error::{MonitorError, Result};
use klartext_learn::metrics;
use serde::{Deserialize, Serialize};

/// One answered prediction whose outcome is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// When the prediction was made (windows are by prediction time).
    pub at_ms: i64,
    pub score: f64,
    pub positive: bool,
}

/// The validation figures of the model card, to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Baseline {
    pub auc: Option<f64>,
    pub log_loss: Option<f64>,
    pub calibration_error: Option<f64>,
    pub threshold: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPerformance {
    pub from_ms: i64,
    pub to_ms: i64,
    pub n: usize,
    pub positives: usize,
    /// Absent without both outcomes in the window.
    pub auc: Option<f64>,
    pub log_loss: Option<f64>,
    pub calibration_error: Option<f64>,
    /// Share of positives among the predictions at or above the threshold; absent when
    /// none was.
    pub precision_at_threshold: Option<f64>,
    /// Enough feedback for a verdict (`min_feedback` rows and both outcomes).
    pub judged: bool,
    /// AUC below the validation AUC by more than the allowed drop.
    pub degraded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceReport {
    pub baseline: Baseline,
    pub window_ms: i64,
    pub max_auc_drop: f64,
    pub min_feedback: u32,
    /// Oldest first; the last one is the current window.
    pub windows: Vec<WindowPerformance>,
}

impl PerformanceReport {
    pub fn current(&self) -> Option<&WindowPerformance> {
        self.windows.last()
    }
}

/// Windows of `window_ms` aligned to multiples of it (so that a window is the same
/// whoever computes it, and an alert can be raised once per window).
pub fn window_start(at_ms: i64, window_ms: i64) -> i64 {
    at_ms.div_euclid(window_ms) * window_ms
}

/// Figures per window for the outcomes (any order), up to the window holding `now_ms`.
pub fn performance(
    outcomes: &[Outcome],
    baseline: Baseline,
    window_ms: i64,
    max_auc_drop: f64,
    min_feedback: u32,
) -> Result<PerformanceReport> {
    let mut sorted = outcomes.to_vec();
    sorted.sort_by_key(|o| o.at_ms);
    let mut windows = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = window_start(sorted[i].at_ms, window_ms);
        let end = start + window_ms;
        let j = i + sorted[i..].partition_point(|o| o.at_ms < end);
        windows.push(window_figures(
            &sorted[i..j],
            start,
            end,
            &baseline,
            max_auc_drop,
            min_feedback,
        )?);
        i = j;
    }
    Ok(PerformanceReport {
        baseline,
        window_ms,
        max_auc_drop,
        min_feedback,
        windows,
    })
}

fn window_figures(
    rows: &[Outcome],
    from_ms: i64,
    to_ms: i64,
    baseline: &Baseline,
    max_auc_drop: f64,
    min_feedback: u32,
) -> Result<WindowPerformance> {
    let y: Vec<f64> = rows
        .iter()
        .map(|o| f64::from(u8::from(o.positive)))
        .collect();
    let p: Vec<f64> = rows.iter().map(|o| o.score.clamp(0.0, 1.0)).collect();
    let positives = rows.iter().filter(|o| o.positive).count();
    let both = positives > 0 && positives < rows.len();
    let learn = |e: klartext_learn::LearnError| MonitorError::InvalidInput(e.to_string());
    let (auc, log_loss, ece) = if both {
        (
            Some(metrics::roc_auc(&y, &p).map_err(learn)?),
            Some(metrics::log_loss(&y, &p).map_err(learn)?),
            Some(metrics::expected_calibration_error(&y, &p, 10).map_err(learn)?),
        )
    } else {
        (None, None, None)
    };
    let precision_at_threshold = baseline.threshold.and_then(|t| {
        let flagged: Vec<&Outcome> = rows.iter().filter(|o| o.score >= t).collect();
        (!flagged.is_empty())
            .then(|| flagged.iter().filter(|o| o.positive).count() as f64 / flagged.len() as f64)
    });
    let judged = both && rows.len() >= min_feedback as usize;
    let degraded =
        judged && matches!((auc, baseline.auc), (Some(a), Some(b)) if a < b - max_auc_drop);
    Ok(WindowPerformance {
        from_ms,
        to_ms,
        n: rows.len(),
        positives,
        auc,
        log_loss,
        calibration_error: ece,
        precision_at_threshold,
        judged,
        degraded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn windows_split_by_time_and_a_drop_in_auc_is_degraded() {
        let mut rows = Vec::new();
        // Window 0: scores rank outcomes perfectly. Window 1: they rank them backwards.
        for i in 0..60 {
            let positive = i % 2 == 0;
            let s = if positive { 0.8 } else { 0.2 };
            rows.push(Outcome {
                at_ms: i,
                score: s,
                positive,
            });
            rows.push(Outcome {
                at_ms: DAY + i,
                score: 1.0 - s,
                positive,
            });
        }
        let base = Baseline {
            auc: Some(0.9),
            log_loss: None,
            calibration_error: None,
            threshold: Some(0.5),
        };
        let r = performance(&rows, base, DAY, 0.05, 50).unwrap();
        assert_eq!(r.windows.len(), 2);
        assert_eq!(r.windows[0].auc, Some(1.0));
        assert!(!r.windows[0].degraded);
        assert_eq!(r.windows[0].precision_at_threshold, Some(1.0));
        assert_eq!(r.windows[1].auc, Some(0.0));
        assert!(r.windows[1].degraded);
        // Too little feedback: no verdict.
        let r = performance(&rows, base, DAY, 0.05, 100).unwrap();
        assert!(!r.windows[1].judged && !r.windows[1].degraded);
    }

    #[test]
    fn one_outcome_only_has_no_auc() {
        let rows = [Outcome {
            at_ms: 5,
            score: 0.3,
            positive: true,
        }];
        let r = performance(&rows, Baseline::default(), DAY, 0.05, 1).unwrap();
        assert_eq!(r.windows[0].auc, None);
        assert!(!r.windows[0].judged);
    }
}
