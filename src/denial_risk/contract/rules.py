"""Payer rules that change by date, each with its source (`reference_data/dated_rules.csv`).

Medicare's DMEPOS lists change on published dates (the Required Prior Authorization
List, the Required Face-to-Face and Written Order Prior to Delivery List) and its
coding rules have start dates (RT and LT on separate lines from 2019-03-01). A line
is judged by the rule in force on its date of service: features, findings, fixes and
the simulator's Medicare world all ask here.

File conventions: one row per (rule, set of codes, period). `codes` is `|`-separated
codes or `A-B` ranges (same letter); an empty `effective_from` means in force before
any date the product scores (the source gives no start), an empty `effective_to`
means still in force. `payer_type` is the payer type the rule binds (`medicare` is
Medicare fee-for-service, through the DME MACs); no rule here binds any other payer
type: what other payers require is learned from their remittances.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.contract import reference

RULES = ("prior_auth", "face_to_face_wopd", "kx_required", "cg_required", "rt_lt_separate_lines")
COLUMNS = ("rule", "payer_type", "codes", "effective_from", "effective_to", "source")
_CODE = re.compile(r"[A-Z]\d{4}")
_FAR_PAST = np.datetime64("1900-01-01", "D")
_FAR_FUTURE = np.datetime64("2200-01-01", "D")


def _expand(spec: str) -> list[tuple[str, int, int]]:
    """`L0648|L1900-L1990` -> [(letter, lo, hi), ...]."""
    out = []
    for part in (p.strip() for p in spec.split("|") if p.strip()):
        lo, _, hi = part.partition("-")
        hi = hi or lo
        if not (_CODE.fullmatch(lo) and _CODE.fullmatch(hi)) or lo[0] != hi[0] or lo > hi:
            raise ValueError(f"dated_rules.csv: bad code or range {part!r}")
        out.append((lo[0], int(lo[1:]), int(hi[1:])))
    return out


@lru_cache(maxsize=8)
def _load(ref_dir: str) -> pd.DataFrame:
    raw = pd.read_csv(Path(ref_dir) / "dated_rules.csv", dtype=str, keep_default_na=False)
    if tuple(raw.columns) != COLUMNS:
        raise ValueError(f"dated_rules.csv: columns must be exactly {','.join(COLUMNS)}")
    unknown = sorted(set(raw["rule"]) - set(RULES))
    if unknown:
        raise ValueError(f"dated_rules.csv: unknown rule(s) {unknown}")
    if (raw["source"].str.strip() == "").any():
        raise ValueError("dated_rules.csv: every rule needs a source")
    rows = []
    for r in raw.itertuples(index=False):
        start = np.datetime64(r.effective_from, "D") if r.effective_from else _FAR_PAST
        end = np.datetime64(r.effective_to, "D") if r.effective_to else _FAR_FUTURE
        if end < start:
            raise ValueError(f"dated_rules.csv: {r.rule} {r.codes} ends before it starts")
        for letter, lo, hi in _expand(r.codes):
            rows.append(
                (
                    r.rule,
                    r.payer_type.strip().lower(),
                    letter,
                    lo,
                    hi,
                    start,
                    end,
                    r.source,
                    r.effective_from,
                    r.effective_to,
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "rule",
            "payer_type",
            "letter",
            "lo",
            "hi",
            "start",
            "end",
            "source",
            "effective_from",
            "effective_to",
        ],
    )


@lru_cache(maxsize=64)
def _of_rule(ref_dir: str, rule: str) -> tuple[pd.DataFrame, tuple]:
    """One rule's rows, as a frame and as tuples: selected once, not on every call (a one-line
    request asks five rules five times)."""
    rules = _load(ref_dir)
    rules = rules[rules["rule"] == rule]
    return rules, tuple(rules.itertuples(index=False))


def table() -> pd.DataFrame:
    """The expanded rules: one row per (rule, code range, period), with start/end as datetime64[D]."""
    return _load(str(reference.reference_dir())).copy()


def _days(dates: pd.Series | None, n: int) -> np.ndarray:
    """Dates as datetime64[D]; missing -> a far-future day (a rule with a known end does not bind it)."""
    if dates is None:
        return np.full(n, np.datetime64("today", "D"))
    d = pd.to_datetime(dates, errors="coerce").to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    return np.where(np.isnat(d), _FAR_FUTURE, d)


def _line_keys(codes: pd.Series, dates: pd.Series | None) -> tuple:
    """(code position in the distinct codes, their letter, their number, each line's day): read once
    for every rule."""
    fcodes, uniq = pd.factorize(codes.astype("string").str.strip().str.upper(), use_na_sentinel=True)
    parsed = pd.Series(uniq, dtype="string").str.extract(r"^([A-Z])(\d{4})$")
    letter = parsed[0].fillna("").to_numpy(dtype=object)
    num = pd.to_numeric(parsed[1]).fillna(-1).to_numpy(dtype=np.int64)
    return fcodes, letter, num, _days(dates, len(codes))


def _binding_rows(rule: str, codes: pd.Series, dates: pd.Series | None, keys: tuple | None = None):
    """(the rule's rows, then per row that binds some line: the row and the lines' positions).
    Vectorised over the distinct codes: one pass per row of the rule."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}")
    rules, rows_of_rule = _of_rule(str(reference.reference_dir()), rule)
    if len(codes) == 0 or rules.empty:
        return rules, []
    fcodes, letter, num, days = _line_keys(codes, dates) if keys is None else keys
    found = []
    for r in rows_of_rule:
        hit_code = (letter == r.letter) & (num >= r.lo) & (num <= r.hi)
        if hit_code.any():
            rows = np.flatnonzero(np.append(hit_code, False)[fcodes])
            found.append((r, rows[(days[rows] >= r.start) & (days[rows] <= r.end)]))
    return rules, found


