//! `klartext score`: a file in, one decision out per input row, made like any other
//! decision (through the governance layer: the champion, canary and shadow, the kill
//! switch, objections, the review hold) and in the prediction log with a batch id
//! before its row is written.

use super::print_json;
use crate::progress::bytes_bar;
use crate::project::{actor, Project};
use anyhow::{bail, Context, Result};
use klartext_core::{ColumnData, DecisionStatus};
use klartext_data::read::{read_bytes, ReadOptions};
use klartext_govern::{ids, Context as Ctx, Decision, Given, Refused, Request};
use klartext_kinds::Operation;
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Rows decided in parallel and committed to the log in one transaction.
const BLOCK: usize = 16_384;

pub fn run(
    p: &Project,
    usecase: &str,
    input: &Path,
    output: &Path,
    model: Option<&str>,
    explain: bool,
    json: bool,
) -> Result<()> {
    let uc = p.usecase(usecase)?;
    let gov = p.governor(vec![uc.clone()], false)?;
    let route = match model {
        Some(v) => gov.route_pinned(&uc.id, Operation::Predict, v)?,
        None => gov.route(&uc.id, Operation::Predict)?,
    };

    let out_name = output.to_string_lossy().to_ascii_lowercase();
    let ndjson = out_name.ends_with(".ndjson") || out_name.ends_with(".jsonl");
    if !ndjson && !out_name.ends_with(".csv") {
        bail!("{}: the output must be .csv or .ndjson", output.display());
    }
    let raw = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (frame, _) = read_bytes(&name, &raw, &ReadOptions::default(), None)?;
    drop(raw);
    let id_col = (!uc.data.id.is_empty())
        .then(|| frame.column(&uc.data.id))
        .flatten();
    if !uc.data.id.is_empty() && id_col.is_none() {
        bail!(
            "{name} has no id column `{}` (the use case's `data.id`)",
            uc.data.id
        );
    }
    let inputs = route.inputs();
    let missing: Vec<&str> = inputs
        .iter()
        .map(String::as_str)
        .filter(|f| frame.column(f).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{name} lacks the model's feature columns: {}",
            missing.join(", ")
        );
    }
    // The columns a request carries: the model's features (every column but the id
    // while switched off without a model: the fallback reads none).
    let columns: Vec<(&str, &ColumnData)> = frame
        .columns
        .iter()
        .filter(|c| {
            if inputs.is_empty() {
                c.name != uc.data.id
            } else {
                inputs.contains(&c.name)
            }
        })
        .map(|c| (c.name.as_str(), &c.data))
        .collect();

    // Written beside the output and renamed when complete: a failed run leaves no
    // half file.
    let partial = output.with_extension(format!(
        "{}.partial",
        output.extension().map_or("", |e| e.to_str().unwrap_or(""))
    ));
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let w = std::io::BufWriter::with_capacity(1 << 20, file);
    let id_name = if uc.data.id.is_empty() {
        "row"
    } else {
        uc.data.id.as_str()
    };
    let mut out = if ndjson {
        Out::Ndjson(w)
    } else {
        let mut c = csv::Writer::from_writer(w);
        c.write_record([id_name, "score", "label", "reasons", "prediction_id"])?;
        Out::Csv(c)
    };
    let batch_id = ids::batch_id()?;
    let caller = actor();
    let bar = bytes_bar(frame.n_rows as u64, "scoring");
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut by_version: BTreeMap<String, usize> = BTreeMap::new();
    let result = (|| -> Result<()> {
        for start in (0..frame.n_rows).step_by(BLOCK) {
            let end = (start + BLOCK).min(frame.n_rows);
            let started = Instant::now();
            let ctx = Ctx {
                caller: &caller,
                batch_id: Some(&batch_id),
                started,
            };
            let decided: Vec<Result<Decision, Refused>> = (start..end)
                .into_par_iter()
                .map(|i| {
                    let subject = id_col.and_then(|c| c.data.display(i));
                    let features = row_features(&columns, i);
                    route.decide(
                        Request {
                            subject_id: subject.as_deref(),
                            input: &features,
                            prefix: "",
                            explain,
                        },
                        &ctx,
                    )
                })
                .collect();
            // A bad row refuses its block whole: nothing of it is logged.
            let mut decisions = Vec::with_capacity(decided.len());
            for (k, d) in decided.into_iter().enumerate() {
                match d {
                    Ok(d) => decisions.push(d),
                    Err(Refused::Invalid(p)) => bail!(
                        "{name}, row {}: {}",
                        start + k + 1,
                        p.iter()
                            .map(|p| format!("`{}`: {}", p.field, p.message))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    Err(Refused::Failed(m)) => bail!("{name}, row {}: {m}", start + k + 1),
                }
            }
            let mut records = Vec::with_capacity(decisions.len());
            let mut answers = Vec::with_capacity(decisions.len());
            for d in decisions {
                records.push(d.record);
                records.extend(d.shadow);
                answers.push(d.answer);
            }
            gov.commit_blocking(&records)?;
            for (k, a) in answers.iter().enumerate() {
                let i = start + k;
                let id = id_col
                    .and_then(|c| c.data.display(i))
                    .unwrap_or_else(|| (i + 1).to_string());
                let (score, label, reasons) = fields(&a.given)?;
                *counts.entry(a.given.status().as_str()).or_default() += 1;
                if let Some(v) = &a.model_version {
                    *by_version.entry(v.clone()).or_default() += 1;
                }
                match &mut out {
                    Out::Csv(c) => c.write_record([
                        id.as_str(),
                        &score.map_or(String::new(), |s| s.to_string()),
                        label.as_deref().unwrap_or(""),
                        &reasons.join("; "),
                        &a.prediction_id,
                    ])?,
                    Out::Ndjson(w) => {
                        let line = serde_json::json!({
                            id_name: id, "score": score, "label": label, "reasons": reasons,
                            "prediction_id": a.prediction_id, "status": a.given.status(),
                        });
                        writeln!(w, "{line}")?;
                    }
                }
            }
            bar.set_position(end as u64);
        }
        match &mut out {
            Out::Csv(c) => c.flush()?,
            Out::Ndjson(w) => w.flush()?,
        }
        Ok(())
    })();
    bar.finish_and_clear();
    drop(out);
    let logged: usize = counts.values().sum();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        if logged > 0 {
            bail!("{e} ({logged} rows before its block were decided and logged in batch {batch_id}; no output was written)");
        }
        return Err(e);
    }
    std::fs::rename(&partial, output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    if json {
        print_json(&serde_json::json!({
            "usecase": uc.id,
            "model_version": route.answering_version(),
            "versions": by_version,
            "rows": logged,
            "statuses": counts,
            "batch_id": batch_id,
            "output": output,
        }));
    } else {
        let mut line = format!(
            "Scored {logged} rows of {} into {} (batch {batch_id}, in the prediction log)",
            uc.id,
            output.display()
        );
        if !by_version.is_empty() {
            let v: Vec<String> = by_version
                .iter()
                .map(|(v, n)| format!("{n} by @{v}"))
                .collect();
            line.push_str(&format!("; {}", v.join(", ")));
        }
        let other: Vec<String> = counts
            .iter()
            .filter(|(s, _)| **s != DecisionStatus::Answered.as_str())
            .map(|(s, n)| format!("{n} {}", s.replace('_', " ")))
            .collect();
        if !other.is_empty() {
            line.push_str(&format!("; {}", other.join(", ")));
        }
        println!("{line}");
    }
    Ok(())
}

