"""Payer rule changes seen in the remits: when a cell's denials for a remedy's reasons start or stop.

A payer that begins requiring prior authorization for knee orthoses shows it first in
its remits: lines without it start coming back CO-197. Per remedy, state (shown /
unknown) and payer cell (`biller.remedies`), the lines with the defect are counted
per service month, with how many were denied for one of the remedy's own reasons
(its CARCs; the denial itself where the remits carry no reasons). A single
changepoint is searched over the month boundaries: the split that most raises the
binomial likelihood of two rates over one. It is a change when twice the log
likelihood ratio is at least `MIN_LR` (hundreds of cells and dozens of boundaries
are searched: a null cell's maximum seldom reaches it) and the rate moved by at least
`MIN_SHIFT`, with `MIN_SIDE` lines on each side.

`modeling.effects` then reads the cell's effect from the lines since the change (and
the reasons' evidence too), and `monitor` and the report list the changes
(`describe`). Changes are plain dicts, so they save with the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.biller import remedies
from denial_risk.biller.wording import DOCUMENT_NAMES, group_words

MIN_LR = 30.0  # twice the log likelihood ratio of the best split (project judgement, see the docstring)
MIN_SHIFT = 0.08  # the remedy's reasons' share moved by 8 points or more
MIN_SIDE = 20  # lines with the defect on each side of the change

DEFECT_WORDS = {
    "obtain_prior_auth": "without prior authorization",
    "verify_eligibility": "without verified eligibility",
    "add_side": "without RT/LT",
    "split_rtlt": "with RT and LT on one line",
    "add_kx": "without KX",
    "remove_kx": "with KX beside GA/GY/GZ",
    "add_cg": "without CG",
    "add_purchase_modifier": "without NU/RR",
    "rr_to_nu": "billed as a rental",
    "primary_dx": "with a non-supporting primary diagnosis",
    "drop_invalid_dx": "with an invalid diagnosis",
    "correct_ordering_npi": "with an invalid ordering NPI",
    "attach_face_to_face": "without a face-to-face note",
}


def _month_index(dates: pd.Series) -> np.ndarray:
    d = pd.to_datetime(dates).to_numpy(dtype="datetime64[M]")
    return d.astype(np.int64)


def _loglik(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Binomial log likelihood at the MLE rate k / n (0 where n is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(n > 0, k / np.where(n > 0, n, 1), 0.0)
        a = np.where(k > 0, k * np.log(np.where(r > 0, r, 1)), 0.0)
        b = np.where(n - k > 0, (n - k) * np.log(np.where(r < 1, 1 - r, 1)), 0.0)
    return a + b


def best_split(n: np.ndarray, k: np.ndarray) -> tuple[int, float]:
    """(index of the first month after the change, twice the log likelihood ratio) of the best single
    changepoint in monthly counts `n` (lines) and `k` (hits); (-1, 0) when no split has `MIN_SIDE` a side."""
    cn, ck = np.cumsum(n), np.cumsum(k)
    tn, tk = cn[-1], ck[-1]
    before_n, before_k = cn[:-1], ck[:-1]
    after_n, after_k = tn - before_n, tk - before_k
    ok = (before_n >= MIN_SIDE) & (after_n >= MIN_SIDE)
    if not ok.any():
        return -1, 0.0
    lr = 2 * (_loglik(before_k, before_n) + _loglik(after_k, after_n) - _loglik(np.array(tk), np.array(tn)))
    lr = np.where(ok, lr, -np.inf)
    j = int(np.argmax(lr))
    return j + 1, float(lr[j])


def detect(
    clean: pd.DataFrame,
    cand: remedies.Candidates,
    denied: np.ndarray,
    reasons: pd.Series | None,
    weight: np.ndarray | None = None,
    cells_of: dict | None = None,
) -> list[dict]:
    """Every detected change (plain dicts, by remedy, state and cell), oldest month first.

    `cells_of`: remedy -> (codes, unique cells) already factorised, or None. Weights (a time-aware
    sample) are rescaled to the lines' count, so the test is not made surer by them."""
    if len(clean) == 0:
        return []
    month = _month_index(clean["service_date"])
    m0 = month.min()
    mi = month - m0
    n_months = int(mi.max()) + 1
    if n_months < 2:
        return []
    w = np.ones(len(clean)) if weight is None else np.asarray(weight, float) * len(clean) / np.sum(weight)
    dn = np.asarray(denied, bool)
    have = reasons is not None and reasons.notna().any()
    carc = reasons.astype("string").fillna("").to_numpy(object) if have else None
    out = []
    for r, remedy in remedies.REMEDIES.items():
        hit = dn & np.isin(carc, remedy.carcs) if have else dn
        codes, uniq = (
            cells_of[r] if cells_of else pd.factorize(pd.Series(cand.cells[r], dtype=object).astype(str))
        )
        for s in ("present", "unknown"):
            mask = getattr(cand, s)[r]
            if mask.sum() < 2 * MIN_SIDE:
                continue
            key = codes[mask] * n_months + mi[mask]
            size = len(uniq) * n_months
            n = np.bincount(key, weights=w[mask], minlength=size).reshape(len(uniq), n_months)
            k = np.bincount(key, weights=(w * hit)[mask], minlength=size).reshape(len(uniq), n_months)
            for c in np.flatnonzero(n.sum(axis=1) >= 2 * MIN_SIDE):
                change = _change(n[c], k[c])
                if change is not None:
                    at, rb, ra, nb, na = change
                    when = np.datetime64(int(m0 + at), "M")
                    out.append(_record(r, s, str(uniq[c]), when, rb, ra, nb, na, remedy.carcs))
    return sorted(out, key=lambda c: (c["month"], c["remedy"], c["cell"]))


