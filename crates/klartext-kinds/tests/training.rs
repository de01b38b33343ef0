//! The training step end to end on generated churn data: determinism, the artifact,
//! the report (metrics, gates, fairness, importance), explanations, the encoder,
//! time-ordered splits, regression and the inputs training must refuse.

use klartext_core::{ColumnData, Frame, QualityReport, Schema, UseCase, MISSING_CODE};
use klartext_data::generate::{generate, GenerateParams, EXAMPLE_USECASE};
use klartext_data::ingest::{ingest, IngestOptions};
use klartext_kinds::artifact::ENVELOPE_VERSION as FORMAT_VERSION;
use klartext_kinds::gates::GateResult;
use klartext_kinds::supervised::encode::{Encoder, Encoding, FeatureEncoding};
use klartext_kinds::supervised::payload::Supervised as Artifact;
use klartext_kinds::supervised::train::{train, Trained};
use klartext_kinds::{KindError, TrainOptions};
use klartext_learn::select::Progress;
use klartext_learn::Task;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// A registered dataset as the CLI would hold it.
struct Data {
    frame: Frame,
    schema: Schema,
    report: QualityReport,
    dataset_id: String,
}

fn usecase(text: &str) -> UseCase {
    UseCase::parse("churn.toml", text, Some("churn")).expect("the use case parses")
}

/// The example use case with some lines replaced (`from` must occur).
fn usecase_with(replacements: &[(&str, &str)]) -> UseCase {
    let mut text = EXAMPLE_USECASE.to_owned();
    for (from, to) in replacements {
        assert!(
            text.contains(from),
            "`{from}` is not in the example use case"
        );
        text = text.replacen(from, to, 1);
    }
    usecase(&text)
}

/// Generate `rows` churn customers, write them as CSV and ingest them for `uc`.
fn data(rows: usize, seed: u64, uc: &UseCase) -> Data {
    let g = generate(&GenerateParams {
        rows,
        seed,
        ..GenerateParams::default()
    });
    let mut bytes = Vec::new();
    klartext_data::write::write_csv(&g.frame, Some(&g.schema), &mut bytes).expect("write csv");
    let ing = ingest(
        "churn.csv",
        &bytes,
        Some(uc),
        &IngestOptions::default(),
        None,
    )
    .expect("ingest");
    Data {
        dataset_id: ing.snapshot.dataset_id(),
        frame: ing.frame,
        schema: ing.schema,
        report: ing.report,
    }
}

fn train_with(d: &Data, uc: &UseCase, seed: u64) -> klartext_kinds::Result<Trained> {
    train(
        &d.frame,
        &d.schema,
        uc,
        &d.dataset_id,
        Some(&d.report),
        &TrainOptions {
            seed,
            ..TrainOptions::default()
        },
        &mut |_| {},
    )
}

/// Rows of the shared data set.
const BASE_ROWS: usize = 2000;

/// The example use case on [`BASE_ROWS`] generated rows (seed 1), trained with seed 42; shared.
struct Base {
    uc: UseCase,
    data: Data,
    trained: Trained,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let uc = usecase(EXAMPLE_USECASE);
        let data = data(BASE_ROWS, 1, &uc);
        let trained = train_with(&data, &uc, 42).expect("training succeeds");
        Base { uc, data, trained }
    })
}

/// Values of a text column (`None` where missing).
fn str_values(frame: &Frame, name: &str) -> Vec<Option<String>> {
    let col = frame
        .column(name)
        .unwrap_or_else(|| panic!("no column `{name}`"));
    (0..frame.n_rows).map(|i| col.data.display(i)).collect()
}

fn num_values(frame: &Frame, name: &str) -> Vec<f64> {
    match &frame
        .column(name)
        .unwrap_or_else(|| panic!("no column `{name}`"))
        .data
    {
        ColumnData::Num(v) => v.clone(),
        ColumnData::Str(_) => panic!("column `{name}` is not numeric"),
    }
}

/// Rows `rows` of `frame` as the artifact's encoder encodes them.
fn encoded_rows(a: &Artifact, frame: &Frame, rows: &[usize]) -> Vec<Vec<f64>> {
    let x = a.header.encoder.encode(frame, rows).expect("encode");
    (0..x.n_rows).map(|i| x.row(i)).collect()
}

/// `passed` agrees with the value and the threshold, by the direction of the gate.
fn assert_gate_consistent(g: &GateResult) {
    let expected = match g.value {
        None => false,
        Some(v) if g.gate.starts_with("min_") => v >= g.threshold,
        Some(v) if g.gate.starts_with("max_") => v <= g.threshold,
        Some(v) if g.gate == "no_leakage" => v == 0.0,
        Some(_) => panic!("unknown gate `{}`", g.gate),
    };
    assert_eq!(g.passed, expected, "gate inconsistent: {g:?}");
    assert!(!g.detail.is_empty(), "gate without detail: {g:?}");
}

