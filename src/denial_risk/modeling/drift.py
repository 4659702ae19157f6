"""Population stability index (PSI): has the backlog drifted from the training data?

PSI = sum over bins of (a - e) * ln(a / e), where e and a are the shares of the
expected (training) and actual (scoring) data in each bin. Rule of thumb: below
0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a shift worth a warning.

- numeric data: bins are quantiles of the expected data (a low-cardinality
  column gets one bin per value), so each expected bin holds about 1/bins;
- categorical data: category shares, the top `max_categories` categories of the
  expected data by frequency plus an `__other__` bucket (a category never seen
  in training lands there);
- missing values are their own bucket (`__missing__`) in both kinds, so a column
  that goes empty at scoring time shows up as drift;
- an empty bucket gets a share of `EPSILON`, so the log stays finite.

`feature_profile` stores the training side compactly (JSON-serialisable: bin
edges and shares, category shares) inside the model; `drift_report` compares a
scoring frame against it, so scoring never needs the training data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

EPSILON = 1e-4
DEFAULT_THRESHOLD = 0.25
MAX_CATEGORIES = 50
OTHER = "__other__"
MISSING = "__missing__"
PROFILE_VERSION = 1


# --------------------------------------------------------------------------- helpers


def _as_series(values) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, (pd.Index, pd.api.extensions.ExtensionArray)):
        return pd.Series(values)
    return pd.Series(np.asarray(values) if not isinstance(values, list) else values)


def _is_numeric(s: pd.Series) -> bool:
    """Numbers and dates are binned; booleans, strings and categories are shares."""
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt):
        return False
    if isinstance(dt, pd.CategoricalDtype):
        return False
    return bool(
        pd.api.types.is_numeric_dtype(dt)
        or pd.api.types.is_datetime64_any_dtype(dt)
        or pd.api.types.is_timedelta64_dtype(dt)
    )


def _numeric_values(s: pd.Series) -> tuple[np.ndarray, int]:
    """(finite-or-infinite float values without missing, number missing)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        missing = s.isna().to_numpy()
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        vals = s.to_numpy(dtype="datetime64[ns]")[~missing].astype("int64").astype("float64")
        return vals, int(missing.sum())
    if pd.api.types.is_timedelta64_dtype(s.dtype):
        missing = s.isna().to_numpy()
        vals = s.to_numpy(dtype="timedelta64[ns]")[~missing].astype("int64").astype("float64")
        return vals, int(missing.sum())
    vals = s.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(vals)
    return vals[~missing], int(missing.sum())


def _category_counts(s: pd.Series) -> tuple[dict[str, int], int]:
    """Counts per category (as strings) and the number missing; cheap on 1M rows."""
    vc = s.value_counts(dropna=True, sort=False)
    counts: dict[str, int] = {}
    for k, v in zip(vc.index.tolist(), vc.to_numpy().tolist()):
        key = str(k)
        counts[key] = counts.get(key, 0) + int(v)
    missing = int(len(s) - vc.sum())
    return counts, missing


def _psi(expected: np.ndarray, actual: np.ndarray, eps: float = EPSILON) -> float:
    e = np.clip(np.asarray(expected, dtype="float64"), eps, None)
    a = np.clip(np.asarray(actual, dtype="float64"), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _shares(counts: np.ndarray, total: int) -> np.ndarray:
    return counts / total if total else np.zeros_like(counts, dtype="float64")


# --------------------------------------------------------------------------- profiles


def _numeric_profile(s: pd.Series, bins: int) -> dict:
    vals, n_missing = _numeric_values(s)
    n = len(vals) + n_missing
    finite = vals[np.isfinite(vals)]
    if len(finite) == 0:
        edges = np.array([], dtype="float64")
    else:
        uniq = np.unique(finite)
        if len(uniq) <= bins:
            # one bin per value: bin i holds the values in [edges[i-1], edges[i])
            edges = uniq[1:]
        else:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, vals, side="right"), minlength=len(edges) + 1)
    return {
        "kind": "numeric",
        "n": int(n),
        "edges": [float(x) for x in edges],
        "shares": [float(x) for x in _shares(counts, n)],
        "missing": float(n_missing / n) if n else 0.0,
    }


def _categorical_profile(s: pd.Series, max_categories: int) -> dict:
    counts, n_missing = _category_counts(s)
    n = sum(counts.values()) + n_missing
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
    kept = dict(top)
    other = sum(v for k, v in counts.items() if k not in kept)
    return {
        "kind": "categorical",
        "n": int(n),
        "shares": {k: (v / n if n else 0.0) for k, v in top},
        "other": float(other / n) if n else 0.0,
        "missing": float(n_missing / n) if n else 0.0,
    }


