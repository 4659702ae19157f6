"""Findings the domain audit corrected (issue 19): GA by payer type, same or similar, unit limits, KX."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from denial_risk.claims.table import load_claims
from denial_risk.scoring.findings import findings

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "backlog.csv"


@pytest.fixture(scope="module")
def base():
    clean, _ = load_claims(SAMPLE)
    return clean.iloc[:1].copy()


def _texts(base, **cols) -> list[str]:
    rows = base.loc[base.index.repeat(1)].reset_index(drop=True)
    for k, v in cols.items():
        rows[k] = pd.Series([v], dtype=rows[k].dtype)
    return findings(rows)["text"].tolist()


def test_ga_says_the_patient_owes_only_for_original_medicare(base):
    kw = {"hcpcs_code": "L1851", "modifiers": "NU|RT|GA", "service_date": pd.Timestamp("2025-03-01")}
    medicare = _texts(base, payer_type="medicare", **kw)
    ma = _texts(base, payer_type="medicare_advantage", **kw)
    assert any("PR-50, M38: the patient owes" in t for t in medicare)
    assert not any("patient owes" in t for t in ma)
    assert any("an ABN binds only Original Medicare" in t for t in ma)


def test_same_or_similar_skips_capped_rental_months_and_names_medicare_carc(base):
    kw = {"hcpcs_code": "E0260", "payer_type": "medicare", "prior_same_code_12m": 2}
    buy = _texts(base, modifiers="NU", **kw)
    month = _texts(base, modifiers="RR|KI", **kw)
    assert any("same or similar: Medicare sends CO-151 with M3" in t for t in buy)
    assert not any("same or similar" in t for t in month)


def test_same_or_similar_on_a_sided_item_depends_on_the_side_and_knee_lifetimes_are_not_5_years(base):
    t = _texts(base, hcpcs_code="L1851", modifiers="NU|RT", payer_type="commercial", prior_same_code_12m=1)
    ss = [x for x in t if "same or similar" in x]
    assert len(ss) == 1
    assert "if the earlier one was for the same side (RT)" in ss[0] and "5-year" not in ss[0]
    # which knee codes have a shorter lifetime, and how long, is unconfirmed: no number but the 5 years
    assert "shorter for some knee codes: policy article A52465" in ss[0]
    assert re.findall(r"(\d+)(?:–\d+)? years?", ss[0]) == ["5"], ss[0]


def test_unit_limits_that_are_judgement_say_so(base):
    spinal = _texts(base, hcpcs_code="L0637", modifiers="NU", units=3)
    knee = _texts(base, hcpcs_code="L1851", modifiers="NU|RT", units=3)
    assert any("project's limit of 1 a line (project judgement" in t for t in spinal)
    assert any("above the policy's limit of 1 a line" in t for t in knee)


def test_no_output_text_says_detailed_written_order():
    # The order is the standard written order (SWO) since 2020 (CMS-1713-F); the old name must not come back.
    src = Path(__file__).resolve().parents[2] / "src" / "denial_risk"
    for path in src.rglob("*"):
        if path.suffix in {".py", ".csv", ".j2", ".html", ".md"}:
            assert "detailed written order" not in path.read_text(encoding="utf-8").lower(), path
