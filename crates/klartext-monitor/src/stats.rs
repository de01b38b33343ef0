//! Two-sample drift statistics, equal to scipy's on the same inputs.
//!
//! Every function mirrors the scipy routine named in its doc comment, including the
//! branch structure of scipy's p-value algorithms, so that a drift report computed here
//! gives the same numbers a data scientist gets in a notebook. Inputs must be NaN-free:
//! callers drop missing values first (NaN has no place in an empirical distribution);
//! a NaN is reported as [`MonitorError::InvalidInput`], never a panic.

use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// Result of the two-sample Kolmogorov-Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KsResult {
    /// Largest absolute difference between the two empirical CDFs.
    pub statistic: f64,
    /// Two-sided p-value (exact for samples up to 10,000, asymptotic above).
    pub pvalue: f64,
}

/// Result of a chi-squared test (goodness of fit or contingency table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiResult {
    /// Pearson's chi-squared statistic.
    pub statistic: f64,
    /// Upper-tail probability of the statistic under chi2(dof).
    pub pvalue: f64,
    /// Degrees of freedom.
    pub dof: usize,
}

// ---------------------------------------------------------------------------
// Sorting and input checks
// ---------------------------------------------------------------------------

/// Sorts f64 values ascending by IEEE total order (-0.0 before 0.0, which compare equal
/// everywhere below): a least-significant-digit radix sort on the order-preserving bit
/// pattern, several times faster than a comparison sort on the
/// million-row windows monitoring sorts.
pub fn sort_f64(v: &mut [f64]) {
    if v.len() < 2048 {
        v.sort_unstable_by(f64::total_cmp);
        return;
    }
    let key = |x: f64| {
        let b = x.to_bits();
        if b >> 63 == 1 {
            !b
        } else {
            b | (1 << 63)
        }
    };
    let mut a: Vec<u64> = v.iter().map(|&x| key(x)).collect();
    let mut b = vec![0u64; a.len()];
    for pass in 0..4 {
        let shift = pass * 16;
        let mut counts = vec![0usize; 1 << 16];
        for &x in &a {
            counts[((x >> shift) & 0xFFFF) as usize] += 1;
        }
        // Skip a pass in which every key has the same digit.
        if counts.contains(&a.len()) {
            continue;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let t = *c;
            *c = sum;
            sum += t;
        }
        for &x in &a {
            let d = ((x >> shift) & 0xFFFF) as usize;
            b[counts[d]] = x;
            counts[d] += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    for (o, k) in v.iter_mut().zip(a) {
        let bits = if k >> 63 == 1 { k & !(1 << 63) } else { !k };
        *o = f64::from_bits(bits);
    }
}

fn check_sample(name: &str, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(MonitorError::EmptyData(format!("{name} is empty")));
    }
    if values.iter().any(|v| v.is_nan()) {
        return Err(MonitorError::InvalidInput(format!(
            "{name} contains NaN; drop missing values before comparing"
        )));
    }
    Ok(())
}

fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    sort_f64(&mut v);
    v
}

/// Multiplies by 2^e in steps, so huge or tiny exponents neither overflow nor
/// flush the scale factor itself to zero (Rust has no `ldexp`).
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

// ---------------------------------------------------------------------------
// Gamma function family
// ---------------------------------------------------------------------------

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Stirling-series remainder S(x) = lnΓ(x) - [(x-0.5)ln x - x + ln√(2π)], x >= 10,
/// where the truncation error is below 1e-19.
fn stirling_remainder(x: f64) -> f64 {
    let r = 1.0 / x;
    let r2 = r * r;
    r * (1.0 / 12.0
        + r2 * (-1.0 / 360.0
            + r2 * (1.0 / 1260.0
                + r2 * (-1.0 / 1680.0
                    + r2 * (1.0 / 1188.0 + r2 * (-691.0 / 360_360.0 + r2 * (1.0 / 156.0)))))))
}

/// Natural log of the gamma function for x > 0 (NaN otherwise). Shifts small
/// arguments up to 10 and uses the Stirling series there; about 1e-15 absolute.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let mut z = x;
    let mut prod = 1.0;
    while z < 10.0 {
        prod *= z;
        z += 1.0;
    }
    (z - 0.5) * z.ln() - z + LN_SQRT_2PI + stirling_remainder(z) - prod.ln()
}

