"""History features: prior claims for the code, and past denial rates learned only from earlier lines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import facts

from ._base import TargetFeatures, fit_rates, multi_key, stack, to_float


def earlier_sums(codes: np.ndarray, days: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (sum of y, number of rows) over rows with the same code and a strictly earlier day.

    Rows on the same day never see each other (a claim's sibling lines, or the same day's
    batch, are adjudicated together). Vectorised: one lexsort and cumulative sums.
    """
    n = len(codes)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    order = np.lexsort((days, codes))
    ks, ds, ys = codes[order], days[order], y[order]
    start = np.r_[True, (ks[1:] != ks[:-1]) | (ds[1:] != ds[:-1])]
    gid = np.cumsum(start) - 1
    gsum = np.bincount(gid, weights=ys)
    gcnt = np.bincount(gid).astype(np.float64)
    gk = ks[start]
    csum = np.cumsum(gsum) - gsum  # exclusive, across all keys
    ccnt = np.cumsum(gcnt) - gcnt
    kstart = np.r_[True, gk[1:] != gk[:-1]]
    kid = np.cumsum(kstart) - 1
    csum = csum - csum[kstart][kid]  # restart at each key
    ccnt = ccnt - ccnt[kstart][kid]
    s = np.empty(n)
    c = np.empty(n)
    s[order] = csum[gid]
    c[order] = ccnt[gid]
    return s, c


class HistoryFeatures(TargetFeatures):
    """Prior same-code claims, a replacement-inside-lifetime proxy, and past denial rates.

    Rates: the supplier's (`provider_id`) and the payer × code's (`payer_id`, `hcpcs_code`)
    denial rates, smoothed with `smoothing` pseudo-lines toward the overall rate. In
    `fit_transform(X, y)` a training line's rates use **only lines with a strictly earlier
    service_date** (an expanding window; the overall rate is also the earlier lines'), so no
    line sees its own or a later label. `transform` (scoring) uses the rates at the end of
    the fit data. A missing provider / payer id gets the overall rate. Rates are NaN for
    training lines on the first date (nothing earlier is known).

    Outputs: `prior_same_code_12m` (NaN unknown), `replacement_in_lifetime` (a prior claim
    for the code within 12 months on a code with a useful lifetime; NaN unknown),
    `provider_denial_rate`, `provider_lines_log` (log1p of the lines behind it),
    `payer_code_denial_rate`, `payer_code_lines_log`.
    """

    group = "history"
    input_columns = ("service_date", "provider_id", "payer_id", "hcpcs_code", "prior_same_code_12m")

    def __init__(self, *, smoothing=20.0):
        self.smoothing = smoothing

    def _keys(self, X):
        prov = self._col(X, "provider_id", "string")
        pid = self._col(X, "payer_id", "string")
        code = self._col(X, "hcpcs_code", "string")
        return (
            multi_key([prov]),
            prov.isna().to_numpy(),
            multi_key([pid, code]),
            (pid.isna() | code.isna()).to_numpy(),
        )

    def _fit(self, X, y):
        (pk, pna, ck, cna) = self._keys(X)
        m = float(self.smoothing)
        self.provider_rates_ = fit_rates([(pk[0][~pna], pk[1])], y[~pna], m)
        self.payer_code_rates_ = fit_rates([(ck[0][~cna], ck[1])], y[~cna], m)
        self.prior_ = float(y.mean()) if len(y) else np.nan
        self.provider_rates_.prior = self.prior_
        self.payer_code_rates_.prior = self.prior_
        self.names_out_ = [
            "prior_same_code_12m",
            "replacement_in_lifetime",
            "provider_denial_rate",
            "provider_lines_log",
            "payer_code_denial_rate",
            "payer_code_lines_log",
        ]

    def _static(self, X):
        prior = to_float(self._col(X, "prior_same_code_12m", "Int64"))
        pol = facts.policy_for_rows(self._col(X, "hcpcs_code", "string"))
        life = (
            to_float(pol["useful_lifetime_years"])
            if "useful_lifetime_years" in pol
            else np.full(len(X), np.nan)
        )
        repl = np.where(np.isnan(prior), np.nan, ((prior > 0) & ~np.isnan(life) & (life >= 1)).astype(float))
        return prior, repl

    def _transform(self, X):
        prior, repl = self._static(X)
        (pk, pna, ck, cna) = self._keys(X)
        cols = [prior, repl]
        for key, na, table in ((pk, pna, self.provider_rates_), (ck, cna, self.payer_code_rates_)):
            rate = np.where(na, self.prior_, table.lookup([key]))
            cnt = np.where(na, 0.0, table.count(0, key))
            cols += [rate, np.log1p(cnt)]
        return stack(cols, len(X))

    def _fit_transform_oof(self, X, y):
        prior, repl = self._static(X)
        (pk, pna, ck, cna) = self._keys(X)
        svc = pd.to_datetime(self._col(X, "service_date", "datetime64[ns]"), errors="coerce")
        days = svc.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
        nat = svc.isna().to_numpy()
        if nat.any():  # an undated line sees everything earlier and is seen by none
            days = np.where(nat, days[~nat].max() + 1 if (~nat).any() else 0, days)
        m = float(self.smoothing)
        gs, gc = earlier_sums(np.zeros(len(X), dtype=np.int64), days, y)
        with np.errstate(invalid="ignore", divide="ignore"):
            glob = np.where(gc > 0, gs / gc, np.nan)
        cols = [prior, repl]
        for key, na in ((pk, pna), (ck, cna)):
            s, c = earlier_sums(key[0], days, y)
            rate = (s + m * glob) / (c + m)
            cols += [np.where(na, glob, rate), np.log1p(np.where(na, 0.0, c))]
        return stack(cols, len(X))
