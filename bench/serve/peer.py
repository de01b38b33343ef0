"""The Python peer of the serving benchmark: FastAPI + uvicorn + LightGBM, trained on
the same generated churn data as klartext, serving single-row predict with per-feature
contributions (pred_contrib), as klartext answers with its explanation.

  python peer.py train DATA.csv MODEL_DIR     # train and save the model
  PEER_MODEL=MODEL_DIR uvicorn peer:app ...   # serve POST /v1/usecases/churn/predict
"""
import json
import os
import sys
import time
import uuid

import lightgbm as lgb
import numpy as np
import pandas as pd

# The features klartext uses for the example use case: everything but the id, the
# target and the protected attributes.
DROP = ["customer_id", "churn", "female", "senior_citizen", "email", "phone"]


def prepare(df):
    X = df.drop(columns=[c for c in DROP if c in df.columns])
    cats = {}
    for c in X.columns:
        if c == "signup_date":
            X[c] = pd.to_datetime(X[c]).astype("int64") // 10**9
        elif not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
            cats[c] = list(X[c].cat.categories)
    return X, cats


def train(data, out):
    df = pd.read_csv(data)
    y = (df["churn"] == "Yes").astype(int)
    X, cats = prepare(df)
    t = time.time()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 31, "learning_rate": 0.1, "verbose": -1,
         "num_threads": 2, "seed": 42},
        lgb.Dataset(X, y), num_boost_round=100)
    os.makedirs(out, exist_ok=True)
    booster.save_model(os.path.join(out, "model.txt"))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"columns": list(X.columns), "categories": cats}, f)
    print(json.dumps({"trained_s": round(time.time() - t, 2), "rows": len(df), "features": list(X.columns)}))


if len(sys.argv) > 1 and sys.argv[1] == "train":
    train(sys.argv[2], sys.argv[3])
    sys.exit(0)

from typing import Any, Dict, Optional  # noqa: E402

from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

MODEL_DIR = os.environ.get("PEER_MODEL", "model")
booster = lgb.Booster(model_file=os.path.join(MODEL_DIR, "model.txt"))
meta = json.load(open(os.path.join(MODEL_DIR, "meta.json")))
COLUMNS = meta["columns"]
CODES = {c: {v: i for i, v in enumerate(levels)} for c, levels in meta["categories"].items()}
app = FastAPI()


class PredictRequest(BaseModel):
    subject_id: Optional[str] = None
    features: Dict[str, Any]


def row(features):
    x = np.full((1, len(COLUMNS)), np.nan)
    for i, c in enumerate(COLUMNS):
        v = features.get(c)
        if v is None:
            continue
        if c in CODES:
            x[0, i] = CODES[c].get(str(v), np.nan)
        elif c == "signup_date" and isinstance(v, str):
            x[0, i] = pd.Timestamp(v).timestamp()
        else:
            x[0, i] = float(v)
    return x


@app.post("/v1/usecases/churn/predict")
async def predict(req: PredictRequest, explain: bool = True):
    x = row(req.features)
    score = float(booster.predict(x, num_threads=1)[0])
    out = {
        "prediction_id": "pr_" + uuid.uuid4().hex[:24],
        "use_case": "churn",
        "score": score,
        "label": "Yes" if score >= 0.5 else "No",
        "fallback": False,
    }
    if explain:
        contrib = booster.predict(x, pred_contrib=True, num_threads=1)[0][:-1]
        order = np.argsort(-np.abs(contrib))
        out["explanation"] = [
            {"feature": COLUMNS[i], "value": req.features.get(COLUMNS[i]), "contribution": float(contrib[i])}
            for i in order
        ]
    return out
