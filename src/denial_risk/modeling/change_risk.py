"""Risk that knows the payer rule changes in the remits: a change reaches every line of its cell.

The classifier is fitted on the training slice, the earliest months of the labelled ones
(`modeling.train.time_split`). A payer that starts denying a cell's lines in the last months
(`modeling.changes`: COM303 wants prior authorization for knee orthoses from 2025-09) shows it
in the remits the fix effects are refitted on, but the classifier has never seen it: it keeps
such a line's risk at the cell's old rate, the line sinks below the medium tier, and its fix
is never shown (issue 20: 10 of the late change's 54 at-risk lines by default).

So after the holdout metrics, on every labelled line (`fit_change_risk`), each detected change
is checked against the classifier: over the cell's lines with the defect since the change month,
the remits' denial rate `d` beside the classifier's mean risk `m` on the same lines. Where `m`
is below `d` by more than the rate's noise (`Z` standard errors), the classifier has not learned
the change, and each such line's risk is raised by a noisy-OR with the missing chance
q = (d - m) / (1 - m): 1 - (1 - p)(1 - q). The cell's mean risk then matches its remits since
the change, the classifier's order inside the cell is kept, and what it already learned is not
counted twice (q is 0 where m >= d: a change the classifier knows, or a payer that relaxed a
rule). The lines lifted also get their findings and fixes whatever their tier
(`modeling.rule_risk.RuleRisk.with_fix`), as a certain rule's do. Plain dicts in the model's
`info` (saved with skops); a model fitted before has none and is left as it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.biller import remedies
from denial_risk.biller.wording import group_words
from denial_risk.contract.facts import LineFacts
from denial_risk.modeling.changes import _plural, defect_words

INFO_KEY = "change_risk"
MIN_LINES = 20  # labelled lines with the defect since the change, for its rate to be read
Z = 2.33  # one-sided 99 %: the remits' rate must exceed the classifier's mean beyond its noise


def _days(clean: pd.DataFrame) -> np.ndarray:
    return clean["service_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)


def _in_change(change: dict, cand: remedies.Candidates, days: np.ndarray) -> np.ndarray:
    """The lines of the change's cell with its defect, on or after its month."""
    r = change["remedy"]
    mask = getattr(cand, change["state"])[r] & cand.truthful[r]
    return mask & (cand.cells[r] == change["cell"]) & (days >= change["since_day"])


def fit_change_risk(
    model, lines: pd.DataFrame, changes: list[dict], weight: np.ndarray | None = None
) -> list[dict]:
    """Per detected change the classifier has not learned: its cell, month and the chance it adds.

    `lines`: every labelled normalised line (with `denied`); `model`: the fitted model (its risk as
    `modeling.rule_risk` gives it, without any change lift); `weight`: per line (a time-aware sample
    of the training period), or None."""
    if not changes or lines.empty:
        return []
    lines = lines.reset_index(drop=True)
    facts = LineFacts.of(lines)
    cand = remedies.candidates(lines, facts)
    days = _days(lines)
    denied = lines["denied"].astype(bool).to_numpy()
    w = np.ones(len(lines)) if weight is None else np.asarray(weight, dtype=float)
    out = []
    for c in changes:
        mask = _in_change(c, cand, days)
        n = int(mask.sum())
        if n < MIN_LINES:
            continue
        m = float(np.average(model.rule_risk(lines[mask]).p_floored, weights=w[mask]))
        d = float(np.average(denied[mask], weights=w[mask]))
        if m >= d - Z * np.sqrt(max(d * (1 - d), 1e-6) / n):
            continue
        out.append(
            {
                k: c[k]
                for k in ("remedy", "state", "cell", "payer", "scope", "month", "since_day", "direction")
            }
            | {
                "remits_rate": round(d, 4),
                "model_mean": round(m, 4),
                "chance": round((d - m) / (1 - m), 4),
                "lines": n,
            }
        )
    return out


def lift(info: dict, clean: pd.DataFrame, p: np.ndarray, facts: LineFacts | None = None):
    """(the risk with the changes' chances added by noisy-OR, the lines lifted) of normalised lines."""
    entries = info.get(INFO_KEY) or []
    p = np.asarray(p, dtype=float)
    lifted = np.zeros(len(p), dtype=bool)
    if not entries or not len(clean):
        return p, lifted
    payers = {e["payer"] for e in entries}
    days = _days(clean)
    near = np.flatnonzero(
        clean["payer_id"].astype("string").fillna("").isin(payers).to_numpy(dtype=bool)
        & (days >= min(e["since_day"] for e in entries))
    )
    if not len(near):
        return p, lifted
    sub = clean.iloc[near]
    cand = remedies.candidates(sub, facts.subset(near) if facts is not None else LineFacts.of(sub))
    chance = np.zeros(len(near))
    for e in entries:
        mask = _in_change(e, cand, days[near])
        chance = np.where(mask, 1 - (1 - chance) * (1 - e["chance"]), chance)
    out = p.copy()
    out[near] = 1 - (1 - p[near]) * (1 - chance)
    lifted[near] = chance > 0
    return out, lifted


def describe_lift(entry: dict) -> str:
    """'COM303 denies knee orthoses without prior authorization since 2025-09 in its remits (41 %, n = 96)'.

    The finding a lifted line carries."""
    scope = entry["scope"]
    what = _plural(group_words(scope)) if scope.replace("_", "").isalpha() else f"lines ({scope or 'all'})"
    return (
        f"{entry['payer']} denies {what} {defect_words(entry['remedy'], entry['state'])} since "
        f"{entry['month']} in its remits ({100 * entry['remits_rate']:.0f} %, n = {entry['lines']})"
    )
