"""Accepted forms → canonical values, and rows that cannot be scored → rejects.

The contract accepts several spellings of the same thing (modifier separators, dotted or undotted
ICD-10, any case, six boolean spellings, ISO or YYYYMMDD dates). This module turns a raw chunk into
the normalised frame of docs/architecture.md. Unknown stays missing, never 0 or false.

A row is rejected only when it cannot be scored (missing or unparseable claim_id, service_date,
hcpcs_code, billed_amount, a negative amount or one over `MAX_AMOUNT`, an unparseable date, a bad
line_number, a duplicate (claim_id, line_number)); numbers are read from ASCII digits only.
Anything else wrong is a *finding* for the model. Vectorised; per-value parsing on unique values.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.errors import UserError

REJECT_REASON = "reject_reason"
_STRING = pd.StringDtype("pyarrow")  # the normalised frame's `string` dtype

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


def check_required_columns(columns: list[str], path: str, option: str = "--data") -> None:
    """A file without a required column cannot be scored at all: stop with one line."""
    missing = [c for c in schema.REQUIRED if c not in columns]
    if missing:
        raise UserError(
            f"{option} {path}: missing required column '{missing[0]}'"
            + (f" (and {len(missing) - 1} more: {', '.join(missing[1:])})" if len(missing) > 1 else "")
        )


# --- raw values as text -------------------------------------------------------
#
# Every parser below works on the *distinct* values of a column (claim columns
# repeat a lot: a few hundred dates, codes and amounts in a 250k-row chunk), as
# stripped text, and the result is spread back over the rows by the factorize
# codes. Typed Parquet columns (dates, numbers, booleans) take typed fast paths.

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
        return s.astype("string").fillna("").str.strip()
    if s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype):
        return pd.Series([_scalar_text(v) for v in s.to_numpy(dtype=object)], index=s.index, dtype="string")
    return s.astype("string").fillna("").str.strip()


class _Column:
    """A raw column factorized once: row codes and the distinct values as text."""

    def __init__(self, s: pd.Series | None, *, index: pd.Index | None = None):
        if s is None:  # a column the file does not have: every row empty
            self.index = index
            self.raw = None
            self.codes = np.zeros(len(index), dtype=np.intp)
            self.text = pd.Series([""], dtype=_STRING)
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


def _column(s: pd.Series | _Column) -> _Column:
    return s if isinstance(s, _Column) else _Column(s)


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


def parse_dates(s: pd.Series | _Column) -> tuple[pd.Series, pd.Series]:
    """ISO `YYYY-MM-DD` (a time part is ignored) or `YYYYMMDD`. Returns (dates, unparseable mask)."""
    raw = s.raw if isinstance(s, _Column) else s
    if raw is not None and pd.api.types.is_datetime64_any_dtype(raw):
        d = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        inside = (d >= _NS_MIN) & (d <= _NS_MAX)
        out = d.where(inside).astype("datetime64[ns]").dt.normalize()
        return out, (d.notna() & ~inside)
    c = _column(s)
    dates, bad = _dates_from_text(c.text)
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


def parse_amounts(s: pd.Series | _Column) -> tuple[pd.Series, pd.Series]:
    """Dollars: `12.5`, `$1,234.00`. Returns (float values, unparseable mask)."""
    raw = s.raw if isinstance(s, _Column) else s
    if raw is not None and pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        v = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = raw.notna() & ~np.isfinite(v.fillna(0.0))
        return v.where(~bad), bad
    c = _column(s)
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


def parse_integers(s: pd.Series | _Column) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (`2`, `2.0`). Returns (Int64 values, unparseable mask)."""
    raw = s.raw if isinstance(s, _Column) else s
    if raw is not None and pd.api.types.is_bool_dtype(raw):
        v, bad = raw.astype("float64"), pd.Series(False, index=raw.index)
    else:
        v, bad = parse_amounts(s)
    f = v.to_numpy(dtype="float64", na_value=np.nan)
    whole = ~np.isnan(f) & (np.floor(np.nan_to_num(f)) == f) & (np.abs(np.nan_to_num(f)) < 2**53)
    bad = bad.to_numpy(dtype=bool) | (~np.isnan(f) & ~whole)
    ints = pd.arrays.IntegerArray(np.where(whole, np.nan_to_num(f), 0).astype("int64"), ~whole)
    return pd.Series(ints, index=v.index), pd.Series(bad, index=v.index)


