"""Reference code sets: the checks a denial reason depends on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract import reference, schema


def test_reference_dir_is_the_repo_copy_with_the_files():
    d = reference.reference_dir()
    for name in (
        reference.HCPCS_FILE,
        "carc.csv",
        "rarc.csv",
        "policy_table.csv",
        "payer_rules.csv",
        "cpt_modifiers.csv",
        "PROVENANCE.md",
    ):
        assert (d / name).is_file(), name


def test_reference_dir_env_override(tmp_path, monkeypatch):
    # A Level II file with L0627 removed: the override must be read, not the cached repo copy.
    text = (reference.reference_dir() / reference.HCPCS_FILE).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    (tmp_path / reference.HCPCS_FILE).write_text(
        "".join(line for line in lines if not line.startswith("L0627,")), encoding="utf-8"
    )
    monkeypatch.setenv(reference.ENV_VAR, str(tmp_path))
    assert reference.reference_dir() == tmp_path
    assert "L0627" not in reference.hcpcs_level2_codes()
    assert reference.hcpcs_status(pd.Series(["L0627"])).iloc[0] == "invalid"
    monkeypatch.delenv(reference.ENV_VAR)
    assert "L0627" in reference.hcpcs_level2_codes()


def test_hcpcs_file_parsed():
    every = reference.hcpcs_level2_codes(None, None)
    assert len(every) == 8463  # record id 3 rows of the October 2025 file, terminated ones included
    assert "A0021" in every and "KX" not in every  # modifiers are record id 7, not codes
    assert all(len(c) == 5 for c in every)
    # The simulator's catalogue: codes in force over the whole sample period, fewer than all.
    period = reference.hcpcs_level2_codes()
    assert period < every
    assert "L0627" in period
    assert "E2300" not in period  # terminated 2024-03-31
    assert "L1821" not in period  # added 2024-10-01
    one_day = reference.hcpcs_level2_codes("2024-10-01", "2024-10-01")
    assert "L1821" in one_day and "E2300" not in one_day


def test_hcpcs_descriptions():
    short = reference.hcpcs_descriptions()
    long = reference.hcpcs_long_descriptions()
    assert short["E0601"] == "Cont airway pressure device"
    assert long["L0627"].startswith("Lumbar orthosis, sagittal control")
    assert long["L1320"].endswith("custom fabricated")  # pectus carinatum orthosis, added 2024-04
    assert "E2300" in long  # terminated codes keep their descriptions


def test_hcpcs_status_without_dates_is_the_release_set():
    s = pd.Series(
        ["E2300", "L0627", "97760", "0001F", "0042T", "l0627 ", None, "", "9776", "ABCDE", "L1320"],
        index=list("abcdefghijk"),
    )
    out = reference.hcpcs_status(s)
    assert out.index.equals(s.index)
    assert out["a"] == "invalid"  # terminated 2024-03-31, before the October 2025 release
    assert out["b"] == "valid"
    assert out["c"] == out["d"] == out["e"] == "cpt"
    assert out["f"] == "valid"
    assert pd.isna(out["g"]) and pd.isna(out["h"])
    assert out["i"] == "invalid"
    assert out["j"] == "invalid"
    assert out["k"] == "valid"  # added 2024-04-01
    assert set(out.dropna()) <= set(reference.HCPCS_STATUSES)


def test_hcpcs_status_vectorised_over_repeats():
    s = pd.Series(np.repeat(["ABCDE", "L0627", "97760"], 50_000))
    dates = pd.Series(pd.to_datetime(np.repeat(["2024-01-01", "2025-01-01"], 75_000)))
    out = reference.hcpcs_status(s, dates)
    assert out.value_counts().to_dict() == {"invalid": 50_000, "valid": 50_000, "cpt": 50_000}


def test_known_modifiers():
    mods = reference.known_modifiers()
    for m in ("KX", "RT", "LT", "GA", "GY", "GZ", "NU", "RR", "KH", "99", "59", "25", "50"):
        assert m in mods, m
    assert "ZZ" not in mods and "00" not in mods
    assert all(len(m) == 2 for m in mods)
    assert reference.modifier_descriptions()["99"] == "Multiple modifiers"


def test_icd10_info():
    s = pd.Series(["M5450", "M54.50", "M54", "M48X", None, "13", "M50-M54", "S32010A", "m5450"])
    out = reference.icd10_info(s)
    assert list(out.columns) == ["valid", "billable", "chapter", "block", "category"]
    assert out.index.equals(s.index)
    assert out.loc[0].tolist() == [True, True, "13", "M50-M54", "M54"]
    assert out.loc[1].tolist() == [True, True, "13", "M50-M54", "M54"]
    assert bool(out.loc[2, "valid"]) and not bool(out.loc[2, "billable"])
    assert out.loc[2, "category"] == "M54"
    for i in (3, 4, 5, 6):  # invalid, missing, a chapter, a block: not codes
        assert not out.loc[i, "valid"] and not out.loc[i, "billable"], i
        assert pd.isna(out.loc[i, "chapter"]) and pd.isna(out.loc[i, "category"]), i
    assert out.loc[7].tolist() == [True, True, "19", "S30-S39", "S32"]
    assert bool(out.loc[8, "valid"])  # lower case tolerated
    assert out["valid"].dtype == bool and out["billable"].dtype == bool


def test_icd10_billable_codes_are_leaves():
    import simple_icd_10_cm as cm

    codes = reference.icd10_billable_codes()
    assert len(codes) > 70_000
    assert "M5450" in codes and "M54" not in codes and "M40-M54" not in codes
    rng = np.random.default_rng(0)
    for c in rng.choice(codes, 200):
        assert cm.is_leaf(c) and "." not in c


def test_carc_rarc():
    carc = reference.carc_descriptions()
    for code in ("4", "11", "16", "18", "29", "50", "97", "119", "151", "181", "197", "204"):
        assert code in carc, code
    assert carc["197"].startswith("Precertification/authorization")
    rarc = reference.rarc_descriptions()
    assert len(rarc) > 1000 and "M1" in rarc and "N102" in rarc


def test_payer_rules():
    rules = reference.payer_rules()
    assert set(rules["payer_type"]) == set(schema.PAYER_TYPES)
    assert rules["payer_type"].is_unique
    assert str(rules["filing_limit_days"].dtype) == "Int64"
    limits = dict(zip(rules["payer_type"], rules["filing_limit_days"]))
    assert limits["medicare"] == 365
    for p in ("medicaid", "commercial"):
        assert 90 <= limits[p] <= 180  # many plans allow 90-180 days (docs/domain.md)
    assert rules["source"].notna().all() and (rules["source"].str.len() > 10).all()
    assert rules.loc[rules["payer_type"] == "medicare", "source"].str.contains("42 CFR 424.44").all()
    assert "prior_auth_policy" not in rules  # requirements are dated rules or learned from remits
    # a copy: mutating it must not change the next caller's table
    rules.loc[0, "filing_limit_days"] = 1
    assert reference.payer_rules()["filing_limit_days"].iloc[0] == 365


@pytest.mark.parametrize("name", ["carc.csv", "rarc.csv", "cpt_modifiers.csv", "payer_rules.csv"])
def test_small_csvs_have_unique_codes(name):
    df = pd.read_csv(reference.reference_dir() / name, dtype=str, keep_default_na=False)
    key = df.columns[0]
    assert df[key].is_unique
