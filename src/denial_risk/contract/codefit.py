"""Does the billed code fit the line's diagnoses? What the code is, and which item the diagnoses point to.

Why: a line can bill a valid code for another item. The seed's L1320 is the clearest case:
CMS added L1320 on 2024-04-01 as a custom-fabricated pectus carinatum orthosis (CMS HCPCS
Level II file), yet the seed bills it for a spinal orthosis with spinal diagnoses. A payer
answers that with CO-11/CO-4, and a biller can only fix it by checking the code against the
item delivered, so the finding has to say what the code *is* (its CMS long description) and
what the diagnoses point to (the policy table's supporting diagnoses).

A line is a mismatch when its code is valid on the date of service, none of its diagnoses
supports the code's own policy group (or the code has none), and its primary diagnosis
supports another group billed with codes of the same HCPCS letter (an L code with spinal
diagnoses; not a supply with a back-pain secondary). Every lookup runs on unique values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import policy, reference, schema

_MAX_PARTS = 3  # comma-separated parts of the long description kept ("Thoracic, pectus ..., sternal ...")
_MAX_DX = 3  # diagnoses quoted in the finding
# Orthosis acronyms that begin CMS long descriptions (thoracic-lumbar-sacral, lumbar-sacral, knee, ...).
_ACRONYMS = frozenset(
    {"TLSO", "LSO", "LO", "SIO", "CTLSO", "CO", "CTO", "KO", "AFO", "KAFO", "HKAFO", "WHO", "WHFO", "HFO",
     "EO", "EWHO", "SEWHO", "SO", "FO", "HO"}
)  # fmt: skip


def _dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def describe(code: str, long_descriptions: dict[str, str] | None = None) -> str:
    """What a Level II code is, from its CMS long description, shortened for a worklist.

    `L1320` -> 'a thoracic, pectus carinatum orthosis, sternal compression, custom fabricated'.
    '' for a code the HCPCS file does not list.
    """
    descriptions = reference.hcpcs_long_descriptions() if long_descriptions is None else long_descriptions
    long = descriptions.get(code, "")
    if not long:
        return ""
    parts = [p.strip() for p in long.split(",") if p.strip()]
    kept = parts[:_MAX_PARTS]
    tail = [p for p in parts[_MAX_PARTS:] if p.lower().startswith(("custom fabricated", "prefabricated"))]
    text = ", ".join(kept + tail[:1])
    first = text.split(" ", 1)[0].rstrip(",")
    if first.upper() in _ACRONYMS:  # CMS writes "Tlso, flexible, ..."
        text = first.upper() + text[len(first) :]
    elif not first.isupper():
        text = text[0].lower() + text[1:]
    return _a(text)


def _a(words: str) -> str:
    """'an upper limb orthosis', 'a TLSO', 'an LSO'."""
    first = words.split(" ", 1)[0].rstrip(",")
    vowel = (
        first.upper() in _ACRONYMS
        and first[:1].upper() in "AEFHILMNORSX"
        or (first not in _ACRONYMS and first[:1].lower() in "aeiou")
    )
    return f"{'an' if vowel else 'a'} {words}"


def _group_letters() -> dict[str, frozenset[str]]:
    table = policy.load_policy_table()
    out: dict[str, set[str]] = {}
    for g, letter in zip(table["policy_group"], table["prefix"]):
        out.setdefault(str(g), set()).add(str(letter))
    return {g: frozenset(v) for g, v in out.items()}


def _primary_group(letter: str, primary: str, prefixes: dict, letters: dict) -> str:
    """The first policy group (table order) billed with `letter` codes that `primary` supports, or ''."""
    if not primary:
        return ""
    for g, pre in prefixes.items():
        if letter in letters.get(g, ()) and pre and primary.startswith(pre):
            return g
    return ""


def diagnosis_groups(codes: pd.Series, diagnoses: pd.Series) -> np.ndarray:
    """Per line, the policy group its primary diagnosis supports among those billed with the code's letter.

    `codes` HCPCS, `diagnoses` normalised `|`-joined undotted lists (primary first). '' where none.
    Computed once per distinct (letter, primary diagnosis) pair.
    """
    c_codes, c_uni = pd.factorize(codes.astype("string").fillna(""), use_na_sentinel=False)
    lu_codes, l_uni = pd.factorize(np.asarray([str(c)[:1] for c in c_uni] or [""], dtype=object))
    l_codes = lu_codes[c_codes]
    d_codes, d_uni = pd.factorize(diagnoses.astype("string").fillna(""), use_na_sentinel=False)
    primary = np.asarray(
        [str(v).split(schema.LIST_SEP, 1)[0].upper() for v in d_uni.to_numpy(dtype=object)] or [""],
        dtype=object,
    )
    pair, pairs = pd.factorize(l_codes.astype(np.int64) * (len(d_uni) + 1) + d_codes)
    prefixes, letters = policy.group_supporting_prefixes(), _group_letters()
    n_d = len(d_uni) + 1
    answers = np.asarray(
        [_primary_group(str(l_uni[k // n_d]), primary[k % n_d], prefixes, letters) for k in pairs.tolist()]
        or [""],
        dtype=object,
    )
    return answers[pair] if len(pair) else np.empty(0, dtype=object)


def mismatch(
    codes: pd.Series, groups: pd.Series, diagnoses: pd.Series, any_supports: pd.Series, status: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, diagnosis group) of the lines whose valid code does not fit the item their diagnoses point to
    (the group is looked up only on lines with a valid code no diagnosis supports; "" elsewhere).

    `groups` the code's policy group (<NA> none), `any_supports` whether a diagnosis supports it,
    `status` `reference.hcpcs_status` on the date of service (an invalid code is its own finding).
    """
    valid = status.to_numpy(dtype=object, na_value="") == "valid"
    supported = any_supports.astype("boolean").to_numpy(dtype=bool, na_value=False)
    dx_group = np.full(len(codes), "", dtype=object)
    cand = np.flatnonzero(valid & ~supported)  # only these can mismatch: look their diagnoses up
    if len(cand):
        dx_group[cand] = diagnosis_groups(codes.iloc[cand], diagnoses.iloc[cand])
    own = groups.to_numpy(dtype=object, na_value="")
    mask = (dx_group != "") & (dx_group != own)
    return mask, dx_group


def mismatch_words(
    codes: np.ndarray, own: np.ndarray, dx_group: np.ndarray, diagnoses: np.ndarray
) -> list[str]:
    """'L1320 is a thoracic, pectus carinatum orthosis, ... (HCPCS since 2024-04-01), but the diagnoses
    (M51.26) are those of a spinal orthosis: check the code matches the item delivered', one per line."""
    added, long = reference.hcpcs_added_dates(), reference.hcpcs_long_descriptions()
    out = []
    cache: dict[tuple, str] = {}
    for c, g, dg, dx in zip(codes, own, dx_group, diagnoses):
        key = (c, g, dg, dx)
        if key not in cache:
            what = describe(c, long) or "a code the HCPCS file does not describe"
            since = f"HCPCS since {added[c]:%Y-%m-%d}" if c in added else "HCPCS"
            shown = ", ".join(_dotted(d) for d in str(dx).split(schema.LIST_SEP)[:_MAX_DX] if d)
            item = _a(dg.replace("_", " "))
            other = f", not of {_a(g.replace('_', ' '))}" if isinstance(g, str) and g else ""
            cache[key] = (
                f"{c} is {what} ({since}), but the diagnoses ({shown}) are those of {item}{other}:"
                " check the code matches the item delivered"
            )
        out.append(cache[key])
    return out