fn gate<'a>(t: &'a Trained, name: &str) -> &'a GateResult {
    t.report
        .gates
        .iter()
        .find(|g| g.gate == name)
        .unwrap_or_else(|| panic!("no gate `{name}` in {:?}", t.report.gates))
}

// ---------------------------------------------------------------------------------
// 1. Determinism
// ---------------------------------------------------------------------------------

#[test]
fn same_data_and_seed_give_the_same_artifact() {
    let b = base();
    let again = train_with(&b.data, &b.uc, 42).expect("train");
    assert!(
        again.bytes == b.trained.bytes,
        "two runs gave different bytes"
    );
    assert_eq!(again.version, b.trained.version);
    assert_eq!(again.sha256, b.trained.sha256);
    assert_eq!(again.report, b.trained.report);

    // The version is the SHA-256 of the bytes, shortened.
    let (v, sha) = klartext_kinds::Artifact::version_of(&b.trained.bytes);
    assert_eq!(
        (v.as_str(), sha.as_str()),
        (b.trained.version.as_str(), b.trained.sha256.as_str())
    );
    assert_eq!(b.trained.version.len(), 12);
    assert_eq!(b.trained.sha256.len(), 64);
    assert!(b.trained.sha256.starts_with(&b.trained.version));
}

#[test]
fn thread_count_does_not_change_the_artifact() {
    let b = base();
    let in_pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
            .install(|| train_with(&b.data, &b.uc, 42).expect("train"))
    };
    let one = in_pool(1);
    let two = in_pool(2);
    assert!(one.bytes == two.bytes, "1 thread and 2 threads differ");
    assert_eq!(one.version, two.version);
    assert_eq!(
        one.version, b.trained.version,
        "the global pool differs from 1 thread"
    );
}

#[test]
fn another_seed_gives_another_version() {
    let b = base();
    let other = train_with(&b.data, &b.uc, 7).expect("train");
    assert_ne!(other.version, b.trained.version);
    assert_eq!(other.report.seed, 7);
    assert!(
        other.report.split.contains("seed 7"),
        "{}",
        other.report.split
    );
    assert_eq!(Artifact::from_bytes(&other.bytes).unwrap().lineage.seed, 7);
}

#[test]
fn progress_hears_every_candidate_and_the_refit() {
    let b = base();
    let mut started = 0;
    let mut done = 0;
    let mut refit = Vec::new();
    let t = train(
        &b.data.frame,
        &b.data.schema,
        &b.uc,
        &b.data.dataset_id,
        Some(&b.data.report),
        &TrainOptions::default(),
        &mut |p| match p {
            Progress::Candidate { .. } => started += 1,
            Progress::CandidateDone { .. } => done += 1,
            Progress::Refit { name } => refit.push(name.clone()),
        },
    )
    .expect("train");
    assert_eq!(started, t.report.cv.rows.len());
    assert_eq!(done, t.report.cv.rows.len());
    assert_eq!(refit, vec![t.report.learner.clone()]);
    // Default options are seed 42, as the shared model was trained.
    assert_eq!(t.version, b.trained.version);
}

// ---------------------------------------------------------------------------------
// 2. The artifact
// ---------------------------------------------------------------------------------

#[test]
fn artifact_round_trips() {
    let b = base();
    let a = Artifact::from_bytes(&b.trained.bytes).expect("loads");
    assert_eq!(a.header, b.trained.model.header);
    assert_eq!(a, b.trained.model);
    assert!(
        a.to_bytes() == b.trained.bytes,
        "re-serialising changes the bytes"
    );

    let h = &a.header;
    assert_eq!(a.lineage.usecase, "churn");
    assert_eq!(h.task, Task::BinaryClassification);
    assert_eq!(h.target, "churn");
    assert_eq!(h.positive.as_deref(), Some("Yes"));
    assert_eq!(a.lineage.dataset_id, b.data.dataset_id);
    assert_eq!(a.lineage.seed, 42);
    assert_eq!(a.lineage.learner, b.trained.report.learner);
    assert_eq!(h.threshold, b.trained.report.threshold);
    let envelope = klartext_kinds::Artifact::from_bytes(&b.trained.bytes).unwrap();
    assert_eq!(
        envelope.header.kind,
        klartext_core::UseCaseKind::Classification
    );
    assert_eq!(envelope.header.lineage, a.lineage);

    let rows: Vec<usize> = (0..50).collect();
    for row in encoded_rows(&a, &b.data.frame, &rows) {
        let before = b.trained.model.model.predict(&row).unwrap();
        let after = a.model.predict(&row).unwrap();
        assert_eq!(before.to_bits(), after.to_bits());
        assert!((0.0..=1.0).contains(&after));
    }
}

