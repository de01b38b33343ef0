//! `klartext train`: a registered dataset in, a validated, documented model version out.

use super::{emit, print_json};
use crate::project::{actor, Project};
use crate::render::time_ms;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use klartext_data::ingest::{load_snapshot, SnapshotInfo};
use klartext_kinds::{DatasetInput, TrainInput, TrainOptions};
use klartext_learn::select::Progress;
use klartext_store::{now_ms, ModelRecord, Registered, Store};
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
    let (frame, excluded) = klartext_govern::rights::exclude_objected(&store, frame, &uc)?;
    if excluded > 0 && !json {
        super::emit(&format!(
            "left out {excluded} rows of subjects who objected to profiling\n"
        ));
    }

    let kind = klartext_kinds::kind_of(uc.kind)?;
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
    let input = TrainInput {
        usecase: &uc,
        dataset: DatasetInput {
            id: &record.id,
            frame: &frame,
            schema: &reg.schema,
            quality: Some(&reg.report),
        },
    };
    let trained = kind.train(
        &input,
        &TrainOptions {
            seed,
            ..TrainOptions::default()
        },
        &mut on_progress,
    )?;
    bar.finish_and_clear();

    let who = actor();
    let created_ms = now_ms();
    let card = kind.card(
        &uc,
        &trained.version,
        &trained.report,
        &time_ms(created_ms),
        &who,
    )?;
    let blob = store.put_artifact(&trained.sha256, &trained.bytes)?;
    let head = &trained.head;
    let rec = ModelRecord {
        usecase_id: uc.id.clone(),
        version: trained.version.clone(),
        sha256: trained.sha256.clone(),
        dataset_id: record.id.clone(),
        learner: head.learner.clone(),
        gates_passed: head.gates_passed,
        report: trained.report.clone(),
        card,
        created_ms,
        created_by: who,
    };
    let outcome = store.register_model(&rec, &blob)?;
    // Kept beside the model (not in the artifact, whose bytes are its version): a crash
    // between the two leaves a model that monitoring asks to be trained again.
    if let Some(reference) = &trained.reference {
        store.set_model_reference(&uc.id, &trained.version, reference)?;
    }
    let existing = outcome == Registered::Existing;
    if json {
        // The kind's whole report, with what registration adds.
        let mut out = match trained.report.clone() {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        for (k, v) in [
            ("version", serde_json::json!(trained.version)),
            ("usecase", serde_json::json!(uc.id)),
            ("kind", serde_json::json!(uc.kind)),
            (
                "status",
                serde_json::json!(if existing { "existing" } else { "registered" }),
            ),
            ("sha256", serde_json::json!(trained.sha256)),
            ("dataset_id", serde_json::json!(record.id)),
            ("excluded_objected_rows", serde_json::json!(excluded)),
        ] {
            out.insert(k.to_owned(), v);
        }
        print_json(&serde_json::Value::Object(out));
    } else {
        emit(&format!(
            "Model {}@{}{}: {}",
            uc.id,
            trained.version,
            if existing {
                " (already registered: same data, same seed)"
            } else {
                ""
            },
            kind.summary(&trained.report)?
        ));
    }
    Ok(trained.version)
}