/// ln(1+t) - t without cancellation for small |t|.
fn log1pmx(t: f64) -> f64 {
    if t.abs() < 0.5 {
        // Alternating series -t²/2 + t³/3 - ...; converges to full precision in < 60 terms.
        let mut sum = 0.0;
        let mut pow = t;
        for k in 2..200 {
            pow *= -t;
            let term = pow / k as f64;
            sum += term;
            if term.abs() <= f64::EPSILON * 1e-3 * sum.abs() {
                break;
            }
        }
        sum
    } else {
        t.ln_1p() - t
    }
}

/// ln(x^a e^-x / Γ(a)), the prefactor of both incomplete gamma expansions. For large
/// a the Stirling form avoids the cancellation in a·ln x - x - lnΓ(a).
fn ln_gamma_prefactor(a: f64, x: f64) -> f64 {
    if a >= 10.0 {
        // = a[ln(x/a) - (x-a)/a] + 0.5 ln(a/2π) - S(a), with lnΓ(a) in Stirling form.
        a * log1pmx((x - a) / a) + 0.5 * (a / (2.0 * std::f64::consts::PI)).ln()
            - stirling_remainder(a)
    } else {
        a * x.ln() - x - ln_gamma(a)
    }
}

/// Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), a > 0, x >= 0:
/// power series for x < a+1 (Q = 1 - P), Lentz continued fraction otherwise.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || x.is_nan() || a <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let ln_pre = ln_gamma_prefactor(a, x);
    if x < a + 1.0 {
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..100_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * f64::EPSILON * 0.5 {
                break;
            }
        }
        1.0 - sum * ln_pre.exp()
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..100_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < f64::EPSILON * 0.5 {
                break;
            }
        }
        (ln_pre.exp() * h).clamp(0.0, 1.0)
    }
}

/// Survival function of the chi-squared distribution, `scipy.stats.chi2.sf(x, dof)`:
/// 1 for x <= 0, NaN for dof <= 0.
pub fn chi2_sf(x: f64, dof: f64) -> f64 {
    if dof.is_nan() || x.is_nan() || dof <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(dof / 2.0, x / 2.0)
}

// ---------------------------------------------------------------------------
// Kolmogorov-Smirnov
// ---------------------------------------------------------------------------

/// `scipy.stats.ks_2samp(a, b)` with the defaults (two-sided, method='auto'): exact
/// p-value when both samples have at most 10,000 values, otherwise the asymptotic
/// `kstwo.sf(d, round(n1*n2/(n1+n2)))`. Inputs need not be sorted; NaN is rejected.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<KsResult> {
    check_sample("first sample", a)?;
    check_sample("second sample", b)?;
    Ok(ks_2samp_impl(&sorted_copy(a), &sorted_copy(b)))
}

/// [`ks_2samp`] on samples the caller keeps sorted ascending (skips the sort).
pub fn ks_2samp_sorted(a_sorted: &[f64], b_sorted: &[f64]) -> Result<KsResult> {
    check_sample("first sample", a_sorted)?;
    check_sample("second sample", b_sorted)?;
    if !is_sorted(a_sorted) || !is_sorted(b_sorted) {
        return Err(MonitorError::InvalidInput(
            "ks_2samp_sorted needs samples sorted ascending".into(),
        ));
    }
    Ok(ks_2samp_impl(a_sorted, b_sorted))
}

