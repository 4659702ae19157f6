"""What the code sets and the policy table say about each claim line: one module for per-line facts.

Features (`policy_for_rows`, `diagnosis_table`, `hcpcs_status`, ...) and reasons and fixes
(`LineFacts`, `diagnosis_problems`) read the same facts from here. A 500k-line chunk holds
a few hundred distinct HCPCS codes and a few thousand distinct diagnosis lists; every
lookup runs on the unique values and is broadcast back to rows with `take`. The reference
and policy modules are imported lazily so a fitted pipeline unpickles without loading them
until it scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.contract import memo, schema

POLICY_BOOL_FLAGS = ("sided", "custom_fabricated")
CONFLICTS_WITH_KX = ("GA", "GY", "GZ")  # expected-denial modifiers that must not stand with KX
# Modifiers whose presence a rule, a finding or a fix reads (`modifier_flags`).
MODIFIER_NAMES = ("KX", "RT", "LT", "50", "GA", "GY", "GZ", "CG", "RA", "NU", "RR", "UE", "KH", "KI", "KJ")
NO_POLICY = "(no policy)"


def _unique_frame(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    codes, uniques = pd.factorize(s.astype("string"), use_na_sentinel=True)
    return codes.astype(np.int64), pd.Series(pd.array(np.asarray(uniques, dtype=object), dtype="string"))


def _take(frame: pd.DataFrame, codes: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Rows of a per-unique frame broadcast to rows by codes; code -1 → all missing."""
    out = {}
    for c in frame.columns:
        col = frame[c]
        arr = (
            col.array.take(codes, allow_fill=True)
            if len(col)
            else pd.array([pd.NA] * len(codes), dtype=col.dtype if col.dtype != object else "object")
        )
        out[c] = pd.Series(arr, index=index)
    return pd.DataFrame(out, index=index)


# (reference dir, code) -> the code's policy values. Bounded: the codes come from requests, and a
# server fed ever-new codes must not grow without limit; the oldest entries go first (`contract.memo`).
POLICY_CACHE_MAX = 20_000
_POLICY_CACHE: dict[tuple[str, str], tuple] = {}


def _cache_policy(ref: str, names: list[str], cols: list[str]) -> list[tuple]:
    """Each code's policy values, from `_POLICY_CACHE` or computed (and cached) together."""
    from denial_risk.contract import policy

    def compute(keys: list[tuple[str, str]]) -> list[tuple]:
        fresh = policy.policy_for_codes(pd.Series([c for _, c in keys], dtype="string")).reset_index(
            drop=True
        )
        return list(zip(*(fresh[col].tolist() for col in cols)))

    return memo.remember(_POLICY_CACHE, [(ref, c) for c in names], compute, POLICY_CACHE_MAX)


def policy_for_rows(hcpcs: pd.Series) -> pd.DataFrame:
    """`policy.policy_for_codes` for each row (computed once per distinct code, cached).

    Columns used here: policy_group, sided, kx_required_medicare, custom_fabricated,
    prior_auth_prone, unit_limit, useful_lifetime_years, expected_documents. The cache is
    keyed by the reference directory, so `DENIAL_RISK_REFERENCE_DIR` overrides still work, and
    holds at most `POLICY_CACHE_MAX` codes.
    """
    from denial_risk.contract import policy, reference

    ref = str(reference.reference_dir())
    cols = list(policy.LOOKUP_COLUMNS)
    codes, uniq = _unique_frame(hcpcs)
    rows = _cache_policy(ref, [str(u) for u in uniq], cols)
    out = {}  # each column taken straight from its per-code values (`_take` without a per-code frame)
    for j, col in enumerate(cols):
        per = pd.array([r[j] for r in rows], dtype=policy.LOOKUP_DTYPES[col])
        out[col] = (
            per.take(codes, allow_fill=True) if len(per) else pd.array([pd.NA] * len(codes), dtype=per.dtype)
        )
    return pd.DataFrame(out, index=hcpcs.index)


