"""Benchmark: what the rule layer (certain findings and rule-aware risk on every line) adds to the worklist.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_rules.py --baseline-src ../main/src \
        [--rows 200000] [--train-rows 60000] [--runs 3]

Setup (not timed): simulates `--train-rows` labelled lines, fits the model with this tree's
code, simulates `--rows` backlog lines (labels dropped) as CSV. Timed, each in a fresh process,
alternating, `--runs` times: `worklist.score_file` (default options) with this tree's package,
and the same with `--baseline-src` (a checkout without the rule layer, e.g. main). The model
is the same pickle for both (a baseline ignores the rule counts it records). Reports the medians
and their ratio; the issue's goal is <= 1.10 at 1M lines (`bench_worklist.py`'s size).
Results: benchmarks/results/rules.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import os, pickle, time, json
from denial_risk.scoring.worklist import score_file
model = pickle.load(open({model!r}, "rb"))
load = os.getloadavg()[0]
t = time.perf_counter()
r = score_file({data!r}, {out!r}, model, progress=False)
print(json.dumps({{"seconds": time.perf_counter() - t, "load_avg_1m_at_start": load, "scored": r.scored}}))
"""


def setup(work: Path, rows: int, train_rows: int, seed: int) -> tuple[Path, Path]:
    from denial_risk.claims.table import load_claims
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model
    from denial_risk.synth.simulate import contract_frame, simulate_claims
    from denial_risk.tableio import files

    model_path, data = work / f"rules_model_{train_rows}.pkl", work / f"rules_backlog_{rows}.csv"
    if not model_path.exists():
        train_csv = work / f"rules_train_{train_rows}.csv"
        files.write_table(contract_frame(simulate_claims(train_rows, seed)), train_csv)
        frame, _ = load_claims(train_csv)
        model_path.write_bytes(pickle.dumps(fit_model(frame, TrainConfig()).model))
    if not data.exists():
        labels = ["denied", "denial_reason", "paid_amount", "true_denial_probability"]
        files.write_table(contract_frame(simulate_claims(rows, seed + 1)).drop(columns=labels), data)
    return model_path, data


def timed(src: str, model: Path, data: Path, out: Path) -> dict:
    code = CHILD.format(model=str(model), data=str(data), out=str(out))
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-src", required=True, help="src/ of a checkout without the rule layer")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--train-rows", type=int, default=60_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / ".work"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "rules.json"))
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model, data = setup(work, args.rows, args.train_rows, args.seed)
    runs: dict[str, list[dict]] = {"rules": [], "baseline": []}
    for _ in range(args.runs):
        runs["rules"].append(timed(str(ROOT / "src"), model, data, work / "rules_out.parquet"))
        runs["baseline"].append(timed(args.baseline_src, model, data, work / "baseline_out.parquet"))
        print(f"rules {runs['rules'][-1]['seconds']:.1f} s, baseline {runs['baseline'][-1]['seconds']:.1f} s")
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    result = {
        "command": "benchmarks/bench_rules.py " + " ".join(sys.argv[1:]),
        "rows": args.rows,
        "train_rows": args.train_rows,
        "median_seconds": med,
        "ratio": med["rules"] / med["baseline"],
        "runs": runs,
        "cpu_count": os.cpu_count(),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"rule layer: {med['rules']:.1f} s against {med['baseline']:.1f} s: ratio {result['ratio']:.3f}")


if __name__ == "__main__":
    main()
