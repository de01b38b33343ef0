//! `klartext score`: a file in, one scored row out per input row, with reasons.

use super::print_json;
use crate::progress::bytes_bar;
use crate::project::Project;
use anyhow::{bail, Context, Result};
use klartext_data::read::{read_bytes, ReadOptions};
use klartext_store::Store;
use klartext_train::score::Scored;
use klartext_train::Artifact;
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

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
    let store = p.open_store()?;
    let record = match model {
        Some(v) => store.model(&uc.id, v)?.with_context(|| format!("use case `{}` has no model version `{v}`", uc.id))?,
        None => store.models(&uc.id)?.into_iter().find(|m| m.gates_passed).with_context(|| {
            format!("use case `{}` has no model version whose gates passed; train one, or name a version with --model", uc.id)
        })?,
    };
    let artifact = Artifact::from_bytes(&store.model_bytes(&record)?)?;

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
    let missing = artifact.header.encoder.missing_in(&frame);
    if !missing.is_empty() {
        bail!(
            "{name} lacks the model's feature columns: {}",
            missing.join(", ")
        );
    }
    let columns: Vec<(&str, &klartext_core::ColumnData)> = frame
        .columns
        .iter()
        .map(|c| (c.name.as_str(), &c.data))
        .collect();

    let file = std::fs::File::create(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
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
        c.write_record([id_name, "score", "label", "reasons"])?;
        Out::Csv(c)
    };
    let bar = bytes_bar(frame.n_rows as u64, "scoring");
    let mut scored_rows = 0usize;
    // Score in blocks: parallel inside a block, written in input order.
    for start in (0..frame.n_rows).step_by(16_384) {
        let end = (start + 16_384).min(frame.n_rows);
        let results: Vec<Result<Scored, klartext_train::TrainError>> = (start..end)
            .into_par_iter()
            .map(|i| {
                artifact.score(
                    |f| {
                        columns
                            .iter()
                            .find(|(n, _)| *n == f)
                            .and_then(|(_, d)| d.display(i))
                    },
                    explain,
                )
            })
            .collect();
        for (k, r) in results.into_iter().enumerate() {
            let i = start + k;
            let s = r.with_context(|| format!("{name}, row {}", i + 1))?;
            let id = id_col
                .and_then(|c| c.data.display(i))
                .unwrap_or_else(|| (i + 1).to_string());
            match &mut out {
                Out::Csv(c) => {
                    c.write_record([
                        id.as_str(),
                        &s.score.to_string(),
                        s.label.as_deref().unwrap_or(""),
                        &s.reasons.join("; "),
                    ])?;
                }
                Out::Ndjson(w) => {
                    let line = serde_json::json!({ id_name: id, "score": s.score, "label": s.label, "reasons": s.reasons });
                    writeln!(w, "{line}")?;
                }
            }
            scored_rows += 1;
        }
        bar.set_position(end as u64);
    }
    match out {
        Out::Csv(mut c) => c.flush()?,
        Out::Ndjson(mut w) => w.flush()?,
    }
    bar.finish_and_clear();
    if json {
        print_json(&serde_json::json!({
            "usecase": uc.id, "model_version": record.version, "rows": scored_rows, "output": output,
        }));
    } else {
        println!(
            "Scored {scored_rows} rows with {}@{} into {}",
            uc.id,
            record.version,
            output.display()
        );
    }
    Ok(())
}

enum Out {
    Csv(csv::Writer<std::io::BufWriter<std::fs::File>>),
    Ndjson(std::io::BufWriter<std::fs::File>),
}
