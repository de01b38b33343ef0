//! Metrics and fairness against scikit-learn 1.9.1 / fairlearn 0.15.0 values,
//! recorded here so the tests need no Python.
//!
//! Produced with (Python, numpy imported as np):
//!   y = [0,1,0,0,1,1,0,1,0,0,1,0,1,1,0,0,0,1,0,1,0,0,1,0]
//!   p = [0.1,0.9,0.35,0.35,0.8,0.35,0.2,0.7,0.6,0.05,0.95,0.4,0.55,0.35,0.3,0.1,
//!        0.65,0.75,0.2,0.5,0.45,0.15,0.85,1.0]
//!   g = ["f","m","f","m","x","f","m","f","m","x","f","m","f","m","x","f","m","f",
//!        "m","x","f","m","f","m"]
//!   sklearn.metrics.roc_auc_score(y, p), average_precision_score(y, p),
//!   log_loss(y, p), brier_score_loss(y, p)
//!   yhat = (np.array(p) >= 0.5).astype(int)
//!   fairlearn.metrics.demographic_parity_difference(y, yhat, sensitive_features=g),
//!   demographic_parity_ratio(...), equalized_odds_difference(...),
//!   MetricFrame({"sel": selection_rate, "tpr": true_positive_rate,
//!                "fpr": false_positive_rate}, y, yhat, sensitive_features=g).by_group
//!   ECE: b = np.minimum((p*10).astype(int), 9);
//!        sum((b==k).mean() * abs(y[b==k].mean() - p[b==k].mean()) for k in range(10))

use klartext_learn::fairness::{decisions, fairness_report};
use klartext_learn::metrics;

const Y: [f64; 24] = [
    0., 1., 0., 0., 1., 1., 0., 1., 0., 0., 1., 0., 1., 1., 0., 0., 0., 1., 0., 1., 0., 0., 1., 0.,
];
const P: [f64; 24] = [
    0.1, 0.9, 0.35, 0.35, 0.8, 0.35, 0.2, 0.7, 0.6, 0.05, 0.95, 0.4, 0.55, 0.35, 0.3, 0.1, 0.65,
    0.75, 0.2, 0.5, 0.45, 0.15, 0.85, 1.0,
];
const G: [&str; 24] = [
    "f", "m", "f", "m", "x", "f", "m", "f", "m", "x", "f", "m", "f", "m", "x", "f", "m", "f", "m",
    "x", "f", "m", "f", "m",
];

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn binary_metrics_match_sklearn() {
    close(metrics::roc_auc(&Y, &P).unwrap(), 0.8285714285714286);
    close(
        metrics::average_precision(&Y, &P).unwrap(),
        0.7010886172650879,
    );
    close(metrics::log_loss(&Y, &P).unwrap(), 1.9076996558968926);
    close(metrics::brier(&Y, &P).unwrap(), 0.17208333333333337);
    close(
        metrics::expected_calibration_error(&Y, &P, 10).unwrap(),
        0.24583333333333335,
    );
    // By hand: top ceil(2.4) = 3 rows (1.0, 0.95, 0.9) hold 2 of 10 positives.
    let (lift, gain) = metrics::lift_and_gain(&Y, &P, 0.1).unwrap();
    close(lift, (2.0 / 3.0) / (10.0 / 24.0));
    close(gain, 0.2);
    let all = metrics::binary_metrics(&Y, &P).unwrap();
    assert_eq!(all.positives, 10);
    close(all.auc, 0.8285714285714286);
}

#[test]
fn regression_metrics_match_sklearn() {
    // sqrt(mean_squared_error(yr, pr)), mean_absolute_error(yr, pr), r2_score(yr, pr)
    let yr = [3.0, -1.5, 2.25, 0.0, 7.5, 4.0, 1.0, -2.0];
    let pr = [2.5, -1.0, 2.0, 0.5, 6.0, 4.5, 1.5, -2.5];
    close(metrics::rmse(&yr, &pr).unwrap(), 0.6903350635742038);
    close(metrics::mae(&yr, &pr).unwrap(), 0.59375);
    close(metrics::r2(&yr, &pr).unwrap(), 0.9440815858828921);
}

#[test]
fn fairness_matches_fairlearn() {
    let yhat = decisions(&P, 0.5);
    let r = fairness_report(&Y, &yhat, &G).unwrap();
    close(r.demographic_parity_difference, 0.09999999999999998);
    close(r.demographic_parity_ratio, 0.8);
    close(r.equalized_odds_difference, 0.5);
    let by: Vec<(&str, f64, f64, f64)> = r
        .groups
        .iter()
        .map(|g| (g.group.as_str(), g.selection_rate, g.tpr, g.fpr))
        .collect();
    let want = [
        ("f", 0.5, 5.0 / 6.0, 0.0),
        ("m", 0.4, 0.5, 0.375),
        ("x", 0.5, 1.0, 0.0),
    ];
    for (a, b) in by.iter().zip(want) {
        assert_eq!(a.0, b.0);
        close(a.1, b.1);
        close(a.2, b.2);
        close(a.3, b.3);
    }
}
