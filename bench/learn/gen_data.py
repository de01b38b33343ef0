"""Writes the deterministic 1,000,000 x 30 binary-classification benchmark set.

bench/out/gbdt_data.bin : 30 columns of n float64 (column-major), then n float64 labels
bench/out/gbdt_data.json: {"n_rows", "n_cols", "n_train", "categorical": {col: n_levels}}
Columns 28 and 29 are categorical codes (20 and 50 levels); some numeric
columns have ~5% missing values (NaN).
"""
import json
import os
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "bench/out"
os.makedirs(out, exist_ok=True)
n, d, n_train = 1_000_000, 30, 800_000
rng = np.random.default_rng(42)
X = np.empty((n, d), dtype=np.float64)
X[:, :14] = rng.standard_normal((n, 14))
X[:, 14:28] = rng.uniform(0, 10, (n, 14))
X[:, 20] = np.round(X[:, 20])  # a few-valued numeric column
X[:, 28] = rng.integers(0, 20, n)
X[:, 29] = rng.integers(0, 50, n)
cat_eff0 = rng.normal(0, 0.6, 20)
cat_eff1 = rng.normal(0, 0.4, 50)
logit = (
    0.8 * X[:, 0]
    - 0.5 * X[:, 1] ** 2
    + np.sin(2 * X[:, 2])
    + 0.6 * X[:, 3] * X[:, 4]
    + 1.0 * (X[:, 5] > 0.5)
    + 0.15 * X[:, 14]
    - 0.3 * np.abs(X[:, 15] - 5)
    + 0.4 * np.log1p(X[:, 16])
    + 0.2 * (X[:, 20] % 3)
    + cat_eff0[X[:, 28].astype(int)]
    + cat_eff1[X[:, 29].astype(int)]
    + 0.3 * X[:, 6] * (X[:, 28] < 10)
)
logit -= logit.mean()
y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
for c in (1, 7, 17, 22):
    X[rng.uniform(size=n) < 0.05, c] = np.nan
with open(os.path.join(out, "gbdt_data.bin"), "wb") as f:
    f.write(np.ascontiguousarray(X.T).tobytes())
    f.write(y.tobytes())
with open(os.path.join(out, "gbdt_data.json"), "w") as f:
    json.dump({"n_rows": n, "n_cols": d, "n_train": n_train, "categorical": {"28": 20, "29": 50}}, f)
print(f"wrote {n} x {d} to {out}, positive rate {y.mean():.4f}")
