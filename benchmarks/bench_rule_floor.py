"""Benchmark: what the rule floor (`modeling/rule_risk.py`) does to the holdout's headline metrics.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_rule_floor.py [--data data/sample/claims.csv]
    PYTHONPATH=src .venv/bin/python benchmarks/bench_rule_floor.py --simulate 40000 --seed 5

Fits the model as `train` does (`modeling.train.fit_model`, default configuration) and scores its
holdout twice with `modeling.evaluate.classification_metrics`: the classifier's calibrated risk
(`RuleRisk.p_model`) and the rule-aware risk the worklist ranks by (`RuleRisk.p`). Reports ECE,
dollars caught in the top 10 % (realised outcomes, and expected under the world's own
`true_denial_probability` where the data has it: one holdout's draw moves single lines) and ROC AUC,
and lists every holdout line the floor raised with its amount, risks and outcome.
Results: benchmarks/results/rule_floor.json (one entry per data set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("ece", "dollars_caught_top10", "dollars_caught_top20", "roc_auc")


def _frame(args):
    from denial_risk.claims.table import load_claims
    from denial_risk.synth.simulate import contract_frame, simulate_claims
    from denial_risk.tableio import files

    if args.simulate:
        work = ROOT / "benchmarks" / ".work"
        work.mkdir(parents=True, exist_ok=True)
        path = work / f"rule_floor_{args.simulate}_{args.seed}.csv"
        if not path.exists():
            files.write_table(contract_frame(simulate_claims(args.simulate, args.seed)), path)
        return load_claims(path)[0], f"simulator, {args.simulate:,} lines, seed {args.seed}"
    path = Path(args.data).resolve()
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    return load_claims(path)[0], name


def _expected_capture(truth: np.ndarray, p: np.ndarray, billed: np.ndarray, share: float = 0.10) -> float:
    """Share of the expected denied dollars (truth x billed) in the top `share` by expected loss."""
    order = np.lexsort((-p, -p * billed))
    top = order[: int(np.ceil(share * len(p)))]
    return float((truth[top] * billed[top]).sum() / (truth * billed).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "sample" / "claims.csv"))
    ap.add_argument("--simulate", type=int, default=0, help="simulate this many lines instead of --data")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "rule_floor.json"))
    args = ap.parse_args()

    from denial_risk.modeling import evaluate
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import feature_input, fit_model

    frame, name = _frame(args)
    result = fit_model(frame, TrainConfig())
    model, hold = result.model, result.holdout
    rule = model.rule_risk(feature_input(hold, TrainConfig()))
    y = hold["denied"].astype(bool).to_numpy().astype(int)
    billed = hold["billed_amount"].to_numpy(dtype=float)
    truth = hold.get("true_denial_probability")
    truth = None if truth is None else truth.to_numpy(dtype=float)
    rows = {}
    for label, p in (("classifier", rule.p_model), ("rule_floor", rule.p)):
        m = evaluate.classification_metrics(y, p, billed)
        rows[label] = {k: round(m[k], 4) for k in METRICS}
        if truth is not None:
            rows[label]["expected_dollars_caught_top10"] = round(_expected_capture(truth, p, billed), 4)
    cut = np.sort(rule.p * billed)[::-1][int(np.ceil(0.10 * len(billed))) - 1]
    lifted = np.flatnonzero(rule.p > rule.p_model)
    raised = [
        {
            "hcpcs_code": str(hold["hcpcs_code"].iloc[i]),
            "payer_type": str(hold["payer_type"].iloc[i]),
            "rules": [k for k, v in rule.lifted.items() if v[i]],
            "billed": round(float(billed[i]), 2),
            "p_model": round(float(rule.p_model[i]), 4),
            "p": round(float(rule.p[i]), 4),
            "in_top10": bool(rule.p[i] * billed[i] >= cut),
            "denied": int(y[i]),
            "true_p": None if truth is None else round(float(truth[i]), 4),
        }
        for i in lifted
    ]
    entry = {
        "command": "benchmarks/bench_rule_floor.py " + " ".join(sys.argv[1:]),
        "data": name,
        "holdout_lines": len(hold),
        "metrics": rows,
        "raised": raised,
        "rule_counts": model.info.get("rule_counts"),
        "load_avg_1m": os.getloadavg()[0],
    }
    out = Path(args.out)
    saved = json.loads(out.read_text()) if out.exists() else {}
    saved[name] = entry
    out.write_text(json.dumps(saved, indent=2) + "\n")
    for label, m in rows.items():
        print(f"{label:>10}: " + ", ".join(f"{k} {v}" for k, v in m.items()))
    print(f"{len(raised)} holdout line(s) raised by the floor:")
    for r in raised:
        print("  ", r)


if __name__ == "__main__":
    main()
