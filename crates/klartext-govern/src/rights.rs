//! Data-subject rights over the store and the dataset snapshots, without HTTP: finding
//! and exporting a subject's data (GDPR Art. 15, JSON and a self-contained HTML page),
//! erasing it (Art. 17: snapshot rewrites, pseudonymised prediction log), excluding
//! objected subjects from training (Art. 21), and running retention. The CLI and the
//! server both call these (through [`crate::Governor`] where a process serves).

use crate::error::GovernError;
use klartext_core::text::escape_html as esc;
use klartext_core::{ColumnData, Frame, UseCase};
use klartext_data::ingest::{ingest, load_snapshot, IngestOptions, SnapshotInfo};
use klartext_store::{
    now_ms, Erasure, ErasureReport, PurgeReport, RetentionRule, SnapshotRewrite, Store, StoreError,
    SubjectRecords,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};

/// The longest subject id accepted.
pub const MAX_SUBJECT_LEN: usize = 256;

/// Refuse an empty or absurd subject id.
pub fn check_subject(id: &str) -> Result<(), GovernError> {
    if id.trim().is_empty() {
        return Err(GovernError::BadSubject("the subject id is empty".into()));
    }
    if id.len() > MAX_SUBJECT_LEN {
        return Err(GovernError::BadSubject(format!(
            "the subject id is longer than {MAX_SUBJECT_LEN} bytes"
        )));
    }
    Ok(())
}

/// The subject's rows in one dataset, as registered for one use case.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetRows {
    pub dataset_id: String,
    pub usecase_id: String,
    pub source_name: String,
    pub id_column: String,
    /// Each row as `{column: value}` (text as stored; missing values are `null`).
    pub rows: Vec<Map<String, Value>>,
}

/// Everything klartext keeps about one subject.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectExport {
    pub subject_id: String,
    pub generated_ms: i64,
    /// `false` when nothing at all is kept.
    pub found: bool,
    pub datasets: Vec<DatasetRows>,
    /// Each prediction with its use case, model version, score, decision and reasons.
    pub predictions: Vec<Value>,
    pub feedback: Vec<klartext_store::Feedback>,
    pub objection: Option<klartext_store::Objection>,
    pub reviews: Vec<klartext_store::Review>,
    /// For each use case that processed the subject: what it is for and on what legal
    /// basis (GDPR Art. 15(1)(h): meaningful information about the logic involved).
    pub logic: Vec<Value>,
}

/// Where a subject's id sits in a loaded frame: the matching row indices.
fn matching_rows(frame: &Frame, column: &str, candidates: &[String]) -> Vec<usize> {
    let Some(col) = frame.column(column) else {
        return Vec::new();
    };
    match &col.data {
        ColumnData::Str(s) => {
            let codes: HashSet<u32> = s
                .levels
                .iter()
                .enumerate()
                .filter(|(_, l)| candidates.iter().any(|c| c == *l))
                .map(|(i, _)| i as u32)
                .collect();
            if codes.is_empty() {
                return Vec::new();
            }
            (0..frame.n_rows)
                .filter(|&i| codes.contains(&s.codes[i]))
                .collect()
        }
        ColumnData::Num(v) => {
            let wanted: Vec<f64> = candidates
                .iter()
                .filter_map(|c| c.trim().parse::<f64>().ok())
                .filter(|x| x.is_finite())
                .collect();
            (0..frame.n_rows)
                .filter(|&i| wanted.contains(&v[i]))
                .collect()
        }
    }
}

/// The values a subject's id may be stored as: itself and, when a key is given, its
/// pseudonym (for id columns pseudonymised at ingest).
fn candidates(subject: &str, key: Option<&[u8]>) -> Vec<String> {
    let mut c = vec![subject.to_owned()];
    if let Some(k) = key {
        c.push(klartext_data::pii::Pseudonymiser::new(k).pseudonymise(subject));
    }
    c
}

/// One registration's dataset, loaded.
struct Loaded {
    record: klartext_store::DatasetRecord,
    reg: klartext_store::Registration,
    uc: UseCase,
    frame: Frame,
    rows: Vec<usize>,
}

