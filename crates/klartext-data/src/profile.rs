//! The data-quality report: per-column profiles, duplicates, target balance, leakage
//! suspects, PII and protected groups, with findings worded for people.

use crate::pii;
use klartext_core::frame::format_number;
use klartext_core::report::{
    ColumnProfile, Finding, GroupStat, LeakageSuspect, NumericStats, PiiFinding, ProtectedGroups,
    Severity, TargetBalance, ValueCount,
};
use klartext_core::{
    ColumnData, ColumnKind, ColumnRole, Frame, QualityReport, Schema, UseCase, UseCaseKind,
    MISSING_CODE,
};
use rayon::prelude::*;

/// A column whose dominant value covers this share of rows is near-constant.
const NEAR_CONSTANT_SHARE: f64 = 0.95;
/// A feature that alone reaches this AUC (or |r|) is a leakage suspect.
const LEAKAGE_THRESHOLD: f64 = 0.98;
/// Missing share above which a column gets a warning.
const MISSING_WARN: f64 = 0.2;
/// Protected groups smaller than this cannot be judged for fairness.
const SMALL_GROUP: usize = 30;
/// Distinct values scanned per column for PII.
const PII_SAMPLE: usize = 1000;

/// Profile a frame whose schema was inferred. `pseudonymised` names columns replaced by
/// a keyed hash before storage (their PII finding says so).
pub fn profile(
    frame: &Frame,
    schema: &Schema,
    uc: Option<&UseCase>,
    pii_found: &[PiiFinding],
) -> QualityReport {
    let n = frame.n_rows;
    let target = uc.and_then(|u| target_info(frame, schema, u));
    let labels = target.as_ref().and_then(|t| t.labels.as_deref());
    let id_idx = uc.and_then(|u| frame.column_index(&u.data.id));
    // Row-level checks (duplicates) run beside the per-column profiles.
    let (per_column, (duplicate_rows, duplicate_ids)): (
        Vec<(ColumnProfile, Option<LeakageSuspect>)>,
        _,
    ) = rayon::join(
        || {
            frame
                .columns
                .par_iter()
                .zip(schema.columns.par_iter())
                .map(|(col, cs)| {
                    let used = matches!(cs.role, ColumnRole::Feature | ColumnRole::Protected);
                    let (profile, summary) = profile_column(
                        &col.data,
                        cs.kind,
                        cs.role,
                        &col.name,
                        n,
                        labels.filter(|_| used),
                    );
                    let leak = if used {
                        target
                            .as_ref()
                            .and_then(|t| leakage_of(&col.name, &col.data, summary.as_ref(), t))
                    } else {
                        None
                    };
                    (profile, leak)
                })
                .collect()
        },
        || {
            (
                duplicate_rows(frame, id_idx),
                id_idx.map(|i| n - distinct_values(&frame.columns[i].data)),
            )
        },
    );
    let mut leakage_suspects: Vec<LeakageSuspect> =
        per_column.iter().filter_map(|(_, l)| l.clone()).collect();
    leakage_suspects.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.column.cmp(&b.column)));
    let columns: Vec<ColumnProfile> = per_column.into_iter().map(|(p, _)| p).collect();

    let protected = uc.map_or_else(Vec::new, |u| {
        u.data
            .protected
            .iter()
            .filter_map(|p| frame.column(p))
            .map(|c| ProtectedGroups {
                column: c.name.clone(),
                groups: groups(&c.data, labels),
            })
            .collect()
    });
    let mut report = QualityReport {
        rows: n,
        columns,
        duplicate_rows,
        duplicate_ids,
        target: target.map(|t| t.balance),
        leakage_suspects,
        pii: pii_found.to_vec(),
        protected,
        warnings: Vec::new(),
    };
    report.warnings = findings(&report, uc);
    report
}

/// PII kinds found in text columns (distinct values sampled).
pub fn scan_pii(frame: &Frame) -> Vec<(usize, klartext_core::report::PiiKind, f64)> {
    frame
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match &c.data {
            ColumnData::Str(s) => pii::scan_values(s.levels.iter().map(String::as_str), PII_SAMPLE)
                .map(|(k, share)| (i, k, share)),
            ColumnData::Num(_) => None,
        })
        .collect()
}

/// Sorted distinct values of a numeric column with their counts (and, for a class
/// target, how many of each are positive or negative): the one pass every numeric
/// statistic and the exact single-feature AUC need.
struct NumSummary {
    /// (value, rows) in ascending order.
    values: Vec<(f64, u64)>,
    /// Per value: (positive, negative) rows, when labels were given.
    labelled: Vec<(u64, u64)>,
    present: u64,
}

