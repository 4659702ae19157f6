"""Benchmark: the reason model (`likely_denial_codes` on every line) — holdout accuracy against cost.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_reason_model.py [--rows 100000] [--seed 1]

Simulates `--rows` labelled lines (or reads `--train-csv`), splits them by time as training does, builds
the features once (`fit_model` on the lines), then fits on the training slice's denied lines:

* **trees**: the 13-class HistGradientBoosting reason model used before issue 23 (early stopping,
  15 leaves a tree);
* **logistic**: today's `modeling.reason_model.fit_reason_model` (multinomial, standardised).

Reported for each: top-1 and top-3 accuracy on the holdout's denied lines (`evaluate.reason_accuracy`:
a pooled class is never a hit), and the median seconds of `predict_proba` on 40k lines (3 runs,
one thread). Results: benchmarks/results/reason_model.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402


def trees_reason_model(X, reasons, y, seed):
    """The reason model before issue 23 (for comparison only)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    from denial_risk.features.select import InformativeColumns
    from denial_risk.modeling.reason_model import REASON_MIN_LINES

    denied = y == 1
    labels = reasons[denied].astype("string").fillna("unknown").to_numpy().astype(str)
    values, counts = np.unique(labels, return_counts=True)
    labels = np.where(np.isin(labels, list(values[counts >= REASON_MIN_LINES])), labels, "other")
    model = make_pipeline(
        InformativeColumns(),
        HistGradientBoostingClassifier(
            learning_rate=0.1, max_iter=200, max_leaf_nodes=15, early_stopping=True, random_state=seed
        ),
    )
    return model.fit(X[denied], labels)


def measure(model, X_hold, denied, truth, X_time) -> dict:
    from denial_risk.modeling.evaluate import reason_accuracy

    classes = np.asarray(model.classes_).astype(str)
    proba = model.predict_proba(X_hold[denied])
    top = np.argsort(-proba, axis=1)[:, :5]
    rows = [[(classes[j], proba[i, j]) for j in row] for i, row in enumerate(top)]
    seconds = []
    for _ in range(3):
        t = time.perf_counter()
        model.predict_proba(X_time)
        seconds.append(time.perf_counter() - t)
    trees = sum(len(it) for it in getattr(model[-1], "_predictors", []))
    return {
        **{k: round(v, 4) for k, v in reason_accuracy(rows, truth[denied]).items()},
        "predict_40k_seconds": round(statistics.median(seconds), 3),
        "trees": trees,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-csv", default=None, help="a labelled claim file instead of a simulated one")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reason_model.json"))
    args = ap.parse_args()
    from denial_risk.claims.table import load_claims
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.reason_model import fit_reason_model
    from denial_risk.modeling.train import fit_model, time_split
    from denial_risk.synth.simulate import contract_frame, simulate_claims

    path = args.train_csv
    if not path:  # simulated, written and read back as any claim file is
        import tempfile

        from denial_risk.tableio.files import write_table

        path = Path(tempfile.mkdtemp()) / "train.csv"
        write_table(contract_frame(simulate_claims(args.rows, args.seed)), path)
    frame, _ = load_claims(path)
    config = TrainConfig()
    model = fit_model(frame, config).model  # the features as training fits them
    labelled = frame[frame["denied"].notna()]
    train, _, hold = time_split(labelled, config.calibration_share, config.holdout_share)
    X_tr = model.transform(train).astype(np.float32)
    y_tr = train["denied"].astype(bool).to_numpy().astype(int)
    X_hold = model.transform(hold)
    denied = hold["denied"].astype(bool).to_numpy()
    X_time = np.resize(X_hold, (40_000, X_hold.shape[1]))
    truth = hold["denial_reason"]
    result = {
        "benchmark": "reason model: holdout accuracy and predict time",
        "command": "PYTHONPATH=src .venv/bin/python benchmarks/bench_reason_model.py "
        + " ".join(sys.argv[1:]),
        "rows": len(frame),
        "holdout_denied_lines": int(denied.sum()),
        "trees": measure(
            trees_reason_model(X_tr, train["denial_reason"], y_tr, 0), X_hold, denied, truth, X_time
        ),
        "logistic": measure(
            fit_reason_model(X_tr, train["denial_reason"], y_tr, 0), X_hold, denied, truth, X_time
        ),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
