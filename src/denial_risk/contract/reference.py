"""Reference code sets: HCPCS Level II, modifiers, CARC/RARC, ICD-10-CM, payer rules.

A code that is not in its code set is a reason for denial (CO-16, CO-181), so validity
is a *feature* of a claim line, never a reject; these lookups turn codes into those
features. The files ship inside the package, in `contract/reference_data/` (see its
PROVENANCE.md); ICD-10-CM comes from the `simple-icd-10-cm` package.

Code sets change with time. HCPCS Level II validity is checked on each line's date of
service: the CMS file carries every code's add and termination dates (`hcpcs_status`,
`hcpcs_validity`). ICD-10-CM is the one set the package ships, `ICD10_CM_RELEASE`
(April 2026), for every date: docs/codesets.md says what that means.

Files are read once (cached per reference directory, so the `DENIAL_RISK_REFERENCE_DIR`
override also works in tests). Every per-row function works on the *unique* values of
its input and maps the answers back, because a backlog holds millions of lines but only
thousands of distinct codes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

ENV_VAR = "DENIAL_RISK_REFERENCE_DIR"

# CPT Category I (5 digits), II (4 digits + F), III (4 digits + T), PLA (4 digits + U):
# not in the Level II file, so their validity cannot be checked here.
_CPT_RE = r"\d{5}|\d{4}[FTU]"

HCPCS_STATUSES = ("valid", "invalid", "cpt")


def reference_dir() -> Path:
    """The reference-data folder: the package's own copy, or `DENIAL_RISK_REFERENCE_DIR`."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return _package_reference_dir()


@lru_cache(maxsize=1)
def _package_reference_dir() -> Path:
    # importlib.resources costs about 0.5 ms a call, and a one-line request asks about 40 times
    return Path(str(resources.files("denial_risk.contract") / "reference_data"))


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 = missing) and the unique non-missing values, stripped and upper-cased."""
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype="string").str.strip().str.upper()
    return codes, cleaned


def _take_string(per_unique, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Broadcast per-unique answers back to rows; code -1 becomes <NA>.

    Python-backed strings, so 10M rows share a few distinct str objects.
    """
    arr = pd.array(list(per_unique), dtype=pd.StringDtype("python"))
    return pd.Series(arr.take(codes, allow_fill=True), index=index)


# --------------------------------------------------------------------------- HCPCS
#
# One CMS file, with dates: every Level II code (record id 3) and modifier (7) carries the
# day it was added (`ADD DT`) and, once deleted, its last valid day (`TERM DT`: "the last
# date for which a procedure or modifier code may be used by Medicare providers"). The file
# keeps deleted codes for years after their termination, so validity on a date of service
# comes from the dates, not from presence in the file.

HCPCS_FILE = "hcpcs_2025_oct.csv"
# The CMS quarterly update the file holds, and the last day it governs: the January 2026
# update may add codes this file cannot know, so a code absent from it is flagged invalid
# on later dates too (`after_file` says when).
HCPCS_RELEASE = pd.Timestamp("2025-10-01")
HCPCS_COVERS_THROUGH = pd.Timestamp("2025-12-31")
# The period the simulated sample covers (synth.simulate.SAMPLE: 30 months from 2024-01-01):
# by default `hcpcs_level2_codes` returns the codes in force throughout it.
SAMPLE_PERIOD = ("2024-01-01", "2026-06-30")
# Why a code is invalid on its date: never a Level II code, not added yet, or terminated.
INVALID_BECAUSE = ("not_in_hcpcs", "not_yet_added", "terminated")

_OPEN_END = np.datetime64("9999-12-31", "D")
_PY_STR = pd.StringDtype("python")


@lru_cache(maxsize=8)
def _hcpcs_table(ref_dir: str) -> pd.DataFrame:
    df = pd.read_csv(Path(ref_dir) / HCPCS_FILE, dtype=str, keep_default_na=False)
    df["code"] = df["code"].str.strip().str.upper()
    for col in ("add_date", "termination_date"):
        df[col] = pd.to_datetime(df[col].replace("", None), format="%Y-%m-%d")
    return df


