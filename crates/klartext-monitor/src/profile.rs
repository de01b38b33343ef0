//! The reference profile kept with each model version: per feature (and for the score)
//! a sorted quantile sample, summary figures, PSI bins and category frequencies, built
//! from the training rows so that live traffic can be compared with them later.

use crate::error::{MonitorError, Result};
pub use crate::stats::sort_f64;
use klartext_core::{ColumnData, Frame, StrColumn};
use serde::{Deserialize, Serialize};

/// Format of [`ReferenceProfile`]; a newer one is refused with a clear message.
pub const PROFILE_VERSION: u32 = 1;
/// At most this many reference values are kept per numeric column (evenly spaced order
/// statistics, so the sample's distribution follows the full one closely).
pub const SAMPLE_SIZE: usize = 5_000;
/// At most this many categories are kept per categorical column; the rest are pooled.
pub const MAX_CATEGORIES: usize = 500;
/// The name the score goes by among the columns.
pub const SCORE: &str = "(score)";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    pub format: u32,
    /// Rows the profile was built from.
    pub rows: usize,
    pub columns: Vec<ColumnProfile>,
    /// The model's score on held-out rows.
    pub score: Option<NumericProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub missing: u64,
    /// Numbers that are dates (Unix seconds): findings show them as dates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub datetime: bool,
    #[serde(flatten)]
    pub values: ValuesProfile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ValuesProfile {
    Numeric(NumericProfile),
    Categorical(CategoricalProfile),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Values present (not missing).
    pub n: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Population standard deviation (numpy's default), the Wasserstein scale.
    pub std: f64,
    /// The 1st, 5th, 25th, 50th, 75th, 95th and 99th percentiles.
    pub quantiles: [f64; 7],
    /// Sorted; every value when there are at most [`SAMPLE_SIZE`], else evenly spaced
    /// order statistics.
    pub sample: Vec<f64>,
    /// Inner edges of the PSI bins (reference deciles, duplicates removed); a value `x`
    /// falls in bin `i` when `edges[i-1] <= x < edges[i]`.
    pub psi_edges: Vec<f64>,
    /// Share of reference values per PSI bin (`psi_edges.len() + 1` bins).
    pub psi_shares: Vec<f64>,
}

impl NumericProfile {
    /// Whether the sample is the whole reference (so exact tests apply to it).
    pub fn complete(&self) -> bool {
        self.sample.len() as u64 == self.n
    }

    pub fn median(&self) -> f64 {
        self.quantiles[3]
    }
}

pub const QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// Values present (not missing).
    pub n: u64,
    /// The most frequent categories with their counts, most frequent first.
    pub counts: Vec<(String, u64)>,
    /// Rows in categories beyond [`MAX_CATEGORIES`] (pooled).
    pub other: u64,
}

