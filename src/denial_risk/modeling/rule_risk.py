"""Risk that knows the certain rules: a floor where the training remits held too few of a rule's lines.

The classifier learns a rule only from the lines its training remits show. A rule that makes a
denial certain (`contract.certain`) but that the remits rarely or never show (a code added to
Medicare's prior-authorization list last month, a payer new to the data) leaves such a line's
risk low, and the line sinks in the worklist. So at fit time the model records, per certain
rule, how many training lines it bound (and, for the dated lists, how many per code: logged with
the model) and how often they were denied (`fit_rule_counts`). At scoring time a line bound by a
rule whose lines were fewer than `K_MIN` in training gets its risk raised to the rule's floor, its
documented rate (`contract.certain.DOCUMENTED_RATE`).

The count that decides is the rule's, not the code's: the model learns a dated list through one
feature for every code on it on the line's date (`features.documentation`:
`prior_auth_absent_in_medicare_program`), so a code new to a list is known through its siblings.
Lifting such a line to the rule's pooled rate counted the rule twice: on the simulator the per-code
floor raised lines the world denies 10-17 % of the time to 56 %, and top-10 % dollars fell
(docs/rules.md, `benchmarks/bench_rule_floor.py`).

A payer's own rule change the classifier has not learned is added last (`modeling.change_risk`).

A floor, not a noisy-OR: where the model already gives the line at least the rule's rate,
nothing changes, so a rule the model learned is never counted twice, and lines the remits
show plenty of are never moved (docs/rules.md has the choice and the measurements).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.contract.certain import CERTAIN_RULES, DOCUMENTED_RATE, certain_rules
from denial_risk.contract.facts import LineFacts
from denial_risk.modeling import change_risk

K_MIN = 20  # training lines of a rule for the model to have learned it
INFO_KEY = "rule_counts"


def fit_rule_counts(train: pd.DataFrame, denied: np.ndarray) -> dict:
    """Per certain rule: training lines bound (`n`, and `codes` per code), their denial rate (`rate`)
    and the rate of the same payer type's other lines (`base_rate`). Plain data (saved with skops)."""
    facts = LineFacts.of(train)
    masks = certain_rules(train, facts)
    denied = np.asarray(denied, dtype=bool)
    codes = train["hcpcs_code"].astype("string").fillna("").to_numpy(dtype=object)
    ptype = train["payer_type"].astype("string").fillna("").to_numpy(dtype=object)
    out = {}
    for name, mask in masks.items():
        n = int(mask.sum())
        scope = (ptype == "medicare") if name != "invalid_code" else np.ones(len(mask), dtype=bool)
        rest = scope & ~mask
        entry = {
            "n": n,
            "rate": round(float(denied[mask].mean()), 4) if n else None,
            "base_rate": round(float(denied[rest].mean()), 4) if rest.any() else None,
        }
        if CERTAIN_RULES[name].per_code:
            k, c = np.unique(codes[mask], return_counts=True)
            entry["codes"] = {str(a): int(b) for a, b in zip(k, c)}
        out[name] = entry
    return out