@lru_cache(maxsize=16)
def _dated(ref_dir: str, recid: str) -> pd.DataFrame:
    """One record kind (3 = codes, 7 = modifiers) by code: descriptions, first and last valid day."""
    df = _hcpcs_table(ref_dir)
    df = df[df["recid"] == recid].drop_duplicates("code").set_index("code").sort_index()
    first = df["add_date"].to_numpy(dtype="datetime64[D]")
    last = df["termination_date"].to_numpy(dtype="datetime64[D]")
    return pd.DataFrame(
        {
            "short": df["short_description"],
            "long": df["long_description"],
            "first": first,
            "last": np.where(np.isnat(last), _OPEN_END, last),
        },
        index=df.index,
    )


def _days(dates, n: int) -> np.ndarray:
    """Dates of service as datetime64[D] (by position); missing or None -> the file's release day."""
    if dates is None:
        return np.full(n, HCPCS_RELEASE.to_datetime64().astype("datetime64[D]"))
    if len(dates) != n:
        raise ValueError(f"dates has {len(dates)} rows, codes {n}: they must be aligned")
    s = pd.Series(dates) if not isinstance(dates, pd.Series) else dates
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = pd.to_datetime(s, errors="coerce")
    elif getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    day = s.to_numpy(dtype="datetime64[D]")
    return np.where(np.isnat(day), HCPCS_RELEASE.to_datetime64().astype("datetime64[D]"), day)


def _validity(codes: pd.Series, dates, recid: str, undated: frozenset[str]) -> dict[str, np.ndarray]:
    """Per row: kind (0 valid, 1 invalid, 2 other, -1 missing), reason, first and last day, day.

    Looks codes up once per unique value, then compares each row's day with its code's
    first and last day in numpy. "Other" is a code absent from the file that is in the
    `undated` set (CPT modifiers) or, without one, has the CPT format.
    """
    fcodes, uniq = _factorize(codes)
    table = _dated(str(reference_dir()), recid)
    # A trailing sentinel per array: row code -1 (missing) picks it.
    pos = np.append(table.index.get_indexer(uniq), -1)[fcodes]
    other_u = uniq.isin(undated) if undated else uniq.str.fullmatch(_CPT_RE).fillna(False)
    other = np.append(other_u.to_numpy(dtype=bool), False)[fcodes]
    missing = np.append((uniq == "").to_numpy(dtype=bool), True)[fcodes]
    nat = np.datetime64("NaT", "D")
    first = np.append(table["first"].to_numpy(dtype="datetime64[D]"), nat)[pos]
    last = np.append(table["last"].to_numpy(dtype="datetime64[D]"), nat)[pos]
    day = _days(dates, len(codes))
    in_file = pos >= 0
    early = in_file & (day < first)
    late = in_file & (day > last)
    kind = np.where(in_file, (early | late).astype(np.int8), np.where(other, 2, 1)).astype(np.int8)
    kind[missing] = -1
    reason = np.full(len(kind), -1, dtype=np.int8)
    reason[kind == 1] = 0
    reason[early] = 1
    reason[late] = 2
    return {"kind": kind, "reason": reason, "first": first, "last": last, "day": day}


def _strings(values: tuple[str, ...], idx: np.ndarray, index: pd.Index) -> pd.Series:
    """Small-vocabulary strings by position (-1 -> <NA>), Python-backed so 10M rows share 3 objects."""
    return pd.Series(pd.array(list(values), dtype=_PY_STR).take(idx, allow_fill=True), index=index)


def hcpcs_status(codes: pd.Series, dates=None) -> pd.Series:
    """`valid` / `invalid` / `cpt` / <NA> (missing) per row, on each row's date of service.

    `dates` (datetime64, aligned with `codes` by position): a Level II code is valid from its
    add date through its termination date. None (or a missing date) means the code set in
    force on the file's release day (`HCPCS_RELEASE`). CPT-format codes are not in the Level
    II file and cannot be checked here: `cpt` on any date. `L1320` is invalid before its add
    date (2024-04-01) and valid from it.
    """
    v = _validity(codes, dates, "3", frozenset())
    idx = np.where(v["kind"] == 2, 2, v["kind"]).astype(np.int64)
    return _strings(HCPCS_STATUSES, idx, codes.index)


