//! The compact bytes a served row's feature values are logged as, and the column-wise
//! decoder that turns many logged rows back into a frame for monitoring.
//!
//! Layout (version 1): one version byte, then per feature in the encoder's order either
//! 8 bytes (little-endian `f64`, NaN for missing) for numeric and yes/no features, or a
//! little-endian `u16` length and that many UTF-8 bytes for categorical features
//! (`0xFFFF` for missing). Categorical values are kept as sent, not as codes, so that
//! monitoring can count categories the model never saw.

use crate::error::{KindError, Result};
use crate::supervised::encode::{Encoder, Encoding};
use klartext_core::{Column, ColumnData, ColumnKind, Frame, StrColumn, MISSING_CODE};
use rustc_hash::FxHashMap;
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
                        Building::Text(StrColumn::default(), FxHashMap::default())
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
    /// The column and its levels by their bytes (a fast hash: this runs per row).
    Text(StrColumn, FxHashMap<Vec<u8>, u32>),
}

fn unreadable(why: &str) -> KindError {
    KindError::Data(format!("a logged feature row is unreadable: {why}"))
}

/// Decodes logged rows into a [`Frame`] with one column per feature.
pub struct LogDecoder<'e> {
    encoder: &'e Encoder,
    cols: Vec<Building>,
    rows: usize,
}

impl std::fmt::Debug for LogDecoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogDecoder")
            .field("rows", &self.rows)
            .finish()
    }
}

impl LogDecoder<'_> {
    /// Append one logged row; a row that does not fit the encoder's layout is an error
    /// and leaves the columns as they were.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        match bytes.first() {
            Some(&LOG_ROW_VERSION) => {}
            Some(v) => return Err(unreadable(&format!("layout version {v} is not known"))),
            None => return Err(unreadable("it is empty")),
        }
        // One pass; on a bad row the columns are cut back to the rows before it.
        match self.append(&bytes[1..]) {
            Ok(()) => {
                self.rows += 1;
                Ok(())
            }
            Err(why) => {
                for col in &mut self.cols {
                    match col {
                        Building::Num(v) => v.truncate(self.rows),
                        Building::Text(s, _) => s.codes.truncate(self.rows),
                    }
                }
                Err(unreadable(why))
            }
        }
    }

    fn append(&mut self, mut rest: &[u8]) -> std::result::Result<(), &'static str> {
        const SHORT: &str = "it ends early";
        for col in &mut self.cols {
            match col {
                Building::Num(v) => {
                    let (b, r) = rest.split_first_chunk::<8>().ok_or(SHORT)?;
                    v.push(f64::from_le_bytes(*b));
                    rest = r;
                }
                Building::Text(s, index) => {
                    let (b, r) = rest.split_first_chunk::<2>().ok_or(SHORT)?;
                    let len = u16::from_le_bytes(*b);
                    rest = r;
                    if len == MISSING_LEN {
                        s.codes.push(MISSING_CODE);
                        continue;
                    }
                    let (v, r) = rest.split_at_checked(usize::from(len)).ok_or(SHORT)?;
                    rest = r;
                    let code = match index.get(v) {
                        Some(&c) => c,
                        None => {
                            let text =
                                std::str::from_utf8(v).map_err(|_| "a value is not UTF-8")?;
                            let c = s.levels.len() as u32;
                            s.levels.push(text.to_owned());
                            index.insert(v.to_vec(), c);
                            c
                        }
                    };
                    s.codes.push(code);
                }
            }
        }
        if rest.is_empty() {
            Ok(())
        } else {
            Err("it has trailing bytes (was it logged by another model version?)")
        }
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

