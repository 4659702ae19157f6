"""Benchmark: the claim simulator at 1M lines (issue 2: at most 60 s on a 2-core machine).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_simulate.py [--rows 1000000] [--repeat 3] [--cli]

Measures, in one process, the one-time reference set-up (HCPCS file, ICD-10-CM code set,
diagnosis pools), then `simulate_claims(rows, seed)` `--repeat` times (median reported);
with `--cli` also one cold `denial-risk simulate --rows N --seed 1 --out FILE.csv` in a fresh
process (set-up, simulation and CSV writing: what a user waits for). Prints the figures and
writes them as JSON to benchmarks/results/simulate.json.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cli", action="store_true", help="also time a cold CLI run writing CSV")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "simulate.json"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    from denial_risk.synth import simulate

    simulate._catalog()
    simulate._diagnoses()
    setup = time.perf_counter() - t0

    times, cpu = [], []
    for i in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        frame = simulate.simulate_claims(args.rows, seed=i + 1)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        assert len(frame) == args.rows
        print(f"run {i + 1}: {times[-1]:.2f} s wall, {cpu[-1]:.2f} s CPU")
        del frame
    median = statistics.median(times)
    result = {
        "benchmark": "simulate_claims",
        "command": f"PYTHONPATH=src .venv/bin/python benchmarks/bench_simulate.py --rows {args.rows} "
        f"--repeat {args.repeat}" + (" --cli" if args.cli else ""),
        "rows": args.rows,
        "repeat": args.repeat,
        "setup_seconds": round(setup, 2),  # reference files, ICD-10-CM code set, diagnosis pools
        "seconds": [round(t, 2) for t in times],
        "median_seconds": round(median, 2),
        "rows_per_second": round(args.rows / median),
        "cpu_seconds": [round(c, 2) for c in cpu],
        "median_cpu_seconds": round(statistics.median(cpu), 2),
        "load_average_1m_at_end": None,
        "budget_seconds": 60,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    if args.cli:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "claims.csv"
            cmd = [
                sys.executable,
                "-c",
                "from denial_risk.cli import main; main()",
                "simulate",
                "--rows",
                str(args.rows),
                "--seed",
                "1",
                "--out",
                str(out),
            ]
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
            t = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, cwd=ROOT)
            result["cli_cold_seconds"] = round(time.perf_counter() - t, 2)
            result["cli_command"] = f"denial-risk simulate --rows {args.rows} --seed 1 --out claims.csv"
            result["cli_file_mb"] = round(out.stat().st_size / 1e6, 1)

    if hasattr(os, "getloadavg"):
        result["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)  # other work on the machine
    print(f"set-up (once per process): {setup:.2f} s")
    print(
        f"simulate_claims({args.rows:,}): median {median:.2f} s over {args.repeat} runs, "
        f"{args.rows / median:,.0f} rows/s (median CPU {result['median_cpu_seconds']:.2f} s)"
    )
    if "cli_cold_seconds" in result:
        print(f"cold CLI to CSV: {result['cli_cold_seconds']:.2f} s ({result['cli_file_mb']} MB)")
    print(f"command: {result['command']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
