"""Timing features: filing lag against the payer's filing limit (CO-29), and season."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._base import ColumnFeatures, as_target, cv_splits, multi_key, stack

FALLBACK_LIMIT_DAYS = {  # used only if reference.payer_rules() cannot be read
    "medicare": 365,
    "medicare_advantage": 365,
    "medicaid": 180,
    "commercial": 90,
    "other": 90,
}


def configured_limits() -> dict[str, float]:
    """payer_type → filing limit in days, from `reference.payer_rules()`."""
    try:
        from denial_risk.contract import reference

        rules = reference.payer_rules()
        return {
            str(t): float(d)
            for t, d in zip(rules["payer_type"], rules["filing_limit_days"], strict=True)
            if not pd.isna(t) and not pd.isna(d)
        }
    except (FileNotFoundError, KeyError):
        return {k: float(v) for k, v in FALLBACK_LIMIT_DAYS.items()}


def _days(s: pd.Series) -> np.ndarray:
    """datetime64 column → days since epoch as float (NaN for NaT)."""
    s = pd.to_datetime(s, errors="coerce")
    out = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64).astype(np.float64)
    out[s.isna().to_numpy()] = np.nan
    return out


class TimingFeatures(ColumnFeatures):
    """Filing lag, lag against the filing limit, and season.

    The filing limit of a line is the *configured* limit for its payer type
    (`reference.payer_rules()`, contract/reference_data/payer_rules.csv). When `learn_limits` and a
    payer id has at least `min_paid_lines` paid lines with a known lag in fit, the limit is
    raised to the `quantile` of those paid lags if that is longer: a payer that paid lines
    filed N days late accepts at least N days. (It is never lowered: lags of paid lines
    bound a limit from below only.) This uses the label (paid lines), so `fit_transform(X, y)`
    learns it out-of-fold (`cv`); without y only configured limits are used.

    Outputs: `filing_lag_days` (submission − service; NaN unknown), `filing_limit_days`
    (NaN: unknown payer type), `lag_minus_limit`, `over_limit` (1/0, NaN unknown),
    `lag_over_limit_fraction` (lag / limit), `limit_learned` (1 if raised by learning),
    `service_month`, `service_quarter`, `service_dow`, `submission_dow` (NaN unknown).
    """

    group = "timing"
    input_columns = ("service_date", "submission_date", "payer_type", "payer_id")

    def __init__(self, *, learn_limits=True, min_paid_lines=200, quantile=0.99, cv=5):
        self.learn_limits = learn_limits
        self.min_paid_lines = min_paid_lines
        self.quantile = quantile
        self.cv = cv

    names = (
        "filing_lag_days",
        "filing_limit_days",
        "lag_minus_limit",
        "over_limit",
        "lag_over_limit_fraction",
        "limit_learned",
        "service_month",
        "service_quarter",
        "service_dow",
        "submission_dow",
    )
    # the time of year: a backlog dated after the training period differs here by construction,
    # so these are not compared for drift (`modeling.drift`)
    calendar = ("service_month", "service_quarter")

    def _lag(self, X) -> np.ndarray:
        return _days(self._col(X, "submission_date", "datetime64[ns]")) - _days(
            self._col(X, "service_date", "datetime64[ns]")
        )

    def _learn(self, X, y, rows: np.ndarray) -> pd.Series:
        """payer_id → learned lag quantile among paid lines of `rows` (ids with enough lines)."""
        if y is None or not self.learn_limits:
            return pd.Series(dtype=np.float64)
        lag = self._lag(X)
        keep = rows[(y[rows] == 0.0) & ~np.isnan(lag[rows])]
        pid = self._col(X, "payer_id", "string").iloc[keep]
        keep_mask = pid.notna().to_numpy()
        df = pd.DataFrame({"p": pid.to_numpy(dtype=object)[keep_mask], "lag": lag[keep][keep_mask]})
        if df.empty:
            return pd.Series(dtype=np.float64)
        g = df.groupby("p", sort=True)["lag"]
        counts = g.size()
        q = g.quantile(float(self.quantile))
        return q[counts >= int(self.min_paid_lines)].astype(np.float64)

    def fit(self, X, y=None):
        X = self._check_frame(X)
        self._set_input_info(X)
        yy = None if y is None else as_target(y, len(X))
        self.configured_limits_ = configured_limits()
        self.learned_limits_ = self._learn(X, yy, np.arange(len(X)))
        self.names_out_ = list(self.names)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        self.fit(X, y)
        if y is None or not self.learn_limits:
            return self._finish(self._features(X, self.learned_limits_), len(X))
        yy = as_target(y, len(X))
        out = np.empty((len(X), len(self.names_out_)))
        splits = cv_splits(len(X), self.cv) or [(np.arange(len(X))[:0], np.arange(len(X)))]
        for tr, va in splits:
            out[va] = self._features(X.iloc[va], self._learn(X, yy, tr))
        return self._finish(out, len(X))

    def _transform(self, X):
        return self._features(X, self.learned_limits_)

    def _features(self, X, learned: pd.Series) -> np.ndarray:
        n = len(X)
        lag = self._lag(X)
        ptype = self._col(X, "payer_type", "string")
        codes, uniq = multi_key([ptype])
        conf = np.asarray([self.configured_limits_.get(u, np.nan) for u in uniq], dtype=np.float64)
        limit = conf[codes] if n else np.zeros(0)
        pid = self._col(X, "payer_id", "string")
        pcodes, puniq = multi_key([pid])
        if len(learned) and n:
            lq = learned.reindex(pd.Index(puniq, dtype=object)).to_numpy(dtype=np.float64)[pcodes]
        else:
            lq = np.full(n, np.nan)
        raised = ~np.isnan(lq) & (np.isnan(limit) | (lq > limit))
        limit = np.where(raised, lq, limit)
        diff = lag - limit
        over = np.where(np.isnan(diff), np.nan, (diff > 0).astype(np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = lag / limit
        svc = pd.to_datetime(self._col(X, "service_date", "datetime64[ns]"), errors="coerce")
        sub = pd.to_datetime(self._col(X, "submission_date", "datetime64[ns]"), errors="coerce")
        month = svc.dt.month.to_numpy(dtype=np.float64, na_value=np.nan)
        return stack(
            [
                lag,
                limit,
                diff,
                over,
                frac,
                raised.astype(np.float64),
                month,
                np.ceil(month / 3.0),
                svc.dt.day_of_week.to_numpy(dtype=np.float64, na_value=np.nan),
                sub.dt.day_of_week.to_numpy(dtype=np.float64, na_value=np.nan),
            ],
            n,
        )
