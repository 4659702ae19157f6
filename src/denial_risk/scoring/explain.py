"""Which worklist lines get reasons and fixes, and giving them: `--explain-top N`, `--explain-all`.

Every scored line gets its probability, expected loss, tier and `likely_denial_codes`.
Reasons and fixes cost far more than the score (findings, fixes, one rescoring per feature
group), and a biller works the top of the worklist, so they are given to the lines that
will be worked:

* default: the lines at or above the model's medium-tier threshold (or `min_probability`);
* `--explain-top N`: the N lines ranked first by expected loss, file-wide;
* `--explain-all`: every line (the worklist as it was before `--explain-top`).

An explained line gets exactly what `--explain-all` gives it (its findings; the likely CARC
and its fixes at or above the medium threshold; the model's group attributions at or above
the high one: `scoring.reasons.explain_rows`), since each line's explanation depends on that
line alone. The others get the rule layer's certain findings in `top_reasons`
(`scoring.rulelayer`: every line, whatever its tier) and empty `recommended_actions`.

Lines chosen by their own probability are explained as they are scored (pass 1 of
`scoring.worklist`); lines chosen by their file-wide rank are explained in pass 2, once the
ranks are known: their original values are read back from the scored file, normalised and
featurised again (both depend on the line alone) and explained batch by batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from denial_risk.contract.certain import delivered
from denial_risk.contract.facts import LineFacts
from denial_risk.contract.normalize import normalize_chunk
from denial_risk.errors import UserError
from denial_risk.scoring.reasons import LikelyCodes, explain_rows
from denial_risk.scoring.rulelayer import certain_reasons

EXPLAINED = ("top_reasons", "recommended_actions")


@dataclass(frozen=True)
class ExplainPolicy:
    """`mode`: "threshold" (default), "top" (the `top` lines ranked first), "all" or "none"."""

    mode: str = "threshold"
    top: int = 0
    min_probability: float | None = None
    as_of: object = None  # the day that decides which lines are delivered (`score --as-of`; None: today)

    @classmethod
    def choose(
        cls,
        *,
        explain_top: int | None = None,
        explain_all: bool = False,
        explain: bool = True,
        min_probability: float | None = None,
        as_of=None,
    ) -> ExplainPolicy:
        if explain_top is not None and explain_all:
            raise UserError("--explain-top and --explain-all: give one of them")
        if explain_top is not None and explain_top < 0:
            raise UserError(f"--explain-top {explain_top}: must be 0 or more")
        if not explain:
            return cls("none", min_probability=min_probability, as_of=as_of)
        if explain_all:
            return cls("all", min_probability=min_probability, as_of=as_of)
        if explain_top is not None:
            return cls("top", top=int(explain_top), min_probability=min_probability, as_of=as_of)
        return cls("threshold", min_probability=min_probability, as_of=as_of)

    def threshold(self, model) -> float:
        return model.tiers.get("medium", 0.2) if self.min_probability is None else self.min_probability

    def by_probability(self, model, p: np.ndarray) -> np.ndarray:
        """Positions explained as they are scored (pass 1)."""
        if self.mode == "all":
            return np.arange(len(p))
        if self.mode == "threshold":
            return np.flatnonzero(p >= self.threshold(model))
        return np.empty(0, dtype=np.int64)

    def by_rank(self, ranks: np.ndarray) -> np.ndarray:
        """Positions (in a batch of ranks) explained in pass 2."""
        if self.mode != "top":
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(ranks <= self.top)

    def describe(self) -> str:
        return {
            "all": "every line",
            "none": "no line",
            "top": f"the {self.top:,} lines ranked first",
        }.get(self.mode, "the lines at or above the medium tier")


def scored_columns(model, clean: pd.DataFrame, policy: ExplainPolicy) -> tuple[pd.DataFrame, np.ndarray]:
    """(the added columns but the rank, the feature matrix) for a chunk of normalised rows."""
    X = model.transform(clean)
    facts = LineFacts.of(clean)
    rule = model.rule_risk(clean, X, facts)
    p = rule.p
    likely = LikelyCodes.of(model, X)
    n = len(clean)
    reasons = np.full(n, "", dtype=object)
    actions = np.full(n, "", dtype=object)
    pos = policy.by_probability(model, p)
    if policy.mode != "none":  # a certain rule's fix is listed whatever the tier (`scoring.stagefix`)
        pos = np.union1d(pos, np.flatnonzero(rule.with_fix()))
        # the rule layer: certain findings on every line; an explained line gets them in its reasons
        rest = np.setdiff1d(np.arange(n), pos)
        if len(rest) == n:
            reasons = certain_reasons(clean, facts, delivered(clean, policy.as_of))
        elif len(rest):
            stage = delivered(clean, policy.as_of)[rest]
            reasons[rest] = certain_reasons(clean.iloc[rest], facts.subset(rest), stage)
    if len(pos):
        ex = explain_rows(
            model,
            clean.iloc[pos],
            X[pos],
            p[pos],
            min_probability=policy.min_probability,
            likely=likely.take(pos),
            facts=facts.subset(pos),
            rule=rule.take(pos),
            as_of=policy.as_of,
        )
        reasons[pos] = ex["top_reasons"].fillna("").to_numpy(dtype=object)
        actions[pos] = ex["recommended_actions"].fillna("").to_numpy(dtype=object)
    added = pd.DataFrame(
        {
            "denial_probability": p,
            "expected_loss": p * clean["billed_amount"].to_numpy(dtype=float),
            "risk_tier": pd.array(model.tier(p), dtype="string"),
            "top_reasons": pd.array(reasons, dtype="string"),
            "recommended_actions": pd.array(actions, dtype="string"),
            "likely_denial_codes": pd.array(likely.text, dtype="string"),
        },
        index=clean.index,
    )
    return added, X


def explain_ranked(
    model, batch: pa.Table, hit: np.ndarray, input_columns: list[str], policy: ExplainPolicy
) -> pa.Table:
    """Pass 2: the batch (a slice of the scored file) with the rows at `hit` explained."""
    if not len(hit):
        return batch
    rows = batch.take(pa.array(hit)).select(input_columns).to_pandas()
    clean, rejects = normalize_chunk(rows)
    if len(rejects):  # pragma: no cover - the rows were scorable in pass 1 and nothing about them changed
        raise AssertionError(
            f"{len(rejects)} scored line(s) no longer normalise: {rejects.iloc[0].to_dict()}"
        )
    p = batch.column("denial_probability").to_numpy()[hit]
    codes = batch.column("likely_denial_codes").to_numpy(zero_copy_only=False)[hit]
    likely = LikelyCodes.parse(np.asarray([c if isinstance(c, str) else "" for c in codes], dtype=object))
    X = model.transform(clean)
    facts = LineFacts.of(clean)
    rule = model.rule_risk(clean, X, facts)
    ex = explain_rows(
        model,
        clean,
        X,
        p,
        min_probability=policy.min_probability,
        likely=likely,
        facts=facts,
        rule=rule,
        as_of=policy.as_of,
    )
    for name in EXPLAINED:
        column = np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=object)
        column[hit] = ex[name].fillna("").to_numpy(dtype=object)
        field = batch.schema.field(name)
        batch = batch.set_column(batch.schema.get_field_index(name), field, pa.array(column, type=field.type))
    return batch
