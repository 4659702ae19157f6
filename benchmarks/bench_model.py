"""Model figures (issue 3): quality against the Bayes limit, and training time at 1M lines.

Quality: simulate claims, train on the earliest ~200k lines (the rest of the
time split calibrates and holds out later lines), report holdout ROC AUC as a
ratio to the truth's AUC (the Bayes limit, from `true_denial_probability`) and
the expected calibration error. Median over several seeds.
Speed: `fit_model` on 1M simulated lines, wall time and peak RSS of a child
process (the figure: at most 10 minutes on this 2-core machine).

    .venv/bin/python benchmarks/bench_model.py --quality-seeds 3 --train-rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def quality_run(seed: int, train_lines: int) -> dict:
    from denial_risk.simulate import contract_frame, simulate_claims
    from denial_risk.io import write_table
    from denial_risk.claims import load_claims
    from denial_risk.training import TrainConfig, fit_model

    rows = int(train_lines / 0.70)  # time split: 70 % train, 15 % calibration, 15 % holdout
    tmp = Path(f"/tmp/bench_model_{seed}.parquet")
    write_table(contract_frame(simulate_claims(rows, seed)), tmp)
    frame, _ = load_claims(tmp)
    t = time.perf_counter()
    r = fit_model(frame, TrainConfig(seed=seed), log=lambda *a: None)
    m = r.metrics
    return {"seed": seed, "rows": rows, "train_rows": r.params["rows_train"], "fit_seconds": time.perf_counter() - t,
            "roc_auc": m["roc_auc"], "bayes_roc_auc": m["bayes_roc_auc"], "auc_ratio_to_bayes": m["auc_ratio_to_bayes"],
            "ece": m["ece"], "baseline_roc_auc": r.baseline_metrics["roc_auc"], "classifier": r.params["classifier"]}


def speed_run(rows: int) -> dict:
    """fit_model on `rows` lines in a child process: wall time and peak RSS."""
    code = f"""
import json, resource, time
from denial_risk.simulate import contract_frame, simulate_claims
from denial_risk.io import write_table
from denial_risk.claims import load_claims
from denial_risk.training import TrainConfig, fit_model
write_table(contract_frame(simulate_claims({rows}, 99)), '/tmp/bench_model_speed.parquet')
frame, _ = load_claims('/tmp/bench_model_speed.parquet')
t = time.perf_counter()
r = fit_model(frame, TrainConfig(), log=lambda *a: None)
print(json.dumps({{"rows": {rows}, "fit_seconds": time.perf_counter() - t,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "roc_auc": r.metrics["roc_auc"], "auc_ratio_to_bayes": r.metrics["auc_ratio_to_bayes"],
                  "ece": r.metrics["ece"], "trees": r.params.get("trees")}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quality-seeds", type=int, default=3)
    ap.add_argument("--quality-train-lines", type=int, default=200_000)
    ap.add_argument("--train-rows", type=int, default=1_000_000, help="rows for the speed run (0 = skip)")
    args = ap.parse_args()
    cmd = "python benchmarks/bench_model.py " + " ".join(sys.argv[1:])
    load = os.getloadavg()[0]
    quality = []
    for seed in range(1, args.quality_seeds + 1):
        q = quality_run(seed, args.quality_train_lines)
        print(json.dumps(q), flush=True)
        quality.append(q)
    result = {"command": cmd, "load_average_1m_at_start": load, "quality_runs": quality}
    if quality:
        result["quality_median"] = {k: statistics.median(q[k] for q in quality)
                                    for k in ("roc_auc", "bayes_roc_auc", "auc_ratio_to_bayes", "ece", "fit_seconds")}
        print("median:", json.dumps(result["quality_median"]), flush=True)
    if args.train_rows:
        s = speed_run(args.train_rows)
        print("speed:", json.dumps(s), flush=True)
        result["speed"] = s
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "model.json").write_text(json.dumps(result, indent=1))
    print(f"written {RESULTS / 'model.json'}  (command: {cmd})")


if __name__ == "__main__":
    main()
