//! Drift on the project's generated churn data: with injected drift exactly the columns
//! the generator shifts are flagged; on resamples without drift none is (the false-alarm
//! rate over 100 seeds is measured and printed).

use klartext_core::{Column, Frame};
use klartext_data::generate::{generate, GenerateParams};
use klartext_monitor::drift::{drift, Method, Thresholds};
use klartext_monitor::profile::ReferenceProfile;

/// The generator's drift shortens tenure (so signup dates and total charges move with
/// it), raises charges and support calls and shifts contracts to month-to-month.
const DRIFTED: [&str; 6] = [
    "signup_date",
    "contract",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
];

fn features(rows: usize, seed: u64, drift: f64) -> Frame {
    let g = generate(&GenerateParams {
        rows,
        seed,
        drift,
        extra_features: 13,
        ..GenerateParams::default()
    });
    let columns: Vec<Column> = g
        .frame
        .columns
        .into_iter()
        .filter(|c| c.name != "customer_id" && c.name != "churn")
        .collect();
    Frame {
        n_rows: rows,
        columns,
    }
}

#[test]
fn injected_drift_flags_exactly_the_shifted_columns() {
    let reference = ReferenceProfile::build(&features(5000, 1, 0.0), &[]);
    assert_eq!(reference.columns.len(), 28);
    let current = features(3000, 2, 1.0);
    let r = drift(&reference, &current, None, &Thresholds::default()).unwrap();
    let mut flagged: Vec<&str> = r.drifted().map(|c| c.name.as_str()).collect();
    flagged.sort_unstable();
    let mut expected = DRIFTED.to_vec();
    expected.sort_unstable();
    assert_eq!(
        flagged,
        expected,
        "{:#?}",
        r.columns
            .iter()
            .map(|c| (&c.name, c.statistic))
            .collect::<Vec<_>>()
    );
    // A large reference is judged by distances.
    assert!(r
        .columns
        .iter()
        .all(|c| matches!(c.method, Method::Wasserstein | Method::JensenShannon)));
    assert!(!r.dataset_drift, "6 of 28 is under half");
}

#[test]
fn resamples_without_drift_raise_no_alarm_over_100_seeds() {
    let reference = ReferenceProfile::build(&features(5000, 1, 0.0), &[]);
    let (mut checks, mut alarms, mut dataset_alarms) = (0usize, 0usize, 0usize);
    for seed in 0..100u64 {
        let current = features(2000, 1000 + seed, 0.0);
        let r = drift(&reference, &current, None, &Thresholds::default()).unwrap();
        checks += r.columns.len();
        alarms += r.drifted_features;
        dataset_alarms += usize::from(r.dataset_drift);
    }
    println!(
        "large reference (distances): {alarms} false alarms in {checks} column checks ({:.2}%), {dataset_alarms} data-set alarms in 100",
        100.0 * alarms as f64 / checks as f64
    );
    assert_eq!(alarms, 0);
    assert_eq!(dataset_alarms, 0);
}

#[test]
fn small_references_use_tests_whose_false_alarm_rate_is_near_the_p_value() {
    // At most 1,000 reference rows: KS and chi-square at p < 0.05, so about 5% of
    // column checks alarm on data without drift, and the data set (half of 28
    // columns) essentially never does.
    let reference = ReferenceProfile::build(&features(800, 1, 0.0), &[]);
    let (mut checks, mut alarms, mut dataset_alarms) = (0usize, 0usize, 0usize);
    for seed in 0..100u64 {
        let current = features(500, 2000 + seed, 0.0);
        let r = drift(&reference, &current, None, &Thresholds::default()).unwrap();
        assert!(r
            .columns
            .iter()
            .all(|c| matches!(c.method, Method::Ks | Method::ChiSquare)));
        checks += r.columns.len();
        alarms += r.drifted_features;
        dataset_alarms += usize::from(r.dataset_drift);
    }
    let rate = alarms as f64 / checks as f64;
    println!(
        "small reference (tests): {alarms} false alarms in {checks} column checks ({:.2}%), {dataset_alarms} data-set alarms in 100",
        100.0 * rate
    );
    assert!(rate < 0.08, "false-alarm rate {rate}");
    assert_eq!(dataset_alarms, 0);
    // And the drift is still found.
    let r = drift(
        &reference,
        &features(500, 3, 1.0),
        None,
        &Thresholds::default(),
    )
    .unwrap();
    let flagged: Vec<&str> = r.drifted().map(|c| c.name.as_str()).collect();
    for c in DRIFTED {
        assert!(flagged.contains(&c), "{c} not flagged: {flagged:?}");
    }
}

#[test]
fn findings_read_as_plain_words() {
    use klartext_monitor::report::{conclude, MonitoringReport, Window};
    let reference = ReferenceProfile::build(&features(5000, 1, 0.0), &[]);
    let d = drift(
        &reference,
        &features(3000, 2, 1.0),
        None,
        &Thresholds::default(),
    )
    .unwrap();
    let mut r = MonitoringReport {
        usecase: "churn".into(),
        model_version: "v1".into(),
        generated_ms: 0,
        window: Window {
            from_ms: 0,
            to_ms: 0,
            days: 7,
        },
        rows: 3000,
        source: "prediction log".into(),
        drift: Some(d),
        performance: None,
        findings: Vec::new(),
        alerts: Vec::new(),
    };
    conclude(&mut r, 100, 0.2, klartext_monitor::report::Source::Traffic);
    let text: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{:?}: {}", f.severity, f.text))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}
