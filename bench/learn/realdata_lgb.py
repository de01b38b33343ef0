"""LightGBM side of the real-data check: a small hand-tuning grid on the same
stratified 75/25 split the Rust example wrote (bench/out/<file>.test_idx).
Rounds per setting come from 5-fold lgb.cv with early stopping on the training
part. Reports the best setting by CV and the best on test (an optimistic bar)."""
import itertools
import os
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

data = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"
out = sys.argv[2] if len(sys.argv) > 2 else "bench/out"
for file, target, positive in [("mlc_churn.csv", "churn", "yes"), ("caravan.csv", "Purchase", "Yes")]:
    path = os.path.join(data, file)
    idx_path = os.path.join(out, file + ".test_idx")
    if not os.path.exists(path) or not os.path.exists(idx_path):
        print(f"{file}: skipped")
        continue
    df = pd.read_csv(path)
    df = df.drop(columns=[c for c in df.columns if c in ("rownames", "Unnamed: 0")])
    y = (df.pop(target) == positive).astype(int).to_numpy()
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = df[c].astype("category")
    test = np.loadtxt(idx_path, dtype=int)
    mask = np.zeros(len(y), bool)
    mask[test] = True
    Xtr, Xte, ytr, yte = df[~mask], df[mask], y[~mask], y[mask]
    results = []
    grid = itertools.product([4, 7, 15, 31], [10, 20, 50], [0.0, 5.0])
    for leaves, min_data, l2 in grid:
        params = dict(objective="binary", metric="binary_logloss", learning_rate=0.05, num_leaves=leaves,
                      min_data_in_leaf=min_data, lambda_l2=l2, feature_fraction=0.8, bagging_fraction=0.8,
                      bagging_freq=1, verbose=-1, num_threads=2, seed=42)
        cv = lgb.cv(params, lgb.Dataset(Xtr, ytr), num_boost_round=2000, nfold=5, stratified=True, seed=42,
                    callbacks=[lgb.early_stopping(50, verbose=False)])
        rounds = len(cv["valid binary_logloss-mean"])
        booster = lgb.train(params, lgb.Dataset(Xtr, ytr), num_boost_round=rounds)
        auc = roc_auc_score(yte, booster.predict(Xte))
        cv_loss = cv["valid binary_logloss-mean"][-1]
        results.append((leaves, min_data, l2, rounds, cv_loss, auc))
    print(f"{file}: LightGBM {lgb.__version__}, {len(results)} settings (lr 0.05, ff 0.8, bagging 0.8)")
    by_cv = min(results, key=lambda r: r[4])
    by_test = max(results, key=lambda r: r[5])
    fmt = "num_leaves={} min_data_in_leaf={} lambda_l2={} rounds={} cv_logloss={:.4f} test_auc={:.4f}"
    print("  best by CV logloss:", fmt.format(*by_cv))
    print("  best on test      :", fmt.format(*by_test))
