"""The domain audit's corrections, each on both sides of its date (issue 19, docs/domain.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from denial_risk.contract import rules
from denial_risk.contract.facts import diagnosis_problems


def _dx(codes, days):
    dx = pd.Series(codes, dtype="string")
    return [s.tolist() for s in diagnosis_problems(dx, pd.Series(pd.to_datetime(days)))]


def test_g35_is_billable_through_fy2025_and_not_from_fy2026():  # and in FY2024
    bad, kind, _ = _dx(["G35", "G35", "G35", "G35"], ["2024-10-01", "2025-09-30", "2025-10-01", "2026-09-30"])
    assert bad == ["", "", "G35", "G35"]
    assert kind == ["", "", "not billable", "not billable"]


def test_a_code_added_in_fy2026_is_invalid_in_fy2025_and_billable_after():
    bad, kind, left = _dx(["G35A|M5126", "G35A|M5126"], ["2025-09-30", "2025-10-01"])
    assert bad == ["G35A", ""] and kind == ["invalid", ""]
    assert left == ["M5126", "G35A|M5126"]


@pytest.mark.parametrize("day", ["2023-09-30", "2026-10-01"])
def test_outside_the_fiscal_years_held_no_code_is_flagged(day):
    # FY2023 and FY2027 sets are not held: neither "invalid" nor "not billable" is claimed.
    bad, kind, left = _dx(["G35|ZZZ99"], [day])
    assert bad == [""] and kind == [""] and left == ["G35|ZZZ99"]
    # Inside a held year the same nonsense code is flagged.
    assert _dx(["ZZZ99"], ["2025-01-15"])[1] == ["invalid"]


def _on(rule, code, *days):
    return rules.in_force(
        rule, pd.Series([code] * len(days), dtype="string"), pd.Series(pd.to_datetime(list(days)))
    )


@pytest.mark.parametrize("code", ["L0635", "L0636", "L0638", "L0639", "L0640", "L0651", "L1845", "L1852"])
def test_the_2024_f2f_wopd_additions_bind_from_2024_08_12(code):
    assert _on("face_to_face_wopd", code, "2024-08-11", "2024-08-12").tolist() == [False, True]


def test_l3960_is_on_the_2022_f2f_wopd_list():
    assert _on("face_to_face_wopd", "L3960", "2022-04-12", "2022-04-13").tolist() == [False, True]
    assert not _on("prior_auth", "L3960", "2025-01-01").any()  # on the F2F list, not the PA list


@pytest.mark.parametrize("code", ["E0250", "E0255", "E0260", "E0261", "E0265", "E0266", "E0290", "E0297"])
def test_no_hospital_bed_is_put_on_the_f2f_wopd_list_on_an_unconfirmed_basis(code):
    """CMS-6095-N added three hospital-bed codes; which ones is unconfirmed, so no bed binds the rule."""
    assert not _on("face_to_face_wopd", code, "2024-08-11", "2024-08-12", "2026-06-01").any()


def test_the_2022_prior_authorization_start_reads_as_phased():
    codes = pd.Series(["L1851", "L1851", "L0637"], dtype="string")
    days = pd.Series(pd.to_datetime(["2022-04-12", "2023-01-01", "2024-09-15"]))
    words = rules.since_words("prior_auth", codes, days)
    assert words[0] == ""  # before the program
    assert "phased in by state from 2022-04-13" in words[1] and "2022-04-13)" not in words[1][:20]
    assert words[2] == " since 2024-08-12"
    assert "; " not in words[1]  # "; " separates a line's reasons


def test_fy2024_undoes_the_fy2025_changes():
    # M51.36 was billable in FY2024 and became a header on 2024-10-01 (M51.360-M51.369 added).
    bad, kind, _ = _dx(
        ["M5136", "M5136", "M51360", "M51360"], ["2024-09-30", "2024-10-01", "2024-09-30", "2024-10-01"]
    )
    assert bad == ["", "M5136", "M51360", ""]
    assert kind == ["", "not billable", "invalid", ""]
    # G35 was billable in FY2024 as in FY2025.
    assert _dx(["G35"], ["2023-10-01"])[0] == [""]
