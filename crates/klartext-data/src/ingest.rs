//! Ingest: bytes in, an immutable snapshot (content hash), its schema and its quality
//! report out. Storage of the snapshot is the caller's; nothing here touches disk.

use crate::error::{DataError, Result};
use crate::pii::Pseudonymiser;
use crate::profile;
use crate::read::{self, Dialect, Progress, ReadOptions};
use crate::write;
use klartext_core::report::PiiFinding;
use klartext_core::{ColumnData, Frame, QualityReport, Schema, UseCase};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub read: ReadOptions,
    /// Columns to replace by a keyed hash before anything is stored.
    pub pseudonymise: Vec<String>,
    /// Also pseudonymise every column where PII is found.
    pub pseudonymise_pii: bool,
    /// Key of the keyed hash (the project's secret); required when anything is pseudonymised.
    pub key: Option<Vec<u8>>,
}

/// What the snapshot is: its bytes are either the file as given or, when columns were
/// pseudonymised, a CSV written from the cleaned frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// SHA-256 of the snapshot bytes, hex.
    pub sha256: String,
    pub dialect: Dialect,
    /// File extension to store the snapshot under (`csv`, `csv.gz`, `ndjson`, `parquet`).
    pub extension: String,
}

impl SnapshotInfo {
    /// The dataset id: short, stable, derived from the content hash.
    pub fn dataset_id(&self) -> String {
        format!("ds_{}", &self.sha256[..16])
    }
}

#[derive(Debug)]
pub struct Ingested<'a> {
    pub frame: Frame,
    pub schema: Schema,
    pub report: QualityReport,
    pub snapshot: SnapshotInfo,
    pub snapshot_bytes: Cow<'a, [u8]>,
}

/// Read, infer, check for PII (pseudonymising as asked), hash and profile.
pub fn ingest<'a>(
    name: &str,
    raw: &'a [u8],
    uc: Option<&UseCase>,
    opts: &IngestOptions,
    progress: Option<Progress<'_>>,
) -> Result<Ingested<'a>> {
    // Hashing the file as given overlaps with parsing it; it is the snapshot's hash
    // unless columns get pseudonymised below.
    let (read, raw_sha256) = rayon::join(
        || read::read_bytes(name, raw, &opts.read, progress),
        || hex::encode(Sha256::digest(raw)),
    );
    let (mut frame, info) = read?;
    let mut schema = crate::infer::infer(&mut frame, &info.hints, uc)?;

    let from_uc = uc.map_or(&[][..], |u| &u.data.pseudonymise[..]);
    for (list, role) in [
        (&opts.pseudonymise[..], "--pseudonymise"),
        (from_uc, "the use case's `data.pseudonymise`"),
    ] {
        if let Some(w) = list.iter().find(|w| frame.column(w).is_none()) {
            let available: Vec<&str> = frame.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(DataError::MissingColumn {
                column: w.clone(),
                role,
                available: available.join(", "),
            });
        }
    }
    let mut wanted: Vec<String> = opts.pseudonymise.iter().chain(from_uc).cloned().collect();
    let found = profile::scan_pii(&frame);
    let mut pii: Vec<PiiFinding> = found
        .iter()
        .map(|&(i, kind, share)| PiiFinding {
            column: frame.columns[i].name.clone(),
            kind,
            share,
            pseudonymised: false,
        })
        .collect();
    if opts.pseudonymise_pii {
        wanted.extend(pii.iter().map(|p| p.column.clone()));
    }
    if let (Some(uc), false) = (uc, wanted.is_empty()) {
        for role_col in [&uc.data.target, &uc.data.time] {
            if wanted.contains(role_col) {
                return Err(DataError::Invalid(format!(
                    "column `{role_col}` is the use case's target or time column and cannot be pseudonymised"
                )));
            }
        }
    }
    wanted.sort();
    wanted.dedup();

    let snapshot_bytes: Cow<'a, [u8]>;
    let dialect;
    if wanted.is_empty() {
        snapshot_bytes = Cow::Borrowed(raw);
        dialect = info.dialect;
    } else {
        let key = opts
            .key
            .as_deref()
            .ok_or_else(|| DataError::Invalid("pseudonymisation needs the project's key".into()))?;
        let ps = Pseudonymiser::new(key);
        for w in &wanted {
            let i = frame.column_index(w).expect("checked above");
            let col = &mut frame.columns[i];
            col.data = match std::mem::replace(&mut col.data, ColumnData::Num(Vec::new())) {
                ColumnData::Str(mut s) => {
                    ps.pseudonymise_column(&mut s);
                    ColumnData::Str(s)
                }
                ColumnData::Num(v) => ColumnData::Str(ps.pseudonymise_num_column(&v)),
            };
            let cs = &mut schema.columns[i];
            cs.pseudonymised = true;
            // A pseudonym identifies nobody by itself but still links rows of one person.
            cs.kind = klartext_core::ColumnKind::Id;
            cs.role = if uc.is_some_and(|u| u.data.id == *w) {
                klartext_core::ColumnRole::Id
            } else {
                klartext_core::ColumnRole::Excluded
            };
            if let Some(p) = pii.iter_mut().find(|p| p.column == *w) {
                p.pseudonymised = true;
            }
        }
        let mut out = Vec::with_capacity(raw.len());
        write::write_csv(&frame, Some(&schema), &mut out).map_err(|e| {
            DataError::Invalid(format!("cannot write the pseudonymised snapshot: {e}"))
        })?;
        snapshot_bytes = Cow::Owned(out);
        dialect = Dialect {
            format: read::Format::Csv,
            gzip: false,
            delimiter: Some(read::Delimiter::Char(b',')),
            header: true,
        };
    }
    let sha256 = match snapshot_bytes {
        Cow::Borrowed(_) => raw_sha256,
        Cow::Owned(ref bytes) => hex::encode(Sha256::digest(bytes)),
    };
    let extension = match (dialect.format, dialect.gzip) {
        (read::Format::Csv, false) => "csv",
        (read::Format::Csv, true) => "csv.gz",
        (read::Format::Ndjson, false) => "ndjson",
        (read::Format::Ndjson, true) => "ndjson.gz",
        (read::Format::Parquet, _) => "parquet",
    }
    .to_owned();
    let report = profile::profile(&frame, &schema, uc, &pii);
    Ok(Ingested {
        frame,
        schema,
        report,
        snapshot: SnapshotInfo {
            sha256,
            dialect,
            extension,
        },
        snapshot_bytes,
    })
}

/// Re-read a stored snapshot into the frame and schema it was registered with.
/// `uc` must be the use case it was registered for (it decides the id column's kind).
pub fn load_snapshot(
    bytes: &[u8],
    snapshot: &SnapshotInfo,
    schema: &Schema,
    uc: Option<&UseCase>,
) -> Result<Frame> {
    let opts = ReadOptions {
        format: Some(snapshot.dialect.format),
        delimiter: snapshot.dialect.delimiter,
        header: Some(snapshot.dialect.header),
    };
    let (mut frame, info) = read::read_bytes(
        &format!("snapshot.{}", snapshot.extension),
        bytes,
        &opts,
        None,
    )?;
    let inferred = crate::infer::infer(&mut frame, &info.hints, uc)?;
    // Inference is deterministic, so the same bytes give the same columns and kinds.
    for (c, stored) in inferred.columns.iter().zip(&schema.columns) {
        if c.name != stored.name || (c.kind != stored.kind && !stored.pseudonymised) {
            return Err(DataError::Invalid(format!(
                "snapshot column `{}` does not match the registered schema (`{}`)",
                c.name, stored.name
            )));
        }
    }
    Ok(frame)
}
