//! klartext's domain model: use cases, schemas, in-memory frames and data-quality reports.
//!
//! This crate does no I/O: it parses and validates text it is given and holds the types
//! that every other crate speaks. Files, databases and HTTP live in the crates above it.

pub mod calendar;
pub mod decision;
pub mod frame;
pub mod report;
pub mod schema;
pub mod text;
pub mod usecase;

pub use decision::{DecisionStatus, Outcome};
pub use frame::{Column, ColumnData, Frame, StrColumn, MISSING_CODE};
pub use report::QualityReport;
pub use schema::{ColumnKind, ColumnRole, ColumnSchema, Schema};
pub use usecase::{UseCase, UseCaseError, UseCaseKind};
