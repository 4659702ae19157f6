"""A world of spinal L1320 lines: the worklist says what L1320 is, or that it was not valid on the date.

L1320 is a custom-fabricated pectus carinatum orthosis, a HCPCS code since 2024-04-01 (CMS HCPCS
Level II file); the seed bills it for a spinal orthosis with spinal diagnoses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract import policy
from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.scoring.score import score_request

LABELS = ["denied", "denial_reason", "paid_amount", "true_denial_probability"]


def _spinal_l1320_world(simulated_claims, start: str, end: str, n: int = 400) -> pd.DataFrame:
    """Lines of the simulated world re-billed as L1320 with spinal diagnoses, dated in [start, end]."""
    rng = np.random.default_rng(7)
    raw = simulated_claims.drop(columns=LABELS).sample(n, random_state=3).reset_index(drop=True)
    days = pd.date_range(start, end, freq="D")
    service = days[rng.integers(len(days), size=n)]
    primary = policy.supporting_diagnoses("spinal_orthosis", n, rng)
    return raw.assign(
        hcpcs_code="L1320",
        modifiers="NU",
        diagnosis_codes=primary,
        service_date=service.strftime("%Y-%m-%d"),
        submission_date=(service + pd.Timedelta(days=10)).strftime("%Y-%m-%d"),
        order_date=(service - pd.Timedelta(days=5)).strftime("%Y-%m-%d"),
        face_to_face_date=(service - pd.Timedelta(days=20)).strftime("%Y-%m-%d"),
    )


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        # From its add date: what the code is and that the diagnoses are spinal.
        ("2025-01-01", "2025-12-31", "L1320 is a thoracic, pectus carinatum orthosis"),
        # Before it: not a valid code on the date (the same lines, one day before the add date too).
        ("2023-04-01", "2024-03-31", "L1320 was not a valid HCPCS code on"),
    ],
)
def test_spinal_l1320_lines_say_what_the_code_is_or_that_it_was_not_valid(
    denial_model, simulated_claims, start, end, words
):
    world = _spinal_l1320_world(simulated_claims, start, end)
    out = score_request(denial_model, world)
    scored = out[out[REJECT_REASON].isna()]
    assert len(scored) >= 0.9 * len(world)
    says = scored["top_reasons"].fillna("").str.contains(words, regex=False)
    assert says.mean() >= 0.90, scored.loc[~says, "top_reasons"].head(3).tolist()


def test_the_finding_names_the_diagnoses_and_asks_to_check_the_item(denial_model, simulated_claims):
    world = _spinal_l1320_world(simulated_claims, "2025-03-01", "2025-03-31", n=50)
    world["diagnosis_codes"] = "M5126"
    reasons = score_request(denial_model, world)["top_reasons"].fillna("")
    expected = (
        "L1320 is a thoracic, pectus carinatum orthosis, sternal compression, custom fabricated"
        " (HCPCS since 2024-04-01), but the diagnoses (M51.26) are those of a spinal orthosis:"
        " check the code matches the item delivered"
    )
    assert reasons.str.contains(expected, regex=False).mean() >= 0.9
    assert not reasons.str.contains("L1320 was not a valid", regex=False).any()
