//! Linear baselines: ridge regression (closed form) and L2 logistic regression
//! (Newton with line search), with standardisation and one-hot encoding inside
//! the model and exact additive explanations.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{check_target, ColumnValues, Features, Schema, Task, MISSING_CODE};
use crate::error::{LearnError, Result};
use crate::explain::Explanation;

/// Unchecked linear-model parameters; [`LinearParams::check`] validates them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinearParams {
    /// L2 penalty on the weights in standardised space (`λ/2 · ||w||²` added to the
    /// summed loss; the intercept is not penalised). `1.0` equals sklearn's `C = 1`.
    pub l2: f64,
    /// Add a 0/1 "was missing" column for numeric features with missing values.
    pub missing_indicator: bool,
    /// Newton iterations for logistic regression.
    pub max_iter: usize,
    /// Stop when the largest gradient entry, divided by the row count, is below this.
    pub tol: f64,
}

impl Default for LinearParams {
    fn default() -> Self {
        LinearParams {
            l2: 1.0,
            missing_indicator: true,
            max_iter: 100,
            tol: 1e-10,
        }
    }
}

/// Validated linear-model parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearConfig {
    params: LinearParams,
}

impl LinearConfig {
    /// The validated parameters.
    pub fn params(&self) -> &LinearParams {
        &self.params
    }
}

impl LinearParams {
    /// Validates every parameter, naming the first bad one.
    pub fn check(self) -> Result<LinearConfig> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(LearnError::invalid_param("l2", self.l2, "a number >= 0"));
        }
        if self.max_iter == 0 {
            return Err(LearnError::invalid_param("max_iter", 0, "an integer >= 1"));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(LearnError::invalid_param("tol", self.tol, "a number > 0"));
        }
        Ok(LinearConfig { params: self })
    }
}

/// What one design-matrix column encodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum DesignKind {
    /// The numeric value; missing is imputed with the training mean.
    Value,
    /// 1 when the numeric value is missing.
    MissingIndicator,
    /// 1 when the category code equals `code`.
    Level { code: u32 },
    /// 1 when the category is missing.
    MissingLevel,
}

/// One column of the internal design matrix: `z = (raw - center) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignColumn {
    pub feature: usize,
    pub kind: DesignKind,
    pub center: f64,
    pub scale: f64,
}

impl DesignColumn {
    #[inline]
    fn encode(&self, x: f64) -> f64 {
        let raw = match self.kind {
            DesignKind::Value => {
                if x.is_nan() {
                    return 0.0; // mean imputation = the centre in standardised space
                }
                x
            }
            DesignKind::MissingIndicator | DesignKind::MissingLevel => {
                f64::from(u8::from(x.is_nan()))
            }
            DesignKind::Level { code } => f64::from(u8::from(x == code as f64)),
        };
        (raw - self.center) / self.scale
    }
}

/// A fitted linear or logistic model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    pub schema: Schema,
    pub task: Task,
    pub params: LinearParams,
    pub columns: Vec<DesignColumn>,
    pub weights: Vec<f64>,
    /// Raw score at the training mean of every design column; the explanation's
    /// expected value.
    pub intercept: f64,
}