def hcpcs_validity(codes: pd.Series, dates=None) -> pd.DataFrame:
    """`hcpcs_status` with the why, so a finding can say "L0651 was not valid on 2019-05-01 (added ...)".

    Columns: `status`; `valid_from` / `valid_to` (the code's add and termination dates, NaT
    when it is not a Level II code or has no termination); `invalid_because` (one of
    `INVALID_BECAUSE`, <NA> unless invalid); `checked_on` (the date used); `after_file` (that
    date is after `HCPCS_COVERS_THROUGH`, so a code CMS added later would look invalid here).
    """
    v = _validity(codes, dates, "3", frozenset())
    idx = codes.index
    last = v["last"].copy()
    last[last == _OPEN_END] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "status": _strings(HCPCS_STATUSES, v["kind"].astype(np.int64), idx),
            "valid_from": pd.Series(v["first"].astype("datetime64[ns]"), index=idx),
            "valid_to": pd.Series(last.astype("datetime64[ns]"), index=idx),
            "invalid_because": _strings(INVALID_BECAUSE, v["reason"].astype(np.int64), idx),
            "checked_on": pd.Series(v["day"].astype("datetime64[ns]"), index=idx),
            "after_file": v["day"] > HCPCS_COVERS_THROUGH.to_datetime64().astype("datetime64[D]"),
        },
        index=idx,
    )


def hcpcs_level2_codes(
    start: str | None = SAMPLE_PERIOD[0], end: str | None = SAMPLE_PERIOD[1]
) -> frozenset[str]:
    """Level II codes in force on every day from `start` to `end` (the simulator's catalogue).

    The default is `SAMPLE_PERIOD`; `start=end=day` gives the codes valid on one day; None for
    both gives every code the file lists, whatever its dates.
    """
    return _hcpcs_level2_codes(str(reference_dir()), start, end)


@lru_cache(maxsize=32)
def _hcpcs_level2_codes(ref_dir: str, start: str | None, end: str | None) -> frozenset[str]:
    table = _dated(ref_dir, "3")
    keep = np.ones(len(table), dtype=bool)
    if start is not None:
        keep &= table["first"].to_numpy() <= np.datetime64(pd.Timestamp(start).date(), "D")
    if end is not None:
        keep &= table["last"].to_numpy() >= np.datetime64(pd.Timestamp(end).date(), "D")
    return frozenset(table.index[keep])


def hcpcs_descriptions() -> dict[str, str]:
    """Code -> CMS short description, every code in the file (for reasons a biller reads)."""
    return dict(_dated(str(reference_dir()), "3")["short"])


def hcpcs_long_descriptions() -> Mapping[str, str]:
    """Code -> CMS long description, every code in the file; says e.g. 'custom fabricated'. Read-only,
    built once per reference folder (every chunk's policy lookup asks: building it took ~1 s)."""
    return _long_descriptions(str(reference_dir()))


@lru_cache(maxsize=8)
def _long_descriptions(ref_dir: str) -> Mapping[str, str]:
    return MappingProxyType(dict(_dated(ref_dir, "3")["long"]))


def hcpcs_added_dates() -> dict[str, pd.Timestamp]:
    """Code -> the day CMS added it (`ADD DT`), every Level II code in the file."""
    return dict(_added_dates(str(reference_dir())))


@lru_cache(maxsize=8)
def _added_dates(ref_dir: str) -> dict[str, pd.Timestamp]:
    first = _dated(ref_dir, "3")["first"]
    return {c: pd.Timestamp(d) for c, d in first.items() if not pd.isna(d)}


# --------------------------------------------------------------------------- modifiers


@lru_cache(maxsize=8)
def _cpt_modifiers(ref_dir: str) -> pd.DataFrame:
    df = pd.read_csv(Path(ref_dir) / "cpt_modifiers.csv", dtype=str, keep_default_na=False)
    df["code"] = df["code"].str.strip().str.upper()
    return df.set_index("code")


def known_modifiers() -> frozenset[str]:
    """Every Level II modifier the file lists (whatever its dates) plus the CPT numeric modifiers."""
    ref = str(reference_dir())
    return frozenset(_dated(ref, "7").index) | frozenset(_cpt_modifiers(ref).index)


