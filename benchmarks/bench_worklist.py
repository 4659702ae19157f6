"""Benchmark: the full worklist against a plain pipeline on the same 1M claim lines.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_worklist.py \
        [--rows 1000000] [--runs 3] [--big-rows 5000000] [--claims-big-rows 5000000]
        [--peer ../shared/benchmarks/peer_pipeline.py]

Setup (not timed): simulates `--train-rows` labelled lines and fits the model
(gradient-boosted trees, the large-data path of `training.fit_model`), then
simulates `--rows` backlog lines (labels dropped) and writes them as CSV.

Timed, each in a fresh process (`--runs` times, alternating, median reported):

* **worklist**: `worklist.score_file` — CSV in, streamed in chunks, validated,
  scored, reasons and counterfactual fixes, file-wide rank, Parquet out.
* **peer**: the reference, `../shared/benchmarks/peer_pipeline.py` (called, not copied;
  `--peer`): pandas `read_csv`, ~25 hand-made features, a HistGradientBoosting of 400
  iterations, CSV out. Fitted once on the training CSV (untimed); its own timer, which like
  ours starts after the model is loaded, is what is reported.
* **worklist without claims**: the same, without the claim worklist beside it
  (`claim_table=False`): the claim table's cost is the worklist's time over this one (target
  +15 % at most; `claim_build_seconds` is its final step alone, after pass 2).
* **plain**: the notebook way with the same features and model as ours, no reasons and
  no fixes — `pd.read_csv` the whole file, `normalize_chunk`, `model.transform`,
  `predict_proba`, rank, `to_parquet`.

Peak memory is the child's peak RSS (`os.wait4` rusage). Flatness: one more
worklist run on `--big-rows` lines (the backlog repeated with fresh claim ids),
peak RSS compared with the 1M run. `--claims-big-rows N`: the worklist on N lines
(built the same way) with and without the claim table, one run each: the claim table's
memory bound (<= 1 GB at 5M lines) and its CPU share at that size. Both children get the same OpenMP thread
count (`--threads`, default 1: on a shared, oversubscribed machine OpenMP's
spinning makes tree prediction several times slower, for both pipelines).
Results: benchmarks/results/worklist.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

WORKLIST_CHILD = r"""
import json, os, pickle, sys, time
sys.path.insert(0, {src!r})
from denial_risk.scoring.worklist import score_file
model = pickle.load(open({model!r}, "rb"))
load = os.getloadavg()[0]
t = time.perf_counter()
r = score_file({data!r}, {out!r}, model, progress=False, claim_table={claims!r})
elapsed = time.perf_counter() - t
print(json.dumps({{"seconds": elapsed, "load_avg_1m_at_start": load, "rows": r.rows, "scored": r.scored,
                  "rejected": r.rejected, "memory": r.memory, "drift_warning": r.drift_warning,
                  "claim_seconds": r.claim_seconds, "claims": r.claims.claims if r.claims else 0}}))
"""

PLAIN_CHILD = r"""
import json, os, pickle, sys, time
import numpy as np, pandas as pd
sys.path.insert(0, {src!r})
from denial_risk.contract.normalize import normalize_chunk
from denial_risk.scoring.score import rank_by_expected_loss
model = pickle.load(open({model!r}, "rb"))
load = os.getloadavg()[0]
t = time.perf_counter()
raw = pd.read_csv({data!r}, dtype=str, keep_default_na=False)
clean, rejects = normalize_chunk(raw)
p = model.proba_from_matrix(model.transform(clean))
loss = p * clean["billed_amount"].to_numpy(dtype=float)
out = raw.loc[clean.index].copy()
out["denial_probability"] = p
out["expected_loss"] = loss
out["risk_rank"] = rank_by_expected_loss(loss, p)
out["risk_tier"] = model.tier(p)
out.to_parquet({out!r}, index=False)
elapsed = time.perf_counter() - t
print(json.dumps({{"seconds": elapsed, "load_avg_1m_at_start": load, "rows": len(raw), "scored": len(clean),
                  "rejected": len(rejects)}}))