def _profile_one(s: pd.Series, *, bins: int, max_categories: int, kind: str | None = None) -> dict:
    kind = kind or ("numeric" if _is_numeric(s) else "categorical")
    if kind == "numeric":
        return _numeric_profile(s, bins)
    if kind == "categorical":
        return _categorical_profile(s, max_categories)
    raise ValueError(f"unknown kind {kind!r} (numeric or categorical)")


def _actual_shares(entry: Mapping, s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(expected shares, actual shares) over the profile's buckets, missing last."""
    if entry["kind"] == "numeric":
        edges = np.asarray(entry["edges"], dtype="float64")
        expected = np.append(np.asarray(entry["shares"], dtype="float64"), entry["missing"])
        if not _is_numeric(s):
            s = pd.to_numeric(s, errors="coerce")
        vals, n_missing = _numeric_values(s)
        n = len(vals) + n_missing
        counts = np.bincount(np.searchsorted(edges, vals, side="right"), minlength=len(edges) + 1)
        actual = np.append(_shares(counts, n), n_missing / n if n else 0.0)
        return expected, actual
    if entry["kind"] == "categorical":
        cats = list(entry["shares"])
        expected = np.array([*entry["shares"].values(), entry["other"], entry["missing"]], dtype="float64")
        counts, n_missing = _category_counts(s)
        n = sum(counts.values()) + n_missing
        known = np.array([counts.get(c, 0) for c in cats], dtype="float64")
        other = sum(v for k, v in counts.items() if k not in entry["shares"])
        actual = np.append(known, [other, n_missing]) / n if n else np.zeros(len(cats) + 2)
        return expected, actual
    raise ValueError(f"unknown profile kind {entry.get('kind')!r}")


# --------------------------------------------------------------------------- public API


def population_stability_index(
    expected,
    actual,
    *,
    bins: int = 10,
    kind: str | None = None,
    max_categories: int = MAX_CATEGORIES,
) -> float:
    """PSI of `actual` against `expected` (arrays or Series of the same feature).

    Numeric data (numbers, dates) is binned on quantiles of `expected`;
    anything else (strings, booleans, categories) is compared by category
    shares, categories unseen in `expected` pooled as `__other__`. Pass
    `kind="numeric"` / `"categorical"` to override the detection. Missing
    values are a bucket of their own. 0 for identical distributions.
    """
    e = _as_series(expected)
    entry = _profile_one(e, bins=bins, max_categories=max_categories, kind=kind)
    exp_shares, act_shares = _actual_shares(entry, _as_series(actual))
    return _psi(exp_shares, act_shares)


def feature_profile(
    df: pd.DataFrame,
    columns: Iterable[str] | None = None,
    *,
    bins: int = 10,
    max_categories: int = MAX_CATEGORIES,
    kinds: Mapping[str, str] | None = None,
) -> dict:
    """A compact, JSON-serialisable profile of the training distributions.

    `{"version": 1, "bins": 10, "features": {name: entry}}` where a numeric
    entry is `{"kind": "numeric", "n", "edges": [interior bin edges],
    "shares": [len(edges) + 1 shares], "missing": share}` and a categorical one
    is `{"kind": "categorical", "n", "shares": {category: share} (top
    `max_categories`), "other": share, "missing": share}`. Store it with the
    model and pass it to `drift_report` at scoring time.
    """
    columns = list(df.columns if columns is None else columns)
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise KeyError(f"columns not in the frame: {', '.join(absent)}")
    kinds = dict(kinds or {})
    return {
        "version": PROFILE_VERSION,
        "bins": int(bins),
        "features": {
            c: _profile_one(df[c], bins=bins, max_categories=max_categories, kind=kinds.get(c))
            for c in columns
        },
    }


def drift_report(profile: Mapping, df: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """PSI of each profiled feature in `df` against the stored training profile.

    Returns a frame with columns `feature`, `psi`, `drifted` (psi > threshold),
    sorted by psi, highest first. A profiled column absent from `df` counts as
    all missing (it is, to the model).
    """
    features = profile.get("features", {})
    rows = []
    for name, entry in features.items():
        s = df[name] if name in df.columns else pd.Series([pd.NA] * len(df), dtype="object")
        if len(s) == 0:
            psi = float("nan")
        else:
            psi = _psi(*_actual_shares(entry, s))
        rows.append((name, psi))
    out = pd.DataFrame(rows, columns=["feature", "psi"]).astype({"feature": "string", "psi": "float64"})
    out["drifted"] = (out["psi"] > threshold).astype(bool)
    return out.sort_values("psi", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def drift_warning(report: pd.DataFrame) -> str | None:
    """One line naming the drifted features, or None: for scoring to print."""
    drifted = report[report["drifted"]]
    if drifted.empty:
        return None
    names = ", ".join(f"{r.feature} (PSI {r.psi:.2f})" for r in drifted.itertuples(index=False))
    return f"the data differs from the training data in {len(drifted)} feature(s): {names}"
