"""Shared machinery for the feature transformers.

Every transformer reads the *normalised* frame (docs/architecture.md) by column name,
reads only the columns it declares (`get_input_columns()`), and returns a float64
matrix whose column names come from `get_feature_names_out()`, so
`set_output(transform="pandas")` works. Per-row work is vectorised: string columns are
factorised and parsed once per unique value, learned tables are looked up per unique
key and broadcast back with `take`.

Target-learned statistics (smoothed denial rates) are computed here, in two flavours:

* `fit_rates` / `RateTable.lookup`: hierarchical additive smoothing. Each level's key
  extends the previous one (e.g. `payer_type` → `payer_type × payer_id`); a key's rate
  is `(denials + m · parent) / (lines + m)` where `parent` is the coarser level's rate
  (the global prior at the top). A key never seen falls back to the coarser level.
* `oof_rates`: the same, out-of-fold, for `fit_transform`: a training row's value is
  computed from the other folds only, so it never sees its own label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from denial_risk.contract import schema

NA_KEY = "\x00"  # label of a missing value inside a key (its own state, never merged)
KEY_SEP = "\x1f"  # separator between the parts of a multi-column key
FORBIDDEN_COLUMNS = frozenset((*schema.OUTCOME_COLUMNS, *schema.IDENTIFIER_COLUMNS))


# --------------------------------------------------------------------------- base class


# --- serialisation: skops stores plain containers and arrays, not pandas objects ---


def _pack(value):
    """A learned pandas Series as plain lists/arrays (skops refuses pandas internals)."""
    if isinstance(value, pd.Series):
        idx = value.index
        multi = isinstance(idx, pd.MultiIndex)
        return {
            "__series__": True,
            "values": value.to_numpy(),
            "index": [list(t) for t in idx] if multi else idx.to_list(),
            "multi": multi,
            "names": list(idx.names),
            "name": value.name,
        }
    if isinstance(value, list):
        return [_pack(v) for v in value]
    return value


def _unpack(value):
    if isinstance(value, dict) and value.get("__series__"):
        if value["multi"]:
            index = pd.MultiIndex.from_tuples([tuple(t) for t in value["index"]], names=value["names"])
        else:
            index = pd.Index(value["index"], name=value["names"][0] if value["names"] else None)
        return pd.Series(value["values"], index=index, name=value["name"])
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    return value


class PlainState:
    """Mixin: learned Series attributes are stored as plain data and rebuilt on load."""

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else dict(self.__dict__)
        return {k: _pack(v) for k, v in state.items()}

    def __setstate__(self, state):
        state = {k: _unpack(v) for k, v in state.items()}
        if hasattr(super(), "__setstate__"):
            super().__setstate__(state)
        else:
            self.__dict__.update(state)


class ColumnFeatures(PlainState, TransformerMixin, BaseEstimator):
    """Base: a transformer over named columns of the normalised claims frame.

    Subclasses set `group` (the biller-facing feature group) and `input_columns`, and
    implement `_fit(X, y)` (store learned state in attributes ending in `_`, including
    `names_out_`) and `_transform(X) -> ndarray`.
    """

    group: ClassVar[str] = ""
    input_columns: ClassVar[tuple[str, ...]] = ()

    # -- columns ---------------------------------------------------------------------

    def get_input_columns(self) -> tuple[str, ...]:
        """The columns of the normalised frame this transformer reads (and nothing else)."""
        return tuple(self.input_columns)

    def _check_frame(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"{type(self).__name__} expects the normalised claims DataFrame, got {type(X).__name__}"
            )
        bad = FORBIDDEN_COLUMNS.intersection(self.get_input_columns())
        if bad:
            raise ValueError(
                f"{type(self).__name__} would read outcome/identifier column(s) {sorted(bad)}: "
                "these are never features"
            )
        return X

    @staticmethod
    def _col(X: pd.DataFrame, name: str, dtype: str) -> pd.Series:
        """Column `name`, or an all-missing column of `dtype` when the frame lacks it."""
        if name in X.columns:
            return X[name]
        return (
            pd.Series(pd.array([pd.NA] * len(X), dtype=dtype), index=X.index)
            if dtype != "datetime64[ns]"
            else pd.Series(pd.NaT, index=X.index, dtype="datetime64[ns]")
        )

    # -- sklearn API -------------------------------------------------------------------

    def fit(self, X, y=None):
        X = self._check_frame(X)
        self._set_input_info(X)
        self._fit(X, None if y is None else as_target(y, len(X)))
        return self

    def transform(self, X):
        check_is_fitted(self, "names_out_")
        X = self._check_frame(X)
        return self._finish(self._transform(X), len(X))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "names_out_")
        return np.asarray(self.names_out_, dtype=object)

    # -- helpers for subclasses --------------------------------------------------------

    def _set_input_info(self, X: pd.DataFrame) -> None:
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)

    def _finish(self, out: np.ndarray, n: int) -> np.ndarray:
        out = np.asarray(out, dtype=np.float64)
        if out.shape != (n, len(self.names_out_)):  # pragma: no cover - a bug, not an input error
            raise AssertionError(f"{type(self).__name__}: shape {out.shape} != {(n, len(self.names_out_))}")
        return out

    def _fit(self, X: pd.DataFrame, y: np.ndarray | None) -> None:  # pragma: no cover
        raise NotImplementedError

    def _transform(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class TargetFeatures(ColumnFeatures):
    """A transformer with target-learned columns: `fit_transform(X, y)` is out-of-fold.

    `transform` uses the tables learned on all of the fit data; `fit_transform` returns
    for each training row values learned without that row's label (like sklearn's
    `TargetEncoder`). Subclasses implement `_fit_transform_oof(X, y) -> ndarray`.
    """

    def fit_transform(self, X, y=None, **fit_params):
        X = self._check_frame(X)
        if y is None:
            raise ValueError(f"{type(self).__name__} learns from the outcome: fit(X, y) needs y")
        y = as_target(y, len(X))
        self._set_input_info(X)
        self._fit(X, y)
        return self._finish(self._fit_transform_oof(X, y), len(X))

    def fit(self, X, y=None):
        if y is None:
            raise ValueError(f"{type(self).__name__} learns from the outcome: fit(X, y) needs y")
        return super().fit(X, y)

    def _fit_transform_oof(self, X: pd.DataFrame, y: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def as_target(y, n: int) -> np.ndarray:
    """The denial label as float64 0/1; missing labels are an error (train on labelled rows)."""
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError("y must be one column (denied)")
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        arr = y.to_numpy(dtype="float64", na_value=np.nan)
    else:
        arr = np.asarray(y, dtype="float64").reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"y has {arr.shape[0]} rows, X has {n}")
    if np.isnan(arr).any():
        raise ValueError("y has missing labels; train on labelled lines only")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError("y must be binary (denied = 1)")
    return arr


# --------------------------------------------------------------------------- value helpers


def to_float(s: pd.Series) -> np.ndarray:
    """Numeric/boolean column as float64 with NaN for missing."""
    if isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
        return s.to_numpy(dtype="float64", na_value=np.nan)
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        s = pd.to_numeric(s, errors="coerce")
    return s.to_numpy(dtype="float64", na_value=np.nan)


def bool_float(s: pd.Series) -> np.ndarray:
    """A boolean-ish column (bool, `boolean`, object of bools) → 1.0 / 0.0 / NaN."""
    if isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
        return s.to_numpy(dtype="float64", na_value=np.nan)
    return s.astype("boolean").to_numpy(dtype="float64", na_value=np.nan)


def stack(parts: Sequence, n: int) -> np.ndarray:
    """Columns (1-D arrays) and blocks (2-D arrays) side by side, as a column-major float64 matrix.

    Column-major keeps each column's write contiguous (`np.column_stack` is several times
    slower at 500k rows × 200 columns) and becomes a pandas frame without a copy.
    """
    width = sum(1 if np.ndim(p) == 1 else np.shape(p)[1] for p in parts)
    out = np.empty((n, width), dtype=np.float64, order="F")
    j = 0
    for p in parts:
        if np.ndim(p) == 1:
            out[:, j] = p
            j += 1
        else:
            k = np.shape(p)[1]
            out[:, j : j + k] = p
            j += k
    return out


def gather(per_unique: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows of a small per-unique matrix broadcast to rows by codes, column-major (fast)."""
    out = np.empty((len(codes), per_unique.shape[1]), dtype=np.float64, order="F")
    for j in range(per_unique.shape[1]):
        out[:, j] = np.ascontiguousarray(per_unique[:, j]).take(codes)
    return out


