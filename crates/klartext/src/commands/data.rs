//! `klartext data add|list|show|generate`.

use super::print_json;
use crate::cli::{DataAdd, DataCommand, DataGenerate};
use crate::progress::bytes_bar;
use crate::project::{actor, Project};
use crate::render::{report, table, thousands, time_ms};
use anyhow::{bail, Context, Result};
use klartext_data::ingest::{ingest, IngestOptions, SnapshotInfo};
use klartext_data::read::{Delimiter, ReadOptions};
use klartext_store::{now_ms, DatasetRecord, Registered, Registration, Store};
use std::io::{Read, Seek, Write};
use std::path::Path;

pub fn run(project: Option<&Path>, cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Add(a) => {
            let p = Project::find(project)?;
            let (_, bulk) = add_keep(&p, &a)?;
            // The process ends next. Freeing a large file's bytes and frame (hundreds of
            // MiB) costs tens of milliseconds that the system's cleanup at exit does not.
            std::mem::forget(bulk);
            Ok(())
        }
        DataCommand::List { usecase, json } => {
            list(&Project::find(project)?, usecase.as_deref(), json)
        }
        DataCommand::Show { id, usecase, json } => {
            show(&Project::find(project)?, &id, usecase.as_deref(), json)
        }
        DataCommand::Generate(g) => generate(&g),
    }
}

