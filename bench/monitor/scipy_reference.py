"""Prints the scipy reference values recorded in
crates/klartext-monitor/tests/scipy_reference.rs (run via scipy_reference.sh)."""
import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

print("scipy", scipy.__version__, "numpy", np.__version__)

def gen(n, mult, shift):
    # Same formula as the Rust test: deterministic, no RNG to reproduce.
    return [((i * mult) % 10007) / 10007.0 + shift for i in range(n)]

A7 = [0.5, 1.5, 1.5, 2.0, 3.25, 4.0, 4.0]
B13 = [1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.25, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0]
S60 = [((i * 37) % 23) / 4.0 for i in range(60)]
S45 = [((i * 17) % 19) / 4.0 + 0.6 for i in range(45)]
E30A = [((i * 7) % 11) * 1.0 for i in range(30)]
E30B = [((i * 5) % 13) * 1.0 for i in range(30)]
BIG_A = gen(12000, 7919, 0.0)
BIG_B = gen(9000, 7877, 0.03)
BIG_C = gen(12000, 7919, 0.0)
BIG_D = gen(9000, 7877, 0.012)
SMALL_E = gen(100, 31, 0.0)
WA = gen(1000000, 7919, 0.0)
WB = gen(5000, 7877, 0.01)

cases = {
    "ks 7 vs 13 (ties)": (A7, B13),
    "ks 60 vs 45": (S60, S45),
    "ks 30 vs 30 (n1 == n2)": (E30A, E30B),
    "ks asymp 12000 vs 9000 shift 0.03": (BIG_A, BIG_B),
    "ks asymp 12000 vs 9000 shift 0.012": (BIG_C, BIG_D),
    "ks asymp 12000 vs 100": (BIG_A, SMALL_E),
}
for name, (a, b) in cases.items():
    r = stats.ks_2samp(a, b)
    print(f"{name}: statistic={float(r.statistic)!r} pvalue={float(r.pvalue)!r}")

r = stats.chisquare([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8])
print(f"chisquare: {float(r.statistic)!r} {float(r.pvalue)!r}")
r = stats.chisquare([120.0, 80.0, 55.0, 45.0], [100.0, 100.0, 50.0, 50.0])
print(f"chisquare 2: {float(r.statistic)!r} {float(r.pvalue)!r}")
for t in ([[12, 3], [17, 16]], [[10, 20, 30, 5], [15, 25, 5, 10], [30, 5, 10, 20]]):
    r = stats.chi2_contingency(t)
    print(f"chi2_contingency {t}: {float(r.statistic)!r} {float(r.pvalue)!r} dof={r.dof}")

print(f"wasserstein small: {stats.wasserstein_distance(A7, B13)!r}")
print(f"wasserstein 60/45: {stats.wasserstein_distance(S60, S45)!r}")
print(f"wasserstein 1e6 vs 5000: {stats.wasserstein_distance(WA, WB)!r}")

print(f"jensenshannon zeros: {distance.jensenshannon([0.0, 1.0, 2.0, 3.0, 0.0], [1.0, 1.0, 0.0, 5.0, 0.0])!r}")
print(f"jensenshannon: {distance.jensenshannon([0.1, 0.4, 0.5], [0.3, 0.3, 0.4])!r}")

for x, df in [(0.5, 1), (3.84, 1), (10.0, 3), (25.0, 10), (150.0, 100), (500.0, 4), (1200.0, 7), (0.01, 30)]:
    print(f"chi2.sf({x}, {df}) = {stats.chi2.sf(x, df)!r}")

for d, n in [(0.6, 50), (0.2, 50), (0.1, 50), (0.05, 50), (0.03, 5143), (0.015, 5143), (0.004, 5143), (0.1, 99)]:
    print(f"kstwo.sf({d}, {n}) = {stats.kstwo.sf(d, n)!r}")