fn is_sorted(v: &[f64]) -> bool {
    v.windows(2).all(|w| w[0] <= w[1])
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn ks_2samp_impl(a: &[f64], b: &[f64]) -> KsResult {
    let (n1, n2) = (a.len(), b.len());
    // scipy evaluates cdf1 - cdf2 at every pooled value via searchsorted(side='right');
    // a merge over tie groups visits the same points with the same divisions.
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max_diff, mut min_diff) = (f64::NEG_INFINITY, f64::INFINITY);
    while i < n1 || j < n2 {
        let x = match (a.get(i), b.get(j)) {
            (Some(&u), Some(&v)) => u.min(v),
            (Some(&u), None) => u,
            (None, Some(&v)) => v,
            (None, None) => break,
        };
        while i < n1 && a[i] == x {
            i += 1;
        }
        while j < n2 && b[j] == x {
            j += 1;
        }
        let diff = i as f64 / n1 as f64 - j as f64 / n2 as f64;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    let min_s = (-min_diff).clamp(0.0, 1.0);
    let max_s = max_diff;
    let mut d = if min_s > max_s { min_s } else { max_s };

    let (n1u, n2u) = (n1 as u64, n2 as u64);
    let g = gcd(n1u, n2u);
    let mut prob = None;
    if n1.max(n2) <= 10_000 {
        let lcm = (n1u / g) * n2u;
        let h = (d * lcm as f64).round_ties_even() as u64;
        d = h as f64 / lcm as f64;
        if h == 0 {
            prob = Some(1.0);
        } else {
            let p = if n1 == n2 {
                prob_outside_square(n1u as i64, h as i64)
            } else {
                outer_prob_inside(n1u as i64, n2u as i64, g as i64, h as i64)
            };
            // scipy falls back to the asymptotic formula on overflow or a value
            // outside [0, 1].
            if p.is_finite() && (0.0..=1.0).contains(&p) {
                prob = Some(p);
            }
        }
    }
    let pvalue = match prob {
        Some(p) => p,
        None => {
            let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
            let en = m * n / (m + n);
            kstwo_sf(d, en.round_ties_even() as u64)
        }
    };
    KsResult {
        statistic: d,
        pvalue: pvalue.clamp(0.0, 1.0),
    }
}

/// scipy `_compute_prob_outside_square`: Pr(D_{n,n} >= h/n), Horner-like to avoid
/// the cancellation of the alternating binomial sum.
fn prob_outside_square(n: i64, h: i64) -> f64 {
    let mut p = 0.0;
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// scipy `_compute_outer_prob_inside_method` (Hodges' inside method with Viehmann's
/// recursion for 1 - p): the share of lattice paths that leave the band |x/m - y/n| < h/lcm.
fn outer_prob_inside(m: i64, n: i64, g: i64, h: i64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let mg = m / g;
    let ng = n / g;
    let mut minj: i64 = 0;
    let mut maxj: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut arr = vec![1.0f64; len_a];
    for v in arr.iter_mut().take(maxj as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        minj = ((((ng * i - h) as f64) / mg as f64).floor() as i64 + 1).max(0);
        minj = minj.min(n);
        maxj = ((((ng * i + h) as f64) / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        let fi = i as f64;
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            val = (arr[(jj + minj - lastminj) as usize] * fi + val * j) / (fi + j);
            arr[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(len_a);
            for v in &mut arr[start..end] {
                *v = 1.0;
            }
        }
    }
    arr[(maxj - minj - 1) as usize]
}

// scipy.stats._ksstats constants.
const E128: i64 = 128;
const EP128: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0; // 2^128, exact
const EM128: f64 = 1.0 / EP128;
const MIN_LOG: f64 = -708.0;
const CEPHES_MINLOG: f64 = -7.451_332_191_019_412e2;

/// Survival function of the two-sided one-sample KS statistic D_n, `scipy.stats.kstwo.sf(x, n)`
/// (scipy `_kolmogn(n, x, cdf=False)`, Simard & L'Ecuyer's choice of algorithm per region).
pub fn kstwo_sf(x: f64, n: u64) -> f64 {
    if x.is_nan() || n == 0 {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben-Gambino: 1/2n <= x <= 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            (1..=n).fold(1.0, |acc, i| {
                acc * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0))
            })
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return (1.0 - prob).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            return (1.0 - kolmogn_dmtw_cdf(n, x)).clamp(0.0, 1.0);
        }
        if nxsquared <= 4.0 {
            return (1.0 - kolmogn_pomeranz_cdf(n, x)).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        kolmogn_dmtw_cdf(n, x)
    } else {
        kolmogn_pelz_good_cdf(n, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    // scipy's literals, kept verbatim so the two agree bit for bit.
    #[allow(clippy::excessive_precision)]
    const COEFFS: [f64; 8] = [
        -2.955065359477124183e-2,
        6.4102564102564102564e-3,
        -1.9175269175269175269e-3,
        8.4175084175084175084e-4,
        -5.952380952380952381e-4,
        7.9365079365079365079e-4,
        -2.7777777777777777778e-3,
        8.3333333333333333333e-2,
    ];
    let rn = 1.0 / n;
    let z = rn / n;
    let poly = COEFFS.iter().fold(0.0, |acc, &c| acc * z + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            let (brow, crow) = (&b[k * m..(k + 1) * m], &mut c[i * m..(i + 1) * m]);
            for (cv, bv) in crow.iter_mut().zip(brow) {
                *cv += aik * bv;
            }
        }
    }
    c
}

/// scipy `_kolmogn_DMTW`: Pr(D_n <= d) by the Durbin matrix (Marsaglia-Tsang-Wang).
fn kolmogn_dmtw_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for (r, wv) in (i - 1..m).zip(w.iter()) {
            hm[r * m + i] = *wv;
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let mut hpwr = vec![0.0; m * m];
    for i in 0..m {
        hpwr[i * m + i] = 1.0;
    }
    let mut nn = n;
    let mut expnt: i64 = 0;
    let mut hexpnt: i64 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            hpwr = matmul(&hpwr, &hm, m);
            expnt += hexpnt;
        }
        hm = matmul(&hm, &hm, m);
        hexpnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > EP128 {
            for x in hm.iter_mut() {
                *x /= EP128;
            }
            hexpnt += E128;
        }
        nn /= 2;
    }
    let mut p = hpwr[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= EP128;
            expnt -= E128;
        }
    }
    if expnt != 0 {
        p = ldexp(p, expnt);
    }
    p.clamp(0.0, 1.0)
}

fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (ip1div2, ip1mod2) = ((i + 1) / 2, (i + 1) % 2);
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// scipy `_kolmogn_Pomeranz`: Pr(D_n <= x) by Pomeranz's recursion (used for n <= 140).
fn kolmogn_pomeranz_cdf(n: u64, x: f64) -> f64 {
    let ni = n as i64;
    let nf = n as f64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gpower = vec![1.0; npwrs];
    let mut twogpower = vec![1.0; npwrs];
    let mut onem2gpower = vec![1.0; npwrs];
    let (g_n, two_g_n, one_m2g_n) = (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        gpower[m] = gpower[m - 1] * g_n / m as f64;
        twogpower[m] = twogpower[m - 1] * two_g_n / m as f64;
        onem2gpower[m] = onem2gpower[m - 1] * one_m2g_n / m as f64;
    }
    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s): (i64, i64) = (0, 0);
    let mut expnt: i64 = 0;
    let (mut j1, _) = pomeranz_j1j2(0, ni, ll, ceilf, roundf);
    for i in 1..(2 * ni + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.iter_mut().for_each(|v| *v = 0.0);
        let (nj1, j2) = pomeranz_j1j2(i, ni, ll, ceilf, roundf);
        j1 = nj1;
        let pwrs = if i == 1 || i == 2 * ni + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            // numpy slices clamp at the array end; mirror that.
            let start = (k1 - v0s).max(0) as usize;
            let end = ((k1 - v0s + ln2) as usize).min(npwrs);
            let a = &v0[start.min(end)..end];
            let b = &pwrs[..(ln2 as usize).min(npwrs)];
            let conv_start = (j1 - k1) as usize;
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            for (idx, out) in v1.iter_mut().enumerate().take(conv_len) {
                let kk = conv_start + idx;
                // Full convolution entry kk = sum a[p] * b[kk - p].
                let lo = kk.saturating_sub(b.len().saturating_sub(1));
                let hi = kk.min(a.len().saturating_sub(1));
                let mut s = 0.0;
                if !a.is_empty() {
                    for p in lo..=hi {
                        s += a[p] * b[kk - p];
                    }
                }
                *out = s;
            }
            let vmax = v1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < vmax && vmax < EM128 {
                v1.iter_mut().for_each(|v| *v *= EP128);
                expnt -= E128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    let mut ans = v1[(ni - v1s) as usize];
    for m in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            expnt += E128;
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans = ldexp(ans, expnt);
    }
    ans.clamp(0.0, 1.0)
}

