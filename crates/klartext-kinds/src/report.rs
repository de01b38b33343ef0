//! The fields every kind's training report holds. A stored report is the kind's own
//! type; readers that need only these (promotion's gates, the documentation bundle)
//! read it as a [`ReportHead`], typed, whatever its kind.

use crate::error::{KindError, Result};
use crate::gates::GateResult;
use klartext_core::UseCaseKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportHead {
    pub usecase: String,
    /// Absent in reports written before kinds were recorded (classification or
    /// regression: their `task` says which).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<UseCaseKind>,
    pub dataset_id: String,
    pub seed: u64,
    pub rows_total: usize,
    pub learner: String,
    pub gates: Vec<GateResult>,
    pub gates_passed: bool,
    /// The envelope version of the artifact (the payload's own format is in its header).
    pub artifact_format: u32,
    pub klartext_version: String,
}

impl ReportHead {
    /// The common fields of a stored report.
    pub fn read(report: &serde_json::Value) -> Result<ReportHead> {
        ReportHead::deserialize(report).map_err(|e| KindError::Report(e.to_string()))
    }
}
