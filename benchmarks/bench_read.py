"""Benchmark: `denial-risk validate` on a 2M-line claim CSV (streaming read + normalise + rejects).

    .venv/bin/python benchmarks/bench_read.py [--rows 2000000] [--runs 3] [--small-rows 200000]

Setup (not timed): writes a contract-shaped CSV of `--rows` claim lines with
the accepted forms mixed (ISO and YYYYMMDD dates, `$1,234.50` amounts, mixed
modifier separators, dotted/undotted ICD-10, every boolean spelling) and about
1% rows that must be rejected (bad dates, negative amounts, duplicates, rows
with the wrong number of fields).

Timed: the console command `denial-risk validate --data FILE --rejects OUT`,
each run a fresh process; wall time and the child's peak RSS (`os.wait4`
rusage). The file is written by a separate process, so this parent stays
small: a forked child's peak RSS counts the parent's pages until it execs.
The median of `--runs` is reported. Flatness: one run on
`--small-rows` lines, so the peak RSS of the big file can be compared with a
file 10x smaller (a file that loaded whole would need ~10x the memory).
Results: benchmarks/results/read.json.
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
RESULTS = ROOT / "benchmarks" / "results" / "read.json"


def write_claims(path: Path, rows: int, seed: int = 0) -> dict:
    """A contract-shaped CSV with the accepted forms mixed and ~1% rows to reject."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    n = rows
    days = np.arange(np.datetime64("2023-01-01"), np.datetime64("2025-07-01"))
    sd = rng.choice(days, n)
    iso = np.datetime_as_string(sd, unit="D")
    compact = np.char.replace(iso, "-", "")
    service_date = np.where(rng.random(n) < 0.8, iso, compact).astype(object)
    submission = np.datetime_as_string(sd + rng.integers(0, 120, n).astype("timedelta64[D]"), unit="D")
    amount = np.round(rng.lognormal(5, 1.2, n), 2)
    billed = amount.astype(str).astype(object)
    dollars = rng.random(n) < 0.1
    billed[dollars] = [f"${a:,.2f}" for a in amount[dollars]]
    claim_no = np.arange(n) // 2
    claim_id = np.char.add("CLM", claim_no.astype(str)).astype(object)
    line_number = (np.arange(n) % 2 + 1).astype(str).astype(object)
    bools = np.array(["true", "false", "1", "0", "yes", "no", "Y", "n", "T", "f", ""], dtype=object)

    # rows that must be rejected (~1%)
    bad = rng.choice(n, n // 100, replace=False)
    kinds = rng.integers(0, 4, len(bad))
    service_date[bad[kinds == 0]] = "2024-02-30"
    billed[bad[kinds == 1]] = "-12.00"
    dup_rows = bad[kinds == 2]
    claim_id[dup_rows[dup_rows > 1]] = claim_id[dup_rows[dup_rows > 1] - 2]
    line_number[dup_rows[dup_rows > 1]] = line_number[dup_rows[dup_rows > 1] - 2]
    billed[bad[kinds == 3]] = ""

    table = pa.table(
        {
            "claim_id": claim_id.astype(str),
            "line_number": line_number.astype(str),
            "patient_id": np.char.add("P", rng.integers(0, n // 4 + 1, n).astype(str)),
            "provider_id": rng.integers(10**9, 2 * 10**9, n).astype(str),
            "payer_id": rng.choice(["00120", "PR-7", "BCBS1", "MCR05"], n),
            "service_date": service_date.astype(str),
            "submission_date": submission,
            "payer_type": rng.choice(
                ["medicare", "Medicare", "MEDICAID", "commercial", "medicare_advantage", ""], n
            ),
            "hcpcs_code": rng.choice(
                ["L0627", "l0650", "L1833", "E0601", "K0001", "A7030", "E0143", "97760"], n
            ),
            "modifiers": rng.choice(["", "KX", "RT", "kx|rt", "KX, LT", "NU GA", "GZ|KX|RT"], n),
            "diagnosis_codes": rng.choice(
                ["M54.50", "M5450|M48.06", "m17.11, z96.651", "G47.33", "", "S83.511A"], n
            ),
            "billed_amount": billed.astype(str),
            "units": rng.choice(["1", "2", "", "3"], n),
            "place_of_service": rng.choice(["12", "11", "31", "4"], n),
            **{
                f: rng.choice(bools, n).astype(str)
                for f in (
                    "has_prescription",
                    "has_medical_necessity_letter",
                    "has_progress_notes",
                    "has_measurements",
                    "has_photos",
                    "has_proof_of_delivery",
                    "has_prior_auth",
                )
            },
            "prior_same_code_12m": rng.choice(["0", "1", "2", ""], n),
            "batch_note": rng.choice(["", "resubmitted", "per payer call, 2024"], n),
        }
    )
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    # a few rows with the wrong number of fields, appended as raw text
    with open(path, "a", encoding="utf-8") as f:
        for i in range(n // 10_000):
            f.write(f"BROKEN{i},1,2024-01-05,medicare\n")
    return {"rows": n + n // 10_000, "bytes": path.stat().st_size}


def write_in_child(path: Path, rows: int, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--write", str(path), "--rows", str(rows), "--seed", str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def validate_command() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "denial-risk"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from denial_risk.cli import main; main()"]


def run_once(data: Path, rejects: Path) -> dict:
    cmd = [*validate_command(), "validate", "--data", str(data), "--rejects", str(rejects)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"validate failed ({proc.returncode}): {err}")
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "summary": out.splitlines()[0] if out else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--small-rows", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # internal: only write the file
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write:
        print(json.dumps(write_claims(args.write, args.rows, args.seed)))
        return

    with tempfile.TemporaryDirectory(prefix="bench_read.") as tmp:
        tmp = Path(tmp)
        big, small = tmp / "claims.csv", tmp / "small.csv"
        t0 = time.perf_counter()
        info = write_in_child(big, args.rows, 0)
        print(
            f"wrote {info['rows']:,} lines ({info['bytes'] / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s"
        )
        runs = []
        for i in range(args.runs):
            r = run_once(big, tmp / "rejects.csv")
            runs.append(r)
            print(f"run {i + 1}: {r['seconds']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB  ({r['summary']})")
        small_info = write_in_child(small, args.small_rows, 1)
        small_run = run_once(small, tmp / "rejects_small.csv")
        print(
            f"{small_info['rows']:,} lines: {small_run['seconds']:.2f} s, "
            f"peak RSS {small_run['peak_rss_mb']:.0f} MB"
        )

    result = {
        "benchmark": "denial-risk validate on a claim CSV (chunked pyarrow read, normalise, rejects)",
        "command": "denial-risk validate --data claims.csv --rejects rejects.csv",
        "how": f".venv/bin/python benchmarks/bench_read.py --rows {args.rows} --runs {args.runs}",
        "rows": info["rows"],
        "file_mb": round(info["bytes"] / 1e6, 1),
        "runs": runs,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "median_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "rows_per_second": round(info["rows"] / statistics.median(r["seconds"] for r in runs)),
        "small_file": {"rows": small_info["rows"], **small_run},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "versions": subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import pyarrow, pandas, numpy; print("
                    "f'pyarrow {pyarrow.__version__}, pandas {pandas.__version__}, "
                    "numpy {numpy.__version__}')",
                ],
                capture_output=True,
                text=True,
            ).stdout.strip(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"median {result['median_seconds']:.2f} s, peak RSS {result['median_peak_rss_mb']:.0f} MB "
        f"({result['rows_per_second']:,} lines/s) -> {args.out}"
    )


if __name__ == "__main__":
    main()
