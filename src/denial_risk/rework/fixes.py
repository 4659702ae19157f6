"""What to correct on a denied line, in the worklist's words, where it can still be done after delivery.

The rework queue's `action_text` names the rule's action; for a corrected claim, a
reopening or an appeal it then lists the remedies `biller.remedies` finds truthful for
the line (the same masks the worklist's fixes use) and that fit both the denial (the
remedy removes that CARC) and the action:

* a reopening corrects clerical data only: not KX, GA, GY or GZ, and no documents
  (domain.md, "Reworking a denial"), so `add_kx` / `remove_kx` and attachments are for an
  appeal or a corrected claim;
* after delivery, prior authorization cannot be obtained (plans do not authorise
  retroactively: domain.md), so `obtain_prior_auth` is never listed;
* a document is attached only if it is on file (an order written after delivery does not
  make the item payable): an unknown document is listed "if it is on file".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.biller.remedies import REMEDIES, candidates
from denial_risk.biller.wording import REMEDY_TEXT
from denial_risk.contract.facts import LineFacts

_CORRECTIONS = ("corrected_claim", "reopening", "appeal")
_NOT_IN_A_REOPENING = ("corrected_claim", "appeal")
ALLOWED = {  # remedy -> the actions it can be part of after delivery
    "add_side": _CORRECTIONS,
    "split_rtlt": _CORRECTIONS,
    "add_cg": _CORRECTIONS,
    "add_purchase_modifier": _CORRECTIONS,
    "rr_to_nu": _CORRECTIONS,
    "primary_dx": _CORRECTIONS,
    "drop_invalid_dx": _CORRECTIONS,
    "correct_ordering_npi": _CORRECTIONS,
    "verify_eligibility": ("corrected_claim",),
    "add_kx": _NOT_IN_A_REOPENING,
    "remove_kx": _NOT_IN_A_REOPENING,
    **{
        f"attach:{d}": _NOT_IN_A_REOPENING
        for d in (
            "has_prescription",
            "has_progress_notes",
            "has_medical_necessity_letter",
            "has_proof_of_delivery",
            "has_measurements",
        )
    },  # fmt: skip
    "attach_face_to_face": ("appeal",),
}
GENERIC = {  # the worklist's templated texts, without the line's values
    "primary_dx": "put the diagnosis that supports the item first",
    "drop_invalid_dx": "correct or remove the invalid diagnosis codes",
}
ON_FILE = " (if it is on file)"


def _text(name: str, unknown: bool) -> str:
    text = GENERIC.get(name, REMEDY_TEXT[name])
    return text + (ON_FILE if unknown and name.startswith("attach:") else "")


def line_fixes(denied: pd.DataFrame, actions: pd.Series, carcs: list[str]) -> list[str]:
    """Per denied line (normalised, aligned with `actions` and `carcs`): the fixes, `; `-joined, or ""."""
    if denied.empty:
        return []
    clean = denied.reset_index(drop=True)
    cand = candidates(clean, LineFacts.of(clean))
    acts = actions.to_numpy(dtype=object)
    out = [[] for _ in range(len(clean))]
    for name, allowed in ALLOWED.items():
        hits = np.flatnonzero(cand.applies(name) & np.isin(acts, allowed))
        for i in hits:
            if carcs[i] in REMEDIES[name].carcs:
                out[i].append(_text(name, bool(cand.unknown[name][i]) and not bool(cand.present[name][i])))
    return ["; ".join(f) for f in out]