/// Load every registered dataset and find the subject's rows, per registration.
fn scan(
    store: &dyn Store,
    usecases: &[UseCase],
    subject: &str,
    key: Option<&[u8]>,
) -> Result<Vec<Loaded>, GovernError> {
    let cands = candidates(subject, key);
    let mut out = Vec::new();
    for reg in store.registrations(None)? {
        let uc = usecases
            .iter()
            .find(|u| u.id == reg.usecase_id)
            .ok_or_else(|| GovernError::SubjectDataUnavailable {
                dataset: reg.dataset_id.clone(),
                usecase: reg.usecase_id.clone(),
            })?;
        let Some(record) = store.dataset(&reg.dataset_id)? else {
            continue;
        };
        let data_err = |source| GovernError::Data {
            dataset: record.id.clone(),
            source,
        };
        let info: SnapshotInfo = serde_json::from_value(record.snapshot.clone()).map_err(|e| {
            StoreError::Decode(format!("snapshot description of {}: {e}", record.id))
        })?;
        let bytes = store.snapshot_bytes(&record)?;
        let frame = load_snapshot(&bytes, &info, &reg.schema, Some(uc)).map_err(data_err)?;
        let rows = matching_rows(&frame, &uc.data.id, &cands);
        out.push(Loaded {
            record,
            reg,
            uc: uc.clone(),
            frame,
            rows,
        });
    }
    Ok(out)
}

fn row_json(frame: &Frame, i: usize) -> Map<String, Value> {
    frame
        .columns
        .iter()
        .map(|c| {
            let v = match &c.data {
                ColumnData::Num(v) if !v[i].is_nan() => json!(v[i]),
                other => other.display(i).map_or(Value::Null, Value::String),
            };
            (c.name.clone(), v)
        })
        .collect()
}

/// What every kind's logged output holds: its label (if it has one) and its reasons.
#[derive(Debug, Default, Deserialize)]
struct OutputHead {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    reasons: Vec<String>,
}

/// One logged decision as the subject reads it.
fn prediction_json(p: &klartext_store::PredictionRecord) -> Value {
    use klartext_core::DecisionStatus;
    let head = OutputHead::deserialize(&p.output).unwrap_or_default();
    json!({
        "prediction_id": p.prediction_id,
        "at_ms": p.at_ms,
        "use_case": p.usecase_id,
        "kind": p.kind,
        "model_version": p.model_version,
        "role": p.role,
        "status": p.status,
        "score": p.score,
        "label": head.label,
        "decision": (p.status == DecisionStatus::HeldForReview).then_some("pending review"),
        "objected": p.status == DecisionStatus::Objected,
        "fallback": p.fallback,
        "batch_id": p.batch_id,
        "reasons": head.reasons,
    })
}

/// Everything kept about `subject`: dataset rows, predictions with reasons, feedback,
/// objection, review items, and what each use case involved is for.
pub fn export(
    store: &dyn Store,
    usecases: &[UseCase],
    subject: &str,
    key: Option<&[u8]>,
) -> Result<SubjectExport, GovernError> {
    check_subject(subject)?;
    let datasets: Vec<DatasetRows> = scan(store, usecases, subject, key)?
        .into_iter()
        .filter(|l| !l.rows.is_empty())
        .map(|l| DatasetRows {
            dataset_id: l.record.id.clone(),
            usecase_id: l.reg.usecase_id.clone(),
            source_name: l.record.source_name.clone(),
            id_column: l.uc.data.id.clone(),
            rows: l.rows.iter().map(|&i| row_json(&l.frame, i)).collect(),
        })
        .collect();
    let SubjectRecords {
        predictions,
        feedback,
        objection,
        reviews,
    } = store.subject_records(subject)?;
    let mut involved: Vec<&str> = datasets
        .iter()
        .map(|d| d.usecase_id.as_str())
        .chain(predictions.iter().map(|p| p.usecase_id.as_str()))
        .collect();
    involved.sort_unstable();
    involved.dedup();
    let logic = involved
        .iter()
        .map(|id| match usecases.iter().find(|u| u.id == *id) {
            Some(u) => json!({
                "use_case": u.id,
                "title": u.title,
                "goal": u.goal,
                "kind": u.kind,
                "legal_basis": u.legal_basis,
                "significant_effect": u.significant_effect,
                "human_review": u.significant_effect,
                "how": "a model trained on past data scores each request; each score comes with the features that moved it most, in words",
            }),
            None => json!({ "use_case": id }),
        })
        .collect();
    let found = !datasets.is_empty()
        || !predictions.is_empty()
        || !feedback.is_empty()
        || objection.is_some()
        || !reviews.is_empty();
    Ok(SubjectExport {
        subject_id: subject.to_owned(),
        generated_ms: now_ms(),
        found,
        datasets,
        predictions: predictions.iter().map(prediction_json).collect(),
        feedback,
        objection,
        reviews,
        logic,
    })
}

