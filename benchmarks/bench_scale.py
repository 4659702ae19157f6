"""Benchmark: training at scale (issue 15): time, peak memory and AUC against training rows.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_scale.py \
        [--sizes 100000,300000,1000000,3000000,10000000] [--budget 10000000=6GB]

Setup (not timed), made once under `--work`:

* one labelled CSV per size. Up to 1M lines it is `simulate_claims(N, seed 500)` over 24
  months; past 1M it is 1M-line parts of seeds 500, 501, ... over the same months (the same
  world, more patients), claim and patient ids prefixed per part. The 1M file is part 0.
* one common evaluation file: 300k lines of seed 999 in the six months after the training
  period (2026-01 to 2026-06), so every model is compared on the same later lines.

Timed, each size in a fresh child process with its own sqlite MLflow store: the product's
training job as `denial-risk train` runs it (`jobs.train.train_and_register`: reading and
validating the CSV, the memory budget and its time-aware sample, features, trees,
calibration, fix effects, logging and registering). Reported: wall time, the child's peak
RSS (os.wait4), whether the training period was sampled, the holdout AUC of its own
later-dated holdout, and the AUC on the common evaluation file (`jobs.train.evaluate_model`).
`--budget SIZE=BUDGET` passes `--memory-budget` for that size (default: the product's
default, half the machine's RAM). Run it as a user runs `train`: without OMP_NUM_THREADS, so the
trees use every core (each run records its setting). Results are written after each size into
benchmarks/results/scale.json; a size not re-run keeps its earlier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PART = 1_000_000
SEED = 500

TRAIN_CHILD = r"""
import json, logging, sys
sys.path.insert(0, {src!r})
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
from denial_risk.jobs.train import train_and_register
r = train_and_register({data!r}, experiment="scale", memory_budget={budget!r})
print(json.dumps({{"version": r["version"], "metrics": r["metrics"]}}))
"""

EVAL_CHILD = r"""
import json, sys
sys.path.insert(0, {src!r})
from denial_risk.jobs.train import evaluate_model
m = evaluate_model({data!r}, "models:/denial-risk/{version}", experiment="scale-eval")
print(json.dumps(m))
"""


def _child(code: str, cwd: str, log: Path) -> tuple[dict, float, float, float]:
    """(last JSON line printed, wall seconds, peak RSS GB, CPU seconds) of `python -c code` (os.wait4 on
    it). CPU seconds (user + system, every thread) tell the work apart from a shared machine's waiting."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlflow.db",
    }
    with open(log, "w") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=err, cwd=cwd, env=env
        )
        out = proc.stdout.read()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"child failed:\n{log.read_text()[-3000:]}")
    cpu = ru.ru_utime + ru.ru_stime
    return json.loads(out.decode().strip().splitlines()[-1]), wall, ru.ru_maxrss / 2**20, cpu