def detect_in(frame: pd.DataFrame) -> list[dict]:
    """The changes in labelled normalised lines (a month or more of remits), as `detect` finds them."""
    from denial_risk.contract.facts import LineFacts

    labelled = frame[frame["denied"].notna()].reset_index(drop=True) if "denied" in frame else frame.iloc[:0]
    if labelled.empty:
        return []
    cand = remedies.candidates(labelled, LineFacts.of(labelled))
    return detect(labelled, cand, labelled["denied"].astype(bool).to_numpy(), labelled.get("denial_reason"))


def merged(*lists: list[dict]) -> list[dict]:
    """Changes from several sources, each (remedy, state, cell, month) once, oldest month first."""
    seen: dict[tuple, dict] = {}
    for changes in lists:
        for c in changes:
            seen.setdefault((c["remedy"], c["state"], c["cell"], c["month"]), c)
    return sorted(seen.values(), key=lambda c: (c["month"], c["remedy"], c["cell"]))


def _change(n: np.ndarray, k: np.ndarray):
    at, lr = best_split(n, k)
    if at < 0 or lr < MIN_LR:
        return None
    nb, na = n[:at].sum(), n[at:].sum()
    rb, ra = k[:at].sum() / nb, k[at:].sum() / na
    if abs(ra - rb) < MIN_SHIFT:
        return None
    return at, rb, ra, nb, na


def _record(r, s, cell, when, rb, ra, nb, na, carcs) -> dict:
    payer, _, scope = cell.partition("|")
    return {
        "remedy": r,
        "state": s,
        "cell": cell,
        "payer": payer,
        "scope": scope,
        "month": str(when),
        "since_day": int(when.astype("datetime64[D]").astype(np.int64)),
        "direction": "started" if ra > rb else "stopped",
        "reasons": "/".join(carcs[:2]),
        "rate_before": round(float(rb), 4),
        "rate_after": round(float(ra), 4),
        "lines_before": int(round(nb)),
        "lines_after": int(round(na)),
    }


def defect_words(remedy: str, state: str) -> str:
    if remedy.startswith("attach:"):
        words = f"without the {DOCUMENT_NAMES.get(remedy.split(':', 1)[1], 'document')}"
    else:
        words = DEFECT_WORDS.get(remedy, f"needing {remedy}")
    return words + (" on file (status not recorded)" if state == "unknown" else "")


def _plural(words: str) -> str:
    if words.endswith("sis"):
        return words[:-3] + "ses"
    return words if words.endswith("s") else words + "s"


def describe(change: dict) -> str:
    """'COM303 started denying knee orthoses without prior authorization as CO-197/CO-15 from 2025-09:
    62 % of such lines since, 0 % before (n = 240)'."""
    scope = change["scope"]
    what = _plural(group_words(scope)) if scope.replace("_", "").isalpha() else f"lines ({scope or 'all'})"
    verb = "started denying" if change["direction"] == "started" else "stopped denying"
    n = change["lines_before"] + change["lines_after"]
    return (
        f"{change['payer']} {verb} {what} {defect_words(change['remedy'], change['state'])} "
        f"as {change['reasons']} from {change['month']}: {100 * change['rate_after']:.0f} % of such lines "
        f"since, {100 * change['rate_before']:.0f} % before (n = {n})"
    )


def table(changes: list[dict]) -> pd.DataFrame:
    """The changes as a table a person reads: month, payer, what changed, the shares (for monitor, report)."""
    cols = ["month", "payer", "change", "share_before", "share_since", "lines"]
    if not changes:
        return pd.DataFrame({c: [] for c in cols})
    return pd.DataFrame(
        {
            "month": [c["month"] for c in changes],
            "payer": [c["payer"] for c in changes],
            "change": [describe(c) for c in changes],
            "share_before": [c["rate_before"] for c in changes],
            "share_since": [c["rate_after"] for c in changes],
            "lines": [c["lines_before"] + c["lines_after"] for c in changes],
        }
    )
