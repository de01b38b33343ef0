//! Input data types: the column-oriented feature set, its schema, and the row view
//! used for single-row scoring.

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result};

/// Code that marks a missing categorical value.
pub const MISSING_CODE: u32 = u32::MAX;

/// What the model learns to predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Targets are 0/1; raw scores are log-odds, predictions are probabilities.
    BinaryClassification,
    /// Targets are real numbers; raw score = prediction.
    Regression,
}

/// The values of one feature column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Real values; `NaN` marks a missing value.
    Numeric(Vec<f64>),
    /// Category codes in `0..n_levels`; [`MISSING_CODE`] marks a missing value.
    Categorical { codes: Vec<u32>, n_levels: u32 },
}

/// One named feature column.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureColumn {
    pub name: String,
    pub values: ColumnValues,
}

impl FeatureColumn {
    /// A numeric column (`NaN` = missing).
    pub fn numeric(name: impl Into<String>, values: Vec<f64>) -> Self {
        FeatureColumn {
            name: name.into(),
            values: ColumnValues::Numeric(values),
        }
    }

    /// A categorical column (`u32::MAX` = missing).
    pub fn categorical(name: impl Into<String>, codes: Vec<u32>, n_levels: u32) -> Self {
        FeatureColumn {
            name: name.into(),
            values: ColumnValues::Categorical { codes, n_levels },
        }
    }

    /// Number of rows in this column.
    pub fn len(&self) -> usize {
        match &self.values {
            ColumnValues::Numeric(v) => v.len(),
            ColumnValues::Categorical { codes, .. } => codes.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kind recorded in a model's schema.
    pub fn kind(&self) -> FeatureKind {
        match &self.values {
            ColumnValues::Numeric(_) => FeatureKind::Numeric,
            ColumnValues::Categorical { n_levels, .. } => FeatureKind::Categorical {
                n_levels: *n_levels,
            },
        }
    }

    /// Row `i` in the row-view encoding: numeric as is, categorical code as f64,
    /// missing as `NaN`.
    #[inline]
    pub fn value_f64(&self, i: usize) -> f64 {
        match &self.values {
            ColumnValues::Numeric(v) => v[i],
            ColumnValues::Categorical { codes, .. } => {
                let c = codes[i];
                if c == MISSING_CODE {
                    f64::NAN
                } else {
                    c as f64
                }
            }
        }
    }
}

/// A column-oriented feature set: every column has `n_rows` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    pub n_rows: usize,
    pub columns: Vec<FeatureColumn>,
}

impl Features {
    /// Builds and validates a feature set: equal column lengths, codes within levels.
    pub fn new(columns: Vec<FeatureColumn>) -> Result<Self> {
        let n_rows = columns.first().map(|c| c.len()).unwrap_or(0);
        let f = Features { n_rows, columns };
        f.validate()?;
        Ok(f)
    }