/// Label of a row packed in a byte: 0 negative, 1 positive, 2 unknown.
fn label_byte(l: Option<bool>) -> u8 {
    match l {
        Some(false) => 0,
        Some(true) => 1,
        None => 2,
    }
}

impl NumSummary {
    fn of(v: &[f64], labels: Option<&[Option<bool>]>) -> NumSummary {
        // Values that repeat (integers, flags, codes, rounded decimals): count them in a
        // map, and sort only the distinct ones. A column that keeps bringing new values
        // gives up early (after at most `limit` distinct values) and is radix sorted.
        let limit = 1 << 14;
        let mut map: std::collections::HashMap<u64, [u64; 3], BitsHash> = Default::default();
        let mut small = true;
        let mut count = |x: f64, t: u8| {
            map.entry(x.to_bits()).or_insert([0; 3])[t as usize] += 1;
            map.len() <= limit
        };
        match labels {
            Some(l) => {
                for (&x, &l) in v.iter().zip(l) {
                    if !x.is_nan() && !count(x, label_byte(l)) {
                        small = false;
                        break;
                    }
                }
            }
            None => {
                for &x in v {
                    if !x.is_nan() && !count(x, 2) {
                        small = false;
                        break;
                    }
                }
            }
        }
        let label_at = |i: usize| labels.map_or(2, |l| label_byte(l[i]));
        let mut cells: Vec<(f64, [u64; 3])> = if small {
            let mut cells: Vec<(f64, [u64; 3])> = map
                .into_iter()
                .map(|(b, c)| (f64::from_bits(b), c))
                .collect();
            cells.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            cells
        } else {
            drop(map);
            let mut keys = Vec::with_capacity(v.len());
            let mut tags = Vec::with_capacity(if labels.is_some() { v.len() } else { 0 });
            for (i, &x) in v.iter().enumerate().filter(|(_, x)| !x.is_nan()) {
                keys.push(f64_key(x));
                if labels.is_some() {
                    tags.push(label_at(i));
                }
            }
            radix_sort_u64(&mut keys, &mut tags);
            let mut out: Vec<(f64, [u64; 3])> = Vec::new();
            for (j, &k) in keys.iter().enumerate() {
                let x = key_f64(k);
                let t = tags.get(j).copied().unwrap_or(2) as usize;
                match out.last_mut() {
                    Some(last) if last.0 == x => last.1[t] += 1,
                    _ => {
                        let mut c = [0; 3];
                        c[t] = 1;
                        out.push((x, c));
                    }
                }
            }
            out
        };
        // -0.0 and 0.0 are one value.
        cells.dedup_by(|b, a| {
            if a.0 == b.0 {
                for t in 0..3 {
                    a.1[t] += b.1[t];
                }
                true
            } else {
                false
            }
        });
        let values: Vec<(f64, u64)> = cells
            .iter()
            .map(|(x, c)| (*x, c[0] + c[1] + c[2]))
            .collect();
        let labelled = if labels.is_some() {
            cells.iter().map(|(_, c)| (c[1], c[0])).collect()
        } else {
            Vec::new()
        };
        let present = values.iter().map(|v| v.1).sum();
        NumSummary {
            values,
            labelled,
            present,
        }
    }

    /// The value at sorted position `i` (0-based) of the expanded column.
    fn at(&self, mut i: u64) -> f64 {
        for &(x, c) in &self.values {
            if i < c {
                return x;
            }
            i -= c;
        }
        f64::NAN
    }

    /// Linear interpolation between closest ranks, as pandas and numpy do by default.
    fn quantile(&self, q: f64) -> f64 {
        if self.present == 0 {
            return f64::NAN;
        }
        let pos = q * (self.present - 1) as f64;
        let (lo, hi) = (pos.floor() as u64, pos.ceil() as u64);
        let (a, b) = (self.at(lo), self.at(hi));
        a + (b - a) * (pos - lo as f64)
    }
}

