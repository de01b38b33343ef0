//! The one native tree-ensemble runtime every tree model uses: flat node arrays,
//! single-row and batch prediction, and exact path-dependent TreeSHAP.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Features;
use crate::error::{LearnError, Result};

/// Marks a leaf in [`Node::left`].
pub const LEAF: u32 = u32::MAX;

/// One node of a tree. Children are absolute indices into [`TreeEnsemble::nodes`].
///
/// Routing: numeric splits send `x <= threshold` left; categorical splits
/// (`cat_len > 0`) send codes in the bitset left and other known codes right.
/// Missing values (`NaN`) and codes the bitset cannot describe (negative,
/// fractional, beyond the bitset) take the `default_left` direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    #[serde(rename = "l")]
    pub left: u32,
    #[serde(rename = "r")]
    pub right: u32,
    #[serde(rename = "f")]
    pub feature: u32,
    #[serde(rename = "t")]
    pub threshold: f64,
    #[serde(rename = "d")]
    pub default_left: bool,
    /// Start of this node's category bitset in [`TreeEnsemble::cat_bits`].
    #[serde(rename = "cs")]
    pub cat_start: u32,
    /// Number of u32 words in the bitset; 0 for numeric splits and leaves.
    #[serde(rename = "cl")]
    pub cat_len: u32,
    /// Leaf output (raw-score units); 0 for internal nodes.
    #[serde(rename = "v")]
    pub value: f64,
    /// Training rows (or hessian mass) that reached the node: the weights TreeSHAP
    /// uses for its conditional expectations.
    #[serde(rename = "c")]
    pub cover: f64,
}

impl Node {
    /// A leaf with output `value` and `cover`.
    pub fn leaf(value: f64, cover: f64) -> Self {
        Node {
            left: LEAF,
            right: LEAF,
            feature: 0,
            threshold: 0.0,
            default_left: false,
            cat_start: 0,
            cat_len: 0,
            value,
            cover,
        }
    }

    /// A numeric split node.
    pub fn numeric(
        feature: u32,
        threshold: f64,
        default_left: bool,
        left: u32,
        right: u32,
        cover: f64,
    ) -> Self {
        Node {
            left,
            right,
            feature,
            threshold,
            default_left,
            cat_start: 0,
            cat_len: 0,
            value: 0.0,
            cover,
        }
    }

    /// True for leaves.
    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.left == LEAF
    }
}

/// A sum of trees plus a base score: `raw(x) = base_score + Σ_t leaf_t(x)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    pub n_features: usize,
    pub base_score: f64,
    /// Absolute index of each tree's root in `nodes`.
    pub roots: Vec<u32>,
    pub nodes: Vec<Node>,
    pub cat_bits: Vec<u32>,
}

impl TreeEnsemble {
    /// An ensemble with no trees (predicts `base_score`).
    pub fn new(n_features: usize, base_score: f64) -> Self {
        TreeEnsemble {
            n_features,
            base_score,
            roots: Vec::new(),
            nodes: Vec::new(),
            cat_bits: Vec::new(),
        }
    }

    /// Appends a tree given with tree-local child indices (root = local 0) and
    /// tree-local bitset offsets into `cat_bits`.
    pub fn push_tree(&mut self, mut nodes: Vec<Node>, cat_bits: &[u32]) {
        let offset = self.nodes.len() as u32;
        let cat_offset = self.cat_bits.len() as u32;
        for n in &mut nodes {
            if !n.is_leaf() {
                n.left += offset;
                n.right += offset;
                if n.cat_len > 0 {
                    n.cat_start += cat_offset;
                }
            }
        }
        self.roots.push(offset);
        self.nodes.extend(nodes);
        self.cat_bits.extend_from_slice(cat_bits);
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Keeps only the first `n` trees (early stopping).
    pub fn truncate(&mut self, n: usize) {
        if n >= self.roots.len() {
            return;
        }
        let end = self.roots[n] as usize;
        let cat_end = self.nodes[..end]
            .iter()
            .filter(|n| n.cat_len > 0)
            .map(|n| (n.cat_start + n.cat_len) as usize)
            .max()
            .unwrap_or(0);
        self.roots.truncate(n);
        self.nodes.truncate(end);
        self.cat_bits.truncate(cat_end);
    }

    /// Structural checks run after deserialisation, so a corrupt artifact fails
    /// loudly instead of panicking or looping at prediction time.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LearnError::CorruptModel(m));
        let n = self.nodes.len() as u32;
        for (t, &root) in self.roots.iter().enumerate() {
            let end = self.roots.get(t + 1).copied().unwrap_or(n);
            if root >= end {
                return bad(format!("tree {t} is empty"));
            }
            for i in root..end {
                let node = &self.nodes[i as usize];
                if node.cover.is_nan() || node.cover <= 0.0 {
                    return bad(format!("node {i} has non-positive cover"));
                }
                if node.is_leaf() {
                    if !node.value.is_finite() {
                        return bad(format!("leaf {i} has a non-finite value"));
                    }
                    continue;
                }
                // Children must lie after the parent inside the same tree: this rules
                // out cycles, so traversal always terminates.
                for c in [node.left, node.right] {
                    if c <= i || c >= end {
                        return bad(format!("node {i} has child {c} outside its tree"));
                    }
                }
                if node.feature as usize >= self.n_features {
                    return bad(format!(
                        "node {i} splits on unknown feature {}",
                        node.feature
                    ));
                }
                if node.cat_len > 0
                    && (node.cat_start + node.cat_len) as usize > self.cat_bits.len()
                {
                    return bad(format!("node {i} has a category set out of range"));
                }
            }
        }
        Ok(())
    }