fn build_design(x: &Features, missing_indicator: bool) -> Vec<DesignColumn> {
    let n = x.n_rows as f64;
    let mut cols = Vec::new();
    for (fi, c) in x.columns.iter().enumerate() {
        match &c.values {
            ColumnValues::Numeric(v) => {
                let present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                let m = present.len() as f64;
                let mean = if m > 0.0 {
                    present.iter().sum::<f64>() / m
                } else {
                    0.0
                };
                let var = if m > 0.0 {
                    present.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / m
                } else {
                    0.0
                };
                let sd = var.sqrt();
                cols.push(DesignColumn {
                    feature: fi,
                    kind: DesignKind::Value,
                    center: mean,
                    scale: if sd > 1e-12 * mean.abs().max(1.0) {
                        sd
                    } else {
                        1.0
                    },
                });
                let n_missing = v.len() - present.len();
                if missing_indicator && n_missing > 0 {
                    cols.push(DesignColumn {
                        feature: fi,
                        kind: DesignKind::MissingIndicator,
                        center: n_missing as f64 / n,
                        scale: 1.0,
                    });
                }
            }
            ColumnValues::Categorical { codes, n_levels } => {
                let mut counts = vec![0usize; *n_levels as usize];
                let mut missing = 0usize;
                for &k in codes {
                    if k == MISSING_CODE {
                        missing += 1;
                    } else {
                        counts[k as usize] += 1;
                    }
                }
                for (code, &cnt) in counts.iter().enumerate() {
                    if cnt > 0 {
                        cols.push(DesignColumn {
                            feature: fi,
                            kind: DesignKind::Level { code: code as u32 },
                            center: cnt as f64 / n,
                            scale: 1.0,
                        });
                    }
                }
                if missing > 0 {
                    cols.push(DesignColumn {
                        feature: fi,
                        kind: DesignKind::MissingLevel,
                        center: missing as f64 / n,
                        scale: 1.0,
                    });
                }
            }
        }
    }
    cols
}

/// Rows per accumulation chunk: fixed by `n` only, so sums never depend on the
/// number of threads.
fn chunk_rows(n: usize) -> usize {
    n.div_ceil(64).max(2048)
}

/// Encodes rows `start..start+len` into `out` (row-major, `d + 1` wide with a
/// trailing 1 for the intercept).
fn encode_rows(x: &Features, cols: &[DesignColumn], start: usize, len: usize, out: &mut Vec<f64>) {
    let d1 = cols.len() + 1;
    out.clear();
    out.resize(len * d1, 0.0);
    for (j, dc) in cols.iter().enumerate() {
        let col = &x.columns[dc.feature];
        for k in 0..len {
            out[k * d1 + j] = dc.encode(col.value_f64(start + k));
        }
    }
    for k in 0..len {
        out[k * d1 + d1 - 1] = 1.0;
    }
}

/// Accumulates `Σ w_i a_i a_iᵀ` (lower triangle) and `Σ r_i a_i` over all rows,
/// where `(w_i, r_i) = f(i, a_i · beta)`, and the summed loss.
fn accumulate(
    x: &Features,
    cols: &[DesignColumn],
    beta: &[f64],
    f: &(dyn Fn(usize, f64) -> (f64, f64, f64) + Sync),
) -> (Vec<f64>, Vec<f64>, f64) {
    let n = x.n_rows;
    let d1 = cols.len() + 1;
    let cr = chunk_rows(n);
    let parts: Vec<(Vec<f64>, Vec<f64>, f64)> = (0..n.div_ceil(cr))
        .into_par_iter()
        .map(|c| {
            let start = c * cr;
            let len = cr.min(n - start);
            let mut a = Vec::new();
            encode_rows(x, cols, start, len, &mut a);
            let mut h = vec![0.0; d1 * d1];
            let mut g = vec![0.0; d1];
            let mut loss = 0.0;
            for k in 0..len {
                let row = &a[k * d1..(k + 1) * d1];
                let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
                let (w, r, l) = f(start + k, eta);
                loss += l;
                for i in 0..d1 {
                    let wi = w * row[i];
                    g[i] += r * row[i];
                    if wi != 0.0 {
                        let hr = &mut h[i * d1..i * d1 + i + 1];
                        for (hij, &aj) in hr.iter_mut().zip(&row[..=i]) {
                            *hij += wi * aj;
                        }
                    }
                }
            }
            (h, g, loss)
        })
        .collect();
    let mut h = vec![0.0; d1 * d1];
    let mut g = vec![0.0; d1];
    let mut loss = 0.0;
    for (ph, pg, pl) in parts {
        h.iter_mut().zip(&ph).for_each(|(a, b)| *a += b);
        g.iter_mut().zip(&pg).for_each(|(a, b)| *a += b);
        loss += pl;
    }
    (h, g, loss)
}

