"""Recommended actions: the fixes a biller can truthfully make, each with the risk it would leave.

A fix is a remedy (`biller.remedies`) to the line itself -- a side modifier, two lines
instead of one, a document attached, prior authorization obtained, eligibility verified
-- never the payer, the patient or the date of service, and never a record written
after the fact. A fix is listed only when its effect, learned from this payer's
remittances in the line's cell and adjusted for the supplier (`modeling.effects`),
lowers the risk by at least `MIN_DROP` at its lower bound (one-sided 99 %), and the
payer's own denial reasons do not contradict it. The risk stated is the line's
calibrated risk without the defect: sigmoid(logit(p) - effect). Re-scoring the edited
line through the denial model would check the model against itself, not the payer
(docs/fixes.md has the measurements behind this choice).

Advisories carry no risk: the right answer is not on the claim (a code that is not
valid, no diagnosis that supports the item, a same-or-similar item, units above the
policy's limit); they read `advice: …`, so a fix without `→ N%` is never mistaken for
one whose effect was measured. No fix's words contain the separator `; `.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.biller import remedies
from denial_risk.biller.wording import (
    ADVICE_PREFIX,
    FIX_SEP,
    REMEDY_TEXT,
    RISK_ARROW,
    UNKNOWN_SUFFIX,
    dotted,
    group_words,
)
from denial_risk.contract import policy
from denial_risk.contract.certain import delivered
from denial_risk.contract.facts import LineFacts, same_or_similar, split_list_value
from denial_risk.scoring import stagefix

MIN_DROP = 0.01  # a fix must lower the risk by at least one percentage point, at its lower bound
# The risk a fix starts from is capped: a calibrated 100 % (the top isotonic bin) would leave no room in the
# logit for any one fix, although the world's risk behind it is rarely above 98 % (bench_fixes.py).
P_CAP = 0.98
MIN_EFFECT = 0.25  # and the effect itself, at its lower bound, a quarter of a logit: no fragile listings
Z = 2.33  # one-sided 99 % lower bound: hundreds of payer cells are tested, so 95 % would pass one null in 20
MAX_ACTIONS = 4  # scored fixes listed per line (advisories come on top)
KIND_SCORED, KIND_ADVISORY = "scored", "advisory"
# `basis`: where the stated risk comes from: "learned" (the remits' effect), "rule" (a certain rule met,
# `scoring.stagefix`), "advice" (none, or the rule's for an invalid code)
COLUMNS = [
    "row",
    "pos",
    "remedy",
    "text",
    "kind",
    "probability",
    "new_probability",
    "low_drop",
    "listed",
    "basis",
]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def fix_table(
    model,
    clean: pd.DataFrame,
    p: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    facts: LineFacts | None = None,
    rule=None,
    as_of=None,
) -> pd.DataFrame:
    """Every fix considered for the chosen rows: one row per (line, fix), listed or not.

    `rows`: boolean mask or positions into `clean` (default: all). `new_probability` is the risk
    the fix leaves (NaN for advisories and where no effect was learned), `low_drop` the risk drop
    at the effect's lower bound, `listed` whether it is shown. `rule`: the `RuleRisk` of `clean`
    (computed when not given); `as_of`: the day that decides which lines are delivered (today).
    Certain rules list their fix without a learned effect, and each fix is worded (or left out)
    for the line's stage (`scoring.stagefix`).
    """
    n = len(clean)
    pos_all = (
        np.arange(n)
        if rows is None
        else np.flatnonzero(rows)
        if np.asarray(rows).dtype == bool
        else np.asarray(rows, dtype=np.int64)
    )
    if len(pos_all) == 0:
        return pd.DataFrame({c: [] for c in COLUMNS})
    sub = clean.iloc[pos_all]
    facts = facts.subset(pos_all) if facts is not None else LineFacts.of(sub)
    ps = np.asarray(p, dtype=float)[pos_all]
    effects = getattr(model, "fix_effects", None)
    cand = remedies.candidates(sub, facts)  # once per call: the learned fixes and the certain rules' alike
    parts = _scored(sub, facts, ps, effects, cand) if effects is not None else []
    parts += _advisories(sub, facts, ps)
    parts = [x for x in parts if len(x)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: [] for c in COLUMNS[1:]})
    table = _rules_and_stage(model, sub, facts, ps, table, pos_all, rule, as_of, cand)
    if not len(table):
        return pd.DataFrame({c: [] for c in COLUMNS})
    table["pos"] = pos_all[table["pos"].to_numpy()]
    table["row"] = clean.index.to_numpy()[table["pos"].to_numpy()]
    return table[COLUMNS]


def _rules_and_stage(model, sub, facts, ps, table, pos_all, rule, as_of, cand) -> pd.DataFrame:
    """The certain rules' fixes added, every fix worded for its stage (`scoring.stagefix`)."""
    if rule is not None:
        rule = rule.take(pos_all)
    elif hasattr(model, "rule_risk"):
        rule = model.rule_risk(sub, facts=facts)
    if rule is not None:
        truthful = cand.truthful
        table = stagefix.rule_fixes(table, ps, rule, truthful, min_drop=MIN_DROP, kind=KIND_SCORED)
        table = stagefix.advisory_risk(table, ps, rule)
    return stagefix.at_stage(table, sub, facts, delivered(sub, as_of))