/// scipy `_kolmogn_PelzGood`: the Pelz-Good asymptotic series for Pr(D_n <= x).
fn kolmogn_pelz_good_cdf(n: u64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let pi2 = PI * PI;
    let pi4 = pi2 * pi2;
    let pi6 = pi4 * pi2;
    let sqrt2pi = (2.0 * PI).sqrt();
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -pi2 / 8.0 / z2;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * k) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (v, c) in kk.iter_mut().zip(coeffs) {
            *v = *v * qpower + c;
        }
    }
    let div = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (v, dv) in kk.iter_mut().zip(div) {
        *v = *v * q * sqrt2pi / dv;
    }
    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for k in (1..=maxk).rev() {
        let ks2 = (k * k) as f64;
        let kspi = PI * k as f64;
        let qp = q.powf(ks2);
        k2extra += ks2 * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
    }
    kk[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    kk[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    for (idx, v) in kk.iter_mut().enumerate() {
        *v /= nf.powf(idx as f64 / 2.0);
    }
    kk.iter().sum()
}

/// Survival function of the one-sided one-sample statistic D_n^+, cephes `smirnov(n, x)`.
/// Uses the Birnbaum-Tingey lower sum (all terms positive) as cephes does in every
/// region `kstwo_sf` reaches; binomials are kept as mantissa and binary exponent.
fn smirnov_sf(n: u64, x: f64) -> f64 {
    if !(0.0..=1.0).contains(&x) || n == 0 {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let ni = n as i64;
    // floor(n*x) and the exact remainder (fma), as cephes does in double-double.
    let mut nxfl = (nf * x).floor();
    let mut alpha = nf.mul_add(x, -nxfl);
    if alpha < 0.0 {
        nxfl -= 1.0;
        alpha = nf.mul_add(x, -nxfl);
    }
    if alpha >= 1.0 {
        nxfl += 1.0;
        alpha = 0.0;
    }
    let nxfl = nxfl as i64;
    let mut n1mxfl = ni - nxfl - i64::from(alpha != 0.0);
    if alpha == 0.0 {
        n1mxfl -= 1;
    }
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        let t = (1.0 + x).powf(nf - 1.0);
        return 1.0 - x * t;
    }
    if -2.0 * nf * x * x < CEPHES_MINLOG {
        return 0.0;
    }
    if nxfl >= ni - 1 {
        return (1.0 - x).powf(nf);
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 + logp.exp_m1()
        };
    }
    let n_terms = n1mxfl + 1;
    // A_0 = (1-x)^n / x.
    let mut sum = (nf * (-x).ln_1p()).exp() / x;
    let (mut c_man, mut c_exp) = (1.0f64, 0i64);
    let vmid = ni / 2;
    const SCALE: f64 = EP128 * EP128; // 2^256, exact
    for j in 1..n_terms {
        // C(n, j) = C(n, j-1) * (n-j+1)/j, rescaled by exact powers of two.
        c_man *= (ni - j + 1) as f64 / j as f64;
        if c_man > SCALE {
            c_man /= SCALE;
            c_exp += 256;
        } else if c_man < 1.0 / SCALE {
            // Past j = n/2 the binomial shrinks again; keep the mantissa normal.
            c_man *= SCALE;
            c_exp -= 256;
        }
        let t2x = ((ni - nxfl - j) as f64 - alpha) / nf; // 1 - x - j/n
        let t1x = ((nxfl + j) as f64 + alpha) / nf; // x + j/n
        let ln_term = c_man.ln()
            + c_exp as f64 * std::f64::consts::LN_2
            + (ni - j) as f64 * t2x.ln()
            + (j - 1) as f64 * t1x.ln();
        let aj = ln_term.exp();
        if aj.is_finite() {
            sum += aj;
        }
        if aj != 0.0 {
            if 4.0 * (n_terms - j) as f64 * aj < f64::EPSILON * sum && j != n_terms - 1 {
                break;
            }
        } else if j > vmid {
            break;
        }
    }
    (x * sum).clamp(0.0, 1.0)
}

// ---------------------------------------------------------------------------
// Chi-squared tests
// ---------------------------------------------------------------------------

/// `scipy.stats.chisquare(observed, expected)`: Pearson's statistic with k-1 degrees
/// of freedom. Like scipy, the two totals must agree to a relative tolerance of
/// sqrt(f64::EPSILON) (about 1.5e-8); otherwise `InvalidInput`.
pub fn chisquare(observed: &[f64], expected: &[f64]) -> Result<ChiResult> {
    check_sample("observed", observed)?;
    check_sample("expected", expected)?;
    if observed.len() != expected.len() {
        return Err(MonitorError::LengthMismatch {
            what: "expected frequencies".into(),
            expected: observed.len(),
            found: expected.len(),
        });
    }
    let obs_sum: f64 = observed.iter().sum();
    let exp_sum: f64 = expected.iter().sum();
    let rel = (obs_sum - exp_sum).abs() / obs_sum.min(exp_sum);
    if rel.is_nan() || rel > f64::EPSILON.sqrt() {
        return Err(MonitorError::InvalidInput(format!(
            "observed total {obs_sum} and expected total {exp_sum} differ by a relative {rel}; \
             rescale the expected frequencies"
        )));
    }
    let statistic: f64 = observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (o - e).powi(2) / e)
        .sum();
    let dof = observed.len() - 1;
    Ok(ChiResult {
        statistic,
        pvalue: chi2_sf(statistic, dof as f64),
        dof,
    })
}