def parse_booleans(s: pd.Series | _Column) -> tuple[pd.Series, pd.Series]:
    """true/false, 1/0, yes/no, y/n, t/f in any case; empty → unknown.

    Returns (boolean, unrecognised mask).
    """
    raw = s.raw if isinstance(s, _Column) else s
    if raw is not None and pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean"), pd.Series(False, index=raw.index)
    c = _column(s)
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


def _map_text(s: pd.Series | _Column, fn) -> pd.Series:
    c = _column(s)
    mapped = pd.array([fn(t) for t in c.text.to_numpy(dtype=object)], dtype=_STRING)
    return c.spread(mapped)


def normalise_modifiers(s: pd.Series | _Column) -> pd.Series:
    """`kx, rt` / `KX|RT` / `KX RT` → `KX|RT` (input order, duplicates dropped)."""
    return _map_text(s, lambda v: _normalise_list(v, undot=False))


def normalise_diagnoses(s: pd.Series | _Column) -> pd.Series:
    """`M54.50, m48.06` → `M5450|M4806` (primary first)."""
    return _map_text(s, lambda v: _normalise_list(v, undot=True))


def normalise_remark_codes(s: pd.Series | _Column) -> pd.Series:
    """`n19, ma130` / `N19|MA130` → `N19|MA130` (line's first, duplicates dropped); none → <NA>."""
    return _map_text(s, lambda v: _normalise_list(v, undot=False) or pd.NA)


def _payer_type(v: str):
    if not v:
        return pd.NA
    key = re.sub(r"[\s\-]+", "_", v.strip().lower())
    return _PAYER_ALIASES.get(key, "other")


def normalise_payer_type(s: pd.Series | _Column) -> pd.Series:
    """Case-insensitive enum; empty → unknown; anything unrecognised → `other`."""
    return _map_text(s, _payer_type)


def _text_or_na(s: pd.Series | _Column, *, upper: bool = False) -> pd.Series:
    """Stripped text, empty → <NA>. Works on the whole column (identifiers are mostly distinct)."""
    raw = s.raw if isinstance(s, _Column) else s
    if raw is not None and isinstance(raw.dtype, pd.StringDtype):
        t = raw.astype(_STRING).str.strip()
    else:
        t = _column(s).spread(_column(s).text.array)
    if upper:
        t = t.str.upper()
    return t.where(t != "").astype(_STRING)


def _identifier(s: pd.Series | _Column) -> pd.Series:
    """IDs read from spreadsheets sometimes gain a `.0`; numbers stay digits."""
    t = _text_or_na(s)
    if t.str.endswith(".0").any():
        t = t.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    return t


# --- the chunk normaliser ---


@dataclass
class DuplicateTracker:
    """Remembers (claim_id, line_number) keys across chunks as sorted uint64 runs.

    8 bytes a row instead of a Python set's ~70; keys are 64-bit hashes
    (collisions are negligible). Each chunk adds one sorted run (no copy of
    what is already held, so memory grows by exactly 8 bytes a new key);
    runs are merged only when there are more than `max_runs` of them.
    """

    max_runs: int = 64
    runs: list[np.ndarray] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(r) for r in self.runs)

    def mark(self, claim_id: pd.Series, line_number: pd.Series) -> np.ndarray:
        """Return a mask of rows whose key was already seen (earlier chunk or earlier in this one)."""
        keys = _key_hashes(claim_id, line_number)
        dup = pd.Series(keys).duplicated().to_numpy(copy=True)
        for run in self.runs:
            pos = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            dup |= run[pos] == keys
        new = np.sort(keys[~dup])  # distinct already: duplicates within the chunk are marked
        if len(new):
            self.runs.append(new)
        if len(self.runs) > self.max_runs:
            merged = np.concatenate(self.runs)
            self.runs = []
            merged.sort()
            self.runs = [merged]
        return dup


