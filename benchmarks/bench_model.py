"""Model figures (issue 3): quality against the Bayes limit, and training time at 1M lines.

Quality: simulate claims, train on the earliest ~200k lines (the rest of the
time split calibrates and holds out later lines), report holdout ROC AUC as a
ratio to the truth's AUC (the Bayes limit, from `true_denial_probability`) and
the expected calibration error. Median over several seeds.
Speed (the figure: training on 1M lines in at most 10 minutes on this 2-core
machine), each in a fresh child process, `--speed-runs` times, median reported:

* `fit_model` on 1M simulated lines (features, trees, calibration, reason
  model, baseline, evaluation): wall time and peak RSS;
* `denial-risk train --data 1M.csv` end to end, as a user runs it: reading and
  validating the CSV, fitting, plots, logging and registering the model in a
  fresh sqlite MLflow store.

    .venv/bin/python benchmarks/bench_model.py --quality-seeds 3 --train-rows 1000000 --speed-runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def quality_run(seed: int, train_lines: int) -> dict:
    from denial_risk.claims.table import load_claims
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model
    from denial_risk.synth.simulate import contract_frame, simulate_claims
    from denial_risk.tableio.files import write_table

    rows = int(train_lines / 0.70)  # time split: 70 % train, 15 % calibration, 15 % holdout
    tmp = Path(f"/tmp/bench_model_{seed}.parquet")
    write_table(contract_frame(simulate_claims(rows, seed)), tmp)
    frame, _ = load_claims(tmp)
    t = time.perf_counter()
    r = fit_model(frame, TrainConfig(seed=seed))
    m = r.metrics
    return {
        "seed": seed,
        "rows": rows,
        "train_rows": r.params["rows_train"],
        "fit_seconds": time.perf_counter() - t,
        "roc_auc": m["roc_auc"],
        "bayes_roc_auc": m["bayes_roc_auc"],
        "auc_ratio_to_bayes": m["auc_ratio_to_bayes"],
        "ece": m["ece"],
        "baseline_roc_auc": r.baseline_metrics["roc_auc"],
        "classifier": r.params["classifier"],
    }


def _data(rows: int) -> tuple[Path, Path]:
    """`rows` labelled simulated lines as Parquet (for fit_model) and CSV (for the CLI), made once."""
    pq_path, csv_path = Path(f"/tmp/bench_model_{rows}.parquet"), Path(f"/tmp/bench_model_{rows}.csv")
    if not (pq_path.exists() and csv_path.exists()):
        from denial_risk.synth.simulate import contract_frame, simulate_claims
        from denial_risk.tableio.files import write_table

        frame = contract_frame(simulate_claims(rows, 99))
        write_table(frame, pq_path)
        write_table(frame, csv_path)
    return pq_path, csv_path


def speed_run(pq_path: Path, rows: int) -> dict:
    """fit_model on `rows` lines in a child process: wall time and peak RSS."""
    code = f"""
import json, resource, time
from denial_risk.claims.table import load_claims
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.train import fit_model
frame, _ = load_claims({str(pq_path)!r})
t = time.perf_counter()
r = fit_model(frame, TrainConfig())
print(json.dumps({{"rows": {rows}, "fit_seconds": time.perf_counter() - t,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "roc_auc": r.metrics["roc_auc"], "auc_ratio_to_bayes": r.metrics["auc_ratio_to_bayes"],
                  "ece": r.metrics["ece"], "trees": r.params.get("trees")}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_run(csv_path: Path) -> dict:
    """`denial-risk train` end to end into a fresh sqlite store: wall time and the child's peak RSS."""
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        exe = Path(sys.executable).with_name("denial-risk")
        log = Path(tmp) / "train.log"
        with open(log, "w") as f:
            t = time.perf_counter()
            proc = subprocess.Popen(
                [str(exe), "train", "--data", str(csv_path), "--experiment", "bench-1m"],
                stdout=f,
                stderr=subprocess.STDOUT,
                cwd=tmp,
                env=env,
            )
            _, status, ru = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t
        text = log.read_text()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"denial-risk train failed: {text[-3000:]}")
    return {
        "seconds": wall,
        "peak_rss_gb": ru.ru_maxrss / 2**20,
        "last_lines": [ln for ln in text.strip().splitlines() if ln.strip()][-3:],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quality-seeds", type=int, default=3)
    ap.add_argument("--quality-train-lines", type=int, default=200_000)
    ap.add_argument("--train-rows", type=int, default=1_000_000, help="rows for the speed run (0 = skip)")
    ap.add_argument("--speed-runs", type=int, default=3, help="speed runs (median reported)")
    args = ap.parse_args()
    cmd = "python benchmarks/bench_model.py " + " ".join(sys.argv[1:])
    load = os.getloadavg()[0]
    quality = []
    for seed in range(1, args.quality_seeds + 1):
        q = quality_run(seed, args.quality_train_lines)
        print(json.dumps(q), flush=True)
        quality.append(q)
    result = {"command": cmd, "load_average_1m_at_start": load}
    if quality:
        result["quality_runs"] = quality
        result["quality_median"] = {
            k: statistics.median(q[k] for q in quality)
            for k in ("roc_auc", "bayes_roc_auc", "auc_ratio_to_bayes", "ece", "fit_seconds")
        }
        print("median:", json.dumps(result["quality_median"]), flush=True)
    if args.train_rows:
        pq_path, csv_path = _data(args.train_rows)
        fits, clis = [], []
        for _ in range(args.speed_runs):
            fits.append(speed_run(pq_path, args.train_rows))
            print("fit_model:", json.dumps(fits[-1]), flush=True)
            clis.append(cli_run(csv_path))
            print("denial-risk train:", json.dumps(clis[-1]), flush=True)
        result["speed"] = {
            "rows": args.train_rows,
            "runs": args.speed_runs,
            "fit_seconds": [round(f["fit_seconds"], 1) for f in fits],
            "fit_median_seconds": round(statistics.median(f["fit_seconds"] for f in fits), 1),
            "fit_peak_rss_gb": round(max(f["peak_rss_gb"] for f in fits), 2),
            "cli_train_seconds": [round(c["seconds"], 1) for c in clis],
            "cli_train_median_seconds": round(statistics.median(c["seconds"] for c in clis), 1),
            "cli_peak_rss_gb": round(max(c["peak_rss_gb"] for c in clis), 2),
            "roc_auc": fits[-1]["roc_auc"],
            "auc_ratio_to_bayes": fits[-1]["auc_ratio_to_bayes"],
            "ece": fits[-1]["ece"],
            "trees": fits[-1]["trees"],
            "load_average_1m_at_end": os.getloadavg()[0],
            "target_seconds": 600,
        }
        print("speed:", json.dumps(result["speed"]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "model.json"
    if path.exists():  # a speed-only run keeps the quality figures of the last quality run, and vice versa
        previous = json.loads(path.read_text())
        kept = [k for k in ("quality_runs", "quality_median", "speed") if k not in result and k in previous]
        if kept:
            result.update(
                {k: previous[k] for k in kept},
                kept_from_previous_run=kept,
                previous_command=previous.get("command"),
            )
    path.write_text(json.dumps(result, indent=1))
    print(f"written {RESULTS / 'model.json'}  (command: {cmd})")


if __name__ == "__main__":
    main()