#[test]
fn artifact_of_a_newer_format_is_refused() {
    let mut bytes = base().trained.bytes.clone();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = Artifact::from_bytes(&bytes).expect_err("newer format must not load");
    assert!(matches!(err, KindError::Artifact(_)), "{err:?}");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn garbage_is_not_an_artifact() {
    let good = &base().trained.bytes;
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        (
            "text".into(),
            b"this is not a model at all, just text".to_vec(),
        ),
        ("magic only".into(), b"KLTXART\0".to_vec()),
        ("header length beyond the end".into(), {
            let mut v = good[..12].to_vec();
            v.extend_from_slice(&u64::MAX.to_le_bytes());
            v.extend_from_slice(b"{}");
            v
        }),
        ("header not JSON".into(), {
            let mut v = good[..12].to_vec();
            v.extend_from_slice(&4u64.to_le_bytes());
            v.extend_from_slice(b"nope");
            v
        }),
        ("no model".into(), {
            let len = u64::from_le_bytes(good[12..20].try_into().unwrap()) as usize;
            good[..20 + len].to_vec()
        }),
    ];
    // Truncations everywhere, including inside the model bytes.
    let step = (good.len() / 97).max(1);
    for cut in (0..good.len()).step_by(step) {
        cases.push((format!("truncated to {cut} bytes"), good[..cut].to_vec()));
    }
    for (what, bytes) in cases {
        let got = std::panic::catch_unwind(|| Artifact::from_bytes(&bytes).map(|_| ()));
        match got {
            Ok(Err(e)) => assert!(!e.to_string().is_empty(), "{what}: empty error"),
            Ok(Ok(())) => panic!("{what}: loaded as an artifact"),
            Err(_) => panic!("{what}: from_bytes panicked"),
        }
    }
}

// ---------------------------------------------------------------------------------
// 3. The training report
// ---------------------------------------------------------------------------------

#[test]
fn report_is_sane() {
    let b = base();
    let r = &b.trained.report;
    let auc = r.metrics.auc.expect("classification has an AUC");
    assert!(auc > 0.6 && auc < 0.95, "held-out AUC {auc}");
    assert!(r.metrics.rmse.is_none() && r.metrics.r2.is_none());
    for v in [r.metrics.pr_auc, r.metrics.log_loss, r.metrics.brier] {
        assert!(v.is_some_and(f64::is_finite), "{:?}", r.metrics);
    }

    let labelled = str_values(&b.data.frame, "churn")
        .iter()
        .filter(|v| v.is_some())
        .count();
    assert_eq!(r.rows_total, b.data.frame.n_rows);
    assert_eq!(r.rows_train + r.rows_test, labelled);
    assert_eq!(r.rows_without_target, r.rows_total - labelled);
    assert_eq!(r.metrics.n, r.rows_test);
    assert_eq!(r.train_metrics.n, r.rows_train);
    // Stratified: a quarter of each class, rounded per class.
    let quarter = labelled as f64 * 0.25;
    assert!(
        (r.rows_test as f64 - quarter).abs() <= 1.0,
        "{} held out of {labelled}",
        r.rows_test
    );
    assert_eq!(r.usecase, "churn");
    assert_eq!(r.dataset_id, b.data.dataset_id);
    assert_eq!(r.artifact_format, FORMAT_VERSION);

    // Features: never the target, the id or a protected attribute.
    for not in ["churn", "customer_id", "female", "senior_citizen"] {
        assert!(
            !r.features.iter().any(|f| f == not),
            "`{not}` is a feature: {:?}",
            r.features
        );
    }
    assert!(
        r.features.iter().any(|f| f == "tenure_months"),
        "{:?}",
        r.features
    );

    // Overfitting gap is training minus held-out AUC.
    let gap = r.train_metrics.auc.unwrap() - auc;
    assert!((r.overfit_gap - gap).abs() < 1e-12);

    // One gate result per gate of the use case, in the table's order.
    let names: Vec<&str> = r.gates.iter().map(|g| g.gate.as_str()).collect();
    assert_eq!(
        names,
        ["min_auc", "max_overfit_gap", "min_demographic_parity_ratio"]
    );
    r.gates.iter().for_each(assert_gate_consistent);
    assert_eq!(gate(&b.trained, "min_auc").value, Some(auc));
    assert_eq!(
        gate(&b.trained, "max_overfit_gap").value,
        Some(r.overfit_gap)
    );
    assert_eq!(r.gates_passed, r.gates.iter().all(|g| g.passed));

    // Fairness: one entry per protected attribute, in order.
    let attrs: Vec<&str> = r.fairness.iter().map(|f| f.attribute.as_str()).collect();
    assert_eq!(attrs, ["female", "senior_citizen"]);
    let worst_ratio = r
        .fairness
        .iter()
        .map(|f| f.report.demographic_parity_ratio)
        .filter(|v| !v.is_nan())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        gate(&b.trained, "min_demographic_parity_ratio").value,
        Some(worst_ratio)
    );

    // Importance: every feature once, sorted descending.
    let mut imp_features: Vec<&str> = r.importance.iter().map(|i| i.feature.as_str()).collect();
    imp_features.sort_unstable();
    let mut features: Vec<&str> = r.features.iter().map(String::as_str).collect();
    features.sort_unstable();
    assert_eq!(imp_features, features);
    for w in r.importance.windows(2) {
        assert!(
            w[0].mean_abs_contribution >= w[1].mean_abs_contribution,
            "importance not sorted: {:?}",
            r.importance
        );
    }
    assert!(r.importance[0].mean_abs_contribution > 0.0);

    // Threshold: a probability.
    let t = r.threshold.expect("classification has a threshold");
    assert!((0.0..=1.0).contains(&t), "threshold {t}");

    // CV: the chosen row exists and names the learner.
    assert!(r.cv.chosen < r.cv.rows.len());
    assert_eq!(r.cv.rows[r.cv.chosen].name, r.learner);

    // The report survives JSON (as the store keeps it).
    let json = serde_json::to_value(r).expect("report serialises");
    assert!(json["metrics"]["auc"].is_number());
    assert!(json["metrics"].get("rmse").is_none());
}

