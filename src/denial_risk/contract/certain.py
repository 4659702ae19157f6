"""The rules that make a denial certain or near-certain on a line, and each line's stage (as-of date).

A *certain* rule is a dated, sourced rule or a fact of the line whose documented outcome is
that every such line is denied or returned: it needs no remittance to be believed. The
model may still not know it (a code added to a program last month, a payer new to the data),
so `modeling.rule_risk` lifts the line's risk where the training remits held too few such
lines, and `scoring.fixes` lists the rule's fix without a learned effect. Everything a
payer's own remits show (e.g. "this payer denied 31 % of such lines without it") is learned
evidence, not a certain rule.

The stage: a line is *before delivery* when its service date (the date the item is
furnished) is after the as-of date (`score --as-of`, default today), *delivered* otherwise.
Prior authorization and, for the F2F/WOPD list, the written order must precede delivery
(docs/domain.md): after delivery they can only be shown, if they were obtained in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.contract import reference
from denial_risk.contract.facts import LineFacts

# The share of a rule's lines denied for the rule where the training remits cannot say (too few lines).
# The documented outcome is "every such line"; 0.95 is project judgement: it leaves room for a wrong
# flag on the line, and keeps a fix's stated risk finite (docs/rules.md).
DOCUMENTED_RATE = 0.95


@dataclass(frozen=True)
class CertainRule:
    name: str
    remedy: str  # the fix that removes it (`biller.remedies` name, or an advisory's name)
    per_code: bool  # a dated list: its lines also counted per code (logged; the floor reads the rule's count)
    source: str
    words: str  # what the rule is, for docs and the fitted model's record


CERTAIN_RULES: dict[str, CertainRule] = {
    r.name: r
    for r in (
        CertainRule(
            "prior_auth_missing",
            "obtain_prior_auth",
            True,
            "42 CFR 414.234 (prior authorization is a condition of payment); CMS Required Prior "
            "Authorization List (contract/reference_data/dated_rules.csv)",
            "Medicare line of a code on the prior-authorization list on its date, without authorization",
        ),
        CertainRule(
            "rt_lt_one_line",
            "split_rtlt",
            False,
            "DME MAC joint publication 'Correct Coding - RT and LT Modifier Usage Change' (2018-12-06); "
            "CGS (2019-05-31): returned as unprocessable",
            "Medicare line with RT and LT on one line of a code billed on two lines from 2019-03-01",
        ),
        CertainRule(
            "kx_missing",
            "add_kx",
            False,
            "CGS Medicare KX table (2018-06-29): the LCD's coverage criteria met and documented, else denied "
            "(contract/reference_data/dated_rules.csv)",
            "Medicare line of a code whose policy needs KX, without KX (and without GA/GY/GZ)",
        ),
        CertainRule(
            "invalid_code",
            "replace_code",
            False,
            "HCPCS Level II is the HIPAA code set (45 CFR 162.1002); X12 CARC 181 (procedure code invalid "
            "on the date of service)",
            "a HCPCS code not valid on the date of service",
        ),
        CertainRule(
            "past_filing_limit",
            "",
            False,
            "42 CFR 424.44: Medicare claims are filed within 12 months of the date of service (CO-29)",
            "Medicare line filed after its 12-month filing limit",
        ),
    )
}


def _medicare(clean: pd.DataFrame) -> np.ndarray:
    if "payer_type" not in clean:
        return np.zeros(len(clean), dtype=bool)
    return clean["payer_type"].astype("string").eq("medicare").fillna(False).to_numpy(dtype=bool)


def certain_rules(clean: pd.DataFrame, facts: LineFacts) -> dict[str, np.ndarray]:
    """Per certain rule, the lines it binds (bool arrays aligned on `clean`'s positions). Vectorised."""
    n = len(clean)
    medicare = _medicare(clean)
    no_pa = (
        clean["has_prior_auth"].astype("boolean").eq(False).fillna(False).to_numpy(dtype=bool)
        if "has_prior_auth" in clean
        else np.zeros(n, dtype=bool)
    )
    m = facts.mods
    validity = facts.hcpcs_validity
    after_file = validity["after_file"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    invalid = facts.hcpcs_status.eq("invalid").fillna(False).to_numpy(dtype=bool) & ~after_file
    limit = float(
        reference.payer_rules().set_index("payer_type")["filing_limit_days"].astype("Float64").get("medicare")
    )
    if "submission_date" in clean and "service_date" in clean:
        lag = (clean["submission_date"] - clean["service_date"]).dt.days.to_numpy(
            dtype=float, na_value=np.nan
        )
    else:
        lag = np.full(n, np.nan)
    return {
        "prior_auth_missing": facts.rules["prior_auth"] & medicare & no_pa,
        "rt_lt_one_line": facts.rules["rt_lt_separate_lines"] & medicare & m["RT"] & m["LT"],
        "kx_missing": facts.rules["kx_required"] & medicare & ~m["KX"] & ~m["conflict"],
        "invalid_code": invalid,
        "past_filing_limit": medicare & (np.nan_to_num(lag, nan=-1.0) > limit),
    }


def delivered(clean: pd.DataFrame, as_of=None) -> np.ndarray:
    """Per line: already delivered on `as_of` (default today): its service date is on or before it.
    A line without a service date counts as delivered (no fix that must precede delivery is offered)."""
    day = as_of_day(as_of)
    if "service_date" not in clean:
        return np.ones(len(clean), dtype=bool)
    d = clean["service_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    return np.isnat(d) | (d <= day)


def as_of_day(as_of=None) -> np.datetime64:
    """The as-of date as a day (None: today)."""
    return np.datetime64("today", "D") if as_of is None else np.datetime64(pd.Timestamp(as_of).date(), "D")
