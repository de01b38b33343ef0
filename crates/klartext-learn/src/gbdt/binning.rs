//! Feature binning for histogram GBDT: quantile bin boundaries found on a row
//! sample, categorical code-to-bin maps, exclusive bundling of sparse features,
//! and the u8 binned matrices (row-major by group, column-major by feature).

use rayon::prelude::*;

use crate::data::{ColumnValues, Features, MISSING_CODE};
use crate::rng::SplitMix64;

/// Marks a category code that has no bin (never seen in training).
pub(crate) const NO_BIN: u16 = u16::MAX;

/// How one feature's raw values map to bins. Value bins come first; the missing
/// bin, when the training column had missing values, is the last bin.
#[derive(Debug, Clone)]
pub(crate) enum BinMapper {
    Numeric {
        /// `upper[b]` is the largest value in bin `b` (`x <= upper[b]`), last = +inf.
        upper: Vec<f64>,
        has_missing: bool,
    },
    Categorical {
        n_levels: u32,
        /// Bin of each code, [`NO_BIN`] for codes unseen in training.
        code_to_bin: Vec<u16>,
        /// Codes of each value bin (several rare codes may share the last one).
        bin_codes: Vec<Vec<u32>>,
        has_missing: bool,
    },
}

impl BinMapper {
    /// Number of value bins (excluding the missing bin).
    pub(crate) fn n_value_bins(&self) -> usize {
        match self {
            BinMapper::Numeric { upper, .. } => upper.len(),
            BinMapper::Categorical { bin_codes, .. } => bin_codes.len(),
        }
    }

    pub(crate) fn has_missing(&self) -> bool {
        match self {
            BinMapper::Numeric { has_missing, .. } | BinMapper::Categorical { has_missing, .. } => {
                *has_missing
            }
        }
    }

    /// Total bins including the missing bin.
    pub(crate) fn n_bins(&self) -> usize {
        self.n_value_bins() + usize::from(self.has_missing())
    }

    pub(crate) fn missing_bin(&self) -> Option<usize> {
        self.has_missing().then(|| self.n_value_bins())
    }

    pub(crate) fn is_categorical(&self) -> bool {
        matches!(self, BinMapper::Categorical { .. })
    }

    /// Finds the bins of one training column. Numeric boundaries come from up to
    /// `sample_cnt` sampled rows; categorical maps from full counts.
    pub(crate) fn fit(values: &ColumnValues, max_bin: usize, sample_rows: &[usize]) -> BinMapper {
        match values {
            ColumnValues::Numeric(v) => {
                let has_missing = v.iter().any(|x| x.is_nan());
                let mut s: Vec<f64> = sample_rows
                    .iter()
                    .map(|&r| v[r])
                    .filter(|x| !x.is_nan())
                    .collect();
                s.sort_unstable_by(f64::total_cmp);
                BinMapper::Numeric {
                    upper: quantile_bounds(&s, max_bin),
                    has_missing,
                }
            }
            ColumnValues::Categorical { codes, n_levels } => {
                let mut counts = vec![0usize; *n_levels as usize];
                let mut has_missing = false;
                for &c in codes {
                    if c == MISSING_CODE {
                        has_missing = true;
                    } else {
                        counts[c as usize] += 1;
                    }
                }
                // Most frequent codes get their own bins (ties by code, for
                // determinism); the rarest share the last bin when there are
                // more levels than u8 bins.
                let mut seen: Vec<u32> =
                    (0..*n_levels).filter(|&c| counts[c as usize] > 0).collect();
                seen.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
                let own = 254usize;
                let mut bin_codes: Vec<Vec<u32>> = Vec::new();
                for (i, &c) in seen.iter().enumerate() {
                    if i < own {
                        bin_codes.push(vec![c]);
                    } else {
                        if i == own {
                            bin_codes.push(Vec::new());
                        }
                        bin_codes[own].push(c);
                    }
                }
                if bin_codes.is_empty() {
                    // A column with only missing values still needs a value bin.
                    bin_codes.push(Vec::new());
                }
                let mut code_to_bin = vec![NO_BIN; *n_levels as usize];
                for (b, cs) in bin_codes.iter().enumerate() {
                    for &c in cs {
                        code_to_bin[c as usize] = b as u16;
                    }
                }
                BinMapper::Categorical {
                    n_levels: *n_levels,
                    code_to_bin,
                    bin_codes,
                    has_missing,
                }
            }
        }
    }

