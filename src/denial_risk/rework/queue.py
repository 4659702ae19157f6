"""The rework queue: every denied line once, with its action, deadline and expected recovery, ranked.

Columns (docs/claims.md, "The rework queue"): the line's identifying columns as
given, then `denial_words`, `action`, `action_text`, `deadline`, `days_left`,
`recovery_probability`, `expected_recovery`, `rework_rank`. The payer's amount for a
line is estimated from the input's own paid lines (median paid / billed of the same
payer type and code, else payer type; at most 1), so `expected_recovery` never
exceeds `billed_amount`. `no_rework` lines recover nothing and rank last.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.biller import wording
from denial_risk.contract import schema
from denial_risk.rework import rules
from denial_risk.rework.recovery import LEARNED_ACTIONS

IDENTIFYING = (
    "claim_id",
    "line_number",
    "payer_id",
    "payer_type",
    "hcpcs_code",
    "billed_amount",
    "denial_reason",
    "remark_codes",
    "adjudication_date",
)
ADDED = (
    "denial_words",
    "action",
    "action_text",
    "deadline",
    "days_left",
    "recovery_probability",
    "expected_recovery",
    "rework_rank",
)
QUEUE_COLUMNS = (*IDENTIFYING, *ADDED)
MIN_PAID_LINES = 3  # paid lines of a cell before its own payment ratio is used (project judgement)


def denial_words(carc, remarks) -> str:
    """`CO-16: claim lacks information ...; MA130: returned as unprocessable ...`."""
    carc = "" if carc is None or pd.isna(carc) else str(carc)
    parts = [f"{carc}: {wording.carc_words(carc)}"] if carc else ["denied (no adjustment code)"]
    if remarks is not None and not pd.isna(remarks):
        parts += [f"{r}: {wording.rarc_words(r)}" for r in str(remarks).split(schema.LIST_SEP) if r]
    return "; ".join(parts)


def payment_ratio(frame: pd.DataFrame) -> pd.Series:
    """Per line: the share of billed the payer pays for lines like it (from the input's paid lines)."""
    paid = frame[(~frame["denied"].fillna(False).astype(bool)) & (frame["billed_amount"] > 0)]
    paid = paid[paid["paid_amount"].notna() & (paid["paid_amount"] > 0)]
    ratio = (paid["paid_amount"] / paid["billed_amount"]).clip(upper=1.0)
    keys = frame["payer_type"].astype("string").fillna("other")
    codes = keys + "|" + frame["hcpcs_code"].astype("string").fillna("")
    out = pd.Series(1.0, index=frame.index)
    if len(paid):
        pk = paid["payer_type"].astype("string").fillna("other")
        by_type = ratio.groupby(pk).median()
        by_code = ratio.groupby(pk + "|" + paid["hcpcs_code"].astype("string").fillna(""))
        code_med = by_code.median()[by_code.size() >= MIN_PAID_LINES]
        out = keys.map(by_type).astype("float64").fillna(1.0)
        out = codes.map(code_med).astype("float64").fillna(out)
    return out.clip(upper=1.0)


def _probabilities(facts: list[dict], decisions: pd.DataFrame, model) -> np.ndarray:
    p = decisions["prior_recovery"].to_numpy(dtype=float).copy()
    if model is not None:
        learn = decisions["action"].isin(LEARNED_ACTIONS).to_numpy()
        idx = np.flatnonzero(learn)
        if len(idx):
            p[idx] = model.predict_proba([facts[i] for i in idx], decisions["action"].iloc[idx].tolist())
    p[(decisions["action"] == "no_rework").to_numpy()] = 0.0
    return np.clip(p, 0.0, 1.0)


def _with_fixes(denied: pd.DataFrame, decisions: pd.DataFrame, carcs: list[str]) -> None:
    """The line's truthful corrections after the action's words (`rework.fixes`)."""
    from denial_risk.rework.fixes import line_fixes

    fixes = line_fixes(denied, decisions["action"], carcs)
    has = np.array([bool(f) for f in fixes], dtype=bool)
    if has.any():
        text = decisions["action_text"].to_numpy(dtype=object)
        decisions.loc[has, "action_text"] = [
            f"{t}: {f}" for t, f in zip(text[has], np.array(fixes, dtype=object)[has], strict=True)
        ]


def _already_reworked(denied: pd.DataFrame, decisions: pd.DataFrame) -> None:
    if "replaced_by" not in denied:
        return
    by = denied["replaced_by"].astype("string")
    done = by.notna() & (by != "")
    decisions.loc[done, "action"] = "no_rework"
    decisions.loc[done, "action_text"] = "already reworked: replaced by claim " + by[done]
    decisions.loc[done, "deadline"] = pd.NaT
    decisions.loc[done, "days_left"] = pd.NA


def rework_queue(frame: pd.DataFrame, as_of, model=None) -> pd.DataFrame:
    """The queue for a normalised contract table (`denied`, `denial_reason`, optionally `remark_codes`,
    `adjudication_date`); `model`: a `RecoveryModel`, or None for the rules' documented prior."""
    as_of = pd.Timestamp(as_of).normalize()
    ratio = payment_ratio(frame)
    denied = frame[frame["denied"].fillna(False).astype(bool)].copy()
    if "adjudication_date" not in denied:
        denied["adjudication_date"] = pd.NaT
    denied["adjudication_date"] = pd.to_datetime(denied["adjudication_date"], errors="coerce")
    facts = [{**row, **rules.line_facts(row)} for row in denied.to_dict("records")]
    decisions = rules.decide_frame(denied, as_of, facts)
    _with_fixes(denied, decisions, [f["carc"] for f in facts])
    _already_reworked(denied, decisions)
    out = pd.DataFrame({c: denied.get(c, pd.NA) for c in IDENTIFYING}, index=denied.index)
    words: dict[tuple, str] = {}  # each (CARC, remarks) worded once
    out["denial_words"] = [
        words[k] if (k := (str(r), str(m))) in words else words.setdefault(k, denial_words(r, m))
        for r, m in zip(denied["denial_reason"], out["remark_codes"], strict=True)
    ]
    for c in ("action", "action_text", "deadline", "days_left"):
        out[c] = decisions[c]
    out["recovery_probability"] = _probabilities(facts, decisions, model)
    billed = denied["billed_amount"].fillna(0.0).clip(lower=0.0)
    out["expected_recovery"] = (out["recovery_probability"] * billed * ratio.loc[denied.index]).round(2)
    out["expected_recovery"] = np.minimum(out["expected_recovery"], billed)
    out["_days"] = out["days_left"].astype("Float64").fillna(np.inf)
    out = out.sort_values(["expected_recovery", "_days"], ascending=[False, True], kind="stable")
    out = out.drop(columns="_days").reset_index(drop=True)
    out["rework_rank"] = np.arange(1, len(out) + 1)
    out["deadline"] = out["deadline"].dt.date
    out["adjudication_date"] = pd.to_datetime(out["adjudication_date"]).dt.date
    return out[list(QUEUE_COLUMNS)]
