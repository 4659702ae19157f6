"""The simulated world follows the source check's corrections (issue 19, docs/domain.md)."""

from __future__ import annotations

import pytest

from denial_risk.synth import simulate


@pytest.fixture(scope="module")
def world():
    frame, _, details = simulate._simulate(20_000, 5, "2024-01-01", 24)
    return frame, details["causes"]


def test_medicare_same_or_similar_is_co151_with_m3_and_never_a_rental_month(world):
    claims, causes = world
    ss = (causes["same_or_similar"] > 0).to_numpy()
    medicare = claims["payer_type"].eq("medicare").to_numpy()
    assert (ss & medicare).sum() > 5
    mods = claims["modifiers"].fillna("")
    rental_month = mods.str.contains("RR", regex=False) & mods.str.contains(r"\bK[HIJ]\b", regex=True)
    assert not (ss & rental_month.to_numpy()).any()
    denied_ss = claims.loc[ss & medicare & claims["denial_reason"].fillna("").eq("CO-151").to_numpy()]
    assert len(denied_ss) and denied_ss["remark_codes"].str.contains("M3", regex=False).all()
    assert not claims.loc[ss & medicare, "remark_codes"].fillna("").str.contains("M86", regex=False).any()