    /// Does `x` go to the left child of `node`?
    #[inline(always)]
    fn goes_left(&self, node: &Node, x: f64) -> bool {
        if node.cat_len == 0 {
            if x.is_nan() {
                node.default_left
            } else {
                x <= node.threshold
            }
        } else {
            // Codes the bitset cannot describe are treated as missing.
            let words = node.cat_len as usize;
            if x.is_nan() || x < 0.0 || x.fract() != 0.0 || x >= (words * 32) as f64 {
                return node.default_left;
            }
            let code = x as usize;
            let w = self.cat_bits[node.cat_start as usize + code / 32];
            (w >> (code % 32)) & 1 == 1
        }
    }

    /// The child of internal node `node` (absolute index) that `row` goes to;
    /// exposed so tests and tools can walk trees exactly as prediction does.
    pub fn next_node(&self, node: usize, row: &[f64]) -> usize {
        let n = &self.nodes[node];
        if self.goes_left(n, row[n.feature as usize]) {
            n.left as usize
        } else {
            n.right as usize
        }
    }

    /// The index of the leaf `row` reaches in the tree rooted at `root`.
    #[inline]
    fn leaf_of(&self, root: u32, row: &[f64]) -> usize {
        self.leaf_of_by(root, |f| row[f])
    }

    /// Like `leaf_of`, reading feature values through `value` (e.g. from columns).
    #[inline(always)]
    fn leaf_of_by(&self, root: u32, value: impl Fn(usize) -> f64) -> usize {
        let mut i = root as usize;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return i;
            }
            i = if self.goes_left(n, value(n.feature as usize)) {
                n.left as usize
            } else {
                n.right as usize
            };
        }
    }

    /// Output of tree `t` for row `i` of a column-oriented feature set (used in
    /// training to score held-out rows without building row copies).
    pub(crate) fn tree_value_at(&self, t: usize, x: &Features, i: usize) -> f64 {
        let leaf = self.leaf_of_by(self.roots[t], |f| x.columns[f].value_f64(i));
        self.nodes[leaf].value
    }

    /// Raw score of one row (`row.len()` must be `n_features`).
    pub fn predict_raw(&self, row: &[f64]) -> f64 {
        let mut s = self.base_score;
        for &r in &self.roots {
            s += self.nodes[self.leaf_of(r, row)].value;
        }
        s
    }

    /// Raw scores of all rows, in parallel over row blocks. Each row's sum runs over
    /// the trees in order, exactly as in [`TreeEnsemble::predict_raw`], so batch and
    /// single-row results are bitwise equal.
    pub fn predict_raw_batch(&self, features: &Features) -> Vec<f64> {
        const BLOCK: usize = 512;
        let n = features.n_rows;
        let f = features.n_features();
        let mut out = vec![self.base_score; n];
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(b, chunk)| {
                let start = b * BLOCK;
                // Row-major copy of the block: tree traversal reads a row's values
                // from one cache line instead of `f` columns far apart.
                let mut buf = vec![0.0; chunk.len() * f];
                for (j, col) in features.columns.iter().enumerate() {
                    for k in 0..chunk.len() {
                        buf[k * f + j] = col.value_f64(start + k);
                    }
                }
                // Tree-outer loop keeps one tree hot in cache for the whole block.
                for &root in &self.roots {
                    for (k, o) in chunk.iter_mut().enumerate() {
                        let row = &buf[k * f..(k + 1) * f];
                        *o += self.nodes[self.leaf_of(root, row)].value;
                    }
                }
            });
        out
    }

    /// Cover-weighted mean output of the subtree at `i` (the path-dependent
    /// expectation TreeSHAP's base value is defined by).
    fn subtree_expectation(&self, i: usize) -> f64 {
        let n = &self.nodes[i];
        if n.is_leaf() {
            return n.value;
        }
        let (l, r) = (&self.nodes[n.left as usize], &self.nodes[n.right as usize]);
        (l.cover * self.subtree_expectation(n.left as usize)
            + r.cover * self.subtree_expectation(n.right as usize))
            / (l.cover + r.cover)
    }

    /// The SHAP base value: `base_score` plus each tree's cover-weighted mean output.
    pub fn expected_value(&self) -> f64 {
        self.base_score
            + self
                .roots
                .iter()
                .map(|&r| self.subtree_expectation(r as usize))
                .sum::<f64>()
    }

    fn max_depth(&self) -> usize {
        fn depth(e: &TreeEnsemble, i: usize) -> usize {
            let n = &e.nodes[i];
            if n.is_leaf() {
                0
            } else {
                1 + depth(e, n.left as usize).max(depth(e, n.right as usize))
            }
        }
        self.roots
            .iter()
            .map(|&r| depth(self, r as usize))
            .max()
            .unwrap_or(0)
    }

    /// Exact path-dependent TreeSHAP values of one row: `n_features` contributions
    /// whose sum plus [`TreeEnsemble::expected_value`] equals the raw score.
    pub fn shap_values(&self, row: &[f64]) -> Vec<f64> {
        self.shap_values_and_expected_value(row).0
    }

    /// [`TreeEnsemble::shap_values`] and [`TreeEnsemble::expected_value`] (bitwise the
    /// same numbers) from one walk of the trees: TreeSHAP visits every node anyway, and
    /// each call returns its subtree's expectation. The path storage grows as deep as
    /// the trees go, so no walk is needed to measure their depth first.
    pub fn shap_values_and_expected_value(&self, row: &[f64]) -> (Vec<f64>, f64) {
        let mut phi = vec![0.0; self.n_features];
        let mut path = Vec::with_capacity(64);
        let per_tree = self
            .roots
            .iter()
            .map(|&root| {
                self.tree_shap(row, &mut phi, &mut path, root as usize, 0, 0, 1.0, 1.0, -1)
            })
            .sum::<f64>();
        (phi, self.base_score + per_tree)
    }

    fn shap_into(&self, row: &[f64], phi: &mut [f64], ws: &mut ShapWorkspace) {
        for &root in &self.roots {
            self.tree_shap(row, phi, &mut ws.path, root as usize, 0, 0, 1.0, 1.0, -1);
        }
    }

    /// TreeSHAP for many rows in parallel: row-major `n_rows x (n_features + 1)`,
    /// the last column holding the expected value (LightGBM's `pred_contrib` layout).
    pub fn shap_values_batch(&self, features: &Features) -> Vec<f64> {
        let f = self.n_features;
        let width = f + 1;
        let ev = self.expected_value();
        let depth = self.max_depth();
        let mut out = vec![0.0; features.n_rows * width];
        out.par_chunks_mut(width * 64)
            .enumerate()
            .for_each(|(b, chunk)| {
                let mut ws = ShapWorkspace::new(depth);
                let mut row = Vec::with_capacity(f);
                for (k, o) in chunk.chunks_mut(width).enumerate() {
                    features.row_into(b * 64 + k, &mut row);
                    self.shap_into(&row, &mut o[..f], &mut ws);
                    o[f] = ev;
                }
            });
        out
    }

    /// Algorithm 2 of Lundberg, Erion & Lee (2018), in the shape of the reference
    /// implementation shared by the `shap` package and LightGBM. `path` holds the
    /// stack of unique paths; this call's path starts at `start`. Returns the
    /// cover-weighted mean output of the subtree at `node`, computed exactly as
    /// `subtree_expectation` does.
    #[allow(clippy::too_many_arguments)]
    fn tree_shap(
        &self,
        row: &[f64],
        phi: &mut [f64],
        path: &mut Vec<PathElement>,
        node: usize,
        start: usize,
        mut unique_depth: usize,
        parent_zero: f64,
        parent_one: f64,
        parent_feature: i64,
    ) -> f64 {
        // This call's path lives right after the parent's live elements.
        let here = start + unique_depth;
        if path.len() < here + unique_depth + 1 {
            path.resize(here + unique_depth + 1, PathElement::default());
        }
        if unique_depth > 0 {
            path.copy_within(start..start + unique_depth, here);
        }
        let p = &mut path[here..here + unique_depth + 1];
        extend_path(p, unique_depth, parent_zero, parent_one, parent_feature);

        let n = &self.nodes[node];
        if n.is_leaf() {
            for i in 1..=unique_depth {
                let w = unwound_path_sum(p, unique_depth, i);
                let el = &p[i];
                phi[el.feature as usize] += w * (el.one - el.zero) * n.value;
            }
            return n.value;
        }
        let hot = if self.goes_left(n, row[n.feature as usize]) {
            n.left
        } else {
            n.right
        } as usize;
        let cold = if hot == n.left as usize {
            n.right
        } else {
            n.left
        } as usize;
        let w = self.nodes[hot].cover + self.nodes[cold].cover;
        let hot_zero = self.nodes[hot].cover / w;
        let cold_zero = self.nodes[cold].cover / w;
        let mut incoming_zero = 1.0;
        let mut incoming_one = 1.0;
        let feature = n.feature as i64;
        // A feature already on the path is unwound and re-added here, so each
        // feature appears once (the "unique" path).
        if let Some(k) = (0..=unique_depth).find(|&k| p[k].feature == feature) {
            incoming_zero = p[k].zero;
            incoming_one = p[k].one;
            unwind_path(p, unique_depth, k);
            unique_depth -= 1;
        }
        let hot_e = self.tree_shap(
            row,
            phi,
            path,
            hot,
            here,
            unique_depth + 1,
            hot_zero * incoming_zero,
            incoming_one,
            feature,
        );
        let cold_e = self.tree_shap(
            row,
            phi,
            path,
            cold,
            here,
            unique_depth + 1,
            cold_zero * incoming_zero,
            0.0,
            feature,
        );
        let (l, r) = (&self.nodes[n.left as usize], &self.nodes[n.right as usize]);
        let (left_e, right_e) = if hot == n.left as usize {
            (hot_e, cold_e)
        } else {
            (cold_e, hot_e)
        };
        (l.cover * left_e + r.cover * right_e) / (l.cover + r.cover)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    feature: i64,
    zero: f64,
    one: f64,
    pweight: f64,
}