@dataclass(frozen=True)
class RuleRisk:
    """The rule-aware risk of a batch of lines, and what each certain rule did to it."""

    p: np.ndarray  # the line's risk: the model's, raised to a rule's floor where the model cannot know it
    p_model: np.ndarray  # the classifier's calibrated risk
    masks: dict[str, np.ndarray]  # the lines each certain rule binds
    lifted: dict[str, np.ndarray]  # the lines whose risk the rule raised
    floor: dict[str, np.ndarray]  # the rule's floor per line (NaN where it does not bind)
    chance: dict[str, float]  # the chance of a denial the rule adds (attributable rate), per rule
    p_floored: np.ndarray | None = None  # the risk before a payer's rule change was added (`change_risk`)
    changed: np.ndarray | None = None  # the lines a rule change the classifier has not learned lifted

    def with_fix(self) -> np.ndarray:
        """Per line: some certain rule with a fix binds it, or a payer's rule change lifted it (its fixes
        are listed whatever the tier)."""
        out = np.zeros(len(self.p), dtype=bool) if self.changed is None else self.changed.copy()
        for name, mask in self.masks.items():
            if CERTAIN_RULES[name].remedy:
                out |= mask
        return out

    def take(self, pos: np.ndarray) -> RuleRisk:
        """The same for the lines at `pos`."""
        return RuleRisk(
            self.p[pos],
            self.p_model[pos],
            {k: v[pos] for k, v in self.masks.items()},
            {k: v[pos] for k, v in self.lifted.items()},
            {k: v[pos] for k, v in self.floor.items()},
            self.chance,
            None if self.p_floored is None else self.p_floored[pos],
            None if self.changed is None else self.changed[pos],
        )

    def risk_without(self, name: str, p: np.ndarray | None = None) -> np.ndarray:
        """Per line: the risk left once the rule is met (NaN where it does not bind).

        Where the rule raised the line, what is left is the model's own risk (raised by any other
        rule still binding). Where the model knew the rule, its share of the risk is read as a chance
        q of a denial, the rule's attributable rate, removed: (p - q) / (1 - q) (project judgement,
        docs/rules.md)."""
        p = self.p if p is None else np.asarray(p, dtype=float)
        mask = self.masks[name]
        others = np.full(len(p), 0.0)
        for other, lifted in self.lifted.items():
            if other != name:
                others = np.where(lifted, np.maximum(others, np.nan_to_num(self.floor[other])), others)
        q = self.chance[name]
        learned = np.where(p >= q, (p - q) / (1.0 - q), p * (1.0 - q))
        out = np.where(self.lifted[name], np.maximum(self.p_model, others), learned)
        return np.where(mask, out, np.nan)


def _floor(entry: dict | None) -> float:
    """The rule's rate: observed over its training lines when there are `K_MIN`, else documented."""
    if entry is not None and entry.get("n", 0) >= K_MIN and entry.get("rate") is not None:
        return float(min(entry["rate"], DOCUMENTED_RATE))
    return DOCUMENTED_RATE


def _chance(entry: dict | None) -> float:
    """The chance of a denial the rule adds: (rate - base) / (1 - base) over its training lines when
    there are `K_MIN`, else the documented rate."""
    if entry is None or entry.get("n", 0) < K_MIN or entry.get("rate") is None:
        return DOCUMENTED_RATE
    base = entry.get("base_rate") or 0.0
    return float(np.clip((entry["rate"] - base) / max(1.0 - base, 1e-6), 0.0, DOCUMENTED_RATE))


def rule_risk(info: dict, clean: pd.DataFrame, p: np.ndarray, facts: LineFacts | None = None) -> RuleRisk:
    """The rule-aware risk of normalised lines whose model risk is `p` (`info`: the model's `info`).

    A model fitted before the counts were recorded (no `rule_counts`) is left as it is: nothing is
    known of what it learned."""
    p_model = np.asarray(p, dtype=float)
    facts = facts if facts is not None else LineFacts.of(clean)
    masks = certain_rules(clean, facts)
    counts = info.get(INFO_KEY)
    out = p_model.copy()
    lifted, floors = {}, {}
    for name, mask in masks.items():
        entry = None if counts is None else counts.get(name)
        floor = np.where(mask, _floor(entry), np.nan)
        floors[name] = floor
        if counts is None or not mask.any():
            lifted[name] = np.zeros(len(mask), dtype=bool)
            continue
        few = entry is None or entry.get("n", 0) < K_MIN  # the rule's count, every code on its list
        lifted[name] = mask & few & (p_model < floor)
        out = np.where(lifted[name], np.maximum(out, floor), out)
    chance = {name: _chance(None if counts is None else counts.get(name)) for name in masks}
    lifted_by_change, changed = change_risk.lift(info, clean, out, facts)
    return RuleRisk(lifted_by_change, p_model, masks, lifted, floors, chance, out, changed)
