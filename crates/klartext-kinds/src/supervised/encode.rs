//! Feature encoding: how a use case's columns become the learner's numeric and
//! categorical features, fixed at training and stored in the artifact so that scoring
//! encodes a row exactly as training did.

use crate::error::{KindError, Result};
use klartext_core::frame::format_number;
use klartext_core::{ColumnData, ColumnKind, ColumnRole, Frame, Schema, UseCase, MISSING_CODE};
use klartext_learn::{FeatureColumn, Features};
use serde::{Deserialize, Serialize};

/// Categories seen in fewer training rows than this share one `(other)` level, so that
/// a handful of rows cannot carve out a split of their own.
pub const MIN_CATEGORY_ROWS: u64 = 10;

/// Text values that count as true, and as false, for boolean features.
const TRUE_WORDS: &[&str] = &["yes", "true", "y", "t", "ja", "j", "oui", "si", "1"];
const FALSE_WORDS: &[&str] = &["no", "false", "n", "f", "nein", "non", "0"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
pub enum Encoding {
    /// Numbers as they are (dates as Unix seconds, booleans as 0/1), with the range
    /// seen in training (`None` when every training value was missing).
    Numeric { min: Option<f64>, max: Option<f64> },
    /// Text read as yes/no: 1 for a yes-like word, 0 otherwise.
    BooleanText,
    /// Known levels in order; an unseen or rare level maps to `other` when the
    /// training data had rare levels, else to missing.
    Categorical { levels: Vec<String>, other: bool },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureEncoding {
    pub name: String,
    pub kind: ColumnKind,
    #[serde(flatten)]
    pub encoding: Encoding,
}

/// The features of a model, in the learner's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    pub features: Vec<FeatureEncoding>,
}

/// The columns a use case trains on: features, plus protected columns when allowed.
pub fn feature_columns<'a>(
    schema: &'a Schema,
    uc: &UseCase,
) -> Vec<&'a klartext_core::ColumnSchema> {
    schema
        .columns
        .iter()
        .filter(|c| match c.role {
            ColumnRole::Feature => true,
            ColumnRole::Protected => uc.data.allow_protected_features,
            _ => false,
        })
        .filter(|c| !matches!(c.kind, ColumnKind::Id | ColumnKind::Text))
        .collect()
}

impl Encoder {
    /// Learn the encoding from the training rows of `frame`.
    pub fn fit(frame: &Frame, schema: &Schema, uc: &UseCase, rows: &[usize]) -> Result<Encoder> {
        let mut features = Vec::new();
        for cs in feature_columns(schema, uc) {
            let col = frame
                .column(&cs.name)
                .ok_or_else(|| KindError::Data(format!("column `{}` is missing", cs.name)))?;
            let encoding = match (&col.data, cs.kind) {
                (ColumnData::Num(v), _) => {
                    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
                    for &r in rows {
                        let x = v[r];
                        if !x.is_nan() {
                            min = min.min(x);
                            max = max.max(x);
                        }
                    }
                    // JSON has no infinity: a column without values has no range.
                    let seen = min <= max;
                    Encoding::Numeric {
                        min: seen.then_some(min),
                        max: seen.then_some(max),
                    }
                }
                (ColumnData::Str(_), ColumnKind::Boolean) => Encoding::BooleanText,
                (ColumnData::Str(s), _) => {
                    let mut counts = vec![0u64; s.levels.len()];
                    for &r in rows {
                        let c = s.codes[r];
                        if c != MISSING_CODE {
                            counts[c as usize] += 1;
                        }
                    }
                    let levels: Vec<String> = s
                        .levels
                        .iter()
                        .zip(&counts)
                        .filter(|(_, &n)| n >= MIN_CATEGORY_ROWS)
                        .map(|(l, _)| l.clone())
                        .collect();
                    let other = counts.iter().any(|&n| n > 0 && n < MIN_CATEGORY_ROWS);
                    Encoding::Categorical { levels, other }
                }
            };
            features.push(FeatureEncoding {
                name: cs.name.clone(),
                kind: cs.kind,
                encoding,
            });
        }
        if features.is_empty() {
            return Err(KindError::Data(
                "the use case leaves no feature to learn from (check data.features, data.exclude and the column kinds)".into(),
            ));
        }
        Ok(Encoder { features })
    }