"""


PEER = ROOT.parent / "shared" / "benchmarks" / "peer_pipeline.py"


def run_measured(code: str, threads: int, argv: list[str] | None = None) -> dict:
    """Run a child and measure its own peak RSS and CPU time (os.wait4 on that child only).

    `code` is run with `python -c`, or `argv` (a script and its arguments) when given."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT / "src")}
    r_fd, w_fd = os.pipe()
    err_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_worklist_{os.getpid()}.err"
    with open(err_path, "w") as err:
        cmd = [sys.executable, *argv] if argv else [sys.executable, "-c", code]
        proc = subprocess.Popen(cmd, stdout=w_fd, stderr=err, env=env)
    os.close(w_fd)
    chunks = []
    while True:
        b = os.read(r_fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r_fd)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{err_path.read_text()[-3000:]}")
    last = b"".join(chunks).decode().strip().splitlines()[-1]
    if argv:  # the peer prints "peer scored N lines in X s"
        words = last.split()
        out = {"seconds": float(words[-2]), "rows": int(words[2]), "load_avg_1m_at_start": os.getloadavg()[0]}
    else:
        out = json.loads(last)
    out["peak_rss_mb"] = ru.ru_maxrss / 1024
    out["cpu_seconds"] = ru.ru_utime + ru.ru_stime
    return out


def setup(
    work: Path, rows: int, train_rows: int, big_rows: int, seed: int
) -> tuple[Path, Path, Path | None, dict]:

    from denial_risk.synth.simulate import contract_frame, simulate_claims
    from denial_risk.tableio import files

    info: dict = {}
    model_path = work / f"model_{train_rows}.pkl"
    train_csv = work / f"train_{train_rows}.csv"
    if not train_csv.exists():  # the peer fits on it too
        files.write_table(contract_frame(simulate_claims(train_rows, seed)), train_csv)
    if not model_path.exists():
        from denial_risk.claims.table import load_claims
        from denial_risk.modeling.config import TrainConfig
        from denial_risk.modeling.train import fit_model

        t = time.perf_counter()
        clean, _ = load_claims(train_csv)
        result = fit_model(clean, TrainConfig())
        with open(model_path, "wb") as f:
            pickle.dump(result.model, f)
        info["train_seconds"] = round(time.perf_counter() - t, 1)
        info["holdout_roc_auc"] = round(float(result.metrics.get("roc_auc", float("nan"))), 4)
        (work / "model_info.json").write_text(json.dumps(info))
    else:
        info = (
            json.loads((work / "model_info.json").read_text()) if (work / "model_info.json").exists() else {}
        )

    labels = ["denied", "denial_reason", "paid_amount", "true_denial_probability"]
    data = work / f"backlog_{rows}.csv"
    if not data.exists():
        frame = contract_frame(simulate_claims(rows, seed + 1)).drop(columns=labels)
        files.write_table(frame, data)
    big = _repeated(work, rows, big_rows, seed, labels) if big_rows else None
    return model_path, data, big, info


def _repeated(work: Path, rows: int, big_rows: int, seed: int, labels: list[str]) -> Path:
    """A `big_rows`-line backlog: simulated `rows` at a time with fresh claim ids (`B<k>-` prefixes)."""
    from denial_risk.synth.simulate import contract_frame, simulate_claims
    from denial_risk.tableio import files

    big = work / f"backlog_{big_rows}.csv"
    if big.exists():
        return big
    tmp = big.with_suffix(".partial")
    with open(tmp, "wb") as f:
        done = k = 0
        while done < big_rows:
            n = min(rows, big_rows - done)
            frame = contract_frame(simulate_claims(n, seed + 10 + k)).drop(columns=labels)
            frame["claim_id"] = f"B{k}-" + frame["claim_id"].astype(str)
            part = work / "part.csv"
            files.write_table(frame, part)
            with open(part, "rb") as p:
                if k:
                    p.readline()  # header once
                while block := p.read(1 << 24):
                    f.write(block)
            part.unlink()
            done += n
            k += 1
    tmp.rename(big)
    return big