/// Where the subject's data is, in counts: what `klartext subject find` answers. Empty
/// when nothing is kept.
pub fn find(
    store: &dyn Store,
    usecases: &[UseCase],
    subject: &str,
    key: Option<&[u8]>,
) -> Result<Vec<Value>, GovernError> {
    let e = export(store, usecases, subject, key)?;
    let mut hits = Vec::new();
    for d in &e.datasets {
        hits.push(json!({ "kind": "dataset", "dataset_id": d.dataset_id, "use_case": d.usecase_id, "rows": d.rows.len() }));
    }
    let mut by_uc: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &e.predictions {
        *by_uc
            .entry(p["use_case"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    for (uc, n) in by_uc {
        hits.push(json!({ "kind": "predictions", "use_case": uc, "rows": n }));
    }
    if !e.feedback.is_empty() {
        hits.push(json!({ "kind": "feedback", "rows": e.feedback.len() }));
    }
    if e.objection.is_some() {
        hits.push(json!({ "kind": "objection", "rows": 1 }));
    }
    if !e.reviews.is_empty() {
        hits.push(json!({ "kind": "reviews", "rows": e.reviews.len() }));
    }
    Ok(hits)
}

/// Erase a subject: every dataset holding its rows gets a new snapshot without them
/// (written and synced before the store commits; the old file is removed after), its
/// prediction-log rows are pseudonymised, its feedback deleted, in one store
/// transaction with a `subject.erased` event that holds no personal data. Models
/// already trained on the data are not retrained.
pub fn erase(
    store: &dyn Store,
    usecases: &[UseCase],
    subject: &str,
    key: Option<&[u8]>,
    actor: &str,
) -> Result<ErasureReport, GovernError> {
    check_subject(subject)?;
    let loaded = scan(store, usecases, subject, key)?;
    // Per dataset: the union of the rows its registrations name.
    let mut by_dataset: BTreeMap<String, Vec<&Loaded>> = BTreeMap::new();
    for l in &loaded {
        by_dataset.entry(l.record.id.clone()).or_default().push(l);
    }
    let mut rewrites = Vec::new();
    for (id, regs) in by_dataset {
        let remove: HashSet<usize> = regs.iter().flat_map(|l| l.rows.iter().copied()).collect();
        if remove.is_empty() {
            continue;
        }
        let first = regs[0];
        let data_err = |source| GovernError::Data {
            dataset: id.clone(),
            source,
        };
        let kept = first.frame.filter_rows(|i| !remove.contains(&i));
        let mut bytes = Vec::new();
        klartext_data::write::write_csv(&kept, Some(&first.reg.schema), &mut bytes).map_err(
            |e| {
                data_err(klartext_data::DataError::Invalid(format!(
                    "cannot write the new snapshot: {e}"
                )))
            },
        )?;
        let mut registrations = Vec::new();
        let mut info = None;
        for l in &regs {
            // Re-read the new bytes as registration does, without pseudonymising again
            // (pseudonyms stay as they are; the flags are carried over).
            let mut uc = l.uc.clone();
            uc.data.pseudonymise.clear();
            let ing = ingest(
                &l.record.source_name,
                &bytes,
                Some(&uc),
                &IngestOptions::default(),
                None,
            )
            .map_err(data_err)?;
            let mut schema = ing.schema;
            for (new, old) in schema.columns.iter_mut().zip(&l.reg.schema.columns) {
                if old.pseudonymised && new.name == old.name {
                    new.pseudonymised = true;
                    new.kind = old.kind;
                    new.role = old.role;
                }
            }
            // The rewritten snapshot must load as training will load it.
            load_snapshot(&bytes, &ing.snapshot, &schema, Some(&l.uc)).map_err(data_err)?;
            registrations.push((l.reg.usecase_id.clone(), schema, ing.report));
            info.get_or_insert(ing.snapshot);
        }
        let info = info.expect("a dataset with rows to remove has a registration");
        let staged = store.stage_snapshot(&bytes)?;
        let blob = store.publish_snapshot(staged, &info.sha256, &info.extension)?;
        rewrites.push(SnapshotRewrite {
            dataset_id: id.clone(),
            old_sha256: first.record.sha256.clone(),
            new_sha256: info.sha256.clone(),
            new_blob_path: blob,
            snapshot: serde_json::to_value(&info).expect("snapshot descriptions serialise"),
            rows: kept.n_rows as u64,
            bytes: bytes.len() as u64,
            rows_removed: remove.len() as u64,
            registrations,
        });
    }
    Ok(store.erase_subject(&Erasure {
        subject_id: subject.to_owned(),
        actor: actor.to_owned(),
        datasets: rewrites,
    })?)
}

/// A training frame without the rows of subjects who objected; and how many went.
pub fn exclude_objected(
    store: &dyn Store,
    frame: Frame,
    uc: &UseCase,
) -> Result<(Frame, usize), GovernError> {
    let objected: Vec<String> = store
        .objections()?
        .into_iter()
        .map(|o| o.subject_id)
        .collect();
    let erased = store.suppression()?;
    if objected.is_empty() && erased.is_empty() {
        return Ok((frame, 0));
    }
    let mut rows: HashSet<usize> = matching_rows(&frame, &uc.data.id, &objected)
        .into_iter()
        .collect();
    // Subjects erased after objecting are known only by a keyed hash: test each id.
    if !erased.is_empty() {
        if let Some(col) = frame.column(&uc.data.id) {
            match &col.data {
                klartext_core::ColumnData::Str(s) => {
                    let hit: Vec<bool> = s.levels.iter().map(|l| erased.contains(l)).collect();
                    rows.extend(s.codes.iter().enumerate().filter_map(|(i, &c)| {
                        (c != klartext_core::MISSING_CODE && hit[c as usize]).then_some(i)
                    }));
                }
                klartext_core::ColumnData::Num(v) => {
                    rows.extend(v.iter().enumerate().filter_map(|(i, &x)| {
                        (!x.is_nan() && erased.contains(&klartext_core::frame::format_number(x)))
                            .then_some(i)
                    }));
                }
            }
        }
    }
    if rows.is_empty() {
        return Ok((frame, 0));
    }
    let kept = frame.filter_rows(|i| !rows.contains(&i));
    Ok((kept, rows.len()))
}

/// The retention rule of each use case that has one, as of `now_ms`.
pub fn retention_rules(usecases: &[UseCase], now_ms: i64) -> Vec<RetentionRule> {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    usecases
        .iter()
        .filter(|u| u.retention.predictions_days.is_some() || u.retention.datasets_days.is_some())
        .map(|u| RetentionRule {
            usecase_id: u.id.clone(),
            predictions_before_ms: u
                .retention
                .predictions_days
                .map(|d| now_ms - i64::from(d) * DAY_MS),
            datasets_before_ms: u
                .retention
                .datasets_days
                .map(|d| now_ms - i64::from(d) * DAY_MS),
        })
        .collect()
}

/// Purge what every use case's retention lets expire, now.
pub fn run_retention(
    store: &dyn Store,
    usecases: &[UseCase],
    dry_run: bool,
    actor: &str,
) -> Result<Vec<PurgeReport>, GovernError> {
    retention_rules(usecases, now_ms())
        .iter()
        .map(|r| Ok(store.purge_retention(r, dry_run, actor)?))
        .collect()
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => esc(s),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => esc(s),
                other => esc(&other.to_string()),
            })
            .collect::<Vec<_>>()
            .join("<br>"),
        other => esc(&other.to_string()),
    }
}

