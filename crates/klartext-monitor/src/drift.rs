//! Drift of each feature and of the score between a reference profile and a window of
//! current rows, judged as Evidently does by default: on a small reference (at most
//! 1,000 values) a KS test for numbers and a chi-square test for categories (drift
//! when p < 0.05); on a larger one the normalised Wasserstein distance for numbers and
//! the Jensen-Shannon distance for categories (drift when ≥ 0.1); the data set has
//! drifted when at least half of its features drifted. PSI is computed for every column.

use crate::error::Result;
use crate::profile::{
    bin_shares, quantile, sort_f64, CategoricalProfile, NumericProfile, ReferenceProfile,
    ValuesProfile, SCORE,
};
use crate::stats;
use klartext_core::usecase::Monitoring;
use klartext_core::{ColumnData, Frame, StrColumn, MISSING_CODE};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// References with at most this many values are judged by tests, larger ones by
/// distances (Evidently's rule).
pub const SMALL_REFERENCE: u64 = 1_000;
/// Bars in the histograms of the report.
const HIST_BINS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Ks,
    Wasserstein,
    ChiSquare,
    JensenShannon,
}

impl Method {
    pub fn describe(self) -> &'static str {
        match self {
            Method::Ks => "Kolmogorov-Smirnov test",
            Method::Wasserstein => "normalised Wasserstein distance",
            Method::ChiSquare => "chi-square test",
            Method::JensenShannon => "Jensen-Shannon distance",
        }
    }
}

/// The thresholds drift is judged by (from the use case's `[monitoring]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub p_value: f64,
    pub distance: f64,
    pub psi: f64,
    pub drift_share: f64,
}

impl From<&Monitoring> for Thresholds {
    fn from(m: &Monitoring) -> Self {
        Thresholds {
            p_value: m.p_value,
            distance: m.distance,
            psi: m.psi,
            drift_share: m.drift_share,
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        (&Monitoring::default()).into()
    }
}

/// Reference and current shares over the same bars, for a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bar labels (categories) or bar edges (numbers: one more edge than bars).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub edges: Vec<f64>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: String,
    /// Numbers that are dates (Unix seconds).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub datetime: bool,
    pub method: Method,
    /// The test statistic or the distance.
    pub statistic: f64,
    /// For the tests (KS, chi-square).
    pub p_value: Option<f64>,
    pub psi: f64,
    pub drifted: bool,
    pub n_reference: u64,
    pub n_current: u64,
    pub missing_share_reference: f64,
    pub missing_share_current: f64,
    /// Numbers: current values below the reference minimum or above its maximum.
    pub out_of_range: u64,
    /// Categories: current values in categories the reference never had.
    pub new_category_rows: u64,
    /// Up to five categories the reference never had, most frequent first.
    pub new_categories: Vec<(String, u64)>,
    /// Numbers: median of the reference and of the window.
    pub median_reference: Option<f64>,
    pub median_current: Option<f64>,
    /// Categories: the category whose share moved most, with both shares.
    pub biggest_move: Option<(String, f64, f64)>,
    pub histogram: Histogram,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub rows: usize,
    pub thresholds: Thresholds,
    pub columns: Vec<ColumnDrift>,
    pub score: Option<ColumnDrift>,
    pub drifted_features: usize,
    pub drifted_share: f64,
    pub dataset_drift: bool,
}

impl DriftReport {
    pub fn drifted(&self) -> impl Iterator<Item = &ColumnDrift> {
        self.columns.iter().filter(|c| c.drifted)
    }
}

/// Compare the current rows (columns named as in the reference; a column the window
/// lacks is skipped) and scores with the reference.
pub fn drift(
    reference: &ReferenceProfile,
    current: &Frame,
    scores: Option<&[f64]>,
    t: &Thresholds,
) -> Result<DriftReport> {
    let columns: Vec<ColumnDrift> = reference
        .columns
        .par_iter()
        .filter_map(|rc| {
            let cur = current.column(&rc.name)?;
            let ref_missing = rc.missing as f64;
            Some(match (&rc.values, &cur.data) {
                (ValuesProfile::Numeric(p), ColumnData::Num(v)) => {
                    numeric_drift(&rc.name, p, ref_missing, v, t).map(|mut d| {
                        d.datetime = rc.datetime;
                        d
                    })
                }
                (ValuesProfile::Categorical(p), ColumnData::Str(s)) => {
                    categorical_drift(&rc.name, p, ref_missing, s, t)
                }
                (ValuesProfile::Categorical(p), ColumnData::Num(v)) => {
                    let s = numbers_as_text(v);
                    categorical_drift(&rc.name, p, ref_missing, &s, t)
                }
                (ValuesProfile::Numeric(_), ColumnData::Str(_)) => {
                    return Some(Err(crate::error::MonitorError::InvalidInput(format!(
                        "column `{}` is numeric in the reference but text in the current rows",
                        rc.name
                    ))))
                }
            })
        })
        .collect::<Result<_>>()?;
    let score = match (&reference.score, scores) {
        (Some(p), Some(s)) if !s.is_empty() => Some(numeric_drift(SCORE, p, 0.0, s, t)?),
        _ => None,
    };
    let drifted_features = columns.iter().filter(|c| c.drifted).count();
    let drifted_share = if columns.is_empty() {
        0.0
    } else {
        drifted_features as f64 / columns.len() as f64
    };
    Ok(DriftReport {
        rows: current.n_rows,
        thresholds: *t,
        dataset_drift: !columns.is_empty() && drifted_share >= t.drift_share,
        columns,
        score,
        drifted_features,
        drifted_share,
    })
}