/// A file's bytes. Large regular files start on a 4 KiB boundary in memory, so the
/// store can write the snapshot from them without copying through the page cache.
struct FileBytes {
    buf: Vec<u8>,
    start: usize,
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn read_file(path: &Path) -> Result<FileBytes> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = bytes_bar(len, "reading");
    let mut bytes = read_pieces(&f, len, &bar).unwrap_or(FileBytes {
        buf: Vec::new(),
        start: 0,
    });
    // Whatever the pieces did not cover (a file that grew or shrank, or is not a regular
    // file), read on from there, 8 MiB at a time for the progress bar.
    // (Reading at an offset leaves the file's cursor alone; pipes cannot seek.)
    if bytes.is_empty() {
        bar.set_position(0);
    } else {
        f.seek(std::io::SeekFrom::Start(bytes.len() as u64))
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    loop {
        let n = (&mut f)
            .take(8 << 20)
            .read_to_end(&mut bytes.buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(bytes)
}

/// The first `len` bytes of a regular file, read in 8 MiB pieces on all cores (the copy
/// into fresh memory costs more than the disk cache gives), starting on a 4 KiB
/// boundary; `None` when that fails.
#[cfg(unix)]
fn read_pieces(f: &std::fs::File, len: u64, bar: &indicatif::ProgressBar) -> Option<FileBytes> {
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt;
    const PIECE: usize = 8 << 20;
    const ALIGN: usize = 4096;
    let len = usize::try_from(len).ok()?;
    if len < 2 * PIECE || !f.metadata().ok()?.is_file() {
        return None;
    }
    // Zeroed by the system page by page as the pieces land, not all at once here.
    let mut buf = vec![0u8; len + ALIGN];
    let start = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
    buf.truncate(start + len);
    buf[start..]
        .par_chunks_mut(PIECE)
        .enumerate()
        .try_for_each(|(i, piece)| {
            let r = f.read_exact_at(piece, (i * PIECE) as u64);
            bar.inc(piece.len() as u64);
            r
        })
        .ok()?;
    Some(FileBytes { buf, start })
}

#[cfg(not(unix))]
fn read_pieces(_: &std::fs::File, _: u64, _: &indicatif::ProgressBar) -> Option<FileBytes> {
    None
}

fn parse_delimiter(d: &str) -> Result<Delimiter> {
    match d {
        "ws" | "whitespace" => Ok(Delimiter::Whitespace),
        "\\t" | "tab" => Ok(Delimiter::Char(b'\t')),
        s if s.len() == 1 && s.is_ascii() => Ok(Delimiter::Char(s.as_bytes()[0])),
        other => bail!("--delimiter `{other}` must be one ASCII character, `tab` or `ws`"),
    }
}

/// Register a file for a use case; returns the dataset id.
pub fn add(p: &Project, a: &DataAdd) -> Result<String> {
    add_keep(p, a).map(|(id, _)| id)
}

/// `add`, also handing back what it read (to be dropped by the caller).
fn add_keep(p: &Project, a: &DataAdd) -> Result<(String, Bulk)> {
    let uc = p.usecase(&a.usecase)?;
    let name = a
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let raw = read_file(&a.file)?;
    let opts = IngestOptions {
        read: ReadOptions {
            format: None,
            delimiter: a.delimiter.as_deref().map(parse_delimiter).transpose()?,
            header: a.no_header.then_some(false),
        },
        pseudonymise: a.pseudonymise.clone(),
        pseudonymise_pii: a.pseudonymise_pii,
        key: Some(p.secret_key()?),
    };
    let store = p.open_store()?;
    let bar = bytes_bar(raw.len() as u64, "parsing");
    let tick = |done: u64, _total: u64| bar.set_position(done);
    // The file as given is usually the snapshot: write it to disk while parsing it.
    let (ing, staged) = std::thread::scope(|s| {
        let staged = s.spawn(|| store.stage_snapshot(&raw));
        let ing = ingest(&name, &raw, Some(&uc), &opts, Some(&tick));
        (ing, staged.join())
    });
    bar.finish_and_clear();
    let ing = ing?;
    let staged = staged.map_err(|_| anyhow::anyhow!("writing the snapshot failed"))??;

    let dataset_id = ing.snapshot.dataset_id();
    let blob = match &ing.snapshot_bytes {
        std::borrow::Cow::Borrowed(_) => {
            store.publish_snapshot(staged, &ing.snapshot.sha256, &ing.snapshot.extension)?
        }
        std::borrow::Cow::Owned(bytes) => {
            drop(staged);
            store.put_snapshot(&ing.snapshot.sha256, &ing.snapshot.extension, bytes)?
        }
    };
    failpoint("after-snapshot");
    let who = actor();
    let record = DatasetRecord {
        id: dataset_id.clone(),
        sha256: ing.snapshot.sha256.clone(),
        source_name: name.clone(),
        snapshot: serde_json::to_value(&ing.snapshot)?,
        rows: ing.frame.n_rows as u64,
        columns: ing.frame.n_cols() as u64,
        bytes: ing.snapshot_bytes.len() as u64,
        created_ms: now_ms(),
        created_by: who.clone(),
    };
    let reg = Registration {
        dataset_id: dataset_id.clone(),
        usecase_id: uc.id.clone(),
        schema: ing.schema.clone(),
        report: ing.report.clone(),
        created_ms: record.created_ms,
        created_by: who,
    };
    let outcome = store.register_dataset(&record, &blob, &reg)?;
    let status = match outcome {
        Registered::New => "registered",
        Registered::NewForUseCase => "registered for this use case (same content already stored)",
        Registered::Existing => "already registered (same content): nothing changed",
    };
    if a.json {
        print_json(&serde_json::json!({
            "dataset_id": dataset_id,
            "usecase": uc.id,
            "status": match outcome { Registered::Existing => "existing", _ => "registered" },
            "source": name,
            "sha256": ing.snapshot.sha256,
            "rows": ing.frame.n_rows,
            "columns": ing.frame.n_cols(),
            "schema": ing.schema.columns,
            "report": ing.report,
        }));
    } else {
        println!(
            "Dataset {dataset_id} for use case `{}`: {}\n  {} — {} rows x {} columns, sha256 {}\n",
            uc.id,
            status,
            name,
            thousands(ing.frame.n_rows as u64),
            ing.frame.n_cols(),
            &ing.snapshot.sha256[..16]
        );
        super::emit(&report(&ing.report));
    }
    let klartext_data::ingest::Ingested {
        frame,
        snapshot_bytes,
        ..
    } = ing;
    drop(snapshot_bytes);
    Ok((dataset_id, (raw, frame)))
}

/// What `data add` read: the file's bytes and its frame.
type Bulk = (FileBytes, klartext_core::Frame);

/// Crash here when `KLARTEXT_FAILPOINT` names this point: lets tests prove that a crash
/// between two steps leaves no half state.
fn failpoint(name: &str) {
    if std::env::var("KLARTEXT_FAILPOINT").is_ok_and(|v| v == name) {
        let _ = std::io::stdout().flush();
        std::process::abort();
    }
}

fn list(p: &Project, usecase: Option<&str>, json: bool) -> Result<()> {
    let store = p.open_store()?;
    let regs = store.registrations(usecase)?;
    let mut items = Vec::with_capacity(regs.len());
    for r in &regs {
        let d = store
            .dataset(&r.dataset_id)?
            .context("registration without its dataset")?;
        items.push((r, d));
    }
    if json {
        let v: Vec<serde_json::Value> = items
            .iter()
            .map(|(r, d)| {
                serde_json::json!({
                    "dataset_id": d.id, "usecase": r.usecase_id, "source": d.source_name,
                    "rows": d.rows, "columns": d.columns, "sha256": d.sha256,
                    "registered_ms": r.created_ms, "registered_by": r.created_by,
                    "problems": r.report.warnings.iter().filter(|w| w.severity == klartext_core::report::Severity::Problem).count(),
                })
            })
            .collect();
        print_json(&serde_json::Value::Array(v));
        return Ok(());
    }
    if items.is_empty() {
        println!("no datasets registered yet; add one with `klartext data add FILE --usecase ID`");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|(r, d)| {
            let problems = r
                .report
                .warnings
                .iter()
                .filter(|w| w.severity == klartext_core::report::Severity::Problem)
                .count();
            vec![
                d.id.clone(),
                r.usecase_id.clone(),
                d.source_name.clone(),
                thousands(d.rows),
                d.columns.to_string(),
                problems.to_string(),
                time_ms(r.created_ms),
            ]
        })
        .collect();
    super::emit(&table(
        &[
            "dataset",
            "use case",
            "source",
            "rows",
            "columns",
            "problems",
            "registered",
        ],
        &rows,
    ));
    Ok(())
}

fn show(p: &Project, id: &str, usecase: Option<&str>, json: bool) -> Result<()> {
    let store = p.open_store()?;
    let d = store.dataset(id)?.with_context(|| {
        format!("dataset `{id}` does not exist; `klartext data list` shows the registered ones")
    })?;
    let regs: Vec<Registration> = store
        .registrations(usecase)?
        .into_iter()
        .filter(|r| r.dataset_id == id)
        .collect();
    let Some(reg) = regs.first() else {
        bail!(
            "dataset `{id}` is not registered for use case `{}`",
            usecase.unwrap_or("?")
        );
    };
    let snapshot: SnapshotInfo = serde_json::from_value(d.snapshot.clone())
        .context("stored snapshot description is unreadable")?;
    if json {
        print_json(&serde_json::json!({
            "dataset_id": d.id, "usecase": reg.usecase_id, "source": d.source_name, "sha256": d.sha256,
            "rows": d.rows, "columns": d.columns, "bytes": d.bytes, "snapshot": snapshot,
            "registered_ms": reg.created_ms, "registered_by": reg.created_by,
            "schema": reg.schema.columns, "report": reg.report,
        }));
        return Ok(());
    }
    println!(
        "Dataset {} for use case `{}`\n  {} — {} rows x {} columns, sha256 {}\n  registered {} by {}\n",
        d.id,
        reg.usecase_id,
        d.source_name,
        thousands(d.rows),
        d.columns,
        d.sha256,
        time_ms(reg.created_ms),
        reg.created_by
    );
    super::emit(&report(&reg.report));
    Ok(())
}

fn generate(g: &DataGenerate) -> Result<()> {
    use klartext_data::generate::{generate, GenerateParams};
    if !(0.0..=1.0).contains(&g.drift) {
        bail!("--drift {} must be between 0 and 1", g.drift);
    }
    if g.rows == 0 {
        bail!("--rows must be at least 1");
    }
    let params = GenerateParams {
        rows: g.rows,
        seed: g.seed,
        bias: g.bias,
        drift: g.drift,
        extra_features: g.extra_features,
        pii: g.pii,
    };
    let out = generate(&params);
    write_frame(&g.output, &out.frame, &out.schema)?;
    if let Some(t) = &g.truth {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(t).with_context(|| format!("cannot create {}", t.display()))?,
        );
        writeln!(w, "customer_id,churn_probability")?;
        let ids = out
            .frame
            .column("customer_id")
            .context("generated data has customer_id")?;
        for (i, p) in out.truth.iter().enumerate() {
            writeln!(w, "{},{p}", ids.data.display(i).unwrap_or_default())?;
        }
        w.flush()?;
    }
    if g.json {
        print_json(&serde_json::json!({
            "output": g.output, "rows": out.frame.n_rows, "columns": out.frame.n_cols(), "seed": g.seed,
        }));
    } else {
        println!(
            "Wrote {} rows x {} columns to {}",
            thousands(out.frame.n_rows as u64),
            out.frame.n_cols(),
            g.output.display()
        );
    }
    Ok(())
}

/// Write a frame as CSV, gzip CSV or NDJSON by the file's extension.
pub fn write_frame(
    path: &Path,
    frame: &klartext_core::Frame,
    schema: &klartext_core::Schema,
) -> Result<()> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let w = std::io::BufWriter::with_capacity(1 << 20, file);
    let result = if name.ends_with(".csv.gz") {
        let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::fast());
        klartext_data::write::write_csv(frame, Some(schema), &mut gz)
            .and_then(|()| gz.finish().map(drop))
    } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") {
        klartext_data::write::write_ndjson(frame, Some(schema), w)
    } else if name.ends_with(".csv") {
        klartext_data::write::write_csv(frame, Some(schema), w)
    } else {
        bail!("{}: write .csv, .csv.gz or .ndjson", path.display());
    };
    result.with_context(|| format!("cannot write {}", path.display()))
}