    /// Checks the invariants [`Features::new`] establishes (for hand-built values).
    pub fn validate(&self) -> Result<()> {
        for c in &self.columns {
            if c.len() != self.n_rows {
                return Err(LearnError::LengthMismatch {
                    what: format!("column `{}`", c.name),
                    expected: self.n_rows,
                    found: c.len(),
                });
            }
            if let ColumnValues::Categorical { codes, n_levels } = &c.values {
                if let Some(bad) = codes.iter().find(|&&x| x != MISSING_CODE && x >= *n_levels) {
                    return Err(LearnError::InvalidInput(format!(
                        "column `{}` has category code {bad} but only {n_levels} levels",
                        c.name
                    )));
                }
            }
            if let ColumnValues::Numeric(v) = &c.values {
                if v.iter().any(|x| x.is_infinite()) {
                    return Err(LearnError::InvalidInput(format!(
                        "column `{}` has an infinite value",
                        c.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.columns.len()
    }

    /// The schema a model trained on these features records.
    pub fn schema(&self) -> Schema {
        Schema {
            features: self
                .columns
                .iter()
                .map(|c| FeatureSpec {
                    name: c.name.clone(),
                    kind: c.kind(),
                })
                .collect(),
        }
    }

    /// Writes row `i` into `out` in the row-view encoding (see [`FeatureColumn::value_f64`]).
    pub fn row_into(&self, i: usize, out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.columns.iter().map(|c| c.value_f64(i)));
    }

    /// Row `i` in the row-view encoding.
    pub fn row(&self, i: usize) -> Vec<f64> {
        let mut v = Vec::with_capacity(self.columns.len());
        self.row_into(i, &mut v);
        v
    }

    /// A new feature set holding the given rows, in the given order.
    pub fn take_rows(&self, rows: &[usize]) -> Features {
        let columns = self
            .columns
            .iter()
            .map(|c| FeatureColumn {
                name: c.name.clone(),
                values: match &c.values {
                    ColumnValues::Numeric(v) => {
                        ColumnValues::Numeric(rows.iter().map(|&r| v[r]).collect())
                    }
                    ColumnValues::Categorical { codes, n_levels } => ColumnValues::Categorical {
                        codes: rows.iter().map(|&r| codes[r]).collect(),
                        n_levels: *n_levels,
                    },
                },
            })
            .collect();
        Features {
            n_rows: rows.len(),
            columns,
        }
    }
}

/// The kind of one feature as a model remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FeatureKind {
    Numeric,
    Categorical { n_levels: u32 },
}

/// Name and kind of one feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    pub kind: FeatureKind,
}

/// The ordered features a model expects in a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub features: Vec<FeatureSpec>,
}

impl Schema {
    /// Number of features a row must have.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// True when the schema has no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Feature names in row order.
    pub fn names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }

    /// Checks that a row has the right length; values themselves are never
    /// rejected (NaN and unknown codes mean "missing"/"unseen").
    pub fn check_row(&self, row: &[f64]) -> Result<()> {
        if row.len() != self.features.len() {
            return Err(LearnError::LengthMismatch {
                what: "row".into(),
                expected: self.features.len(),
                found: row.len(),
            });
        }
        Ok(())
    }
}

/// Checks a target vector for `task`: length, finiteness, and 0/1 for classification.
pub fn check_target(task: Task, target: &[f64], n_rows: usize) -> Result<()> {
    if n_rows == 0 {
        return Err(LearnError::EmptyData("no rows to learn from".into()));
    }
    if target.len() != n_rows {
        return Err(LearnError::LengthMismatch {
            what: "target".into(),
            expected: n_rows,
            found: target.len(),
        });
    }
    match task {
        Task::BinaryClassification => {
            if let Some(bad) = target.iter().find(|&&y| y != 0.0 && y != 1.0) {
                return Err(LearnError::InvalidInput(format!(
                    "binary target must be 0 or 1, found {bad}"
                )));
            }
            let pos = target.iter().filter(|&&y| y == 1.0).count();
            if pos == 0 || pos == target.len() {
                return Err(LearnError::SingleClass(format!(
                    "{pos} positives out of {} rows",
                    target.len()
                )));
            }
        }
        Task::Regression => {
            if let Some(bad) = target.iter().find(|y| !y.is_finite()) {
                return Err(LearnError::InvalidInput(format!(
                    "regression target must be finite, found {bad}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_view_encodes_missing_and_codes() {
        let f = Features::new(vec![
            FeatureColumn::numeric("a", vec![1.0, f64::NAN]),
            FeatureColumn::categorical("b", vec![2, MISSING_CODE], 3),
        ])
        .unwrap();
        assert_eq!(f.row(0), vec![1.0, 2.0]);
        let r = f.row(1);
        assert!(r[0].is_nan() && r[1].is_nan());
    }

    #[test]
    fn rejects_bad_columns() {
        assert!(matches!(
            Features::new(vec![
                FeatureColumn::numeric("a", vec![1.0, 2.0]),
                FeatureColumn::numeric("b", vec![1.0]),
            ]),
            Err(LearnError::LengthMismatch { .. })
        ));
        assert!(Features::new(vec![FeatureColumn::categorical("c", vec![5], 3)]).is_err());
        assert!(check_target(Task::BinaryClassification, &[0.0, 0.0], 2).is_err());
        assert!(check_target(Task::BinaryClassification, &[0.0, 0.5], 2).is_err());
    }
}
