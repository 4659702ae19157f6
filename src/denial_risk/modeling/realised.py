"""Predicted against realised, in one table shape for both monitors (`monitor`, `monitor --rework`).

Both join what was predicted for a line to what a later remit shows, by (claim_id, line_number),
and compare the predicted rate with the realised one: overall, per slice column (payer type,
rework action) and per decile of the predicted probability, with ECE and AUC over the lines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["claim_id", "line_number"]


def keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose line keys join across files: claim_id text, line_number whole (1 if absent)."""
    out = frame.copy()
    out["claim_id"] = out["claim_id"].astype("string")
    out["line_number"] = pd.to_numeric(out["line_number"], errors="coerce").fillna(1).astype("int64")
    return out


def slice_table(
    joined: pd.DataFrame,
    predicted: str,
    realised: str,
    *,
    by: str,
    dollars: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """One row overall, one per value of `by`, one per decile of `predicted`: lines, predicted_rate,
    realised_rate (and predicted_dollars, realised_dollars when `dollars` names those columns)."""
    j = joined.copy()
    j["decile"] = pd.qcut(j[predicted].rank(method="first"), min(10, len(j)), labels=False) + 1

    def row(name: str, g: pd.DataFrame) -> dict:
        out = {
            "slice": name,
            "lines": len(g),
            "predicted_rate": float(g[predicted].mean()),
            "realised_rate": float(g[realised].mean()),
        }
        if dollars:
            out["predicted_dollars"] = float(g[dollars[0]].sum())
            out["realised_dollars"] = float(g[dollars[1]].sum())
        return out

    rows = [row("all", j)]
    for column in (by, "decile"):
        rows += [row(f"{column}={k}", g) for k, g in j.groupby(column, dropna=False)]
    return pd.DataFrame(rows)


def calibration(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ECE of the predictions against the outcomes; AUC too when both outcomes occur."""
    from denial_risk.modeling import evaluate  # its plotting imports wait until a monitor runs

    out = {"ece": evaluate.expected_calibration_error(y, p)}
    if len(np.unique(y)) == 2:
        out["auc"] = float(evaluate.roc_auc_score(y, p))
    return out
