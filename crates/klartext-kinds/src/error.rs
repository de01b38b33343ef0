//! The kinds crate's one error type, its variants named for what the caller can do.

use klartext_core::UseCaseKind;

#[derive(Debug, thiserror::Error)]
pub enum KindError {
    /// The use case cannot be trained or answered this way: fix its file.
    #[error("{0}")]
    UseCase(String),

    /// The data does not allow training (too few rows, one class, no features): fix or
    /// add data.
    #[error("{0}")]
    Data(String),

    #[error(transparent)]
    Learn(#[from] klartext_learn::LearnError),

    /// A stored artifact that does not load: retrain, or upgrade klartext.
    #[error("model artifact: {0}")]
    Artifact(String),

    /// A stored training report that does not read as its kind's report.
    #[error("training report: {0}")]
    Report(String),

    /// An input row that does not fit the model's features: fix the row.
    #[error("feature `{feature}`: {message}")]
    Input { feature: String, message: String },

    /// Monitoring cannot judge this model version (no reference profile, unreadable
    /// traffic): train it again.
    #[error("{0}")]
    Unmonitorable(String),

    /// This version of klartext has no module for the kind yet.
    #[error("use cases of kind {0} cannot be trained or answered by this version of klartext")]
    NotAvailable(UseCaseKind),
}

pub type Result<T, E = KindError> = std::result::Result<T, E>;
