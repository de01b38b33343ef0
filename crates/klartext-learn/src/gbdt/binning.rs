//! Feature binning for histogram GBDT: quantile bin boundaries found on a row
//! sample, categorical code-to-bin maps, and the u8 row-major binned matrix.

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

/// The training matrix in bins, row-major (`n_rows x n_features` bytes): one row's
/// bins share a cache line, which is what row-wise histogram building wants.
pub(crate) struct BinnedData {
    pub n_features: usize,
    pub mappers: Vec<BinMapper>,
    pub bins: Vec<u8>,
    /// The same bins column-major: partitioning reads one feature for rows in
    /// ascending order, which this layout turns into near-sequential reads.
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
        let mut bins = vec![0u8; n * nf];
        bins.par_chunks_mut(nf.max(1) * 4096)
            .enumerate()
            .for_each(|(b, chunk)| {
                let start = b * 4096;
                for (k, row) in chunk.chunks_mut(nf).enumerate() {
                    for (j, col) in cols.iter().enumerate() {
                        row[j] = col[start + k];
                    }
                }
            });
        BinnedData {
            n_features: nf,
            mappers,
            bins,
            cols,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let f = Features::new(vec![crate::data::FeatureColumn::numeric("a", v.clone())]).unwrap();
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
}
