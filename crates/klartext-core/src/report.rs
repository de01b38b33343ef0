//! The data-quality report of a dataset: what a data team checks before training.

use crate::schema::{ColumnKind, ColumnRole};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub rows: usize,
    pub columns: Vec<ColumnProfile>,
    /// Rows that repeat an earlier row in every column (the id column left out, since a
    /// copy with a fresh id is still a copy).
    pub duplicate_rows: usize,
    /// Rows whose id repeats an earlier row's id (when the use case names an id column).
    pub duplicate_ids: Option<usize>,
    pub target: Option<TargetBalance>,
    pub leakage_suspects: Vec<LeakageSuspect>,
    pub pii: Vec<PiiFinding>,
    pub protected: Vec<ProtectedGroups>,
    /// Plain-language findings, worst first.
    pub warnings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub kind: ColumnKind,
    pub role: ColumnRole,
    pub missing: usize,
    pub missing_share: f64,
    pub distinct: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericStats>,
    /// Most frequent values with their counts (categorical, boolean, text).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub top: Vec<ValueCount>,
    /// Share of non-missing rows that hold the most frequent value.
    pub top_share: f64,
    pub constant: bool,
    pub near_constant: bool,
    pub high_cardinality: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Sample standard deviation; `None` for a single value.
    pub std: Option<f64>,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: String,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetBalance {
    pub column: String,
    /// Classification: each class with its count; the positive class first when known.
    pub classes: Vec<ValueCount>,
    /// Share of rows with the positive class (classification).
    pub positive_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakageSuspect {
    pub column: String,
    /// `auc`: the column alone as a score for a class target (max of AUC and 1 - AUC);
    /// `abs_correlation`: |Pearson r| with a numeric target.
    pub measure: String,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    Iban,
    CreditCard,
    IpAddress,
}

impl PiiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "e-mail",
            PiiKind::Phone => "phone",
            PiiKind::Iban => "IBAN",
            PiiKind::CreditCard => "credit card",
            PiiKind::IpAddress => "IP address",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiiFinding {
    pub column: String,
    pub kind: PiiKind,
    /// Share of the column's distinct non-missing values that match.
    pub share: f64,
    pub pseudonymised: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedGroups {
    pub column: String,
    pub groups: Vec<GroupStat>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStat {
    pub group: String,
    pub rows: usize,
    /// Positive-class share within the group (classification targets).
    pub target_rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Problem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub message: String,
}
