"""The policy table (`contract/reference_data/policy_table.csv`) and per-code policy lookup.

Why: many DME denials follow from a policy the line does not meet (no RT/LT on a sided
item, a diagnosis that does not support the device, documents the policy expects
missing, a replacement inside the useful lifetime). The table states those policies
once, one row per HCPCS code range, with its source; features, the simulator and the
recommended actions all read it here. Rules that change by date (Medicare's prior
authorization and face-to-face lists, KX, CG, RT/LT on separate lines) are in
`contract.rules`; what other payers require is learned from their remittances.

Table conventions (see contract/reference_data/PROVENANCE.md):

- booleans are `true` / `false` / `unknown`; unknown (<NA>) where the public record
  does not establish the fact (e.g. RT/LT on upper-limb orthoses); every `true` names
  its document in `source`;
- `custom_fabricated = description` means: true for a code whose CMS long description
  says "custom fabricated", false for other Level II codes, <NA> for a code not in the
  HCPCS file;
- `expected_documents` lists `schema.BOOLEAN_FLAGS`; a custom-fabricated code also
  expects `has_measurements` (the lookup adds it);
- `supporting_icd10` lists undotted ICD-10-CM prefixes; a code supports the device
  when it starts with one of them (validity is `reference.icd10_info`'s business).

Range membership: same letter and numeric part within [start, end] (`L0627` is in
`L0450`-`L0651`), whether or not the code exists: an invalid code inside a range gets
the range's policy and is flagged separately by `reference.hcpcs_status`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.contract import reference, schema

COLUMNS = (
    "code_start",
    "code_end",
    "policy_group",
    "description",
    "sided",
    "custom_fabricated",
    "unit_limit",
    "useful_lifetime_years",
    "expected_documents",
    "supporting_icd10",
    "source",
)
BOOLEAN_POLICY_COLUMNS = ("sided", "custom_fabricated")
# Groups whose `unit_limit` is a published rule (DME MAC joint publication 2018-12-06: one unit a line
# for sided knee and ankle-foot orthoses); every other group's limit is project judgement.
SOURCED_UNIT_LIMITS = ("knee_orthosis", "ankle_foot_orthosis")
LOOKUP_COLUMNS = (
    "policy_group",
    *BOOLEAN_POLICY_COLUMNS,
    "unit_limit",
    "useful_lifetime_years",
    "expected_documents",
    "supporting_icd10",
)
# Python-backed strings: broadcasting a few distinct long values to 10M rows then copies
# pointers, not bytes.
_STR = pd.StringDtype("python")
LOOKUP_DTYPES = {
    "policy_group": _STR,
    **{c: "boolean" for c in BOOLEAN_POLICY_COLUMNS},
    "unit_limit": "Int64",
    "useful_lifetime_years": "Int64",
    "expected_documents": _STR,
    "supporting_icd10": _STR,
}
_BOOL_VALUES = {"true": True, "false": False, "unknown": pd.NA}
_CODE_RE = re.compile(r"[A-Z]\d{4}")
_SNAKE_RE = re.compile(r"[a-z][a-z0-9_]*")
# "custom fabricated" but not "... for custom fabricated orthotics only" (an addition, L3891).
_CUSTOM_FAB_RE = re.compile(r"(?<!for )custom[ -]fabricated", re.IGNORECASE)


# --------------------------------------------------------------------------- the table


def _parse_bool(col: pd.Series, name: str, allow_description: bool = False) -> pd.Series:
    values = col.str.strip().str.lower()
    allowed = set(_BOOL_VALUES) | ({"description"} if allow_description else set())
    bad = sorted(set(values) - allowed)
    if bad:
        raise ValueError(f"policy_table.csv: column {name} has values {bad}; use true/false/unknown")
    return values.map(lambda v: _BOOL_VALUES.get(v, pd.NA)).astype("boolean")


def _parse_int(col: pd.Series, name: str) -> pd.Series:
    values = col.str.strip()
    bad = sorted(set(values[(values != "") & ~values.str.fullmatch(r"\d+")]))
    if bad:
        raise ValueError(f"policy_table.csv: column {name} has non-integer values {bad}")
    return pd.to_numeric(values.replace("", None)).astype("Int64")


@lru_cache(maxsize=8)
def _load(ref_dir: str) -> pd.DataFrame:
    raw = pd.read_csv(Path(ref_dir) / "policy_table.csv", dtype=str, keep_default_na=False)
    if tuple(raw.columns) != COLUMNS:
        raise ValueError(f"policy_table.csv: columns must be exactly {','.join(COLUMNS)}")
    df = pd.DataFrame(index=raw.index)
    for c in ("code_start", "code_end"):
        df[c] = raw[c].str.strip().str.upper().astype("string")
        bad = df.loc[~df[c].str.fullmatch(_CODE_RE.pattern), c].tolist()
        if bad:
            raise ValueError(f"policy_table.csv: {c} values {bad} are not HCPCS Level II codes")
    df["policy_group"] = raw["policy_group"].str.strip().astype("string")
    bad = df.loc[~df["policy_group"].str.fullmatch(_SNAKE_RE.pattern), "policy_group"].tolist()
    if bad:
        raise ValueError(f"policy_table.csv: policy_group values {bad} are not snake_case")
    df["description"] = raw["description"].astype("string")
    for c in BOOLEAN_POLICY_COLUMNS:
        df[c] = _parse_bool(raw[c], c, allow_description=c == "custom_fabricated")
    df["custom_fabricated_from_description"] = (
        raw["custom_fabricated"].str.strip().str.lower().eq("description").to_numpy(dtype=bool)
    )
    df["unit_limit"] = _parse_int(raw["unit_limit"], "unit_limit")
    df["useful_lifetime_years"] = _parse_int(raw["useful_lifetime_years"], "useful_lifetime_years")
    for c in ("expected_documents", "supporting_icd10"):
        df[c] = raw[c].str.strip().str.replace(" ", "", regex=False).astype("string")
    docs = {d for v in df["expected_documents"] for d in v.split(schema.LIST_SEP) if d}
    if docs - set(schema.BOOLEAN_FLAGS):
        raise ValueError(
            f"policy_table.csv: expected_documents {sorted(docs - set(schema.BOOLEAN_FLAGS))} "
            "are not schema.BOOLEAN_FLAGS"
        )
    df["source"] = raw["source"].astype("string")
    df["prefix"] = df["code_start"].str[0]
    df["start_num"] = df["code_start"].str[1:].astype(int)
    df["end_num"] = df["code_end"].str[1:].astype(int)
    if (df["prefix"] != df["code_end"].str[0]).any() or (df["start_num"] > df["end_num"]).any():
        raise ValueError("policy_table.csv: each range must keep one letter and start <= end")
    for _, grp in df.sort_values(["prefix", "start_num"]).groupby("prefix"):
        overlap = grp["start_num"].to_numpy()[1:] <= grp["end_num"].to_numpy()[:-1]
        if overlap.any():
            raise ValueError(f"policy_table.csv: overlapping ranges {grp['code_start'].tolist()}")
    return df


def load_policy_table() -> pd.DataFrame:
    """The parsed policy table: one row per code range; booleans `boolean` (<NA> = unknown).

    Beside the file's columns it has `custom_fabricated_from_description` (bool) and the
    parsed range (`prefix`, `start_num`, `end_num`). Raises ValueError on a malformed file,
    because a silently mis-read policy would mislabel every line it covers.
    """
    return _load(str(reference.reference_dir())).copy()


def group_supporting_prefixes() -> dict[str, tuple[str, ...]]:
    """Policy group -> ICD-10-CM prefixes that support it (union over the group's rows)."""
    return dict(_group_prefixes(str(reference.reference_dir())))


@lru_cache(maxsize=8)
def _group_prefixes(ref_dir: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for group, value in zip(_load(ref_dir)["policy_group"], _load(ref_dir)["supporting_icd10"]):
        prefixes = out.setdefault(group, [])
        for p in value.upper().split(schema.LIST_SEP):
            if p and p not in prefixes:
                prefixes.append(p)
    return {g: tuple(p) for g, p in out.items()}


# --------------------------------------------------------------------------- per-code lookup


def _rows_for_codes(table: pd.DataFrame, codes: pd.Series) -> np.ndarray:
    """Table row position for each code (-1 = no policy)."""
    parsed = codes.str.extract(r"^([A-Z])(\d{4})$")
    letter = parsed[0].fillna("").to_numpy(dtype=object)
    num = pd.to_numeric(parsed[1]).fillna(-1).to_numpy(dtype=np.int64)
    rows = np.full(len(codes), -1, dtype=np.int64)
    for pos, (p, lo, hi) in enumerate(zip(table["prefix"], table["start_num"], table["end_num"])):
        hit = (letter == p) & (num >= lo) & (num <= hi)
        rows[hit & (rows < 0)] = pos
    return rows


@lru_cache(maxsize=8)
def _padded(ref_dir: str) -> pd.DataFrame:
    """The lookup columns with one extra all-NA row at the end: position -1 (no policy /
    missing code) lands there. Built once; callers take rows of it (a copy)."""
    cols = list(LOOKUP_COLUMNS)
    padded = pd.concat([_load(ref_dir)[cols], pd.DataFrame({c: [pd.NA] for c in cols})], ignore_index=True)
    return padded.astype(LOOKUP_DTYPES)


def policy_for_codes(codes: pd.Series) -> pd.DataFrame:
    """The policy that governs each HCPCS code, aligned on `codes`' index.

    Columns `LOOKUP_COLUMNS` with `LOOKUP_DTYPES`; a code outside every range (or missing)
    gets <NA> throughout. `custom_fabricated` is resolved per code, and a custom-fabricated
    code's `expected_documents` include `has_measurements`.
    """
    table = _load(str(reference.reference_dir()))
    fcodes, uniq = reference._factorize(codes)
    rows = _rows_for_codes(table, uniq)

    per_code = _padded(str(reference.reference_dir())).iloc[rows].reset_index(drop=True)

    from_desc = np.append(table["custom_fabricated_from_description"].to_numpy(), False)[rows]
    if from_desc.any():
        long = reference.hcpcs_long_descriptions()
        derived = [
            (bool(_CUSTOM_FAB_RE.search(long[c])) if c in long else pd.NA) for c in uniq[from_desc].tolist()
        ]
        per_code.loc[from_desc, "custom_fabricated"] = pd.array(derived, dtype="boolean")
        needs = per_code["custom_fabricated"].fillna(False).to_numpy(dtype=bool)
        docs = per_code.loc[needs, "expected_documents"]
        add = np.array(
            ["has_measurements" not in d.split(schema.LIST_SEP) for d in docs.tolist()], dtype=bool
        )
        per_code.loc[docs.index[add], "expected_documents"] = docs[add] + "|has_measurements"

    # Broadcast per-unique answers to rows; -1 (missing code) becomes <NA>.
    return pd.DataFrame(
        {c: per_code[c].array.take(fcodes, allow_fill=True) for c in LOOKUP_COLUMNS}, index=codes.index
    )


# --------------------------------------------------------------------------- diagnosis support


@lru_cache(maxsize=1 << 18)
def _support_one(prefixes: tuple[str, ...], diagnoses: str) -> tuple[bool, bool, object]:
    codes = [c for c in diagnoses.split(schema.LIST_SEP) if c]
    first = next((c for c in codes if c.startswith(prefixes)), pd.NA)
    primary = bool(codes) and codes[0].startswith(prefixes)
    return primary, first is not pd.NA, first


def diagnosis_support(policy_groups: pd.Series, diagnosis_codes: pd.Series) -> pd.DataFrame:
    """Does the claim's diagnosis support the device (the CO-11 question)?

    `diagnosis_codes` are normalised `|`-joined undotted codes, primary first (`""` = none).
    Returns `primary_supports`, `any_supports` (boolean) and `first_supporting_code` (string),
    aligned on `policy_groups`' index. <NA> where there is no group, the group has no
    diagnosis rule, or the diagnoses are unknown (<NA>). Computed once per distinct
    (group, diagnoses) pair.
    """
    if not policy_groups.index.equals(diagnosis_codes.index):
        raise ValueError("diagnosis_support: policy_groups and diagnosis_codes must share an index")
    rules = group_supporting_prefixes()
    g_codes, g_uni = pd.factorize(policy_groups.astype("string"), use_na_sentinel=True)
    d_codes, d_uni = pd.factorize(diagnosis_codes.astype("string"), use_na_sentinel=True)
    n_d = len(d_uni) + 1
    pair_codes, pairs = pd.factorize((g_codes.astype(np.int64) + 1) * n_d + (d_codes + 1))

    g_list, d_list = list(g_uni), [str(d).upper() for d in d_uni.to_numpy(dtype=object)]
    primary, anys, first = [], [], []
    for key in pairs.tolist():
        gi, di = key // n_d - 1, key % n_d - 1
        prefixes = rules.get(g_list[gi]) if gi >= 0 else None
        if not prefixes or di < 0:
            primary.append(pd.NA), anys.append(pd.NA), first.append(pd.NA)
            continue
        p, a, f = _support_one(prefixes, d_list[di])
        primary.append(p), anys.append(a), first.append(f)

    def take(values, dtype):
        return pd.array(values, dtype=dtype).take(pair_codes, allow_fill=True)

    return pd.DataFrame(
        {
            "primary_supports": take(primary, "boolean"),
            "any_supports": take(anys, "boolean"),
            "first_supporting_code": take(first, _STR),
        },
        index=policy_groups.index,
    )


# --------------------------------------------------------------------------- diagnosis pools


@lru_cache(maxsize=1)
def _billable_index() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Billable codes in code-set order, their sorted copy, and the sort order (for prefix ranges)."""
    codes = np.array(reference.icd10_billable_codes(), dtype=object)
    order = np.argsort(codes, kind="stable")
    return codes, codes[order], order


def _with_prefix(prefix: str) -> np.ndarray:
    """Positions (in code-set order) of billable codes starting with `prefix`: a binary search, not a scan."""
    _, sorted_codes, order = _billable_index()
    lo = np.searchsorted(sorted_codes, prefix, side="left")
    hi = np.searchsorted(sorted_codes, prefix + "\U0010ffff", side="left")
    return np.sort(order[lo:hi])


@lru_cache(maxsize=64)
def _pool(ref_dir: str, policy_group: str, supporting: bool, related: bool) -> tuple[np.ndarray, ...]:
    """Billable codes grouped by prefix, so that a draw picks a prefix first, then a code."""
    rules = _group_prefixes(ref_dir)
    if policy_group not in rules:
        raise ValueError(f"unknown policy group {policy_group!r}; known: {sorted(rules)}")
    own = rules[policy_group]
    codes = _billable_index()[0]
    own_positions = (
        np.unique(np.concatenate([_with_prefix(p) for p in own])) if own else np.empty(0, dtype=int)
    )
    if supporting:
        if not own:
            raise ValueError(f"policy group {policy_group!r} has no supporting ICD-10-CM rule")
        buckets = [codes[_with_prefix(p)] for p in own]
    elif related:
        # Diagnoses that support *another* device: the plausible wrong-diagnosis case.
        others = sorted({p for g, ps in rules.items() if g != policy_group for p in ps})
        buckets = [codes[np.setdiff1d(_with_prefix(p), own_positions, assume_unique=True)] for p in others]
    else:
        buckets = [codes[np.setdiff1d(np.arange(len(codes)), own_positions, assume_unique=True)]]
    return tuple(np.array(list(b), dtype=object) for b in buckets if len(b))


def _draw(pool: tuple[np.ndarray, ...], n: int, rng) -> list[str]:
    rng = np.random.default_rng(rng)
    which = rng.integers(len(pool), size=n)
    u = rng.random(n)
    out = np.empty(n, dtype=object)
    for b, codes in enumerate(pool):
        hit = which == b
        if hit.any():
            out[hit] = codes[(u[hit] * len(codes)).astype(np.int64)]
    return out.tolist()


def supporting_diagnoses(policy_group: str, n: int, rng) -> list[str]:
    """`n` real billable ICD-10-CM codes (undotted) that support `policy_group`.

    Draws a supporting prefix uniformly, then a billable code under it, so that prefixes
    with thousands of injury codes (e.g. S32) do not drown M54. `rng`: a numpy Generator
    or a seed.
    """
    return _draw(_pool(str(reference.reference_dir()), policy_group, True, True), n, rng)


def non_supporting_diagnoses(policy_group: str, n: int, rng, related: bool = True) -> list[str]:
    """`n` real billable ICD-10-CM codes (undotted) that do NOT support `policy_group`.

    With `related` (default) they support some *other* group (a knee diagnosis on a spinal
    orthosis: the plausible CO-11 case); otherwise any billable code outside the group.
    """
    return _draw(_pool(str(reference.reference_dir()), policy_group, False, related), n, rng)
