"""LightGBM side of the cross-validation benchmark (bench/learn/run.sh, `cv`).

Mirrors examples/cv_bench.rs on caravan: on the same training rows (the split
the Rust side wrote to OUT_DIR/caravan.csv.test_idx, and the same five folds,
OUT_DIR/caravan.csv.cv_folds), lightgbm.cv of the four settings of klartext's default GBDT candidates (5 stratified folds, early
stopping on logloss after 50 rounds, at most 2000 rounds), the choice by the
one-standard-error rule on CV AUC (simplest first, as klartext), the refit with
the CV round count, and the test AUC.

Usage: cv_lgb.py DATA_DIR OUT_DIR
"""
import json
import math
import os
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

data = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"
out = sys.argv[2] if len(sys.argv) > 2 else "bench/out"
path = os.path.join(data, "caravan.csv")
idx_path = os.path.join(out, "caravan.csv.test_idx")
if not os.path.exists(path) or not os.path.exists(idx_path):
    print(json.dumps({"side": "lightgbm", "skipped": path}))
    sys.exit(0)
df = pd.read_csv(path)
df = df.drop(columns=[c for c in df.columns if c in ("rownames", "Unnamed: 0")])
y = (df.pop("Purchase") == "Yes").astype(int).to_numpy()
for c in df.columns:
    if not pd.api.types.is_numeric_dtype(df[c]):
        df[c] = df[c].astype("category")
test = np.loadtxt(idx_path, dtype=int)
mask = np.zeros(len(y), bool)
mask[test] = True
Xtr, Xte, ytr, yte = df[~mask], df[mask], y[~mask], y[mask]
held_out = [np.array(line.split(), dtype=int) for line in open(os.path.join(out, "caravan.csv.cv_folds"))]
folds = [(np.setdiff1d(np.arange(len(ytr)), v), v) for v in held_out]

# klartext's default_candidates (crates/klartext-learn/src/select.rs), simplest first.
settings = [
    ("gbdt_tiny", dict(num_leaves=4, min_data_in_leaf=20, lambda_l2=0.0)),
    ("gbdt_small", dict(num_leaves=8, min_data_in_leaf=20, lambda_l2=1.0)),
    ("gbdt_regularised", dict(num_leaves=15, min_data_in_leaf=50, lambda_l2=10.0)),
    ("gbdt_medium", dict(num_leaves=31, min_data_in_leaf=20, lambda_l2=1.0)),
]
base = dict(objective="binary", metric=["binary_logloss", "auc"], first_metric_only=True,
            learning_rate=0.05, feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1,
            verbose=-1, num_threads=2, seed=42, deterministic=True)
k = 5
t0 = time.perf_counter()
rows = []
for name, s in settings:
    params = {**base, **s}
    cv = lgb.cv(params, lgb.Dataset(Xtr, ytr), num_boost_round=2000, folds=folds,
                callbacks=[lgb.early_stopping(50, verbose=False)])
    rounds = len(cv["valid binary_logloss-mean"])
    auc = cv["valid auc-mean"][-1]
    std = cv["valid auc-stdv"][-1] * math.sqrt(k / (k - 1))  # sample std, as klartext
    rows.append(dict(name=name, params=params, cv_auc=auc, cv_std=std, rounds=rounds))
t1 = time.perf_counter()
best = max(rows, key=lambda r: r["cv_auc"])
se = best["cv_std"] / math.sqrt(k)
chosen = next(r for r in rows if r["cv_auc"] >= best["cv_auc"] - se)
booster = lgb.train(chosen["params"], lgb.Dataset(Xtr, ytr), num_boost_round=chosen["rounds"])
t2 = time.perf_counter()
test_auc = roc_auc_score(yte, booster.predict(Xte))
print(json.dumps({
    "side": "lightgbm " + lgb.__version__,
    "rows": list(Xtr.shape),
    "gbdt_cv_seconds": round(t1 - t0, 3),
    "refit_seconds": round(t2 - t1, 3),
    "total_fit_seconds": round(t2 - t0, 3),
    "chosen": chosen["name"],
    "chosen_rounds": chosen["rounds"],
    "test_auc": round(test_auc, 4),
    "candidates": [dict(name=r["name"], cv_auc=round(r["cv_auc"], 4), cv_std=round(r["cv_std"], 4),
                        rounds=r["rounds"]) for r in rows],
}))
