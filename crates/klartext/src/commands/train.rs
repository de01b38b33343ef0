//! `klartext train`: a registered dataset in, a validated, documented model version out.

use super::{emit, print_json};
use crate::project::{actor, Project};
use crate::render::{table, time_ms};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use klartext_data::ingest::{load_snapshot, SnapshotInfo};
use klartext_learn::select::Progress;
use klartext_store::{now_ms, ModelRecord, Registered, Store};
use klartext_train::{train, TrainOptions};
use std::io::IsTerminal;

/// Train and register; returns the version id.
pub fn run(
    p: &Project,
    usecase: &str,
    dataset: Option<&str>,
    seed: u64,
    json: bool,
) -> Result<String> {
    let uc = p.usecase(usecase)?;
    let store = p.open_store()?;
    let reg = match dataset {
        Some(id) => store.registration(id, &uc.id)?.with_context(|| {
            format!("dataset `{id}` is not registered for use case `{}`; `klartext data list --usecase {}` shows the ones that are", uc.id, uc.id)
        })?,
        None => store.registrations(Some(&uc.id))?.into_iter().next().with_context(|| {
            format!("use case `{}` has no dataset yet; add one with `klartext data add FILE --usecase {}`", uc.id, uc.id)
        })?,
    };
    let record = store
        .dataset(&reg.dataset_id)?
        .context("registration without its dataset")?;
    let snapshot: SnapshotInfo = serde_json::from_value(record.snapshot.clone())
        .context("stored snapshot description is unreadable")?;
    let bytes = store.snapshot_bytes(&record)?;
    let frame = load_snapshot(&bytes, &snapshot, &reg.schema, Some(&uc))?;
    drop(bytes);
    // Subjects who objected (GDPR Art. 21) are not trained on.
    let (frame, excluded) = klartext_server::rights::exclude_objected(&store, frame, &uc)?;
    if excluded > 0 && !json {
        super::emit(&format!(
            "left out {excluded} rows of subjects who objected to profiling\n"
        ));
    }

    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:20}] {pos}/{len} ({elapsed})")
            .expect("static template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut on_progress = |ev: &Progress| match ev {
        Progress::Candidate { index, total, name } => {
            bar.set_length(*total as u64 + 1);
            bar.set_position(*index as u64);
            bar.set_message(format!("cross-validating {name}"));
        }
        Progress::CandidateDone { .. } => bar.inc(1),
        Progress::Refit { name } => bar.set_message(format!("refitting {name}")),
    };
    let trained = train(
        &frame,
        &reg.schema,
        &uc,
        &record.id,
        Some(&reg.report),
        &TrainOptions {
            seed,
            ..TrainOptions::default()
        },
        &mut on_progress,
    )?;
    bar.finish_and_clear();

    let who = actor();
    let created_ms = now_ms();
    let card = klartext_train::card::model_card(
        &uc,
        &trained.version,
        &trained.report,
        &time_ms(created_ms),
        &who,
    );
    let blob = store.put_artifact(&trained.sha256, &trained.bytes)?;
    let r = &trained.report;
    let rec = ModelRecord {
        usecase_id: uc.id.clone(),
        version: trained.version.clone(),
        sha256: trained.sha256.clone(),
        dataset_id: record.id.clone(),
        learner: r.learner.clone(),
        gates_passed: r.gates_passed,
        report: serde_json::to_value(r)?,
        card,
        created_ms,
        created_by: who,
    };
    let outcome = store.register_model(&rec, &blob)?;
    // Kept beside the model (not in the artifact, whose bytes are its version): a crash
    // between the two leaves a model that monitoring asks to be trained again.
    store.set_model_reference(&uc.id, &trained.version, &trained.reference.to_json())?;
    if json {
        print_json(&serde_json::json!({
            "version": trained.version,
            "usecase": uc.id,
            "status": if outcome == Registered::Existing { "existing" } else { "registered" },
            "sha256": trained.sha256,
            "dataset_id": record.id,
            "excluded_objected_rows": excluded,
            "learner": r.learner,
            "metrics": r.metrics,
            "train_metrics": r.train_metrics,
            "overfit_gap": r.overfit_gap,
            "threshold": r.threshold,
            "fairness": r.fairness,
            "gates": r.gates,
            "gates_passed": r.gates_passed,
            "cv": r.cv,
            "importance": r.importance,
        }));
    } else {
        emit(&summary(
            &uc.id,
            &trained.version,
            r,
            outcome == Registered::Existing,
        ));
    }
    Ok(trained.version)
}

/// The training result as a person reads it.
pub fn summary(
    usecase: &str,
    version: &str,
    r: &klartext_train::TrainingReport,
    existing: bool,
) -> String {
    let mut out = format!(
        "Model {usecase}@{version}{}: {} on dataset {} ({} training rows, {} held out; {})\n\n",
        if existing {
            " (already registered: same data, same seed)"
        } else {
            ""
        },
        r.learner,
        r.dataset_id,
        r.rows_train,
        r.rows_test,
        r.split
    );
    let rows: Vec<Vec<String>> =
        r.cv.rows
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    format!("{}{}", c.name, if i == r.cv.chosen { " *" } else { "" }),
                    format!("{:.4}", c.mean),
                    format!("{:.4}", c.std),
                    c.rounds.map_or(String::new(), |x| x.to_string()),
                ]
            })
            .collect();
    out.push_str(&format!(
        "{}-fold cross-validation ({}; * chosen):\n",
        r.cv.k, r.cv.metric
    ));
    out.push_str(&table(&["candidate", "mean", "std", "rounds"], &rows));
    let m = &r.metrics;
    let fmt = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.4}"));
    out.push_str("\nHeld-out: ");
    out.push_str(&match r.task {
        klartext_learn::Task::BinaryClassification => format!(
            "AUC {}, PR-AUC {}, log loss {}, Brier {}, calibration error {}, lift@10% {}, gain@10% {}",
            fmt(m.auc), fmt(m.pr_auc), fmt(m.log_loss), fmt(m.brier), fmt(m.calibration_error), fmt(m.lift_top10), fmt(m.gain_top10)
        ),
        klartext_learn::Task::Regression => format!("RMSE {}, MAE {}, R² {}", fmt(m.rmse), fmt(m.mae), fmt(m.r2)),
    });
    out.push_str(&format!("\nOverfitting gap: {:.4}\n", r.overfit_gap));
    for p in &r.fairness {
        out.push_str(&format!(
            "Fairness `{}`: demographic parity ratio {:.3}, difference {:.3}, equalized odds difference {:.3}\n",
            p.attribute, p.report.demographic_parity_ratio, p.report.demographic_parity_difference, p.report.equalized_odds_difference
        ));
    }
    if !r.gates.is_empty() {
        out.push_str("\nGates:\n");
        let rows: Vec<Vec<String>> = r
            .gates
            .iter()
            .map(|g| {
                vec![
                    g.gate.clone(),
                    g.threshold.to_string(),
                    fmt(g.value),
                    if g.passed {
                        "passed".into()
                    } else {
                        "FAILED".into()
                    },
                ]
            })
            .collect();
        out.push_str(&table(&["gate", "threshold", "measured", "result"], &rows));
    }
    out.push_str(&format!(
        "\n{}\nTop drivers: {}\n",
        if r.gates_passed {
            "All gates passed."
        } else {
            "Some gates failed: this version cannot be promoted without an override."
        },
        r.importance
            .iter()
            .take(5)
            .map(|i| i.feature.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out
}
