"""The rule layer: certain findings on every scored line, whatever its tier and `--explain-top`.

A finding is *certain* when a dated, sourced rule or a fact of the line makes it so (Medicare's
lists, RT/LT, KX, CG, GA/GZ, code validity on the date, code-diagnosis consistency, the ordering
NPI, order, face-to-face and delivery dates, filing past the limit, same or similar:
`scoring.findings` without a model's effects). What a payer's remits show is learned evidence,
and comes after them. The layer is vectorised over a chunk (no per-line Python beyond formatting
the words), so it runs on every line: a low-risk line that breaks a certain rule says so.

It also says plainly when a line cannot be fixed for a rule at its stage (`contract.certain.delivered`):
a delivered line of a code that needed prior authorization, with none obtained, cannot be
authorised now; an order written after delivery does not make an F2F/WOPD item payable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract.certain import certain_rules
from denial_risk.contract.facts import LineFacts
from denial_risk.scoring.findings import findings
from denial_risk.scoring.fixes import join_by_position

MAX_CERTAIN = 4  # as `scoring.reasons.MAX_REASONS - 1`: the likely CARC comes after them on explained lines

NO_PA_AFTER_DELIVERY = (
    "cannot be fixed on this line: prior authorization must come before delivery and the record shows"
    " none was obtained (a request for an item already delivered is not affirmed: DME MAC prior"
    " authorization reports)"
)
ORDER_AFTER_DELIVERY = (
    "cannot be fixed on this line: an order written after delivery does not make an item on the"
    " F2F/WOPD list payable (policy article A52503)"
)


def stage_findings(clean: pd.DataFrame, facts: LineFacts, delivered: np.ndarray) -> pd.DataFrame:
    """Certain findings that say a rule cannot be met any more at the line's stage (delivered lines)."""
    rules = certain_rules(clean, facts)
    parts = []
    pa = np.flatnonzero(rules["prior_auth_missing"] & delivered)
    if len(pa):
        parts.append(_frame(pa, "documentation", NO_PA_AFTER_DELIVERY))
    if "order_date" in clean and "service_date" in clean:
        late = (clean["order_date"] > clean["service_date"]).fillna(False).to_numpy(dtype=bool)
        after = np.flatnonzero(facts.rules["face_to_face_wopd"] & late & delivered)
        if len(after):
            parts.append(_frame(after, "record", ORDER_AFTER_DELIVERY))
    if not parts:
        return _frame(np.empty(0, dtype=np.int64), "", "")
    return pd.concat(parts, ignore_index=True)


def _frame(pos: np.ndarray, group: str, text: str) -> pd.DataFrame:
    return pd.DataFrame({"pos": pos, "group": group, "severity": 2, "text": text, "certain": True})


def certain_findings(clean: pd.DataFrame, facts: LineFacts, delivered: np.ndarray) -> pd.DataFrame:
    """Every certain finding of the lines (`scoring.findings` long format), stage findings included."""
    found = findings(clean, facts, None)
    stage = stage_findings(clean, facts, delivered)
    return pd.concat([found, stage], ignore_index=True) if len(stage) else found


def certain_reasons(
    clean: pd.DataFrame, facts: LineFacts, delivered: np.ndarray, found: pd.DataFrame | None = None
) -> np.ndarray:
    """Per line, its certain findings joined (most severe first, at most `MAX_CERTAIN`; '' = none).
    `found`: the lines' `certain_findings`, when already found."""
    out = np.full(len(clean), "", dtype=object)
    found = certain_findings(clean, facts, delivered) if found is None else found
    if not len(found):
        return out
    found = found.sort_values(["pos", "severity"], kind="stable")
    found = found[found.groupby("pos").cumcount() < MAX_CERTAIN]
    jpos, jtext = join_by_position(
        found["pos"].to_numpy(dtype=np.int64), found["text"].to_numpy(dtype=object)
    )
    out[jpos] = jtext
    return out


def findings_at(found: pd.DataFrame, pos: np.ndarray, n: int) -> pd.DataFrame:
    """The findings (long format, of `n` lines) of the lines at `pos` (sorted, unique), in their order,
    `pos` renumbered 0..len(pos)-1: what finding those lines alone gives, without finding them again."""
    where = np.full(n, -1, dtype=np.int64)
    where[pos] = np.arange(len(pos))
    at = where[found["pos"].to_numpy(dtype=np.int64)]
    keep = at >= 0
    return found[keep].assign(pos=at[keep]).reset_index(drop=True)
