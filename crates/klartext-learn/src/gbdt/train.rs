//! Histogram GBDT training: gradients, row-wise histograms with subtraction,
//! split search (numeric with learned missing direction, native categorical),
//! leaf-wise growth, bagging, feature subsampling and early stopping.
//!
//! Determinism: every floating-point reduction runs in an order fixed by the data
//! alone. Histograms are summed per fixed-size row chunk (sequential inside a
//! chunk) and the chunk results are added in chunk order, so the thread count
//! never changes a single bit of the result.

use rayon::prelude::*;

use super::binning::{BinMapper, BinnedData};
use super::params::GbdtParams;
use crate::data::{Features, Task};
use crate::ensemble::{Node, TreeEnsemble};
use crate::rng::SplitMix64;

/// Rows per histogram chunk: large enough that zeroing and merging a chunk's
/// histogram is noise, small enough that mid-sized leaves still use both cores.
const HIST_CHUNK: usize = 16_384;

/// Nodes with fewer rows are built by one thread (task overhead would dominate).
const SMALL_NODE: usize = 2_048;

/// Gradient and hessian sums of one bin. Row counts are not stored: like
/// LightGBM, split search estimates a bin's count from its hessian share of the
/// leaf (exact for L2 regression), which keeps entries at 16 bytes and the
/// histogram hot loop at two adds. Node covers still use exact partition counts.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BinStat {
    g: f64,
    h: f64,
}

/// A histogram entry that accumulates per-row gradient pairs of type `Row`.
trait Entry: Copy + Default + Send + Sync {
    type Row: Copy + Default + Send + Sync;
    fn add_row(&mut self, r: Self::Row);
}

/// A histogram entry of a leaf: f64 sums ([`BinStat`]) or quantised integer
/// sums ([`QStat`]). Tree growing is written once for both.
trait Stat: Entry {
    fn add(&mut self, o: Self);
    fn sub(&mut self, o: Self);
    fn total(gh: &[Self::Row], rows: &[u32]) -> Self;
    fn to_f64(self, sc: Scale) -> BinStat;
    /// `hist` as f64 sums: itself, or converted into `buf`.
    fn view<'a>(hist: &'a [Self], sc: Scale, buf: &'a mut Vec<BinStat>) -> &'a [BinStat];
    /// The histogram of `rows`.
    fn build(bd: &BinnedData, gh: &[Self::Row], rows: &[u32], pools: &Pools<Self>) -> Vec<Self>;
}

impl Entry for BinStat {
    type Row = BinStat;
    #[inline(always)]
    fn add_row(&mut self, r: BinStat) {
        self.g += r.g;
        self.h += r.h;
    }
}

impl Stat for BinStat {
    #[inline(always)]
    fn add(&mut self, o: Self) {
        self.g += o.g;
        self.h += o.h;
    }
    #[inline(always)]
    fn sub(&mut self, o: Self) {
        self.g -= o.g;
        self.h -= o.h;
    }
    fn total(gh: &[BinStat], rows: &[u32]) -> Self {
        let mut t = BinStat::default();
        for &r in rows {
            t.add(gh[r as usize]);
        }
        t
    }
    #[inline(always)]
    fn to_f64(self, _: Scale) -> BinStat {
        self
    }
    fn view<'a>(hist: &'a [Self], _: Scale, _: &'a mut Vec<BinStat>) -> &'a [BinStat] {
        hist
    }
    fn build(bd: &BinnedData, gh: &[BinStat], rows: &[u32], pools: &Pools<Self>) -> Vec<Self> {
        build_hist_f64(bd, gh, rows, pools)
    }
}

/// One row's quantised gradient and hessian (LightGBM 4's
/// `use_quantized_grad`): small integers packed in an i32, the gradient in the
/// high 16 bits and the non-negative hessian in the low 16. The same packing
/// serves as a histogram entry for up to [`narrow_rows`] rows: one integer add
/// per bin, 4-byte entries (a 30-feature histogram fits in L1), and exact sums.
#[derive(Debug, Clone, Copy, Default)]
struct QRow(i32);

impl QRow {
    fn new(g: i32, h: i32) -> QRow {
        QRow((g << 16) + h)
    }
    #[inline(always)]
    fn parts(self) -> (i64, i64) {
        let h = self.0 & 0xFFFF;
        (i64::from((self.0 - h) >> 16), i64::from(h))
    }
}

impl Entry for QRow {
    type Row = QRow;
    #[inline(always)]
    fn add_row(&mut self, r: QRow) {
        self.0 = self.0.wrapping_add(r.0);
    }
}

/// Quantised sums of a leaf histogram: gradient in the high 32 bits of an
/// i64, hessian in the low 32; exact (so summation order does not matter)
/// while rows x bins < 2^31, which `train` checks.
#[derive(Debug, Clone, Copy, Default)]
struct QStat(i64);

impl QStat {
    #[inline(always)]
    fn new(g: i64, h: i64) -> QStat {
        QStat((g << 32) + h)
    }
    #[inline(always)]
    fn parts(self) -> (i64, i64) {
        let h = self.0 & 0xFFFF_FFFF;
        ((self.0 - h) >> 32, h)
    }
}

impl Entry for QStat {
    type Row = QRow;
    #[inline(always)]
    fn add_row(&mut self, r: QRow) {
        let (g, h) = r.parts();
        self.add(QStat::new(g, h));
    }
}

impl Stat for QStat {
    #[inline(always)]
    fn add(&mut self, o: Self) {
        self.0 = self.0.wrapping_add(o.0);
    }
    #[inline(always)]
    fn sub(&mut self, o: Self) {
        self.0 = self.0.wrapping_sub(o.0);
    }
    fn total(gh: &[QRow], rows: &[u32]) -> Self {
        let mut t = QStat::default();
        for &r in rows {
            t.add_row(gh[r as usize]);
        }
        t
    }
    #[inline(always)]
    fn to_f64(self, sc: Scale) -> BinStat {
        let (g, h) = self.parts();
        BinStat {
            g: g as f64 * sc.g,
            h: h as f64 * sc.h,
        }
    }
    fn view<'a>(hist: &'a [Self], sc: Scale, buf: &'a mut Vec<BinStat>) -> &'a [BinStat] {
        buf.clear();
        buf.extend(hist.iter().map(|q| q.to_f64(sc)));
        buf
    }
    fn build(bd: &BinnedData, gh: &[QRow], rows: &[u32], pools: &Pools<Self>) -> Vec<Self> {
        build_hist_quant(bd, gh, rows, pools)
    }
}

/// What one quantisation step is worth in gradient and hessian units (1 for
/// f64 histograms).
#[derive(Debug, Clone, Copy)]
struct Scale {
    g: f64,
    h: f64,
}

const UNIT: Scale = Scale { g: 1.0, h: 1.0 };