/// `scipy.stats.chi2_contingency(table)` with its defaults: expected counts from the
/// margins, dof = (r-1)(c-1), Yates' continuity correction when dof == 1. A table
/// whose expected counts contain a zero (an all-zero row or column) is `InvalidInput`.
pub fn chi2_contingency(table: &[Vec<f64>]) -> Result<ChiResult> {
    let rows = table.len();
    let cols = table.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 {
        return Err(MonitorError::EmptyData("contingency table is empty".into()));
    }
    for row in table {
        if row.len() != cols {
            return Err(MonitorError::LengthMismatch {
                what: "contingency table row".into(),
                expected: cols,
                found: row.len(),
            });
        }
        if row.iter().any(|v| v.is_nan() || *v < 0.0) {
            return Err(MonitorError::InvalidInput(
                "contingency table counts must be non-negative numbers".into(),
            ));
        }
    }
    let row_sums: Vec<f64> = table.iter().map(|r| r.iter().sum()).collect();
    let col_sums: Vec<f64> = (0..cols)
        .map(|c| table.iter().map(|r| r[c]).sum())
        .collect();
    let total: f64 = table.iter().flatten().sum();
    let dof = (rows - 1) * (cols - 1);
    let mut statistic = 0.0;
    for (r, row) in table.iter().enumerate() {
        for (c, &obs) in row.iter().enumerate() {
            let exp = row_sums[r] * col_sums[c] / total;
            if exp == 0.0 || exp.is_nan() {
                return Err(MonitorError::InvalidInput(format!(
                    "expected count is zero at row {r}, column {c}; drop empty rows and columns"
                )));
            }
            let obs = if dof == 1 {
                // Yates: move each count towards its expectation by at most 0.5.
                let diff = exp - obs;
                obs + diff.signum() * diff.abs().min(0.5)
            } else {
                obs
            };
            statistic += (obs - exp).powi(2) / exp;
        }
    }
    if dof == 0 {
        return Ok(ChiResult {
            statistic: 0.0,
            pvalue: 1.0,
            dof,
        });
    }
    Ok(ChiResult {
        statistic,
        pvalue: chi2_sf(statistic, dof as f64),
        dof,
    })
}

// ---------------------------------------------------------------------------
// Distances
// ---------------------------------------------------------------------------

/// `scipy.stats.wasserstein_distance(u, v)` (unweighted): the integral of the absolute
/// difference between the two empirical CDFs. Inputs need not be sorted.
pub fn wasserstein_distance(u: &[f64], v: &[f64]) -> Result<f64> {
    check_sample("first sample", u)?;
    check_sample("second sample", v)?;
    Ok(wasserstein_merge(&sorted_copy(u), &sorted_copy(v)))
}

/// [`wasserstein_distance`] on samples the caller keeps sorted ascending: one O(n+m)
/// merge, no allocation. Sortedness is the caller's promise (checked in debug builds).
pub fn wasserstein_sorted(u_sorted: &[f64], v_sorted: &[f64]) -> Result<f64> {
    if u_sorted.is_empty() || v_sorted.is_empty() {
        return Err(MonitorError::EmptyData("a sample is empty".into()));
    }
    debug_assert!(is_sorted(u_sorted) && is_sorted(v_sorted));
    Ok(wasserstein_merge(u_sorted, v_sorted))
}