def modifier_validity(modifiers: pd.Series, dates=None) -> pd.DataFrame:
    """Single modifiers on a date: `valid` (a Level II modifier in force, or a CPT modifier) / `invalid`.

    Columns `status`, `valid_from`, `valid_to`, `invalid_because` as in `hcpcs_validity`. CPT
    modifiers (our own undated list) are valid on any date; e.g. `GD` is valid through
    2019-12-31 and `JZ` from 2023-01-01.
    """
    undated = frozenset(_cpt_modifiers(str(reference_dir())).index)
    v = _validity(modifiers, dates, "7", undated)
    idx = modifiers.index
    kind = np.where(v["kind"] == 2, 0, v["kind"]).astype(np.int64)
    last = v["last"].copy()
    last[last == _OPEN_END] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "status": _strings(("valid", "invalid"), kind, idx),
            "valid_from": pd.Series(v["first"].astype("datetime64[ns]"), index=idx),
            "valid_to": pd.Series(last.astype("datetime64[ns]"), index=idx),
            "invalid_because": _strings(INVALID_BECAUSE, v["reason"].astype(np.int64), idx),
        },
        index=idx,
    )


def modifier_descriptions() -> dict[str, str]:
    """Modifier -> short description (Level II short text, or our CPT modifier name)."""
    ref = str(reference_dir())
    out = dict(_cpt_modifiers(ref)["description"])
    out.update(_dated(ref, "7")["short"])
    return out


# --------------------------------------------------------------------------- ICD-10-CM
#
# One code set for every date: `simple-icd-10-cm` 1.5.0 ships only the CMS list of April
# 2026 (FY2026 with its April update), and neither it nor another package here ships the
# earlier fiscal years offline. A code added since is accepted on an earlier date, and a
# code deleted (or split) before it is flagged on a date when it was valid: between the
# April 2025 and April 2026 lists, 487 billable codes were added and 28 stopped being
# billable (docs/codesets.md).

ICD10_CM_RELEASE = pd.Timestamp("2026-04-01")


@lru_cache(maxsize=1 << 16)
def _icd10_one(code: str) -> tuple[bool, bool, object, object, object]:
    import simple_icd_10_cm as cm

    code = code.replace(".", "")
    try:
        # Chapters ('13') and blocks ('M50-M54') are valid *items* but not codes.
        if len(code) < 3 or not cm.is_valid_item(code) or cm.is_chapter_or_block(code):
            return False, False, pd.NA, pd.NA, pd.NA
        ancestors = cm.get_ancestors(code)  # nearest first, chapter last
        billable = bool(cm.is_leaf(code))
    except Exception:  # the package raises on odd input; such a code is not valid
        return False, False, pd.NA, pd.NA, pd.NA
    return True, billable, ancestors[-1], ancestors[-2], code[:3]


def icd10_info(codes: pd.Series) -> pd.DataFrame:
    """Validity, billability (a leaf code) and hierarchy of single ICD-10-CM codes.

    Input is one code per row, undotted upper case (`M5450`; a dot is tolerated). A code
    that is missing or not in the code set gets valid=False, billable=False and <NA>
    chapter/block/category: an invalid or non-billable diagnosis is a denial reason.
    """
    fcodes, uniq = _factorize(codes)
    info = [_icd10_one(c) for c in uniq.tolist()]
    valid = np.array([i[0] for i in info] + [False], dtype=bool)
    billable = np.array([i[1] for i in info] + [False], dtype=bool)
    return pd.DataFrame(
        {
            "valid": valid[fcodes],  # -1 picks the trailing False
            "billable": billable[fcodes],
            "chapter": _take_string([i[2] for i in info], fcodes, codes.index),
            "block": _take_string([i[3] for i in info], fcodes, codes.index),
            "category": _take_string([i[4] for i in info], fcodes, codes.index),
        },
        index=codes.index,
    )


# Fiscal years whose set the project holds (FY N runs from 1 October of N-1 to 30 September of N).
# FY2026 is the package's April 2026 list. Earlier years are stored as differences, year by year,
# in `icd10cm_earlier_years.csv`: the FY2025 rows are the codes whose status in the April 2025 list
# (simple-icd-10-cm 1.4.0) differs from FY2026 (scripts/make_icd10cm_earlier_years.py); the FY2024
# rows are the FY2025 annual changes (291 codes added, 33 turned into headers, 3 deleted), so FY2024
# is FY2025 with those undone. Outside these years no diagnosis is called invalid or not billable.
ICD10_FISCAL_YEARS = (2024, 2025, 2026)
ICD10_DEFAULT_FY = 2026  # a line without a date of service