    /// Bins a whole column.
    fn bin_column(&self, values: &ColumnValues) -> Vec<u8> {
        match (self, values) {
            (BinMapper::Numeric { upper, .. }, ColumnValues::Numeric(v)) => {
                let miss = self.missing_bin().unwrap_or(0) as u8;
                v.iter()
                    .map(|&x| {
                        if x.is_nan() {
                            miss
                        } else {
                            upper.partition_point(|&u| u < x) as u8
                        }
                    })
                    .collect()
            }
            (
                BinMapper::Categorical { code_to_bin, .. },
                ColumnValues::Categorical { codes, .. },
            ) => {
                let miss = self.missing_bin().unwrap_or(0) as u8;
                codes
                    .iter()
                    .map(|&c| {
                        if c == MISSING_CODE {
                            miss
                        } else {
                            // Training codes always have a bin; guard anyway.
                            let b = code_to_bin[c as usize];
                            if b == NO_BIN {
                                0
                            } else {
                                b as u8
                            }
                        }
                    })
                    .collect()
            }
            _ => unreachable!("bin mapper fitted on a column of another kind"),
        }
    }
}

/// Upper bounds of at most `max_bin` bins over sorted non-missing `s`: every
/// distinct value its own bin when there are few, else greedy equal-frequency bins
/// cut half-way between neighbouring distinct values.
fn quantile_bounds(s: &[f64], max_bin: usize) -> Vec<f64> {
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &x in s {
        match distinct.last_mut() {
            Some((v, c)) if *v == x => *c += 1,
            _ => distinct.push((x, 1)),
        }
    }
    let mut upper = Vec::new();
    if distinct.len() <= max_bin {
        for w in distinct.windows(2) {
            upper.push(midpoint(w[0].0, w[1].0));
        }
    } else {
        let mut remaining = s.len() as f64;
        let mut bins_left = max_bin as f64;
        let mut acc = 0usize;
        for (i, &(v, c)) in distinct.iter().enumerate() {
            acc += c;
            if i + 1 == distinct.len() || bins_left <= 1.0 {
                break;
            }
            let target = remaining / bins_left;
            // Close the bin when it is full, or when the next value alone would
            // overfill it by more than this one under-fills it.
            let next = distinct[i + 1].1 as f64;
            if acc as f64 >= target
                || (acc as f64 + next > target * 1.5 && acc as f64 >= target * 0.5)
            {
                upper.push(midpoint(v, distinct[i + 1].0));
                remaining -= acc as f64;
                bins_left -= 1.0;
                acc = 0;
            }
        }
    }
    upper.push(f64::INFINITY);
    upper
}

fn midpoint(a: f64, b: f64) -> f64 {
    let m = a + (b - a) / 2.0;
    // Keep `a` in the lower bin even when rounding lands on `b`'s side.
    if m >= b {
        a
    } else {
        m
    }
}

/// A feature counts as sparse (a bundling candidate) when its most frequent bin
/// holds at least this share of the rows.
const SPARSE_SHARE: f64 = 0.8;

/// Bundles a sparse feature tries before it gets a bundle of its own: bounds the
/// bundling time on very wide data.
const MAX_BUNDLE_TRIES: usize = 32;

/// One column of the row-major matrix: a single feature, or a bundle of sparse
/// features that are never off their most frequent bin in the same row
/// (LightGBM's exclusive feature bundling, here with zero conflicts, so no
/// information is lost). A bundle's bin 0 means "every feature at its most
/// frequent bin"; each feature's other bins follow in feature order.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// Index of the group's first bin in the flat histogram.
    pub offset: usize,
}

/// Where one feature's histogram lives in the flat histogram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub group: usize,
    /// Flat index of the feature's first stored bin.
    pub offset: usize,
    /// For a bundled feature, its most frequent bin: not stored, it is the leaf
    /// total minus the stored bins. `None` for a feature alone in its group
    /// (all bins stored, at `offset + bin`).
    pub default_bin: Option<usize>,
}