fn wasserstein_merge(u: &[f64], v: &[f64]) -> f64 {
    let (n, m) = (u.len(), v.len());
    let (inv_n, inv_m) = (1.0 / n as f64, 1.0 / m as f64);
    let (mut i, mut j) = (0usize, 0usize);
    // scipy: sum over the pooled sorted values of |U(a_k) - V(a_k)| * (a_{k+1} - a_k).
    // Popping one value at a time is enough: within a tie group the width is zero and
    // the last member of the group sees the complete counts.
    let mut prev = if u[0] <= v[0] {
        i = 1;
        u[0]
    } else {
        j = 1;
        v[0]
    };
    let mut total = 0.0;
    while i < n && j < m {
        // v is usually the short reference: walk the run of u values up to v[j] in a
        // tight loop (j fixed), then pop v[j]. Same order as popping one at a time.
        let vj = v[j];
        let cj = j as f64 * inv_m;
        for &x in &u[i..] {
            if x > vj {
                break;
            }
            total += (i as f64 * inv_n - cj).abs() * (x - prev);
            prev = x;
            i += 1;
        }
        total += (i as f64 * inv_n - cj).abs() * (vj - prev);
        prev = vj;
        j += 1;
    }
    // One sample is exhausted: its CDF is 1 from here on.
    while i < n {
        let next = u[i];
        total += (i as f64 * inv_n - j as f64 * inv_m).abs() * (next - prev);
        prev = next;
        i += 1;
    }
    while j < m {
        let next = v[j];
        total += (i as f64 * inv_n - j as f64 * inv_m).abs() * (next - prev);
        prev = next;
        j += 1;
    }
    total
}

fn check_distribution(name: &str, p: &[f64]) -> Result<f64> {
    if p.is_empty() {
        return Err(MonitorError::EmptyData(format!("{name} is empty")));
    }
    if p.iter().any(|v| v.is_nan() || *v < 0.0) {
        return Err(MonitorError::InvalidInput(format!(
            "{name} must hold non-negative numbers"
        )));
    }
    let sum: f64 = p.iter().sum();
    if sum <= 0.0 || !sum.is_finite() {
        return Err(MonitorError::InvalidInput(format!(
            "{name} must have a positive finite total"
        )));
    }
    Ok(sum)
}

/// scipy `rel_entr(x, y)`: x ln(x/y), 0 when x == 0, +inf when y == 0 < x.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// `scipy.spatial.distance.jensenshannon(p, q)` (natural log): both vectors are
/// normalised to sum 1; zero entries contribute nothing, as in scipy's `rel_entr`.
pub fn jensenshannon(p: &[f64], q: &[f64]) -> Result<f64> {
    let ps = check_distribution("p", p)?;
    let qs = check_distribution("q", q)?;
    if p.len() != q.len() {
        return Err(MonitorError::LengthMismatch {
            what: "q".into(),
            expected: p.len(),
            found: q.len(),
        });
    }
    let (mut left, mut right) = (0.0, 0.0);
    for (&pi, &qi) in p.iter().zip(q) {
        let (pn, qn) = (pi / ps, qi / qs);
        let mid = (pn + qn) / 2.0;
        left += rel_entr(pn, mid);
        right += rel_entr(qn, mid);
    }
    Ok(((left + right) / 2.0).sqrt())
}

