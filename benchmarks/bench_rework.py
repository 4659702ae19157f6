"""Benchmark: does the rework queue put the recoverable dollars first? Judged by the simulated world.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_rework.py [--train-rows 60000] [--score-rows 60000]

Setup: a world of `--train-rows` lines (seed `--train-seed`, 24 months from 2024-01)
whose denials a team worked (`synth.rework`); its linked history trains the recovery
model (`rework.history.fit_recovery`: earlier part fitted, later part calibrates).
Another seed (`--score-seed`, 30 months): its denials remitted in the last
`--open-months` months before the period's end are the open denials on that day;
`rework_queue` ranks them. The world then judges every line under the queue's action
(`synth.rework.true_recovery`: the true cause, the action, no deadline missed: the queue
already turns a passed deadline into no_rework) and draws the outcome (`--draws` times).

Reported: the share of recovered dollars in the top 10 % and 20 % of the lines, in the
queue's order and in three others: the oracle (the world's own P(paid) x the payer's
amount), CARC only (the history's recovery rate of the line's CARC) and billed amount;
the queue's capture as a share of the oracle's; AUC and ECE of `recovery_probability`
against the drawn outcomes of the lines with an action. Results: benchmarks/results/rework.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

START = "2024-01-01"
TARGETS = {"oracle_share_at_20": 0.9}


def capture(order_key: np.ndarray, dollars: np.ndarray, share: float, tiebreak: np.ndarray) -> float:
    """Share of `dollars` in the first `share` of the lines, ordered by `order_key` (high first)."""
    order = np.lexsort((-tiebreak, -order_key))
    k = int(np.ceil(share * len(order)))
    total = dollars.sum()
    return float(dollars[order[:k]].sum() / total) if total > 0 else float("nan")


def _carc_rates(history: pd.DataFrame) -> dict[str, float]:
    from denial_risk.rework.history import training_examples

    facts, _, y, _ = training_examples(history)
    carcs = pd.Series([f["carc"] for f in facts])
    return pd.Series(y).groupby(carcs).mean().to_dict()


def evaluate(
    train_rows: int, score_rows: int, train_seed: int, score_seed: int, open_months: int, draws: int
):
    from denial_risk.modeling.evaluate import expected_calibration_error
    from denial_risk.rework.history import fit_recovery
    from denial_risk.rework.queue import rework_queue
    from denial_risk.synth.rework import true_recovery
    from denial_risk.synth.rework_team import history_table, simulate_rework

    t0 = time.perf_counter()
    train = history_table(simulate_rework(train_rows, train_seed, START, 24))
    model = fit_recovery(train)
    rates = _carc_rates(train)
    fit_s = time.perf_counter() - t0
    test = simulate_rework(score_rows, score_seed, START, 30)
    frame = test.frame
    as_of = pd.Timestamp(START) + pd.DateOffset(months=30)  # the day after the period's last service
    open_from = as_of - pd.DateOffset(months=open_months)
    remitted = pd.to_datetime(frame["adjudication_date"])
    keep = (remitted > open_from) & (remitted <= as_of)
    pool = frame[keep]
    queue = rework_queue(pool, as_of, model)
    key = pool.set_index(["claim_id", "line_number"]).index
    pos = key.get_indexer(pd.MultiIndex.from_arrays([queue["claim_id"], queue["line_number"]]))
    rows = pool.index[pos]
    cause = test.cause[frame.index.get_indexer(rows)]
    payable = test.payable[frame.index.get_indexer(rows)]
    p_true = true_recovery(cause, queue["action"].tolist())
    rng = np.random.default_rng(score_seed)
    billed = queue["billed_amount"].to_numpy(dtype=float)
    carc_rate = queue["denial_reason"].map(rates).fillna(0.0).to_numpy(dtype=float)
    orders = {
        "queue": -queue["rework_rank"].to_numpy(dtype=float),
        "oracle": p_true * payable,
        "carc_only": carc_rate,
        "billed_amount": billed,
    }
    res = {name: {"top10": [], "top20": []} for name in orders}
    aucs, eces = [], []
    acted = (queue["action"] != "no_rework").to_numpy()
    p = queue["recovery_probability"].to_numpy(dtype=float)
    from sklearn.metrics import roc_auc_score

    for _ in range(draws):
        paid = rng.random(len(queue)) < p_true
        dollars = paid * payable
        for name, k in orders.items():
            for share, col in ((0.1, "top10"), (0.2, "top20")):
                res[name][col].append(capture(k, dollars, share, billed))
        y = paid[acted].astype(float)
        if len(set(y)) == 2:
            aucs.append(roc_auc_score(y, p[acted]))
            eces.append(expected_calibration_error(y, p[acted]))
    out = {name: {k: float(np.mean(v)) for k, v in d.items()} for name, d in res.items()}
    out["queue_share_of_oracle"] = {
        k: out["queue"][k] / out["oracle"][k] if out["oracle"][k] else float("nan")
        for k in ("top10", "top20")
    }
    out["recovery_probability"] = {"auc": float(np.mean(aucs)), "ece": float(np.mean(eces))}
    out["lines"] = {
        "queue": int(len(queue)),
        "with_action": int(acted.sum()),
        "history_examples": int(model.n_train_ + model.n_calibration_),
    }
    out["seconds"] = {"simulate_and_fit": round(fit_s, 1), "total": round(time.perf_counter() - t0, 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-rows", type=int, default=60000)
    ap.add_argument("--score-rows", type=int, default=60000)
    ap.add_argument("--train-seed", type=int, default=11)
    ap.add_argument("--score-seed", type=int, default=12)
    ap.add_argument("--open-months", type=int, default=3)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "rework.json"))
    a = ap.parse_args()
    result = evaluate(a.train_rows, a.score_rows, a.train_seed, a.score_seed, a.open_months, a.draws)
    q, o = result["queue_share_of_oracle"], result
    result["targets"] = {
        "oracle_share_at_20": TARGETS["oracle_share_at_20"],
        "met_oracle_share": q["top20"] >= TARGETS["oracle_share_at_20"],
        "ahead_of_baselines_at_20": o["queue"]["top20"]
        > max(o["carc_only"]["top20"], o["billed_amount"]["top20"]),
        "ahead_of_baselines_at_10": o["queue"]["top10"]
        > max(o["carc_only"]["top10"], o["billed_amount"]["top10"]),
    }
    result["settings"] = {**vars(a), "python": platform.python_version(), "machine": platform.machine()}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1))
    for name in ("queue", "oracle", "carc_only", "billed_amount"):
        print(f"{name:14s} top10 {result[name]['top10']:.3f}  top20 {result[name]['top20']:.3f}")
    print(f"queue / oracle  top10 {q['top10']:.3f}  top20 {q['top20']:.3f}")
    print(
        f"recovery_probability AUC {result['recovery_probability']['auc']:.3f} "
        f"ECE {result['recovery_probability']['ece']:.3f}"
    )
    print(json.dumps(result["targets"]), f"-> {a.out}")


if __name__ == "__main__":
    main()
