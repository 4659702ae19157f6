"""The policy table and its lookups."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import simple_icd_10_cm as cm

from denial_risk.contract import policy, reference, schema

GROUPS = (
    "spinal_orthosis",
    "knee_orthosis",
    "ankle_foot_orthosis",
    "upper_limb_orthosis",
    "pap_device",
    "pap_supplies",
    "manual_wheelchair",
    "hospital_bed",
    "walker_cane",
)

# (range start, end, group) the issue requires; every Level II code inside must be covered.
REQUIRED = [
    ("L0450", "L0651", "spinal_orthosis"),
    ("L1810", "L1860", "knee_orthosis"),
    ("L1900", "L1990", "ankle_foot_orthosis"),
    ("L3650", "L3999", "upper_limb_orthosis"),
    ("E0601", "E0601", "pap_device"),
    ("A7030", "A7039", "pap_supplies"),
    ("K0001", "K0007", "manual_wheelchair"),
    ("E0250", "E0270", "hospital_bed"),
    ("E0100", "E0159", "walker_cane"),
]


def _level2_in(start: str, end: str) -> list[str]:
    return sorted(
        c
        for c in reference.hcpcs_level2_codes()
        if c[0] == start[0] and int(start[1:]) <= int(c[1:]) <= int(end[1:])
    )


def _one(code: str) -> pd.Series:
    return policy.policy_for_codes(pd.Series([code])).iloc[0]


def test_table_columns_and_groups():
    raw = pd.read_csv(reference.reference_dir() / "policy_table.csv", dtype=str)
    assert tuple(raw.columns) == policy.COLUMNS
    table = policy.load_policy_table()
    assert set(table["policy_group"]) == set(GROUPS)
    for c in policy.BOOLEAN_POLICY_COLUMNS:
        assert str(table[c].dtype) == "boolean"
    assert table["source"].str.len().min() > 10


@pytest.mark.parametrize("start,end,group", REQUIRED)
def test_required_ranges_covered(start, end, group):
    codes = _level2_in(start, end)
    assert codes, (start, end)
    out = policy.policy_for_codes(pd.Series(codes))
    assert (out["policy_group"] == group).all(), out.loc[out["policy_group"] != group]


def test_sided_lifetime_and_units_per_domain():
    assert _one("L1833")["sided"] == True  # noqa: E712
    assert pd.isna(_one("L3908")["sided"])  # upper limb: no DME MAC policy says (unknown, not assumed)
    assert _one("L0627")["sided"] == False  # noqa: E712
    assert _one("E0601")["sided"] == False  # noqa: E712
    assert _one("L0627")["useful_lifetime_years"] == 5
    # one unit a line for a sided item: two sides are two lines (DME MAC joint publication, 2019-03-01)
    assert _one("L1833")["unit_limit"] == 1 and _one("L1971")["unit_limit"] == 1


def test_requirements_are_not_in_the_policy_table():
    """KX and prior authorization are dated rules (contract.rules) or learned from a payer's remits."""
    table = policy.load_policy_table()
    assert not {"kx_required_medicare", "prior_auth_prone"} & set(table.columns)


def test_every_true_names_a_document():
    table = policy.load_policy_table()
    for c in policy.BOOLEAN_POLICY_COLUMNS:
        rows = table[table[c].eq(True).fillna(False)]
        assert rows["source"].str.contains(r"LCD|article|publication|Noridian|CGS|CMS", regex=True).all(), c


def test_custom_fabricated_per_code_and_measurements():
    out = policy.policy_for_codes(pd.Series(["L0452", "L0627", "L1834", "L1833", "L3891", "E0601"]))
    assert out["custom_fabricated"].tolist() == [True, False, True, False, False, False]
    docs = out["expected_documents"].str.split("|")
    assert "has_measurements" in docs[0] and "has_measurements" in docs[2]
    assert "has_measurements" not in docs[1] and "has_measurements" not in docs[3]
    # a code in a 'description' range but absent from the HCPCS file: unknown
    assert pd.isna(_one("L0500")["custom_fabricated"])


def test_expected_documents_are_schema_flags():
    table = policy.load_policy_table()
    for value in table["expected_documents"]:
        docs = value.split("|")
        assert set(docs) <= set(schema.BOOLEAN_FLAGS), value
        assert "has_prescription" in docs


def test_supporting_prefixes_are_real_icd10():
    for group, prefixes in policy.group_supporting_prefixes().items():
        assert prefixes, group
        for p in prefixes:
            assert cm.is_valid_item(p) and not cm.is_chapter_or_block(p), (group, p)
            assert "." not in p and p == p.upper()