impl Encoder {
    /// The given rows of a training-shaped frame in the form logged rows decode to:
    /// numbers (yes/no text as 0/1) and categorical text as written. Monitoring compares
    /// the two, so the reference profile is built from this.
    pub fn log_frame(&self, frame: &Frame, rows: &[usize]) -> Result<Frame> {
        let mut columns = Vec::with_capacity(self.features.len());
        for f in &self.features {
            let col = frame.column(&f.name).ok_or_else(|| KindError::Input {
                feature: f.name.clone(),
                message: "the column is missing".into(),
            })?;
            let data = match (&f.encoding, &col.data) {
                (Encoding::Categorical { .. }, ColumnData::Str(s)) => {
                    // Keep only the levels these rows use, in first-use order.
                    let mut remap = vec![MISSING_CODE; s.levels.len()];
                    let mut out = StrColumn::default();
                    for &r in rows {
                        let c = s.codes[r];
                        if c == MISSING_CODE {
                            out.codes.push(MISSING_CODE);
                            continue;
                        }
                        if remap[c as usize] == MISSING_CODE {
                            remap[c as usize] = out.levels.len() as u32;
                            out.levels.push(s.levels[c as usize].clone());
                        }
                        out.codes.push(remap[c as usize]);
                    }
                    ColumnData::Str(out)
                }
                (Encoding::Categorical { .. }, ColumnData::Num(v)) => {
                    let mut index: HashMap<u64, u32> = HashMap::new();
                    let mut out = StrColumn::default();
                    for &r in rows {
                        let x = v[r];
                        if x.is_nan() {
                            out.codes.push(MISSING_CODE);
                            continue;
                        }
                        let c = *index.entry(x.to_bits()).or_insert_with(|| {
                            out.levels.push(klartext_core::frame::format_number(x));
                            (out.levels.len() - 1) as u32
                        });
                        out.codes.push(c);
                    }
                    ColumnData::Str(out)
                }
                (_, ColumnData::Num(v)) => ColumnData::Num(rows.iter().map(|&r| v[r]).collect()),
                (Encoding::BooleanText, ColumnData::Str(s)) => {
                    let map: Vec<f64> = s
                        .levels
                        .iter()
                        .map(|l| f64::from(u8::from(crate::supervised::encode::is_true(l))))
                        .collect();
                    ColumnData::Num(
                        rows.iter()
                            .map(|&r| match s.codes[r] {
                                MISSING_CODE => f64::NAN,
                                c => map[c as usize],
                            })
                            .collect(),
                    )
                }
                (Encoding::Numeric { .. }, ColumnData::Str(_)) => {
                    return Err(KindError::Input {
                        feature: f.name.clone(),
                        message: format!("expected {} values", f.kind),
                    })
                }
            };
            columns.push(Column {
                name: f.name.clone(),
                data,
            });
        }
        Ok(Frame {
            n_rows: rows.len(),
            columns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervised::encode::FeatureEncoding;

    fn encoder() -> Encoder {
        Encoder {
            features: vec![
                FeatureEncoding {
                    name: "tenure".into(),
                    kind: ColumnKind::Integer,
                    encoding: Encoding::Numeric {
                        min: Some(0.0),
                        max: Some(72.0),
                    },
                },
                FeatureEncoding {
                    name: "plan".into(),
                    kind: ColumnKind::Categorical,
                    encoding: Encoding::Categorical {
                        levels: vec!["basic".into(), "premium".into()],
                        other: false,
                    },
                },
                FeatureEncoding {
                    name: "paperless".into(),
                    kind: ColumnKind::Boolean,
                    encoding: Encoding::BooleanText,
                },
            ],
        }
    }

    #[test]
    fn logged_rows_decode_to_a_frame_with_unseen_categories_kept() {
        let enc = encoder();
        let raw = [
            [Some("12"), Some("basic"), Some("yes")],
            [None, Some("platinum"), Some("no")],
            [Some("3.5"), None, None],
        ];
        let mut dec = enc.log_decoder();
        for r in &raw {
            let get = |name: &str| {
                let i = enc.features.iter().position(|f| f.name == name).unwrap();
                r[i].map(str::to_owned)
            };
            let row = enc.encode_row(get).unwrap();
            let bytes = enc.log_row(&row, |i| r[i]);
            dec.push(&bytes).unwrap();
        }
        let f = dec.finish();
        assert_eq!(f.n_rows, 3);
        let ColumnData::Num(t) = &f.columns[0].data else {
            panic!()
        };
        assert_eq!(t[0], 12.0);
        assert!(t[1].is_nan());
        assert_eq!(t[2], 3.5);
        let ColumnData::Str(p) = &f.columns[1].data else {
            panic!()
        };
        assert_eq!(p.get(0), Some("basic"));
        assert_eq!(p.get(1), Some("platinum"));
        assert_eq!(p.get(2), None);
        let ColumnData::Num(b) = &f.columns[2].data else {
            panic!()
        };
        assert_eq!(b[0], 1.0);
        assert_eq!(b[1], 0.0);
        assert!(b[2].is_nan());
    }

    #[test]
    fn a_row_of_another_layout_is_refused_and_appends_nothing() {
        let enc = encoder();
        let mut dec = enc.log_decoder();
        assert!(dec.push(&[LOG_ROW_VERSION, 1, 2]).is_err());
        assert!(dec.push(&[9]).is_err());
        assert!(dec.push(&[]).is_err());
        assert_eq!(dec.rows(), 0);
        assert_eq!(dec.finish().columns.len(), 3);
    }
}