def policy_flags(policy_rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The policy booleans as 1.0 / 0.0 / NaN (unknown: code not in the policy table)."""
    out = {}
    for c in POLICY_BOOL_FLAGS:
        if c in policy_rows.columns:
            out[c] = policy_rows[c].astype("boolean").to_numpy(dtype="float64", na_value=np.nan)
        else:
            out[c] = np.full(len(policy_rows), np.nan)
    return out


def hcpcs_status(hcpcs: pd.Series, service_dates: pd.Series | None = None) -> np.ndarray:
    """'valid' / 'invalid' / 'cpt' / None per row, on each line's date of service.

    A code is valid only between its CMS add and termination dates; without dates (or for
    a line without one) the code set of the HCPCS file's release is used.
    """
    from denial_risk.contract import reference

    s = reference.hcpcs_status(hcpcs, service_dates)
    return s.to_numpy(dtype=object, na_value=None)


def known_modifiers() -> frozenset[str]:
    from denial_risk.contract import reference

    return reference.known_modifiers()


def split_list(values: np.ndarray) -> list[list[str]]:
    """'A|B' strings (per unique) → lists; '' or missing → []."""
    sep = schema.LIST_SEP
    return [[p for p in str(v).split(sep) if p] if isinstance(v, str) and v else [] for v in values]


def diagnosis_table(diagnoses: pd.Series) -> tuple[np.ndarray, pd.DataFrame]:
    """Per distinct diagnosis list: count, any_invalid, and the primary's ICD-10 facts.

    Returns (row codes, per-unique frame). Row code -1 = missing diagnosis list.
    """
    from denial_risk.contract import reference

    codes, uniq = _unique_frame(diagnoses)
    lists = split_list(uniq.to_numpy(dtype=object, na_value=None))
    singles = sorted({c for lst in lists for c in lst})
    if singles:
        info = reference.icd10_info(pd.Series(singles, dtype="string"))
        info.index = singles
        valid = info["valid"].astype(bool).to_dict()
        billable = info["billable"].astype(bool).to_dict()
        chapter = info["chapter"].astype("string").to_dict()
        block = info["block"].astype("string").to_dict()
        category = info["category"].astype("string").to_dict()
    else:
        valid = billable = chapter = block = category = {}
    prim = [lst[0] if lst else None for lst in lists]
    na = pd.NA
    n_invalid = np.asarray([sum(not valid.get(c, False) for c in lst) for lst in lists], dtype=np.float64)
    frame = pd.DataFrame(
        {
            "count": np.asarray([len(lst) for lst in lists], dtype=np.float64),
            "any_invalid": (n_invalid > 0).astype(np.float64),
            "n_invalid": n_invalid,
            "any_not_billable": np.asarray(
                [any(not billable.get(c, False) for c in lst) for lst in lists], dtype=np.float64
            ),
            "primary_valid": np.asarray([np.nan if p is None else float(valid.get(p, False)) for p in prim]),
            "primary_billable": np.asarray(
                [np.nan if p is None else float(billable.get(p, False)) for p in prim]
            ),
            "primary": pd.array(prim, dtype="string"),
            "chapter": pd.array([na if p is None else chapter.get(p, na) for p in prim], dtype="string"),
            "block": pd.array([na if p is None else block.get(p, na) for p in prim], dtype="string"),
            "category": pd.array([na if p is None else category.get(p, na) for p in prim], dtype="string"),
        }
    )
    return codes, frame


def _pair_codes(a: pd.Series, b: pd.Series) -> np.ndarray:
    """One code per distinct (a, b) pair; a missing value is a value of its own."""
    ac, _ = pd.factorize(a, use_na_sentinel=False)
    bc, _ = pd.factorize(b, use_na_sentinel=False)
    codes, _ = pd.factorize(ac.astype(np.int64) * (int(bc.max(initial=0)) + 1) + bc)
    return codes.astype(np.int64)


def diagnosis_support_rows(policy_groups: pd.Series, diagnoses: pd.Series) -> pd.DataFrame:
    """`policy.diagnosis_support` per row, computed once per distinct (group, diagnoses) pair."""
    from denial_risk.contract import policy

    g = policy_groups.astype("string")
    d = diagnoses.astype("string")
    codes = _pair_codes(g, d)
    n = len(codes)
    if n == 0:
        return pd.DataFrame(
            {
                "primary_supports": pd.array([], dtype="boolean"),
                "any_supports": pd.array([], dtype="boolean"),
            },
            index=diagnoses.index,
        )
    first = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(n)[::-1]  # first row of each combination
    ug = g.iloc[first].reset_index(drop=True)
    ud = d.iloc[first].reset_index(drop=True)
    sup = policy.diagnosis_support(ug, ud).reset_index(drop=True)
    return _take(sup[["primary_supports", "any_supports"]], codes, diagnoses.index)


def policy_group_label(codes: pd.Series) -> pd.Series:
    """Each code's policy group, or `(no policy)` for a code outside the policy table (slices, reports)."""
    from denial_risk.contract import policy

    return policy.policy_for_codes(codes)["policy_group"].fillna(NO_POLICY)


# --------------------------------------------------------------------------- line facts for reasons and fixes


def split_list_value(value) -> list[str]:
    return [p for p in str(value).split(schema.LIST_SEP) if p] if isinstance(value, str) else []


@dataclass
class LineFacts:
    """What the policy table and the code sets say about each normalised line (aligned on its index)."""

    policy: pd.DataFrame  # policy.policy_for_codes columns
    hcpcs_status: pd.Series  # valid / invalid / cpt / <NA>, on the line's date of service
    hcpcs_validity: pd.DataFrame  # reference.hcpcs_validity: valid_from, valid_to, invalid_because, ...
    support: pd.DataFrame  # primary_supports, any_supports, first_supporting_code
    mods: dict[str, np.ndarray]  # MODIFIER_NAMES and "conflict" (GA/GY/GZ) as bool arrays
    invalid_dx: pd.Series  # `|`-joined invalid / non-billable diagnosis codes ("" = none)
    invalid_dx_kind: pd.Series  # per row: "invalid" / "not billable" of the first bad code
    valid_dx_left: pd.Series  # the diagnosis list with the bad codes removed
    rules: dict[str, np.ndarray]  # contract.rules.RULES in force on the line (Medicare lines only)
    medicare_list: dict[str, np.ndarray]  # the same rules as if the payer were Medicare (MA plans may follow)

    @classmethod
    def of(cls, clean: pd.DataFrame) -> LineFacts:
        from denial_risk.contract import policy, reference

        idx = clean.index
        codes = clean["hcpcs_code"].astype("string")
        pol = policy_for_rows(codes)  # `policy.policy_for_codes`, per code once per process
        dates = clean["service_date"] if "service_date" in clean.columns else None
        validity = reference.hcpcs_validity(codes, dates).set_axis(idx)
        dx = clean["diagnosis_codes"].astype("string")
        support = policy.diagnosis_support(
            pol["policy_group"].astype("string").set_axis(idx), dx.set_axis(idx)
        )

        bad, kind, left = diagnosis_problems(dx, dates)
        ptype = clean["payer_type"] if "payer_type" in clean else pd.Series(pd.NA, index=idx, dtype="string")
        for_payer, as_if_medicare = dated_rules_both(codes, dates, ptype)
        return cls(
            policy=pol.set_axis(idx),
            hcpcs_status=validity["status"],
            hcpcs_validity=validity,
            support=support,
            mods=modifier_flags(clean["modifiers"]),
            invalid_dx=bad,
            invalid_dx_kind=kind,
            valid_dx_left=left,
            rules=for_payer,
            medicare_list=as_if_medicare,
        )

    def subset(self, pos: np.ndarray) -> LineFacts:
        return LineFacts(
            policy=self.policy.iloc[pos],
            hcpcs_status=self.hcpcs_status.iloc[pos],
            hcpcs_validity=self.hcpcs_validity.iloc[pos],
            support=self.support.iloc[pos],
            mods={k: v[pos] for k, v in self.mods.items()},
            invalid_dx=self.invalid_dx.iloc[pos],
            invalid_dx_kind=self.invalid_dx_kind.iloc[pos],
            valid_dx_left=self.valid_dx_left.iloc[pos],
            rules={k: v[pos] for k, v in self.rules.items()},
            medicare_list={k: v[pos] for k, v in self.medicare_list.items()},
        )

    def flag(self, name: str) -> np.ndarray:
        """Policy boolean as a numpy bool array (unknown = False)."""
        return self.policy[name].fillna(False).to_numpy(dtype=bool)


def modifier_flags(modifiers: pd.Series) -> dict[str, np.ndarray]:
    """Per line: is each of `MODIFIER_NAMES` on it, and `conflict` (GA, GY or GZ); per distinct string."""
    m_codes, m_uni = pd.factorize(modifiers.astype("string").fillna(""), use_na_sentinel=False)
    names = (*MODIFIER_NAMES, "conflict")
    per = np.zeros((max(len(m_uni), 1), len(names)), dtype=bool)
    for i, v in enumerate(m_uni):
        s = set(split_list_value(v))
        per[i] = (*(m in s for m in MODIFIER_NAMES), bool(s & set(CONFLICTS_WITH_KX)))
    rows = per[m_codes] if len(m_codes) else np.zeros((0, len(names)), dtype=bool)
    return {k: rows[:, j] for j, k in enumerate(names)}


def dated_rules(
    codes: pd.Series, dates: pd.Series | None, payer_types: pd.Series | None
) -> dict[str, np.ndarray]:
    """Each dated rule (`contract.rules`) in force per line (`payer_types` None: as if Medicare's)."""
    from denial_risk.contract import rules

    return rules.in_force_all(codes, dates, payer_types)


def dated_rules_both(
    codes: pd.Series, dates: pd.Series | None, payer_types: pd.Series
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(`dated_rules` for the lines' payer types, `dated_rules` as if Medicare's), matched once."""
    from denial_risk.contract import rules

    return rules.in_force_both(codes, dates, payer_types)


def npi_valid(values: pd.Series) -> np.ndarray:
    """1.0 for a 10-digit NPI whose check digit holds (Luhn over 80840 + the first 9 digits), 0.0 for any
    other value, NaN when unknown. CMS, NPI check digit (Luhn formula with the 80840 prefix)."""
    codes, uniq = pd.factorize(values.astype("string"), use_na_sentinel=True)
    per = np.array([_npi_ok(str(u)) for u in uniq] + [np.nan], dtype=np.float64)
    return per[codes] if len(codes) else np.zeros(0)


def _npi_ok(text: str) -> float:
    t = text.strip()
    if len(t) != 10 or not t.isascii() or not t.isdigit():
        return 0.0
    digits = [8, 0, 8, 4, 0, *map(int, t[:9])]
    total = 0
    for k, d in enumerate(reversed(digits)):  # double every second digit from the right of the payload
        d = d * 2 if k % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return float((10 - total % 10) % 10 == int(t[9]))


def diagnosis_problems(dx: pd.Series, dates=None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per line: the `|`-joined codes that are not valid billable ICD-10-CM codes ("" = none),
    the kind of the first one ("invalid" / "not billable" / ""), and the list without them.

    `dates` (service dates, aligned by position): each line is judged by the set of its fiscal year
    (`reference.icd10_status_in`); in a year whose set the project does not hold, no code is flagged.
    None: the package's current set for every line."""
    from denial_risk.contract import reference

    d_codes, d_uni = pd.factorize(dx.astype("string").fillna(""), use_na_sentinel=False)
    fy = reference.icd10_fiscal_years(dates, len(dx))
    pair, pairs = pd.factorize(d_codes.astype(np.int64) * 10_000 + fy)
    lists = [split_list_value(v) for v in d_uni.to_numpy(dtype=object)]  # not an Arrow iteration
    status = {}
    for year in sorted({int(k % 10_000) for k in pairs.tolist()}):
        singles = sorted({c for k in pairs.tolist() if k % 10_000 == year for c in lists[k // 10_000]})
        status[year] = reference.icd10_status_in(singles, year) if singles else ({}, {})
    bad, kind, left = [], [], []
    for k in pairs.tolist():
        lst, held = lists[k // 10_000], status[int(k % 10_000)]
        valid, billable = held if held is not None else ({c: True for c in lst}, {c: True for c in lst})
        b = [c for c in lst if not billable.get(c, False)]
        bad.append(schema.LIST_SEP.join(b))
        kind.append("" if not b else ("invalid" if not valid.get(b[0], False) else "not billable"))
        left.append(schema.LIST_SEP.join(c for c in lst if billable.get(c, False)))

    def take(values):
        arr = np.asarray(values, dtype=object)
        return pd.Series(arr[pair] if len(pair) else np.array([], dtype=object), index=dx.index, dtype=object)

    return take(bad), take(kind), take(left)


def same_or_similar(prior_same_code_12m: np.ndarray, facts: LineFacts) -> np.ndarray:
    """Lines that may be a same-or-similar replacement: an earlier claim for the code in 12 months, an item
    with a useful lifetime, no RA, and not a capped-rental month (RR with KH/KI/KJ bills a month of one
    rental, not a second item: Medicare capped-rental payment rules)."""
    m = facts.mods
    life = facts.policy["useful_lifetime_years"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return (np.nan_to_num(prior_same_code_12m) > 0) & (life > 0) & ~m["RA"] & ~capped_rental_month(m)


def capped_rental_month(mods: dict[str, np.ndarray]) -> np.ndarray:
    """RR with KH, KI or KJ: a month of a capped rental (1st, 2nd-3rd, 4th-13th), not a new item."""
    return mods["RR"] & (mods["KH"] | mods["KI"] | mods["KJ"])
