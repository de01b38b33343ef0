//! The training crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The use case cannot be trained this way (kind, target, columns).
    #[error("{0}")]
    UseCase(String),

    /// The data does not allow training (too few rows, one class, no features).
    #[error("{0}")]
    Data(String),

    #[error(transparent)]
    Learn(#[from] klartext_learn::LearnError),

    /// A stored artifact that does not load.
    #[error("model artifact: {0}")]
    Artifact(String),

    /// An input row that does not fit the model's features.
    #[error("feature `{feature}`: {message}")]
    Input { feature: String, message: String },
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
