"""Benchmark: are the worklist's fixes true? Judged by the simulated world, on a seed the model never saw.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_fixes.py [--train-rows 150000] [--score-rows 150000]

Setup: a world of `--train-rows` lines (seed `--train-seed`, 30 months from 2024-01);
the first 24 months train the model (`modeling.train.fit_model`: its own time split
into training, calibration and holdout). A second draw of the same world's rules with
another seed (`--score-seed`: other suppliers, patients and claims) over the same 30
months; its last 6 months are scored, labels dropped.

Every fix the worklist considers on those lines is made (`contract.remedies.apply`) and
judged by the second world's own mechanism (`jobs.fix_truth`): precision (a listed fix
truly lowers the risk by a point), recall (at-risk lines with a truthfully fixable cause
of a logit or more list such a fix), and the error of the risk the worklist states
after the fix. The same for the naive design (re-score the edited line through the
model). Overall and per fix. Results: benchmarks/results/fixes.json. The trained model
is cached in benchmarks/.cache (keyed by the settings) so a re-run judges only.
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

START, MONTHS, TRAIN_MONTHS = "2024-01-01", 30, 24
TARGETS = {"precision": 0.95, "recall": 0.85, "error": 0.03}


def _model(train_rows: int, seed: int, refit: bool):
    import pandas as pd

    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model
    from denial_risk.synth.simulate import simulate_claims

    cache = ROOT / "benchmarks" / ".cache" / f"fixes_model_{train_rows}_{seed}.pkl"
    if cache.exists() and not refit:
        return pickle.loads(cache.read_bytes()), {"cached": True}
    from denial_risk.contract.normalize import normalize_chunk

    frame, _ = normalize_chunk(simulate_claims(train_rows, seed, START, MONTHS))  # as `train` reads a file
    cut = pd.Timestamp(START) + pd.DateOffset(months=TRAIN_MONTHS)
    labelled = frame[frame["service_date"] < cut].reset_index(drop=True)
    t = time.perf_counter()
    result = fit_model(labelled, TrainConfig())
    info = {
        "cached": False,
        "train_lines": len(labelled),
        "fit_seconds": round(time.perf_counter() - t, 1),
        "holdout_auc": round(result.metrics["roc_auc"], 4),
        "auc_ratio_to_bayes": round(result.metrics.get("auc_ratio_to_bayes", float("nan")), 4),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(result.model))
    return result.model, info


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-rows", type=int, default=150_000)
    ap.add_argument("--train-seed", type=int, default=101)
    ap.add_argument("--score-rows", type=int, default=150_000)
    ap.add_argument("--score-seed", type=int, default=202)
    ap.add_argument("--refit", action="store_true", help="ignore the cached model")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fixes.json"))
    args = ap.parse_args(argv)

    import pandas as pd

    from denial_risk.contract import schema
    from denial_risk.jobs import fix_truth
    from denial_risk.synth.simulate import simulate_world

    model, model_info = _model(args.train_rows, args.train_seed, args.refit)
    frame, world = simulate_world(args.score_rows, args.score_seed, START, MONTHS)
    cut = pd.Timestamp(START) + pd.DateOffset(months=TRAIN_MONTHS)
    late = frame[frame["service_date"] >= cut].reset_index(drop=True)
    clean = late.drop(columns=[c for c in schema.OUTCOME_COLUMNS if c in late.columns])
    t = time.perf_counter()
    judged = fix_truth.judge(model, world, clean)  # every line's fixes
    seconds = time.perf_counter() - t
    # what the worklist shows by default: fixes on the lines at or above the medium tier
    shown = judged.assign(listed=judged["listed"] & (judged["probability"] >= model.tiers["medium"]))
    ours = fix_truth.figures(shown)
    every_line = fix_truth.figures(judged)
    naive = fix_truth.figures(shown, *fix_truth.naive_listing(shown, model.tiers["medium"]))
    kinds = fix_truth.by_kind(shown)
    big = kinds[kinds["listed"] >= fix_truth.MIN_KIND_LISTINGS]
    meets = {
        "overall": ours.precision >= TARGETS["precision"]
        and ours.recall >= TARGETS["recall"]
        and ours.error <= TARGETS["error"],
        "every_kind_with_100_listings": bool(
            (
                (big["precision"] >= TARGETS["precision"])
                & (big["error"] <= TARGETS["error"])
                & ((big["recall"] >= TARGETS["recall"]) | big["recall"].isna())
            ).all()
        ),
    }
    result = {
        "settings": vars(args) | {"start": START, "months": MONTHS, "train_months": TRAIN_MONTHS},
        "model": model_info,
        "scored_lines": len(clean),
        "fixes_considered": len(judged),
        "judge_seconds": round(seconds, 1),
        "worklist": ours.as_dict(),
        "worklist_every_line": every_line.as_dict(),
        "naive_rescoring": naive.as_dict(),
        "by_fix": kinds.round(4).to_dict(orient="records"),
        "targets": TARGETS,
        "meets_targets": meets,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"{len(clean)} lines scored (seed {args.score_seed}), {len(judged)} fixes considered")
    print(f"worklist (lines >= medium tier): {ours.as_dict()}")
    print(f"every line: {every_line.as_dict()}")
    print(f"naive   : {naive.as_dict()}")
    print(kinds.to_string(index=False))
    print(f"meets targets: {meets}")
    return result


if __name__ == "__main__":
    main()