/// Quantises gradients to integers in `-bins/2..=bins/2` and hessians to
/// `0..=bins` with stochastic rounding (unbiased: `floor(x + u)`, `u` uniform),
/// as LightGBM does. The uniforms come from a counter-based hash of (seed,
/// round, row), so the result does not depend on how rows are split between
/// threads.
fn quantize(gh: &[BinStat], out: &mut [QRow], bins: usize, seed: u64, round: usize) -> Scale {
    let (mg, mh) = gh
        .par_chunks(8192)
        .map(|c| {
            c.iter()
                .fold((0.0f64, 0.0f64), |(a, b), s| (a.max(s.g.abs()), b.max(s.h)))
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
    let half = (bins / 2) as f64;
    let sc = Scale {
        g: if mg > 0.0 { mg / half } else { 1.0 },
        h: if mh > 0.0 { mh / bins as f64 } else { 1.0 },
    };
    let key = SplitMix64::derive(seed, 0x0A27 ^ ((round as u64) << 20)).next_u64();
    let (ig, ih) = (1.0 / sc.g, 1.0 / sc.h);
    out.par_chunks_mut(8192)
        .zip(gh.par_chunks(8192))
        .enumerate()
        .for_each(|(c, (o, s))| {
            for (k, (o, s)) in o.iter_mut().zip(s).enumerate() {
                let u = SplitMix64::new(key ^ (c * 8192 + k) as u64).next_u64();
                let ug = (u >> 40) as f64 / (1u64 << 24) as f64;
                let uh = (u & 0xFF_FFFF) as f64 / (1u64 << 24) as f64;
                // Clamped as floats (branch-free: the rounding is random, so
                // integer clamps would mispredict), then floor(v) as the
                // truncation of v + 64 > 0 (`f64::floor` is a libm call on
                // baseline x86-64).
                let fl = |v: f64| (v + 64.0) as i64 - 64;
                let g = fl((s.g * ig + ug).max(-half).min(half)) as i32;
                let h = fl((s.h * ih + uh).max(0.0).min(bins as f64)) as i32;
                *o = QRow::new(g, h);
            }
        });
    sc
}

/// What training reports besides the ensemble.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrainOutput {
    pub ensemble: TreeEnsemble,
    /// Validation loss after each round (empty without validation data).
    pub valid_loss: Vec<f64>,
    /// Total split gain per feature.
    pub feature_gain: Vec<f64>,
}

#[derive(Debug, Clone)]
enum SplitKind {
    /// Value bins `0..=last_left` go left.
    Numeric { last_left: usize },
    /// Bins whose bit is set go left.
    Categorical { left: [u64; 4] },
}

#[derive(Debug, Clone)]
struct Split {
    feature: usize,
    gain: f64,
    lg: f64,
    lh: f64,
    default_left: bool,
    kind: SplitKind,
}

struct Leaf<T> {
    node: usize,
    begin: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    c: u32,
    hist: Option<Hist<T>>,
    best: Option<Split>,
}

/// `f64::round` without the libm call it is on baseline x86-64, for the
/// values that matter here (non-negative; negatives only need to stay <= 0;
/// values past 2^63 only need to saturate a `u32`): `x - trunc(x)` is exact
/// below 2^52 and 0 above, where `x` is an integer.
#[inline]
fn round_half_away(x: f64) -> f64 {
    let t = (x as i64) as f64;
    if x - t >= 0.5 {
        t + 1.0
    } else {
        t
    }
}

#[inline]
fn leaf_score(g: f64, h: f64, l2: f64) -> f64 {
    g * g / (h + l2)
}

/// Trains an ensemble. `y` is checked by the caller; `valid` enables the
/// validation-loss history and, with `early_stopping_rounds`, early stopping.
pub(crate) fn train(
    p: &GbdtParams,
    task: Task,
    x: &Features,
    y: &[f64],
    valid: Option<(&Features, &[f64])>,
    truncate: bool,
) -> TrainOutput {
    let n = x.n_rows;
    let nf = x.n_features();
    let bd = BinnedData::new(x, p.max_bin, p.bin_construct_sample_cnt, p.seed);

    // Boost from the average, as LightGBM does.
    let mean = y.iter().sum::<f64>() / n as f64;
    let init = match task {
        Task::BinaryClassification => (mean / (1.0 - mean)).ln(),
        Task::Regression => mean,
    };
    let mut ens = TreeEnsemble::new(nf, init);
    let mut score = vec![init; n];
    let mut gh = vec![BinStat::default(); n];
    // Quantised training packs gradient sums into 32 bits: it needs
    // rows x bins < 2^31 (else the f64 path is used).
    let quantized = p.use_quantized_grad
        && (n as u64).saturating_mul(p.num_grad_quant_bins as u64) < (1u64 << 31);
    let mut qgh = vec![QRow::default(); if quantized { n } else { 0 }];
    let fpools: Pools<BinStat> = Pools::new(1);
    let qpools: Pools<QStat> = Pools::new(p.num_grad_quant_bins);
    let mut valid_score = valid.map(|(vx, _)| vec![init; vx.n_rows]);
    let mut valid_loss = Vec::new();
    let mut feature_gain = vec![0.0; nf];
    let mut bag_rng = SplitMix64::derive(p.seed, 0xBA6);
    let mut feat_rng = SplitMix64::derive(p.seed, 0xFEA);
    let mut indices: Vec<u32> = Vec::with_capacity(n);
    let mut in_bag = vec![true; n];
    let mut leaf_of = vec![0u32; n];
    let mut scratch: Vec<u32> = Vec::with_capacity(n);
    let mut best_loss = f64::INFINITY;
    let mut best_iter = 0usize;

    for it in 0..p.num_iterations {
        compute_gradients(task, y, &score, &mut gh);

        indices.clear();
        if p.bagging_fraction < 1.0 {
            for (r, b) in in_bag.iter_mut().enumerate() {
                *b = bag_rng.next_f64() < p.bagging_fraction;
                if *b {
                    indices.push(r as u32);
                }
            }
            if indices.len() < 2 {
                continue;
            }
        } else {
            indices.extend(0..n as u32);
        }

        let mut allowed = vec![true; nf];
        if p.feature_fraction < 1.0 {
            let k = ((p.feature_fraction * nf as f64).round() as usize).clamp(1, nf);
            let mut order: Vec<usize> = (0..nf).collect();
            feat_rng.shuffle(&mut order);
            allowed.iter_mut().for_each(|a| *a = false);
            for &f in &order[..k] {
                allowed[f] = true;
            }
        }

        let grown = if quantized {
            let sc = quantize(&gh, &mut qgh, p.num_grad_quant_bins, p.seed, it);
            let exact = p.quant_train_renew_leaf.then_some(&gh[..]);
            grow_tree(
                p,
                &bd,
                &qgh,
                sc,
                exact,
                &qpools,
                &mut indices,
                &mut scratch,
                &allowed,
            )
        } else {
            grow_tree(
                p,
                &bd,
                &gh,
                UNIT,
                None,
                &fpools,
                &mut indices,
                &mut scratch,
                &allowed,
            )
        };
        if grown.leaves.len() < 2 {
            // Nothing left to learn under the constraints: stop like LightGBM.
            break;
        }
        for (f, g) in grown.gains {
            feature_gain[f] += g;
        }
        // Scores: mark each in-bag row with its leaf (byte-sized scattered
        // writes into an array that stays in cache), then add the leaf values
        // in one parallel pass in row order; out-of-bag rows were not
        // partitioned and are routed through the tree.
        let values: Vec<f64> = grown
            .leaves
            .iter()
            .map(|&(_, _, node)| grown.nodes[node].value)
            .collect();
        for (li, &(begin, end, _)) in grown.leaves.iter().enumerate() {
            for &r in &indices[begin..end] {
                leaf_of[r as usize] = li as u32;
            }
        }
        ens.push_tree(grown.nodes, &grown.cat_bits);
        let t = ens.n_trees() - 1;
        let ens_ref = &ens;
        score
            .par_chunks_mut(8192)
            .zip(leaf_of.par_chunks(8192).zip(in_bag.par_chunks(8192)))
            .enumerate()
            .for_each(|(c, (s, (l, b)))| {
                for (k, ((s, &l), &b)) in s.iter_mut().zip(l).zip(b).enumerate() {
                    *s += if b {
                        values[l as usize]
                    } else {
                        ens_ref.tree_value_at(t, x, c * 8192 + k)
                    };
                }
            });

        if let (Some((vx, vy)), Some(vs)) = (valid, valid_score.as_mut()) {
            let ens_ref = &ens;
            vs.par_iter_mut()
                .enumerate()
                .for_each(|(r, s)| *s += ens_ref.tree_value_at(t, vx, r));
            let loss = mean_loss(task, vy, vs);
            valid_loss.push(loss);
            if loss < best_loss {
                best_loss = loss;
                best_iter = it + 1;
            }
            if let Some(rounds) = p.early_stopping_rounds {
                if ens.n_trees() >= best_iter + rounds {
                    break;
                }
            }
        }
    }
    if truncate && valid.is_some() && p.early_stopping_rounds.is_some() && best_iter > 0 {
        ens.truncate(best_iter);
    }
    TrainOutput {
        ensemble: ens,
        valid_loss,
        feature_gain,
    }
}

/// Mean training loss of the objective: log loss or squared error.
pub(crate) fn mean_loss(task: Task, y: &[f64], raw: &[f64]) -> f64 {
    let s: f64 = match task {
        Task::BinaryClassification => y
            .iter()
            .zip(raw)
            .map(|(&y, &r)| {
                // log(1 + e^-m) in a form that cannot overflow.
                let m = if y > 0.5 { r } else { -r };
                if m > 0.0 {
                    (-m).exp().ln_1p()
                } else {
                    -m + m.exp().ln_1p()
                }
            })
            .sum(),
        Task::Regression => y.iter().zip(raw).map(|(&y, &r)| (r - y) * (r - y)).sum(),
    };
    s / y.len() as f64
}

fn compute_gradients(task: Task, y: &[f64], score: &[f64], gh: &mut [BinStat]) {
    gh.par_chunks_mut(8192)
        .zip(score.par_chunks(8192).zip(y.par_chunks(8192)))
        .for_each(|(g, (s, y))| {
            for ((g, &s), &y) in g.iter_mut().zip(s).zip(y) {
                *g = match task {
                    Task::BinaryClassification => {
                        let p = 1.0 / (1.0 + (-s).exp());
                        BinStat {
                            g: p - y,
                            h: (p * (1.0 - p)).max(1e-16),
                        }
                    }
                    Task::Regression => BinStat { g: s - y, h: 1.0 },
                };
            }
        });
}

/// A leaf's histogram: the groups' bins one after another (see
/// [`BinnedData`]), so its size follows the data's bins rather than 256 per
/// feature.
type Hist<T> = Vec<T>;

/// Reusable buffers. Histograms and gather buffers are allocated for every
/// node; fresh allocations of this size come from the kernel as new pages
/// (zeroed on first touch), which cost more than filling a reused buffer.
struct Pool<T> {
    free: std::sync::Mutex<Vec<Vec<T>>>,
}

impl<T: Copy> Pool<T> {
    fn new() -> Self {
        Pool {
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A buffer of `len` copies of `fill`.
    fn take(&self, len: usize, fill: T) -> Vec<T> {
        let mut v = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        v.clear();
        v.resize(len, fill);
        v
    }

    fn give(&self, v: Vec<T>) {
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(v);
    }
}

/// The buffer pools of one training run.
struct Pools<T: Entry> {
    hist: Pool<T>,
    bins: Pool<u8>,
    gh: Pool<T::Row>,
    narrow: Pool<QRow>,
    /// Quantisation levels (bounds the rows of a narrow histogram).
    quant_bins: usize,
}

impl<T: Entry> Pools<T> {
    fn new(quant_bins: usize) -> Self {
        Pools {
            hist: Pool::new(),
            bins: Pool::new(),
            gh: Pool::new(),
            narrow: Pool::new(),
            quant_bins,
        }
    }
}

/// Row-wise accumulation of groups `g0..g0 + hist`'s groups into `hist` (which
/// starts at group `g0`'s first bin). A leaf's rows are scattered over the
/// training matrix, and a loop that adds a few dozen histogram entries per row
/// keeps only a row or two in flight, so each row waited for its own cache
/// misses. Rows are therefore first gathered, a batch at a time, into small
/// contiguous buffers (a tight copy loop with many misses in flight), then
/// accumulated from there. Rows that are already contiguous are read in place.
fn accumulate<T: Entry>(
    bd: &BinnedData,
    gh: &[T::Row],
    rows: &[u32],
    g0: usize,
    g1: usize,
    hist: &mut [T],
) {
    let ng = bd.n_groups;
    let contiguous = rows
        .first()
        .zip(rows.last())
        .is_some_and(|(&a, &b)| (b - a) as usize + 1 == rows.len());
    if contiguous {
        let r0 = rows[0] as usize;
        let bins = &bd.bins[r0 * ng..(r0 + rows.len()) * ng];
        accumulate_block(bd, bins, &gh[r0..r0 + rows.len()], g0, g1, hist);
        return;
    }
    let mut bbuf = vec![0u8; GATHER * ng];
    let mut gbuf = [T::Row::default(); GATHER];
    for batch in rows.chunks(GATHER) {
        let k = batch.len();
        gather(bd, gh, batch, &mut bbuf[..k * ng], &mut gbuf[..k]);
        accumulate_block(bd, &bbuf[..k * ng], &gbuf[..k], g0, g1, hist);
    }
}

/// Copies the group bins and gradients of `rows` into contiguous buffers.
fn gather<R: Copy>(bd: &BinnedData, gh: &[R], rows: &[u32], bins: &mut [u8], g: &mut [R]) {
    let ng = bd.n_groups;
    for ((dst, g), &r) in bins.chunks_exact_mut(ng).zip(g.iter_mut()).zip(rows) {
        let r = r as usize;
        dst.copy_from_slice(&bd.bins[r * ng..(r + 1) * ng]);
        *g = gh[r];
    }
}

/// Accumulates groups `g0..g1` of contiguous rows (`bins`: `n_groups` bytes a
/// row) into `hist`, which starts at group `g0`'s first bin.
fn accumulate_block<T: Entry>(
    bd: &BinnedData,
    bins: &[u8],
    gh: &[T::Row],
    g0: usize,
    g1: usize,
    hist: &mut [T],
) {
    let ng = bd.n_groups;
    // Two rows per pass over the groups: the loop overhead and the offset
    // loads are shared, and each bin still receives its rows in row order.
    let pairs = bins.len() / (2 * ng);
    let (paired, rest) = bins.split_at(pairs * 2 * ng);
    let row_pairs = paired
        .chunks_exact(2 * ng)
        .map(|p| (&p[g0..g1], &p[ng + g0..ng + g1]));
    let gh_pairs = gh.chunks_exact(2).map(|q| (q[0], q[1]));
    let last = rest.get(g0..g1).map(|row| (row, gh[gh.len() - 1]));
    if bd.strided {
        for ((ra, rb), (qa, qb)) in row_pairs.zip(gh_pairs) {
            for ((fh, &a), &b) in hist.chunks_exact_mut(256).zip(ra).zip(rb) {
                fh[a as usize].add_row(qa);
                fh[b as usize].add_row(qb);
            }
        }
        if let Some((row, q)) = last {
            for (fh, &b) in hist.chunks_exact_mut(256).zip(row) {
                fh[b as usize].add_row(q);
            }
        }
    } else {
        let base = bd.groups[g0].offset;
        let offs: Vec<usize> = bd.groups[g0..g1].iter().map(|g| g.offset - base).collect();
        for ((ra, rb), (qa, qb)) in row_pairs.zip(gh_pairs) {
            for ((&o, &a), &b) in offs.iter().zip(ra).zip(rb) {
                hist[o + a as usize].add_row(qa);
                hist[o + b as usize].add_row(qb);
            }
        }
        if let Some((row, q)) = last {
            for (&o, &b) in offs.iter().zip(row) {
                hist[o + b as usize].add_row(q);
            }
        }
    }
}

/// Rows to gather before accumulating them: the buffers stay in L1/L2.
const GATHER: usize = 256;

fn add_into<T: Stat>(out: &mut [T], part: &[T]) {
    for (o, &s) in out.iter_mut().zip(part) {
        o.add(s);
    }
}

/// Histogram of `rows`, built row-wise (one or two cache lines per row, which
/// suits the sparse row subsets of deeper nodes). Nodes up to `HIST_CHUNK` rows
/// split the groups between two tasks; larger ones are cut into fixed-size row
/// chunks added in chunk order. Neither depends on the thread count.
fn build_hist_f64(
    bd: &BinnedData,
    gh: &[BinStat],
    rows: &[u32],
    pools: &Pools<BinStat>,
) -> Hist<BinStat> {
    type T = BinStat;
    let ng = bd.n_groups;
    let mut out = pools.hist.take(bd.total_bins, T::default());
    if rows.len() <= HIST_CHUNK {
        if rows.len() < SMALL_NODE || ng < 2 {
            accumulate(bd, gh, rows, 0, ng, &mut out);
        } else {
            // Gather the node's rows once (two tasks, half the rows each), then
            // each task accumulates half of the groups from the contiguous copy.
            let k = rows.len();
            let mut bins = pools.bins.take(k * ng, 0);
            let mut g = pools.gh.take(k, BinStat::default());
            let mid = k / 2;
            let (b0, b1) = bins.split_at_mut(mid * ng);
            let (h0, h1) = g.split_at_mut(mid);
            rayon::join(
                || gather(bd, gh, &rows[..mid], b0, h0),
                || gather(bd, gh, &rows[mid..], b1, h1),
            );
            let half = ng / 2;
            let (a, b) = out.split_at_mut(bd.groups[half].offset);
            rayon::join(
                || accumulate_block(bd, &bins, &g, 0, half, a),
                || accumulate_block(bd, &bins, &g, half, ng, b),
            );
            pools.bins.give(bins);
            pools.gh.give(g);
        }
        return out;
    }
    let parts: Vec<Hist<T>> = rows
        .par_chunks(HIST_CHUNK)
        .map(|chunk| {
            let mut h = pools.hist.take(bd.total_bins, T::default());
            accumulate(bd, gh, chunk, 0, ng, &mut h);
            h
        })
        .collect();
    for part in parts {
        add_into(&mut out, &part);
        pools.hist.give(part);
    }
    out
}

/// Most rows whose quantised sums fit the 16-bit halves of a [`QRow`].
fn narrow_rows(bins: usize) -> usize {
    (65_535 / bins).min(8_192)
}

/// Quantised histogram of `rows`: row chunks of at most [`narrow_rows`] are
/// accumulated into a small 4-byte-entry histogram (cache-resident), then
/// widened into the leaf's i64 histogram. Integer sums are exact, so chunks
/// may be combined in any order and the thread count cannot change a bit.
fn build_hist_quant(
    bd: &BinnedData,
    gh: &[QRow],
    rows: &[u32],
    pools: &Pools<QStat>,
) -> Hist<QStat> {
    let (ng, nb) = (bd.n_groups, bd.total_bins);
    let chunk = narrow_rows(pools.quant_bins).max(1);
    let one = |rows: &[u32], out: &mut [QStat], narrow: &mut Vec<QRow>| {
        narrow.clear();
        narrow.resize(nb, QRow::default());
        accumulate(bd, gh, rows, 0, ng, narrow);
        for (o, q) in out.iter_mut().zip(narrow.iter()) {
            let (g, h) = q.parts();
            o.add(QStat::new(g, h));
        }
    };
    let mut out = pools.hist.take(nb, QStat::default());
    if rows.len() < SMALL_NODE {
        let mut narrow = pools.narrow.take(nb, QRow::default());
        for c in rows.chunks(chunk) {
            one(c, &mut out, &mut narrow);
        }
        pools.narrow.give(narrow);
        return out;
    }
    // Half the rows per task at least, so mid-sized nodes use both threads.
    let size = chunk.min(rows.len().div_ceil(2));
    let parts = rows
        .par_chunks(size)
        .fold(
            || {
                (
                    pools.hist.take(nb, QStat::default()),
                    pools.narrow.take(nb, QRow::default()),
                )
            },
            |(mut w, mut narrow), c| {
                one(c, &mut w, &mut narrow);
                (w, narrow)
            },
        )
        .map(|(w, narrow)| {
            pools.narrow.give(narrow);
            w
        })
        .collect::<Vec<_>>();
    for part in parts {
        add_into(&mut out, &part);
        pools.hist.give(part);
    }
    out
}

/// One feature's bins out of a leaf histogram, as f64 sums: a slice of it (f64
/// histograms) or a converted copy in `buf`; for a bundled feature the most
/// frequent bin is put back as the leaf total (`g`, `h`) minus the stored bins.
fn feature_hist<'a, T: Stat>(
    bd: &BinnedData,
    hist: &'a [T],
    f: usize,
    g: f64,
    h: f64,
    sc: Scale,
    buf: &'a mut Vec<BinStat>,
) -> &'a [BinStat] {
    let slot = bd.slots[f];
    let nb = bd.mappers[f].n_bins();
    match slot.default_bin {
        None => T::view(&hist[slot.offset..slot.offset + nb], sc, buf),
        Some(d) => {
            buf.clear();
            buf.extend(
                hist[slot.offset..slot.offset + nb - 1]
                    .iter()
                    .map(|q| q.to_f64(sc)),
            );
            let (mut rg, mut rh) = (g, h);
            for s in buf.iter() {
                rg -= s.g;
                rh -= s.h;
            }
            buf.insert(d, BinStat { g: rg, h: rh });
            buf
        }
    }
}

/// Stable in-place split of `rows`: left rows move to the front (returned count),
/// right rows go to `tmp` in order. Every row is written to both places and only
/// the matching cursor moves, so there is no branch on the (unpredictable) side.
/// Writing `rows[w]` is safe in place because `w` never passes the read position.
#[inline]
fn split_branchless(rows: &mut [u32], left_of: impl Fn(u32) -> bool, tmp: &mut [u32]) -> usize {
    let (mut w, mut k) = (0, 0);
    for i in 0..rows.len() {
        let r = rows[i];
        let go = usize::from(left_of(r));
        rows[w] = r;
        tmp[k] = r;
        w += go;
        k += 1 - go;
    }
    w
}

/// Stable partition of `rows` by `go_left` on feature `f`'s bin; returns the
/// number of left rows. Large ranges are split into fixed chunks partitioned in
/// parallel and stitched back in chunk order, so the result is the same as the
/// sequential one.
fn partition(
    bd: &BinnedData,
    rows: &mut [u32],
    f: usize,
    go_left: &[bool; 256],
    scratch: &mut Vec<u32>,
) -> usize {
    // Any chunk size gives the same stable partition; 16K rows lets mid-sized
    // nodes use both threads.
    const PART_CHUNK: usize = 16_384;
    let col = &bd.cols[f][..];
    let left_of = |r: u32| go_left[col[r as usize] as usize];
    if rows.len() <= PART_CHUNK {
        scratch.clear();
        scratch.resize(rows.len(), 0);
        let w = split_branchless(rows, left_of, scratch);
        let n_right = rows.len() - w;
        rows[w..].copy_from_slice(&scratch[..n_right]);
        return w;
    }
    // Each fixed chunk is partitioned in place (left rows first, then right),
    // then the chunks' left parts and right parts are stitched in chunk order.
    scratch.clear();
    scratch.resize(rows.len(), 0);
    let counts: Vec<usize> = rows
        .par_chunks_mut(PART_CHUNK)
        .zip(scratch.par_chunks_mut(PART_CHUNK))
        .map(|(c, t)| {
            let w = split_branchless(c, left_of, t);
            let n_right = c.len() - w;
            c[w..].copy_from_slice(&t[..n_right]);
            w
        })
        .collect();
    let n_left: usize = counts.iter().sum();
    let (mut lefts, mut rights) = scratch.split_at_mut(n_left);
    let mut dests: Vec<(&mut [u32], &mut [u32])> = Vec::with_capacity(counts.len());
    for (chunk, &cl) in rows.chunks(PART_CHUNK).zip(&counts) {
        let (l, lrest) = std::mem::take(&mut lefts).split_at_mut(cl);
        let (r, rrest) = std::mem::take(&mut rights).split_at_mut(chunk.len() - cl);
        lefts = lrest;
        rights = rrest;
        dests.push((l, r));
    }
    rows.par_chunks(PART_CHUNK)
        .zip(dests.into_par_iter())
        .for_each(|(c, (l, r))| {
            l.copy_from_slice(&c[..l.len()]);
            r.copy_from_slice(&c[l.len()..]);
        });
    rows.copy_from_slice(scratch);
    n_left
}

struct Grown {
    nodes: Vec<Node>,
    cat_bits: Vec<u32>,
    /// (begin, end, node) of every final leaf in the row index array.
    leaves: Vec<(usize, usize, usize)>,
    gains: Vec<(usize, f64)>,
}

struct LeafCtx<'a> {
    p: &'a GbdtParams,
    bd: &'a BinnedData,
    allowed: &'a [bool],
    sc: Scale,
}

