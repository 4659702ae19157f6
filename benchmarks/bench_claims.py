"""Benchmark: is the claim probability calibrated at claim level? On a seed the model never saw.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_claims.py [--train-rows 150000] [--score-rows 150000]
        [--shared-claim-causes]

Setup (as bench_fixes.py): a world of `--train-rows` lines (seed `--train-seed`, 30 months
from 2024-01); the first 24 months train the model (`modeling.train.fit_model`: its own
time split; the claim calibration is fitted on its calibration slice). A second draw of the
same world with another seed (`--score-seed`) over the same 30 months; its last 6 months
are scored, labels kept aside. `--shared-claim-causes` draws both worlds with the opt-in
claim-level shared cause (`synth.claim_causes`): a claim returned whole.

Per claim (outcome: any line denied), for the calibrated claim probability
(`modeling.claim_risk.claim_probability`) and the independence product 1 - prod(1 - p):
AUC, ECE (10 equal-width bins, `modeling.evaluate`), both over all claims and over
multi-line claims, and the share of denied claims' billed dollars caught by the top 10 %
of claims ranked by probability x billed amount (and by the worklist's claim rank,
expected loss: the same for both). Targets: claim ECE <= 0.02 and below the product's.
Results: benchmarks/results/claims.json (or claims_shared.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from _setup import ROOT, cut, simulated, trained_model

TARGET_ECE = 0.02


def _world(shared: bool) -> dict:
    return {"shared_claim_causes": True} if shared else {}


def _model(train_rows: int, seed: int, shared: bool, refit: bool):
    def describe(result) -> dict:
        metrics = result.metrics.items()
        return {"holdout": {k: round(v, 4) for k, v in metrics if k.startswith("claim_") or k == "roc_auc"}}

    name = f"claims_model_{train_rows}_{seed}_{int(shared)}"
    return trained_model(name, train_rows, seed, refit, describe, **_world(shared))


def _capture(y, score, billed, share: float = 0.10) -> float:
    """Share of denied claims' billed dollars in the top `share` of claims by `score`."""
    import numpy as np

    k = max(1, int(round(share * len(score))))
    top = np.argsort(-score, kind="stable")[:k]
    denied = billed * y
    return float(denied[top].sum() / max(denied.sum(), 1e-12))


def measure(model, frame) -> dict:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from denial_risk.modeling.claim_risk import claim_frame, claim_probability, independence
    from denial_risk.modeling.evaluate import expected_calibration_error

    p = model.predict_proba(frame)
    y_line = frame["denied"].astype(bool).to_numpy()
    claims = claim_frame(frame["claim_id"], p, y_line)
    codes = frame["claim_id"].astype("string").factorize(sort=False)[0]
    billed = np.bincount(codes, frame["billed_amount"].to_numpy(dtype=float))
    loss = np.bincount(codes, p * frame["billed_amount"].to_numpy(dtype=float))
    y = claims["denied"].to_numpy().astype(int)
    lines = claims["lines"].to_numpy()
    methods = {
        "calibrated": claim_probability(
            model.info.get("claim_calibration"), claims["log_survival"].to_numpy(), lines
        ),
        "independence": independence(claims["log_survival"].to_numpy()),
    }
    out = {
        "claims": int(len(claims)),
        "multi_line_claims": int((lines >= 2).sum()),
        "claim_denial_rate": round(float(y.mean()), 4),
        "calibration": {
            k: v for k, v in (model.info.get("claim_calibration") or {}).items() if k in ("method", "claims")
        },
        "capture_top10_by_expected_loss": round(_capture(y, loss, billed), 4),
    }
    for name, prob in methods.items():
        multi = lines >= 2
        out[name] = {
            "auc": round(float(roc_auc_score(y, prob)), 4),
            "ece": round(float(expected_calibration_error(y, prob)), 4),
            "multi_line_auc": round(float(roc_auc_score(y[multi], prob[multi])), 4),
            "multi_line_ece": round(float(expected_calibration_error(y[multi], prob[multi])), 4),
            "mean_probability": round(float(prob.mean()), 4),
            "capture_top10": round(_capture(y, prob * billed, billed), 4),
        }
    out["meets_target"] = bool(
        out["calibrated"]["ece"] <= TARGET_ECE and out["calibrated"]["ece"] < out["independence"]["ece"]
    )
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-rows", type=int, default=150_000)
    ap.add_argument("--train-seed", type=int, default=101)
    ap.add_argument("--score-rows", type=int, default=150_000)
    ap.add_argument("--score-seed", type=int, default=202)
    ap.add_argument("--shared-claim-causes", action="store_true")
    ap.add_argument("--refit", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    shared = args.shared_claim_causes
    out = args.out or ROOT / "benchmarks" / "results" / f"claims{'_shared' if shared else ''}.json"
    model, info = _model(args.train_rows, args.train_seed, shared, args.refit)
    frame = simulated(args.score_rows, args.score_seed, **_world(shared))
    scored = frame[frame["service_date"] >= cut()].reset_index(drop=True)
    t = time.perf_counter()
    result = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "model": info,
        "scored_lines": len(scored),
        **measure(model, scored),
        "seconds": round(time.perf_counter() - t, 1),
        "target": f"claim ECE <= {TARGET_ECE} and below the independence product's",
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
