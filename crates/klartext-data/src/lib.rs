//! The data step: reading files into frames, inferring schemas, profiling quality.

pub mod datetime;
pub mod error;
pub mod generate;
pub mod infer;
pub mod ingest;
pub mod pii;
pub mod profile;
pub mod read;
pub mod write;

pub use error::{DataError, Result};