/// Grows one tree on gradients `gh` (f64, or quantised with step sizes `sc`).
/// With `exact`, leaf values come from these f64 gradients (LightGBM's
/// `quant_train_renew_leaf`) rather than from the histogram sums.
#[allow(clippy::too_many_arguments)]
fn grow_tree<T: Stat>(
    p: &GbdtParams,
    bd: &BinnedData,
    gh: &[T::Row],
    sc: Scale,
    exact: Option<&[BinStat]>,
    pools: &Pools<T>,
    indices: &mut [u32],
    scratch: &mut Vec<u32>,
    allowed: &[bool],
) -> Grown {
    let ctx = LeafCtx { p, bd, allowed, sc };
    let BinStat { g, h } = T::total(gh, indices).to_f64(sc);
    let c = indices.len() as u32;
    let mut nodes = vec![Node::leaf(0.0, c as f64)];
    let mut cat_bits: Vec<u32> = Vec::new();
    let mut gains = Vec::new();
    let hist = T::build(bd, gh, indices, pools);
    let best = ctx.find_best(&hist, g, h, c, 0);
    let mut leaves = vec![Leaf {
        node: 0,
        begin: 0,
        end: indices.len(),
        depth: 0,
        g,
        h,
        c,
        hist: Some(hist),
        best,
    }];

    while leaves.len() < p.num_leaves {
        // Best-first: the leaf whose best split gains most (ties: oldest leaf).
        let mut pick: Option<usize> = None;
        for (i, l) in leaves.iter().enumerate() {
            if let Some(s) = &l.best {
                if pick
                    .is_none_or(|j| s.gain > leaves[j].best.as_ref().map_or(f64::MIN, |b| b.gain))
                {
                    pick = Some(i);
                }
            }
        }
        let Some(li) = pick else { break };
        let mut parent = std::mem::replace(
            &mut leaves[li],
            Leaf {
                node: 0,
                begin: 0,
                end: 0,
                depth: 0,
                g: 0.0,
                h: 0.0,
                c: 0,
                hist: None,
                best: None,
            },
        );
        let split = parent.best.take().expect("picked leaf has a split");
        gains.push((split.feature, split.gain));

        // Route bins: a 256-entry table serves numeric and categorical splits alike.
        let mapper = &bd.mappers[split.feature];
        let mut go_left = [false; 256];
        let nv = mapper.n_value_bins();
        for (b, gl) in go_left.iter_mut().enumerate().take(nv) {
            *gl = match &split.kind {
                SplitKind::Numeric { last_left } => b <= *last_left,
                SplitKind::Categorical { left } => (left[b / 64] >> (b % 64)) & 1 == 1,
            };
        }
        if let Some(m) = mapper.missing_bin() {
            go_left[m] = split.default_left;
        }

        // Stable partition keeps each leaf's rows ascending, which keeps histogram
        // reads moving forward through memory and the sums order-deterministic.
        let f = split.feature;
        let mid = parent.begin
            + partition(
                bd,
                &mut indices[parent.begin..parent.end],
                f,
                &go_left,
                scratch,
            );

        // Turn the parent leaf into a split node with raw-space routing.
        let left_id = nodes.len();
        let right_id = left_id + 1;
        let lc = (mid - parent.begin) as u32;
        let rc = parent.c - lc;
        {
            let node = &mut nodes[parent.node];
            node.left = left_id as u32;
            node.right = right_id as u32;
            node.feature = f as u32;
            node.default_left = split.default_left;
            match (&split.kind, mapper) {
                (SplitKind::Numeric { last_left }, BinMapper::Numeric { upper, .. }) => {
                    // JSON has no infinity: "all values left" becomes the largest finite f64.
                    node.threshold = upper[*last_left].min(f64::MAX);
                }
                (
                    SplitKind::Categorical { left },
                    BinMapper::Categorical {
                        n_levels,
                        bin_codes,
                        ..
                    },
                ) => {
                    let words = (*n_levels as usize).div_ceil(32).max(1);
                    let start = cat_bits.len();
                    cat_bits.resize(start + words, 0);
                    for (b, codes) in bin_codes.iter().enumerate() {
                        if (left[b / 64] >> (b % 64)) & 1 == 1 {
                            for &code in codes {
                                cat_bits[start + code as usize / 32] |= 1 << (code % 32);
                            }
                        }
                    }
                    node.cat_start = start as u32;
                    node.cat_len = words as u32;
                }
                _ => unreachable!("split kind matches its feature's mapper"),
            }
        }
        nodes.push(Node::leaf(0.0, lc as f64));
        nodes.push(Node::leaf(0.0, rc as f64));

        let (lg, lh) = (split.lg, split.lh);
        let (rg, rh) = (parent.g - lg, parent.h - lh);
        let depth = parent.depth + 1;
        let mut left = Leaf {
            node: left_id,
            begin: parent.begin,
            end: mid,
            depth,
            g: lg,
            h: lh,
            c: lc,
            hist: None,
            best: None,
        };
        let mut right = Leaf {
            node: right_id,
            begin: mid,
            end: parent.end,
            depth,
            g: rg,
            h: rh,
            c: rc,
            hist: None,
            best: None,
        };
        let can_split = |l: &Leaf<T>| {
            p.max_depth.is_none_or(|d| l.depth < d)
                && l.c as usize >= 2 * p.min_data_in_leaf
                && leaves.len() + 1 < p.num_leaves
        };
        if can_split(&left) || can_split(&right) {
            // Histogram subtraction: build the smaller child, derive the larger.
            let (small, large) = if lc <= rc {
                (&mut left, &mut right)
            } else {
                (&mut right, &mut left)
            };
            let sh = T::build(bd, gh, &indices[small.begin..small.end], pools);
            let mut lh_ = parent
                .hist
                .take()
                .expect("splittable leaf keeps its histogram");
            for (o, &s) in lh_.iter_mut().zip(&sh) {
                o.sub(s);
            }
            small.hist = Some(sh);
            large.hist = Some(lh_);
            let best_of = |l: &Leaf<T>| {
                if can_split(l) {
                    ctx.find_best(l.hist.as_ref().expect("set above"), l.g, l.h, l.c, l.depth)
                } else {
                    None
                }
            };
            let (bl, br) = rayon::join(|| best_of(&left), || best_of(&right));
            left.best = bl;
            right.best = br;
            for l in [&mut left, &mut right] {
                if l.best.is_none() {
                    if let Some(h) = l.hist.take() {
                        pools.hist.give(h);
                    }
                }
            }
        }
        leaves[li] = left;
        leaves.push(right);
    }

    for l in &mut leaves {
        if let Some(h) = l.hist.take() {
            pools.hist.give(h);
        }
    }
    let lr = p.learning_rate;
    // Leaf sums: from the histograms, or (renewed) exact f64 sums over each
    // leaf's rows in row order, leaves in parallel.
    let sums: Vec<(f64, f64)> = leaves
        .par_iter()
        .map(|l| match exact {
            Some(ex) => indices[l.begin..l.end]
                .iter()
                .fold((0.0, 0.0), |(g, h), &r| {
                    (g + ex[r as usize].g, h + ex[r as usize].h)
                }),
            None => (l.g, l.h),
        })
        .collect();
    let mut out_leaves = Vec::with_capacity(leaves.len());
    for (l, &(g, h)) in leaves.iter().zip(&sums) {
        nodes[l.node].value = -g / (h + p.lambda_l2) * lr;
        out_leaves.push((l.begin, l.end, l.node));
    }
    Grown {
        nodes,
        cat_bits,
        leaves: out_leaves,
        gains,
    }
}