use klartext_core::calendar::minute_of_ms as when;

/// The export as one self-contained HTML page (no scripts, no external resources).
pub fn export_html(e: &SubjectExport) -> String {
    let mut h = String::new();
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str(&format!("<title>Your data: {}</title>", esc(&e.subject_id)));
    h.push_str("<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f3f3f3}.muted{color:#666}</style></head><body>");
    h.push_str(&format!(
        "<h1>What klartext keeps about subject {}</h1><p class=\"muted\">Generated {}. This page lists every stored data row, every automated decision with the reasons behind it (GDPR Art. 15(1)(h)), feedback, objections and human reviews.</p>",
        esc(&e.subject_id),
        when(e.generated_ms)
    ));
    if !e.found {
        h.push_str("<p><strong>Nothing is kept about this subject.</strong></p>");
    }
    if !e.logic.is_empty() {
        h.push_str("<h2>Why your data is processed</h2><table><tr><th>use case</th><th>purpose</th><th>legal basis</th><th>human review</th></tr>");
        for l in &e.logic {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if l["title"].is_string() {
                    cell(&l["title"])
                } else {
                    cell(&l["use_case"])
                },
                cell(&l["goal"]),
                cell(&l["legal_basis"]),
                if l["human_review"] == Value::Bool(true) {
                    "every decision is reviewed by a person"
                } else {
                    "no (you may contest a decision)"
                }
            ));
        }
        h.push_str("</table><p>A model trained on past data scores each request; each score comes with the features that moved it most, listed as reasons below.</p>");
    }
    for d in &e.datasets {
        h.push_str(&format!(
            "<h2>Data rows in dataset {} ({}, use case {})</h2><table><tr>",
            esc(&d.dataset_id),
            esc(&d.source_name),
            esc(&d.usecase_id)
        ));
        let cols: Vec<&String> = d
            .rows
            .first()
            .map(|r| r.keys().collect())
            .unwrap_or_default();
        for c in &cols {
            h.push_str(&format!("<th>{}</th>", esc(c)));
        }
        h.push_str("</tr>");
        for r in &d.rows {
            h.push_str("<tr>");
            for c in &cols {
                h.push_str(&format!("<td>{}</td>", cell(&r[c.as_str()])));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    if !e.predictions.is_empty() {
        h.push_str("<h2>Automated decisions</h2><table><tr><th>time</th><th>use case</th><th>model version</th><th>score</th><th>label / decision</th><th>reasons</th></tr>");
        for p in &e.predictions {
            let decision = if p["objected"] == Value::Bool(true) {
                "not scored: you objected".to_owned()
            } else if !p["decision"].is_null() && !p["decision"].is_boolean() {
                cell(&p["decision"])
            } else {
                cell(&p["label"])
            };
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                when(p["at_ms"].as_i64().unwrap_or_default()),
                cell(&p["use_case"]),
                cell(&p["model_version"]),
                cell(&p["score"]),
                decision,
                cell(&p["reasons"])
            ));
        }
        h.push_str("</table>");
    }
    if !e.feedback.is_empty() {
        h.push_str("<h2>Outcomes recorded</h2><table><tr><th>time</th><th>prediction</th><th>outcome</th></tr>");
        for f in &e.feedback {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                when(f.at_ms),
                esc(&f.prediction_id),
                cell(&f.outcome)
            ));
        }
        h.push_str("</table>");
    }
    if let Some(o) = &e.objection {
        h.push_str(&format!(
            "<h2>Objection</h2><p>You objected to profiling on {}{}. Since then no score is computed for you.</p>",
            when(o.at_ms),
            o.reason.as_deref().map(|r| format!(" (\u{201c}{}\u{201d})", esc(r))).unwrap_or_default()
        ));
    }
    if !e.reviews.is_empty() {
        h.push_str("<h2>Human reviews</h2><table><tr><th>prediction</th><th>why</th><th>status</th><th>decided</th></tr>");
        for r in &e.reviews {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.prediction_id),
                esc(r.origin.as_str()),
                esc(r.status.as_str()),
                r.decided_ms.map(when).unwrap_or_default()
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"muted\">You may ask for erasure, object to profiling, or contest a decision.</p></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_735_689_600_000 + 3_723_000), "2025-01-01 01:02 UTC");
    }

    #[test]
    fn rows_match_text_and_whole_numbers() {
        let f = Frame {
            n_rows: 3,
            columns: vec![
                klartext_core::Column {
                    name: "id".into(),
                    data: ColumnData::Num(vec![1.0, 22.0, 22.0]),
                },
                klartext_core::Column {
                    name: "email".into(),
                    data: ColumnData::Str(klartext_core::StrColumn {
                        codes: vec![0, 1, 0],
                        levels: vec!["a".into(), "b".into()],
                    }),
                },
            ],
        };
        assert_eq!(matching_rows(&f, "id", &["22".into()]), vec![1, 2]);
        assert_eq!(matching_rows(&f, "email", &["a".into()]), vec![0, 2]);
        assert!(matching_rows(&f, "missing", &["a".into()]).is_empty());
        assert!(check_subject(" ").is_err());
    }
}