    /// The model's feature columns that `frame` lacks.
    pub fn missing_in<'a>(&'a self, frame: &Frame) -> Vec<&'a str> {
        self.features
            .iter()
            .map(|f| f.name.as_str())
            .filter(|f| frame.column(f).is_none())
            .collect()
    }

    /// Encode the given rows of a frame (which must have the training columns).
    pub fn encode(&self, frame: &Frame, rows: &[usize]) -> Result<Features> {
        let mut cols = Vec::with_capacity(self.features.len());
        for f in &self.features {
            let col = frame.column(&f.name).ok_or_else(|| KindError::Input {
                feature: f.name.clone(),
                message: "the column is missing".into(),
            })?;
            let fc = match (&f.encoding, &col.data) {
                (Encoding::Numeric { .. }, ColumnData::Num(v)) => {
                    FeatureColumn::numeric(&f.name, rows.iter().map(|&r| v[r]).collect())
                }
                (Encoding::BooleanText, ColumnData::Str(s)) => {
                    let map: Vec<f64> = s
                        .levels
                        .iter()
                        .map(|l| f64::from(u8::from(is_true(l))))
                        .collect();
                    FeatureColumn::numeric(
                        &f.name,
                        rows.iter()
                            .map(|&r| {
                                if s.codes[r] == MISSING_CODE {
                                    f64::NAN
                                } else {
                                    map[s.codes[r] as usize]
                                }
                            })
                            .collect(),
                    )
                }
                (Encoding::Categorical { levels, other }, ColumnData::Str(s)) => {
                    let map: Vec<u32> = s
                        .levels
                        .iter()
                        .map(|l| code_of(levels, *other, l))
                        .collect();
                    let codes = rows
                        .iter()
                        .map(|&r| {
                            if s.codes[r] == MISSING_CODE {
                                MISSING_CODE
                            } else {
                                map[s.codes[r] as usize]
                            }
                        })
                        .collect();
                    FeatureColumn::categorical(&f.name, codes, n_levels(levels, *other))
                }
                (Encoding::Categorical { levels, other }, ColumnData::Num(v)) => {
                    let codes = rows
                        .iter()
                        .map(|&r| {
                            if v[r].is_nan() {
                                MISSING_CODE
                            } else {
                                code_of(levels, *other, &format_number(v[r]))
                            }
                        })
                        .collect();
                    FeatureColumn::categorical(&f.name, codes, n_levels(levels, *other))
                }
                (_, _) => {
                    return Err(KindError::Input {
                        feature: f.name.clone(),
                        message: format!("expected {} values", f.kind),
                    })
                }
            };
            cols.push(fc);
        }
        Ok(Features::new(cols)?)
    }

    /// One row as the learner's values (categoricals as codes, missing as NaN), from
    /// text values by feature name (as a CSV or JSON request carries them).
    pub fn encode_row(&self, get: impl Fn(&str) -> Option<String>) -> Result<Vec<f64>> {
        self.features
            .iter()
            .map(|f| {
                let raw = get(&f.name);
                let raw = raw.as_deref().map(str::trim).filter(|v| !v.is_empty());
                let Some(v) = raw else { return Ok(f64::NAN) };
                let bad = || KindError::Input {
                    feature: f.name.clone(),
                    message: format!("`{v}` is not {}", expected(f.kind)),
                };
                match &f.encoding {
                    Encoding::Numeric { .. } => if f.kind == ColumnKind::Datetime {
                        klartext_data::datetime::parse_iso(v).or_else(|| v.parse::<f64>().ok())
                    } else if f.kind == ColumnKind::Boolean {
                        parse_bool(v)
                    } else {
                        v.parse::<f64>().ok()
                    }
                    .filter(|x| x.is_finite())
                    .ok_or_else(bad),
                    Encoding::BooleanText => parse_bool(v).ok_or_else(bad),
                    Encoding::Categorical { levels, other } => {
                        let c = code_of(levels, *other, v);
                        Ok(if c == MISSING_CODE {
                            f64::NAN
                        } else {
                            f64::from(c)
                        })
                    }
                }
            })
            .collect()
    }

    /// How a learner value of feature `i` reads in a sentence.
    pub fn describe_value(&self, i: usize, x: f64) -> String {
        let f = &self.features[i];
        if x.is_nan() {
            return "missing".into();
        }
        match &f.encoding {
            Encoding::Numeric { .. } if f.kind == ColumnKind::Datetime => {
                klartext_data::datetime::format_datetime(x, klartext_data::datetime::is_midnight(x))
            }
            Encoding::Numeric { .. } if f.kind == ColumnKind::Boolean => yes_no(x),
            Encoding::Numeric { .. } => format_number(x),
            Encoding::BooleanText => yes_no(x),
            Encoding::Categorical { levels, .. } => levels
                .get(x as usize)
                .cloned()
                .unwrap_or_else(|| "another value".into()),
        }
    }
}

fn yes_no(x: f64) -> String {
    if x != 0.0 { "yes" } else { "no" }.into()
}

pub(crate) fn is_true(v: &str) -> bool {
    TRUE_WORDS.contains(&v.trim().to_ascii_lowercase().as_str())
}

/// 1 for a yes-like word, 0 for a no-like word, `None` for anything else.
fn parse_bool(v: &str) -> Option<f64> {
    let l = v.trim().to_ascii_lowercase();
    if TRUE_WORDS.contains(&l.as_str()) {
        Some(1.0)
    } else if FALSE_WORDS.contains(&l.as_str()) {
        Some(0.0)
    } else {
        None
    }
}

fn expected(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Boolean => "yes or no (true/false, 1/0)",
        ColumnKind::Datetime => "a date (YYYY-MM-DD, optionally with time) or Unix seconds",
        ColumnKind::Integer | ColumnKind::Numeric => "a number",
        _ => "a valid value",
    }
}

fn n_levels(levels: &[String], other: bool) -> u32 {
    levels.len() as u32 + u32::from(other)
}

fn code_of(levels: &[String], other: bool, v: &str) -> u32 {
    match levels.iter().position(|l| l == v) {
        Some(i) => i as u32,
        None if other => levels.len() as u32,
        None => MISSING_CODE,
    }
}