#[test]
fn an_impossible_gate_fails_and_is_recorded() {
    let uc = usecase_with(&[("min_auc = 0.75", "min_auc = 0.99")]);
    let d = data(BASE_ROWS, 1, &uc);
    let t = train_with(&d, &uc, 42).expect("failing gates do not stop training");
    let g = gate(&t, "min_auc");
    assert_eq!(g.threshold, 0.99);
    assert!(!g.passed, "{g:?}");
    assert!(!t.report.gates_passed);
    t.report.gates.iter().for_each(assert_gate_consistent);
    // The gate threshold is not part of the artifact: the model is the same.
    assert_eq!(t.version, base().trained.version);
}

#[test]
fn data_gates_use_the_quality_report() {
    // `email_open_rate` is about 4% missing in the generated data.
    let uc = usecase_with(&[(
        "min_demographic_parity_ratio = 0.8",
        "min_demographic_parity_ratio = 0.8\nmax_missing_share = 0.01\nno_leakage = true",
    )]);
    let d = data(1000, 1, &uc);
    let t = train_with(&d, &uc, 42).expect("train");
    t.report.gates.iter().for_each(assert_gate_consistent);
    let g = gate(&t, "max_missing_share");
    assert!(g.value.is_some_and(|v| v > 0.01 && v < 0.2), "{g:?}");
    assert!(!g.passed);
    assert!(
        g.detail.contains('`'),
        "detail names the column: {}",
        g.detail
    );

    // Without a data report the data gates cannot be measured, so they fail.
    let t = train(
        &d.frame,
        &d.schema,
        &uc,
        &d.dataset_id,
        None,
        &TrainOptions::default(),
        &mut |_| {},
    )
    .expect("train");
    assert!(!gate(&t, "max_missing_share").passed);
    assert_eq!(gate(&t, "max_missing_share").value, None);
    assert!(!gate(&t, "no_leakage").passed);
    assert!(!t.report.gates_passed);
}

// ---------------------------------------------------------------------------------
// 4. Explanations
// ---------------------------------------------------------------------------------

/// The feature a reason sentence starts with (longest match).
fn feature_of<'a>(sentence: &str, features: &'a [FeatureEncoding]) -> &'a str {
    features
        .iter()
        .map(|f| f.name.as_str())
        .filter(|n| sentence.starts_with(&format!("{n} ")))
        .max_by_key(|n| n.len())
        .unwrap_or_else(|| panic!("reason names no feature: {sentence}"))
}

