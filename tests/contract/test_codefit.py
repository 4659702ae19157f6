"""Code–diagnosis consistency: what a code is (CMS long description) and which item the diagnoses point to."""

from __future__ import annotations

import pandas as pd

from denial_risk.contract import codefit, policy, reference


def _mismatch(codes, diagnoses, dates):
    codes = pd.Series(codes, dtype="string")
    dx = pd.Series(diagnoses, dtype="string")
    pol = policy.policy_for_codes(codes)
    sup = policy.diagnosis_support(pol["policy_group"], dx)
    status = reference.hcpcs_status(codes, pd.to_datetime(pd.Series(dates)))
    mask, group = codefit.mismatch(codes, pol["policy_group"], dx, sup["any_supports"], status)
    words = codefit.mismatch_words(
        codes.to_numpy(dtype=object),
        pol["policy_group"].astype("string").fillna("").to_numpy(dtype=object),
        group,
        dx.to_numpy(dtype=object),
    )
    return mask, group, words


def test_l1320_is_described_from_the_hcpcs_file():
    assert codefit.describe("L1320") == (
        "a thoracic, pectus carinatum orthosis, sternal compression, custom fabricated"
    )
    assert codefit.describe("L0450").startswith("a TLSO, flexible")
    assert codefit.describe("L1940").startswith("an ankle foot orthosis")
    assert codefit.describe("Z9999") == ""


def test_spinal_diagnoses_on_l1320_are_a_mismatch_only_from_its_add_date():
    mask, group, words = _mismatch(["L1320", "L1320"], ["M5126", "M5126"], ["2024-03-31", "2024-04-01"])
    # Before 2024-04-01 the code was not valid: that is the invalid-code finding, not this one.
    assert mask.tolist() == [False, True]
    assert group.tolist() == ["", "spinal_orthosis"]  # looked up only where the code is valid
    assert words[1] == (
        "L1320 is a thoracic, pectus carinatum orthosis, sternal compression, custom fabricated"
        " (HCPCS since 2024-04-01), but the diagnoses (M51.26) are those of a spinal orthosis:"
        " check the code matches the item delivered"
    )
    assert "; " not in words[1]  # "; " separates the reasons of a line (report.aggregate.REASON_SEP)


def test_a_code_with_a_policy_names_both_items_and_fitting_lines_pass():
    mask, _, words = _mismatch(
        ["L1832", "L0637", "L1832", "A4253", "L1832"],
        ["M5126", "M5126", "M1711", "M545|E119", "E119"],
        ["2025-05-01"] * 5,
    )
    # A knee orthosis with a disc diagnosis: a mismatch; a spinal orthosis with one is not; a
    # knee orthosis with knee OA is not; a supply (A code) is never judged against orthoses;
    # a diagnosis that supports no item says nothing here (the "none supports" finding does).
    assert mask.tolist() == [True, False, False, False, False]
    assert "are those of a spinal orthosis, not of a knee orthosis" in words[0]