fn numbers_as_text(v: &[f64]) -> StrColumn {
    let mut index: HashMap<u64, u32> = HashMap::new();
    let mut s = StrColumn::default();
    for &x in v {
        if x.is_nan() {
            s.codes.push(MISSING_CODE);
            continue;
        }
        let c = *index.entry(x.to_bits()).or_insert_with(|| {
            s.levels.push(klartext_core::frame::format_number(x));
            (s.levels.len() - 1) as u32
        });
        s.codes.push(c);
    }
    s
}

fn numeric_drift(
    name: &str,
    p: &NumericProfile,
    ref_missing: f64,
    values: &[f64],
    t: &Thresholds,
) -> Result<ColumnDrift> {
    let mut cur: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let missing_current = values.len() - cur.len();
    sort_f64(&mut cur);
    let (method, statistic, p_value, drifted) = if cur.is_empty() || p.n == 0 {
        // Nothing to compare: every value went missing (or never was there).
        (Method::Wasserstein, 0.0, None, cur.is_empty() != (p.n == 0))
    } else if p.n <= SMALL_REFERENCE && p.complete() {
        let r = stats::ks_2samp_sorted(&p.sample, &cur)?;
        (
            Method::Ks,
            r.statistic,
            Some(r.pvalue),
            r.pvalue < t.p_value,
        )
    } else {
        let w = stats::wasserstein_sorted(&p.sample, &cur)? / p.std.max(0.001);
        (Method::Wasserstein, w, None, w >= t.distance)
    };
    let shares = bin_shares(&p.psi_edges, &cur);
    let psi = stats::psi(&p.psi_shares, &shares)?;
    let out_of_range = if p.n == 0 {
        0
    } else {
        (cur.partition_point(|&x| x < p.min) + cur.len() - cur.partition_point(|&x| x <= p.max))
            as u64
    };
    Ok(ColumnDrift {
        name: name.to_owned(),
        kind: "numeric".into(),
        datetime: false,
        method,
        statistic,
        p_value,
        psi,
        drifted,
        n_reference: p.n,
        n_current: cur.len() as u64,
        missing_share_reference: share(ref_missing, ref_missing + p.n as f64),
        missing_share_current: share(missing_current as f64, values.len() as f64),
        out_of_range,
        new_category_rows: 0,
        new_categories: Vec::new(),
        median_reference: (p.n > 0).then(|| p.median()),
        median_current: (!cur.is_empty()).then(|| quantile(&cur, 0.5)),
        biggest_move: None,
        histogram: numeric_histogram(p, &cur),
    })
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// Equal-width bars over the range both sides mostly cover (1st to 99th percentile),
/// the reference side from its sample.
fn numeric_histogram(p: &NumericProfile, cur: &[f64]) -> Histogram {
    if p.sample.is_empty() && cur.is_empty() {
        return Histogram {
            labels: Vec::new(),
            edges: Vec::new(),
            reference: Vec::new(),
            current: Vec::new(),
        };
    }
    let lo_hi = |s: &[f64]| (quantile(s, 0.01), quantile(s, 0.99));
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for s in [&p.sample[..], cur] {
        if !s.is_empty() {
            let (a, b) = lo_hi(s);
            lo = lo.min(a);
            hi = hi.max(b);
        }
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let width = (hi - lo) / HIST_BINS as f64;
    let edges: Vec<f64> = (0..=HIST_BINS).map(|i| lo + width * i as f64).collect();
    let count = |s: &[f64]| -> Vec<f64> {
        let mut c = [0.0; HIST_BINS];
        for &x in s {
            let b = (((x - lo) / width).floor().max(0.0) as usize).min(HIST_BINS - 1);
            c[b] += 1.0;
        }
        let n = s.len().max(1) as f64;
        c.iter().map(|v| v / n).collect()
    };
    Histogram {
        labels: Vec::new(),
        reference: count(&p.sample),
        current: count(cur),
        edges,
    }
}

fn categorical_drift(
    name: &str,
    p: &CategoricalProfile,
    ref_missing: f64,
    s: &StrColumn,
    t: &Thresholds,
) -> Result<ColumnDrift> {
    let level_counts = s.level_counts();
    let n_current: u64 = level_counts.iter().sum();
    let missing_current = s.codes.len() as u64 - n_current;
    // Union of categories: the reference's (in its order), then new ones.
    let ref_index: HashMap<&str, usize> = p
        .counts
        .iter()
        .enumerate()
        .map(|(i, (l, _))| (l.as_str(), i))
        .collect();
    let mut cur_counts = vec![0u64; p.counts.len()];
    let mut pooled = 0u64;
    let mut new: Vec<(String, u64)> = Vec::new();
    for (level, &n) in s.levels.iter().zip(&level_counts) {
        if n == 0 {
            continue;
        }
        match ref_index.get(level.as_str()) {
            Some(&i) => cur_counts[i] += n,
            // A category beyond the kept ones may have been in the pooled rest.
            None if p.other > 0 => pooled += n,
            None => new.push((level.clone(), n)),
        }
    }
    new.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let new_rows: u64 = new.iter().map(|x| x.1).sum();
    let mut ref_v: Vec<f64> = p.counts.iter().map(|c| c.1 as f64).collect();
    let mut cur_v: Vec<f64> = cur_counts.iter().map(|&c| c as f64).collect();
    let mut labels: Vec<String> = p.counts.iter().map(|c| c.0.clone()).collect();
    if p.other > 0 {
        ref_v.push(p.other as f64);
        cur_v.push(pooled as f64);
        labels.push("(other)".into());
    }
    for (l, n) in &new {
        ref_v.push(0.0);
        cur_v.push(*n as f64);
        labels.push(l.clone());
    }
    let (method, statistic, p_value, drifted) = if n_current == 0 || p.n == 0 {
        (
            Method::JensenShannon,
            0.0,
            None,
            (n_current == 0) != (p.n == 0),
        )
    } else if p.n <= SMALL_REFERENCE {
        if new_rows > 0 {
            // Expected count zero where rows were observed: scipy's statistic is
            // infinite and its p-value 0 (JSON has no infinity: the largest float).
            (Method::ChiSquare, f64::MAX, Some(0.0), true)
        } else {
            let k = n_current as f64 / p.n as f64;
            let exp: Vec<f64> = ref_v.iter().map(|r| r * k).collect();
            let r = stats::chisquare(&cur_v, &exp)?;
            (
                Method::ChiSquare,
                r.statistic,
                Some(r.pvalue),
                r.pvalue < t.p_value,
            )
        }
    } else {
        let d = stats::jensenshannon(&ref_v, &cur_v)?;
        (Method::JensenShannon, d, None, d >= t.distance)
    };
    let nr = p.n.max(1) as f64;
    let nc = n_current.max(1) as f64;
    let ref_share: Vec<f64> = ref_v.iter().map(|v| v / nr).collect();
    let cur_share: Vec<f64> = cur_v.iter().map(|v| v / nc).collect();
    let psi = stats::psi(&ref_share, &cur_share)?;
    let biggest_move = labels
        .iter()
        .zip(ref_share.iter().zip(&cur_share))
        .max_by(|a, b| (a.1 .1 - a.1 .0).abs().total_cmp(&(b.1 .1 - b.1 .0).abs()))
        .map(|(l, (r, c))| (l.clone(), *r, *c));
    // The chart shows the 12 most frequent reference categories and the new ones.
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| {
        (ref_share[b] + cur_share[b])
            .total_cmp(&(ref_share[a] + cur_share[a]))
            .then(a.cmp(&b))
    });
    order.truncate(12);
    Ok(ColumnDrift {
        name: name.to_owned(),
        kind: "categorical".into(),
        datetime: false,
        method,
        statistic,
        p_value,
        psi,
        drifted,
        n_reference: p.n,
        n_current,
        missing_share_reference: share(ref_missing, ref_missing + p.n as f64),
        missing_share_current: share(missing_current as f64, s.codes.len() as f64),
        out_of_range: 0,
        new_category_rows: new_rows,
        new_categories: new.into_iter().take(5).collect(),
        median_reference: None,
        median_current: None,
        biggest_move,
        histogram: Histogram {
            labels: order.iter().map(|&i| labels[i].clone()).collect(),
            edges: Vec::new(),
            reference: order.iter().map(|&i| ref_share[i]).collect(),
            current: order.iter().map(|&i| cur_share[i]).collect(),
        },
    })
}