/// The training matrix in bins. Row-major group bins (`n_rows x n_groups`
/// bytes) feed histogram building: one row's bins share a cache line. Each
/// feature's own bins, column-major, feed partitioning, which reads one feature
/// for rows in ascending order.
pub(crate) struct BinnedData {
    pub mappers: Vec<BinMapper>,
    pub n_groups: usize,
    pub bins: Vec<u8>,
    pub groups: Vec<Group>,
    pub slots: Vec<Slot>,
    /// Flat histogram length: the sum of the groups' bins, or `256 * n_groups`
    /// when `strided`.
    pub total_bins: usize,
    /// Every group's histogram is 256 entries long (group `g` at `256 * g`).
    pub strided: bool,
    pub cols: Vec<Vec<u8>>,
}

impl BinnedData {
    pub(crate) fn new(x: &Features, max_bin: usize, sample_cnt: usize, seed: u64) -> BinnedData {
        let n = x.n_rows;
        let sample: Vec<usize> = if n <= sample_cnt {
            (0..n).collect()
        } else {
            let mut idx: Vec<usize> = (0..n).collect();
            SplitMix64::derive(seed, 0xB1).shuffle(&mut idx);
            idx.truncate(sample_cnt);
            idx.sort_unstable();
            idx
        };
        let mappers: Vec<BinMapper> = x
            .columns
            .par_iter()
            .map(|c| BinMapper::fit(&c.values, max_bin, &sample))
            .collect();
        let cols: Vec<Vec<u8>> = x
            .columns
            .par_iter()
            .zip(mappers.par_iter())
            .map(|(c, m)| m.bin_column(&c.values))
            .collect();
        let nf = x.n_features();
        let n_bins: Vec<usize> = mappers.iter().map(BinMapper::n_bins).collect();
        let members = bundle_features(&cols, &n_bins, n);

        // Lay the groups out in the flat histogram, in group order.
        let mut groups = Vec::with_capacity(members.len());
        let mut slots = vec![
            Slot {
                group: 0,
                offset: 0,
                default_bin: None,
            };
            nf
        ];
        let mut total_bins = 0;
        for (gi, m) in members.iter().enumerate() {
            match m {
                Members::Single(f) => {
                    slots[*f] = Slot {
                        group: gi,
                        offset: total_bins,
                        default_bin: None,
                    };
                    groups.push(Group { offset: total_bins });
                    total_bins += n_bins[*f];
                }
                Members::Bundle(fs) => {
                    let mut local = 1;
                    for &(f, d) in fs {
                        slots[f] = Slot {
                            group: gi,
                            offset: total_bins + local,
                            default_bin: Some(d as usize),
                        };
                        local += n_bins[f] - 1;
                    }
                    groups.push(Group { offset: total_bins });
                    total_bins += local;
                }
            }
        }

        let ng = members.len();
        // When the groups use most of a byte's 256 bins anyway (dense numeric
        // data), give every group 256 entries: histogram building can then
        // index a fixed-size array per group, with no offset load and no
        // bounds check. Otherwise the compact layout keeps histograms small.
        let strided = 2 * total_bins >= ng * 256;
        if strided {
            for s in &mut slots {
                s.offset = s.offset - groups[s.group].offset + s.group * 256;
            }
            for (gi, g) in groups.iter_mut().enumerate() {
                g.offset = gi * 256;
            }
            total_bins = ng * 256;
        }
        let mut bins = vec![0u8; n * ng];
        const ROWS_PER_TASK: usize = 4096;
        bins.par_chunks_mut(ng.max(1) * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(b, chunk)| {
                let start = b * ROWS_PER_TASK;
                for (k, row) in chunk.chunks_mut(ng).enumerate() {
                    let r = start + k;
                    for (dst, m) in row.iter_mut().zip(&members) {
                        *dst = match m {
                            Members::Single(f) => cols[*f][r],
                            Members::Bundle(fs) => {
                                // At most one member is off its default bin (no conflicts).
                                let mut v = 0u8;
                                let mut local = 1usize;
                                for &(f, d) in fs {
                                    let b = cols[f][r];
                                    if b != d {
                                        let idx = usize::from(b) - usize::from(b > d);
                                        v = (local + idx) as u8;
                                    }
                                    local += n_bins[f] - 1;
                                }
                                v
                            }
                        };
                    }
                }
            });
        BinnedData {
            mappers,
            n_groups: ng,
            bins,
            groups,
            slots,
            total_bins,
            strided,
            cols,
        }
    }
}

