//! Benchmark of monitoring: a 30-feature churn model, 1,000,000 answered predictions in
//! the prediction log (with drift), then the full monitoring report (read and decode the
//! log window, drift of every feature and of the score, findings) timed three times.
//!
//! `cargo run --release -p klartext-server --example monitor_bench [ROWS]`

use klartext_core::{ColumnData, UseCase};
use klartext_data::generate::{generate, GenerateParams, EXAMPLE_USECASE};
use klartext_data::ingest::{ingest, IngestOptions};
use klartext_store::{
    DatasetRecord, ModelRecord, PredictionRecord, PredictionRole, Registration, SqliteStore, Store,
};
use std::time::Instant;

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ROWS is a number"))
        .unwrap_or(1_000_000);
    let uc = UseCase::parse(
        "bench.toml",
        &EXAMPLE_USECASE
            .replace("min_auc = 0.75", "min_auc = 0.5")
            .replace("max_overfit_gap = 0.05", "max_overfit_gap = 1.0")
            .replace(
                "min_demographic_parity_ratio = 0.8",
                "min_demographic_parity_ratio = 0.0",
            ),
        Some("churn"),
    )
    .expect("the example use case parses");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = SqliteStore::open(dir.path()).expect("a store");

    // Train on 5,000 rows with 17 extra columns: 30 features.
    let t0 = Instant::now();
    let g = generate(&GenerateParams {
        rows: 5000,
        seed: 1,
        extra_features: 17,
        ..GenerateParams::default()
    });
    let mut csv = Vec::new();
    klartext_data::write::write_csv(&g.frame, Some(&g.schema), &mut csv).expect("CSV");
    let ing = ingest(
        "churn.csv",
        &csv,
        Some(&uc),
        &IngestOptions::default(),
        None,
    )
    .expect("ingest");
    let dataset_id = ing.snapshot.dataset_id();
    let trained = klartext_kinds::supervised::train::train(
        &ing.frame,
        &ing.schema,
        &uc,
        &dataset_id,
        Some(&ing.report),
        &klartext_kinds::TrainOptions::default(),
        &mut |_| {},
    )
    .expect("training");
    let dataset = DatasetRecord {
        id: dataset_id.clone(),
        sha256: ing.snapshot.sha256.clone(),
        source_name: "churn.csv".into(),
        snapshot: serde_json::to_value(&ing.snapshot).expect("JSON"),
        rows: ing.frame.n_rows as u64,
        columns: ing.frame.n_cols() as u64,
        bytes: ing.snapshot_bytes.len() as u64,
        created_ms: 1,
        created_by: "bench".into(),
    };
    let blob = store
        .put_snapshot(
            &dataset.sha256,
            &ing.snapshot.extension,
            &ing.snapshot_bytes,
        )
        .expect("snapshot");
    store
        .register_dataset(
            &dataset,
            &blob,
            &Registration {
                dataset_id: dataset_id.clone(),
                usecase_id: "churn".into(),
                schema: ing.schema.clone(),
                report: ing.report.clone(),
                created_ms: 1,
                created_by: "bench".into(),
            },
        )
        .expect("dataset");
    let blob = store
        .put_artifact(&trained.sha256, &trained.bytes)
        .expect("artifact");
    let version = trained.version.clone();
    store
        .register_model(
            &ModelRecord {
                usecase_id: "churn".into(),
                version: version.clone(),
                sha256: trained.sha256.clone(),
                dataset_id,
                learner: trained.report.learner.clone(),
                gates_passed: true,
                report: serde_json::to_value(&trained.report).expect("JSON"),
                card: String::new(),
                created_ms: 2,
                created_by: "bench".into(),
            },
            &blob,
        )
        .expect("model");
    store
        .set_model_reference("churn", &version, &trained.reference.to_json())
        .expect("reference");
    let enc = &trained.model.header.encoder;
    println!(
        "model {version}: {} features, trained in {:.1} s",
        enc.features.len(),
        t0.elapsed().as_secs_f64()
    );

    // The logged traffic: generated with drift, in the form the server logs it.
    let t1 = Instant::now();
    let traffic = generate(&GenerateParams {
        rows,
        seed: 2,
        drift: 0.5,
        extra_features: 17,
        ..GenerateParams::default()
    });
    let all: Vec<usize> = (0..rows).collect();
    let logged = enc.log_frame(&traffic.frame, &all).expect("log frame");
    let now = klartext_store::now_ms();
    let mut batch = Vec::with_capacity(10_000);
    let mut values = vec![0.0; enc.features.len()];
    for i in 0..rows {
        for (v, c) in values.iter_mut().zip(&logged.columns) {
            if let ColumnData::Num(x) = &c.data {
                *v = x[i];
            }
        }
        let features = enc.log_row(&values, |j| match &logged.columns[j].data {
            ColumnData::Str(s) => s.get(i),
            ColumnData::Num(_) => None,
        });
        let score = 0.2 + 0.6 * ((i * 7919) % 1000) as f64 / 1000.0;
        batch.push(PredictionRecord {
            prediction_id: format!("p{i:08}"),
            at_ms: now - 3_600_000 + (i as i64 % 3_600_000),
            usecase_id: "churn".into(),
            kind: Some(klartext_core::UseCaseKind::Classification),
            model_version: version.clone(),
            subject_id: Some(format!("s{i}")),
            input_digest: "00".into(),
            status: klartext_core::DecisionStatus::Answered,
            output: serde_json::json!({ "score": score }),
            latency_us: 500,
            caller: "bench".into(),
            fallback: false,
            role: PredictionRole::Served,
            score: Some(score),
            features: Some(features),
            shadow_of: None,
            batch_id: None,
        });
        if batch.len() == 10_000 {
            store.log_predictions(&batch).expect("log");
            batch.clear();
        }
    }
    store.log_predictions(&batch).expect("log");
    println!(
        "{rows} predictions logged in {:.1} s",
        t1.elapsed().as_secs_f64()
    );

    // Where the time goes: reading the window alone, and reading with decoding.
    let t = Instant::now();
    let mut n = 0usize;
    store
        .visit_monitored(
            "churn",
            &version,
            now - 86_400_000 * 7,
            now + 1,
            &mut |_, _, b| {
                n += b.map_or(0, <[u8]>::len);
            },
        )
        .expect("read");
    println!(
        "reading the window: {:.3} s ({} MB of feature bytes)",
        t.elapsed().as_secs_f64(),
        n / 1_000_000
    );
    let t = Instant::now();
    let mut dec = enc.log_decoder();
    store
        .visit_monitored(
            "churn",
            &version,
            now - 86_400_000 * 7,
            now + 1,
            &mut |_, _, b| {
                dec.push(b.expect("bytes")).expect("decodes");
            },
        )
        .expect("read");
    drop(dec.finish());
    println!("reading and decoding: {:.3} s", t.elapsed().as_secs_f64());

    let mut times = Vec::new();
    for run in 1..=3 {
        let t = Instant::now();
        let r = klartext_govern::monitoring::report(&store, &uc, &version, now)
            .expect("monitoring report");
        let s = t.elapsed().as_secs_f64();
        times.push(s);
        let d = r.drift.as_ref().expect("enough rows for drift");
        println!(
            "run {run}: {:.3} s for {} rows x {} features; {} drifted, score drifted: {}",
            s,
            r.rows,
            d.columns.len(),
            d.drifted_features,
            d.score.as_ref().is_some_and(|c| c.drifted)
        );
    }
    times.sort_by(f64::total_cmp);
    println!(
        "monitoring {rows} logged predictions: best {:.3} s, median {:.3} s (goal: under 2 s)",
        times[0], times[1]
    );
}