/// Reusable path storage so batch explanation allocates once per thread.
struct ShapWorkspace {
    path: Vec<PathElement>,
}

impl ShapWorkspace {
    fn new(max_depth: usize) -> Self {
        let d = max_depth + 2;
        ShapWorkspace {
            path: vec![PathElement::default(); d * (d + 1) / 2 + d],
        }
    }
}

// The three path operations below follow the reference code step by step, with
// divisions by loop constants turned into multiplications by reciprocals: the
// `unwound_path_sum` loop is a dependency chain, and a division there costs
// several times a multiplication.

fn extend_path(p: &mut [PathElement], d: usize, zero: f64, one: f64, feature: i64) {
    p[d] = PathElement {
        feature,
        zero,
        one,
        pweight: if d == 0 { 1.0 } else { 0.0 },
    };
    let inv = 1.0 / (d + 1) as f64;
    for i in (0..d).rev() {
        p[i + 1].pweight += one * p[i].pweight * (i + 1) as f64 * inv;
        p[i].pweight = zero * p[i].pweight * (d - i) as f64 * inv;
    }
}

fn unwind_path(p: &mut [PathElement], d: usize, k: usize) {
    let one = p[k].one;
    let zero = p[k].zero;
    let mut next_one = p[d].pweight;
    let dp1 = (d + 1) as f64;
    let inv_dp1 = 1.0 / dp1;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for i in (0..d).rev() {
            let tmp = p[i].pweight;
            p[i].pweight = next_one * dp1 * inv_one / (i + 1) as f64;
            next_one = tmp - p[i].pweight * zero * (d - i) as f64 * inv_dp1;
        }
    } else {
        let inv_zero = 1.0 / zero;
        for i in (0..d).rev() {
            p[i].pweight = p[i].pweight * dp1 * inv_zero / (d - i) as f64;
        }
    }
    for i in k..d {
        p[i].feature = p[i + 1].feature;
        p[i].zero = p[i + 1].zero;
        p[i].one = p[i + 1].one;
    }
}