/// One row's request features, as JSON values (missing ones as null). A file's cells
/// are text: a number in a column that also holds text (one bad cell makes the whole
/// column text) is still a number, so that only the bad cell is refused.
fn row_features(columns: &[(&str, &ColumnData)], i: usize) -> Map<String, Value> {
    let number = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    columns
        .iter()
        .map(|(name, data)| {
            let v = match data {
                ColumnData::Num(v) if v[i].is_nan() => Value::Null,
                ColumnData::Num(v) => number(v[i]),
                other => match other.display(i) {
                    None => Value::Null,
                    Some(t) => match t.trim().parse::<f64>() {
                        Ok(x) if x.is_finite() => number(x),
                        _ => Value::String(t),
                    },
                },
            };
            ((*name).to_owned(), v)
        })
        .collect()
}

/// What a decided row writes: score, label and reasons.
fn fields(given: &Given) -> Result<(Option<f64>, Option<String>, Vec<String>)> {
    let body = match given {
        Given::Answered { body, .. } => Some(serde_json::from_str::<Value>(body.get())?),
        Given::Fallback { body: Some(b), .. } => Some(serde_json::from_str::<Value>(b.get())?),
        _ => None,
    };
    let get = |k: &str| body.as_ref().and_then(|b| b.get(k));
    let reasons = match given.reason() {
        Some(r) => vec![r.to_owned()],
        None => get("reasons")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    };
    Ok((
        get("score").and_then(Value::as_f64),
        get("label").and_then(Value::as_str).map(str::to_owned),
        reasons,
    ))
}

enum Out {
    Csv(csv::Writer<std::io::BufWriter<std::fs::File>>),
    Ndjson(std::io::BufWriter<std::fs::File>),
}