fn profile_column(
    data: &ColumnData,
    kind: ColumnKind,
    role: ColumnRole,
    name: &str,
    n: usize,
    labels: Option<&[Option<bool>]>,
) -> (ColumnProfile, Option<NumSummary>) {
    // A number column's summary also counts its missing values.
    let mut num_summary = match data {
        ColumnData::Num(v) => Some(NumSummary::of(v, labels)),
        ColumnData::Str(_) => None,
    };
    let missing = match &num_summary {
        Some(s) => data.len() - s.present as usize,
        None => data.missing(),
    };
    let present = n - missing;
    let mut p = ColumnProfile {
        name: name.to_owned(),
        kind,
        role,
        missing,
        missing_share: if n == 0 {
            0.0
        } else {
            missing as f64 / n as f64
        },
        distinct: 0,
        numeric: None,
        top: Vec::new(),
        top_share: 0.0,
        constant: false,
        near_constant: false,
        high_cardinality: false,
    };
    let mut summary = None;
    match data {
        ColumnData::Num(_) => {
            let s = num_summary.take().expect("summarised above");
            p.distinct = s.values.len();
            let (top_value, top_count) =
                s.values.iter().fold(
                    (f64::NAN, 0u64),
                    |best, &(x, c)| if c > best.1 { (x, c) } else { best },
                );
            p.top_share = if present == 0 {
                0.0
            } else {
                top_count as f64 / present as f64
            };
            if s.present > 0 {
                // Mean and variance over the distinct values with their counts: exact
                // sums without copying the column.
                let n = s.present as f64;
                let mean = kahan_sum(s.values.iter().map(|&(x, c)| x * c as f64)) / n;
                let var = (s.present > 1).then(|| {
                    kahan_sum(
                        s.values
                            .iter()
                            .map(|&(x, c)| c as f64 * (x - mean) * (x - mean)),
                    ) / (n - 1.0)
                });
                p.numeric = Some(NumericStats {
                    min: s.values[0].0,
                    max: s.values[s.values.len() - 1].0,
                    mean,
                    std: var.map(f64::sqrt),
                    p25: s.quantile(0.25),
                    p50: s.quantile(0.5),
                    p75: s.quantile(0.75),
                });
            }
            if matches!(kind, ColumnKind::Boolean) || p.distinct <= 10 {
                let mut top: Vec<ValueCount> = s
                    .values
                    .iter()
                    .map(|&(x, c)| ValueCount {
                        value: format_number(x),
                        count: c as usize,
                    })
                    .collect();
                top.sort_by_key(|t| std::cmp::Reverse(t.count));
                top.truncate(5);
                p.top = top;
            } else if top_count > 1 && p.top_share >= 0.5 {
                p.top = vec![ValueCount {
                    value: format_number(top_value),
                    count: top_count as usize,
                }];
            }
            summary = Some(s);
        }
        ColumnData::Str(s) => {
            let counts = s.level_counts();
            let mut order: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
            p.distinct = order.len();
            order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
            p.top = order
                .iter()
                .take(5)
                .map(|&i| ValueCount {
                    value: s.levels[i].clone(),
                    count: counts[i] as usize,
                })
                .collect();
            p.top_share = order
                .first()
                .map_or(0.0, |&i| counts[i] as f64 / present.max(1) as f64);
            if kind == ColumnKind::Id || kind == ColumnKind::Text {
                // Only repeated ids or texts say something.
                p.top.retain(|t| t.count > 1);
                p.top.truncate(3);
            }
        }
    }
    p.constant = p.distinct <= 1;
    p.near_constant = !p.constant && p.top_share >= NEAR_CONSTANT_SHARE;
    p.high_cardinality =
        kind == ColumnKind::Categorical && p.distinct > 50 && p.distinct * 20 > present;
    (p, summary)
}

/// Hashes the bits of a float for counting maps. Whole numbers have dozens of trailing
/// zero bits, which a multiplicative hash (Fx) leaves in the bucket index and tag, so
/// they all collide; a full avalanche (murmur3's finaliser) spreads them.
#[derive(Default, Clone, Copy)]
struct BitsHash;

impl std::hash::BuildHasher for BitsHash {
    type Hasher = BitsHasher;
    fn build_hasher(&self) -> BitsHasher {
        BitsHasher(0)
    }
}

struct BitsHasher(u64);

impl std::hash::Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        z ^ (z >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 ^= x;
    }
}

