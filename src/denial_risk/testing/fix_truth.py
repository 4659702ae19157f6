"""Are the worklist's fixes true? Each one applied to the simulated world's own mechanism.

Re-scoring an edited line through the model checks the model against itself. Here every
fix the worklist considers for a line is made (`biller.remedies.apply`) and the edited
line is judged by the world that generated the data (`synth.oracle.World`): a fix is
true when the world's probability of denial drops. Used by `benchmarks/bench_fixes.py`
and the fix tests (a small world); the product itself never sees the world.

Definitions (issue 11):

* precision: listed fixes whose true drop is at least `MIN_TRUE_DROP` (one point), the
  worst alternative counted (a side fix that could be either side);
* recall: at-risk lines (true risk >= `AT_RISK`) with a fixable cause -- some fix the
  biller can truthfully make lowers the true logit by >= `CAUSE_LOGIT` -- that list
  such a fix;
* error: mean |stated risk after the fix - true risk after it| over listed fixes, beside the
  model's own error on the same lines (mean |model risk - true risk|): the statement should add
  none;
* overclaim: mean (true risk after - stated risk after) over listed fixes: how much more the
  worklist promises than the fix delivers;
* recall on explained lines: the same recall, counting only the lines the worklist explains
  (model risk at or above the medium tier, and the lines a certain rule or a payer's rule change
  binds, `modeling.rule_risk.RuleRisk.with_fix`).

The same figures for a naive design (re-score the edited line; list it when the model's
risk drops a point) show what the learned effects buy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.biller import remedies
from denial_risk.contract.facts import LineFacts
from denial_risk.contract.normalize import REJECT_REASON, normalize_chunk
from denial_risk.scoring import fixes

MIN_TRUE_DROP = 0.01
AT_RISK = 0.2
CAUSE_LOGIT = 1.0
MIN_KIND_LISTINGS = 100


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def judge(
    model, world, clean: pd.DataFrame, *, min_probability: float = 0.0, naive: bool = True, as_of=None
) -> pd.DataFrame:
    """One row per scored fix considered (listed or not) on every line; `listed` only on the lines
    with p >= `min_probability` (the worklist gives every line its fixes: 0), so a fixable line
    left out counts against recall. `as_of`: the day that decides which lines are delivered
    (`score --as-of`; None: today), so which fixes can still be made.

    Columns: fix_table's (`row`, `pos`, `remedy`, `probability`, `new_probability`, `listed`)
    plus `truth` (the world's risk of the line), `true_after` (after the fix, worst
    alternative), `true_drop`, `true_logit_drop`, and with `naive` the re-scored risk
    `naive_after`.
    """
    clean, rejects = normalize_chunk(clean)  # as the worklist sees a file: M17.11 read as M1711
    if len(rejects):
        raise ValueError(f"{len(rejects)} lines cannot be scored: {rejects[REJECT_REASON].iloc[0]}")
    clean = clean.reset_index(drop=True)
    facts = LineFacts.of(clean)
    rule = model.rule_risk(clean, facts=facts)
    p = rule.p
    threshold = min_probability
    table = fixes.fix_table(model, clean, p, None, facts=facts, rule=rule, as_of=as_of)
    table = table[table["kind"] == fixes.KIND_SCORED].reset_index(drop=True)
    # the lines the worklist explains whatever their tier: a certain rule or a payer's rule change binds
    table["always_explained"] = rule.with_fix()[table["pos"].to_numpy(dtype=np.int64)]
    table["listed"] &= p[table["pos"].to_numpy(dtype=np.int64)] >= threshold
    truth = world.true_denial_probability(clean)
    table["truth"] = truth[table["pos"].to_numpy(dtype=np.int64)]
    after = np.full(len(table), np.nan)
    naive_after = np.full(len(table), np.nan)
    for name, idx in table.groupby("remedy").indices.items():
        pos = table["pos"].to_numpy(dtype=np.int64)[idx]
        sub = clean.iloc[pos]
        worst = np.full(len(idx), -np.inf)
        naive_worst = np.full(len(idx), -np.inf)
        for alt in remedies.REMEDIES[name].alternatives:
            edited = remedies.apply(sub, name, alt)
            worst = np.maximum(worst, world.true_denial_probability(edited))
            if naive:
                naive_worst = np.maximum(naive_worst, model.predict_proba(edited))
        after[idx] = worst
        naive_after[idx] = naive_worst
    table["true_after"] = after
    table["true_drop"] = table["truth"] - after
    table["true_logit_drop"] = _logit(table["truth"].to_numpy()) - _logit(after)
    # the stated risk had the model known the line's true risk: what the effect alone gets wrong
    table["stated_from_true_risk"] = _stated_from(table, clean, facts, model.fix_effects)
    if naive:
        table["naive_after"] = naive_after
    return table


def _stated_from(table: pd.DataFrame, clean: pd.DataFrame, facts: LineFacts, effects) -> np.ndarray:
    """The risk each fix would be stated to leave, started from the world's risk instead of the model's."""
    cand = remedies.candidates(clean, facts)
    out = np.full(len(table), np.nan)
    pos = table["pos"].to_numpy(dtype=np.int64)
    for name, idx in table.groupby("remedy").indices.items():
        p_idx = pos[idx]
        state = np.where(cand.present[name][p_idx], "present", "unknown")
        for s in ("present", "unknown"):
            hit = idx[state == s]
            if len(hit):
                fig = effects.lookup(name, s, cand.cells[name][pos[hit]], clean.iloc[pos[hit]])
                fig["beta_stated"] = fig["beta"]  # from the true risk: no uncertainty about the line
                out[hit] = fixes.risk_after(name, s, table["truth"].to_numpy()[hit], fig)[0]
    return out


@dataclass
class Figures:
    listed: int
    precision: float
    recall: float
    error: float
    at_risk_fixable: int
    error_from_true_risk: float = float("nan")  # the same error had the model known each line's true risk
    overclaim: float = float("nan")  # mean (true risk after - stated risk after) over listed fixes
    model_error: float = float("nan")  # mean |model risk - true risk| on the listed fixes' lines
    recall_explained: float = float("nan")  # recall on the lines at or above `explained_from`
    explained_fixable: int = 0

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def figures(
    judged: pd.DataFrame,
    listed: np.ndarray | None = None,
    stated: np.ndarray | None = None,
    *,
    explained_from: float = float("nan"),
) -> Figures:
    """Precision, recall, stated-risk error and overclaim of a listing (default: the worklist's own);
    with `explained_from` (the medium tier), recall on the lines at or above it too."""
    listed = judged["listed"].to_numpy(dtype=bool) if listed is None else listed
    stated = judged["new_probability"].to_numpy(dtype=float) if stated is None else stated
    true_drop = judged["true_drop"].to_numpy(dtype=float)
    precision = float(np.mean(true_drop[listed] >= MIN_TRUE_DROP)) if listed.any() else float("nan")
    error = (
        float(np.mean(np.abs(stated[listed] - judged["true_after"].to_numpy()[listed])))
        if listed.any()
        else float("nan")
    )
    # recall, per line: at risk, with a truthful fix of >= 1 logit; is such a fix listed?
    strong = judged["true_logit_drop"].to_numpy(dtype=float) >= CAUSE_LOGIT
    at_risk = judged["truth"].to_numpy(dtype=float) >= AT_RISK
    pos = judged["pos"].to_numpy(dtype=np.int64)
    fixable = np.unique(pos[strong & at_risk])
    found = np.unique(pos[strong & at_risk & listed])
    recall = len(found) / len(fixable) if len(fixable) else float("nan")
    explained = judged["probability"].to_numpy(dtype=float) >= explained_from
    if "always_explained" in judged:
        explained |= judged["always_explained"].to_numpy(dtype=bool)
    fixable_x = np.unique(pos[strong & at_risk & explained])
    found_x = np.unique(pos[strong & at_risk & explained & listed])
    recall_x = len(found_x) / len(fixable_x) if len(fixable_x) else float("nan")
    after = judged["true_after"].to_numpy(dtype=float)
    overclaim = float(np.mean(after[listed] - stated[listed])) if listed.any() else float("nan")
    p, truth = judged["probability"].to_numpy(dtype=float), judged["truth"].to_numpy(dtype=float)
    model_error = float(np.mean(np.abs(p[listed] - truth[listed]))) if listed.any() else float("nan")
    floor = float("nan")
    if "stated_from_true_risk" in judged and listed.any():
        floor = float(
            np.mean(
                np.abs(
                    judged["stated_from_true_risk"].to_numpy()[listed]
                    - judged["true_after"].to_numpy()[listed]
                )
            )
        )
    return Figures(
        int(listed.sum()),
        precision,
        recall,
        error,
        len(fixable),
        floor,
        overclaim,
        model_error,
        recall_x,
        len(fixable_x),
    )


def naive_listing(judged: pd.DataFrame, min_probability: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The re-scoring design: list a fix when the model's own risk drops a point; state the re-scored risk
    (on the lines with p >= `min_probability`)."""
    after = judged["naive_after"].to_numpy(dtype=float)
    p = judged["probability"].to_numpy(dtype=float)
    return ((p - after) >= fixes.MIN_DROP) & (p >= min_probability), after


def by_kind(judged: pd.DataFrame, explained_from: float = float("nan")) -> pd.DataFrame:
    """The figures per remedy (kinds with any listing)."""
    rows = []
    for name, part in judged.groupby("remedy"):
        f = figures(part, explained_from=explained_from)
        rows.append({"fix": name, **f.as_dict()})
    return pd.DataFrame(rows).sort_values("listed", ascending=False).reset_index(drop=True)


def remedy_of(text: str) -> str | None:
    """The remedy a worklist fix's words name ('attach the signed proof of delivery → 7%'), or None."""
    import re

    from denial_risk.biller.wording import REMEDY_TEXT, UNKNOWN_SUFFIX
    from denial_risk.scoring.stagefix import remedy_of_stage_text

    words = re.sub(r"\s*→\s*[\d.]+%$", "", text).removesuffix(UNKNOWN_SUFFIX)
    if (staged := remedy_of_stage_text(words)) is not None:
        return staged
    for name, template in REMEDY_TEXT.items():
        pattern = re.escape(template).replace(r"\{code\}", ".+").replace(r"\{group\}", ".+")
        pattern = pattern.replace(r"\{codes\}", ".+")
        if re.fullmatch(pattern + r"(?: \(Medicare's prior authorization list, .+\))?", words):
            return name
    return None


def judge_worklist(worklist: pd.DataFrame, world, frame: pd.DataFrame) -> pd.DataFrame:
    """Every scored fix a written worklist lists, made to its line and judged by the world.

    `worklist`: claim_id, line_number, recommended_actions (as written); `frame`: the world's lines
    (any form `normalize_chunk` reads). One row per listed fix: `stated`, `truth`, `true_after` (the
    worse alternative), `true_drop`.
    """
    from denial_risk.contract import schema

    clean, _ = normalize_chunk(frame.drop(columns=list(schema.OUTCOME_COLUMNS), errors="ignore"))
    key = clean["claim_id"].astype(str) + "#" + clean["line_number"].astype(str)
    where = pd.Series(np.arange(len(clean)), index=key.to_numpy())
    rows = []
    for r in worklist.itertuples(index=False):
        for item in str(r.recommended_actions or "").split("; "):
            if "→" not in item:
                continue
            name = remedy_of(item)
            if name is None:
                raise ValueError(f"a fix the product does not know: {item!r}")
            if name not in remedies.REMEDIES:
                continue  # advice with a stated risk but no edit the world can make (which valid code?)
            pos = int(where[f"{r.claim_id}#{r.line_number}"])
            stated = float(item.rsplit("→", 1)[1].strip(" %")) / 100
            rows.append((r.claim_id, r.line_number, name, stated, pos))
    out = pd.DataFrame(rows, columns=["claim_id", "line_number", "remedy", "stated", "pos"])
    truth = world.true_denial_probability(clean)
    out["truth"] = truth[out["pos"].to_numpy(dtype=np.int64)]
    after = np.full(len(out), np.nan)
    for name, idx in out.groupby("remedy").indices.items():
        sub = clean.iloc[out["pos"].to_numpy(dtype=np.int64)[idx]]
        alts = remedies.REMEDIES[name].alternatives
        after[idx] = np.max(
            [world.true_denial_probability(remedies.apply(sub, name, a)) for a in alts], axis=0
        )
    out["true_after"] = after
    out["true_drop"] = out["truth"] - after
    return out.drop(columns="pos")
