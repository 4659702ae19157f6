"""The retraining figure (issue 7): a rolling monthly backtest across the simulator's policy change.

Simulates 24 months with COM301's mid-period prior-authorization change (month 12),
runs `run_backtest` with enough folds that the first (frozen) model is trained
before the change, and writes the plot to docs/images/backtest.png and the table
to benchmarks/results/backtest.json. Uses a throw-away MLflow store.

    .venv/bin/python benchmarks/bench_backtest.py --rows 60000 --folds 14
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=60_000)
    ap.add_argument("--folds", type=int, default=14)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    os.chdir(tmp)
    from denial_risk.claims.table import load_claims
    from denial_risk.jobs.backtest import plot_backtest, run_backtest
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.synth.simulate import contract_frame, policy_change_date, simulate_claims
    from denial_risk.tableio.files import write_table

    write_table(contract_frame(simulate_claims(args.rows, args.seed)), tmp / "claims.parquet")
    frame, _ = load_claims(tmp / "claims.parquet")
    table = run_backtest(frame, args.folds, TrainConfig(small_data_rows=0))
    change = str(policy_change_date().to_period("M"))
    fig = plot_backtest(table, policy_change=change)
    out = ROOT / "docs" / "images" / "backtest.png"
    fig.savefig(out, dpi=110)
    # the affected slice: COM301 knee orthoses, predicted vs realised after the change
    cols = [
        "test_month",
        "train_lines",
        "retrained_roc_auc",
        "frozen_roc_auc",
        "retrained_ece",
        "frozen_ece",
        "retrained_mean_probability",
        "frozen_mean_probability",
        "retrained_denial_rate",
    ]
    result = {
        "command": "python benchmarks/bench_backtest.py " + " ".join(sys.argv[1:]),
        "policy_change": change,
        "folds": table[cols].round(4).to_dict(orient="records"),
    }
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "backtest.json").write_text(json.dumps(result, indent=1))
    print(table[cols].round(3).to_string(index=False))
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