#[test]
fn explanations_add_up_and_reasons_follow_their_sign() {
    let b = base();
    let a = &b.trained.model;
    let enc = &a.header.encoder;
    let rows: Vec<usize> = (0..b.data.frame.n_rows).step_by(97).collect();
    let mut saw_raise = false;
    let mut saw_lower = false;
    for row in encoded_rows(a, &b.data.frame, &rows) {
        let e = a.model.explain(&row).expect("explain");
        let raw = a.model.predict_raw(&row).expect("predict");
        assert_eq!(e.contributions.len(), enc.features.len());
        let sum: f64 = e.expected_value + e.contributions.iter().sum::<f64>();
        assert!(
            (sum - raw).abs() < 1e-9,
            "contributions sum to {sum}, raw score {raw}"
        );
        assert!((e.raw_score - raw).abs() < 1e-9);

        let reasons = klartext_kinds::supervised::reasons::reasons(
            enc,
            &row,
            &e,
            Task::BinaryClassification,
            "churn",
            3,
        );
        assert!(reasons.len() <= 3, "{reasons:?}");
        assert!(!reasons.is_empty(), "no reasons for a row");
        let ranked = e.ranked();
        for (k, s) in reasons.iter().enumerate() {
            let f = feature_of(s, &enc.features);
            let i = enc.features.iter().position(|x| x.name == f).unwrap();
            // The k-th reason is the k-th largest contribution.
            assert_eq!(
                i, ranked[k],
                "reason {k} `{s}` is not the k-th largest contribution"
            );
            let c = e.contributions[i];
            if c > 0.0 {
                saw_raise = true;
                assert!(
                    s.contains(" raises the likelihood of churn"),
                    "{s} (contribution {c})"
                );
                assert!(!s.contains("lowers"), "{s}");
            } else {
                saw_lower = true;
                assert!(c < 0.0, "zero contribution worded: {s}");
                assert!(
                    s.contains(" lowers the likelihood of churn"),
                    "{s} (contribution {c})"
                );
                assert!(!s.contains("raises"), "{s}");
            }
        }
        let contributions = klartext_kinds::supervised::reasons::contributions(enc, &row, &e);
        assert_eq!(contributions.len(), enc.features.len());
        for w in contributions.windows(2) {
            assert!(w[0].contribution.abs() >= w[1].contribution.abs());
        }
    }
    assert!(
        saw_raise && saw_lower,
        "expected both directions over {} rows",
        rows.len()
    );
}

#[test]
fn a_row_encoded_from_text_scores_as_in_training() {
    // Serving encodes text values with `encode_row`; training encodes the frame. Both
    // must give the same learner values and so the same score.
    let b = base();
    let a = &b.trained.model;
    let enc = &a.header.encoder;
    let rows: Vec<usize> = (0..40).collect();
    let from_frame = encoded_rows(a, &b.data.frame, &rows);
    for (k, &r) in rows.iter().enumerate() {
        let from_text = enc
            .encode_row(|name| b.data.frame.column(name).and_then(|c| c.data.display(r)))
            .expect("encode_row");
        for (i, (x, y)) in from_text.iter().zip(&from_frame[k]).enumerate() {
            assert!(
                x.to_bits() == y.to_bits() || (x - y).abs() < 1e-9,
                "row {r}, feature `{}`: text gives {x}, frame gives {y}",
                enc.features[i].name
            );
        }
        let p1 = a.model.predict(&from_text).unwrap();
        let p2 = a.model.predict(&from_frame[k]).unwrap();
        assert!((p1 - p2).abs() < 1e-12);
    }
}

// ---------------------------------------------------------------------------------
// 5. The encoder
// ---------------------------------------------------------------------------------

fn categorical(name: &str, levels: &[&str], other: bool) -> FeatureEncoding {
    FeatureEncoding {
        name: name.into(),
        kind: klartext_core::ColumnKind::Categorical,
        encoding: Encoding::Categorical {
            levels: levels.iter().map(|s| s.to_string()).collect(),
            other,
        },
    }
}

#[test]
fn unseen_category_maps_to_other_or_missing() {
    let with_other = Encoder {
        features: vec![categorical("plan", &["basic", "premium"], true)],
    };
    let without = Encoder {
        features: vec![categorical("plan", &["basic", "premium"], false)],
    };
    let row = |e: &Encoder, v: &str| {
        let v = v.to_owned();
        e.encode_row(move |_| Some(v.clone())).expect("encode")[0]
    };
    assert_eq!(row(&with_other, "premium"), 1.0);
    assert_eq!(
        row(&with_other, "platinum"),
        2.0,
        "unseen → the `other` level"
    );
    assert!(row(&without, "platinum").is_nan(), "unseen → missing");
    assert!(row(&with_other, "").is_nan(), "empty → missing");
    assert!(row(&with_other, "   ").is_nan(), "blank → missing");
    assert_eq!(row(&without, " basic "), 0.0, "values are trimmed");
    assert!(
        with_other.encode_row(|_| None).unwrap()[0].is_nan(),
        "absent → missing"
    );

    // The trained encoder does as its encoding says.
    let enc = &base().trained.model.header.encoder;
    let (i, f) = enc
        .features
        .iter()
        .enumerate()
        .find(|(_, f)| f.name == "region")
        .expect("region is a feature");
    let Encoding::Categorical { levels, other } = &f.encoding else {
        panic!("region is not categorical: {f:?}")
    };
    let got = enc
        .encode_row(|n| Some(if n == "region" { "Atlantis" } else { "" }.to_owned()))
        .expect("encode")[i];
    if *other {
        assert_eq!(got, levels.len() as f64);
    } else {
        assert!(got.is_nan());
    }
    assert_eq!(enc.describe_value(i, f64::NAN), "missing");
}

