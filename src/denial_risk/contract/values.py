"""Raw cell values → canonical values: dates, amounts, whole numbers, booleans, code lists, payer
types, identifiers; each parser returns the values and a per-row problem mask.

Every parser works on the *distinct* values of a column, once (`RawColumn`), so a 250k-row chunk
parses a few hundred dates, codes and amounts; unknown stays missing, never 0 or false. Numbers are
read from ASCII digits only. `contract.normalize` applies these to a whole chunk and turns the
problems into reject reasons.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from denial_risk.contract import memo, schema

STRING = pd.StringDtype("pyarrow")  # the normalised frame's `string` dtype

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}
_SEPARATORS = re.compile(r"[|,;\s]+")
_AMOUNT = re.compile(r"^\(?\$?\s*(-?)\$?\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(\.[0-9]*)?\)?$", re.ASCII)
MAX_AMOUNT = 1_000_000_000  # no line is billed more: a mistake, or sums at inf (1e308 + 1e308); rejected
_PAYER_ALIASES = {
    "medicare": "medicare",
    "medicare_advantage": "medicare_advantage",
    "ma": "medicare_advantage",
    "medicare_part_c": "medicare_advantage",
    "medicaid": "medicaid",
    "managed_medicaid": "medicaid",
    "commercial": "commercial",
    "other": "other",
}


# --- raw values as text -------------------------------------------------------
#
# Every parser below works on the *distinct* values of a column (claim columns
# repeat a lot: a few hundred dates, codes and amounts in a 250k-row chunk), as
# stripped text, and the result is spread back over the rows by the factorize
# codes. Typed Parquet columns (dates, numbers, booleans) take typed fast paths.

_FEW = 64  # distinct values few enough for a per-cell Python loop to beat a pandas call's fixed cost
_NS_MIN = pd.Timestamp("1678-01-01")
_NS_MAX = pd.Timestamp("2261-12-31")


def _scalar_text(v) -> str:
    """One raw value (of any Parquet/pandas type) as text; missing → ''."""
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, float) and np.isnan(v):
        return ""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", errors="replace").strip()
    if isinstance(v, (list, tuple, np.ndarray)):  # a Parquet list column (e.g. modifiers)
        return schema.LIST_SEP.join(_scalar_text(x) for x in v if _scalar_text(x))
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).strip()


def _as_text(s: pd.Series) -> pd.Series:
    """Raw values as stripped strings (`string` dtype), missing as ''."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime("%Y-%m-%d").astype("string").fillna("")
    if isinstance(s.dtype, pd.StringDtype):
        if s.dtype.storage == "python" and len(s) <= _FEW:  # pandas' own strip is str.strip per cell
            return pd.Series([v.strip() if isinstance(v, str) else "" for v in s.array], s.index, "string")
        return s.astype("string").fillna("").str.strip()
    if s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype):
        return pd.Series([_scalar_text(v) for v in s.to_numpy(dtype=object)], index=s.index, dtype="string")
    return s.astype("string").fillna("").str.strip()


class RawColumn:
    """A raw column factorized once: row codes and the distinct values as text."""

    def __init__(self, s: pd.Series | None, *, index: pd.Index | None = None):
        if s is None:  # a column the file does not have: every row empty
            self.index = index
            self.raw = None
            self.codes = np.zeros(len(index), dtype=np.intp)
            self.text = pd.Series([""], dtype=STRING)
            return
        self.raw = s
        self.index = s.index
        try:
            codes, uniques = pd.factorize(s, use_na_sentinel=False)
        except TypeError:  # unhashable values (Parquet lists)
            codes, uniques = pd.factorize(s.map(_scalar_text), use_na_sentinel=False)
        self.codes = np.asarray(codes, dtype=np.intp)
        self.text = _as_text(pd.Series(uniques)).reset_index(drop=True)

    def spread(self, values) -> pd.Series:
        """Per-distinct-value results → one value per row."""
        if isinstance(values, pd.Series):
            values = values.array
        return pd.Series(
            values.take(self.codes) if hasattr(values, "take") else np.asarray(values)[self.codes],
            index=self.index,
        )

    def mask(self, per_unique: pd.Series | np.ndarray) -> pd.Series:
        m = np.asarray(per_unique, dtype=bool)
        return pd.Series(m[self.codes] if len(m) else np.zeros(len(self.codes), bool), index=self.index)

    @property
    def present(self) -> pd.Series:
        """Rows with a (non-empty) value."""
        return self.mask((self.text != "").to_numpy(dtype=bool))