def _write_parts(path: Path, rows: int) -> None:
    """`rows` lines as CSV: one simulation up to `PART`, else `PART`-line parts of successive seeds."""
    from denial_risk.synth.simulate import contract_frame, simulate_claims
    from denial_risk.tableio import files

    tmp = path.with_suffix(".partial")
    if rows <= PART:
        files.write_table(contract_frame(simulate_claims(rows, SEED)), tmp.with_suffix(".csv"))
        tmp.with_suffix(".csv").rename(path)
        return
    with open(tmp, "wb") as out:
        for k in range(-(-rows // PART)):
            frame = contract_frame(simulate_claims(min(PART, rows - k * PART), SEED + k))
            if k:
                for c in ("claim_id", "patient_id"):
                    frame[c] = f"S{k}-" + frame[c].astype(str)
            part = path.with_name(f".part{k}.csv")
            files.write_table(frame, part)
            del frame
            with open(part, "rb") as p:
                if k:
                    p.readline()  # the header once
                while block := p.read(1 << 24):
                    out.write(block)
            part.unlink()
            print(f"  part {k + 1} of {-(-rows // PART)} written", flush=True)
    tmp.rename(path)


def _eval_file(work: Path) -> Path:
    from denial_risk.synth.simulate import contract_frame, simulate_claims
    from denial_risk.tableio import files

    path = work / "eval_300000.csv"
    if not path.exists():
        files.write_table(contract_frame(simulate_claims(300_000, 999, start="2026-01-01", months=6)), path)
    return path


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,300000,1000000,3000000,10000000")
    ap.add_argument("--budget", action="append", default=[], metavar="SIZE=BUDGET")
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / ".work"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    ap.add_argument("--plot", metavar="PNG", help="only draw the learning curve from --out into PNG")
    args = ap.parse_args(argv)
    if args.plot:
        plot(args.out, args.plot)
        return json.loads(Path(args.out).read_text())
    sizes = [int(s) for s in args.sizes.split(",")]
    budgets = {int(k): v for k, v in (b.split("=", 1) for b in args.budget)}
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    command = "PYTHONPATH=src .venv/bin/python benchmarks/bench_scale.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    print(command, flush=True)
    evaluation = _eval_file(work)
    src = str(ROOT / "src")
    previous = Path(args.out)
    runs = json.loads(previous.read_text())["runs"] if previous.exists() else []
    for n in sizes:
        data = work / f"scale_{n}.csv"
        if not data.exists():
            t = time.perf_counter()
            _write_parts(data, n)
            print(f"{n:,} lines simulated in {time.perf_counter() - t:.0f} s", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
            log = work / f"scale_{n}.log"
            budget = budgets.get(n)
            load_at_start = os.getloadavg()[0]
            trained, wall, peak, cpu = _child(
                TRAIN_CHILD.format(src=src, data=str(data), budget=budget), tmp, log
            )
            evaluated, *_ = _child(
                EVAL_CHILD.format(src=src, data=str(evaluation), version=trained["version"]),
                tmp,
                work / f"scale_{n}_eval.log",
            )
            sampled = [ln for ln in log.read_text().splitlines() if "memory budget:" in ln or "sampled" in ln]
        m = trained["metrics"]
        run = {
            "rows": n,
            "memory_budget": budget or "default (half the machine's RAM)",
            "train_seconds": round(wall, 1),
            "train_cpu_seconds": round(cpu, 1),
            "peak_rss_gb": round(peak, 2),
            "holdout_roc_auc": round(m["roc_auc"], 4),
            "holdout_auc_ratio_to_bayes": round(m.get("auc_ratio_to_bayes", float("nan")), 4),
            "eval_roc_auc": round(evaluated["roc_auc"], 4),
            "eval_auc_ratio_to_bayes": round(evaluated.get("auc_ratio_to_bayes", float("nan")), 4),
            "sampling_log": sampled[-2:],
            "load_avg_1m_at_start": round(load_at_start, 1),
            "load_avg_1m_at_end": round(os.getloadavg()[0], 1),
            "omp_threads": os.environ.get("OMP_NUM_THREADS", f"unset ({os.cpu_count()} cores)"),
        }
        runs = [r for r in runs if r["rows"] != n] + [run]
        print(json.dumps(run), flush=True)
        _write(args.out, command, sorted(runs, key=lambda r: r["rows"]))
    return json.loads(Path(args.out).read_text())


def plot(result_path: str, image: str) -> None:
    """The learning curve (AUC on the common later file against training rows) as a PNG for the README."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = json.loads(Path(result_path).read_text())["runs"]
    rows = [r["rows"] for r in runs]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(rows, [r["eval_roc_auc"] for r in runs], "o-", label="model (later 300k-line file)")
    bayes = [r["eval_roc_auc"] / r["eval_auc_ratio_to_bayes"] for r in runs]
    ax.plot(rows, bayes, "--", color="grey", label="Bayes limit (the simulator's truth)")
    for r in runs:
        if r["sampling_log"]:
            ax.annotate(
                f"sampled ({r['memory_budget']} budget)",
                (r["rows"], r["eval_roc_auc"]),
                textcoords="offset points",
                xytext=(-130, -4),
                fontsize=8,
            )
    ax.set_xscale("log")
    ax.set_xlabel("labelled lines in the training file")
    ax.set_ylabel("ROC AUC")
    ax.set_title("What more remits buy")
    ax.legend(loc="center left", fontsize=8)
    fig.tight_layout()
    fig.savefig(image, dpi=110)


def _write(out: str, command: str, runs: list[dict]) -> None:
    """The results so far (a size measured before and not re-run keeps its figures)."""
    result = {
        "benchmark": "training at scale: time, peak memory and AUC against training rows",
        "command": command,
        "eval_file": "300,000 lines of seed 999, 2026-01 to 2026-06 (after every training period)",
        "runs": runs,
        "targets": {
            "1M": "peak <= 3 GB, time <= 4 min",
            "10M": "--memory-budget 6GB: peak <= 7 GB; AUC on the common later file within 0.002 of 1M's",
        },
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
