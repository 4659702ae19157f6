"""P(a denied line is paid after its rework action): learned from linked history, or the prior.

`RecoveryModel` is a logistic regression over one-hot tokens of the denial (CARC,
each RARC, CARC x RARC), the payer (type, id, id x CARC), the action (and CARC x
action, payer type x CARC x action), the line (code family, modifiers, each
document flag as true/false/unknown, with the CARC) and log billed amount, fitted on
the earlier part of the history and Platt-calibrated on its later part (a time
split: the calibration slice is never seen by the fit). Its state is plain data
(`to_dict`/`from_dict`: JSON), logged and registered in MLflow as its own model
`denial-risk-rework` (registry/tracking.py). Without history the queue uses the
documented prior of each rule (`rework_rules.csv`, `prior_recovery`, project
judgement). `bill_patient` is never learned: a patient's payment is not in any 835.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from denial_risk.contract import schema

LEARNED_ACTIONS = ("corrected_claim", "reopening", "appeal")
DOC_FLAGS = tuple(c for c in schema.BOOLEAN_FLAGS if c.startswith("has_"))


def _state(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return "true" if bool(value) else "false"


def tokens(row: dict, action: str) -> dict[str, float]:
    """The one-hot tokens (and log amount) of one line and action; nothing known after the rework."""
    carc, ptype, pid = row["carc"], row["payer_type"], row["payer_id"]
    out = {
        f"carc={carc}": 1.0,
        f"action={action}": 1.0,
        f"carc_action={carc}|{action}": 1.0,
        f"ptype={ptype}": 1.0,
        f"ptype_carc_action={ptype}|{carc}|{action}": 1.0,
        f"payer={pid}": 1.0,
        f"payer_carc={pid}|{carc}": 1.0,
    }
    for r in row["remarks"]:
        out[f"rarc={r}"] = 1.0
        out[f"carc_rarc={carc}|{r}"] = 1.0
    code = str(row.get("hcpcs_code") or "")
    out[f"code={code[:3]}"] = 1.0
    for m in str(row.get("modifiers") or "").split("|"):
        if m:
            out[f"mod={m}"] = 1.0
    for flag in DOC_FLAGS:
        if flag in row:
            state = _state(row[flag])
            out[f"{flag}={state}"] = 1.0
            out[f"{flag}_carc={state}|{carc}"] = 1.0
    billed = row.get("billed_amount")
    out["log_billed"] = (
        math.log1p(float(billed)) / 10.0 if billed is not None and not pd.isna(billed) else 0.0
    )
    return out


class RecoveryModel:
    """Calibrated P(paid after rework | denial, payer, line, action); learned attributes end in `_`."""

    def __init__(self, C: float = 0.5, min_count: int = 5, calibration_share: float = 0.25):
        self.C = C
        self.min_count = min_count
        self.calibration_share = calibration_share

    def _matrix(self, rows: list[dict], actions) -> np.ndarray:
        index = self.vocabulary_
        X = np.zeros((len(rows), len(index)), dtype=np.float64)
        for i, (row, action) in enumerate(zip(rows, actions, strict=True)):
            for k, v in tokens(row, action).items():
                j = index.get(k)
                if j is not None:
                    X[i, j] = v
        return X

    def fit(self, facts: list[dict], actions, y, dates) -> RecoveryModel:
        """`facts`: `rules.line_facts` rows plus the line's columns; `dates`: the denials' (time split)."""
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y, dtype=float)
        order = np.argsort(pd.to_datetime(pd.Series(dates)).to_numpy(), kind="stable")
        n_cal = int(len(order) * self.calibration_share)
        fit_idx, cal_idx = order[: len(order) - n_cal], order[len(order) - n_cal :]
        counts: dict[str, int] = {}
        for i in fit_idx:
            for k in tokens(facts[i], actions[i]):
                counts[k] = counts.get(k, 0) + 1
        keep = sorted(k for k, c in counts.items() if c >= self.min_count or k == "log_billed")
        self.vocabulary_ = {k: j for j, k in enumerate(keep)}
        X = self._matrix(facts, actions)
        if len(set(y[fit_idx])) < 2:
            raise ValueError("the history has recovered and unrecovered lines of one kind only")
        lr = LogisticRegression(C=self.C, max_iter=2000)
        lr.fit(X[fit_idx], y[fit_idx])
        self.coef_ = lr.coef_[0].astype(float)
        self.intercept_ = float(lr.intercept_[0])
        self.platt_ = (1.0, 0.0)
        if n_cal >= 50 and len(set(y[cal_idx])) == 2:
            z = self._logit(X[cal_idx]).reshape(-1, 1)
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(z, y[cal_idx])
            self.platt_ = (float(platt.coef_[0][0]), float(platt.intercept_[0]))
        self.n_train_ = int(len(fit_idx))
        self.n_calibration_ = int(n_cal)
        self.base_rate_ = float(y.mean())
        return self

    def _logit(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_ + self.intercept_

    def predict_proba(self, facts: list[dict], actions) -> np.ndarray:
        """Calibrated P(recovered) per line for the given actions."""
        if not facts:
            return np.zeros(0)
        a, b = self.platt_
        z = a * self._logit(self._matrix(facts, actions)) + b
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {
            "kind": "denial-risk-rework",
            "params": {"C": self.C, "min_count": self.min_count, "calibration_share": self.calibration_share},
            "vocabulary": list(self.vocabulary_),
            "coef": [float(c) for c in self.coef_],
            "intercept": self.intercept_,
            "platt": list(self.platt_),
            "n_train": self.n_train_,
            "n_calibration": self.n_calibration_,
            "base_rate": self.base_rate_,
        }

    @classmethod
    def from_dict(cls, d: dict) -> RecoveryModel:
        if d.get("kind") != "denial-risk-rework":
            raise ValueError("not a denial-risk rework model")
        m = cls(**d["params"])
        m.vocabulary_ = {k: j for j, k in enumerate(d["vocabulary"])}
        m.coef_ = np.asarray(d["coef"], dtype=float)
        m.intercept_ = float(d["intercept"])
        m.platt_ = (float(d["platt"][0]), float(d["platt"][1]))
        m.n_train_, m.n_calibration_ = int(d["n_train"]), int(d["n_calibration"])
        m.base_rate_ = float(d["base_rate"])
        return m
