//! The store's one error type.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or used; the message says why.
    #[error("store database error: {0}")]
    Database(#[from] rusqlite::Error),

    #[error("store file error at {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },

    /// The store was written by a newer klartext.
    #[error("the store has schema version {found}, newer than this klartext knows ({known}); upgrade klartext")]
    TooNew { found: i64, known: i64 },

    /// A stored file no longer matches its recorded hash.
    #[error("snapshot {path} is damaged: its content hash is {found}, expected {expected}")]
    Corrupt {
        path: String,
        expected: String,
        found: String,
    },

    #[error("stored record is unreadable: {0}")]
    Decode(String),

    /// A governance change that is not allowed as asked; the message says why.
    #[error("{0}")]
    Refused(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
