"""Benchmark: the Spark engine (local[2]) against the local engine on the same 1M claim lines.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_spark.py [--rows 1000000] [--train-rows 12000] [--runs 1]

Setup (not timed): simulates `--train-rows` labelled lines, trains and registers
a model (`workflows.train_and_register`) in a temporary sqlite MLflow store,
simulates `--rows` backlog lines and writes them as CSV.

Timed, each in a fresh process, same machine, same run (alternating, `--runs`
times, median reported):

* **local**: `denial-risk score --data backlog.csv --out local.parquet --model models:/denial-risk@champion`
* **spark**: `spark_engine.score_spark(..., master="local[2]")` (JVM and session start-up included)

Both get OMP_NUM_THREADS=1 (on a shared 2-CPU machine OpenMP spinning slows
tree prediction for both). The two outputs are compared (max probability
difference, identical ranks). Results: benchmarks/results/spark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _timed(argv: list[str], env: dict) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[:4]} failed:\n{err[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime  # children of the child (Spark workers, JVM) not included


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--train-rows", type=int, default=12_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one)")
    args = ap.parse_args()

    import numpy as np
    import pandas as pd

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_spark."))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(ROOT / "src"),
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
    )
    os.environ.update({k: env[k] for k in ("MLFLOW_TRACKING_URI", "OMP_NUM_THREADS")})
    os.chdir(work)

    from denial_risk.jobs.train import train_and_register
    from denial_risk.synth.simulate import simulate_claims

    t0 = time.perf_counter()
    simulate_claims(rows=args.train_rows, seed=3).to_csv("train.csv", index=False)
    train_and_register("train.csv")
    backlog = simulate_claims(rows=args.rows, seed=7)
    backlog.drop(
        columns=[
            c
            for c in ("denied", "denial_reason", "paid_amount", "true_denial_probability")
            if c in backlog.columns
        ]
    ).to_csv("backlog.csv", index=False)
    del backlog
    setup = time.perf_counter() - t0
    print(f"setup (simulate, train, register) {setup:.0f}s in {work}", flush=True)

    model = "models:/denial-risk@champion"
    local_cmd = [
        str(Path(sys.executable).parent / "denial-risk"),
        "score",
        "--data",
        "backlog.csv",
        "--out",
        "local.parquet",
        "--model",
        model,
        "--no-progress",
    ]
    spark_cmd = [
        sys.executable,
        "-c",
        "from denial_risk.jobs.spark import score_spark; "
        f"score_spark('backlog.csv', 'spark.parquet', '{model}', master='{args.master}')",
    ]
    times = {"local": [], "spark": []}
    cpu = {"local": [], "spark": []}
    loads = []
    for i in range(args.runs):
        for name, cmd in (("local", local_cmd), ("spark", spark_cmd)):
            wall, used = _timed(cmd, env)
            times[name].append(round(wall, 1))
            cpu[name].append(round(used, 1))
            loads.append(round(os.getloadavg()[0], 1))
            print(f"run {i + 1} {name}: {wall:.1f}s", flush=True)

    a = pd.read_parquet("local.parquet", columns=["denial_probability", "risk_rank"])
    b = pd.read_parquet("spark.parquet", columns=["denial_probability", "risk_rank"])
    same_ranks = bool(len(a) == len(b) and (a["risk_rank"].to_numpy() == b["risk_rank"].to_numpy()).all())
    max_diff = float(np.abs(a["denial_probability"].to_numpy() - b["denial_probability"].to_numpy()).max())

    result = {
        "benchmark": "spark engine vs local engine",
        "command": "PYTHONPATH=src .venv/bin/python benchmarks/bench_spark.py " + " ".join(sys.argv[1:]),
        "rows": args.rows,
        "train_rows": args.train_rows,
        "runs": args.runs,
        "master": args.master,
        "local_command": " ".join(local_cmd[1:]).replace(str(Path(sys.executable).parent) + "/", ""),
        "spark_call": f"score_spark('backlog.csv', 'spark.parquet', '{model}', master='{args.master}')",
        "local_seconds": times["local"],
        "spark_seconds": times["spark"],
        "local_median_seconds": statistics.median(times["local"]),
        "spark_median_seconds": statistics.median(times["spark"]),
        "spark_over_local": round(statistics.median(times["spark"]) / statistics.median(times["local"]), 2),
        "local_driver_cpu_seconds": cpu["local"],
        "spark_driver_cpu_seconds": cpu["spark"],
        "max_probability_difference": max_diff,
        "identical_ranks": same_ranks,
        "scored_lines": len(a),
        "setup_seconds": round(setup, 1),
        "load_avg_1m_after_each": loads,
        "omp_threads": 1,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    out = ROOT / "benchmarks" / "results" / "spark.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