/// Population stability index, sum over bins of (c - r) ln(c / r). A zero share (in
/// either vector) is replaced by 0.0001 first, Evidently's convention, so empty bins
/// give a large but finite value. Shares are used as given (not renormalised).
pub fn psi(reference_share: &[f64], current_share: &[f64]) -> Result<f64> {
    check_distribution("reference shares", reference_share)?;
    check_distribution("current shares", current_share)?;
    if reference_share.len() != current_share.len() {
        return Err(MonitorError::LengthMismatch {
            what: "current shares".into(),
            expected: reference_share.len(),
            found: current_share.len(),
        });
    }
    let floor = |s: f64| if s == 0.0 { 0.0001 } else { s };
    Ok(reference_share
        .iter()
        .zip(current_share)
        .map(|(&r, &c)| {
            let (r, c) = (floor(r), floor(c));
            (c - r) * (c / r).ln()
        })
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_inputs_are_errors() {
        assert!(ks_2samp(&[], &[1.0]).is_err());
        assert!(ks_2samp(&[1.0], &[]).is_err());
        assert!(wasserstein_distance(&[], &[1.0]).is_err());
        assert!(wasserstein_sorted(&[1.0], &[]).is_err());
        assert!(jensenshannon(&[], &[]).is_err());
        assert!(psi(&[], &[]).is_err());
        assert!(chisquare(&[], &[]).is_err());
        assert!(chi2_contingency(&[]).is_err());
        assert!(chi2_contingency(&[vec![]]).is_err());
    }

    #[test]
    fn nan_is_rejected() {
        assert!(ks_2samp(&[f64::NAN], &[1.0]).is_err());
        assert!(wasserstein_distance(&[1.0], &[f64::NAN]).is_err());
    }

    #[test]
    fn identical_samples_give_zero_and_one() {
        let a = [3.0, 1.0, 2.0, 2.0, 5.0];
        let r = ks_2samp(&a, &a).unwrap();
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.pvalue, 1.0);
        assert_eq!(wasserstein_distance(&a, &a).unwrap(), 0.0);
        assert_eq!(jensenshannon(&a, &a).unwrap(), 0.0);
        assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5]).unwrap(), 0.0);
    }

    #[test]
    fn single_values_and_all_ties() {
        let r = ks_2samp(&[1.0], &[2.0]).unwrap();
        assert_eq!(r.statistic, 1.0);
        assert_eq!(r.pvalue, 1.0); // scipy: exact n1 == n2 == 1 gives 2 * 0.5
        let r = ks_2samp(&[4.0; 10], &[4.0; 7]).unwrap();
        assert_eq!((r.statistic, r.pvalue), (0.0, 1.0));
        assert_eq!(wasserstein_distance(&[1.0], &[3.5]).unwrap(), 2.5);
        assert_eq!(wasserstein_distance(&[2.0; 4], &[2.0; 9]).unwrap(), 0.0);
    }

    #[test]
    fn chisquare_checks_totals_and_lengths() {
        assert!(chisquare(&[1.0, 2.0], &[1.0, 3.0]).is_err());
        assert!(chisquare(&[1.0, 2.0], &[3.0]).is_err());
        let r = chisquare(&[5.0, 5.0], &[5.0, 5.0]).unwrap();
        assert_eq!((r.statistic, r.pvalue, r.dof), (0.0, 1.0, 1));
    }

    #[test]
    fn contingency_rejects_zero_expected_and_handles_dof_zero() {
        assert!(chi2_contingency(&[vec![0.0, 0.0], vec![1.0, 2.0]]).is_err());
        let r = chi2_contingency(&[vec![3.0, 4.0]]).unwrap();
        assert_eq!((r.statistic, r.pvalue, r.dof), (0.0, 1.0, 0));
    }

    #[test]
    fn psi_by_hand() {
        // (0.3-0.5)ln(0.3/0.5) + (0.7-0.5)ln(0.7/0.5) = 0.2 ln(7/3).
        let v = psi(&[0.5, 0.5], &[0.3, 0.7]).unwrap();
        assert!((v - 0.2 * (7.0f64 / 3.0).ln()).abs() < 1e-15);
        // A zero share becomes 0.0001: (0.0001-0.5)ln(0.0001/0.5) + (1-0.5)ln(2).
        let v = psi(&[0.5, 0.5], &[0.0, 1.0]).unwrap();
        let want = (0.0001 - 0.5) * (0.0001f64 / 0.5).ln() + 0.5 * 2f64.ln();
        assert!((v - want).abs() < 1e-15);
    }

    #[test]
    fn gamma_helpers() {
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
        assert!((ln_gamma(20.0) - 39.339_884_187_199_49).abs() < 1e-13);
        // chi2 with 2 dof is exponential(1/2): sf = exp(-x/2).
        for x in [0.1, 1.0, 5.0, 40.0, 300.0] {
            let want = (-x / 2.0f64).exp();
            assert!((chi2_sf(x, 2.0) / want - 1.0).abs() < 1e-13, "x={x}");
        }
        assert_eq!(chi2_sf(0.0, 3.0), 1.0);
        assert!(chi2_sf(1.0, 0.0).is_nan());
    }

    #[test]
    fn sorted_variants_agree() {
        let a: Vec<f64> = (0..50).map(|i| ((i * 37) % 17) as f64).collect();
        let b: Vec<f64> = (0..30).map(|i| ((i * 11) % 13) as f64 + 0.5).collect();
        let (sa, sb) = (sorted_copy(&a), sorted_copy(&b));
        assert_eq!(
            wasserstein_distance(&a, &b).unwrap(),
            wasserstein_sorted(&sa, &sb).unwrap()
        );
        assert_eq!(
            ks_2samp(&a, &b).unwrap(),
            ks_2samp_sorted(&sa, &sb).unwrap()
        );
        assert!(ks_2samp_sorted(&a, &b).is_err());
    }
}
