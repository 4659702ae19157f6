"""Extra columns beyond the contract, named in the `[features]` table of the `--config` TOML."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._base import FORBIDDEN_COLUMNS, ColumnFeatures, fit_categories, one_hot, one_hot_names, stack, tristate

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}


def parse_boolean(s: pd.Series) -> np.ndarray:
    """bool / boolean / the contract's spellings (true/false, 1/0, yes/no, y/n, t/f) → 1/0/NaN."""
    if isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
        return s.to_numpy(dtype="float64", na_value=np.nan)
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype="float64", na_value=np.nan)
        return np.where(v == 1.0, 1.0, np.where(v == 0.0, 0.0, np.nan))
    codes, uniq = pd.factorize(s.astype("string"), use_na_sentinel=True)
    per = np.asarray(
        [
            1.0 if str(u).strip().lower() in _TRUE else 0.0 if str(u).strip().lower() in _FALSE else np.nan
            for u in uniq
        ]
        + [np.nan]
    )
    return per[codes]


class ExtraColumns(ColumnFeatures):
    """Configured extra columns as features.

    `extra_boolean`: `<col>_{yes,no,unknown}`; `extra_numeric`: `<col>` as float (unparseable
    → NaN); `extra_categorical`: `<col>=<value>` over the `max_categories` most frequent values
    in fit (`=other`, `=missing`). An outcome or identifier column is refused (ValueError).
    """

    group = "extra"

    def __init__(self, *, extra_boolean=(), extra_numeric=(), extra_categorical=(), max_categories=20):
        self.extra_boolean = extra_boolean
        self.extra_numeric = extra_numeric
        self.extra_categorical = extra_categorical
        self.max_categories = max_categories

    def get_input_columns(self) -> tuple[str, ...]:
        return (*tuple(self.extra_boolean), *tuple(self.extra_numeric), *tuple(self.extra_categorical))

    def _fit(self, X, y):
        missing = [c for c in self.get_input_columns() if c not in X.columns]
        if missing:
            raise ValueError(f"configured extra feature column(s) {missing} are not in the data")
        self.categories_ = {
            c: fit_categories(X[c].astype("string"), self.max_categories) for c in self.extra_categorical
        }
        self.names_out_ = [
            *(f"{c}_{s}" for c in self.extra_boolean for s in ("yes", "no", "unknown")),
            *(str(c) for c in self.extra_numeric),
            *(n for c in self.extra_categorical for n in one_hot_names(str(c), self.categories_[c])),
        ]

    def _transform(self, X):
        n = len(X)
        cols = [tristate(parse_boolean(X[c])) for c in self.extra_boolean]
        cols += [
            pd.to_numeric(X[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan).reshape(n, 1)
            for c in self.extra_numeric
        ]
        cols += [one_hot(X[c].astype("string"), self.categories_[c]) for c in self.extra_categorical]
        if not cols:
            return np.zeros((n, 0))
        return stack(cols, n)


__all__ = ["ExtraColumns", "FORBIDDEN_COLUMNS", "parse_boolean"]