def in_force(
    rule: str,
    codes: pd.Series,
    dates: pd.Series | None,
    payer_types: pd.Series | None = None,
    keys: tuple | None = None,
) -> np.ndarray:
    """Per line: does `rule` bind this code on this date of service (for this payer type)?

    `payer_types` None means "as if the payer were the rule's payer type" (e.g. what Medicare
    would require); otherwise only lines of the rule's payer type are bound.
    """
    rules, found = _binding_rows(rule, codes, dates, keys)
    out = np.zeros(len(codes), dtype=bool)
    for _, rows in found:
        out[rows] = True
    return _for_payer(rule, out, payer_types)


def _for_payer(rule: str, as_if: np.ndarray, payer_types: pd.Series | None) -> np.ndarray:
    """`as_if` (the rule binding each line as if the payer were the rule's) kept on the lines of the
    rule's payer type only; `payer_types` None: `as_if` itself."""
    rules = _of_rule(str(reference.reference_dir()), rule)[0]
    if payer_types is None or rules.empty:
        return as_if
    payer_rule = rules["payer_type"].iloc[0]
    return as_if & payer_types.astype("string").eq(payer_rule).fillna(False).to_numpy(dtype=bool)


def in_force_all(
    codes: pd.Series, dates: pd.Series | None, payer_types: pd.Series | None = None
) -> dict[str, np.ndarray]:
    """`in_force` of every rule, the codes and dates read once."""
    keys = _line_keys(codes, dates) if len(codes) else None
    return {rule: in_force(rule, codes, dates, payer_types, keys) for rule in RULES}


def in_force_both(
    codes: pd.Series, dates: pd.Series | None, payer_types: pd.Series
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(`in_force_all` for the lines' payer types, `in_force_all` as if Medicare's): the rules' rows
    matched to the lines once for both."""
    as_if = in_force_all(codes, dates, None)
    return {rule: _for_payer(rule, v, payer_types) for rule, v in as_if.items()}, as_if


def effective_from(rule: str, codes: pd.Series, dates: pd.Series | None) -> np.ndarray:
    """Per line: the `effective_from` of the row of `rule` binding its code on its date ('' when none binds,
    or the rule has no start)."""
    out = np.full(len(codes), "", dtype=object)
    for r, rows in _binding_rows(rule, codes, dates)[1]:
        out[rows] = r.effective_from
    return out


# Starts that were phased in by state: the first day alone would read as if it held nationwide.
# Prior authorization of the 2022 orthoses (CMS-6081-N, 87 FR 2051): phase 1 from 2022-04-13,
# phase 2 from 2022-07-12, every state from autumn 2022 (CGS: 2022-10-10; others: 2022-09-26).
PHASED_STARTS = {
    ("prior_auth", "2022-04-13"): "2022 (phased in by state from 2022-04-13, every state from autumn 2022)",
}


def since_words(rule: str, codes: pd.Series, dates: pd.Series | None) -> list[str]:
    """Per line: ' since 2024-08-12', ' since 2022 (phased in by state ...)' or '' (no start known)."""
    start = effective_from(rule, codes, dates)
    return [f" since {PHASED_STARTS.get((rule, s), s)}" if s else "" for s in start]