impl ReferenceProfile {
    /// Profile every column of `frame` (numbers as numeric, text as categorical) and
    /// the scores.
    pub fn build(frame: &Frame, scores: &[f64]) -> ReferenceProfile {
        let columns = frame
            .columns
            .iter()
            .map(|c| match &c.data {
                ColumnData::Num(v) => {
                    let mut present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                    let missing = (v.len() - present.len()) as u64;
                    sort_f64(&mut present);
                    ColumnProfile {
                        name: c.name.clone(),
                        missing,
                        datetime: false,
                        values: ValuesProfile::Numeric(numeric_profile(&present)),
                    }
                }
                ColumnData::Str(s) => ColumnProfile {
                    name: c.name.clone(),
                    missing: s.missing() as u64,
                    datetime: false,
                    values: ValuesProfile::Categorical(categorical_profile(s)),
                },
            })
            .collect();
        let mut s: Vec<f64> = scores.iter().copied().filter(|x| x.is_finite()).collect();
        sort_f64(&mut s);
        ReferenceProfile {
            format: PROFILE_VERSION,
            rows: frame.n_rows,
            columns,
            score: (!s.is_empty()).then(|| numeric_profile(&s)),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a profile serialises (no NaN is stored)")
    }

    pub fn from_json(text: &str) -> Result<ReferenceProfile> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| MonitorError::Reference(format!("it is not valid JSON: {e}")))?;
        let format = v
            .get("format")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if format > u64::from(PROFILE_VERSION) {
            return Err(MonitorError::Reference(format!(
                "it has format {format}, newer than this klartext reads ({PROFILE_VERSION}); upgrade klartext"
            )));
        }
        serde_json::from_value(v)
            .map_err(|e| MonitorError::Reference(format!("it does not read: {e}")))
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The summary of sorted, present values (`sorted` may be empty).
pub fn numeric_profile(sorted: &[f64]) -> NumericProfile {
    let n = sorted.len();
    if n == 0 {
        return NumericProfile {
            n: 0,
            min: 0.0,
            max: 0.0,
            mean: 0.0,
            std: 0.0,
            quantiles: [0.0; 7],
            sample: Vec::new(),
            psi_edges: Vec::new(),
            psi_shares: vec![1.0],
        };
    }
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let var = sorted.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
    let sample = if n <= SAMPLE_SIZE {
        sorted.to_vec()
    } else {
        (0..SAMPLE_SIZE)
            .map(|i| sorted[((2 * i + 1) * n) / (2 * SAMPLE_SIZE)])
            .collect()
    };
    let mut edges: Vec<f64> = (1..10).map(|d| quantile(sorted, d as f64 / 10.0)).collect();
    edges.dedup();
    // An edge equal to the minimum would leave the first bin empty.
    edges.retain(|&e| e > sorted[0]);
    let psi_shares = bin_shares(&edges, sorted);
    NumericProfile {
        n: n as u64,
        min: sorted[0],
        max: sorted[n - 1],
        mean,
        std: var.sqrt(),
        quantiles: QUANTILES.map(|q| quantile(sorted, q)),
        sample,
        psi_edges: edges,
        psi_shares,
    }
}

/// Share of sorted values per bin of `edges` (see [`NumericProfile::psi_edges`]).
pub fn bin_shares(edges: &[f64], sorted: &[f64]) -> Vec<f64> {
    let n = sorted.len().max(1) as f64;
    let mut out = Vec::with_capacity(edges.len() + 1);
    let mut prev = 0usize;
    for &e in edges {
        let k = sorted.partition_point(|&x| x < e);
        out.push((k - prev) as f64 / n);
        prev = k;
    }
    out.push((sorted.len() - prev) as f64 / n);
    out
}

/// Linear-interpolated quantile of sorted values (numpy's default method).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn categorical_profile(s: &StrColumn) -> CategoricalProfile {
    let counts = s.level_counts();
    let mut pairs: Vec<(String, u64)> = s
        .levels
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| (l.clone(), n))
        .collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let n = pairs.iter().map(|p| p.1).sum();
    let other = pairs.iter().skip(MAX_CATEGORIES).map(|p| p.1).sum();
    pairs.truncate(MAX_CATEGORIES);
    CategoricalProfile {
        n,
        counts: pairs,
        other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klartext_core::{Column, MISSING_CODE};

    #[test]
    fn radix_sort_matches_comparison_sort() {
        let mut v: Vec<f64> = (0..10_000u64)
            .map(|i| ((i * 7919 % 10007) as f64 - 5000.0) * 0.37)
            .chain([0.0, -0.0, 1e300, -1e300, f64::MIN_POSITIVE])
            .collect();
        let mut w = v.clone();
        sort_f64(&mut v);
        w.sort_by(f64::total_cmp);
        assert_eq!(v, w);
    }

    #[test]
    fn profile_of_numbers_and_categories() {
        let frame = Frame {
            n_rows: 6,
            columns: vec![
                Column {
                    name: "x".into(),
                    data: ColumnData::Num(vec![1.0, 2.0, f64::NAN, 4.0, 5.0, 3.0]),
                },
                Column {
                    name: "plan".into(),
                    data: ColumnData::Str(StrColumn {
                        codes: vec![0, 1, 0, MISSING_CODE, 0, 1],
                        levels: vec!["basic".into(), "premium".into()],
                    }),
                },
            ],
        };
        let p = ReferenceProfile::build(&frame, &[0.1, 0.9]);
        let ValuesProfile::Numeric(x) = &p.column("x").unwrap().values else {
            panic!("numeric")
        };
        assert_eq!(x.n, 5);
        assert_eq!(p.column("x").unwrap().missing, 1);
        assert_eq!(x.sample, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(x.median(), 3.0);
        assert!((x.std - 2f64.sqrt()).abs() < 1e-12);
        assert!((x.psi_shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let ValuesProfile::Categorical(c) = &p.column("plan").unwrap().values else {
            panic!("categorical")
        };
        assert_eq!(c.counts, vec![("basic".into(), 3), ("premium".into(), 2)]);
        let back = ReferenceProfile::from_json(&p.to_json()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn a_newer_profile_is_refused_clearly() {
        let e =
            ReferenceProfile::from_json(r#"{"format": 99, "rows": 0, "columns": []}"#).unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
    }
}
