//! The in-memory columnar table every layer passes around.
//!
//! Numbers (numeric, integer, boolean as 0/1, datetimes as Unix seconds) are `f64` with
//! `NaN` for missing. Everything else is dictionary-encoded: one `u32` code per row into a
//! list of distinct strings, so inference, profiling and PII checks look at each distinct
//! value once instead of once per row.

use serde::{Deserialize, Serialize};

/// Code of a missing value in a [`StrColumn`].
pub const MISSING_CODE: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub n_rows: usize,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnData {
    /// `NaN` marks a missing value.
    Num(Vec<f64>),
    Str(StrColumn),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StrColumn {
    /// One code per row; [`MISSING_CODE`] marks a missing value.
    pub codes: Vec<u32>,
    /// Distinct values in order of first appearance.
    pub levels: Vec<String>,
}

impl StrColumn {
    /// The value of row `i`, `None` when missing.
    pub fn get(&self, i: usize) -> Option<&str> {
        match self.codes[i] {
            MISSING_CODE => None,
            c => Some(&self.levels[c as usize]),
        }
    }

    /// How many rows carry each level (index = code).
    pub fn level_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.levels.len()];
        for &c in &self.codes {
            if c != MISSING_CODE {
                counts[c as usize] += 1;
            }
        }
        counts
    }

    pub fn missing(&self) -> usize {
        self.codes.iter().filter(|&&c| c == MISSING_CODE).count()
    }
}

impl ColumnData {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Num(v) => v.len(),
            ColumnData::Str(s) => s.codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn missing(&self) -> usize {
        match self {
            ColumnData::Num(v) => v.iter().filter(|x| x.is_nan()).count(),
            ColumnData::Str(s) => s.missing(),
        }
    }

    /// The value of row `i` as text, as a report or an explanation would print it.
    pub fn display(&self, i: usize) -> Option<String> {
        match self {
            ColumnData::Num(v) => {
                let x = v[i];
                (!x.is_nan()).then(|| format_number(x))
            }
            ColumnData::Str(s) => s.get(i).map(str::to_owned),
        }
    }
}

impl Frame {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn n_cols(&self) -> usize {
        self.columns.len()
    }

    /// Keep only the rows whose index `keep` returns true for, in order.
    pub fn filter_rows(&self, keep: impl Fn(usize) -> bool) -> Frame {
        let rows: Vec<usize> = (0..self.n_rows).filter(|&i| keep(i)).collect();
        self.take_rows(&rows)
    }

    /// A new frame with the given rows (indices may repeat), levels kept as they are.
    pub fn take_rows(&self, rows: &[usize]) -> Frame {
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                data: match &c.data {
                    ColumnData::Num(v) => ColumnData::Num(rows.iter().map(|&i| v[i]).collect()),
                    ColumnData::Str(s) => ColumnData::Str(StrColumn {
                        codes: rows.iter().map(|&i| s.codes[i]).collect(),
                        levels: s.levels.clone(),
                    }),
                },
            })
            .collect();
        Frame {
            n_rows: rows.len(),
            columns,
        }
    }
}

/// Print a number the short way people write it: integers without ".0", others with up to
/// six significant decimals.
pub fn format_number(x: f64) -> String {
    if x.is_nan() {
        return String::new();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_short() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-2.5), "-2.5");
        assert_eq!(format_number(0.1234567), "0.123457");
        assert_eq!(format_number(f64::NAN), "");
    }

    #[test]
    fn take_rows_keeps_levels() {
        let f = Frame {
            n_rows: 3,
            columns: vec![
                Column {
                    name: "a".into(),
                    data: ColumnData::Num(vec![1.0, 2.0, 3.0]),
                },
                Column {
                    name: "b".into(),
                    data: ColumnData::Str(StrColumn {
                        codes: vec![0, MISSING_CODE, 1],
                        levels: vec!["x".into(), "y".into()],
                    }),
                },
            ],
        };
        let g = f.take_rows(&[2, 0]);
        assert_eq!(g.n_rows, 2);
        assert_eq!(g.columns[0].data, ColumnData::Num(vec![3.0, 1.0]));
        assert_eq!(g.columns[1].data.display(0).as_deref(), Some("y"));
        assert_eq!(f.columns[1].data.missing(), 1);
    }
}
