//! Learning and evaluation on in-memory data: no files, no database, no HTTP.
//!
//! Entry points: [`data::Features`] in, [`model::Model`] out (fitted directly or by
//! [`select::auto_fit`]), with predictions, exact explanations, versioned bytes,
//! [`metrics`] and [`fairness`] reports.

pub mod data;
pub mod ensemble;
pub mod error;
pub mod explain;
pub mod fairness;
pub mod gbdt;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod rng;
pub mod select;
pub mod split;

pub use data::{ColumnValues, FeatureColumn, FeatureKind, Features, Schema, Task, MISSING_CODE};
pub use error::{LearnError, Result};
pub use explain::Explanation;
pub use gbdt::{GbdtConfig, GbdtModel, GbdtParams};
pub use linear::{LinearConfig, LinearModel, LinearParams};
pub use model::Model;
