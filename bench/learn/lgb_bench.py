"""LightGBM side of the GBDT benchmark: same data, same parameters as the Rust side.

Usage: lgb_bench.py OUT_DIR [NAME]   (NAME = gbdt (default) or wide: reads OUT_DIR/NAME_data.*)"""
import json
import os
import sys
import time

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

out = sys.argv[1] if len(sys.argv) > 1 else "bench/out"
name = sys.argv[2] if len(sys.argv) > 2 else "gbdt"
meta = json.load(open(os.path.join(out, f"{name}_data.json")))
n, d, n_train = meta["n_rows"], meta["n_cols"], meta["n_train"]
raw = np.fromfile(os.path.join(out, f"{name}_data.bin"), dtype=np.float64)
X = raw[: n * d].reshape(d, n).T.copy()
y = raw[n * d :]
cats = [int(c) for c in meta["categorical"]]
Xtr, ytr, Xte, yte = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
params = dict(
    objective="binary", num_threads=2, num_leaves=31, learning_rate=0.1, max_bin=255,
    min_data_in_leaf=20, verbose=-1, seed=1, deterministic=True,
)
c0 = time.process_time()
t0 = time.perf_counter()
ds = lgb.Dataset(Xtr, ytr, categorical_feature=cats, free_raw_data=False, params={"max_bin": 255, "verbose": -1})
ds.construct()
t1 = time.perf_counter()
booster = lgb.train(params, ds, num_boost_round=100)
t2 = time.perf_counter()
c2 = time.process_time()
p = booster.predict(Xte, num_threads=2)
t3 = time.perf_counter()
n_shap = 20_000
contrib = booster.predict(Xte[:n_shap], pred_contrib=True, num_threads=2)
t4 = time.perf_counter()
raw_te = booster.predict(Xte[:n_shap], raw_score=True, num_threads=2)
assert np.allclose(contrib.sum(axis=1), raw_te, atol=1e-6)
res = {
    "side": "lightgbm " + lgb.__version__,
    "data": name,
    "bin_seconds": round(t1 - t0, 3),
    "train_seconds": round(t2 - t1, 3),
    "total_fit_seconds": round(t2 - t0, 3),
    "fit_cpu_seconds": round(c2 - c0, 3),
    "test_auc": round(roc_auc_score(yte, p), 5),
    "predict_rows_per_s": round(len(Xte) / (t3 - t2)),
    "shap_rows_per_s": round(n_shap / (t4 - t3)),
}
print(json.dumps(res))
