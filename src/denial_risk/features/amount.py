"""Amount features: the charge, and the charge against the code's typical charge."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._base import ColumnFeatures, multi_key, stack, to_float


class AmountFeatures(ColumnFeatures):
    """log1p(billed), billed against the code's median charge in fit, and units.

    Outputs: `log_billed`, `billed_to_code_median` (NaN when the code had fewer than
    `min_count` lines with a positive charge in fit), `log_billed_to_code_median`, `units`
    (missing → 1, the contract default), `log_billed_per_unit`. Learned without the label.
    """

    group = "amount"
    input_columns = ("billed_amount", "hcpcs_code", "units")

    def __init__(self, *, min_count=5):
        self.min_count = min_count

    def _fit(self, X, y):
        billed = to_float(self._col(X, "billed_amount", "Float64"))
        code = self._col(X, "hcpcs_code", "string")
        ok = (billed > 0) & code.notna().to_numpy()
        df = pd.DataFrame({"c": code.to_numpy(dtype=object, na_value=None)[ok], "b": billed[ok]})
        g = df.groupby("c", sort=True)["b"]
        med = g.median()
        self.code_median_ = med[g.size() >= int(self.min_count)].astype(np.float64)
        self.names_out_ = [
            "log_billed",
            "billed_to_code_median",
            "log_billed_to_code_median",
            "units",
            "log_billed_per_unit",
        ]

    def _transform(self, X):
        billed = to_float(self._col(X, "billed_amount", "Float64"))
        codes, uniq = multi_key([self._col(X, "hcpcs_code", "string")])
        med = (
            self.code_median_.reindex(pd.Index(uniq, dtype=object)).to_numpy(dtype=np.float64)[codes]
            if len(X)
            else np.zeros(0)
        )
        units = to_float(self._col(X, "units", "Int64"))
        units = np.where(np.isnan(units), 1.0, units)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = billed / med
            per_unit = np.log1p(np.where(units > 0, billed / units, billed))
        return stack([np.log1p(billed), ratio, np.log1p(ratio), units, per_unit], len(X))