/// Solves `A x = b` for symmetric positive definite `A` given by its lower
/// triangle (row-major `d x d`), by Cholesky.
fn cholesky_solve(a: &[f64], b: &[f64], d: usize) -> Result<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return Err(LearnError::Numerical(
                        "system is not positive definite; increase l2".into(),
                    ));
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    let mut y = vec![0.0; d];
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * d + k] * y[k];
        }
        y[i] = s / l[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        let mut s = y[i];
        for k in i + 1..d {
            s -= l[k * d + i] * x[k];
        }
        x[i] = s / l[i * d + i];
    }
    Ok(x)
}

fn log1pexp(m: f64) -> f64 {
    if m > 0.0 {
        m + (-m).exp().ln_1p()
    } else {
        m.exp().ln_1p()
    }
}

impl LinearModel {
    /// Fits ridge regression (task = regression) or L2 logistic regression.
    pub fn fit(config: &LinearConfig, task: Task, x: &Features, y: &[f64]) -> Result<LinearModel> {
        x.validate()?;
        check_target(task, y, x.n_rows)?;
        if x.n_features() == 0 {
            return Err(LearnError::EmptyData("no feature columns".into()));
        }
        let p = config.params();
        let cols = build_design(x, p.missing_indicator);
        let d = cols.len();
        let d1 = d + 1;
        // Penalise weights, not the intercept; a whisper of ridge on the
        // intercept keeps the system definite when l2 = 0 and a column is constant.
        let penalty = |i: usize| if i < d { p.l2.max(1e-10) } else { 1e-10 };
        let mut beta = vec![0.0; d1];
        match task {
            Task::Regression => {
                let (mut h, g, _) = accumulate(x, &cols, &beta, &|i, _| (1.0, y[i], 0.0));
                for i in 0..d1 {
                    h[i * d1 + i] += penalty(i);
                }
                beta = cholesky_solve(&h, &g, d1)?;
            }
            Task::BinaryClassification => {
                let mean = y.iter().sum::<f64>() / y.len() as f64;
                beta[d] = (mean / (1.0 - mean)).ln();
                let objective = |beta: &[f64]| -> f64 {
                    let (_, _, loss) = accumulate(x, &cols, beta, &|i, eta| {
                        let m = if y[i] > 0.5 { -eta } else { eta };
                        (0.0, 0.0, log1pexp(m))
                    });
                    loss + 0.5 * (0..d).map(|i| p.l2 * beta[i] * beta[i]).sum::<f64>()
                };
                let mut obj = objective(&beta);
                for _ in 0..p.max_iter {
                    let (mut h, mut g, _) = accumulate(x, &cols, &beta, &|i, eta| {
                        let pr = 1.0 / (1.0 + (-eta).exp());
                        (pr * (1.0 - pr), pr - y[i], 0.0)
                    });
                    for i in 0..d1 {
                        h[i * d1 + i] += penalty(i);
                        if i < d {
                            g[i] += p.l2 * beta[i];
                        }
                    }
                    let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    if gmax / (x.n_rows as f64) < p.tol {
                        break;
                    }
                    let step = cholesky_solve(&h, &g, d1)?;
                    // Newton step with backtracking: the objective must go down.
                    let mut t = 1.0;
                    let mut improved = false;
                    for _ in 0..40 {
                        let cand: Vec<f64> =
                            beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
                        let o = objective(&cand);
                        if o <= obj {
                            let rel = (obj - o) / obj.abs().max(1e-300);
                            beta = cand;
                            obj = o;
                            improved = rel > 1e-15;
                            break;
                        }
                        t *= 0.5;
                    }
                    if !improved {
                        break;
                    }
                }
            }
        }
        if beta.iter().any(|b| !b.is_finite()) {
            return Err(LearnError::Numerical(
                "solver produced non-finite weights".into(),
            ));
        }
        let intercept = beta[d];
        beta.truncate(d);
        Ok(LinearModel {
            schema: x.schema(),
            task,
            params: p.clone(),
            columns: cols,
            weights: beta,
            intercept,
        })
    }

    /// Raw score (log-odds for classification) of one row.
    pub fn predict_raw(&self, row: &[f64]) -> Result<f64> {
        self.schema.check_row(row)?;
        Ok(self.raw_unchecked(row))
    }

