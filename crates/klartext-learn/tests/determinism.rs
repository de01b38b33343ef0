//! Same data + same seed => same bytes, whatever the thread count.

mod common;

use klartext_learn::data::Task;
use klartext_learn::gbdt::{GbdtModel, GbdtParams};
use klartext_learn::linear::{LinearModel, LinearParams};
use klartext_learn::model::Model;
use klartext_learn::select::auto_fit;

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(f)
}

fn gbdt_bytes() -> Vec<u8> {
    // More rows than one histogram / partition chunk, so the parallel paths run.
    let (x, y) = common::mixed(90_000, 4, 9, true, 21);
    let cfg = GbdtParams {
        num_iterations: 8,
        num_leaves: 15,
        bagging_fraction: 0.8,
        feature_fraction: 0.75,
        seed: 3,
        ..Default::default()
    }
    .check()
    .unwrap();
    Model::Gbdt(GbdtModel::fit(&cfg, Task::BinaryClassification, &x, &y).unwrap()).to_bytes()
}

/// The `mixed` data plus one-hot columns, which are bundled into one histogram
/// group (their most frequent bin is derived, not summed).
fn gbdt_bundled_bytes() -> Vec<u8> {
    let (x, y) = common::mixed(40_000, 3, 5, true, 31);
    let mut cols = x.columns.clone();
    let mut rng = klartext_learn::rng::SplitMix64::new(77);
    let codes: Vec<usize> = (0..x.n_rows).map(|_| rng.below(10)).collect();
    for l in 1..10 {
        let v = codes.iter().map(|&c| f64::from(u8::from(c == l))).collect();
        cols.push(klartext_learn::FeatureColumn::numeric(format!("oh{l}"), v));
    }
    let x = klartext_learn::Features::new(cols).unwrap();
    let cfg = GbdtParams {
        num_iterations: 6,
        num_leaves: 15,
        seed: 5,
        ..Default::default()
    }
    .check()
    .unwrap();
    Model::Gbdt(GbdtModel::fit(&cfg, Task::BinaryClassification, &x, &y).unwrap()).to_bytes()
}

/// Quantised training: integer histograms, stochastic rounding from a
/// counter-based hash; bagging and feature fraction on, renewed leaf values.
fn gbdt_quantised_bytes() -> Vec<u8> {
    let (x, y) = common::mixed(90_000, 4, 9, true, 21);
    let cfg = GbdtParams {
        num_iterations: 8,
        num_leaves: 15,
        bagging_fraction: 0.8,
        feature_fraction: 0.75,
        use_quantized_grad: true,
        quant_train_renew_leaf: true,
        seed: 3,
        ..Default::default()
    }
    .check()
    .unwrap();
    Model::Gbdt(GbdtModel::fit(&cfg, Task::BinaryClassification, &x, &y).unwrap()).to_bytes()
}

#[test]
fn gbdt_quantised_same_bytes_across_thread_counts() {
    let a = in_pool(1, gbdt_quantised_bytes);
    assert!(
        a == in_pool(2, gbdt_quantised_bytes),
        "1 vs 2 threads differ"
    );
    assert!(
        a == in_pool(3, gbdt_quantised_bytes),
        "1 vs 3 threads differ"
    );
    assert!(
        a != in_pool(2, gbdt_bytes),
        "quantised equals plain training"
    );
}

#[test]
fn gbdt_with_bundled_columns_same_bytes_across_thread_counts() {
    let a = in_pool(1, gbdt_bundled_bytes);
    assert!(a == in_pool(2, gbdt_bundled_bytes), "1 vs 2 threads differ");
    assert!(a == in_pool(3, gbdt_bundled_bytes), "1 vs 3 threads differ");
}

fn linear_bytes() -> Vec<u8> {
    let (x, y) = common::mixed(20_000, 3, 5, true, 4);
    let cfg = LinearParams::default().check().unwrap();
    Model::Linear(LinearModel::fit(&cfg, Task::BinaryClassification, &x, &y).unwrap()).to_bytes()
}

#[test]
fn gbdt_same_bytes_across_runs_and_thread_counts() {
    let a = in_pool(1, gbdt_bytes);
    let b = in_pool(2, gbdt_bytes);
    let c = in_pool(2, gbdt_bytes);
    assert!(a == b, "1 vs 2 threads differ");
    assert!(b == c, "two runs differ");
    let d = in_pool(3, gbdt_bytes);
    assert!(a == d, "1 vs 3 threads differ");
}

#[test]
fn linear_same_bytes_across_thread_counts() {
    assert!(in_pool(1, linear_bytes) == in_pool(2, linear_bytes));
}

#[test]
fn auto_fit_is_deterministic() {
    let run = || {
        let (x, y) = common::mixed(600, 3, 4, true, 8);
        let (m, table) = auto_fit(&x, &y, Task::BinaryClassification, 5, &mut |_| {}).unwrap();
        (m.to_bytes(), serde_json::to_string(&table).unwrap())
    };
    let a = in_pool(1, run);
    let b = in_pool(2, run);
    assert!(a == b);
}

#[test]
fn different_seed_changes_bagged_model() {
    let (x, y) = common::mixed(2_000, 3, 4, true, 2);
    let fit = |seed| {
        let cfg = GbdtParams {
            num_iterations: 5,
            bagging_fraction: 0.5,
            seed,
            ..Default::default()
        }
        .check()
        .unwrap();
        Model::Gbdt(GbdtModel::fit(&cfg, Task::BinaryClassification, &x, &y).unwrap()).to_bytes()
    };
    assert!(fit(1) != fit(2));
}
