"""Accepted forms → canonical values, and rows that cannot be scored → rejects.

The contract accepts several spellings of the same thing (modifier separators,
dotted or undotted ICD-10, any case, six boolean spellings, ISO or YYYYMMDD
dates). This module turns a raw chunk into the normalised frame described in
docs/architecture.md. Unknown stays missing, never 0 or false.

A row is rejected only when it cannot be scored (missing or unparseable
claim_id, service_date, hcpcs_code, billed_amount, a negative amount, an
unparseable date, a bad line_number, a duplicate (claim_id, line_number)).
Everything else that is wrong with a claim is a *finding* for the model.
All work is vectorised; per-value parsing runs over unique values only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from denial_risk import schema
from denial_risk.errors import UserError

REJECT_REASON = "reject_reason"

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}
_SEPARATORS = re.compile(r"[|,;\s]+")
_AMOUNT = re.compile(r"^\(?\$?\s*(-?)\$?\s*(\d{1,3}(?:,\d{3})+|\d*)(\.\d*)?\)?$")
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
        raise UserError(f"{option} {path}: missing required column '{missing[0]}'"
                        + (f" (and {len(missing) - 1} more: {', '.join(missing[1:])})" if len(missing) > 1 else ""))


# --- value parsers (each returns canonical values and a per-row problem or None) ---


def _as_text(s: pd.Series) -> pd.Series:
    """Raw values as stripped strings, missing as ''."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime("%Y-%m-%d").fillna("").astype("string")
    out = s.astype("string").fillna("").str.strip()
    return out


def _by_unique(text: pd.Series, fn) -> pd.Series:
    """Apply a scalar parser once per distinct value (claim columns repeat a lot)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=False)
    mapped = [fn(u) for u in uniques]
    return pd.Series(np.asarray(mapped, dtype=object)[codes] if len(uniques) else np.array([], dtype=object),
                     index=text.index)


def parse_dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO `YYYY-MM-DD` (a time part is ignored) or `YYYYMMDD`. Returns (dates, unparseable mask)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        d = pd.to_datetime(s).dt.tz_localize(None) if getattr(s.dt, "tz", None) else s
        return d.astype("datetime64[ns]").dt.normalize(), pd.Series(False, index=s.index)
    text = _as_text(s)
    head = text.str.slice(0, 10)
    iso = pd.to_datetime(head, format="%Y-%m-%d", errors="coerce")
    compact = text.str.fullmatch(r"\d{8}").fillna(False)
    if compact.any():
        iso = iso.where(~compact, pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
    # anything after the date part must look like a time, or the value is not a date
    tail_ok = (text.str.len() <= 10) | text.str.match(r"^\d{4}-\d{2}-\d{2}[T ][0-9:.+\-Z]*$").fillna(False) | compact
    dates = iso.where(tail_ok).astype("datetime64[ns]")
    bad = (text != "") & dates.isna()
    return dates, bad


def parse_amounts(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dollars: `12.5`, `$1,234.00`. Returns (float values, unparseable mask)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = pd.to_numeric(s, errors="coerce").astype("float64")
        bad = s.notna() & ~np.isfinite(v.fillna(0.0))
        return v.where(~bad), bad
    text = _as_text(s)
    v = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    need = (text != "") & v.isna()
    if need.any():
        v = v.where(~need, _by_unique(text.where(need, ""), _parse_amount_text).astype("float64"))
    v = v.where(np.isfinite(v.fillna(0.0)))
    bad = (text != "") & v.isna()
    return v, bad


def _parse_amount_text(t: str) -> float:
    m = _AMOUNT.match(t)
    if not t or not m or (m.group(2) == "" and not m.group(3)):
        return np.nan
    try:
        value = float((m.group(1) or "") + m.group(2).replace(",", "") + (m.group(3) or ""))
    except ValueError:
        return np.nan
    return -value if t.startswith("(") and t.endswith(")") else value


def parse_integers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (`2`, `2.0`). Returns (Int64 values, unparseable mask)."""
    v, bad = parse_amounts(s) if not pd.api.types.is_bool_dtype(s) else (s.astype("float64"), s.isna() & False)
    whole = v.notna() & (np.floor(v.fillna(0)) == v.fillna(0)) & (v.abs() < 2**53)
    bad = bad | (v.notna() & ~whole)
    return v.where(whole).astype("Int64"), bad


