"""The world's fixed facts: payers and what each requires, rule changes, the line mix, causes of denial.

Facts with a public source say so (CARC/RARC wording from X12; Medicare rules from
`contract.rules`, the same dated rules the product uses); the rest is project
judgement, chosen to make the world at least as hard as real data on one point:
what a payer requires is not what a generic table says (payer-specific prior
authorization and document requirements, rules that change mid-period), and careful
suppliers do everything at once (documentation habits go with supplier quality).
The mechanism that uses these facts is described in `simulate`'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

TRUTH_COLUMN = "true_denial_probability"

# First-pass denial rates by payer type. Published figures are for hospital systems' whole claims
# (Premier survey, 2022 data: Medicare 8.4 %, Medicare Advantage 15.7 %, commercial 13.9 %,
# Medicaid 16.7 %); no public source gives first-pass line denial rates for DME suppliers, so the
# world keeps these as its calibration targets (docs/domain.md says so). The CERT improper payment
# rate for DMEPOS (28.6 % in 2021) is a post-payment review figure, not a first-pass denial rate.
TARGET_DENIAL_RATES = {
    "medicare": 0.084,
    "medicare_advantage": 0.157,
    "commercial": 0.139,
    "medicaid": 0.167,
}
PAYER_TYPE_ORDER = ("medicare", "medicare_advantage", "commercial", "medicaid")
# Base logit per payer type (PAYER_TYPE_ORDER): solved once (`mechanism.solve_base`) on a reference
# draw of 400k lines over 2024-01..2026-06 so that the mean truth per type is its target rate; a
# constant of the world, so every seed draws from the same world (re-solve with
# scripts/solve_base.py after changing the mechanism).
BASE_LOGIT = (-4.980, -3.659, -3.674, -3.822)

ORTHOSES = ("spinal_orthosis", "knee_orthosis", "ankle_foot_orthosis", "upper_limb_orthosis")
RENTAL_GROUPS = ("pap_device", "hospital_bed", "manual_wheelchair")
SIDED_BY_RULE = ("knee_orthosis", "ankle_foot_orthosis")  # RT/LT required (policy articles A52465, A52457)


@dataclass(frozen=True)
class Payer:
    payer_id: str
    payer_type: str
    share: float  # share of patients
    filing_limit_days: int
    prior_auth_groups: tuple[str, ...] = ()  # what this payer requires prior authorization for
    strictness: float = 0.0  # logit offset on top of the payer type's base
    requires_purchase_modifier: bool = False  # NU/RR on every line with a policy
    kx_like_medicare: bool = False  # an MA plan that applies Medicare's KX list (MA plans are free not to)
    documents_added: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group -> more documents
    documents_dropped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group -> not required


SPINE_KNEE_BEDS = ("spinal_orthosis", "knee_orthosis", "pap_device", "hospital_bed", "manual_wheelchair")

# Medicare fee-for-service (the two DME MACs) requires prior authorization by the dated Required Prior
# Authorization List (`contract.rules`), not by group. The other payers' lists are project judgement:
# MCD402 requires it for canes and walkers, which no generic table lists; COM303 does not require it for
# knee orthoses, which a generic table would call "commonly required".
PAYERS: tuple[Payer, ...] = (
    Payer("MCRJB", "medicare", 0.18, 365),
    Payer("MCRJD", "medicare", 0.17, 365, strictness=0.15),
    Payer("MA101", "medicare_advantage", 0.12, 365, SPINE_KNEE_BEDS, -0.1),
    Payer(
        "MA202",
        "medicare_advantage",
        0.08,
        180,
        (*ORTHOSES, *RENTAL_GROUPS),
        0.2,
        kx_like_medicare=True,
        documents_added={"knee_orthosis": ("has_medical_necessity_letter",)},
    ),
    Payer("COM301", "commercial", 0.12, 180, ("spinal_orthosis", "hospital_bed", "manual_wheelchair")),
    Payer("COM302", "commercial", 0.09, 90, (*ORTHOSES, *RENTAL_GROUPS), 0.25),
    Payer(
        "COM303",
        "commercial",
        0.08,
        365,
        ("spinal_orthosis", "pap_device"),
        -0.2,
        documents_dropped={"spinal_orthosis": ("has_medical_necessity_letter",)},
    ),
    Payer("MCD401", "medicaid", 0.07, 365, (*ORTHOSES, *RENTAL_GROUPS)),
    Payer(
        "MCD402",
        "medicaid",
        0.06,
        90,
        (*ORTHOSES, *RENTAL_GROUPS, "walker_cane"),
        0.2,
        requires_purchase_modifier=True,
    ),
    Payer("MCD403", "medicaid", 0.03, 180, ("hospital_bed", "manual_wheelchair", "pap_device"), -0.1),
)
PAYER_IDS = tuple(p.payer_id for p in PAYERS)


@dataclass(frozen=True)
class PolicyChange:
    payer_id: str
    kind: str  # "prior_auth_added" / "prior_auth_dropped" (a group) or "filing_limit" (new limit)
    policy_group: str | None = None
    filing_limit_days: int | None = None
    description: str = ""


# Payer changes at `policy_change_date` (the period's middle month). Medicare's own dated changes come
# from `contract.rules` on their published dates.
POLICY_CHANGES: tuple[PolicyChange, ...] = (
    PolicyChange(
        "COM301",
        "prior_auth_added",
        policy_group="knee_orthosis",
        description="COM301 requires prior authorisation for knee orthoses from the change date",
    ),
    PolicyChange(
        "MA202",
        "prior_auth_dropped",
        policy_group="upper_limb_orthosis",
        description="MA202 stops requiring prior authorisation for upper-limb orthoses from the change date",
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
    "L0650", "L0648", "L0637", "L0457", "L0631", "L0627", "L0625", "L0456", "L0639", "L0454", "L0651",
    "L1833", "L1851", "L1832", "L1820", "L1812", "L1830", "L1845", "L1843", "L1852",
    "L1906", "L1902", "L1971", "L1932", "L1960", "L1951",
    "L3916", "L3908", "L3809", "L3807", "L3762", "L3670",
    "A7030", "A7034", "A7035", "A7037", "A7038", "A7032", "A7031",
    "E0100", "E0105", "E0135", "E0143", "E0114",
    "E0260", "E0255", "E0250", "K0001", "K0003", "K0004", "E0601",
)  # fmt: skip

INVALID_HCPCS = (("L0620", "invalid_hcpcs", 0.8), ("LO627", "malformed_hcpcs", 0.2))
INVALID_DIAGNOSES = ("M48X", "M54", "M545", "M17", "S83", "G47", "M5450X")
# Billable comorbidities that support none of the policy groups (checked at build time).
COMORBIDITIES = ("I10", "E785", "E119", "K219", "E039", "F329", "E669", "Z794", "N400", "M810",
                 "Z87891", "I2510", "E559", "H409", "R739")  # fmt: skip


@dataclass(frozen=True)
class Cause:
    """A cause of denial: its claim adjustment (group-CARC), remark codes, logit effect, when it applies."""

    carc: str
    remarks: tuple[str, ...]
    effect: float
    when: str


# Causes read from the line itself (RARC/CARC wording: X12; which remit a DME MAC sends: the sources
# in docs/domain.md; effects: project judgement).
DEFECTS: dict[str, Cause] = {
    "invalid_hcpcs": Cause("CO-181", ("M51",), 6.5, "not valid on the date of service (L0620)"),
    "malformed_hcpcs": Cause("CO-16", ("M51", "MA130"), 6.5, "not a code at all (LO627)"),
    "invalid_diagnosis": Cause("CO-16", ("M76", "MA130"), 3.0, "an ICD-10-CM code invalid/not billable"),
    "diagnosis_not_supporting": Cause("CO-11", (), 2.2, "no listed diagnosis supports the item"),
    "primary_not_supporting": Cause("CO-11", (), 1.2, "the primary does not support it, another does"),
    "missing_side": Cause("CO-4", ("N822", "MA130"), 2.3, "knee or ankle-foot orthosis without RT/LT"),
    "rtlt_one_line": Cause("CO-4", ("MA130",), 2.3, "Medicare: RT+LT on one line (since 2019-03-01)"),
    "both_sides_one_unit": Cause("CO-4", (), 1.8, "other payers: RT and LT on one line of one unit"),
    "missing_kx": Cause("CO-4", (), 2.5, "Medicare KX list (MA202: 1.8), no KX/GA/GZ"),
    "kx_with_ga_gz": Cause("CO-4", (), 2.0, "KX on the same line as GA or GZ"),
    "missing_cg": Cause("CO-4", ("N822", "MA130"), 2.3, "Medicare's CG garments (rules.py) without CG"),
    "ga_abn_on_file": Cause("PR-50", ("M38",), 2.8, "GA: expected denial, ABN signed (patient owes)"),
    "gz_no_abn": Cause("CO-50", (), 2.8, "GZ: expected denial, no ABN"),
    "rental_modifier_on_purchase": Cause("CO-4", (), 1.5, "RR on an orthosis (purchase-only item)"),
    "missing_purchase_modifier": Cause("CO-4", ("N822",), 1.5, "no NU/RR where the payer wants one"),
    "late_filing": Cause("CO-29", (), 6.0, "filed after the payer's limit"),
    "units_over_limit": Cause("CO-151", ("N362",), 2.2, "units above the policy's limit"),
    "same_or_similar": Cause("CO-119", ("M86",), 2.2, "same item and side in its 5-year life, no RA"),
    "facility_setting": Cause("CO-97", (), 1.8, "inpatient (21), or SNF (31) for Medicare/MA"),
    "invalid_ordering_npi": Cause("CO-16", ("N265", "MA130"), 3.0, "ordering NPI fails its check digit"),
    "order_after_delivery": Cause("CO-50", (), 2.5, "Medicare WOPD list: order signed after delivery"),
    "order_after_claim": Cause("CO-50", (), 2.0, "order signed after the claim was sent"),
    "face_to_face_not_qualifying": Cause("CO-50", (), 2.5, "F2F list: visit after or >6 months before"),
}  # fmt: skip
# Medicare DME MACs deny a same-or-similar item as CO-151 with M3 (sometimes with M25), not CO-50
# (the project's source check, 2026-12-04; Noridian, Resolving and Avoiding Denials for Same or Similar).
SAME_OR_SIMILAR_MEDICARE = ("CO-151", ("M3",))
MISSING_KX_MA_EFFECT = 1.8

# Documents: logit effect when the payer expects it and it is not on file.
DOC_CAUSES: dict[str, Cause] = {
    "has_prescription": Cause("CO-16", ("N517",), 2.0, "no standard written order on file"),
    "has_medical_necessity_letter": Cause("CO-50", (), 1.2, "no letter of medical necessity"),
    "has_progress_notes": Cause("CO-50", (), 1.3, "no treating practitioner's notes"),
    "has_measurements": Cause("CO-16", (), 1.6, "custom-fabricated item without body measurements"),
    "has_proof_of_delivery": Cause("CO-16", (), 1.6, "no signed proof of delivery"),
    "has_prior_auth": Cause("CO-197", (), 3.0, "no prior authorization where the payer requires it"),
}
# Medicare relies on the medical record rather than a letter (project judgement): a missing letter
# matters little there.
LMN_MULTIPLIER = {"medicare": 0.15, "medicare_advantage": 0.8, "commercial": 1.2, "medicaid": 1.2}
DOC_FLAGS = tuple(DOC_CAUSES)  # the flags that matter, in enumeration order
ALL_FLAGS = (*DOC_FLAGS, "has_photos")  # photos are recorded but never matter (a distractor)

# Causes the table cannot show, drawn per claim: the line's truth is their expectation.
ELIGIBILITY = Cause("CO-31", (), 4.0, "patient not found / not covered on the date (unverified eligibility)")
ELIGIBILITY_PROBLEM_RATE = {
    "medicare": 0.03,
    "medicare_advantage": 0.06,
    "commercial": 0.05,
    "medicaid": 0.12,
}
NO_FACE_TO_FACE = Cause("CO-50", (), 2.5, "Medicare F2F list: no qualifying visit on record")

BACKGROUND_REASONS = {
    "medicare": {"CO-16": 0.35, "CO-50": 0.25, "CO-11": 0.10, "CO-4": 0.10, "OA-18": 0.10, "CO-97": 0.05,
                 "CO-151": 0.05},
    "other": {"CO-16": 0.30, "CO-50": 0.20, "CO-197": 0.10, "CO-11": 0.10, "CO-4": 0.10, "OA-18": 0.10,
              "CO-97": 0.05, "CO-151": 0.05},
}  # fmt: skip
BACKGROUND_REMARKS = {"CO-16": ("N517",), "OA-18": ()}
PAYMENT = {  # payer type -> (allowed / fee, paid / allowed)
    "medicare": (1.00, 0.80),
    "medicare_advantage": (0.95, 0.85),
    "commercial": (1.15, 0.80),
    "medicaid": (0.75, 1.00),
}
PLACES_OF_SERVICE = (("12", 0.86), ("11", 0.05), ("13", 0.03), ("31", 0.03), ("32", 0.02), ("21", 0.01))
N_SUPPLIERS = 60
WORLD_SEED = 20240101  # the suppliers are the world's, not the draw's: every seed meets the same 60
MODIFIER_ORDER = ("NU", "RR", "KH", "KI", "KJ", "RT", "LT", "KX", "CG", "RA", "GA", "GZ", "99")
MODIFIER_BIT = {m: 1 << i for i, m in enumerate(MODIFIER_ORDER)}  # a line's modifiers as one bit mask
LIFETIME_DAYS = 5 * 365  # reasonable useful lifetime (Noridian, Replacement: no less than 5 years)


def policy_change_date(start: str = "2024-01-01", months: int = 24) -> pd.Timestamp:
    """The date the `POLICY_CHANGES` take effect: the first day of the period's middle month."""
    return pd.Timestamp(start).normalize() + pd.DateOffset(months=max(1, months // 2))