/// 1/k for small k, so the hot loop multiplies instead of dividing.
const RECIP: [f64; 65] = {
    let mut t = [0.0; 65];
    let mut k = 1;
    while k < 65 {
        t[k] = 1.0 / k as f64;
        k += 1;
    }
    t
};

#[inline]
fn recip(k: usize) -> f64 {
    if k < RECIP.len() {
        RECIP[k]
    } else {
        1.0 / k as f64
    }
}

fn unwound_path_sum(p: &[PathElement], d: usize, k: usize) -> f64 {
    let one = p[k].one;
    let zero = p[k].zero;
    let mut next_one = p[d].pweight;
    let mut total = 0.0;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for i in (0..d).rev() {
            let tmp = next_one * inv_one * recip(i + 1);
            total += tmp;
            next_one = p[i].pweight - tmp * zero * (d - i) as f64;
        }
    } else {
        let inv_zero = 1.0 / zero;
        for i in (0..d).rev() {
            total += p[i].pweight * inv_zero * recip(d - i);
        }
    }
    total * (d + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 <= 0.5 ? (x1 <= 1 ? 1 : 2) : 3, with covers 10 = 6 + 4, 6 = 2 + 4.
    fn small() -> TreeEnsemble {
        let mut e = TreeEnsemble::new(2, 0.5);
        e.push_tree(
            vec![
                Node::numeric(0, 0.5, true, 1, 4, 10.0),
                Node::numeric(1, 1.0, false, 2, 3, 6.0),
                Node::leaf(1.0, 2.0),
                Node::leaf(2.0, 4.0),
                Node::leaf(3.0, 4.0),
            ],
            &[],
        );
        e
    }

    #[test]
    fn predicts_and_routes_missing() {
        let e = small();
        e.validate().unwrap();
        assert_eq!(e.predict_raw(&[0.0, 0.0]), 1.5);
        assert_eq!(e.predict_raw(&[0.0, 5.0]), 2.5);
        assert_eq!(e.predict_raw(&[1.0, 0.0]), 3.5);
        // NaN in x0 goes left (default_left), NaN in x1 goes right.
        assert_eq!(e.predict_raw(&[f64::NAN, f64::NAN]), 2.5);
    }

    #[test]
    fn shap_sums_to_prediction() {
        let e = small();
        // E = (2*1 + 4*2 + 4*3) / 10 = 2.2, plus base 0.5.
        assert!((e.expected_value() - 2.7).abs() < 1e-12);
        for row in [[0.0, 0.0], [0.0, 5.0], [1.0, 0.0], [f64::NAN, 3.0]] {
            let phi = e.shap_values(&row);
            let s: f64 = phi.iter().sum::<f64>() + e.expected_value();
            assert!((s - e.predict_raw(&row)).abs() < 1e-12);
        }
    }

    #[test]
    fn one_walk_gives_the_same_bits_as_two() {
        let mut e = small();
        e.push_tree(
            vec![
                Node::numeric(1, 0.3, false, 1, 2, 10.0),
                Node::leaf(-0.7, 3.0),
                Node::numeric(0, 2.0, true, 3, 4, 7.0),
                Node::leaf(0.1, 5.0),
                Node::leaf(1.3, 2.0),
            ],
            &[],
        );
        for row in [[0.0, 0.0], [0.0, 5.0], [3.0, 0.1], [f64::NAN, f64::NAN]] {
            let (phi, ev) = e.shap_values_and_expected_value(&row);
            assert_eq!(ev.to_bits(), e.expected_value().to_bits());
            let mut two = vec![0.0; 2];
            e.shap_into(&row, &mut two, &mut ShapWorkspace::new(e.max_depth()));
            assert_eq!(phi, two);
        }
    }

    #[test]
    fn categorical_bitset_routing() {
        let mut e = TreeEnsemble::new(1, 0.0);
        let mut root = Node::numeric(0, 0.0, false, 1, 2, 3.0);
        root.cat_start = 0;
        root.cat_len = 1;
        e.push_tree(
            vec![root, Node::leaf(-1.0, 1.0), Node::leaf(1.0, 2.0)],
            &[0b101],
        );
        assert_eq!(e.predict_raw(&[0.0]), -1.0);
        assert_eq!(e.predict_raw(&[1.0]), 1.0);
        assert_eq!(e.predict_raw(&[2.0]), -1.0);
        assert_eq!(e.predict_raw(&[f64::NAN]), 1.0);
        assert_eq!(e.predict_raw(&[99.0]), 1.0);
    }

    #[test]
    fn validate_rejects_cycles() {
        let mut e = small();
        e.nodes[1].left = 0;
        assert!(e.validate().is_err());
    }
}