def parse_booleans(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """true/false, 1/0, yes/no, y/n, t/f in any case; empty → unknown. Returns (boolean, unrecognised mask)."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), pd.Series(False, index=s.index)
    text = _as_text(s).str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[text.isin(_TRUE)] = True
    out[text.isin(_FALSE)] = False
    bad = (text != "") & out.isna()
    return out, bad


def _normalise_list(value: str, *, undot: bool) -> str:
    parts = [p for p in _SEPARATORS.split(value.upper()) if p]
    if undot:
        parts = [p.replace(".", "") for p in parts]
        parts = [p for p in parts if p]
    seen: dict[str, None] = {}
    for p in parts:
        seen.setdefault(p, None)
    return schema.LIST_SEP.join(seen)


def normalise_modifiers(s: pd.Series) -> pd.Series:
    """`kx, rt` / `KX|RT` / `KX RT` → `KX|RT` (input order, duplicates dropped)."""
    return _by_unique(_as_text(s), lambda v: _normalise_list(v, undot=False)).astype("string")


def normalise_diagnoses(s: pd.Series) -> pd.Series:
    """`M54.50, m48.06` → `M5450|M4806` (primary first)."""
    return _by_unique(_as_text(s), lambda v: _normalise_list(v, undot=True)).astype("string")


def normalise_payer_type(s: pd.Series) -> pd.Series:
    """Case-insensitive enum; empty → unknown; anything unrecognised → `other`."""
    def one(v: str):
        if not v:
            return pd.NA
        key = re.sub(r"[\s\-]+", "_", v.strip().lower())
        return _PAYER_ALIASES.get(key, "other")

    return _by_unique(_as_text(s), one).astype("string")


def _text_or_na(s: pd.Series, *, upper: bool = False) -> pd.Series:
    t = _as_text(s)
    if upper:
        t = t.str.upper()
    return t.where(t != "").astype("string")


def _identifier(s: pd.Series) -> pd.Series:
    """IDs read from spreadsheets sometimes gain a `.0`; numbers stay digits."""
    t = _text_or_na(s)
    return t.str.replace(r"^(\d+)\.0$", r"\1", regex=True)


# --- the chunk normaliser ---


@dataclass
class DuplicateTracker:
    """Remembers (claim_id, line_number) keys across chunks in a sorted uint64 array.

    8 bytes a row instead of a Python set's ~70, so memory stays near flat
    on 10M-line files; keys are 64-bit hashes (collisions are negligible).
    """

    seen: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    def mark(self, claim_id: pd.Series, line_number: pd.Series) -> np.ndarray:
        """Return a mask of rows whose key was already seen (earlier chunk or earlier in this one)."""
        keys = pd.util.hash_pandas_object(
            pd.DataFrame({"c": claim_id.astype("string"), "l": line_number.astype("Int64")}), index=False
        ).to_numpy(dtype=np.uint64)
        dup = pd.Series(keys).duplicated().to_numpy()
        if len(self.seen):
            pos = np.searchsorted(self.seen, keys)
            pos_c = np.minimum(pos, len(self.seen) - 1)
            dup |= self.seen[pos_c] == keys
        new = np.unique(keys[~dup])
        if len(new):
            self.seen = np.insert(self.seen, np.searchsorted(self.seen, new), new)
        return dup


def normalize_chunk(raw: pd.DataFrame, *, duplicates: DuplicateTracker | None = None,
                    start: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a raw chunk into (normalised scorable rows, rejects with `reject_reason`).

    The index of both is the row's position in the input (from `start`), so the
    two can be put back in input order. Extra columns pass through unchanged.
    """
    raw = raw.reset_index(drop=True)
    raw.index = pd.RangeIndex(start, start + len(raw))
    n = len(raw)
    out: dict[str, pd.Series] = {}
    problems: list[tuple[str, pd.Series]] = []

    def col(name: str) -> pd.Series:
        if name in raw.columns:
            return raw[name]
        return pd.Series([""] * n, index=raw.index, dtype="string")

    def require(name: str, values: pd.Series) -> None:
        problems.append((f"{name}: missing", values.isna()))

    # identifiers and codes
    out["claim_id"] = _identifier(col("claim_id"))
    require("claim_id", out["claim_id"])
    ln, ln_bad = parse_integers(col("line_number"))
    ln_bad = ln_bad | (ln.notna() & (ln < 1)).fillna(False)
    out["line_number"] = ln.fillna(1).where(~ln_bad)
    problems.append(("line_number: not a whole number >= 1", ln_bad))
    for name in ("patient_id", "provider_id", "payer_id"):
        out[name] = _identifier(col(name))
    pos = _text_or_na(col("place_of_service"))
    out["place_of_service"] = pos.where(~pos.str.fullmatch(r"\d").fillna(False), "0" + pos)
    out["payer_type"] = normalise_payer_type(col("payer_type"))
    out["hcpcs_code"] = _text_or_na(col("hcpcs_code"), upper=True)
    require("hcpcs_code", out["hcpcs_code"])
    out["modifiers"] = normalise_modifiers(col("modifiers"))
    out["diagnosis_codes"] = normalise_diagnoses(col("diagnosis_codes"))

    # dates
    for name in schema.DATE_COLUMNS:
        d, bad = parse_dates(col(name))
        out[name] = d
        problems.append((f"{name}: unparseable date (use YYYY-MM-DD or YYYYMMDD)", bad))
        if name == "service_date":
            problems.append(("service_date: missing", d.isna() & ~bad))

    # amounts
    amt, bad = parse_amounts(col("billed_amount"))
    out["billed_amount"] = amt
    problems.append(("billed_amount: unparseable amount", bad))
    problems.append(("billed_amount: missing", amt.isna() & ~bad))
    problems.append(("billed_amount: negative amount", (amt < 0).fillna(False)))
    paid, _ = parse_amounts(col("paid_amount"))
    out["paid_amount"] = paid.where(paid >= 0)

    # counts: unknown stays unknown (units defaults to 1 only when absent)
    units, _ = parse_integers(col("units"))
    absent = _as_text(col("units")) == ""
    out["units"] = units.where((units >= 0).fillna(True)).mask(absent, 1).astype("Int64")
    prior, _ = parse_integers(col("prior_same_code_12m"))
    out["prior_same_code_12m"] = prior.where((prior >= 0).fillna(True))

    for name in schema.BOOLEAN_COLUMNS:
        out[name], _ = parse_booleans(col(name))
    out["denial_reason"] = _text_or_na(col("denial_reason"), upper=True)
    if "true_denial_probability" in raw.columns:
        out["true_denial_probability"], _ = parse_amounts(col("true_denial_probability"))

    # duplicates (only among otherwise-valid keys)
    key_ok = out["claim_id"].notna() & out["line_number"].notna()
    dup = pd.Series(False, index=raw.index)
    if duplicates is not None and key_ok.any():
        dup[key_ok] = duplicates.mark(out["claim_id"][key_ok], out["line_number"][key_ok])
    elif key_ok.any():
        dup[key_ok] = DuplicateTracker().mark(out["claim_id"][key_ok], out["line_number"][key_ok])
    problems.append(("claim_id+line_number: duplicate of an earlier row", dup))

    reason = _join_reasons(problems, raw.index)
    rejected = reason.notna()

    frame = pd.DataFrame(out, index=raw.index)
    frame = frame.astype({c: t for c, t in schema.NORMALISED_DTYPES.items() if c in frame.columns})
    extras = [c for c in raw.columns if c not in frame.columns]
    if extras:
        frame = pd.concat([frame, raw[extras]], axis=1)
    rejects = raw.loc[rejected].copy()
    rejects[REJECT_REASON] = reason[rejected].astype("string")
    return frame.loc[~rejected], rejects


def _join_reasons(problems: list[tuple[str, pd.Series]], index: pd.Index) -> pd.Series:
    """One `reject_reason` per row: every problem found, `; `-separated."""
    reason = pd.Series(pd.NA, index=index, dtype="string")
    for text, mask in problems:
        mask = mask.fillna(False).astype(bool) if hasattr(mask, "fillna") else mask
        if not mask.any():
            continue
        reason = reason.where(~mask | reason.isna(), reason + "; " + text)
        reason = reason.where(~mask | reason.notna(), text)
    return reason