def _key_hashes(claim_id: pd.Series, line_number: pd.Series) -> np.ndarray:
    """64-bit hashes of (claim_id, line_number); both must be non-missing.

    Hashes the claim ids as plain Python strings (stable whatever the pandas
    string storage) and mixes in the line number arithmetically.
    """
    ids = pd.util.hash_array(np.asarray(claim_id.astype(_STRING).to_numpy(dtype=object)), categorize=False)
    lines = np.asarray(line_number.to_numpy(dtype="int64"), dtype=np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        mixed = (lines + np.uint64(0x9E3779B97F4A7C15)) * np.uint64(0xBF58476D1CE4E5B9)
        mixed ^= mixed >> np.uint64(31)
    return ids ^ mixed


class _ChunkNormaliser:
    """One raw chunk on its way to the normalised frame: canonical columns and the problems found."""

    def __init__(self, raw: pd.DataFrame):
        self.raw = raw
        self.n = len(raw)
        self.out: dict[str, pd.Series] = {}
        self.problems: list[tuple[str, pd.Series]] = []
        self._columns: dict[str, _Column] = {}

    def col(self, name: str) -> _Column:
        if name not in self._columns:
            raw = self.raw
            self._columns[name] = (
                _Column(raw[name]) if name in raw.columns else _Column(None, index=raw.index)
            )
        return self._columns[name]

    def present(self, name: str) -> bool:
        return name in self.raw.columns

    def problem(self, text: str, mask: pd.Series) -> None:
        self.problems.append((text, mask))

    def ones(self) -> pd.Series:
        return pd.Series(pd.array(np.ones(self.n, dtype="int64"), dtype="Int64"), index=self.raw.index)

    def identifiers_and_codes(self) -> None:
        out, raw = self.out, self.raw
        out["claim_id"] = _identifier(raw["claim_id"] if self.present("claim_id") else self.col("claim_id"))
        self.problem("claim_id: missing", out["claim_id"].isna())
        if self.present("line_number"):
            ln, ln_bad = parse_integers(self.col("line_number"))
            ln_bad = ln_bad | (ln < 1).fillna(False).astype(bool)
            out["line_number"] = ln.fillna(1).where(~ln_bad)
            self.problem("line_number: not a whole number >= 1", ln_bad)
        else:
            out["line_number"] = self.ones()
        for name in ("patient_id", "provider_id", "payer_id", "ordering_npi"):
            out[name] = _identifier(raw[name] if self.present(name) else self.col(name))
        pos = _text_or_na(self.col("place_of_service"))
        out["place_of_service"] = pos.where(~pos.str.fullmatch(r"\d").fillna(False).astype(bool), "0" + pos)
        out["payer_type"] = normalise_payer_type(self.col("payer_type"))
        out["hcpcs_code"] = _text_or_na(self.col("hcpcs_code"), upper=True)
        self.problem("hcpcs_code: missing", out["hcpcs_code"].isna())
        out["modifiers"] = normalise_modifiers(self.col("modifiers"))
        out["diagnosis_codes"] = normalise_diagnoses(self.col("diagnosis_codes"))

    def dates(self) -> None:
        for name in schema.DATE_COLUMNS:
            d, bad = parse_dates(self.col(name))
            self.out[name] = d
            self.problem(f"{name}: unparseable date (use YYYY-MM-DD or YYYYMMDD)", bad)
            if name == "service_date":
                self.problem("service_date: missing", d.isna() & ~bad)

    def amounts(self) -> None:
        amt, bad = parse_amounts(self.col("billed_amount"))
        self.out["billed_amount"] = amt
        self.problem("billed_amount: unparseable amount", bad)
        self.problem("billed_amount: missing", amt.isna() & ~bad)
        self.problem("billed_amount: negative amount", (amt < 0).fillna(False))
        too_big = (amt > MAX_AMOUNT).fillna(False)
        self.problem(f"billed_amount: implausible amount (over {MAX_AMOUNT:,})", too_big)
        paid, _ = parse_amounts(self.col("paid_amount"))
        self.out["paid_amount"] = paid.where((paid >= 0) & (paid <= MAX_AMOUNT))  # else unknown

    def counts(self) -> None:
        """Unknown stays unknown; units defaults to 1 only when absent (no column or an empty cell)."""
        if self.present("units"):
            units, _ = parse_integers(self.col("units"))
            units = units.where((units >= 0).fillna(True).astype(bool))
            self.out["units"] = units.mask(~self.col("units").present, 1)
        else:
            self.out["units"] = self.ones()
        prior, _ = parse_integers(self.col("prior_same_code_12m"))
        self.out["prior_same_code_12m"] = prior.where((prior >= 0).fillna(True).astype(bool))

    def flags_and_labels(self) -> None:
        for name in schema.BOOLEAN_COLUMNS:
            self.out[name], _ = parse_booleans(self.col(name))
        self.out["denial_reason"] = _text_or_na(self.col("denial_reason"), upper=True)
        self.out["remark_codes"] = normalise_remark_codes(self.col("remark_codes"))
        if self.present("true_denial_probability"):
            self.out["true_denial_probability"], _ = parse_amounts(self.col("true_denial_probability"))

    def duplicates(self, tracker: DuplicateTracker | None) -> None:
        """Among rows with a usable key, whatever else is wrong with them."""
        out = self.out
        key_ok = (out["claim_id"].notna() & out["line_number"].notna()).to_numpy(dtype=bool)
        dup = np.zeros(self.n, dtype=bool)
        if key_ok.any():
            tracker = tracker if tracker is not None else DuplicateTracker()
            dup[key_ok] = tracker.mark(out["claim_id"][key_ok], out["line_number"][key_ok])
        self.problem(
            "claim_id+line_number: duplicate of an earlier row", pd.Series(dup, index=self.raw.index)
        )

    def result(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        raw = self.raw
        reason = _join_reasons(self.problems, raw.index)
        rejected = reason.notna().to_numpy(dtype=bool)
        frame = pd.DataFrame(self.out, index=raw.index)
        frame = frame.astype({c: t for c, t in schema.NORMALISED_DTYPES.items() if c in frame.columns})
        extras = [c for c in raw.columns if c not in frame.columns]
        if extras:
            frame = pd.concat([frame, raw[extras]], axis=1)
        rejects = raw.loc[rejected].copy()
        rejects[REJECT_REASON] = reason[rejected].astype(_STRING)
        return frame.loc[~rejected], rejects


def normalize_chunk(
    raw: pd.DataFrame, *, duplicates: DuplicateTracker | None = None, start: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a raw chunk into (normalised scorable rows, rejects with `reject_reason`).

    The index of both is the row's position in the input (from `start`), so the
    two can be put back in input order. The scorable frame has every contract
    column (absent ones all-missing) with the dtypes of `schema.NORMALISED_DTYPES`,
    then the extra columns unchanged in input order. Rejects keep the raw values.
    Every problem a row has is named in its `reject_reason`, in a fixed order.
    """
    raw = raw.reset_index(drop=True)
    raw.index = pd.RangeIndex(start, start + len(raw))
    chunk = _ChunkNormaliser(raw)
    chunk.identifiers_and_codes()
    chunk.dates()
    chunk.amounts()
    chunk.counts()
    chunk.flags_and_labels()
    chunk.duplicates(duplicates)
    return chunk.result()


def _join_reasons(problems: list[tuple[str, pd.Series]], index: pd.Index) -> pd.Series:
    """One `reject_reason` per row: every problem found, `; `-separated, in a fixed order."""
    found = []
    for text, mask in problems:
        m = np.asarray(pd.Series(mask).fillna(False).to_numpy(dtype=bool), dtype=bool)
        if m.any():
            found.append((text, m))
    reason = np.full(len(index), None, dtype=object)
    for text, m in found:
        idx = np.flatnonzero(m)
        reason[idx] = [f"{r}; {text}" if r is not None else text for r in reason[idx]]
    return pd.Series(pd.array(reason, dtype=_STRING), index=index)
