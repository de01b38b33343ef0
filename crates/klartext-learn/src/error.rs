//! The crate's single error type: every failure a caller of klartext-learn can see.

use thiserror::Error;

/// Everything that can go wrong when fitting, predicting, explaining, scoring or
/// (de)serialising. Variants are named for what the caller can do about them.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LearnError {
    /// A hyperparameter is out of range; fix the parameter named here.
    #[error("invalid parameter `{name}` = {value}: expected {expected}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// There are no rows (or no usable rows) to learn from or to score.
    #[error("no data: {0}")]
    EmptyData(String),
    /// Two inputs that must have the same length do not.
    #[error("length mismatch for {what}: expected {expected}, found {found}")]
    LengthMismatch {
        what: String,
        expected: usize,
        found: usize,
    },
    /// The input is malformed (wrong target values, bad category code, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A classification target has only one class, so nothing can be learned or ranked.
    #[error("target has a single class: {0}")]
    SingleClass(String),
    /// A numeric solver failed (e.g. a singular system); try stronger regularisation.
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// The bytes are not a klartext model (wrong magic, truncated, bad payload).
    #[error("corrupt model bytes: {0}")]
    CorruptModel(String),
    /// The model was written by a newer klartext; upgrade to read it.
    #[error("unsupported model format version {found}; this build reads up to {supported}")]
    UnsupportedFormat { found: u32, supported: u32 },
    /// The operation was stopped by the caller's progress callback.
    #[error("cancelled by caller")]
    Cancelled,
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, LearnError>;

impl LearnError {
    /// Builds an [`LearnError::InvalidParameter`] from any displayable value.
    pub fn invalid_param(
        name: &'static str,
        value: impl std::fmt::Display,
        expected: &'static str,
    ) -> Self {
        LearnError::InvalidParameter {
            name,
            value: value.to_string(),
            expected,
        }
    }
}
