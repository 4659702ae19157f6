"""Benchmark: the rule layer's own share of the worklist's time (issue 19: <= 10 % at 1M lines).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_rule_share.py \
        [--model benchmarks/.work/model_200000.pkl] [--data benchmarks/.work/backlog_1000000.csv]

`bench_rules.py` compares whole runs against a checkout without the rule layer; this one needs
no baseline. In one process, `worklist.score_file` (default options, claim table included) runs
once on a small slice of the backlog (the one-off loads: the ICD-10 code set) and then on the
backlog, with the rule layer's functions wrapped by a CPU-time counter, summed over the chunks:

* certain findings on every line (`scoring.rulelayer.certain_findings`) and their joined text
  (`certain_reasons`);
* the risk that knows the rules, the rule-change lift included (`modeling.rule_risk.rule_risk`:
  the classifier's own probability is computed before it and not counted);
* the certain rules' fixes and the stage wording on the explained lines (`scoring.stagefix`).

The line facts (`contract.facts.LineFacts.of`: the policy table, code sets and dated rules per
line) are read by the rule layer and by the reasons and fixes alike; they are reported apart, and
a share with them as an upper bound. CPU time (`time.process_time`), so the figure holds on a
loaded machine better than wall time. Results: benchmarks/results/rule_share.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PARTS = {  # part -> (module, attribute) of the functions it times
    "certain_findings": [("denial_risk.scoring.rulelayer", "certain_findings")],
    "certain_reasons": [("denial_risk.scoring.rulelayer", "certain_reasons")],
    "rule_risk": [("denial_risk.modeling.rule_risk", "rule_risk")],
    "stage_fixes": [
        ("denial_risk.scoring.stagefix", "rule_fixes"),
        ("denial_risk.scoring.stagefix", "advisory_risk"),
        ("denial_risk.scoring.stagefix", "at_stage"),
    ],
}
SHARED = {"line_facts": [("denial_risk.contract.facts", "LineFacts.of")]}


class Counter:
    """CPU seconds per part; a wrapped call inside another wrapped call is not counted twice."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.depth = 0

    def wrap(self, part: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self.depth += 1
            t = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.seconds[part] = self.seconds.get(part, 0.0) + time.process_time() - t

        return timed


def install(counter: Counter, parts: dict) -> None:
    """Replace each function where it is defined and wherever a loaded module imported it by name."""
    import importlib

    for part, targets in parts.items():
        for module_name, attr in targets:
            module = importlib.import_module(module_name)
            if "." in attr:  # a classmethod
                cls_name, meth = attr.split(".")
                cls = getattr(module, cls_name)
                fn = cls.__dict__[meth].__func__
                setattr(cls, meth, classmethod(counter.wrap(part, fn)))
                continue
            fn = getattr(module, attr)
            new = counter.wrap(part, fn)
            for m in list(sys.modules.values()):
                if getattr(m, "__name__", "").startswith("denial_risk") and getattr(m, attr, None) is fn:
                    setattr(m, attr, new)


def main() -> None:
    ap = argparse.ArgumentParser()
    work = ROOT / "benchmarks" / ".work"
    ap.add_argument("--model", default=str(work / "model_200000.pkl"))
    ap.add_argument("--data", default=str(work / "backlog_1000000.csv"))
    ap.add_argument("--work", default=str(work))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "rule_share.json"))
    args = ap.parse_args()
    import pandas as pd

    import denial_risk.scoring.explain
    import denial_risk.scoring.fixes

    del denial_risk  # imported for the names `install` replaces in them
    from denial_risk.scoring.worklist import score_file

    out_dir = Path(args.work)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.model, "rb") as f:
        model = pickle.load(f)
    warm = out_dir / "rule_share_warm.csv"
    pd.read_csv(args.data, nrows=2000, dtype=str, keep_default_na=False).to_csv(warm, index=False)
    score_file(warm, out_dir / "rule_share_warm.parquet", model, progress=False)
    counter = Counter()
    install(counter, {**PARTS, **SHARED})
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    r = score_file(args.data, out_dir / "rule_share.parquet", model, progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rule = sum(counter.seconds.get(p, 0.0) for p in PARTS)
    facts = counter.seconds.get("line_facts", 0.0)
    result = {
        "command": "benchmarks/bench_rule_share.py " + " ".join(sys.argv[1:]),
        "rows": r.rows,
        "worklist_seconds": round(wall, 1),
        "worklist_cpu_seconds": round(cpu, 1),
        "cpu_seconds": {k: round(v, 2) for k, v in counter.seconds.items()},
        "rule_layer_cpu_seconds": round(rule, 2),
        "rule_layer_share": round(rule / cpu, 3),
        "rule_layer_share_with_line_facts": round((rule + facts) / cpu, 3),
        "target": "the rule layer costs <= 10 % of the 1M-line worklist's time (issue 19)",
        "load_avg_1m_at_start": round(load, 1),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 1),
        "cpu_count": os.cpu_count(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
