//! The governance layer's one error type, its variants named for what the caller can do.

use klartext_core::UseCaseKind;
use klartext_kinds::Operation;

#[derive(Debug, thiserror::Error)]
pub enum GovernError {
    /// No use-case file with this id is loaded.
    #[error("use case `{id}` does not exist; known use cases: {}", if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownUseCase { id: String, known: Vec<String> },

    /// The use case's kind has no module in this build: nothing can answer it.
    #[error(
        "use case `{usecase}` is of kind {kind}, which this version of klartext cannot answer yet"
    )]
    KindNotAvailable { usecase: String, kind: UseCaseKind },

    /// The use case's kind does not answer this decision: call one it answers.
    #[error("use case `{usecase}` is a {kind} use case; it does not answer `{}` (it answers: {})", op.as_str(), answers.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", "))]
    WrongOperation {
        usecase: String,
        kind: UseCaseKind,
        op: Operation,
        answers: Vec<Operation>,
    },

    /// No model version may answer: train one (and let its gates pass), or promote one.
    #[error("use case `{usecase}` has no model version whose gates passed; train one with `klartext train {usecase}`")]
    NoModel { usecase: String },

    /// The process is shutting down: retry on another replica.
    #[error("shutting down")]
    ShuttingDown,

    /// The prediction log could not take the decisions: nothing was answered; retry.
    #[error("the prediction log is unavailable")]
    LogUnavailable,

    /// No decision with this id is logged.
    #[error("no prediction `{0}` is logged")]
    UnknownPrediction(String),

    /// The decision has as many outcomes as are kept: the latest stands.
    #[error("prediction `{prediction}` has {limit} outcomes already, as many as are kept; the latest counts")]
    FeedbackLimit { prediction: String, limit: usize },

    /// A reported outcome that does not read as its decision's kind expects.
    #[error("{0}")]
    InvalidOutcome(String),

    /// The subject id is empty or too long.
    #[error("{0}")]
    BadSubject(String),

    /// A dataset is registered for a use case whose file is not known here, so its id
    /// column is unknown: the subject's rows in it cannot be found.
    #[error("dataset {dataset} is registered for use case `{usecase}`, whose file is not loaded; add usecases/{usecase}.toml back so that the subject's rows can be found")]
    SubjectDataUnavailable { dataset: String, usecase: String },

    /// Monitoring cannot judge this model version: train it again.
    #[error("use case `{usecase}`: model {version} cannot be monitored: {message}")]
    Unmonitorable {
        usecase: String,
        version: String,
        message: String,
    },

    /// A stored model version could not be loaded.
    #[error("use case `{usecase}`: model {version} cannot be loaded: {source}")]
    Model {
        usecase: String,
        version: String,
        source: klartext_kinds::KindError,
    },

    /// A snapshot could not be read or rewritten.
    #[error("dataset {dataset}: {source}")]
    Data {
        dataset: String,
        source: klartext_data::DataError,
    },

    #[error(transparent)]
    Kind(#[from] klartext_kinds::KindError),

    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] klartext_store::StoreError),

    /// The system gave no randomness for an id or a key.
    #[error("no randomness: {0}")]
    Random(String),
}

pub type Result<T, E = GovernError> = std::result::Result<T, E>;
