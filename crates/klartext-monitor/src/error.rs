//! The crate's error type: every failure a caller of klartext-monitor can see.

use thiserror::Error;

/// What can go wrong when computing monitoring statistics. Variants are named for
/// what the caller can do about them.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MonitorError {
    /// A sample or table has no values; collect data before comparing.
    #[error("no data: {0}")]
    EmptyData(String),
    /// Two inputs that must have the same length do not.
    #[error("length mismatch for {what}: expected {expected}, found {found}")]
    LengthMismatch {
        what: String,
        expected: usize,
        found: usize,
    },
    /// The input is malformed (negative counts, NaN, sums that disagree, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A stored reference profile does not read; retrain the model to store a new one.
    #[error("the reference profile cannot be used: {0}")]
    Reference(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, MonitorError>;
