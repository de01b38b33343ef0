//! The compact bytes a served row's feature values are logged as, and the column-wise
//! decoder that turns many logged rows back into a frame for monitoring.
//!
//! Layout (version 1): one version byte, then per feature in the encoder's order either
//! 8 bytes (little-endian `f64`, NaN for missing) for numeric and yes/no features, or a
//! little-endian `u16` length and that many UTF-8 bytes for categorical features
//! (`0xFFFF` for missing). Categorical values are kept as sent, not as codes, so that
//! monitoring can count categories the model never saw.

use crate::encode::{Encoder, Encoding};
use crate::error::{Result, TrainError};
use klartext_core::{Column, ColumnData, ColumnKind, Frame, StrColumn, MISSING_CODE};
use std::collections::HashMap;

pub const LOG_ROW_VERSION: u8 = 1;
const MISSING_LEN: u16 = u16::MAX;

fn is_text(e: &Encoding) -> bool {
    matches!(e, Encoding::Categorical { .. })
}

impl Encoder {
    /// The log bytes of one row: `row` as [`Encoder::encode_row`] returned it, `raw`
    /// the text sent for feature `i` (used for categorical features only).
    pub fn log_row<'a>(&self, row: &[f64], raw: impl Fn(usize) -> Option<&'a str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 8 * self.features.len());
        out.push(LOG_ROW_VERSION);
        for (i, f) in self.features.iter().enumerate() {
            if is_text(&f.encoding) {
                match raw(i).map(str::trim).filter(|v| !v.is_empty()) {
                    Some(v) => {
                        // Cut overlong values at a character boundary below the length mark.
                        let mut end = v.len().min(usize::from(MISSING_LEN) - 1);
                        while !v.is_char_boundary(end) {
                            end -= 1;
                        }
                        out.extend_from_slice(&(end as u16).to_le_bytes());
                        out.extend_from_slice(&v.as_bytes()[..end]);
                    }
                    None => out.extend_from_slice(&MISSING_LEN.to_le_bytes()),
                }
            } else {
                out.extend_from_slice(&row[i].to_le_bytes());
            }
        }
        out
    }

    /// A builder that decodes logged rows of this encoder column by column.
    pub fn log_decoder(&self) -> LogDecoder<'_> {
        LogDecoder {
            encoder: self,
            cols: self
                .features
                .iter()
                .map(|f| {
                    if is_text(&f.encoding) {
                        Building::Text(StrColumn::default(), HashMap::new())
                    } else {
                        Building::Num(Vec::new())
                    }
                })
                .collect(),
            rows: 0,
        }
    }
}

enum Building {
    Num(Vec<f64>),
    Text(StrColumn, HashMap<String, u32>),
}

/// Decodes logged rows into a [`Frame`] with one column per feature.
pub struct LogDecoder<'e> {
    encoder: &'e Encoder,
    cols: Vec<Building>,
    rows: usize,
}

impl std::fmt::Debug for LogDecoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogDecoder").field("rows", &self.rows).finish()
    }
}

impl LogDecoder<'_> {
    /// Append one logged row; a row that does not fit the encoder's layout is an error
    /// and leaves the columns as they were.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        let bad = |why: &str| TrainError::Data(format!("a logged feature row is unreadable: {why}"));
        match bytes.first() {
            Some(&LOG_ROW_VERSION) => {}
            Some(v) => return Err(bad(&format!("layout version {v} is not known"))),
            None => return Err(bad("it is empty")),
        }
        // Validate first so that a bad row appends nothing.
        let mut at = 1usize;
        for f in &self.encoder.features {
            if is_text(&f.encoding) {
                let len = bytes
                    .get(at..at + 2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .ok_or_else(|| bad("it ends early"))?;
                at += 2;
                if len != MISSING_LEN {
                    let s = bytes
                        .get(at..at + usize::from(len))
                        .ok_or_else(|| bad("it ends early"))?;
                    std::str::from_utf8(s).map_err(|_| bad("a value is not UTF-8"))?;
                    at += usize::from(len);
                }
            } else {
                at += 8;
                if at > bytes.len() {
                    return Err(bad("it ends early"));
                }
            }
        }
        if at != bytes.len() {
            return Err(bad("it has trailing bytes (was it logged by another model version?)"));
        }
        let mut at = 1usize;
        for col in &mut self.cols {
            match col {
                Building::Num(v) => {
                    let b: [u8; 8] = bytes[at..at + 8].try_into().expect("checked above");
                    v.push(f64::from_le_bytes(b));
                    at += 8;
                }
                Building::Text(s, index) => {
                    let len = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
                    at += 2;
                    if len == MISSING_LEN {
                        s.codes.push(MISSING_CODE);
                    } else {
                        let v = std::str::from_utf8(&bytes[at..at + usize::from(len)])
                            .expect("checked above");
                        at += usize::from(len);
                        let code = match index.get(v) {
                            Some(&c) => c,
                            None => {
                                let c = s.levels.len() as u32;
                                s.levels.push(v.to_owned());
                                index.insert(v.to_owned(), c);
                                c
                            }
                        };
                        s.codes.push(code);
                    }
                }
            }
        }
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The decoded rows as a frame; numeric features keep their kind, categorical
    /// features are categorical text.
    pub fn finish(self) -> Frame {
        let columns = self
            .encoder
            .features
            .iter()
            .zip(self.cols)
            .map(|(f, b)| Column {
                name: f.name.clone(),
                data: match b {
                    Building::Num(v) => ColumnData::Num(v),
                    Building::Text(s, _) => ColumnData::Str(s),
                },
            })
            .collect();
        Frame {
            n_rows: self.rows,
            columns,
        }
    }
}

/// Whether a feature is logged as text (categorical) or as a number.
pub fn logged_kind(encoder: &Encoder, i: usize) -> ColumnKind {
    if is_text(&encoder.features[i].encoding) {
        ColumnKind::Categorical
    } else {
        encoder.features[i].kind
    }
}