/// The features of one group: one feature, or a bundle of `(feature, default bin)`.
enum Members {
    Single(usize),
    Bundle(Vec<(usize, u8)>),
}

/// Greedy exclusive feature bundling (Ke et al. 2017, as in LightGBM) without
/// conflicts: sparse features, most rows off their default bin first, join the
/// first bundle where no row is off the default bin of both and whose bins stay
/// within a byte. Dense features and bundles of one stay single groups. Groups
/// are ordered by their first feature, so data without sparse features keeps
/// the plain one-feature-per-column layout.
fn bundle_features(cols: &[Vec<u8>], n_bins: &[usize], n: usize) -> Vec<Members> {
    // Most frequent bin (ties: the lowest) and the rows off it, per sparse feature.
    let info: Vec<Option<(u8, Vec<u32>)>> = cols
        .par_iter()
        .zip(n_bins.par_iter())
        .map(|(col, &nb)| {
            if nb < 2 || n == 0 {
                return None;
            }
            let mut counts = [0usize; 256];
            for &b in col {
                counts[b as usize] += 1;
            }
            let d = (0..256).fold(0, |best, b| if counts[b] > counts[best] { b } else { best });
            if (counts[d] as f64) < SPARSE_SHARE * n as f64 {
                return None;
            }
            let d = d as u8;
            let off: Vec<u32> = (0..n as u32).filter(|&r| col[r as usize] != d).collect();
            Some((d, off))
        })
        .collect();
    let mut order: Vec<usize> = (0..cols.len()).filter(|&f| info[f].is_some()).collect();
    let nnz = |f: usize| info[f].as_ref().map_or(0, |(_, o)| o.len());
    order.sort_by(|&a, &b| nnz(b).cmp(&nnz(a)).then(a.cmp(&b)));

    struct Open {
        used: Vec<u64>,
        bins: usize,
        features: Vec<usize>,
    }
    let mut bundles: Vec<Open> = Vec::new();
    for &f in &order {
        let (_, off) = info[f].as_ref().expect("sparse feature");
        let extra = n_bins[f] - 1;
        let fits = |b: &Open| {
            b.bins + extra <= 256
                && off
                    .iter()
                    .all(|&r| (b.used[r as usize / 64] >> (r % 64)) & 1 == 0)
        };
        let at = bundles.iter().take(MAX_BUNDLE_TRIES).position(fits);
        let b = match at {
            Some(i) => &mut bundles[i],
            None => {
                bundles.push(Open {
                    used: vec![0u64; n.div_ceil(64)],
                    bins: 1,
                    features: Vec::new(),
                });
                bundles.last_mut().expect("just pushed")
            }
        };
        for &r in off {
            b.used[r as usize / 64] |= 1 << (r % 64);
        }
        b.bins += extra;
        b.features.push(f);
    }

    // A bundle is placed where its first feature would have been.
    let mut bundle_at: Vec<Option<usize>> = vec![None; cols.len()];
    let mut in_bundle = vec![false; cols.len()];
    for (i, b) in bundles.iter_mut().enumerate() {
        b.features.sort_unstable();
        if b.features.len() >= 2 {
            bundle_at[b.features[0]] = Some(i);
            for &f in &b.features {
                in_bundle[f] = true;
            }
        }
    }
    let mut out = Vec::new();
    for f in 0..cols.len() {
        if let Some(i) = bundle_at[f] {
            out.push(Members::Bundle(
                bundles[i]
                    .features
                    .iter()
                    .map(|&g| (g, info[g].as_ref().expect("sparse").0))
                    .collect(),
            ));
        } else if !in_bundle[f] {
            out.push(Members::Single(f));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::FeatureColumn;

    #[test]
    fn few_distinct_values_get_own_bins() {
        let b = quantile_bounds(&[1.0, 1.0, 2.0, 3.0], 255);
        assert_eq!(b, vec![1.5, 2.5, f64::INFINITY]);
    }

    #[test]
    fn many_values_respect_max_bin_and_balance() {
        let s: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
        let b = quantile_bounds(&s, 10);
        assert_eq!(b.len(), 10);
        // Roughly 1000 values per bin.
        assert!((b[0] - 999.5).abs() < 2.0, "{b:?}");
    }

    #[test]
    fn binning_is_consistent_with_thresholds() {
        let v: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 / 7.0).collect();
        let f = Features::new(vec![FeatureColumn::numeric("a", v.clone())]).unwrap();
        let bd = BinnedData::new(&f, 16, 200, 1);
        let BinMapper::Numeric { upper, .. } = &bd.mappers[0] else {
            panic!()
        };
        for (i, &x) in v.iter().enumerate() {
            let b = bd.bins[i] as usize;
            assert!(x <= upper[b]);
            if b > 0 {
                assert!(x > upper[b - 1]);
            }
        }
    }

    /// One-hot columns of a categorical variable that is mostly "none": each
    /// column is sparse and they never overlap, so they share one group.
    fn one_hot(n: usize, levels: usize, none_share: f64, seed: u64) -> Vec<FeatureColumn> {
        let mut rng = SplitMix64::new(seed);
        let codes: Vec<usize> = (0..n)
            .map(|_| {
                if rng.next_f64() < none_share {
                    0
                } else {
                    1 + rng.below(levels)
                }
            })
            .collect();
        (1..=levels)
            .map(|l| {
                let v = codes.iter().map(|&c| f64::from(u8::from(c == l))).collect();
                FeatureColumn::numeric(format!("oh{l}"), v)
            })
            .collect()
    }

    /// Feature `f`'s bin in row `r`, read back from the group matrix.
    fn decode(bd: &BinnedData, f: usize, r: usize) -> u8 {
        let slot = bd.slots[f];
        let v = usize::from(bd.bins[r * bd.n_groups + slot.group]);
        let start = slot.offset - bd.groups[slot.group].offset;
        match slot.default_bin {
            None => v as u8,
            Some(d) => {
                let nb = bd.mappers[f].n_bins();
                if v >= start && v < start + nb - 1 {
                    let idx = v - start;
                    (idx + usize::from(idx >= d)) as u8
                } else {
                    d as u8
                }
            }
        }
    }

    #[test]
    fn bundles_exclusive_sparse_columns_and_decodes_exactly() {
        let n = 5_000;
        let mut rng = SplitMix64::new(9);
        let mut cols = vec![FeatureColumn::numeric(
            "dense",
            (0..n).map(|_| rng.next_f64()).collect(),
        )];
        cols.extend(one_hot(n, 6, 0.7, 3));
        // A sparse categorical column (own default bin 0 = code 0) and a sparse
        // numeric column with missing values, independent of the one-hot block.
        cols.push(FeatureColumn::categorical(
            "cat",
            (0..n)
                .map(|_| {
                    if rng.next_f64() < 0.9 {
                        0
                    } else {
                        rng.below(5) as u32
                    }
                })
                .collect(),
            5,
        ));
        cols.push(FeatureColumn::numeric(
            "gappy",
            (0..n)
                .map(|_| {
                    if rng.next_f64() < 0.85 {
                        f64::NAN
                    } else {
                        rng.next_f64()
                    }
                })
                .collect(),
        ));
        let x = Features::new(cols).unwrap();
        let bd = BinnedData::new(&x, 255, n, 1);
        // The six one-hot columns share one group; the dense column is alone.
        let g = bd.slots[1].group;
        assert!((1..=6).all(|f| bd.slots[f].group == g && bd.slots[f].default_bin == Some(0)));
        assert_eq!(bd.slots[0].default_bin, None);
        assert!(bd.n_groups < x.n_features());
        for f in 0..x.n_features() {
            for r in 0..n {
                assert_eq!(decode(&bd, f, r), bd.cols[f][r], "feature {f} row {r}");
            }
        }
    }

    #[test]
    fn overlapping_sparse_columns_stay_apart() {
        let n = 2_000;
        // Both columns are non-zero on every 10th row: they conflict everywhere.
        let v: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 10 == 0))).collect();
        let x = Features::new(vec![
            FeatureColumn::numeric("a", v.clone()),
            FeatureColumn::numeric("b", v),
        ])
        .unwrap();
        let bd = BinnedData::new(&x, 255, n, 1);
        assert_eq!(bd.n_groups, 2);
        assert!(bd.slots.iter().all(|s| s.default_bin.is_none()));
    }
}
