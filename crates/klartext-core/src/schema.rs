//! Column kinds and roles: what a dataset's columns are and what a use case does with them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The inferred kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Real numbers.
    Numeric,
    /// Whole numbers.
    Integer,
    /// Two values (yes/no, true/false, 0/1, ...).
    Boolean,
    /// A small set of labels.
    Categorical,
    /// Dates or timestamps, stored as Unix seconds (UTC).
    Datetime,
    /// Free text: long, mostly distinct strings.
    Text,
    /// An identifier: distinct per row, carries no signal.
    Id,
}

impl ColumnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Integer => "integer",
            ColumnKind::Boolean => "boolean",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Datetime => "datetime",
            ColumnKind::Text => "text",
            ColumnKind::Id => "id",
        }
    }

    /// Numbers a model can use as they are.
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnKind::Numeric | ColumnKind::Integer)
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the use case does with a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    Feature,
    Target,
    Id,
    Time,
    /// Checked for fairness, not a feature (unless the use case allows it).
    Protected,
    /// Listed in `exclude`, or of a kind no model uses (free text, ids).
    Excluded,
}

impl ColumnRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnRole::Feature => "feature",
            ColumnRole::Target => "target",
            ColumnRole::Id => "id",
            ColumnRole::Time => "time",
            ColumnRole::Protected => "protected",
            ColumnRole::Excluded => "excluded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    pub kind: ColumnKind,
    pub role: ColumnRole,
    /// Replaced by a keyed hash before storage.
    #[serde(default)]
    pub pseudonymised: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Schema {
    pub columns: Vec<ColumnSchema>,
}

impl Schema {
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn with_role(&self, role: ColumnRole) -> impl Iterator<Item = &ColumnSchema> {
        self.columns.iter().filter(move |c| c.role == role)
    }
}
