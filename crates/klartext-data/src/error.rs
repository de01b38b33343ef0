//! The data crate's one error type; each variant says what the caller can fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{file} is empty: it has no data rows")]
    Empty { file: String },

    /// A row that does not parse; `line` is 1-based in the (decompressed) file.
    #[error("{file}, line {line}{}: {message}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    Malformed {
        file: String,
        line: u64,
        column: Option<String>,
        message: String,
    },

    #[error("{file} is not a {expected} file: {detail}")]
    WrongFormat {
        file: String,
        expected: &'static str,
        detail: String,
    },

    #[error("{file}: unknown file type `{extension}`; use .csv, .tsv, .txt, .ndjson, .jsonl or .parquet (optionally .gz)")]
    UnknownFormat { file: String, extension: String },

    #[error("the data has no column `{column}` (named in {role}); columns are: {available}")]
    MissingColumn {
        column: String,
        role: &'static str,
        available: String,
    },

    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;