def _raw_column(s: pd.Series | RawColumn) -> RawColumn:
    return s if isinstance(s, RawColumn) else RawColumn(s)


# --- value parsers (each returns canonical values and a per-row problem mask) ---


def _dates_from_text(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Distinct texts → (datetime64[ns] values, unparseable mask)."""
    head = text.str.slice(0, 10)
    iso = pd.to_datetime(head, format="%Y-%m-%d", errors="coerce")
    compact = text.str.fullmatch(r"\d{8}").fillna(False).astype(bool)
    if compact.any():
        iso = iso.where(~compact, pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
    # anything after the date part must look like a time, or the value is not a date
    tail_ok = (
        ((text.str.len() <= 10) & text.str.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}").fillna(False))
        | text.str.fullmatch(r"\d{4}-\d{2}-\d{2}[T ][0-9:.+\-Z]*").fillna(False)
        | compact
    )
    iso = iso.where(tail_ok.astype(bool) & (iso >= _NS_MIN) & (iso <= _NS_MAX))
    dates = iso.astype("datetime64[ns]").to_numpy()
    bad = (text != "").to_numpy(dtype=bool) & np.isnat(dates)
    return dates, bad


DATE_MEMO_MAX = 20_000  # distinct date texts remembered (bounded: they come from requests)
DATE_MEMO_ROWS = _FEW  # at most this many distinct texts are answered from the memo; more: parsed at once
_DATE_MEMO: dict[str, tuple] = {}


def _dates_of(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`_dates_from_text`, each text's answer remembered for small inputs (a served request's few
    dates repeat across requests, and pandas' parse costs ~1 ms a call whatever its size). The
    parse is per text, so a remembered answer is the one the whole column's parse gives."""
    if len(text) > DATE_MEMO_ROWS:
        return _dates_from_text(text)

    def parse(todo: list[str]) -> list[tuple]:
        return list(zip(*_dates_from_text(pd.Series(todo, dtype=STRING))))

    answers = memo.remember(_DATE_MEMO, text.tolist(), parse, DATE_MEMO_MAX)
    return (
        np.array([a[0] for a in answers], dtype="datetime64[ns]"),
        np.array([a[1] for a in answers], dtype=bool),
    )


def parse_dates(s: pd.Series | RawColumn) -> tuple[pd.Series, pd.Series]:
    """ISO `YYYY-MM-DD` (a time part is ignored) or `YYYYMMDD`. Returns (dates, unparseable mask)."""
    raw = s.raw if isinstance(s, RawColumn) else s
    if raw is not None and pd.api.types.is_datetime64_any_dtype(raw):
        d = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        inside = (d >= _NS_MIN) & (d <= _NS_MAX)
        out = d.where(inside).astype("datetime64[ns]").dt.normalize()
        return out, (d.notna() & ~inside)
    c = _raw_column(s)
    dates, bad = _dates_of(c.text)
    return c.spread(dates).astype("datetime64[ns]"), c.mask(bad)


def _amounts_from_text(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Distinct texts → (float64 values, unparseable mask). Only ASCII digits count (not `１２３`, `١٢٣`)."""
    obj = text.to_numpy(dtype=object).copy()
    obj[~np.fromiter((t.isascii() for t in obj), dtype=bool, count=len(obj))] = "not ASCII"  # unparseable
    v = pd.to_numeric(np.where(obj == "", None, obj), errors="coerce").astype("float64")
    v = np.asarray(v, dtype="float64")
    need = (obj != "") & np.isnan(v)
    if need.any():
        v[need] = [_parse_amount_text(t) for t in obj[need]]
    v[~np.isfinite(v)] = np.nan
    bad = (obj != "") & np.isnan(v)
    return v, bad


def parse_amounts(s: pd.Series | RawColumn) -> tuple[pd.Series, pd.Series]:
    """Dollars: `12.5`, `$1,234.00`. Returns (float values, unparseable mask)."""
    raw = s.raw if isinstance(s, RawColumn) else s
    if raw is not None and pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        v = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = raw.notna() & ~np.isfinite(v.fillna(0.0))
        return v.where(~bad), bad
    c = _raw_column(s)
    v, bad = _amounts_from_text(c.text)
    return c.spread(v), c.mask(bad)


def _parse_amount_text(t: str) -> float:
    m = _AMOUNT.match(t)
    if not t or not m or (m.group(2) == "" and not m.group(3)):
        return np.nan
    try:
        value = float((m.group(1) or "") + m.group(2).replace(",", "") + (m.group(3) or ""))
    except ValueError:
        return np.nan
    return -value if t.startswith("(") and t.endswith(")") else value


def parse_integers(s: pd.Series | RawColumn) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (`2`, `2.0`). Returns (Int64 values, unparseable mask)."""
    raw = s.raw if isinstance(s, RawColumn) else s
    if raw is not None and pd.api.types.is_bool_dtype(raw):
        v, bad = raw.astype("float64"), pd.Series(False, index=raw.index)
    else:
        v, bad = parse_amounts(s)
    f = v.to_numpy(dtype="float64", na_value=np.nan)
    whole = ~np.isnan(f) & (np.floor(np.nan_to_num(f)) == f) & (np.abs(np.nan_to_num(f)) < 2**53)
    bad = bad.to_numpy(dtype=bool) | (~np.isnan(f) & ~whole)
    ints = pd.arrays.IntegerArray(np.where(whole, np.nan_to_num(f), 0).astype("int64"), ~whole)
    return pd.Series(ints, index=v.index), pd.Series(bad, index=v.index)


def parse_booleans(s: pd.Series | RawColumn) -> tuple[pd.Series, pd.Series]:
    """true/false, 1/0, yes/no, y/n, t/f in any case; empty → unknown.

    Returns (boolean, unrecognised mask).
    """
    raw = s.raw if isinstance(s, RawColumn) else s
    if raw is not None and pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean"), pd.Series(False, index=raw.index)
    c = _raw_column(s)
    text = c.text.str.lower()
    true = text.isin(_TRUE).to_numpy(dtype=bool)
    false = text.isin(_FALSE).to_numpy(dtype=bool)
    values = pd.arrays.BooleanArray(true, ~(true | false))
    return c.spread(values), c.mask((text != "").to_numpy(dtype=bool) & ~(true | false))


def _normalise_list(value: str, *, undot: bool) -> str:
    parts = [p for p in _SEPARATORS.split(value.upper()) if p]
    if undot:
        parts = [p.replace(".", "") for p in parts]
        parts = [p for p in parts if p]
    seen: dict[str, None] = {}
    for p in parts:
        seen.setdefault(p, None)
    return schema.LIST_SEP.join(seen)


def _map_text(s: pd.Series | RawColumn, fn) -> pd.Series:
    c = _raw_column(s)
    mapped = pd.array([fn(t) for t in c.text.to_numpy(dtype=object)], dtype=STRING)
    return c.spread(mapped)


def normalise_modifiers(s: pd.Series | RawColumn) -> pd.Series:
    """`kx, rt` / `KX|RT` / `KX RT` → `KX|RT` (input order, duplicates dropped)."""
    return _map_text(s, lambda v: _normalise_list(v, undot=False))


def normalise_diagnoses(s: pd.Series | RawColumn) -> pd.Series:
    """`M54.50, m48.06` → `M5450|M4806` (primary first)."""
    return _map_text(s, lambda v: _normalise_list(v, undot=True))


def normalise_remark_codes(s: pd.Series | RawColumn) -> pd.Series:
    """`n19, ma130` / `N19|MA130` → `N19|MA130` (line's first, duplicates dropped); none → <NA>."""
    return _map_text(s, lambda v: _normalise_list(v, undot=False) or pd.NA)


def _payer_type(v: str):
    if not v:
        return pd.NA
    key = re.sub(r"[\s\-]+", "_", v.strip().lower())
    return _PAYER_ALIASES.get(key, "other")


def normalise_payer_type(s: pd.Series | RawColumn) -> pd.Series:
    """Case-insensitive enum; empty → unknown; anything unrecognised → `other`."""
    return _map_text(s, _payer_type)


def text_or_na(s: pd.Series | RawColumn, *, upper: bool = False) -> pd.Series:
    """Stripped text, empty → <NA>. Works on the whole column (identifiers are mostly distinct)."""
    raw = s.raw if isinstance(s, RawColumn) else s
    if raw is not None and isinstance(raw.dtype, pd.StringDtype):
        t = raw.astype(STRING).str.strip()
    else:
        t = _raw_column(s).spread(_raw_column(s).text.array)
    if upper:
        t = t.str.upper()
    return t.where(t != "").astype(STRING)


def identifier(s: pd.Series | RawColumn) -> pd.Series:
    """IDs read from spreadsheets sometimes gain a `.0`; numbers stay digits."""
    t = text_or_na(s)
    if t.str.endswith(".0").any():
        t = t.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    return t
