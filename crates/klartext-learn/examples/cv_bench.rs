//! Rust side of the cross-validation benchmark (see bench/learn/run.sh, `cv`): the
//! `klartext train` path on caravan. On the training part of a stratified 75/25
//! split (seed 42, the split realdata uses; its test rows and the CV folds are
//! written to OUT_DIR for the LightGBM side), 5-fold CV of the default GBDT candidates with early
//! stopping, the choice by the one-standard-error rule, and the refit with the
//! CV round count; then test AUC. The logistic candidate of `auto_fit` is timed
//! on its own, so the GBDT part compares like for like with lightgbm.cv.
//!
//! cargo run --release -p klartext-learn --example cv_bench [-- DATA_DIR [OUT_DIR]]

use std::path::Path;
use std::time::Instant;

use klartext_learn::data::Task;
use klartext_learn::metrics::roc_auc;
use klartext_learn::select::{cross_validate, default_candidates, fit_candidate, CandidateSpec};
use klartext_learn::split::{stratified_kfold, train_test_split};

#[path = "support/csv_load.rs"]
mod csv_load;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let data = args
        .first()
        .cloned()
        .unwrap_or_else(|| "/work/shared/data".into());
    let out = args.get(1).cloned().unwrap_or_else(|| "bench/out".into());
    std::fs::create_dir_all(&out)?;
    let file = "caravan.csv";
    let path = Path::new(&data).join(file);
    if !path.exists() {
        println!(
            "{{\"side\": \"klartext-learn\", \"skipped\": \"{}\"}}",
            path.display()
        );
        return Ok(());
    }
    let (x, y) = csv_load::load(&path, "Purchase", "Yes")?;
    let task = Task::BinaryClassification;
    let seed = 42;
    let (tr, te) = train_test_split(task, &y, 0.25, seed)?;
    let idx: String = te.iter().map(|i| format!("{i}\n")).collect();
    std::fs::write(Path::new(&out).join(format!("{file}.test_idx")), idx)?;
    let (xt, xv) = (x.take_rows(&tr), x.take_rows(&te));
    let yt: Vec<f64> = tr.iter().map(|&i| y[i]).collect();
    let yv: Vec<f64> = te.iter().map(|&i| y[i]).collect();

    // The folds cross_validate uses (same call), so the LightGBM side can use
    // exactly these: one line per fold, the held-out positions in `xt`.
    let folds = stratified_kfold(task, &yt, 5, seed)?;
    let lines: String = folds
        .iter()
        .map(|f| f.iter().map(usize::to_string).collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    std::fs::write(Path::new(&out).join(format!("{file}.cv_folds")), lines)?;

    let (linear, gbdt): (Vec<_>, Vec<_>) = default_candidates(task, seed)
        .into_iter()
        .partition(|c| matches!(c.spec, CandidateSpec::Linear(_)));
    let t0 = Instant::now();
    let table = cross_validate(&xt, &yt, task, &gbdt, 5, seed, &mut |_| {})?;
    let cv_s = t0.elapsed().as_secs_f64();
    let row = &table.rows[table.chosen];
    let t1 = Instant::now();
    let model = fit_candidate(&row.spec, task, &xt, &yt, row.rounds)?;
    let refit_s = t1.elapsed().as_secs_f64();
    let test_auc = roc_auc(&yv, &model.predict_raw_batch(&xv)?)?;
    let t2 = Instant::now();
    cross_validate(&xt, &yt, task, &linear, 5, seed, &mut |_| {})?;
    let linear_s = t2.elapsed().as_secs_f64();

    let r4 = |v: f64| (v * 1e4).round() / 1e4;
    let r3 = |v: f64| (v * 1e3).round() / 1e3;
    let candidates: Vec<serde_json::Value> = table
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name, "cv_auc": r4(r.mean), "cv_std": r4(r.std), "rounds": r.rounds,
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "side": "klartext-learn",
            "threads": rayon::current_num_threads(),
            "rows": [xt.n_rows, xt.n_features()],
            "gbdt_cv_seconds": r3(cv_s),
            "refit_seconds": r3(refit_s),
            "total_fit_seconds": r3(cv_s + refit_s),
            "logistic_cv_seconds": r3(linear_s),
            "chosen": row.name,
            "chosen_rounds": row.rounds,
            "test_auc": r4(test_auc),
            "candidates": candidates,
        })
    );
    Ok(())
}
