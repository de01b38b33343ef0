//! Rust side of the GBDT benchmark (see bench/learn/run.sh): trains on a data set
//! written by bench/learn/gen_data.py (`--data=gbdt`, 1,000,000 x 30, the default) or
//! gen_wide.py (`--data=wide`, 500,000 x 200) and prints fit time, test AUC, predict
//! and TreeSHAP rows/s.
//!
//! For profiling: `--fit-only` skips predict and TreeSHAP, `--rows=N` trains on the
//! first N training rows, `--trees=N` sets the round count. `model_fnv` (a hash of
//! the model bytes) tells whether a speed change left the trained model unchanged.
//! `--quant` trains with quantised gradients (`--quant-bins=N` levels, `--renew`
//! for leaf values from the exact gradients).

use std::time::Instant;

use klartext_learn::data::{FeatureColumn, Features, Task};
use klartext_learn::gbdt::{GbdtModel, GbdtParams};
use klartext_learn::metrics::roc_auc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "bench/out".into());
    let flag = |name: &str| -> Option<usize> {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")))
            .map(|v| v.parse().expect("a whole number"))
    };
    let fit_only = args.iter().any(|a| a == "--fit-only");
    let name = args
        .iter()
        .find_map(|a| a.strip_prefix("--data="))
        .unwrap_or("gbdt");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{dir}/{name}_data.json"))?)?;
    let n = meta["n_rows"].as_u64().ok_or("n_rows")? as usize;
    let d = meta["n_cols"].as_u64().ok_or("n_cols")? as usize;
    let n_train_all = meta["n_train"].as_u64().ok_or("n_train")? as usize;
    let n_train = flag("rows").map_or(n_train_all, |r| r.min(n_train_all));
    let bytes = std::fs::read(format!("{dir}/{name}_data.bin"))?;
    let vals: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let col = |j: usize, lo: usize, hi: usize| -> FeatureColumn {
        let v = &vals[j * n + lo..j * n + hi];
        match meta["categorical"].get(j.to_string()) {
            Some(l) => FeatureColumn::categorical(
                format!("f{j}"),
                v.iter()
                    .map(|&x| if x.is_nan() { u32::MAX } else { x as u32 })
                    .collect(),
                l.as_u64().expect("levels") as u32,
            ),
            None => FeatureColumn::numeric(format!("f{j}"), v.to_vec()),
        }
    };
    let train = Features::new((0..d).map(|j| col(j, 0, n_train)).collect())?;
    let test = Features::new((0..d).map(|j| col(j, n_train_all, n)).collect())?;
    let y = &vals[d * n..];
    let (ytr, yte) = (&y[..n_train], &y[n_train_all..]);

    let cfg = GbdtParams {
        num_iterations: flag("trees").unwrap_or(100),
        num_leaves: 31,
        learning_rate: 0.1,
        max_bin: 255,
        min_data_in_leaf: 20,
        seed: 1,
        use_quantized_grad: args.iter().any(|a| a == "--quant"),
        num_grad_quant_bins: flag("quant-bins").unwrap_or(4),
        quant_train_renew_leaf: args.iter().any(|a| a == "--renew"),
        ..Default::default()
    }
    .check()?;
    let t0 = Instant::now();
    let model = GbdtModel::fit(&cfg, Task::BinaryClassification, &train, ytr)?;
    let fit_s = t0.elapsed().as_secs_f64();
    let bytes = klartext_learn::model::Model::Gbdt(model.clone()).to_bytes();
    let fnv = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    if fit_only {
        println!(
            "{}",
            serde_json::json!({
                "side": "klartext-learn",
                "data": name,
                "quantized": cfg.params().use_quantized_grad,
                "threads": rayon::current_num_threads(),
                "train_rows": n_train,
                "total_fit_seconds": (fit_s * 1000.0).round() / 1000.0,
                "model_fnv": format!("{fnv:016x}"),
            })
        );
        return Ok(());
    }

    let t1 = Instant::now();
    let raw = model.predict_raw_batch(&test)?;
    let pred_s = t1.elapsed().as_secs_f64();
    let auc = roc_auc(yte, &raw)?;

    let n_shap = 20_000.min(test.n_rows);
    let sub = test.take_rows(&(0..n_shap).collect::<Vec<_>>());
    let t2 = Instant::now();
    let shap = model.ensemble.shap_values_batch(&sub);
    let shap_s = t2.elapsed().as_secs_f64();
    let w = d + 1;
    let worst = (0..n_shap)
        .map(|i| (shap[i * w..(i + 1) * w].iter().sum::<f64>() - raw[i]).abs())
        .fold(0.0f64, f64::max);
    assert!(worst < 1e-9, "SHAP sums off by {worst}");

    // Mean leaf depth, to compare tree shapes with LightGBM's.
    let e = &model.ensemble;
    let mut depths = Vec::new();
    for &r in &e.roots {
        let mut stack = vec![(r as usize, 0usize)];
        while let Some((i, dep)) = stack.pop() {
            if e.nodes[i].is_leaf() {
                depths.push(dep as f64);
            } else {
                stack.push((e.nodes[i].left as usize, dep + 1));
                stack.push((e.nodes[i].right as usize, dep + 1));
            }
        }
    }
    let mean_depth = depths.iter().sum::<f64>() / depths.len() as f64;
    println!(
        "{}",
        serde_json::json!({
            "side": "klartext-learn",
            "data": name,
            "quantized": cfg.params().use_quantized_grad,
            "threads": rayon::current_num_threads(),
            "total_fit_seconds": (fit_s * 1000.0).round() / 1000.0,
            "test_auc": (auc * 1e5).round() / 1e5,
            "predict_rows_per_s": (test.n_rows as f64 / pred_s).round(),
            "shap_rows_per_s": (n_shap as f64 / shap_s).round(),
            "trees": model.ensemble.n_trees(),
            "mean_leaf_depth": (mean_depth * 100.0).round() / 100.0,
            "shap_max_sum_error": worst,
            "model_fnv": format!("{fnv:016x}"),
        })
    );
    Ok(())
}