def _scored(
    sub: pd.DataFrame, facts: LineFacts, ps: np.ndarray, effects, cand: remedies.Candidates
) -> list[pd.DataFrame]:
    texts = _remedy_texts(sub, facts, cand)
    detail = sub[[c for c in ("hcpcs_code", "billed_amount") if c in sub]]  # where effects vary in a cell
    out = []
    for name in remedies.REMEDIES:
        for state in ("present", "unknown"):
            pos = np.flatnonzero(getattr(cand, state)[name] & cand.truthful[name])
            if not len(pos):
                continue
            fig = effects.lookup(name, state, cand.cells[name][pos], detail.iloc[pos])
            beta, se = fig["beta"], fig["se"]
            new_p, low = risk_after(name, state, ps[pos], fig)
            reasons_agree = ~(fig["reason_rate"] < fig["reason_rate_without"])  # NaN (no reasons) agrees
            listed = (np.nan_to_num(low) >= MIN_DROP) & (np.nan_to_num(beta - Z * se) >= MIN_EFFECT)
            listed &= reasons_agree & ~np.isnan(beta)
            words = texts[name][pos] if name in texts else np.full(len(pos), REMEDY_TEXT[name], dtype=object)
            text = words + (UNKNOWN_SUFFIX if state == "unknown" else "")
            out.append(
                pd.DataFrame(
                    {
                        "pos": pos,
                        "remedy": name,
                        "text": text,
                        "kind": KIND_SCORED,
                        "probability": ps[pos],
                        "new_probability": new_p,
                        "low_drop": low,
                        "listed": listed,
                        "basis": "learned",
                    }
                )
            )
    return out


def risk_after(name: str, state: str, p: np.ndarray, fig: dict) -> tuple[np.ndarray, np.ndarray]:
    """(the risk a fix leaves, the drop at the effect's lower bound) for lines at risk `p`, from the
    learned figures of their cells (`FixEffects.lookup`). A defect the line shows shifts its logit by
    the effect; a defect that is only possible (`_chance_removed`) is a chance of a denial removed."""
    start = np.minimum(np.asarray(p, dtype=float), P_CAP)
    stated = fig.get("beta_stated", fig["beta"])  # the effect the statement removes (`FixEffects.lookup`)
    if state == "unknown" or remedies.REMEDIES[name].uncertain:
        return _chance_removed(start, fig["beta"], fig["se"], fig["rate"], stated)
    logit = _logit(start)
    return _sigmoid(logit - stated), start - _sigmoid(logit - (fig["beta"] - Z * fig["se"]))


def _chance_removed(p: np.ndarray, beta: np.ndarray, se: np.ndarray, rate: np.ndarray, stated=None):
    """(risk after, drop at the lower bound) for a fix that removes a *chance* of a denial.

    Where the defect is only possible (eligibility never checked, a document whose status is not
    recorded), the remits show it as an average shift of the cell's logit, `beta` at the cell's
    denial rate `rate`. Read as a chance q that the line is denied for it: q = (r - r0) / (1 - r0)
    with r0 = sigmoid(logit(r) - beta); removing it leaves (p - q) / (1 - q), so a line already
    near-certain to be denied for other reasons gains little (issue 11: verify eligibility on a
    95 % line did not move the world's risk)."""

    def chance(b):
        r = np.clip(rate, 1e-6, 1 - 1e-6)
        r0 = _sigmoid(_logit(r) - b)
        return np.clip((r - r0) / (1 - r0), 0.0, 0.999)

    q, q_low = chance(beta if stated is None else stated), chance(beta - Z * se)
    after = np.clip((p - q) / (1 - q), 0.0, 1.0)
    low = p - np.clip((p - q_low) / (1 - q_low), 0.0, 1.0)
    return after, low


def _remedy_texts(sub: pd.DataFrame, facts: LineFacts, cand: remedies.Candidates) -> dict[str, np.ndarray]:
    """The words per line of the remedies that quote the line's fields (filled in where the remedy applies);
    the others' words are the same on every line (`REMEDY_TEXT`)."""
    n = len(sub)
    out = {name: np.full(n, REMEDY_TEXT[name], dtype=object) for name in ("primary_dx", "drop_invalid_dx")}
    first = facts.support["first_supporting_code"].astype("string").fillna("").to_numpy(dtype=object)
    groups = facts.policy["policy_group"].astype("string").fillna("").to_numpy(dtype=object)
    at = np.flatnonzero(cand.applies("primary_dx"))
    out["primary_dx"][at] = [
        REMEDY_TEXT["primary_dx"].format(code=dotted(c), group=group_words(g))
        for c, g in zip(first[at], groups[at])
    ]
    bad = facts.invalid_dx.to_numpy(dtype=object)
    at = np.flatnonzero(cand.applies("drop_invalid_dx"))
    out["drop_invalid_dx"][at] = [
        REMEDY_TEXT["drop_invalid_dx"].format(codes=", ".join(dotted(c) for c in split_list_value(b)))
        for b in bad[at]
    ]
    return out  # one wording per fix: where a rule requires it, the reason names the rule and its source


