"""Leakage: a configured feature that on its own orders the holdout's denied and paid lines almost
perfectly is almost surely written after adjudication (an appeal flag, a remit field).

Each configured extra column's holdout AUC alone is logged with the training run, and a column
above `LEAKAGE_AUC` is named in a warning and in the model card.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from denial_risk.modeling.config import TrainConfig

log = logging.getLogger(__name__)

LEAKAGE_AUC = 0.99

__all__ = ["LEAKAGE_AUC", "extra_feature_auc", "leakage_params"]


def extra_feature_auc(train: pd.DataFrame, hold: pd.DataFrame, config: TrainConfig) -> dict[str, float]:
    """Holdout AUC of each configured extra column alone, either direction (0.5 = no signal, 1 = separates).

    Numbers and booleans rank lines by their value; a categorical by its
    category's denial rate in the training slice (an unseen category: the
    overall rate). Missing values sit in the middle.
    """
    from denial_risk.features.extra import parse_boolean

    y = hold["denied"].astype(bool).to_numpy().astype(int)
    if len(np.unique(y)) < 2:
        return {}
    scores: dict[str, np.ndarray] = {}
    for c in config.extra_numeric:
        v = pd.to_numeric(hold[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        scores[c] = np.where(np.isnan(v), np.nanmedian(v) if (~np.isnan(v)).any() else 0.0, v)
    for c in config.extra_boolean:
        scores[c] = np.nan_to_num(parse_boolean(hold[c]), nan=0.5)
    rate = float(train["denied"].astype(bool).mean())
    for c in config.extra_categorical:
        by = train["denied"].astype(bool).groupby(train[c].astype("string").to_numpy(), dropna=False).mean()
        scores[c] = hold[c].astype("string").map(by).astype("float64").fillna(rate).to_numpy()
    out = {}
    for c, s in scores.items():
        auc = float(roc_auc_score(y, s))
        out[c] = max(auc, 1.0 - auc)
    return out


def leakage_params(aucs: dict[str, float]) -> dict:
    """The run's record of each extra column's own AUC and of the suspects; a warning per suspect."""
    suspects = [c for c, a in aucs.items() if a > LEAKAGE_AUC]
    for c in suspects:
        log.warning(
            f"configured feature '{c}' alone separates the holdout (AUC {aucs[c]:.4f}): probably known "
            "only after adjudication (leakage); if so, list it under [training] outcome_columns"
        )
    return {
        **{f"extra_auc_{c}": round(a, 4) for c, a in aucs.items()},
        "leakage_suspects": ",".join(suspects) or "(none)",
    }
