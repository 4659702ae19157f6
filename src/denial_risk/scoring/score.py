"""Scoring claim lines in memory: the shared core of the worklist, pyfunc and server.

`score_request` takes raw claim lines (any accepted form), normalises them,
scores the scorable ones and gives each input line its added columns, or its
`reject_reason` — a bad line never fails the batch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract.normalize import REJECT_REASON, normalize_chunk

REQUEST_OUTPUT = (
    "denial_probability",
    "expected_loss",
    "risk_rank",
    "risk_tier",
    "top_reasons",
    "recommended_actions",
    "likely_denial_codes",
    REJECT_REASON,
)


def rank_by_expected_loss(expected_loss: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """1 = the line to work first: highest expected loss, ties broken by probability."""
    order = np.lexsort((-probability, -expected_loss))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def annotate_with_matrix(
    model, clean: pd.DataFrame, *, explain: bool = True, min_probability: float | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """(added columns without the rank, the feature matrix) for normalised rows.

    Columns: denial_probability, expected_loss, risk_tier, and with `explain`
    top_reasons, recommended_actions, likely_denial_codes.
    """
    X = model.transform(clean)
    p = model.proba_from_matrix(X)
    out = pd.DataFrame(
        {
            "denial_probability": p,
            "expected_loss": p * clean["billed_amount"].to_numpy(dtype=float),
            "risk_tier": model.tier(p),
        },
        index=clean.index,
    )
    if not explain:
        return out, X
    from denial_risk.scoring.reasons import explain_rows

    return pd.concat([out, explain_rows(model, clean, X, p, min_probability=min_probability)], axis=1), X


def annotate(model, clean: pd.DataFrame) -> pd.DataFrame:
    """Probability, expected loss, tier, reasons, fixes and predicted CARCs for normalised rows."""
    return annotate_with_matrix(model, clean)[0]


def score_request(model, raw: pd.DataFrame) -> pd.DataFrame:
    """One output row per input row, in input order (rank within the request)."""
    raw = pd.DataFrame(raw).reset_index(drop=True)
    for col in raw.columns:
        if not (pd.api.types.is_string_dtype(raw[col]) or raw[col].dtype == object):
            continue
        raw[col] = raw[col].astype("string")
    clean, rejects = normalize_chunk(raw)
    out = pd.DataFrame(index=raw.index, columns=list(REQUEST_OUTPUT), dtype=object)
    if len(clean):
        scored = annotate(model, clean)
        ranks = rank_by_expected_loss(
            scored["expected_loss"].to_numpy(), scored["denial_probability"].to_numpy()
        )
        for c in scored.columns:
            if c in out.columns:
                out.loc[scored.index, c] = scored[c].to_numpy()
        out.loc[scored.index, "risk_rank"] = ranks
    if len(rejects):
        out.loc[rejects.index, REJECT_REASON] = rejects[REJECT_REASON].to_numpy()
    # None, not NaN, for missing values: the server's JSON must parse in strict clients
    return out.astype(object).where(out.notna(), None)
