//! End-to-end behaviour of the public model API: fitting, predicting,
//! explaining, serialising, auto selection.

mod common;

use klartext_learn::data::{FeatureColumn, Features, Task};
use klartext_learn::error::LearnError;
use klartext_learn::gbdt::{GbdtModel, GbdtParams};
use klartext_learn::linear::{LinearModel, LinearParams};
use klartext_learn::metrics::roc_auc;
use klartext_learn::model::{Model, FORMAT_VERSION};
use klartext_learn::select::{auto_fit, Progress};
use klartext_learn::split::train_test_split;

fn check_explanations(m: &Model, x: &Features) {
    for i in 0..x.n_rows.min(50) {
        let row = x.row(i);
        let e = m.explain(&row).unwrap();
        let sum = e.expected_value + e.contributions.iter().sum::<f64>();
        assert!((sum - m.predict_raw(&row).unwrap()).abs() < 1e-9);
        assert_eq!(e.raw_score, m.predict_raw(&row).unwrap());
    }
}

#[test]
fn models_roundtrip_through_bytes() {
    let (x, y) = common::mixed(1_000, 4, 6, true, 17);
    let g = GbdtParams {
        num_iterations: 20,
        ..Default::default()
    }
    .check()
    .unwrap();
    let l = LinearParams::default().check().unwrap();
    let models = [
        Model::Gbdt(GbdtModel::fit(&g, Task::BinaryClassification, &x, &y).unwrap()),
        Model::Linear(LinearModel::fit(&l, Task::BinaryClassification, &x, &y).unwrap()),
    ];
    for m in models {
        let bytes = m.to_bytes();
        assert_eq!(&bytes[..8], b"KLTXMODL");
        assert_eq!(
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
            FORMAT_VERSION
        );
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_bytes(), bytes);
        let a = m.predict_batch(&x).unwrap();
        let b = back.predict_batch(&x).unwrap();
        assert_eq!(a, b);
        // Batch and single-row prediction agree bitwise.
        for (i, &ai) in a.iter().enumerate().take(20) {
            assert_eq!(ai, m.predict(&x.row(i)).unwrap());
        }
        check_explanations(&back, &x);
        // Future versions are refused with a clear error.
        let mut future = bytes.clone();
        future[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert_eq!(
            Model::from_bytes(&future),
            Err(LearnError::UnsupportedFormat {
                found: FORMAT_VERSION + 1,
                supported: FORMAT_VERSION
            })
        );
        assert!(matches!(
            Model::from_bytes(&bytes[..bytes.len() / 2]),
            Err(LearnError::CorruptModel(_))
        ));
    }
}

#[test]
fn regression_models_fit_and_explain() {
    let (x, y) = common::mixed(800, 3, 5, false, 23);
    let g = GbdtParams {
        num_iterations: 30,
        ..Default::default()
    }
    .check()
    .unwrap();
    let gm = Model::Gbdt(GbdtModel::fit(&g, Task::Regression, &x, &y).unwrap());
    let lm = Model::Linear(
        LinearModel::fit(
            &LinearParams::default().check().unwrap(),
            Task::Regression,
            &x,
            &y,
        )
        .unwrap(),
    );
    for m in [&gm, &lm] {
        let pred = m.predict_batch(&x).unwrap();
        let r2 = klartext_learn::metrics::r2(&y, &pred).unwrap();
        assert!(r2 > 0.5, "{} r2 {r2}", m.kind_name());
        check_explanations(m, &x);
    }
}

#[test]
fn early_stopping_truncates_and_learns() {
    let (x, y) = common::mixed(3_000, 4, 6, true, 31);
    let (tr, te) = train_test_split(Task::BinaryClassification, &y, 0.3, 1).unwrap();
    let (xt, xv) = (x.take_rows(&tr), x.take_rows(&te));
    let yt: Vec<f64> = tr.iter().map(|&i| y[i]).collect();
    let yv: Vec<f64> = te.iter().map(|&i| y[i]).collect();
    let cfg = GbdtParams {
        num_iterations: 2_000,
        learning_rate: 0.3,
        early_stopping_rounds: Some(10),
        ..Default::default()
    }
    .check()
    .unwrap();
    let m = GbdtModel::fit_with_validation(
        &cfg,
        Task::BinaryClassification,
        &xt,
        &yt,
        Some((&xv, &yv)),
    )
    .unwrap();
    assert!(m.ensemble.n_trees() < 2_000);
    let best = m
        .valid_loss
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(m.ensemble.n_trees(), best + 1);
    assert!(roc_auc(&yv, &m.predict_raw_batch(&xv).unwrap()).unwrap() > 0.7);
}

#[test]
fn auto_fit_reports_table_and_progress() {
    let (x, y) = common::mixed(1_500, 4, 6, true, 41);
    let mut events = Vec::new();
    let (m, table) = auto_fit(&x, &y, Task::BinaryClassification, 7, &mut |p| {
        events.push(p.clone())
    })
    .unwrap();
    assert_eq!(table.rows.len(), 5);
    assert_eq!(table.metric, "auc");
    let best = table
        .rows
        .iter()
        .max_by(|a, b| a.mean.total_cmp(&b.mean))
        .unwrap();
    let se = best.std / (table.k as f64).sqrt();
    assert!(table.rows[table.chosen].mean >= best.mean - se);
    assert!(table.rows[..table.chosen]
        .iter()
        .all(|r| r.mean < best.mean - se));
    assert!(table
        .rows
        .iter()
        .all(|r| r.fold_scores.len() == 5 && r.mean > 0.6));
    assert!(matches!(events.last(), Some(Progress::Refit { .. })));
    assert_eq!(m.schema(), &x.schema());
}

#[test]
fn bad_inputs_are_named_errors() {
    let x = Features::new(vec![FeatureColumn::numeric("a", vec![1.0, 2.0, 3.0])]).unwrap();
    let g = GbdtParams::default().check().unwrap();
    assert!(matches!(
        GbdtModel::fit(&g, Task::BinaryClassification, &x, &[0.0, 1.0]),
        Err(LearnError::LengthMismatch { .. })
    ));
    assert!(matches!(
        GbdtModel::fit(&g, Task::BinaryClassification, &x, &[1.0, 1.0, 1.0]),
        Err(LearnError::SingleClass(_))
    ));
    let (x, y) = common::mixed(200, 2, 3, true, 1);
    let m = GbdtModel::fit(&g, Task::BinaryClassification, &x, &y).unwrap();
    assert!(matches!(
        m.predict_raw(&[1.0]),
        Err(LearnError::LengthMismatch { .. })
    ));
    // Missing values and unseen categories are fine at prediction time.
    assert!(m
        .predict_raw(&[f64::NAN, f64::NAN, 1e6])
        .unwrap()
        .is_finite());
}
