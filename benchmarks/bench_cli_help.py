"""Benchmark: how long `denial-risk --help` takes (target: under 0.2 s).

    .venv/bin/python benchmarks/bench_cli_help.py [--runs 20]

Runs the installed console script `--runs` times in fresh processes and reports
the median and the worst wall time, beside `python -c pass` measured in the same
run (the interpreter's own start-up, the floor).
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

RESULTS = Path(__file__).resolve().parent / "results" / "cli_help.json"


def timed(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("denial-risk"))
    floor = timed([sys.executable, "-c", "pass"], args.runs)
    help_ = timed([exe, "--help"], args.runs)
    result = {
        "command": f"benchmarks/bench_cli_help.py --runs {args.runs}",
        "load_avg_1m": os.getloadavg()[0],
        "help_seconds_median": round(statistics.median(help_), 4),
        "help_seconds_max": round(max(help_), 4),
        "python_startup_seconds_median": round(statistics.median(floor), 4),
        "target_seconds": 0.2,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
