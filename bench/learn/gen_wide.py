"""Writes the deterministic wide, one-hot-heavy benchmark set: 500,000 x 200.

bench/out/wide_data.bin : 200 columns of n float64 (column-major), then n float64 labels
bench/out/wide_data.json: {"n_rows", "n_cols", "n_train", "categorical": {col: n_levels}}
Columns  0-19 : numeric (normal and uniform; columns 2, 9, 15 have ~5% missing)
Columns 20-49 : 30 native categorical columns, 3 to 200 levels, skewed (Zipf-like) frequencies
Columns 50-199: 150 one-hot 0/1 columns, the encoding of 10 categorical variables
                with 15 levels each (skewed), as a typical CRM export would have them
"""
import json
import os
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "bench/out"
os.makedirs(out, exist_ok=True)
n, n_train = 500_000, 400_000
rng = np.random.default_rng(7)
cols = []
cats = {}
num = np.empty((n, 20))
num[:, :10] = rng.standard_normal((n, 10))
num[:, 10:] = rng.uniform(0, 1, (n, 10))
logit = 0.7 * num[:, 0] - 0.4 * num[:, 1] ** 2 + 0.5 * np.sin(3 * num[:, 10]) + 0.4 * num[:, 2] * num[:, 3]
logit += 0.8 * (num[:, 11] > 0.7) - 0.3 * num[:, 12]
for c in (2, 9, 15):
    num[rng.uniform(size=n) < 0.05, c] = np.nan
cols.extend(num.T)


def skewed(levels, size):
    p = 1.0 / np.arange(1, levels + 1) ** 1.1
    return rng.choice(levels, size=size, p=p / p.sum())


card = [3, 5, 8, 12, 20, 30, 50, 100, 200, 6]
for j in range(30):
    levels = card[j % len(card)]
    codes = skewed(levels, n)
    if j < 12:
        logit += rng.normal(0, 0.35, levels)[codes]
    cats[str(20 + j)] = levels
    cols.append(codes.astype(np.float64))
for g in range(10):
    codes = skewed(15, n)
    if g < 6:
        logit += rng.normal(0, 0.4, 15)[codes]
    if g == 0:
        logit += 0.5 * num[:, 4] * (codes < 3)
    for level in range(15):
        cols.append((codes == level).astype(np.float64))
logit -= logit.mean()
y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
d = len(cols)
assert d == 200
with open(os.path.join(out, "wide_data.bin"), "wb") as f:
    for c in cols:
        f.write(np.ascontiguousarray(c, dtype=np.float64).tobytes())
    f.write(y.tobytes())
with open(os.path.join(out, "wide_data.json"), "w") as f:
    json.dump({"n_rows": n, "n_cols": d, "n_train": n_train, "categorical": cats}, f)
print(f"wrote {n} x {d} to {out}, positive rate {y.mean():.4f}")