/// Order-preserving map of f64 to u64 (negative numbers flip), for radix sorting.
fn f64_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn key_f64(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// LSD radix sort on 11-bit digits (six passes; passes where every key has the same
/// digit are skipped), carrying `tags` (empty, or one per key) along. About three times
/// faster than a comparison sort on a million keys.
fn radix_sort_u64(v: &mut Vec<u64>, tags: &mut Vec<u8>) {
    const BITS: usize = 11;
    const PASSES: usize = 64usize.div_ceil(BITS);
    const MASK: u64 = (1 << BITS) - 1;
    let with_tags = !tags.is_empty();
    let mut counts = vec![[0usize; 1 << BITS]; PASSES];
    for &x in v.iter() {
        for (p, c) in counts.iter_mut().enumerate() {
            c[((x >> (p * BITS)) & MASK) as usize] += 1;
        }
    }
    let mut buf = vec![0u64; v.len()];
    let mut tag_buf = vec![0u8; tags.len()];
    for (p, c) in counts.iter_mut().enumerate() {
        if c.contains(&v.len()) {
            continue;
        }
        let mut sum = 0;
        for k in c.iter_mut() {
            let t = *k;
            *k = sum;
            sum += t;
        }
        let shift = p * BITS;
        if with_tags {
            for (&x, &t) in v.iter().zip(tags.iter()) {
                let d = ((x >> shift) & MASK) as usize;
                buf[c[d]] = x;
                tag_buf[c[d]] = t;
                c[d] += 1;
            }
            std::mem::swap(tags, &mut tag_buf);
        } else {
            for &x in v.iter() {
                let d = ((x >> shift) & MASK) as usize;
                buf[c[d]] = x;
                c[d] += 1;
            }
        }
        std::mem::swap(v, &mut buf);
    }
}

fn kahan_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for x in values {
        let y = x - c;
        let t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    sum
}

/// Linear interpolation between closest ranks, as pandas and numpy do by default.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Distinct values of a column, missing counted as one value.
fn distinct_values(data: &ColumnData) -> usize {
    match data {
        ColumnData::Num(v) => {
            let mut h: Vec<u64> = v
                .iter()
                .map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() })
                .collect();
            radix_sort_u64(&mut h, &mut Vec::new());
            h.dedup();
            h.len()
        }
        ColumnData::Str(s) => {
            // Codes are dense: mark the ones used.
            let mut seen = vec![false; s.levels.len() + 1];
            for &c in &s.codes {
                let i = if c == MISSING_CODE {
                    s.levels.len()
                } else {
                    c as usize
                };
                seen[i] = true;
            }
            seen.iter().filter(|&&b| b).count()
        }
    }
}

