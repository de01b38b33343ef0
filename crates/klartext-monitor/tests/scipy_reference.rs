//! Drift statistics against scipy 1.17.1 / numpy 2.4.6 values, recorded here so the
//! tests need no Python. Regenerate with `bash bench/monitor/scipy_reference.sh`.
//!
//! Tolerance: 1e-9 absolute, or 1e-9 relative when the scipy value is below 1e-6
//! (tiny p-values, where an absolute bound would test nothing).
//!
//! Produced with (Python; `from scipy import stats`, `from scipy.spatial import distance`):
//!   gen(n, mult, shift) = [((i * mult) % 10007) / 10007.0 + shift for i in range(n)]
//!   A7  = [0.5, 1.5, 1.5, 2.0, 3.25, 4.0, 4.0]
//!   B13 = [1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.25, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0]
//!   S60 = [((i * 37) % 23) / 4.0 for i in range(60)]
//!   S45 = [((i * 17) % 19) / 4.0 + 0.6 for i in range(45)]
//!   E30A = [((i * 7) % 11) * 1.0 for i in range(30)]; E30B = [((i * 5) % 13) * 1.0 ...]
//!   stats.ks_2samp(A7, B13); ks_2samp(S60, S45); ks_2samp(E30A, E30B)
//!   stats.ks_2samp(gen(12000, 7919, 0), gen(9000, 7877, 0.03))     # asymp (smirnov)
//!   stats.ks_2samp(gen(12000, 7919, 0), gen(9000, 7877, 0.012))    # asymp (Pelz-Good)
//!   stats.ks_2samp(gen(12000, 7919, 0), gen(100, 31, 0))           # asymp, n = 99
//!   stats.chisquare([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8])
//!   stats.chisquare([120., 80., 55., 45.], [100., 100., 50., 50.])
//!   stats.chi2_contingency([[12, 3], [17, 16]])                    # Yates
//!   stats.chi2_contingency([[10, 20, 30, 5], [15, 25, 5, 10], [30, 5, 10, 20]])
//!   stats.wasserstein_distance(A7, B13); wasserstein_distance(S60, S45)
//!   stats.wasserstein_distance(gen(1000000, 7919, 0), gen(5000, 7877, 0.01))
//!   distance.jensenshannon([0, 1, 2, 3, 0], [1, 1, 0, 5, 0])
//!   distance.jensenshannon([0.1, 0.4, 0.5], [0.3, 0.3, 0.4])
//!   stats.chi2.sf(x, df) and stats.kstwo.sf(d, n) at the points listed below.

use klartext_monitor::stats::{
    chi2_contingency, chi2_sf, chisquare, jensenshannon, ks_2samp, kstwo_sf, sort_f64,
    wasserstein_distance, wasserstein_sorted,
};

fn close(got: f64, want: f64, what: &str) {
    let ok = if want.abs() < 1e-6 {
        (got - want).abs() <= 1e-9 * want.abs()
    } else {
        (got - want).abs() <= 1e-9
    };
    assert!(ok, "{what}: got {got:e}, scipy {want:e}");
}

fn gen(n: usize, mult: usize, shift: f64) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * mult) % 10007) as f64 / 10007.0 + shift)
        .collect()
}

const A7: [f64; 7] = [0.5, 1.5, 1.5, 2.0, 3.25, 4.0, 4.0];
const B13: [f64; 13] = [
    1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.25, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0,
];

fn s60() -> Vec<f64> {
    (0..60).map(|i| ((i * 37) % 23) as f64 / 4.0).collect()
}
fn s45() -> Vec<f64> {
    (0..45)
        .map(|i| ((i * 17) % 19) as f64 / 4.0 + 0.6)
        .collect()
}

#[test]
fn ks_exact_matches_scipy() {
    let r = ks_2samp(&A7, &B13).unwrap();
    close(r.statistic, 0.3076923076923077, "ks 7v13 stat");
    close(r.pvalue, 0.6879256965944274, "ks 7v13 p");
    let r = ks_2samp(&s60(), &s45()).unwrap();
    close(r.statistic, 0.15, "ks 60v45 stat");
    close(r.pvalue, 0.5658078840059115, "ks 60v45 p");
    let a: Vec<f64> = (0..30).map(|i| ((i * 7) % 11) as f64).collect();
    let b: Vec<f64> = (0..30).map(|i| ((i * 5) % 13) as f64).collect();
    let r = ks_2samp(&a, &b).unwrap();
    close(r.statistic, 0.13333333333333333, "ks 30v30 stat");
    close(r.pvalue, 0.9578462903438838, "ks 30v30 p");
    // Argument order does not matter.
    assert_eq!(ks_2samp(&B13, &A7).unwrap(), ks_2samp(&A7, &B13).unwrap());
}

