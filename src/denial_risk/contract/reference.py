"""Reference code sets: HCPCS Level II, modifiers, CARC/RARC, ICD-10-CM, payer rules.

A code that is not in its code set is a reason for denial (CO-16, CO-181), so validity
is a *feature* of a claim line, never a reject; these lookups turn codes into those
features. The files ship inside the package, in `contract/reference_data/` (see its
PROVENANCE.md); ICD-10-CM comes from the `simple-icd-10-cm` package.

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


@lru_cache(maxsize=8)
def _hcpcs_table(ref_dir: str) -> pd.DataFrame:
    # The CMS file begins with a UTF-8 BOM; recid 3 = code, 4 = its continuation line,
    # 7 = modifier, 8 = modifier continuation.
    df = pd.read_csv(
        Path(ref_dir) / "hcpcs_level_2.csv",
        dtype=str,
        encoding="utf-8-sig",
        keep_default_na=False,
    )
    df["code"] = df["code"].str.strip().str.upper()
    return df


def _level2_rows(ref_dir: str, first: str, cont: str) -> pd.DataFrame:
    df = _hcpcs_table(ref_dir)
    df = df[df["recid"].isin([first, cont])].sort_values(["code", "seqnum"], kind="stable")
    long = df.groupby("code", sort=True)["long_description"].agg(
        lambda s: " ".join(x.strip() for x in s if x.strip())
    )
    short = df[df["recid"] == first].drop_duplicates("code").set_index("code")["short_description"]
    return pd.DataFrame({"short": short, "long": long.reindex(short.index)})


@lru_cache(maxsize=8)
def _hcpcs_codes(ref_dir: str) -> pd.DataFrame:
    return _level2_rows(ref_dir, "3", "4")


@lru_cache(maxsize=8)
def _level2_modifiers(ref_dir: str) -> pd.DataFrame:
    return _level2_rows(ref_dir, "7", "8")


def hcpcs_level2_codes() -> frozenset[str]:
    """Every HCPCS Level II code in the CMS file (record id 3)."""
    return _hcpcs_level2_codes(str(reference_dir()))


@lru_cache(maxsize=8)
def _hcpcs_level2_codes(ref_dir: str) -> frozenset[str]:
    return frozenset(_hcpcs_codes(ref_dir).index)


def hcpcs_descriptions() -> Mapping[str, str]:
    """Code -> CMS short description (for reasons a biller reads); read-only, built once."""
    return _descriptions(str(reference_dir()), "short")


def hcpcs_long_descriptions() -> Mapping[str, str]:
    """Code -> CMS long description (continuation lines joined); says e.g. 'custom fabricated'.
    Read-only, built once (a dict of ~8,000 codes cost more than scoring a line)."""
    return _descriptions(str(reference_dir()), "long")


@lru_cache(maxsize=16)
def _descriptions(ref_dir: str, which: str) -> Mapping[str, str]:
    return MappingProxyType(dict(_hcpcs_codes(ref_dir)[which]))


def hcpcs_status(codes: pd.Series) -> pd.Series:
    """`valid` (in Level II), `cpt` (CPT format, not checkable here) or `invalid`; <NA> if missing.

    `L1320` is `invalid`: it is not in the CMS file, and a line billed with it is denied
    as an invalid code, whatever the billing guides say.
    """
    fcodes, uniq = _factorize(codes)
    level2 = hcpcs_level2_codes()
    # set lookups of the few distinct codes: Series.isin would convert the whole code set each call
    in_level2 = np.fromiter((u in level2 for u in uniq.tolist()), dtype=bool, count=len(uniq))
    is_cpt = uniq.str.fullmatch(_CPT_RE).fillna(False).to_numpy(dtype=bool)
    status = np.where(in_level2, "valid", np.where(is_cpt, "cpt", "invalid")).astype(object)
    status[(uniq == "").to_numpy(dtype=bool)] = pd.NA  # empty after stripping = missing
    return _take_string(status, fcodes, codes.index)


# --------------------------------------------------------------------------- modifiers


@lru_cache(maxsize=8)
def _cpt_modifiers(ref_dir: str) -> pd.DataFrame:
    df = pd.read_csv(Path(ref_dir) / "cpt_modifiers.csv", dtype=str, keep_default_na=False)
    df["code"] = df["code"].str.strip().str.upper()
    return df.set_index("code")


def known_modifiers() -> frozenset[str]:
    """Level II modifiers (record id 7) plus the CPT numeric modifiers (our own list)."""
    ref = str(reference_dir())
    return frozenset(_level2_modifiers(ref).index) | frozenset(_cpt_modifiers(ref).index)


def modifier_descriptions() -> dict[str, str]:
    """Modifier -> short description (Level II short text, or our CPT modifier name)."""
    ref = str(reference_dir())
    out = dict(_cpt_modifiers(ref)["description"])
    out.update(_level2_modifiers(ref)["short"])
    return out


# --------------------------------------------------------------------------- ICD-10-CM


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
            "prior_auth_policy": df["prior_auth_policy"].astype("string"),
            "source": df["source"].astype("string"),
        }
    )


def payer_rules() -> pd.DataFrame:
    """One row per payer type: timely-filing limit in days (CO-29) and prior-auth policy."""
    return _payer_rules(str(reference_dir())).copy()
