"""The claim table contract (docs/claims.md) as constants.

Every module names columns through here, so the contract lives in one place.
The *normalised* frame that `normalize.normalize_chunk` returns has these
dtypes; features, the simulator and the model all read that frame, never raw
strings.
"""

from __future__ import annotations

REQUIRED = (
    "claim_id",
    "service_date",
    "payer_type",
    "hcpcs_code",
    "modifiers",
    "diagnosis_codes",
    "billed_amount",
)

BOOLEAN_FLAGS = (
    "has_prescription",
    "has_medical_necessity_letter",
    "has_progress_notes",
    "has_measurements",
    "has_photos",
    "has_proof_of_delivery",
    "has_prior_auth",
)

OPTIONAL = (
    "line_number",
    "patient_id",
    "provider_id",
    "payer_id",
    "submission_date",
    "units",
    "place_of_service",
    *BOOLEAN_FLAGS,
    "prior_same_code_12m",
    "eligibility_verified",
    "ordering_npi",
    "order_date",
    "face_to_face_date",
)

LABELS = ("denied", "denial_reason", "paid_amount")
# Labels a training table may carry but need not: the remittance's remark codes (RARCs,
# line then claim, `|`-joined), read from 835s by `ingest-x12`.
OPTIONAL_LABELS = ("remark_codes",)

# Known only after adjudication (or only to the simulator): never features.
OUTCOME_COLUMNS = (*LABELS, *OPTIONAL_LABELS, "true_denial_probability")

# Never features by themselves (identifiers; PHI-like for patient_id).
IDENTIFIER_COLUMNS = ("claim_id", "line_number", "patient_id")

ADDED = (
    "denial_probability",
    "expected_loss",
    "risk_rank",
    "risk_tier",
    "top_reasons",
    "recommended_actions",
    "likely_denial_codes",
)


def scored_columns_in(columns) -> list[str]:
    """Input columns named like the added ones (a scored file scored again): the new score replaces
    them, on the local and the Spark engine alike, and `score` says so in one warning."""
    return [c for c in columns if c in ADDED]


PAYER_TYPES = ("medicare", "medicare_advantage", "medicaid", "commercial", "other")
MEDICARE_TYPES = ("medicare", "medicare_advantage")  # Medicare fee-for-service and Part C

DATE_COLUMNS = ("service_date", "submission_date", "order_date", "face_to_face_date")
STRING_COLUMNS = (
    "claim_id",
    "patient_id",
    "provider_id",
    "payer_id",
    "place_of_service",
    "payer_type",
    "hcpcs_code",
    "modifiers",
    "diagnosis_codes",
    "ordering_npi",
    "denial_reason",
    "remark_codes",
)
INTEGER_COLUMNS = ("line_number", "units", "prior_same_code_12m")
DECIMAL_COLUMNS = ("billed_amount", "paid_amount")
BOOLEAN_COLUMNS = (*BOOLEAN_FLAGS, "eligibility_verified", "denied")

# Normalised dtypes (pandas). Missing stays missing: <NA> / NaT / NaN.
NORMALISED_DTYPES = {
    **{c: "string" for c in STRING_COLUMNS},
    **{c: "datetime64[ns]" for c in DATE_COLUMNS},
    **{c: "Int64" for c in INTEGER_COLUMNS},
    **{c: "float64" for c in DECIMAL_COLUMNS},
    **{c: "boolean" for c in BOOLEAN_COLUMNS},
    "true_denial_probability": "float64",
}

# What a person reads of a worklist line, in order (the `score --top` table, the HTML report).
READ_COLUMNS = (
    "claim_id",
    "line_number",
    "hcpcs_code",
    "payer_type",
    "billed_amount",
    "denial_probability",
    "expected_loss",
    "risk_tier",
    "top_reasons",
    "recommended_actions",
)

# Separator used inside normalised multi-valued columns (modifiers, diagnoses, remark codes).
LIST_SEP = "|"

RISK_TIERS = ("high", "medium", "low")
# the claim worklist `<out>.claims.<ext>` (docs/claims.md, "The claim worklist"), in this order
CLAIM_COLUMNS = (
    "claim_id",
    "payer_id",
    "payer_type",
    "first_service_date",
    "lines",
    "billed_amount",
    "claim_denial_probability",
    "expected_loss",
    "claim_rank",
    "risk_tier",
    "lines_at_risk",
    "top_reasons",
    "recommended_actions",
)


def rejects_path_for(out_path: str, part: str = "rejects") -> str:
    """`worklist.csv` -> `worklist.rejects.csv` (the contract's rejects file; `part="claims"`: the claim
    worklist beside it, `worklist.claims.csv`)."""
    from pathlib import Path

    p = Path(out_path)
    suffixes = "".join(p.suffixes[-1:])
    return str(p.with_name(p.name[: len(p.name) - len(suffixes)] + f".{part}" + suffixes))


def claims_path_for(out_path: str) -> str:
    """`worklist.csv` -> `worklist.claims.csv` (the claim worklist)."""
    return rejects_path_for(out_path, "claims")