#[test]
fn ks_asymptotic_matches_scipy() {
    let big = gen(12000, 7919, 0.0);
    let r = ks_2samp(&big, &gen(9000, 7877, 0.03)).unwrap();
    close(r.statistic, 0.03025, "ks asymp 0.03 stat");
    close(r.pvalue, 0.00015991537018171365, "ks asymp 0.03 p");
    let r = ks_2samp(&big, &gen(9000, 7877, 0.012)).unwrap();
    close(r.statistic, 0.012277777777777776, "ks asymp 0.012 stat");
    close(r.pvalue, 0.41689388167909847, "ks asymp 0.012 p");
    let r = ks_2samp(&big, &gen(100, 31, 0.0)).unwrap();
    close(r.statistic, 0.6932499999999999, "ks asymp 12000v100 stat");
    close(r.pvalue, 4.889652899813552e-48, "ks asymp 12000v100 p");
}

#[test]
fn kstwo_sf_matches_scipy_in_every_region() {
    let cases = [
        (0.6, 50, 9.634070456142374e-18),   // x >= 0.5: 2 * smirnov
        (0.2, 50, 0.03143877776953241),     // n <= 140, Pomeranz
        (0.1, 50, 0.6623112704658186),      // n <= 140, Durbin matrix
        (0.05, 50, 0.9990238098461883),     // Durbin matrix
        (0.03, 5143, 0.000186755496995863), // n x^2 >= 2.2: 2 * smirnov
        (0.015, 5143, 0.1955077946384809),  // Pelz-Good
        (0.004, 5143, 0.9999966189483618),  // large n, Durbin matrix
        (0.1, 99, 0.25777804647269054),     // Pomeranz
    ];
    for (d, n, want) in cases {
        close(kstwo_sf(d, n), want, &format!("kstwo.sf({d}, {n})"));
    }
}

#[test]
fn chisquare_matches_scipy() {
    let r = chisquare(
        &[16.0, 18.0, 16.0, 14.0, 12.0, 12.0],
        &[16.0, 16.0, 16.0, 16.0, 16.0, 8.0],
    )
    .unwrap();
    close(r.statistic, 3.5, "chisquare stat");
    close(r.pvalue, 0.6233876277495822, "chisquare p");
    assert_eq!(r.dof, 5);
    let r = chisquare(&[120.0, 80.0, 55.0, 45.0], &[100.0, 100.0, 50.0, 50.0]).unwrap();
    close(r.statistic, 9.0, "chisquare 2 stat");
    close(r.pvalue, 0.02929088653488826, "chisquare 2 p");
}

#[test]
fn chi2_contingency_matches_scipy() {
    let r = chi2_contingency(&[vec![12.0, 3.0], vec![17.0, 16.0]]).unwrap();
    close(r.statistic, 2.4091074080184787, "2x2 Yates stat");
    close(r.pvalue, 0.12063113097759684, "2x2 Yates p");
    assert_eq!(r.dof, 1);
    let t = [
        vec![10.0, 20.0, 30.0, 5.0],
        vec![15.0, 25.0, 5.0, 10.0],
        vec![30.0, 5.0, 10.0, 20.0],
    ];
    let r = chi2_contingency(&t).unwrap();
    close(r.statistic, 56.03372385190568, "3x4 stat");
    close(r.pvalue, 2.865615070055295e-10, "3x4 p");
    assert_eq!(r.dof, 6);
}

#[test]
fn wasserstein_matches_scipy() {
    close(
        wasserstein_distance(&A7, &B13).unwrap(),
        0.9725274725274723,
        "w small",
    );
    close(
        wasserstein_distance(&s60(), &s45()).unwrap(),
        0.3352777777777779,
        "w 60/45",
    );
    let mut u = gen(1_000_000, 7919, 0.0);
    let mut v = gen(5000, 7877, 0.01);
    close(
        wasserstein_distance(&u, &v).unwrap(),
        0.00896400439692216,
        "w 1e6/5000",
    );
    sort_f64(&mut u);
    sort_f64(&mut v);
    let start = std::time::Instant::now();
    let w = wasserstein_sorted(&u, &v).unwrap();
    let took = start.elapsed();
    close(w, 0.00896400439692216, "w sorted 1e6/5000");
    // Generous bound: the merge takes a few ms; this only catches an accidental O(n log n)
    // or O(n*m) regression on a loaded machine.
    assert!(took.as_millis() < 200, "wasserstein_sorted took {took:?}");
}

#[test]
fn jensenshannon_matches_scipy() {
    close(
        jensenshannon(&[0.0, 1.0, 2.0, 3.0, 0.0], &[1.0, 1.0, 0.0, 5.0, 0.0]).unwrap(),
        0.4183262390582327,
        "js zeros",
    );
    close(
        jensenshannon(&[0.1, 0.4, 0.5], &[0.3, 0.3, 0.4]).unwrap(),
        0.18035965602712561,
        "js",
    );
}

#[test]
fn chi2_sf_matches_scipy() {
    let cases = [
        (0.5, 1.0, 0.47950012218695337),
        (3.84, 1.0, 0.05004352124870519),
        (10.0, 3.0, 0.01856613546304325),
        (25.0, 10.0, 0.005345505487134069),
        (150.0, 100.0, 0.0009039320423540184),
        (500.0, 4.0, 6.69966744100855e-107),
        (1200.0, 7.0, 7.061924746633696e-255),
        (0.01, 30.0, 1.0),
    ];
    for (x, df, want) in cases {
        close(chi2_sf(x, df), want, &format!("chi2.sf({x}, {df})"));
    }
}
