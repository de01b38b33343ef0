//! Quality check on real marketing data (mlc_churn, caravan): klartext's default
//! `auto_fit` on a fixed stratified 75/25 split (seed 42), test AUC per candidate.
//! Writes the test row indices to bench/out so the LightGBM side uses the same split.
//!
//! cargo run --release -p klartext-learn --example realdata [-- DATA_DIR [OUT_DIR]]

use std::path::Path;

use klartext_learn::data::Task;
use klartext_learn::metrics::roc_auc;
use klartext_learn::select::{auto_fit, fit_candidate, Progress};
use klartext_learn::split::train_test_split;

#[path = "support/csv_load.rs"]
mod csv_load;
use csv_load::load;

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
    for (file, target, positive) in [
        ("mlc_churn.csv", "churn", "yes"),
        ("caravan.csv", "Purchase", "Yes"),
    ] {
        let path = Path::new(&data).join(file);
        if !path.exists() {
            println!("{file}: skipped ({} not found)", path.display());
            continue;
        }
        let (x, y) = load(&path, target, positive)?;
        let (tr, te) = train_test_split(Task::BinaryClassification, &y, 0.25, 42)?;
        let idx: String = te.iter().map(|i| format!("{i}\n")).collect();
        std::fs::write(Path::new(&out).join(format!("{file}.test_idx")), idx)?;
        let (xt, xv) = (x.take_rows(&tr), x.take_rows(&te));
        let yt: Vec<f64> = tr.iter().map(|&i| y[i]).collect();
        let yv: Vec<f64> = te.iter().map(|&i| y[i]).collect();
        let t0 = std::time::Instant::now();
        let (model, table) = auto_fit(&xt, &yt, Task::BinaryClassification, 42, &mut |p| {
            if let Progress::CandidateDone { index, mean, std } = p {
                eprintln!("  candidate {index}: cv auc {mean:.4} ± {std:.4}");
            }
        })?;
        let secs = t0.elapsed().as_secs_f64();
        let test_auc = roc_auc(&yv, &model.predict_raw_batch(&xv)?)?;
        println!(
            "{file}: {} rows x {} features, train {} / test {}; auto_fit {secs:.1}s",
            x.n_rows,
            x.n_features(),
            tr.len(),
            te.len()
        );
        println!(
            "  {:<18} {:>8} {:>7} {:>7} {:>9}",
            "candidate", "cv_auc", "std", "rounds", "test_auc"
        );
        for (i, row) in table.rows.iter().enumerate() {
            // Test AUC of every candidate, for information only: selection used CV.
            let m = fit_candidate(&row.spec, Task::BinaryClassification, &xt, &yt, row.rounds)?;
            let auc = roc_auc(&yv, &m.predict_raw_batch(&xv)?)?;
            println!(
                "  {:<18} {:>8.4} {:>7.4} {:>7} {:>9.4}{}",
                row.name,
                row.mean,
                row.std,
                row.rounds.map_or("-".into(), |r| r.to_string()),
                auc,
                if i == table.chosen { "  <- chosen" } else { "" }
            );
        }
        println!(
            "  klartext auto_fit test AUC: {test_auc:.4} ({})",
            model.kind_name()
        );
    }
    Ok(())
}