#[test]
fn non_numeric_value_is_an_input_error_naming_the_feature() {
    let enc = &base().trained.model.header.encoder;
    for (feature, bad) in [
        ("tenure_months", "lots"),
        ("monthly_charges", "12,5 EUR"),
        ("monthly_charges", "inf"),
        ("signup_date", "last tuesday"),
    ] {
        assert!(
            enc.features.iter().any(|f| f.name == feature),
            "`{feature}` not a feature"
        );
        let err = enc
            .encode_row(|n| (n == feature).then(|| bad.to_owned()))
            .expect_err("must not encode");
        match &err {
            KindError::Input {
                feature: f,
                message,
            } => {
                assert_eq!(f, feature);
                assert!(message.contains(bad.trim()), "{message}");
            }
            other => panic!("expected an input error, got {other:?}"),
        }
        assert!(err.to_string().contains(feature), "{err}");
    }
    // A numeric value with blanks around it is fine.
    let ok = enc
        .encode_row(|n| (n == "tenure_months").then(|| " 12 ".to_owned()))
        .unwrap();
    let i = enc
        .features
        .iter()
        .position(|f| f.name == "tenure_months")
        .unwrap();
    assert_eq!(ok[i], 12.0);
}

#[test]
fn encoding_a_frame_without_a_feature_column_names_it() {
    let b = base();
    let mut frame = b.data.frame.clone();
    frame.columns.retain(|c| c.name != "contract");
    let err = b
        .trained
        .model
        .header
        .encoder
        .encode(&frame, &[0, 1])
        .expect_err("column missing");
    assert!(
        matches!(&err, KindError::Input { feature, .. } if feature == "contract"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------
// 6. Time-ordered split
// ---------------------------------------------------------------------------------

#[test]
fn time_column_holds_out_the_latest_rows() {
    let uc = usecase_with(&[("time = \"\"", "time = \"signup_date\"")]);
    let d = data(1000, 3, &uc);
    let t = train_with(&d, &uc, 42).expect("train");
    let r = &t.report;
    assert!(r.split.contains("signup_date"), "{}", r.split);
    assert!(
        !r.features.iter().any(|f| f == "signup_date"),
        "the time column is a feature"
    );

    // Reproduce: labelled rows ordered by time (ties by position), the latest 25% held out.
    let time = num_values(&d.frame, "signup_date");
    let churn = str_values(&d.frame, "churn");
    let mut labelled: Vec<usize> = (0..d.frame.n_rows)
        .filter(|&i| churn[i].is_some())
        .collect();
    assert!(labelled.iter().all(|&i| !time[i].is_nan()));
    labelled.sort_by(|&a, &b| time[a].total_cmp(&time[b]).then(a.cmp(&b)));
    let cut = labelled.len() - r.rows_test;
    assert_eq!(r.rows_train, cut);
    let (train_rows, test_rows) = labelled.split_at(cut);
    let latest_train = train_rows
        .iter()
        .map(|&i| time[i])
        .fold(f64::NEG_INFINITY, f64::max);
    let earliest_test = test_rows
        .iter()
        .map(|&i| time[i])
        .fold(f64::INFINITY, f64::min);
    assert!(latest_train <= earliest_test);

    // The report's held-out AUC is the AUC on exactly these rows.
    let mut test_sorted = test_rows.to_vec();
    test_sorted.sort_unstable();
    let p: Vec<f64> = encoded_rows(&t.model, &d.frame, &test_sorted)
        .iter()
        .map(|row| t.model.model.predict(row).unwrap())
        .collect();
    let y: Vec<f64> = test_sorted
        .iter()
        .map(|&i| f64::from(u8::from(churn[i].as_deref() == Some("Yes"))))
        .collect();
    let auc = klartext_learn::metrics::roc_auc(&y, &p).unwrap();
    let reported = r.metrics.auc.unwrap();
    assert!(
        (auc - reported).abs() < 1e-9,
        "held-out AUC {reported}, latest rows give {auc}"
    );
}

#[test]
fn a_text_time_column_is_refused() {
    let uc = usecase_with(&[("time = \"\"", "time = \"plan\"")]);
    let d = data(300, 3, &uc);
    let err = train_with(&d, &uc, 42).expect_err("plan is not a time");
    assert!(err.to_string().contains("`plan`"), "{err}");
}

// ---------------------------------------------------------------------------------
// 7. Regression
// ---------------------------------------------------------------------------------

const REGRESSION_USECASE: &str = r#"id = "churn"
title = "Monthly charges"
goal = "Estimate what a customer pays per month."
kind = "regression"
owner = "crm-team@example.com"
risk = "minimal"

[data]
target = "monthly_charges"
id = "customer_id"
exclude = ["total_charges", "churn"]
protected = ["female", "senior_citizen"]

[gates]
min_r2 = 0.2
max_rmse = 1000.0
max_overfit_gap = 1.0
"#;

#[test]
fn regression_reports_errors_not_auc() {
    let uc = usecase(REGRESSION_USECASE);
    let d = data(1500, 4, &uc);
    let t = train_with(&d, &uc, 42).expect("train");
    let r = &t.report;
    assert_eq!(r.task, Task::Regression);
    let m = &r.metrics;
    assert!(m.rmse.is_some_and(|v| v.is_finite() && v > 0.0), "{m:?}");
    assert!(m.mae.is_some_and(|v| v.is_finite() && v > 0.0), "{m:?}");
    assert!(m.r2.is_some_and(|v| v > 0.2 && v <= 1.0), "{m:?}");
    assert!(m.mae.unwrap() <= m.rmse.unwrap());
    for (what, v) in [
        ("auc", m.auc),
        ("pr_auc", m.pr_auc),
        ("log_loss", m.log_loss),
        ("brier", m.brier),
    ] {
        assert!(v.is_none(), "regression has {what}");
    }
    let json = serde_json::to_value(m).unwrap();
    assert!(json.get("auc").is_none(), "{json}");
    assert!(json["rmse"].is_number());
    assert!(r.threshold.is_none());
    assert!(r.split.contains("random"), "{}", r.split);
    for not in ["monthly_charges", "total_charges", "churn", "female"] {
        assert!(
            !r.features.iter().any(|f| f == not),
            "`{not}` is a feature: {:?}",
            r.features
        );
    }
    let names: Vec<&str> = r.gates.iter().map(|g| g.gate.as_str()).collect();
    assert_eq!(names, ["max_rmse", "min_r2", "max_overfit_gap"]);
    r.gates.iter().for_each(assert_gate_consistent);
    assert!(r.gates_passed, "{:?}", r.gates);

    let a = Artifact::from_bytes(&t.bytes).unwrap();
    assert_eq!(a.header.task, Task::Regression);
    assert_eq!(a.header.positive, None);
    // Explanations add up for regression too; reasons speak of the predicted value.
    let rows = encoded_rows(&a, &d.frame, &[0, 1, 2, 3, 4]);
    for row in &rows {
        let e = a.model.explain(row).unwrap();
        let raw = a.model.predict_raw(row).unwrap();
        assert!((e.expected_value + e.contributions.iter().sum::<f64>() - raw).abs() < 1e-9);
        for s in klartext_kinds::supervised::reasons::reasons(
            &a.header.encoder,
            row,
            &e,
            Task::Regression,
            "monthly_charges",
            3,
        ) {
            assert!(s.contains("the predicted monthly_charges"), "{s}");
        }
    }
}

#[test]
fn regression_on_a_text_target_is_refused() {
    let uc =
        usecase(&REGRESSION_USECASE.replace("target = \"monthly_charges\"", "target = \"plan\""));
    let d = data(200, 4, &uc);
    let err = train_with(&d, &uc, 42).expect_err("text target");
    assert!(
        err.to_string().contains("`plan`") && err.to_string().contains("numeric"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// 8. Inputs training refuses
// ---------------------------------------------------------------------------------

#[test]
fn segmentation_is_not_trained_here() {
    let uc = usecase(
        &EXAMPLE_USECASE
            .replace("kind = \"classification\"", "kind = \"segmentation\"")
            .replace("[gates]\nmin_auc = 0.75\n", "[gates]\n")
            .replace("positive = \"Yes\"\n", ""),
    );
    let b = base();
    let err = train_with(&b.data, &uc, 42).expect_err("segmentation");
    assert!(matches!(err, KindError::UseCase(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("segmentation") && msg.contains("does not learn from a target column"),
        "{msg}"
    );
    // Nor by the registry: this build has no segmentation module yet.
    let err = klartext_kinds::kind_of(uc.kind)
        .err()
        .expect("not registered");
    assert!(matches!(err, KindError::NotAvailable(_)), "{err:?}");
}

#[test]
fn a_single_class_target_is_refused() {
    let b = base();
    let churn = str_values(&b.data.frame, "churn");
    let only_no = b
        .data
        .frame
        .filter_rows(|i| churn[i].as_deref() == Some("No"));
    assert!(only_no.n_rows > 100);
    let d = Data {
        frame: only_no,
        schema: b.data.schema.clone(),
        report: b.data.report.clone(),
        dataset_id: "ds_only_no".into(),
    };
    let err = train_with(&d, &b.uc, 42).expect_err("one class");
    assert!(matches!(err, KindError::Data(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("no row's target `churn` is the positive class `Yes`")
            && msg.contains("`No` ("),
        "{msg}"
    );
}

#[test]
fn fewer_than_20_labelled_rows_are_refused() {
    let b = base();
    let rows: Vec<usize> = (0..19).collect();
    let d = Data {
        frame: b.data.frame.take_rows(&rows),
        schema: b.data.schema.clone(),
        report: b.data.report.clone(),
        dataset_id: "ds_tiny".into(),
    };
    let err = train_with(&d, &b.uc, 42).expect_err("19 rows");
    assert!(matches!(err, KindError::Data(_)), "{err:?}");
    assert!(
        err.to_string().contains("19") && err.to_string().contains("20"),
        "{err}"
    );

    // Many rows, but only 19 with a target value.
    let mut frame = b.data.frame.take_rows(&(0..300).collect::<Vec<_>>());
    blank_target(&mut frame, |i| i >= 19);
    let d = Data { frame, ..d };
    let err = train_with(&d, &b.uc, 42).expect_err("19 labelled rows");
    assert!(
        err.to_string().contains("only 19 rows have a target value"),
        "{err}"
    );
}

/// Set the `churn` value of the rows `blank` picks to missing.
fn blank_target(frame: &mut Frame, blank: impl Fn(usize) -> bool) {
    let col = frame
        .columns
        .iter_mut()
        .find(|c| c.name == "churn")
        .expect("churn");
    let ColumnData::Str(s) = &mut col.data else {
        panic!("churn is not text")
    };
    for (i, c) in s.codes.iter_mut().enumerate() {
        if blank(i) {
            *c = MISSING_CODE;
        }
    }
}

#[test]
fn rows_without_a_target_are_left_out() {
    let b = base();
    let mut frame = b.data.frame.clone();
    blank_target(&mut frame, |i| i % 10 == 0);
    let d = Data {
        frame,
        schema: b.data.schema.clone(),
        report: b.data.report.clone(),
        dataset_id: b.data.dataset_id.clone(),
    };
    let t = train_with(&d, &b.uc, 42).expect("train");
    let n = b.data.frame.n_rows;
    let blanked = n.div_ceil(10);
    assert_eq!(t.report.rows_without_target, blanked);
    assert_eq!(t.report.rows_train + t.report.rows_test, n - blanked);
    assert_eq!(t.report.rows_total, n);
}

#[test]
fn a_missing_target_column_is_named() {
    let b = base();
    let mut frame = b.data.frame.clone();
    frame.columns.retain(|c| c.name != "churn");
    let d = Data {
        frame,
        schema: b.data.schema.clone(),
        report: b.data.report.clone(),
        dataset_id: b.data.dataset_id.clone(),
    };
    let err = train_with(&d, &b.uc, 42).expect_err("no target");
    assert!(err.to_string().contains("`churn`"), "{err}");
}

#[test]
fn non_finite_time_value_is_an_input_error() {
    let enc = &base().trained.model.header.encoder;
    assert!(enc.features.iter().any(|f| f.name == "signup_date"));
    for bad in ["inf", "-inf", "infinity"] {
        let got = enc.encode_row(|n| (n == "signup_date").then(|| bad.to_owned()));
        match got {
            Err(KindError::Input { feature, .. }) => assert_eq!(feature, "signup_date"),
            other => panic!("`{bad}` for signup_date gave {other:?}"),
        }
    }
}

#[test]
fn non_boolean_text_for_a_boolean_feature_is_an_input_error() {
    let enc = &base().trained.model.header.encoder;
    let f = enc
        .features
        .iter()
        .find(|f| f.kind == klartext_core::ColumnKind::Boolean)
        .expect("a boolean feature (newsletter)");
    let name = f.name.clone();
    let got = enc.encode_row(|n| (n == name).then(|| "maybe".to_owned()));
    match got {
        Err(KindError::Input { feature, .. }) => assert_eq!(feature, name),
        other => panic!("`maybe` for {name} gave {other:?}"),
    }
}

#[test]
fn artifact_loads_when_a_feature_is_missing_in_all_training_rows() {
    // A field that was only recorded lately: with a time-ordered split, every training
    // row lacks it.
    let uc = usecase_with(&[("time = \"\"", "time = \"signup_date\"")]);
    let mut d = data(600, 5, &uc);
    let time = num_values(&d.frame, "signup_date");
    let mut sorted = time.clone();
    sorted.sort_by(f64::total_cmp);
    let late = sorted[sorted.len() * 4 / 5];
    let col = d
        .frame
        .columns
        .iter_mut()
        .find(|c| c.name == "support_calls")
        .unwrap();
    let ColumnData::Num(v) = &mut col.data else {
        panic!("support_calls is not numeric")
    };
    for (x, t) in v.iter_mut().zip(&time) {
        if *t < late {
            *x = f64::NAN;
        }
    }
    let t = train_with(&d, &uc, 42).expect("train");
    assert!(t.report.features.iter().any(|f| f == "support_calls"));
    let loaded = Artifact::from_bytes(&t.bytes);
    assert!(
        loaded.is_ok(),
        "the trained artifact does not load: {:?}",
        loaded.err()
    );
}
