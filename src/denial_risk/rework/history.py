"""Training examples for the recovery model, from a labelled table whose reworks are linked.

`ingest-x12` links a denied line to its later outcome (docs/x12.md, "Reworks"): a
reversal (CLP02 = 22) and re-adjudication of the same claim, or a replacement claim
(CLM05-3 = 7 with the payer's claim number in REF*F8), or a new claim after an
unprocessable return. Such a row carries `rework_link` and the first determination
in `initial_denial_reason`, `initial_remark_codes`, `initial_adjudication_date`;
its own labels are the outcome after the rework. A denied row with no link is an
unrecovered denial once its rework deadline has passed by the table's last date
(before that its outcome is still open: left out). A row replaced by another
(`replaced_by`) is counted once, at its replacement. With a `rework_attempted`
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


def training_examples(frame: pd.DataFrame) -> tuple[list[dict], list[str], np.ndarray, list]:
    """(facts, actions, recovered 0/1, denial dates) of every denial whose rework outcome is known."""
    as_of = _last_date(frame)
    facts, actions, labels, dates = [], [], [], []
    has_links = "rework_link" in frame
    attempted = frame.get("rework_attempted", None)
    for i, row in enumerate(frame.to_dict("records")):
        link = _text(row.get("rework_link")) if has_links else ""
        if link:
            first = dict(row)
            first["denial_reason"] = row.get("initial_denial_reason")
            first["remark_codes"] = row.get("initial_remark_codes")
            first["adjudication_date"] = pd.to_datetime(row.get("initial_adjudication_date"), errors="coerce")
            f = rules.line_facts(first)
            d = rules.decide(f, f["determination"] if not pd.isna(f["determination"]) else as_of)
            action = "corrected_claim" if link in CORRECTING_LINKS else d.rule_action
            paid = row.get("paid_amount")
            label = (not bool(row.get("denied"))) and (paid is None or pd.isna(paid) or float(paid) > 0)
        else:
            if not bool(row.get("denied")) or _text(row.get("replaced_by")):
                continue
            if attempted is not None and not bool(attempted.iloc[i]):
                continue
            f = rules.line_facts(row)
            d = rules.decide(f, as_of)
            if d.action != "no_rework" or d.rule_action == "no_rework":
                continue  # still open (or never a rework): not an outcome yet
            action, label = d.rule_action, False
        if action not in LEARNED_ACTIONS:
            continue
        facts.append({**row, **f})
        actions.append(action)
        labels.append(1.0 if label else 0.0)
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