def claims_big(work: Path, model_path: Path, args) -> dict:
    """`--claims-big-rows N`: the worklist on N lines with and without the claim table, one run each; the
    claim table must keep the worklist's peak RSS (<= 1 GB at 5M lines)."""
    labels = ["denied", "denial_reason", "paid_amount", "true_denial_probability"]
    data = _repeated(work, args.rows, args.claims_big_rows, args.seed, labels)
    out = {"claims_big_rows": args.claims_big_rows}
    for name, claims in (("no_claims", False), ("claims", True)):
        code = WORKLIST_CHILD.format(
            src=str(ROOT / "src"),
            model=str(model_path),
            data=str(data),
            out=str(work / f"worklist_cb_{name}.parquet"),
            claims=claims,
        )
        r = run_measured(code, args.threads)
        print(
            f"{args.claims_big_rows:,} lines {name}: {r['seconds']:.1f} s, {r['cpu_seconds']:.1f} s CPU, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB (pass 1 {r['memory'].get('pass1_peak_rss_mb', 0):.0f} MB), "
            f"load {r['load_avg_1m_at_start']:.1f}",
            flush=True,
        )
        out[f"claims_big_{name}"] = {
            "seconds": round(r["seconds"], 1),
            "cpu_seconds": round(r["cpu_seconds"], 1),
            "peak_rss_mb": round(r["peak_rss_mb"]),
            "pass1_peak_rss_mb": round(r["memory"].get("pass1_peak_rss_mb", 0)),
            "claims": r.get("claims", 0),
            "claim_build_seconds": round(r.get("claim_seconds", 0.0), 1),
            "load_avg_1m_at_start": round(r["load_avg_1m_at_start"], 1),
        }
    with_claims, without = out["claims_big_claims"], out["claims_big_no_claims"]
    out["claims_big_peak_rss_mb"] = with_claims["peak_rss_mb"]
    out["claims_big_met"] = with_claims["peak_rss_mb"] <= 1024
    out["claims_big_overhead_cpu"] = round(with_claims["cpu_seconds"] / without["cpu_seconds"] - 1, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--train-rows", type=int, default=200_000)
    ap.add_argument("--big-rows", type=int, default=5_000_000, help="0 to skip the memory-flatness run")
    ap.add_argument(
        "--claims-big-rows",
        type=int,
        default=0,
        help="also the worklist with and without the claim table on this many lines (peak RSS; 5000000)",
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / ".work"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "worklist.json"))
    ap.add_argument("--peer", default=str(PEER), help="the reference pipeline (../shared/benchmarks)")
    ap.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.setup_only:  # in its own process, so the measuring parent stays small (a fork inherits its RSS)
        model_path, data, big, info = setup(work, args.rows, args.train_rows, args.big_rows, args.seed)
        print(
            json.dumps(
                {"model": str(model_path), "data": str(data), "big": str(big) if big else None, "info": info}
            )
        )
        return
    command = "PYTHONPATH=src .venv/bin/python benchmarks/bench_worklist.py " + " ".join(sys.argv[1:])
    print(command, flush=True)

    t = time.perf_counter()
    res = subprocess.run(
        [
            sys.executable,
            __file__,
            "--setup-only",
            "--work",
            str(work),
            "--rows",
            str(args.rows),
            "--train-rows",
            str(args.train_rows),
            "--big-rows",
            str(args.big_rows),
            "--seed",
            str(args.seed),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    s = json.loads(res.stdout.strip().splitlines()[-1])
    model_path, data, info = Path(s["model"]), Path(s["data"]), s["info"]
    big = Path(s["big"]) if s["big"] else None
    print(
        f"setup {time.perf_counter() - t:.0f} s: model {model_path.name}, data {data.name} "
        f"({data.stat().st_size / 1e6:.0f} MB)",
        flush=True,
    )

    src = str(ROOT / "src")
    wl_code = WORKLIST_CHILD.format(
        src=src, model=str(model_path), data=str(data), out=str(work / "worklist.parquet"), claims=True
    )
    no_claims_code = WORKLIST_CHILD.format(
        src=src, model=str(model_path), data=str(data), out=str(work / "worklist_nc.parquet"), claims=False
    )
    plain_code = PLAIN_CHILD.format(
        src=src, model=str(model_path), data=str(data), out=str(work / "plain.parquet")
    )
    train_csv = work / f"train_{args.train_rows}.csv"
    peer_out = work / "peer.csv"
    peer_argv = [args.peer, str(train_csv), str(data), str(peer_out)]
    Path(str(peer_out) + ".peer.joblib").unlink(missing_ok=True)  # fitted afresh on this training file
    t = time.perf_counter()
    run_measured("", args.threads, peer_argv)  # the peer's first call fits and caches its model
    print(f"peer fitted and ran once in {time.perf_counter() - t:.0f} s", flush=True)
    runs = {"worklist": [], "no_claims": [], "plain": [], "peer": []}
    for i in range(args.runs):
        for name, code in (
            ("peer", None),
            ("plain", plain_code),
            ("no_claims", no_claims_code),
            ("worklist", wl_code),
        ):
            r = run_measured(code, args.threads, peer_argv if code is None else None)
            runs[name].append(r)
            print(
                f"run {i + 1} {name:>8}: {r['seconds']:.1f} s, {r['cpu_seconds']:.1f} s CPU, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB, load {r['load_avg_1m_at_start']:.1f}",
                flush=True,
            )

    def med(name, key):
        return statistics.median(r[key] for r in runs[name])

    result = {
        "benchmark": "worklist vs plain pipeline",
        "command": command,
        "rows": args.rows,
        "train_rows": args.train_rows,
        "runs": args.runs,
        "omp_threads": args.threads,
        "model": {**info, "classifier": _model_kind(model_path)},
        "peer": str(Path(args.peer).resolve()),
        "peer_seconds": [round(r["seconds"], 1) for r in runs["peer"]],
        "peer_median_seconds": round(med("peer", "seconds"), 1),
        "peer_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["peer"])),
        "ratio_to_peer": round(med("worklist", "seconds") / med("peer", "seconds"), 2),
        "worklist_seconds": [round(r["seconds"], 1) for r in runs["worklist"]],
        "plain_seconds": [round(r["seconds"], 1) for r in runs["plain"]],
        "worklist_median_seconds": round(med("worklist", "seconds"), 1),
        "plain_median_seconds": round(med("plain", "seconds"), 1),
        "worklist_median_cpu_seconds": round(med("worklist", "cpu_seconds"), 1),
        "plain_median_cpu_seconds": round(med("plain", "cpu_seconds"), 1),
        "ratio_wall": round(med("worklist", "seconds") / med("plain", "seconds"), 2),
        "ratio_cpu": round(med("worklist", "cpu_seconds") / med("plain", "cpu_seconds"), 2),
        "worklist_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["worklist"])),
        "worklist_pass1_peak_rss_mb": round(
            max(r.get("memory", {}).get("pass1_peak_rss_mb", 0) for r in runs["worklist"])
        ),
        "plain_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["plain"])),
        "claims": runs["worklist"][0].get("claims", 0),
        "no_claims_median_seconds": round(med("no_claims", "seconds"), 1),
        "no_claims_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["no_claims"])),
        "claim_overhead": round(med("worklist", "seconds") / med("no_claims", "seconds") - 1, 3),
        "claim_overhead_cpu": round(med("worklist", "cpu_seconds") / med("no_claims", "cpu_seconds") - 1, 3),
        "claim_build_median_seconds": round(med("worklist", "claim_seconds"), 2),
        "target": "worklist <= 1.25x the peer at 1M; peak RSS <= 1024 MB at 1M, within 10% from 1M to 5M; "
        "the claim worklist adds <= 15% to the worklist's time",
        "load_avg_1m": [round(r["load_avg_1m_at_start"], 1) for v in runs.values() for r in v],
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    if big is not None:
        code = WORKLIST_CHILD.format(
            src=src, model=str(model_path), data=str(big), out=str(work / "worklist_big.parquet"), claims=True
        )
        r = run_measured(code, args.threads)
        print(
            f"{args.big_rows:,} lines worklist: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        result.update(
            {
                "big_rows": args.big_rows,
                "big_worklist_seconds": round(r["seconds"], 1),
                "big_worklist_peak_rss_mb": round(r["peak_rss_mb"]),
                "big_worklist_pass1_peak_rss_mb": round(r.get("memory", {}).get("pass1_peak_rss_mb", 0)),
                "big_claims": r.get("claims", 0),
                "big_claim_build_seconds": round(r.get("claim_seconds", 0.0), 1),
                "rss_growth_1m_to_big": round(r["peak_rss_mb"] / result["worklist_peak_rss_mb"] - 1, 3),
            }
        )
    if args.claims_big_rows:
        result.update(claims_big(work, model_path, args))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def _model_kind(path: Path) -> str:
    code = (
        f"import pickle, sys; sys.path.insert(0, {str(ROOT / 'src')!r}); "
        f"print(pickle.load(open({str(path)!r}, 'rb')).info.get('classifier'))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