    fn raw_unchecked(&self, row: &[f64]) -> f64 {
        let mut s = self.intercept;
        for (c, w) in self.columns.iter().zip(&self.weights) {
            s += w * c.encode(row[c.feature]);
        }
        s
    }

    /// Raw scores of all rows (parallel).
    pub fn predict_raw_batch(&self, x: &Features) -> Result<Vec<f64>> {
        crate::gbdt::check_features(&self.schema, x)?;
        Ok((0..x.n_rows)
            .into_par_iter()
            .map_init(Vec::new, |buf, i| {
                x.row_into(i, buf);
                self.raw_unchecked(buf)
            })
            .collect())
    }

    /// Exact explanation: each design column contributes `w_j · z_j` (its weight
    /// times its standardised, centred value); one-hot and missing-indicator
    /// columns are summed back to their feature. The expected value is the raw
    /// score at the training means.
    pub fn explain(&self, row: &[f64]) -> Result<Explanation> {
        self.schema.check_row(row)?;
        let mut contributions = vec![0.0; self.schema.len()];
        let mut raw = self.intercept;
        for (c, w) in self.columns.iter().zip(&self.weights) {
            let v = w * c.encode(row[c.feature]);
            contributions[c.feature] += v;
            raw += v;
        }
        Ok(Explanation {
            expected_value: self.intercept,
            contributions,
            raw_score: raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::FeatureColumn;
    use crate::rng::SplitMix64;

    #[test]
    fn ridge_without_penalty_recovers_exact_line() {
        let xs: Vec<f64> = (0..50).map(|i| i as f64 / 5.0).collect();
        let y: Vec<f64> = xs.iter().map(|x| 3.0 * x - 2.0).collect();
        let x = Features::new(vec![FeatureColumn::numeric("x", xs)]).unwrap();
        let cfg = LinearParams {
            l2: 0.0,
            ..Default::default()
        }
        .check()
        .unwrap();
        let m = LinearModel::fit(&cfg, Task::Regression, &x, &y).unwrap();
        assert!((m.predict_raw(&[4.0]).unwrap() - 10.0).abs() < 1e-6);
    }

    #[test]
    fn logistic_learns_direction_and_explains_exactly() {
        let mut rng = SplitMix64::new(3);
        let n = 500;
        let a: Vec<f64> = (0..n).map(|_| rng.next_f64() * 4.0 - 2.0).collect();
        let c: Vec<u32> = (0..n).map(|_| rng.below(3) as u32).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let eta = 2.0 * a[i] + if c[i] == 2 { 1.5 } else { 0.0 };
                f64::from(u8::from(rng.next_f64() < 1.0 / (1.0 + (-eta).exp())))
            })
            .collect();
        let mut a_missing = a.clone();
        a_missing[0] = f64::NAN;
        let x = Features::new(vec![
            FeatureColumn::numeric("a", a_missing),
            FeatureColumn::categorical("c", c, 4),
        ])
        .unwrap();
        let cfg = LinearParams::default().check().unwrap();
        let m = LinearModel::fit(&cfg, Task::BinaryClassification, &x, &y).unwrap();
        assert!(m.predict_raw(&[1.0, 0.0]).unwrap() > m.predict_raw(&[-1.0, 0.0]).unwrap());
        assert!(m.predict_raw(&[0.0, 2.0]).unwrap() > m.predict_raw(&[0.0, 0.0]).unwrap());
        // Unseen level 3 and missing values are accepted.
        for row in [[0.5, 1.0], [f64::NAN, 3.0], [2.0, f64::NAN]] {
            let e = m.explain(&row).unwrap();
            let s = e.expected_value + e.contributions.iter().sum::<f64>();
            assert!((s - m.predict_raw(&row).unwrap()).abs() < 1e-9);
        }
    }

    #[test]
    fn rejects_bad_params() {
        assert!(matches!(
            LinearParams {
                l2: -1.0,
                ..Default::default()
            }
            .check(),
            Err(LearnError::InvalidParameter { name: "l2", .. })
        ));
        assert!(LinearParams {
            max_iter: 0,
            ..Default::default()
        }
        .check()
        .is_err());
    }
}