def tristate(values: np.ndarray) -> np.ndarray:
    """1/0/NaN → three indicator columns (yes, no, unknown)."""
    return stack([values == 1.0, values == 0.0, np.isnan(values)], len(values))


def factorize(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 = missing) and unique values as a Python-object array of str."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray([str(u) for u in uniques], dtype=object)


def multi_key(columns: Sequence[pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """Rows → (codes, labels): one code per distinct combination of the columns.

    A missing value is its own state (`NA_KEY`). Labels are `KEY_SEP`-joined strings, built
    per unique combination only.
    """
    n = len(columns[0])
    code = np.zeros(n, dtype=np.int64)
    labels = np.asarray([""], dtype=object)
    for i, s in enumerate(columns):
        c, u = factorize(s)
        width = len(u) + 1
        ulab = np.concatenate([np.asarray([NA_KEY], dtype=object), u])
        code, uniq = pd.factorize(code * width + (c + 1))
        code = code.astype(np.int64)
        uniq = np.asarray(uniq, dtype=np.int64)
        cur = ulab[uniq % width]
        labels = cur if i == 0 else labels[uniq // width] + KEY_SEP + cur
    if n == 0:
        labels = np.asarray([], dtype=object)
    return code, np.asarray(labels, dtype=object)


def lookup(
    table: pd.Series, codes: np.ndarray, labels: np.ndarray, default: float | np.ndarray
) -> np.ndarray:
    """Per-unique lookup of `labels` in `table`, broadcast to rows; unseen → `default`."""
    n = len(codes)
    out = np.empty(n, dtype=np.float64)
    out[:] = default
    if n == 0 or len(table) == 0:
        return out
    pos = table.index.get_indexer(pd.Index(labels, dtype=object))
    vals = np.where(pos >= 0, table.to_numpy(dtype=np.float64)[np.maximum(pos, 0)], np.nan)
    row = vals[codes]
    found = ~np.isnan(row)
    out[found] = row[found]
    return out


# --------------------------------------------------------------------------- top-K categories


def fit_categories(s: pd.Series, max_categories: int, min_count: int = 1) -> list[str]:
    """The (at most) `max_categories` most frequent non-missing values seen ≥ `min_count` times, sorted."""
    vc = s.dropna().astype(str).value_counts(sort=True)
    vc = vc[vc >= min_count]
    # ties broken by value so the choice is deterministic
    top = sorted(vc.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
    return sorted(k for k, _ in top)


def one_hot(s: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Columns: one per category, then `other` (seen value not in categories), then `missing`."""
    n = len(s)
    k = len(categories)
    out = np.zeros((n, k + 2), dtype=np.float64, order="F")
    if n == 0:
        return out
    codes, uniq = factorize(s)
    pos = {c: i for i, c in enumerate(categories)}
    col_of_unique = np.asarray([pos.get(u, k) for u in uniq] + [k + 1], dtype=np.int64)
    out[np.arange(n), col_of_unique[codes]] = 1.0  # code -1 picks the trailing `missing`
    return out


def one_hot_names(prefix: str, categories: Sequence[str]) -> list[str]:
    return [f"{prefix}={c}" for c in categories] + [f"{prefix}=other", f"{prefix}=missing"]


# --------------------------------------------------------------------------- smoothed rates


class RateTable(PlainState):
    """Hierarchical smoothed denial rates learned on all fit rows (see module docstring)."""

    def __init__(self, prior: float, tables: list[pd.Series], counts: list[pd.Series]):
        self.prior = prior
        self.tables = tables
        self.counts = counts

    def lookup(self, keys: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        n = len(keys[0][0]) if keys else 0
        est = np.full(n, self.prior, dtype=np.float64)
        for (codes, labels), table in zip(keys, self.tables, strict=True):
            est = lookup(table, codes, labels, est)
        return est

    def count(self, level: int, key: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Training lines seen for the key at `level` (0 when unseen)."""
        return lookup(self.counts[level], key[0], key[1], 0.0)


def _rates_on(
    keys: list[tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
    fit_idx: np.ndarray,
    apply_idx: np.ndarray,
    smoothing: float,
    prior: float | None = None,
):
    """Fit hierarchical rates on `fit_idx` rows, return (values at apply_idx, per-level (rate, count))."""
    yf = y[fit_idx]
    p0 = prior if prior is not None else float(yf.mean()) if len(fit_idx) else np.nan
    est_fit = np.full(len(fit_idx), p0)
    est_app = np.full(len(apply_idx), p0)
    levels = []
    for codes, labels in keys:
        k = len(labels)
        cf = codes[fit_idx]
        sums = np.bincount(cf, weights=yf, minlength=k)
        cnts = np.bincount(cf, minlength=k).astype(np.float64)
        parent = np.zeros(k)
        parent[cf] = est_fit
        rate = (sums + smoothing * parent) / (cnts + smoothing)
        est_fit = rate[cf]
        ca = codes[apply_idx]
        seen = cnts[ca] > 0
        est_app = np.where(seen, rate[ca], est_app)
        levels.append((rate, cnts))
    return est_app, levels, p0


def fit_rates(keys: list[tuple[np.ndarray, np.ndarray]], y: np.ndarray, smoothing: float) -> RateTable:
    """Learn a `RateTable` from all rows."""
    n = len(y)
    idx = np.arange(n)
    _, levels, prior = _rates_on(keys, y, idx, idx[:0], smoothing)
    tables, counts = [], []
    for (rate, cnts), (_, labels) in zip(levels, keys, strict=True):
        seen = cnts > 0
        index = pd.Index(labels[seen], dtype=object)
        tables.append(pd.Series(rate[seen], index=index))
        counts.append(pd.Series(cnts[seen], index=index))
    return RateTable(prior, tables, counts)


def cv_splits(n: int, cv) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds for out-of-fold encoding: `cv` is an int (shuffled KFold, seed 0) or a splitter."""
    if isinstance(cv, int | np.integer):
        n_splits = min(int(cv), n)
        if n_splits < 2:
            return []
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=0)
    else:
        splitter = cv
    return list(splitter.split(np.zeros((n, 1))))


def oof_rates(
    keys: list[tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
    smoothing: float,
    cv,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold hierarchical rates: row i's value is learned from folds not containing i.

    `mask` (bool per row) restricts the rows the rates are learned *from* (e.g. only lines
    without prior authorization); values are still produced for every row.
    """
    n = len(y)
    out = np.full(n, np.nan)
    splits = cv_splits(n, cv)
    if not splits:  # too few rows to hold any out: the prior of nothing is unknown
        return out
    for tr, va in splits:
        if mask is not None:
            tr = tr[mask[tr]]
        out[va], _, _ = _rates_on(keys, y, tr, va, smoothing)
    return out
