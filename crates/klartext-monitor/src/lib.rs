//! Monitoring on in-memory data: the statistics that compare a reference with current
//! traffic, the reference profile kept at training, drift and live-performance reports,
//! findings in plain words and their charts. No files, no database, no HTTP.

pub mod drift;
pub mod error;
pub mod html;
pub mod performance;
pub mod profile;
pub mod report;
pub mod stats;
