"""The world's fixed facts: payers and their rules, policy changes, the line mix, defects, documents, payment.

Numbers from ../shared/domain.md where a comment says so; the rest is project judgement.
The mechanism that uses them is described in `simulate`'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

TRUTH_COLUMN = "true_denial_probability"

TARGET_DENIAL_RATES = {  # domain.md (Premier survey, 2022 data)
    "medicare": 0.084,
    "medicare_advantage": 0.157,
    "commercial": 0.139,
    "medicaid": 0.167,
}
PAYER_TYPE_ORDER = ("medicare", "medicare_advantage", "commercial", "medicaid")

ORTHOSES = ("spinal_orthosis", "knee_orthosis", "ankle_foot_orthosis", "upper_limb_orthosis")
ALL_PA_GROUPS = (*ORTHOSES, "pap_device", "hospital_bed", "manual_wheelchair")
RENTAL_GROUPS = ("pap_device", "hospital_bed", "manual_wheelchair")

# CMS Required Prior Authorization List, DMEPOS orthoses (project reading; not in domain.md).
MEDICARE_PRIOR_AUTH_CODES = ("L0648", "L0650", "L1832", "L1833", "L1851")


@dataclass(frozen=True)
class Payer:
    payer_id: str
    payer_type: str
    share: float  # share of patients
    filing_limit_days: int
    prior_auth_groups: tuple[str, ...] = ()
    prior_auth_codes: tuple[str, ...] = ()
    strictness: float = 0.0  # logit offset on top of the payer type's base
    requires_purchase_modifier: bool = False


PAYERS: tuple[Payer, ...] = (
    Payer("MCRJB", "medicare", 0.18, 365, (), MEDICARE_PRIOR_AUTH_CODES, 0.0),
    Payer("MCRJD", "medicare", 0.17, 365, (), MEDICARE_PRIOR_AUTH_CODES, 0.15),
    Payer(
        "MA101",
        "medicare_advantage",
        0.12,
        365,
        ("spinal_orthosis", "knee_orthosis", "pap_device", "hospital_bed", "manual_wheelchair"),
        (),
        -0.1,
    ),
    Payer("MA202", "medicare_advantage", 0.08, 180, ALL_PA_GROUPS, (), 0.2),
    Payer(
        "COM301", "commercial", 0.12, 180, ("spinal_orthosis", "hospital_bed", "manual_wheelchair"), (), 0.0
    ),
    Payer("COM302", "commercial", 0.09, 90, ALL_PA_GROUPS, (), 0.25),
    Payer("COM303", "commercial", 0.08, 365, ("spinal_orthosis", "pap_device"), (), -0.2),
    Payer(
        "MCD401",
        "medicaid",
        0.07,
        365,
        (
            "spinal_orthosis",
            "knee_orthosis",
            "ankle_foot_orthosis",
            "upper_limb_orthosis",
            "hospital_bed",
            "manual_wheelchair",
            "pap_device",
        ),
        (),
        0.0,
    ),
    Payer("MCD402", "medicaid", 0.06, 90, ALL_PA_GROUPS, (), 0.2, requires_purchase_modifier=True),
    Payer("MCD403", "medicaid", 0.03, 180, ("hospital_bed", "manual_wheelchair", "pap_device"), (), -0.1),
)


@dataclass(frozen=True)
class PolicyChange:
    payer_id: str
    kind: str  # "prior_auth" (group added to the list) or "filing_limit" (new limit)
    policy_group: str | None = None
    filing_limit_days: int | None = None
    description: str = ""


POLICY_CHANGES: tuple[PolicyChange, ...] = (
    PolicyChange(
        "COM301",
        "prior_auth",
        policy_group="knee_orthosis",
        description="COM301 requires prior authorisation for knee orthoses from the change date",
    ),
    PolicyChange(
        "MCD401",
        "filing_limit",
        filing_limit_days=180,
        description="MCD401 shortens timely filing from 365 to 180 days for services from the change date",
    ),
)

# Share of lines per policy group (a DME/orthotics supplier's mix).
GROUP_SHARES = {
    "spinal_orthosis": 0.28,
    "knee_orthosis": 0.20,
    "ankle_foot_orthosis": 0.12,
    "upper_limb_orthosis": 0.10,
    "pap_device": 0.04,
    "pap_supplies": 0.12,
    "walker_cane": 0.07,
    "hospital_bed": 0.03,
    "manual_wheelchair": 0.04,
}
GROUP_FEES = {  # typical allowed amount per unit, USD (project judgement)
    "spinal_orthosis": 650.0,
    "knee_orthosis": 550.0,
    "ankle_foot_orthosis": 280.0,
    "upper_limb_orthosis": 180.0,
    "pap_device": 95.0,
    "pap_supplies": 35.0,
    "walker_cane": 45.0,
    "hospital_bed": 140.0,
    "manual_wheelchair": 120.0,
}
POPULAR_CODES = (  # drawn more often, in this order within their group
    "L0650",
    "L0648",
    "L0637",
    "L0457",
    "L0631",
    "L0627",
    "L0456",
    "L0639",
    "L1833",
    "L1851",
    "L1832",
    "L1820",
    "L1812",
    "L1830",
    "L1845",
    "L1906",
    "L1902",
    "L1971",
    "L1932",
    "L1960",
    "L3916",
    "L3908",
    "L3809",
    "L3807",
    "L3762",
    "L3670",
    "A7030",
    "A7034",
    "A7035",
    "A7037",
    "A7038",
    "A7032",
    "A7031",
    "E0100",
    "E0105",
    "E0135",
    "E0143",
    "E0114",
    "E0260",
    "E0255",
    "E0250",
    "K0001",
    "K0003",
    "K0004",
    "E0601",
)

INVALID_HCPCS = (("L1320", "invalid_hcpcs", 0.8), ("LO627", "malformed_hcpcs", 0.2))
INVALID_DIAGNOSES = ("M48X", "M54", "M545", "M17", "S83", "G47", "M5450X")
# Billable comorbidities that support none of the policy groups (checked at build time).
COMORBIDITIES = (
    "I10",
    "E785",
    "E119",
    "K219",
    "E039",
    "F329",
    "E669",
    "Z794",
    "N400",
    "M810",
    "Z87891",
    "I2510",
    "E559",
    "H409",
    "R739",
)

DEFECTS = {  # name -> (CARC, logit effect)
    "invalid_hcpcs": ("CO-181", 6.5),
    "malformed_hcpcs": ("CO-16", 6.5),
    "invalid_diagnosis": ("CO-16", 3.0),
    "diagnosis_not_supporting": ("CO-11", 2.2),
    "missing_side": ("CO-4", 2.3),
    "both_sides_one_unit": ("CO-4", 1.8),
    "missing_kx": ("CO-4", 2.5),
    "kx_with_ga_gz": ("CO-4", 2.0),
    "ga_abn_on_file": ("PR-204", 2.8),
    "gz_no_abn": ("CO-50", 2.8),
    "rental_modifier_on_purchase": ("CO-4", 1.5),
    "missing_purchase_modifier": ("CO-4", 1.5),
    "late_filing": ("CO-29", 6.0),
    "units_over_limit": ("CO-151", 2.2),
    "replacement_within_lifetime": ("CO-119", 2.0),
    "facility_setting": ("CO-97", 1.8),
}
MISSING_KX_MA_EFFECT = 1.8
DOC_EFFECTS = {  # flag -> (CARC, logit effect when expected and not on file)
    "has_prescription": ("CO-16", 2.0),
    "has_medical_necessity_letter": ("CO-50", 1.2),
    "has_progress_notes": ("CO-50", 1.3),
    "has_measurements": ("CO-16", 1.6),
    "has_proof_of_delivery": ("CO-16", 1.6),
    "has_prior_auth": ("CO-197", 3.0),
}
LMN_MULTIPLIER = {"medicare": 0.5, "medicare_advantage": 0.8, "commercial": 1.2, "medicaid": 1.2}
DOC_FLAGS = tuple(DOC_EFFECTS)  # the flags that matter, in enumeration order
ALL_FLAGS = (*DOC_FLAGS, "has_photos")
BACKGROUND_REASONS = {
    "medicare": {
        "CO-16": 0.35,
        "CO-50": 0.25,
        "CO-11": 0.10,
        "CO-4": 0.10,
        "CO-18": 0.10,
        "CO-97": 0.05,
        "CO-151": 0.05,
    },
    "other": {
        "CO-16": 0.30,
        "CO-50": 0.20,
        "CO-197": 0.10,
        "CO-11": 0.10,
        "CO-4": 0.10,
        "CO-18": 0.10,
        "CO-97": 0.05,
        "CO-151": 0.05,
    },
}
PAYMENT = {  # payer type -> (allowed / fee, paid / allowed)
    "medicare": (1.00, 0.80),
    "medicare_advantage": (0.95, 0.85),
    "commercial": (1.15, 0.80),
    "medicaid": (0.75, 1.00),
}
PLACES_OF_SERVICE = (("12", 0.86), ("11", 0.05), ("13", 0.03), ("31", 0.03), ("32", 0.02), ("21", 0.01))
N_SUPPLIERS = 60
MODIFIER_ORDER = ("NU", "RR", "KH", "KI", "KJ", "RT", "LT", "KX", "GA", "GZ", "99")
MODIFIER_BIT = {m: 1 << i for i, m in enumerate(MODIFIER_ORDER)}  # a line's modifiers as one bit mask


def policy_change_date(start: str = "2024-01-01", months: int = 24) -> pd.Timestamp:
    """The date the `POLICY_CHANGES` take effect: the first day of the period's middle month."""
    return pd.Timestamp(start).normalize() + pd.DateOffset(months=max(1, months // 2))