def _advisories(sub: pd.DataFrame, facts: LineFacts, ps: np.ndarray) -> list[pd.DataFrame]:
    """Unscored advice: an invalid code (first), no supporting diagnosis, same or similar, units (last)."""
    codes = sub["hcpcs_code"].astype("string").fillna("").to_numpy(dtype=object)
    groups = facts.policy["policy_group"].astype("string").fillna("").to_numpy(dtype=object)
    units = (
        sub["units"].astype("Float64").fillna(1.0).to_numpy(dtype=float)
        if "units" in sub
        else np.ones(len(sub))
    )
    limit = facts.policy["unit_limit"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    both = facts.mods["RT"] & facts.mods["LT"]
    prior = (
        sub["prior_same_code_12m"].astype("Float64").fillna(0).to_numpy(dtype=float)
        if "prior_same_code_12m" in sub
        else np.zeros(len(sub))
    )
    sided = facts.flag("sided")
    sourced = np.isin(groups, policy.SOURCED_UNIT_LIMITS)
    items = [
        (
            "replace_code",
            facts.hcpcs_status.eq("invalid").fillna(False).to_numpy(dtype=bool),
            lambda i: REMEDY_TEXT["replace_code"].format(code=codes[i]),
        ),
        (
            "no_supporting_dx",
            facts.support["any_supports"].eq(False).fillna(False).to_numpy(dtype=bool),
            lambda i: (
                f"check whether the record documents a diagnosis that supports the {group_words(groups[i])}"
            ),
        ),
        (
            "same_or_similar",
            same_or_similar(prior, facts),
            lambda i: (
                "add RA and the narrative only if this replaces a lost, stolen or irreparably damaged item "
                "(otherwise expect a same-or-similar denial)"
            ),
        ),
        (
            "units",
            units > np.where(both, 2, 1) * limit,
            lambda i: (
                f"check the units delivered ({'the policy' if sourced[i] else 'the project'}'s limit is"
                f" {limit[i]:.0f} {'per side ' if sided[i] else ''}on a line"
                + ("" if sourced[i] else ", project judgement")
                + ")"
            ),
        ),
    ]
    out = []
    for name, mask, text in items:
        pos = np.flatnonzero(mask)
        if len(pos):
            out.append(
                pd.DataFrame(
                    {
                        "pos": pos,
                        "remedy": name,
                        "text": [text(i) for i in pos],
                        "kind": KIND_ADVISORY,
                        "probability": ps[pos],
                        "new_probability": np.nan,
                        "low_drop": np.nan,
                        "listed": True,
                        "basis": "advice",
                    }
                )
            )
    return out


def format_risk(p: float) -> str:
    """0.0712 -> '7%'; below 1 %, one decimal ('0.4%')."""
    pct = 100.0 * float(p)
    return f"{pct:.1f}%" if pct < 1.0 else f"{pct:.0f}%"


def listed_fixes(table: pd.DataFrame, *, max_actions: int = MAX_ACTIONS) -> pd.DataFrame:
    """The fixes shown per line, in display order: an invalid code, then scored (best first), then advice."""
    if table.empty:
        return table.assign(order=[])
    t = table[table["listed"].astype(bool)].copy()
    order_key = np.where(
        t["remedy"] == "replace_code",
        -1.0,
        np.where(t["kind"] == KIND_ADVISORY, 2.0, t["new_probability"].to_numpy(dtype=float)),
    )
    t["order"] = order_key
    t = t.sort_values(["pos", "order"], kind="stable")
    scored = t["kind"] == KIND_SCORED
    rank = scored.groupby(t["pos"]).cumsum()
    return t[~scored | (rank <= max_actions)]


def join_by_position(pos: np.ndarray, text: np.ndarray, sep: str = FIX_SEP) -> tuple[np.ndarray, list[str]]:
    """Items already sorted by position (stable) -> (distinct positions, joined texts)."""
    if len(pos) == 0:
        return np.empty(0, dtype=np.int64), []
    starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
    bounds = np.r_[starts, len(pos)].tolist()
    items = text.tolist()
    return pos[starts], [sep.join(items[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def recommended_actions(table: pd.DataFrame, index: pd.Index, *, max_actions: int = MAX_ACTIONS) -> pd.Series:
    """`; `-joined fixes per line, aligned on `index` ('' = none): a scored fix with the risk it leaves
    (`obtain prior authorization → 7%`), advice marked as such (`advice: check the units delivered …`)."""
    shown = listed_fixes(table, max_actions=max_actions)
    out = pd.Series("", index=index, dtype=object)
    if len(shown):
        text = np.where(
            (shown["kind"] == KIND_SCORED) | shown["new_probability"].notna(),
            shown["text"] + RISK_ARROW + shown["new_probability"].map(format_risk),
            ADVICE_PREFIX + shown["text"],
        )
        jpos, jtext = join_by_position(shown["pos"].to_numpy(dtype=np.int64), np.asarray(text, dtype=object))
        out.iloc[jpos] = jtext
    return out.astype("string")