fn mix(h: u64, x: u64) -> u64 {
    // splitmix64 finaliser over the running hash: cheap and well spread.
    let mut z = h ^ x
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(h << 6)
        .wrapping_add(h >> 2);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Rows equal to an earlier row in every column but `skip` (by a 64-bit row hash; a
/// collision is about one in 10^10 at a million rows).
fn duplicate_rows(frame: &Frame, skip: Option<usize>) -> usize {
    const BLOCK: usize = 1 << 14;
    let mut h = vec![0u64; frame.n_rows];
    // Blocks of rows hash independently (and in parallel), each over every column.
    h.par_chunks_mut(BLOCK).enumerate().for_each(|(b, h)| {
        let rows = b * BLOCK..b * BLOCK + h.len();
        for (ci, col) in frame.columns.iter().enumerate() {
            if Some(ci) == skip {
                continue;
            }
            match &col.data {
                ColumnData::Num(v) => {
                    for (r, x) in h.iter_mut().zip(&v[rows.clone()]) {
                        *r = mix(*r, if x.is_nan() { u64::MAX } else { x.to_bits() });
                    }
                }
                ColumnData::Str(s) => {
                    for (r, &c) in h.iter_mut().zip(&s.codes[rows.clone()]) {
                        *r = mix(*r, c as u64 ^ 0xA5A5);
                    }
                }
            }
        }
    });
    repeats_of_hashes(&h)
}

/// How many values repeat an earlier one, for hashes (spread evenly over all 64 bits):
/// one pass puts them in buckets by their top bits, then each bucket (a few values) is
/// sorted on its own, in cache. A third of the work of sorting them all.
fn repeats_of_hashes(h: &[u64]) -> usize {
    const BITS: u32 = 16;
    let bucket = |x: u64| (x >> (64 - BITS)) as usize;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for &x in h {
        starts[bucket(x) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut next = starts.clone();
    let mut grouped = vec![0u64; h.len()];
    for &x in h {
        let at = &mut next[bucket(x)];
        grouped[*at] = x;
        *at += 1;
    }
    starts
        .windows(2)
        .map(|w| {
            let b = &mut grouped[w[0]..w[1]];
            b.sort_unstable();
            b.windows(2).filter(|p| p[0] == p[1]).count()
        })
        .sum()
}

struct TargetInfo {
    balance: TargetBalance,
    /// Classification: per row Some(true) for the positive class, None when missing.
    labels: Option<Vec<Option<bool>>>,
    /// Regression: the target values.
    values: Option<Vec<f64>>,
}

fn target_info(frame: &Frame, schema: &Schema, uc: &UseCase) -> Option<TargetInfo> {
    let col = frame.column(&uc.data.target)?;
    let kind = schema.column(&col.name)?.kind;
    let regression = uc.kind == UseCaseKind::Regression
        || (uc.kind != UseCaseKind::Classification && kind.is_numeric());
    if regression {
        let values = match &col.data {
            ColumnData::Num(v) => v.clone(),
            ColumnData::Str(_) => return None,
        };
        return Some(TargetInfo {
            balance: TargetBalance {
                column: col.name.clone(),
                classes: Vec::new(),
                positive_rate: None,
            },
            labels: None,
            values: Some(values),
        });
    }
    let is_pos = |v: &str| uc.is_positive(v);
    let (texts, per_row): (Vec<String>, Vec<Option<usize>>) = match &col.data {
        ColumnData::Str(s) => (
            s.levels.clone(),
            s.codes
                .iter()
                .map(|&c| (c != MISSING_CODE).then_some(c as usize))
                .collect(),
        ),
        ColumnData::Num(v) => {
            let mut levels: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            levels.sort_unstable_by(f64::total_cmp);
            levels.dedup();
            let per_row = v
                .iter()
                .map(|x| (!x.is_nan()).then(|| levels.partition_point(|l| l < x)))
                .collect();
            (levels.iter().map(|&x| format_number(x)).collect(), per_row)
        }
    };
    let mut counts = vec![0usize; texts.len()];
    for c in per_row.iter().flatten() {
        counts[*c] += 1;
    }
    let positive: Vec<bool> = texts.iter().map(|t| is_pos(t)).collect();
    let mut order: Vec<usize> = (0..texts.len()).filter(|&i| counts[i] > 0).collect();
    order.sort_by(|&a, &b| {
        positive[b]
            .cmp(&positive[a])
            .then(counts[b].cmp(&counts[a]))
            .then(a.cmp(&b))
    });
    let classes = order
        .iter()
        .map(|&i| ValueCount {
            value: texts[i].clone(),
            count: counts[i],
        })
        .collect();
    let present: usize = counts.iter().sum();
    let pos: usize = (0..texts.len())
        .filter(|&i| positive[i])
        .map(|i| counts[i])
        .sum();
    let labels: Vec<Option<bool>> = per_row.iter().map(|c| c.map(|c| positive[c])).collect();
    Some(TargetInfo {
        balance: TargetBalance {
            column: col.name.clone(),
            classes,
            positive_rate: (present > 0).then(|| pos as f64 / present as f64),
        },
        labels: Some(labels),
        values: None,
    })
}

/// Is one column a leakage suspect? Numbers use the per-value label counts their summary
/// already holds; categories are ordered by their positive rate.
fn leakage_of(
    name: &str,
    data: &ColumnData,
    summary: Option<&NumSummary>,
    t: &TargetInfo,
) -> Option<LeakageSuspect> {
    let (measure, value) = if let Some(labels) = &t.labels {
        let auc = match summary {
            Some(s) if !s.labelled.is_empty() => auc_of_cells(s.labelled.iter().copied())?,
            _ => single_feature_auc(data, labels)?,
        };
        ("auc", auc)
    } else {
        (
            "abs_correlation",
            abs_correlation(data, t.values.as_ref()?)?,
        )
    };
    (value >= LEAKAGE_THRESHOLD).then(|| LeakageSuspect {
        column: name.to_owned(),
        measure: measure.into(),
        value,
    })
}

/// Mann-Whitney over ordered cells of (positives, negatives): each positive beats the
/// negatives in lower cells, ties count half. Folded so that 0.5 is no signal.
fn auc_of_cells(cells: impl Iterator<Item = (u64, u64)>) -> Option<f64> {
    let (mut below, mut wins, mut pos, mut neg) = (0u64, 0f64, 0u64, 0u64);
    for (p, n) in cells {
        wins += p as f64 * (below as f64 + n as f64 / 2.0);
        below += n;
        pos += p;
        neg += n;
    }
    if pos == 0 || neg == 0 {
        return None;
    }
    let auc = wins / (pos as f64 * neg as f64);
    Some(auc.max(1.0 - auc))
}

/// AUC of one column as a score (numbers by value, categories by their positive rate),
/// folded so that 0.5 is no signal and 1.0 perfect separation. Rows with a missing value
/// or label are left out.
pub fn single_feature_auc(data: &ColumnData, labels: &[Option<bool>]) -> Option<f64> {
    // Group rows by a sortable key, count positives and negatives per key.
    let cells: Vec<(f64, u64, u64)> = match data {
        ColumnData::Num(v) => {
            let mut pairs: Vec<(f64, bool)> = v
                .iter()
                .zip(labels)
                .filter_map(|(x, l)| (!x.is_nan()).then_some(()).and(l.map(|l| (*x, l))))
                .collect();
            pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let mut cells: Vec<(f64, u64, u64)> = Vec::new();
            for (x, l) in pairs {
                match cells.last_mut() {
                    Some(c) if c.0 == x => {
                        if l {
                            c.1 += 1
                        } else {
                            c.2 += 1
                        }
                    }
                    _ => cells.push((x, u64::from(l), u64::from(!l))),
                }
            }
            cells
        }
        ColumnData::Str(s) => {
            let mut pn = vec![(0u64, 0u64); s.levels.len()];
            for (&c, l) in s.codes.iter().zip(labels) {
                if let (true, Some(l)) = (c != MISSING_CODE, l) {
                    if *l {
                        pn[c as usize].0 += 1
                    } else {
                        pn[c as usize].1 += 1
                    }
                }
            }
            let present: u64 = pn.iter().map(|(p, n)| p + n).sum();
            let used = pn.iter().filter(|(p, n)| p + n > 0).count() as u64;
            // Many small categories separate any target in-sample: not evidence of leakage.
            if used * 10 > present || used > 1000 {
                return None;
            }
            let mut cells: Vec<(f64, u64, u64)> = pn
                .into_iter()
                .filter(|(p, n)| p + n > 0)
                .map(|(p, n)| (p as f64 / (p + n) as f64, p, n))
                .collect();
            cells.sort_by(|a, b| a.0.total_cmp(&b.0));
            cells
        }
    };
    auc_of_cells(cells.into_iter().map(|c| (c.1, c.2)))
}

fn abs_correlation(data: &ColumnData, y: &[f64]) -> Option<f64> {
    let ColumnData::Num(x) = data else {
        return None;
    };
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| !a.is_nan() && !b.is_nan())
        .map(|(a, b)| (*a, *b))
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in pairs {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).abs())
}

/// Group sizes and positive rates of a protected attribute. Numbers with many values are
/// cut into quartile bands so that groups stay large enough to judge.
fn groups(data: &ColumnData, labels: Option<&[Option<bool>]>) -> Vec<GroupStat> {
    let n = data.len();
    let (names, per_row): (Vec<String>, Vec<Option<usize>>) = match data {
        ColumnData::Str(s) => (
            s.levels.clone(),
            s.codes
                .iter()
                .map(|&c| (c != MISSING_CODE).then_some(c as usize))
                .collect(),
        ),
        ColumnData::Num(v) => {
            let s = NumSummary::of(v, None);
            let levels: Vec<f64> = s.values.iter().map(|x| x.0).collect();
            if levels.len() <= 10 {
                let per_row = v
                    .iter()
                    .map(|x| (!x.is_nan()).then(|| levels.partition_point(|l| l < x)))
                    .collect();
                (levels.iter().map(|&x| format_number(x)).collect(), per_row)
            } else {
                let mut edges = vec![s.quantile(0.25), s.quantile(0.5), s.quantile(0.75)];
                edges.dedup();
                let mut names = Vec::new();
                let mut lo = levels[0];
                for &e in &edges {
                    names.push(format!("{} to {}", format_number(lo), format_number(e)));
                    lo = e;
                }
                names.push(format!("above {}", format_number(lo)));
                let per_row = v
                    .iter()
                    .map(|x| (!x.is_nan()).then(|| edges.partition_point(|e| e < x)))
                    .collect();
                (names, per_row)
            }
        }
    };
    let mut rows = vec![0usize; names.len()];
    let mut pos = vec![0usize; names.len()];
    let mut labelled = vec![0usize; names.len()];
    for i in 0..n {
        if let Some(g) = per_row[i] {
            rows[g] += 1;
            if let Some(Some(l)) = labels.map(|ls| ls[i]) {
                labelled[g] += 1;
                pos[g] += usize::from(l);
            }
        }
    }
    (0..names.len())
        .filter(|&g| rows[g] > 0)
        .map(|g| GroupStat {
            group: names[g].clone(),
            rows: rows[g],
            target_rate: (labels.is_some() && labelled[g] > 0)
                .then(|| pos[g] as f64 / labelled[g] as f64),
        })
        .collect()
}

fn repeat(n: usize) -> String {
    if n == 1 {
        "1 row repeats".into()
    } else {
        format!("{n} rows repeat")
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn findings(r: &QualityReport, uc: Option<&UseCase>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |severity, column: Option<&str>, message: String| {
        out.push(Finding {
            severity,
            column: column.map(str::to_owned),
            message,
        });
    };
    for l in &r.leakage_suspects {
        add(Severity::Problem, Some(&l.column), format!(
            "`{}` alone predicts the target almost perfectly ({} {:.3}): it may be recorded after the outcome (leakage); exclude it unless you are sure",
            l.column, l.measure.replace('_', " "), l.value));
    }
    for p in &r.pii {
        if !p.pseudonymised {
            add(Severity::Problem, Some(&p.column), format!(
                "`{}` holds personal data ({} in {} of its values); pseudonymise it (--pseudonymise {}) or exclude it",
                p.column, p.kind.as_str(), pct(p.share), p.column));
        } else {
            add(
                Severity::Info,
                Some(&p.column),
                format!(
                    "`{}` held {} values and was pseudonymised with a keyed hash",
                    p.column,
                    p.kind.as_str()
                ),
            );
        }
    }
    if let Some(t) = &r.target {
        if let Some(c) = r
            .columns
            .iter()
            .find(|c| c.name == t.column && c.missing > 0)
        {
            add(
                Severity::Problem,
                Some(&c.name),
                format!(
                    "target `{}` is missing in {} rows; they cannot be used for training",
                    c.name, c.missing
                ),
            );
        }
        if !t.classes.is_empty() && t.classes.len() < 2 {
            add(
                Severity::Problem,
                Some(&t.column),
                format!(
                    "target `{}` has a single class; a classifier needs both",
                    t.column
                ),
            );
        }
        if let Some(rate) = t.positive_rate {
            if rate == 0.0 {
                let pos = uc
                    .and_then(UseCase::positive_label)
                    .unwrap_or_else(|| "a yes-like value".into());
                add(
                    Severity::Problem,
                    Some(&t.column),
                    format!(
                        "no row of target `{}` has the positive class `{pos}`",
                        t.column
                    ),
                );
            } else if !(0.05..=0.95).contains(&rate) {
                add(Severity::Warning, Some(&t.column), format!("target `{}` is imbalanced: {} positive; judge models by PR-AUC and lift, not accuracy", t.column, pct(rate)));
            }
        }
    }
    if r.duplicate_rows > 0 {
        add(
            Severity::Warning,
            None,
            format!(
                "{} an earlier row ({})",
                repeat(r.duplicate_rows),
                pct(r.duplicate_rows as f64 / r.rows as f64)
            ),
        );
    }
    if let Some(d) = r.duplicate_ids.filter(|&d| d > 0) {
        let id = uc.map_or("id", |u| u.data.id.as_str());
        add(
            Severity::Warning,
            Some(id),
            format!("{} an earlier `{id}`", repeat(d)),
        );
    }
    for c in &r.columns {
        let used = matches!(c.role, ColumnRole::Feature | ColumnRole::Protected);
        if c.constant && used {
            add(
                Severity::Warning,
                Some(&c.name),
                format!("`{}` is constant: it carries no information", c.name),
            );
        } else if c.near_constant && used {
            add(
                Severity::Info,
                Some(&c.name),
                format!(
                    "`{}` is near-constant: {} of rows share one value",
                    c.name,
                    pct(c.top_share)
                ),
            );
        }
        if c.missing_share > MISSING_WARN {
            add(
                Severity::Warning,
                Some(&c.name),
                format!(
                    "`{}` is missing in {} of rows",
                    c.name,
                    pct(c.missing_share)
                ),
            );
        }
        if c.high_cardinality && used {
            add(
                Severity::Info,
                Some(&c.name),
                format!(
                    "`{}` has {} distinct categories: consider grouping rare ones or excluding it",
                    c.name, c.distinct
                ),
            );
        }
        let pseudonymised = r.pii.iter().any(|p| p.column == c.name && p.pseudonymised);
        if c.role == ColumnRole::Excluded
            && matches!(c.kind, ColumnKind::Id | ColumnKind::Text)
            && !pseudonymised
        {
            add(
                Severity::Info,
                Some(&c.name),
                format!(
                    "`{}` looks like {} and is not used as a feature",
                    c.name,
                    if c.kind == ColumnKind::Id {
                        "an identifier"
                    } else {
                        "free text"
                    }
                ),
            );
        }
    }
    for p in &r.protected {
        let rates: Vec<(&str, f64)> = p
            .groups
            .iter()
            .filter_map(|g| g.target_rate.map(|t| (g.group.as_str(), t)))
            .collect();
        let lo = rates.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
        let hi = rates.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            // The four-fifths rule: a ratio under 0.8 is where disparate impact starts.
            if hi.1 > 0.0 && lo.1 / hi.1 < 0.8 {
                add(Severity::Warning, Some(&p.column), format!(
                    "the target rate differs across `{}`: {} for {} vs {} for {} (ratio {:.2}); a model trained on this data may carry the difference, so check the fairness gates",
                    p.column, pct(lo.1), lo.0, pct(hi.1), hi.0, lo.1 / hi.1));
            }
        }
        for g in p.groups.iter().filter(|g| g.rows < SMALL_GROUP) {
            add(Severity::Warning, Some(&p.column), format!("protected group `{}` = `{}` has only {} rows: fairness figures for it will be unreliable", p.column, g.group, g.rows));
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_of_hashes_counts_every_repeat() {
        let mut h: Vec<u64> = (0..50_000u64).map(|i| mix(7, i)).collect();
        h.extend_from_within(..1000);
        h.extend_from_within(..10);
        h.push(0);
        h.push(0);
        h.push(u64::MAX);
        let mut sorted = h.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(repeats_of_hashes(&h), h.len() - sorted.len());
        assert_eq!(repeats_of_hashes(&h), 1011);
        assert_eq!(repeats_of_hashes(&[]), 0);
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.75), 3.25);
    }

    #[test]
    fn summaries_agree_on_both_paths() {
        // Few distinct values take the map path, many the radix path: same statistics.
        let few: Vec<f64> = (0..1000).map(|i| (i % 7) as f64 - 3.0).collect();
        let many: Vec<f64> = (0..10_000)
            .map(|i| ((i * 7919) % 10_007) as f64 / 3.0 - 100.0)
            .collect();
        for v in [few, many] {
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let s = NumSummary::of(&v, None);
            let labels: Vec<Option<bool>> =
                v.iter().map(|&x| (x != 0.0).then_some(x > 0.0)).collect();
            let with = NumSummary::of(&v, Some(&labels));
            assert_eq!(with.values, s.values);
            let exact = single_feature_auc(&ColumnData::Num(v.clone()), &labels);
            assert_eq!(auc_of_cells(with.labelled.iter().copied()), exact);
            for q in [0.0, 0.25, 0.5, 0.75, 1.0] {
                assert_eq!(s.quantile(q), quantile(&sorted, q), "q={q}");
            }
            let mut d = sorted.clone();
            d.dedup();
            assert_eq!(s.values.len(), d.len());
        }
    }

    #[test]
    fn radix_sort_sorts_floats() {
        let mut v: Vec<f64> = (0..5000)
            .map(|i| ((i * 7919) % 5003) as f64 * if i % 2 == 0 { -1.5 } else { 2.25 })
            .collect();
        let mut keys: Vec<u64> = v.iter().map(|&x| f64_key(x)).collect();
        let mut tags: Vec<u8> = (0..keys.len()).map(|i| (i % 3) as u8).collect();
        let before: Vec<(u64, u8)> = keys.iter().copied().zip(tags.iter().copied()).collect();
        radix_sort_u64(&mut keys, &mut tags);
        // Tags travel with their keys (the sort is stable, so ties keep their order).
        let mut expected = before;
        expected.sort_by_key(|p| p.0);
        assert_eq!(
            keys.iter()
                .copied()
                .zip(tags.iter().copied())
                .collect::<Vec<_>>(),
            expected
        );
        v.sort_by(f64::total_cmp);
        let back: Vec<f64> = keys.into_iter().map(key_f64).collect();
        assert_eq!(back, v);
    }

    #[test]
    fn auc_of_a_perfect_feature_is_one() {
        let x = ColumnData::Num(vec![1.0, 2.0, 3.0, 4.0]);
        let y = [Some(false), Some(false), Some(true), Some(true)];
        assert_eq!(single_feature_auc(&x, &y), Some(1.0));
        let x = ColumnData::Num(vec![4.0, 3.0, 2.0, 1.0]);
        assert_eq!(single_feature_auc(&x, &y), Some(1.0));
        let x = ColumnData::Num(vec![1.0, 1.0, 1.0, 1.0]);
        assert_eq!(single_feature_auc(&x, &y), Some(0.5));
    }
}