def icd10_fiscal_years(dates, n: int) -> np.ndarray:
    """Per line, the ICD-10-CM fiscal year of its date of service (a missing date: `ICD10_DEFAULT_FY`)."""
    if dates is None:
        return np.full(n, ICD10_DEFAULT_FY, dtype=np.int64)
    d = pd.to_datetime(pd.Series(dates).reset_index(drop=True), errors="coerce")
    fy = (d.dt.year + (d.dt.month >= 10)).astype("Float64").fillna(ICD10_DEFAULT_FY)
    return fy.to_numpy(dtype=np.int64)


@lru_cache(maxsize=8)
def _earlier_years(ref_dir: str) -> dict[int, dict[str, tuple[bool, bool]]]:
    """Fiscal year -> {code: (valid, billable)} where that year differs from the year after it."""
    df = pd.read_csv(Path(ref_dir) / "icd10cm_earlier_years.csv", dtype=str, keep_default_na=False)
    out: dict[int, dict[str, tuple[bool, bool]]] = {}
    for y, c, v, b in zip(df["fiscal_year"], df["code"], df["valid"], df["billable"], strict=True):
        out.setdefault(int(y), {})[c] = (v == "true", b == "true")
    return out


def icd10_status_in(codes: list[str], fiscal_year: int) -> tuple[dict[str, bool], dict[str, bool]] | None:
    """({code: valid}, {code: billable}) in the set of `fiscal_year`, or None when the project holds no set
    for that year (then nothing may be called invalid or not billable)."""
    if fiscal_year not in ICD10_FISCAL_YEARS:
        return None
    info = icd10_info(pd.Series(codes, dtype="string"))
    valid = dict(zip(codes, info["valid"].astype(bool)))
    billable = dict(zip(codes, info["billable"].astype(bool)))
    earlier = _earlier_years(str(reference_dir()))
    for year in range(max(ICD10_FISCAL_YEARS) - 1, fiscal_year - 1, -1):  # undo each year's changes
        changes = earlier.get(year, {})
        for c in codes:
            key = c.replace(".", "").upper()
            if key in changes:
                valid[c], billable[c] = changes[key]
    return valid, billable


@lru_cache(maxsize=1)
def icd10_billable_codes() -> tuple[str, ...]:
    """Every billable (leaf) ICD-10-CM code, undotted, in code-set order (for the simulator)."""
    import simple_icd_10_cm as cm

    # The package lists a few blocks without children ('M40-M54') as leaves: skip them.
    return tuple(c for c in cm.get_all_codes(False) if cm.is_leaf(c) and not cm.is_chapter_or_block(c))


# --------------------------------------------------------------------------- CARC / RARC


@lru_cache(maxsize=8)
def _remark_table(ref_dir: str, name: str) -> pd.DataFrame:
    df = pd.read_csv(Path(ref_dir) / name, dtype=str, keep_default_na=False)
    df["code"] = df["code"].str.strip().str.upper()
    return df


def carc_descriptions() -> dict[str, str]:
    """Claim Adjustment Reason Code (`16`, no group prefix) -> description, current and retired."""
    df = _remark_table(str(reference_dir()), "carc.csv")
    return dict(zip(df["code"], df["description"], strict=True))


def rarc_descriptions() -> dict[str, str]:
    """Remittance Advice Remark Code (`M124`, `N102`, ...) -> description."""
    df = _remark_table(str(reference_dir()), "rarc.csv")
    return dict(zip(df["code"], df["description"], strict=True))


# --------------------------------------------------------------------------- payer rules


@lru_cache(maxsize=8)
def _payer_rules(ref_dir: str) -> pd.DataFrame:
    df = pd.read_csv(Path(ref_dir) / "payer_rules.csv", dtype=str, keep_default_na=False)
    return pd.DataFrame(
        {
            "payer_type": df["payer_type"].str.strip().str.lower().astype("string"),
            "filing_limit_days": pd.to_numeric(df["filing_limit_days"].replace("", None)).astype("Int64"),
            "source": df["source"].astype("string"),
        }
    )


def payer_rules() -> pd.DataFrame:
    """One row per payer type: the timely-filing limit in days (CO-29) and its source. Which items a
    payer wants authorised is not here: Medicare's list is dated (`contract.rules`), the others'
    is learned from their remits."""
    return _payer_rules(str(reference_dir())).copy()