def test_lookup_outside_policies_and_dtypes():
    s = pd.Series(["L1320", "97760", None, "L0627", "l0627"], index=[5, 6, 7, 8, 9])
    out = policy.policy_for_codes(s)
    assert out.index.equals(s.index)
    assert list(out.columns) == list(policy.LOOKUP_COLUMNS)
    for c, dtype in policy.LOOKUP_DTYPES.items():
        assert out[c].dtype == dtype, c
    assert out.loc[[5, 6, 7]].isna().all().all()  # L1320 is in no range (and not a code)
    assert out.loc[8, "policy_group"] == out.loc[9, "policy_group"] == "spinal_orthosis"
    assert out.loc[8, "unit_limit"] == 1


def test_pap_supply_unit_limits():
    out = policy.policy_for_codes(pd.Series(["A7030", "A7032", "A7038", "A7035"]))
    assert out["unit_limit"].tolist() == [1, 6, 6, 1]
    assert out["useful_lifetime_years"].isna().all()


def test_diagnosis_support_cases():
    groups = pd.Series(
        [
            "spinal_orthosis",
            "spinal_orthosis",
            "knee_orthosis",
            None,
            "pap_device",
            "spinal_orthosis",
            "spinal_orthosis",
            "no_such_group",
        ],
        index=list("abcdefgh"),
    )
    diags = pd.Series(
        ["M5450|M170", "Z0000|M5136", "M5450", "M5450", "G4733", "", None, "M5450"],
        index=list("abcdefgh"),
    )
    out = policy.diagnosis_support(groups, diags)
    assert out.index.equals(groups.index)
    assert out.loc["a"].tolist() == [True, True, "M5450"]
    assert out.loc["b"].tolist() == [False, True, "M5136"]
    assert out.loc["c", "primary_supports"] == False  # noqa: E712  back pain on a knee brace
    assert out.loc["c", "any_supports"] == False  # noqa: E712
    assert pd.isna(out.loc["c", "first_supporting_code"])
    assert out.loc["d"].isna().all()  # no group
    assert out.loc["e"].tolist() == [True, True, "G4733"]
    assert out.loc["f", "primary_supports"] == False  # noqa: E712  no diagnosis at all
    assert out.loc["f", "any_supports"] == False  # noqa: E712
    assert out.loc["g"].isna().all()  # diagnoses unknown
    assert out.loc["h"].isna().all()  # group without a rule
    assert str(out["primary_supports"].dtype) == "boolean"


def test_diagnosis_support_fast_on_1m_rows():
    rng = np.random.default_rng(0)
    pool = [
        "|".join(policy.supporting_diagnoses("knee_orthosis", 1, i))
        + "|"
        + "|".join(policy.non_supporting_diagnoses("knee_orthosis", 1, i + 1))
        for i in range(2000)
    ]
    groups = pd.Series(rng.choice(list(GROUPS), 1_000_000)).astype("string")
    diags = pd.Series(rng.choice(pool, 1_000_000)).astype("string")
    t = time.perf_counter()
    out = policy.diagnosis_support(groups, diags)
    assert time.perf_counter() - t < 10
    knee = (groups == "knee_orthosis").to_numpy()
    assert out.loc[knee, "primary_supports"].all()  # supporting code first by construction


@pytest.mark.parametrize("group", GROUPS)
def test_supporting_pools_are_billable_and_match(group):
    prefixes = policy.group_supporting_prefixes()[group]
    rng = np.random.default_rng(42)
    good = policy.supporting_diagnoses(group, 300, rng)
    bad = policy.non_supporting_diagnoses(group, 300, rng)
    anybad = policy.non_supporting_diagnoses(group, 100, rng, related=False)
    assert len(good) == 300 and len(bad) == 300
    for c in good:
        assert cm.is_valid_item(c) and cm.is_leaf(c) and c.startswith(prefixes), c
    for c in bad + anybad:
        assert cm.is_valid_item(c) and cm.is_leaf(c) and not c.startswith(prefixes), c
    # drawn diagnoses really are judged (non-)supporting by diagnosis_support
    out = policy.diagnosis_support(pd.Series([group] * 600), pd.Series(good + bad))
    assert out["primary_supports"].tolist() == [True] * 300 + [False] * 300


def test_pools_reproducible_and_unknown_group():
    assert policy.supporting_diagnoses("spinal_orthosis", 20, 7) == policy.supporting_diagnoses(
        "spinal_orthosis", 20, 7
    )
    with pytest.raises(ValueError, match="unknown policy group"):
        policy.supporting_diagnoses("nope", 1, 0)


def test_malformed_table_is_refused(tmp_path, monkeypatch):
    text = (reference.reference_dir() / "policy_table.csv").read_text()
    (tmp_path / "policy_table.csv").write_text(text.replace(",unknown,", ",maybe,", 1))
    monkeypatch.setenv(reference.ENV_VAR, str(tmp_path))
    with pytest.raises(ValueError, match="sided|custom_fabricated"):
        policy.load_policy_table()
