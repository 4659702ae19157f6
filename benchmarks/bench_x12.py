"""Benchmark: 100k claim lines of 837 plus their 835s through `ingest-x12`.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_x12.py [--lines 100000] [--runs 3]

Writes the X12 files once (not timed), then times the ingestion (read,
label, join, write the outputs) `--runs` times in fresh processes and reports
the median wall time and the peak RSS. Memory flatness in the number of files:
the same lines written as few large files and as many small files, peak RSS
compared. Also times pyx12's full guide validation on one file for comparison.
Results: benchmarks/results/x12.json.
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

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {src!r})
from denial_risk.x12.ingest import ingest, write_outputs
load = os.getloadavg()[0]
t = time.perf_counter()
r = ingest([{claims!r}], [{remits!r}])
write_outputs(r, {out!r})
elapsed = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": elapsed, "cpu_seconds": ru.ru_utime + ru.ru_stime, "load_avg_1m_at_start": load,
                  "peak_rss_mb": ru.ru_maxrss / 1024,
                  "counts": r.counts}}))
"""


def run_child(claims: Path, remits: Path, out: Path) -> dict:
    code = CHILD.format(src=str(ROOT / "src"), claims=str(claims), remits=str(remits), out=str(out))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from denial_risk.testing import make_claims
    from denial_risk.x12.guide_check import validate_file
    from denial_risk.x12.write import write_835, write_837p

    table = make_claims(args.lines, seed=7)
    n_lines, n_claims = len(table), table["claim_id"].nunique()
    results: dict = {
        "command": f"PYTHONPATH=src {Path(sys.executable).name} benchmarks/bench_x12.py "
        f"--lines {args.lines} --runs {args.runs}",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "claim_lines": n_lines,
        "claims": n_claims,
        "layouts": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, per_file in (("few_files", 10_000), ("many_files", 1_000)):
            cdir, rdir = tmp / name / "claims", tmp / name / "remits"
            t = time.perf_counter()
            cfiles = write_837p(table, cdir / "claims.837", claims_per_file=per_file)
            rfiles = write_835(table, rdir / "remits.835", claims_per_file=per_file)
            write_s = time.perf_counter() - t
            size_mb = sum(p.stat().st_size for p in cfiles + rfiles) / 1e6
            runs = [run_child(cdir, rdir, tmp / name / "out.parquet") for _ in range(args.runs)]
            secs = [r["seconds"] for r in runs]
            layout = {
                "files": len(cfiles) + len(rfiles),
                "megabytes": round(size_mb, 1),
                "write_seconds": round(write_s, 1),
                "ingest_seconds_runs": [round(s, 2) for s in secs],
                "ingest_seconds_median": round(statistics.median(secs), 2),
                "peak_rss_mb_max": round(max(r["peak_rss_mb"] for r in runs), 1),
                "cpu_seconds_median": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
                "load_avg_1m_at_start": [round(r["load_avg_1m_at_start"], 1) for r in runs],
                "counts": {
                    k: v
                    for k, v in runs[0]["counts"].items()
                    if k
                    in (
                        "claim_lines",
                        "labelled_rows",
                        "unlabelled_rows",
                        "bad_files",
                        "matched_lines_by_line_control_number",
                        "unmatched_claim_lines",
                        "unmatched_remit_lines",
                    )
                },
            }
            results["layouts"][name] = layout
            print(
                f"{name}: {layout['files']} files, {layout['megabytes']} MB; ingest median "
                f"{layout['ingest_seconds_median']} s wall over {args.runs} runs "
                f"{layout['ingest_seconds_runs']} "
                f"(CPU {layout['cpu_seconds_median']} s; load avg {layout['load_avg_1m_at_start']}); "
                f"peak RSS {layout['peak_rss_mb_max']} MB",
                flush=True,
            )
        # pyx12's full guide validation, for scale (one 1,000-claim 837 file)
        one = sorted((tmp / "many_files" / "claims").iterdir())[0]
        t = time.perf_counter()
        ok, _ = validate_file(one)
        v_s = time.perf_counter() - t
        segs = one.read_text().count("~")
        results["pyx12_full_validation"] = {
            "file_segments": segs,
            "seconds": round(v_s, 2),
            "valid": ok,
            "segments_per_second": round(segs / v_s),
        }
        print(
            f"pyx12 full validation: {segs} segments in {v_s:.2f} s ({segs / v_s:.0f} segments/s), valid={ok}"
        )
    out = ROOT / "benchmarks" / "results" / "x12.json"
    out.write_text(json.dumps(results, indent=2))
    print(results["command"])
    print(f"-> {out}")


if __name__ == "__main__":
    main()
