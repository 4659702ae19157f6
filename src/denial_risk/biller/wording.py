"""The words a biller reads, in one place: CARCs, documents, payer types, policy groups, ICD-10 codes.

Reasons, fixes and the HTML report all take their wording from here. A CARC
without a short phrase of our own reads as the first sentence of its X12
description (`reference_data/carc.csv`), so every code has words.
"""

from __future__ import annotations

# Short phrases for the CARCs claim-line denials usually carry (X12 wording, shortened for a worklist).
CARC_WORDS = {
    "4": "procedure inconsistent with modifier, or a required modifier missing",
    "31": "patient cannot be identified as our insured",
    "11": "diagnosis inconsistent with procedure",
    "16": "claim lacks information or has billing errors",
    "18": "exact duplicate claim/service",
    "29": "time limit for filing has expired",
    "50": "not deemed a medical necessity",
    "97": "included in payment for another service",
    "119": "benefit maximum for this period reached",
    "151": "information does not support this many services",
    "181": "procedure code invalid on the date of service",
    "197": "precertification/authorization absent",
    "204": "service not covered under the patient's benefit plan",
    "208": "National Provider Identifier not matched",
}
# Remark codes that change what a biller does next.
UNPROCESSABLE = "MA130"  # returned as unprocessable: correct and send a new claim (no appeal rights)

# Documents a line can have on file (the contract's `has_*` flags), as a biller names them.
DOCUMENT_NAMES = {
    "has_prescription": "standard written order",
    "has_medical_necessity_letter": "letter of medical necessity",
    "has_progress_notes": "treating practitioner's notes",
    "has_proof_of_delivery": "proof of delivery",
    "has_measurements": "body measurements",
    "has_photos": "photos",
}

# What a biller does about each remedy (`biller.remedies`); `{...}` fields are the line's values.
# Nothing here asks for a record written after the fact or a claim the record does not back.
REMEDY_TEXT = {
    "add_side": "add RT or LT (the side fitted)",
    "split_rtlt": "bill the two sides on two lines, RT and LT, one unit each",
    "add_kx": (
        "add KX only if the notes document that the policy's coverage criteria are met"
        " (knee orthoses: an objective instability test, or a recent injury or surgery, LCD L33318)"
    ),
    "remove_kx": "remove KX (it cannot stand with GA/GY/GZ)",
    "add_cg": "add CG if the garment is non-elastic or has a rigid panel (Noridian, policy article A52500)",
    "add_purchase_modifier": "add NU for a purchase or RR for a rental",
    "rr_to_nu": "bill the orthosis as a purchase (NU), not a rental (RR)",
    "primary_dx": "put diagnosis {code} first (it supports the {group})",
    "drop_invalid_dx": "correct or remove diagnosis {codes}",
    "attach:has_prescription": "attach the standard written order (SWO)",
    "attach:has_progress_notes": "attach the treating practitioner's notes",
    "attach:has_medical_necessity_letter": "attach a letter of medical necessity",
    "attach:has_proof_of_delivery": "attach the signed proof of delivery",
    "attach:has_measurements": "attach the body measurements taken at fitting, if they were recorded",
    "obtain_prior_auth": "obtain prior authorization",
    "verify_eligibility": "verify the patient's coverage and member ID for the date of service",
    "correct_ordering_npi": "correct the ordering practitioner's NPI from the written order",
    "attach_face_to_face": (
        "attach the face-to-face visit note, if the visit was within the 6 months before the order"
    ),
    # advice that states the risk it leaves (the rule met), though no edit of the line makes it
    "replace_code": "replace {code} with the valid HCPCS code for the item",
}
UNKNOWN_SUFFIX = " (not recorded as on file)"
FIX_SEP = "; "  # between the fixes (and the reasons) of a line: never inside one
ADVICE_PREFIX = "advice: "  # a fix with no measured effect (no "→ N%"): what to check, not what it is worth
RISK_ARROW = (
    " → "  # a fix and the risk it would leave: `obtain prior authorization → 7%` (line and claim alike)
)
# A feature group's share of the model's risk (`scoring.reasons`): the risk drop, in percentage points,
# when the group's features are set to their typical training values.
DRIVER_POINTS = " (raises the risk by {points:.0f} points)"

PAYER_WORDS = {
    "medicare": "Medicare",
    "medicare_advantage": "Medicare Advantage",
    "medicaid": "Medicaid",
    "commercial": "commercial",
    "other": "this payer",
}

# Wording for a feature group that drives the risk without a finding of its own
# (formatted with the line's values; see `scoring.reasons`).
GROUP_DRIVERS = {
    "payer": "this payer{payer} denies many lines like this",
    "history": "past denials of {code} for this supplier or payer",
    "amount": "the billed amount ({billed}) is unusual for {code}",
    "code": "{code} is often denied",
    "diagnosis": "the diagnosis ({dx}) is often denied with {code}",
    "documentation": "{docs}",
    "record": "the record's eligibility, order or visit details",
    "timing": "the filing timing ({lag})",
    "modifiers": "the modifiers on the line ({mods})",
    "extra": "the extra columns",
}


def carc_number(carc: str) -> str:
    """`CO-16` -> `16`; a bare number stays as it is."""
    return str(carc).split("-", 1)[-1]


def carc_words(carc: str) -> str:
    """A CARC (`CO-50` or `50`) in a few words: our phrase, else its X12 description's first sentence."""
    num = carc_number(carc)
    if num in CARC_WORDS:
        return CARC_WORDS[num]
    from denial_risk.contract import reference

    text = reference.carc_descriptions().get(num, "")
    text = text.split(". ")[0].rstrip(".")
    return text[:70].lower() if text else "denial reason"


RARC_WORDS = {  # the remark codes a DME biller meets most, in a few words (X12 RARC list)
    "MA130": "returned as unprocessable: correct and resubmit, no appeal",
    "M38": "the patient may be billed (ABN on file)",
    "M86": "same or similar equipment already paid",
    "M3": "equipment is the same or similar to equipment already being used",
    "N517": "resubmit with the missing documentation",
    "N265": "missing or invalid ordering provider identifier",
    "N362": "units exceed the acceptable maximum",
    "M51": "missing, incomplete or invalid procedure code",
}


def rarc_words(rarc: str) -> str:
    """A RARC in a few words: our phrase, else its X12 description's first sentence."""
    if rarc in RARC_WORDS:
        return RARC_WORDS[rarc]
    from denial_risk.contract import reference

    text = reference.rarc_descriptions().get(rarc, "").split(". ")[0].rstrip(".")
    return text[:70].lower() if text else "remark"


def dotted(code: str) -> str:
    """`M1711` -> `M17.11` (how billers read ICD-10-CM codes)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def group_words(group) -> str:
    """`knee_orthosis` -> `knee orthosis`."""
    return str(group).replace("_", " ") if isinstance(group, str) and group else "item"


def or_list(items: list[str]) -> str:
    """`["a", "b", "c"]` -> `a, b or c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