impl LeafCtx<'_> {
    /// Best split of a leaf over the allowed features; ties go to the lower feature.
    fn find_best<T: Stat>(
        &self,
        hist: &[T],
        g: f64,
        h: f64,
        c: u32,
        depth: usize,
    ) -> Option<Split> {
        let p = self.p;
        if p.max_depth.is_some_and(|d| depth >= d) || (c as usize) < 2 * p.min_data_in_leaf {
            return None;
        }
        let parent = leaf_score(g, h, p.lambda_l2);
        // Features are searched in parallel; the reduction keeps the earlier
        // feature unless a later one gains strictly more, as a sequential scan.
        (0..self.bd.mappers.len())
            .into_par_iter()
            .with_min_len(4)
            .filter(|&f| self.allowed[f])
            .map_init(Vec::new, |buf, f| {
                let m = &self.bd.mappers[f];
                let fh = feature_hist(self.bd, hist, f, g, h, self.sc, buf);
                if m.is_categorical() {
                    self.best_categorical(f, m, fh, g, h, c, parent)
                } else {
                    self.best_numeric(f, m, fh, g, h, c, parent)
                }
            })
            .reduce(
                || None,
                |a, b| match (a, b) {
                    (Some(a), Some(b)) => Some(if b.gain > a.gain { b } else { a }),
                    (a, b) => a.or(b),
                },
            )
    }

    /// Estimated row count for a hessian sum inside a leaf with `c` rows and
    /// hessian `h` (LightGBM's `cnt_factor`), clamped to `0..=c`.
    fn counter(&self, h: f64, c: u32) -> impl Fn(f64) -> u32 {
        let factor = if h > 0.0 { c as f64 / h } else { 0.0 };
        move |hs: f64| (round_half_away(hs * factor).max(0.0) as u32).min(c)
    }

    #[inline]
    fn valid(&self, lh: f64, lc: u32, rh: f64, rc: u32) -> bool {
        let p = self.p;
        lc as usize >= p.min_data_in_leaf
            && rc as usize >= p.min_data_in_leaf
            && lh >= p.min_sum_hessian_in_leaf
            && rh >= p.min_sum_hessian_in_leaf
    }

    #[allow(clippy::too_many_arguments)]
    fn best_numeric(
        &self,
        f: usize,
        m: &BinMapper,
        fh: &[BinStat],
        g: f64,
        h: f64,
        c: u32,
        parent: f64,
    ) -> Option<Split> {
        let l2 = self.p.lambda_l2;
        let nv = m.n_value_bins();
        if nv < 2 && !m.has_missing() {
            return None;
        }
        let miss = m.missing_bin().map(|b| fh[b]).unwrap_or_default();
        let cnt = self.counter(h, c);
        let mut best: Option<Split> = None;
        let mut consider = |lg: f64, lh: f64, t: usize, default_left: bool| {
            let lc = cnt(lh);
            let rc = c - lc;
            let rh = h - lh;
            if !self.valid(lh, lc, rh, rc) {
                return;
            }
            let gain = leaf_score(lg, lh, l2) + leaf_score(g - lg, rh, l2) - parent;
            if gain > self.p.min_gain_to_split && best.as_ref().is_none_or(|b| gain > b.gain) {
                best = Some(Split {
                    feature: f,
                    gain,
                    lg,
                    lh,
                    default_left,
                    kind: SplitKind::Numeric { last_left: t },
                });
            }
        };
        let (mut lg, mut lh) = (0.0, 0.0);
        for (t, b) in fh.iter().enumerate().take(nv) {
            lg += b.g;
            lh += b.h;
            if miss.h > 0.0 {
                // Missing rows go right, then left; keep whichever gains more.
                consider(lg, lh, t, false);
                if t + 1 < nv {
                    consider(lg + miss.g, lh + miss.h, t, true);
                }
            } else if t + 1 < nv {
                // No missing rows here: missing later follows the bigger side.
                consider(lg, lh, t, 2.0 * lh >= h);
            }
        }
        best
    }

    #[allow(clippy::too_many_arguments)]
    fn best_categorical(
        &self,
        f: usize,
        m: &BinMapper,
        fh: &[BinStat],
        g: f64,
        h: f64,
        c: u32,
        parent: f64,
    ) -> Option<Split> {
        let p = self.p;
        let nb = m.n_bins();
        let miss_bin = m.missing_bin();
        let cnt = self.counter(h, c);
        let mut best: Option<Split> = None;
        let mut consider = |set: &[usize], l2: f64| {
            let (mut lg, mut lh) = (0.0, 0.0);
            let mut left = [0u64; 4];
            for &b in set {
                lg += fh[b].g;
                lh += fh[b].h;
                left[b / 64] |= 1 << (b % 64);
            }
            let lc = cnt(lh);
            let (rh, rc) = (h - lh, c - lc);
            if !self.valid(lh, lc, rh, rc) {
                return;
            }
            let gain = leaf_score(lg, lh, l2) + leaf_score(g - lg, rh, l2) - parent;
            if gain > p.min_gain_to_split && best.as_ref().is_none_or(|s| gain > s.gain) {
                let default_left = match miss_bin {
                    Some(mb) if fh[mb].h > 0.0 => set.contains(&mb),
                    _ => 2.0 * lh >= h,
                };
                best = Some(Split {
                    feature: f,
                    gain,
                    lg,
                    lh,
                    default_left,
                    kind: SplitKind::Categorical { left },
                });
            }
        };
        if nb <= p.max_cat_to_onehot {
            for (b, s) in fh.iter().enumerate() {
                if s.h > 0.0 {
                    consider(&[b], p.lambda_l2);
                }
            }
            return best;
        }
        // LightGBM's many-vs-many search: order well-populated categories by
        // smoothed mean gradient and try prefixes from both ends.
        let mut cats: Vec<usize> = (0..nb)
            .filter(|&b| fh[b].h > 0.0 && cnt(fh[b].h) as f64 >= p.cat_smooth.max(1.0))
            .collect();
        if cats.len() < 2 {
            return None;
        }
        let ctr = |b: usize| fh[b].g / (fh[b].h + p.cat_smooth);
        cats.sort_by(|&a, &b| ctr(a).total_cmp(&ctr(b)).then(a.cmp(&b)));
        let max_cat = p.max_cat_threshold.min(cats.len().div_ceil(2));
        let l2 = p.lambda_l2 + p.cat_l2;
        for dir in 0..2 {
            let order: Vec<usize> = if dir == 0 {
                cats.clone()
            } else {
                cats.iter().rev().copied().collect()
            };
            let mut group = 0u32;
            for i in 0..(order.len() - 1).min(max_cat) {
                group += cnt(fh[order[i]].h);
                if (group as usize) < p.min_data_per_group {
                    continue;
                }
                group = 0;
                consider(&order[..=i], l2);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::FeatureColumn;

    #[test]
    fn parallel_partition_equals_stable_sequential_partition() {
        let n = 200_000;
        let mut rng = crate::rng::SplitMix64::new(5);
        let v: Vec<f64> = (0..n).map(|_| (rng.below(50)) as f64).collect();
        let x = Features::new(vec![FeatureColumn::numeric("a", v)]).unwrap();
        let bd = BinnedData::new(&x, 255, 1000, 1);
        let mut go_left = [false; 256];
        for (b, g) in go_left.iter_mut().enumerate() {
            *g = b % 3 == 0;
        }
        let mut rows: Vec<u32> = (0..n as u32).filter(|r| r % 7 != 0).collect();
        let col = &bd.cols[0];
        let mut want: Vec<u32> = rows
            .iter()
            .copied()
            .filter(|&r| go_left[col[r as usize] as usize])
            .collect();
        let n_left = want.len();
        want.extend(
            rows.iter()
                .copied()
                .filter(|&r| !go_left[col[r as usize] as usize]),
        );
        let mut scratch = Vec::new();
        assert_eq!(partition(&bd, &mut rows, 0, &go_left, &mut scratch), n_left);
        assert_eq!(rows, want);
    }

    #[test]
    fn bundled_and_compact_histograms_match_direct_sums() {
        // One-hot columns (bundled), a categorical column and a numeric column
        // with missing values; rows: a scattered subset larger than a gather batch.
        let n = 20_000;
        let mut rng = crate::rng::SplitMix64::new(11);
        let codes: Vec<usize> = (0..n)
            .map(|_| {
                if rng.next_f64() < 0.6 {
                    0
                } else {
                    1 + rng.below(8)
                }
            })
            .collect();
        let mut cols: Vec<FeatureColumn> = (1..=8)
            .map(|l| {
                let v = codes.iter().map(|&c| f64::from(u8::from(c == l))).collect();
                FeatureColumn::numeric(format!("oh{l}"), v)
            })
            .collect();
        cols.push(FeatureColumn::categorical(
            "c",
            (0..n).map(|_| rng.below(7) as u32).collect(),
            7,
        ));
        cols.push(FeatureColumn::numeric(
            "x",
            (0..n)
                .map(|_| {
                    if rng.next_f64() < 0.1 {
                        f64::NAN
                    } else {
                        rng.next_f64()
                    }
                })
                .collect(),
        ));
        let x = Features::new(cols).unwrap();
        let bd = BinnedData::new(&x, 255, n, 1);
        assert!(bd.n_groups < x.n_features() && !bd.strided);
        let gh: Vec<BinStat> = (0..n)
            .map(|_| BinStat {
                g: rng.next_f64() - 0.5,
                h: rng.next_f64(),
            })
            .collect();
        let rows: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 1).collect();
        let hist = build_hist_f64(&bd, &gh, &rows, &Pools::new(1));
        let BinStat { g, h } = BinStat::total(&gh, &rows);
        let mut buf = Vec::new();
        for f in 0..x.n_features() {
            let fh = feature_hist(&bd, &hist, f, g, h, UNIT, &mut buf);
            assert_eq!(fh.len(), bd.mappers[f].n_bins());
            let mut want = vec![BinStat::default(); fh.len()];
            for &r in &rows {
                let b = bd.cols[f][r as usize] as usize;
                want[b].g += gh[r as usize].g;
                want[b].h += gh[r as usize].h;
            }
            for (a, b) in fh.iter().zip(&want) {
                assert!(
                    (a.g - b.g).abs() < 1e-9 && (a.h - b.h).abs() < 1e-9,
                    "feature {f}"
                );
            }
        }
    }

    #[test]
    fn round_half_away_matches_std_round() {
        let mut rng = crate::rng::SplitMix64::new(2);
        let mut xs = vec![
            0.0,
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            4503599627370495.5,
            1e18,
        ];
        xs.extend((0..10_000).map(|_| rng.next_f64() * 1000.0));
        xs.extend((0..1000).map(|i| f64::from(i) / 2.0));
        for x in xs {
            assert_eq!(round_half_away(x), x.round(), "{x}");
        }
        for x in [-0.4, -0.5, -2.7, f64::NAN, 1e300, f64::INFINITY] {
            assert_eq!(
                round_half_away(x).max(0.0) as u32,
                x.round().max(0.0) as u32,
                "{x}"
            );
        }
    }

    #[test]
    fn quantised_packing_round_trips() {
        for (g, h) in [(0, 0), (-2, 4), (2, 0), (-32, 64), (32, 1)] {
            assert_eq!(QRow::new(g, h).parts(), (i64::from(g), i64::from(h)));
        }
        // Sums of many rows stay exact in both packings while within range.
        let rows: Vec<QRow> = (0..16_000).map(|i| QRow::new((i % 5) - 2, i % 5)).collect();
        let (mut narrow, mut wide) = (QRow::default(), QStat::default());
        for &r in &rows {
            narrow.add_row(r);
            wide.add_row(r);
        }
        let want = rows
            .iter()
            .fold((0, 0), |(g, h), r| (g + r.parts().0, h + r.parts().1));
        assert_eq!(narrow.parts(), want);
        assert_eq!(wide.parts(), want);
        let mut d = wide;
        d.sub(QStat::new(-5, 7));
        assert_eq!(d.parts(), (want.0 + 5, want.1 - 7));
    }

    #[test]
    fn quantised_histograms_equal_direct_integer_sums() {
        // Bundled one-hot columns and a dense column; more rows than a narrow
        // chunk, scattered, so chunking, widening and parallel parts all run.
        let n = 60_000;
        let mut rng = crate::rng::SplitMix64::new(4);
        let codes: Vec<usize> = (0..n).map(|_| rng.below(6)).collect();
        let mut cols: Vec<FeatureColumn> = (1..6)
            .map(|l| {
                let v = codes.iter().map(|&c| f64::from(u8::from(c == l))).collect();
                FeatureColumn::numeric(format!("oh{l}"), v)
            })
            .collect();
        cols.push(FeatureColumn::numeric(
            "x",
            (0..n).map(|_| rng.next_f64()).collect(),
        ));
        let x = Features::new(cols).unwrap();
        let bd = BinnedData::new(&x, 255, n, 1);
        let gh: Vec<BinStat> = (0..n)
            .map(|_| BinStat {
                g: rng.next_f64() - 0.5,
                h: rng.next_f64() * 0.25,
            })
            .collect();
        let mut q = vec![QRow::default(); n];
        let sc = quantize(&gh, &mut q, 4, 9, 0);
        for r in &q {
            let (g, h) = r.parts();
            assert!((-2..=2).contains(&g) && (0..=4).contains(&h));
        }
        let rows: Vec<u32> = (0..n as u32).filter(|r| r % 5 != 2).collect();
        let pools: Pools<QStat> = Pools::new(4);
        let hist = build_hist_quant(&bd, &q, &rows, &pools);
        let total = QStat::total(&q, &rows).to_f64(sc);
        let mut buf = Vec::new();
        for f in 0..x.n_features() {
            let fh = feature_hist(&bd, &hist, f, total.g, total.h, sc, &mut buf).to_vec();
            let mut want = vec![(0i64, 0i64); fh.len()];
            for &r in &rows {
                let (g, h) = q[r as usize].parts();
                let b = bd.cols[f][r as usize] as usize;
                want[b].0 += g;
                want[b].1 += h;
            }
            for (a, &(g, h)) in fh.iter().zip(&want) {
                assert!((a.g - g as f64 * sc.g).abs() < 1e-9, "feature {f}");
                assert!((a.h - h as f64 * sc.h).abs() < 1e-9, "feature {f}");
            }
        }
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        let n = 200_000;
        let gh: Vec<BinStat> = (0..n)
            .map(|i| BinStat {
                g: if i == 0 { 1.0 } else { 0.3 },
                h: if i == 0 { 1.0 } else { 0.1 },
            })
            .collect();
        let mut q = vec![QRow::default(); n];
        let sc = quantize(&gh, &mut q, 4, 1, 3);
        let (g, h) = q[1..]
            .iter()
            .fold((0i64, 0i64), |(g, h), r| (g + r.parts().0, h + r.parts().1));
        let m = (n - 1) as f64;
        assert!(
            (g as f64 * sc.g / m - 0.3).abs() < 0.005,
            "{}",
            g as f64 * sc.g / m
        );
        assert!(
            (h as f64 * sc.h / m - 0.1).abs() < 0.005,
            "{}",
            h as f64 * sc.h / m
        );
    }

    #[test]
    fn quantised_training_learns_a_step_function() {
        let n = 2_000;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y: Vec<f64> = xs
            .iter()
            .map(|&x| if x < 1000.0 { 1.0 } else { 3.0 })
            .collect();
        let x = Features::new(vec![FeatureColumn::numeric("x", xs)]).unwrap();
        for renew in [false, true] {
            let p = GbdtParams {
                num_iterations: 60,
                learning_rate: 0.5,
                num_leaves: 2,
                use_quantized_grad: true,
                quant_train_renew_leaf: renew,
                ..Default::default()
            };
            let out = train(&p, Task::Regression, &x, &y, None, true);
            assert!(
                (out.ensemble.predict_raw(&[10.0]) - 1.0).abs() < 0.05,
                "renew {renew}"
            );
            assert!(
                (out.ensemble.predict_raw(&[1500.0]) - 3.0).abs() < 0.05,
                "renew {renew}"
            );
        }
    }

    #[test]
    fn learns_a_step_function_exactly() {
        let n = 200;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y: Vec<f64> = xs
            .iter()
            .map(|&x| if x < 100.0 { 1.0 } else { 3.0 })
            .collect();
        let x = Features::new(vec![FeatureColumn::numeric("x", xs)]).unwrap();
        let p = GbdtParams {
            num_iterations: 50,
            learning_rate: 1.0,
            num_leaves: 2,
            min_data_in_leaf: 5,
            ..Default::default()
        };
        let out = train(&p, Task::Regression, &x, &y, None, true);
        assert!((out.ensemble.predict_raw(&[10.0]) - 1.0).abs() < 1e-9);
        assert!((out.ensemble.predict_raw(&[150.0]) - 3.0).abs() < 1e-9);
        assert!(out.ensemble.nodes[0].threshold > 99.0 && out.ensemble.nodes[0].threshold < 100.0);
    }

    #[test]
    fn learns_missing_direction_and_categories() {
        // y depends on whether x is missing and on category membership {1, 3}.
        let n = 400;
        let mut xs = Vec::new();
        let mut cs = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let miss = i % 4 == 0;
            xs.push(if miss { f64::NAN } else { (i % 7) as f64 });
            let code = (i % 5) as u32;
            cs.push(code);
            y.push(if miss { 5.0 } else { 0.0 } + if code == 1 || code == 3 { 2.0 } else { 0.0 });
        }
        let x = Features::new(vec![
            FeatureColumn::numeric("x", xs),
            FeatureColumn::categorical("c", cs, 5),
        ])
        .unwrap();
        let p = GbdtParams {
            num_iterations: 30,
            learning_rate: 1.0,
            num_leaves: 4,
            min_data_in_leaf: 5,
            min_data_per_group: 1,
            cat_smooth: 1.0,
            ..Default::default()
        };
        let out = train(&p, Task::Regression, &x, &y, None, true);
        let e = &out.ensemble;
        assert!((e.predict_raw(&[f64::NAN, 1.0]) - 7.0).abs() < 1e-6);
        assert!((e.predict_raw(&[2.0, 3.0]) - 2.0).abs() < 1e-6);
        assert!((e.predict_raw(&[2.0, 0.0]) - 0.0).abs() < 1e-6);
        assert!((e.predict_raw(&[f64::NAN, 4.0]) - 5.0).abs() < 1e-6);
    }
}
