"""Training examples for the recovery model, from a labelled table whose reworks are linked.

`ingest-x12` links a denied line to its later outcome (docs/x12.md, "Reworks"): a
reversal (CLP02 = 22) and re-adjudication of the same claim, or a replacement claim
(CLM05-3 = 7 with the payer's claim number in REF*F8), or a new claim after an
unprocessable return. Such a row carries `rework_link` and the first determination
in `initial_denial_reason`, `initial_remark_codes`, `initial_adjudication_date`;
its own labels are the outcome after the rework. A denied row with no link is an
unrecovered denial. Every denial, linked or not, counts only once its rework deadline
plus 60 days (`ANSWER_MARGIN`) has passed by the table's last date: before that its
outcome may still come, and counting only the early recoveries would bias the labels.
A row replaced by another (`replaced_by`) is counted once, at its replacement. With a `rework_attempted`
column (a team's own log), only attempted denials count. Lines the team never
worked count as unrecovered otherwise: the probability is then "as this team has
worked them" (docs/rework.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.rework import rules
from denial_risk.rework.recovery import LEARNED_ACTIONS

LINK_COLUMNS = (
    "rework_link",
    "initial_denial_reason",
    "initial_remark_codes",
    "initial_adjudication_date",
    "replaced_by",
)
CORRECTING_LINKS = ("replacement", "resubmission")
# An outcome is final this long after the rework deadline (project judgement: a MAC decides a
# redetermination within 60 days, 42 CFR 405.950; other payers are assumed to answer as fast).
ANSWER_MARGIN = pd.Timedelta(days=60)


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _last_date(frame: pd.DataFrame) -> pd.Timestamp:
    dates = []
    for c in ("adjudication_date", "initial_adjudication_date", "submission_date", "service_date"):
        if c in frame:
            d = pd.to_datetime(frame[c], errors="coerce").max()
            if not pd.isna(d):
                dates.append(d)
    return max(dates) if dates else pd.Timestamp.today().normalize()


def _example(row: dict, link: str, as_of: pd.Timestamp) -> tuple[dict, str, bool] | None:
    """(facts, action, recovered) of one denial whose outcome is final by `as_of`, else None."""
    first = dict(row)
    if link:
        first["denial_reason"] = row.get("initial_denial_reason")
        first["remark_codes"] = row.get("initial_remark_codes")
        first["adjudication_date"] = pd.to_datetime(row.get("initial_adjudication_date"), errors="coerce")
    f = rules.line_facts(first)
    if pd.isna(f["determination"]):
        return None
    d = rules.decide(f, f["determination"])
    if d.deadline is None or d.deadline + ANSWER_MARGIN > as_of:
        return None  # never a rework, or its outcome may still come: censored, whatever it is
    action = "corrected_claim" if link in CORRECTING_LINKS else d.rule_action
    paid = row.get("paid_amount")
    recovered = (
        bool(link) and not bool(row.get("denied")) and (paid is None or pd.isna(paid) or float(paid) > 0)
    )
    return f, action, recovered


def training_examples(frame: pd.DataFrame) -> tuple[list[dict], list[str], np.ndarray, list]:
    """(facts, actions, recovered 0/1, denial dates) of every denial whose rework outcome is final."""
    as_of = _last_date(frame)
    facts, actions, labels, dates = [], [], [], []
    links = frame["rework_link"] if "rework_link" in frame else pd.Series("", index=frame.index)
    attempted = frame.get("rework_attempted", None)
    for i, row in enumerate(frame.to_dict("records")):
        link = _text(links.iloc[i])
        if not link:
            if not bool(row.get("denied")) or _text(row.get("replaced_by")):
                continue
            if attempted is not None and not bool(attempted.iloc[i]):
                continue
        got = _example(row, link, as_of)
        if got is None or got[1] not in LEARNED_ACTIONS:
            continue
        f, action, recovered = got
        facts.append({**row, **f})
        actions.append(action)
        labels.append(1.0 if recovered else 0.0)
        dates.append(f["determination"])
    return facts, actions, np.asarray(labels), dates


def fit_recovery(frame: pd.DataFrame, **params):
    """A `RecoveryModel` fitted on the table's linked history (ValueError when it has too little)."""
    from denial_risk.rework.recovery import RecoveryModel

    facts, actions, y, dates = training_examples(frame)
    if len(y) < 100 or y.sum() < 10:
        raise ValueError(
            f"too little rework history to learn from ({len(y)} reworked denials, {int(y.sum())} recovered; "
            "100 and 10 needed)"
        )
    return RecoveryModel(**params).fit(facts, actions, y, dates)
