"""Code sets on the date of service: HCPCS add and termination dates, modifiers, the ICD-10-CM release."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract import facts, reference
from denial_risk.testing import lines


def _on(code: str, *days: str) -> pd.DataFrame:
    return reference.hcpcs_validity(pd.Series([code] * len(days)), pd.Series(pd.to_datetime(list(days))))


def test_code_added_later_is_invalid_before_its_add_date():
    # L1821 (knee orthosis, elastic with condylar pads, off the shelf) was added 2024-10-01.
    out = _on("L1821", "2024-09-30", "2024-10-01", "2025-06-01")
    assert out["status"].tolist() == ["invalid", "valid", "valid"]
    assert out["invalid_because"].iloc[0] == "not_yet_added"
    assert pd.isna(out["invalid_because"].iloc[1])
    assert (out["valid_from"] == pd.Timestamp("2024-10-01")).all()
    assert out["valid_to"].isna().all()  # not terminated


def test_terminated_code_is_valid_through_its_termination_date_only():
    # E2300 (power seat elevation system) was terminated 2024-03-31.
    out = _on("E2300", "2020-01-01", "2024-03-31", "2024-04-01")
    assert out["status"].tolist() == ["valid", "valid", "invalid"]
    assert out["invalid_because"].iloc[2] == "terminated"
    assert (out["valid_to"] == pd.Timestamp("2024-03-31")).all()
    assert (out["valid_from"] == pd.Timestamp("2004-01-01")).all()


def test_l1320_is_invalid_before_april_2024_and_valid_from_it():
    # The billing guide's L1320 was not a Level II code until CMS added it on 2024-04-01
    # (pectus carinatum orthosis, custom fabricated).
    out = _on("L1320", "2019-05-01", "2024-01-15", "2024-03-31", "2024-04-01", "2025-12-01")
    assert out["status"].tolist() == ["invalid", "invalid", "invalid", "valid", "valid"]
    assert set(out["invalid_because"].dropna()) == {"not_yet_added"}


@pytest.mark.parametrize("code", ["LO627", "L9999", "ABCDE", "9776"])
def test_code_never_in_level2_is_invalid_on_every_date(code):
    out = _on(code, "2014-01-01", "2024-06-01", "2026-05-01")
    assert (out["status"] == "invalid").all()
    assert (out["invalid_because"] == "not_in_hcpcs").all()
    assert out["valid_from"].isna().all()


@pytest.mark.parametrize("code", ["97760", "0001F", "0042T", "0001U"])
def test_cpt_stays_cpt_on_every_date(code):
    out = _on(code, "2010-01-01", "2024-06-01", "2027-01-01")
    assert (out["status"] == "cpt").all()
    assert out["invalid_because"].isna().all()


def test_missing_dates_use_the_release_set_and_none_equals_release_day():
    codes = pd.Series(["E2300", "L1821", "L1320", "E0150"], index=[10, 11, 12, 13])
    undated = reference.hcpcs_status(codes)
    at_release = reference.hcpcs_status(codes, pd.Series([reference.HCPCS_RELEASE] * 4, index=codes.index))
    nat = reference.hcpcs_status(codes, pd.Series([pd.NaT] * 4, index=codes.index, dtype="datetime64[ns]"))
    assert undated.tolist() == at_release.tolist() == nat.tolist() == ["invalid", "valid", "valid", "valid"]
    assert undated.index.equals(codes.index)


def test_dates_as_strings_and_misaligned_dates():
    out = reference.hcpcs_status(pd.Series(["L1821", "L1821"]), pd.Series(["2024-01-01", "not a date"]))
    assert out.tolist() == ["invalid", "valid"]  # an unparseable date falls back to the release set
    with pytest.raises(ValueError, match="aligned"):
        reference.hcpcs_status(pd.Series(["L1821", "L0627"]), pd.Series(pd.to_datetime(["2024-01-01"])))


def test_after_file_marks_dates_the_file_cannot_speak_for():
    out = _on("L0627", "2025-12-31", "2026-01-01")
    assert out["after_file"].tolist() == [False, True]
    assert reference.HCPCS_COVERS_THROUGH >= reference.HCPCS_RELEASE


def test_missing_codes_are_missing_on_any_date():
    out = reference.hcpcs_validity(pd.Series([None, "", "  "]), pd.Series(pd.to_datetime(["2024-01-01"] * 3)))
    assert out["status"].isna().all() and out["invalid_because"].isna().all()


def test_every_unique_code_and_date_pair_is_answered_like_its_single_lookup():
    rng = np.random.default_rng(3)
    pool = ["L1821", "E2300", "L1320", "L0627", "97760", "LO627", None]
    codes = pd.Series(rng.choice(np.array(pool, dtype=object), 20_000))
    days = pd.Series(pd.Timestamp("2023-06-01") + pd.to_timedelta(rng.integers(0, 900, 20_000), unit="D"))
    out = reference.hcpcs_status(codes, days)
    pairs = pd.DataFrame({"c": codes, "d": days, "s": out}).drop_duplicates(["c", "d"]).head(300)
    for c, d, s in pairs.itertuples(index=False):
        single = reference.hcpcs_status(pd.Series([c]), pd.Series([d])).iloc[0]
        assert (pd.isna(s) and pd.isna(single)) or s == single, (c, d)


def test_modifier_validity_by_date():
    mods = pd.Series(["GD", "GD", "JZ", "JZ", "KX", "59", "ZZ", None])
    days = pd.Series(
        pd.to_datetime(
            ["2019-12-31", "2020-01-01", "2022-12-31", "2023-01-01", "2024-01-01", "1999-01-01", "2024-01-01"]
            + ["2024-01-01"]
        )
    )
    out = reference.modifier_validity(mods, days)
    assert out["status"].tolist()[:7] == ["valid", "invalid", "invalid", "valid", "valid", "valid", "invalid"]
    assert pd.isna(out["status"].iloc[7])
    reasons = out["invalid_because"].fillna("").tolist()[:7]
    assert reasons == ["", "terminated", "not_yet_added", "", "", "", "not_in_hcpcs"]
    assert {"GD", "JZ", "KX", "59"} <= reference.known_modifiers()


def test_facts_and_line_facts_use_the_service_date():
    clean = lines(
        dict(hcpcs_code="L1821", service_date="2024-09-15"),
        dict(hcpcs_code="L1821", service_date="2024-11-15"),
        dict(hcpcs_code="E2300", service_date="2024-05-01"),
        dict(hcpcs_code="97760", service_date="2024-05-01"),
    )
    clean.index = [7, 8, 9, 10]
    assert facts.hcpcs_status(clean["hcpcs_code"], clean["service_date"]).tolist() == [
        "invalid",
        "valid",
        "invalid",
        "cpt",
    ]
    lf = facts.LineFacts.of(clean)
    assert lf.hcpcs_status.tolist() == ["invalid", "valid", "invalid", "cpt"]
    assert lf.hcpcs_status.index.equals(clean.index)
    v = lf.hcpcs_validity
    assert v.index.equals(clean.index)
    assert v.loc[7, "invalid_because"] == "not_yet_added"
    assert v.loc[7, "valid_from"] == pd.Timestamp("2024-10-01")
    assert v.loc[9, "invalid_because"] == "terminated"
    assert v.loc[9, "valid_to"] == pd.Timestamp("2024-03-31")
    sub = lf.subset(np.array([2, 0]))
    assert sub.hcpcs_validity["invalid_because"].tolist() == ["terminated", "not_yet_added"]


def test_icd10_cm_release_is_the_packages_list():
    names = {p.name for p in resources.files("simple_icd_10_cm.data").iterdir()}
    month = reference.ICD10_CM_RELEASE.strftime("%B-%Y")  # e.g. April-2026
    assert f"code-list-{month}.txt" in names, names


def test_policy_cache_is_bounded_and_answers_as_the_policy_table(monkeypatch):
    """A server fed ever-new codes must not grow the per-code policy cache without limit."""
    from denial_risk.contract import policy

    monkeypatch.setattr(facts, "POLICY_CACHE_MAX", 8)
    monkeypatch.setattr(facts, "_POLICY_CACHE", {})
    known = ["L1832", "E0601", "K0001", "A4253", "L3000"]
    made_up = [f"Z{i:04d}" for i in range(40)]  # request values no table holds
    for start in range(0, len(made_up), 5):
        codes = pd.Series(known + made_up[start : start + 5], dtype="string")
        got = facts.policy_for_rows(codes).reset_index(drop=True)
        want = policy.policy_for_codes(codes).reset_index(drop=True)[list(policy.LOOKUP_COLUMNS)]
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        assert len(facts._POLICY_CACHE) <= 8
    big = pd.Series(made_up, dtype="string")  # more distinct codes in one call than the bound
    assert facts.policy_for_rows(big)["policy_group"].tolist() == (
        policy.policy_for_codes(big)["policy_group"].tolist()
    )
    assert len(facts._POLICY_CACHE) <= 8
