"""The rework world: what a billing team does with the simulated denials, and what the payer pays then.

`synth.rework_team.simulate_rework(rows, seed)` draws the claims exactly as `simulate_claims` does (the
same lines, the same denials), then, from its own random stream:

* each claim's remit date (`adjudication_date`): its submission plus the payer's
  turnaround;
* each denied line's true cause, drawn from its posterior given what the remit shows:
  the causes active on the line whose CARC and remarks are the ones sent, weighted as
  the world weighted them when it chose the reason (`mechanism.draw_reasons`), or the
  background;
* the team: it works a share of the denials, with the rules' action most of the time
  and another otherwise, after a delay; a deadline missed pays nothing;
* the outcome: paid with the probability `RECOVERY` gives the true cause under the
  action taken (fixable causes fixed by the right action are paid; unfixable ones are
  not, whatever is done; project judgement), at the amount the payer pays for the line.

`rework_team.history_table(world)` is the labelled table after the rework, with the links
`ingest-x12` makes from the X12 (`x12.links`) and the team's own log (`rework_attempted`);
`rework_team.write_rework_x12` writes the same story as 837/835 files (reversals,
replacement claims, resubmissions). `true_recovery` judges any action for any denied
line: the oracle of `benchmarks/bench_rework.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.rework import rules
from denial_risk.synth.catalog import _catalog
from denial_risk.synth.mechanism import _cause_codes
from denial_risk.synth.oracle import LATENTS
from denial_risk.synth.world import BACKGROUND_REASONS, BACKGROUND_REMARKS, PAYMENT

REWORK_STREAM = 22  # the rework's random stream is (seed, 22): the claims' draws are untouched
BACKGROUND = "background"

_CLERICAL = {"corrected_claim": 0.85, "reopening": 0.85, "appeal": 0.55}
_DOCUMENTS = {"appeal": 0.6, "corrected_claim": 0.45, "reopening": 0.1}
_LOST = {"corrected_claim": 0.03, "reopening": 0.03, "appeal": 0.03}
# P(paid after the action | the true cause): project judgement. Coding and data errors are fixed
# by a correction (or a reopening); missing documents that exist somewhere by an appeal with them;
# what the record cannot change (GZ, late filing, an order after delivery) is not fixed by anything.
RECOVERY: dict[str, dict[str, float]] = {
    **{
        c: _CLERICAL
        for c in (
            "invalid_hcpcs",
            "malformed_hcpcs",
            "invalid_diagnosis",
            "primary_not_supporting",
            "missing_side",
            "rtlt_one_line",
            "both_sides_one_unit",
            "missing_cg",
            "rental_modifier_on_purchase",
            "missing_purchase_modifier",
            "invalid_ordering_npi",
        )
    },
    "units_over_limit": {"corrected_claim": 0.6, "reopening": 0.6, "appeal": 0.45},
    "missing_kx": {"appeal": 0.6, "corrected_claim": 0.5, "reopening": 0.05},
    "kx_with_ga_gz": {"appeal": 0.3, "corrected_claim": 0.5, "reopening": 0.05},
    "diagnosis_not_supporting": {"appeal": 0.35, "corrected_claim": 0.3, "reopening": 0.3},
    "ga_abn_on_file": {"bill_patient": 0.6, "appeal": 0.05},
    "same_or_similar": {"appeal": 0.25, "corrected_claim": 0.05, "reopening": 0.05},
    "has_medical_necessity_letter": _DOCUMENTS,
    "has_progress_notes": {"appeal": 0.55, "corrected_claim": 0.4, "reopening": 0.1},
    "has_proof_of_delivery": {"appeal": 0.7, "corrected_claim": 0.55, "reopening": 0.2},
    "has_measurements": {"appeal": 0.3, "corrected_claim": 0.3, "reopening": 0.05},
    "has_prescription": {"appeal": 0.2, "corrected_claim": 0.15, "reopening": 0.05},
    "eligibility": {"corrected_claim": 0.45, "appeal": 0.1, "reopening": 0.1},
    "face_to_face": {"appeal": 0.15, "corrected_claim": 0.05, "reopening": 0.05},
    **{
        c: _LOST
        for c in (
            "gz_no_abn",
            "late_filing",
            "facility_setting",
            "order_after_delivery",
            "order_after_claim",
            "face_to_face_not_qualifying",
            "has_prior_auth",
        )
    },
    BACKGROUND: {"corrected_claim": 0.5, "reopening": 0.5, "appeal": 0.45},
}
UNLISTED_ACTION = 0.03  # an action the cause's row does not name


@dataclass(frozen=True)
class Team:
    """How a billing team works its denials (project judgement)."""

    work_share: float = 0.75  # of the denials it could work
    right_action: float = 0.85  # takes the rules' action; otherwise another
    delay_median_days: float = 45.0  # from the remit to the action (log-normal)
    delay_sigma: float = 0.8
    turnaround_days: tuple[int, int] = (7, 35)  # the payer's, from submission to remit
    resolution_days: tuple[int, int] = (20, 60)  # from the action to the new remit


def true_recovery(cause: np.ndarray, actions) -> np.ndarray:
    """The world's P(paid after `actions`) for lines whose true causes are `cause`."""
    out = np.zeros(len(cause))
    for i, (c, a) in enumerate(zip(cause, actions, strict=True)):
        if a == "no_rework" or not c:
            continue
        out[i] = RECOVERY.get(c, RECOVERY[BACKGROUND]).get(a, UNLISTED_ACTION)
    return out


def payable(frame: pd.DataFrame) -> np.ndarray:
    """What the payer pays for each line when it pays: the code's fee x units x the payer type's share."""
    cat = _catalog()
    fee = dict(zip(cat.codes, cat.fee, strict=True))
    share = {t: a * p for t, (a, p) in PAYMENT.items()}
    f = frame["hcpcs_code"].map(fee).astype("float64")
    units = frame["units"].astype("Float64").fillna(1).to_numpy(dtype=float)
    s = frame["payer_type"].map(share).astype("float64").fillna(0.8).to_numpy()
    billed = frame["billed_amount"].to_numpy(dtype=float)
    amount = np.where(np.isnan(f.to_numpy()), billed / 1.9 * s, f.to_numpy() * units * s)
    return np.round(np.minimum(amount, billed), 2)


def _remarks(values) -> np.ndarray:
    return np.array(["" if v is None or pd.isna(v) else str(v) for v in values], dtype=object)


def denial_causes(frame: pd.DataFrame, details: dict, rng: np.random.Generator) -> np.ndarray:
    """Each denied line's true cause, drawn from its posterior given the CARC and remarks sent."""
    rows = np.flatnonzero(frame["denied"].fillna(False).to_numpy(dtype=bool))
    carc = frame["denial_reason"].to_numpy(dtype=object)[rows]
    rem = _remarks(frame["remark_codes"].to_numpy(dtype=object)[rows])
    medicare = (frame["payer_type"].to_numpy(dtype=object)[rows] == "medicare").astype(bool)
    effects = details["causes"]
    latent = details["latent_e"] * ~details["fine"]
    names = [*effects.columns, *LATENTS]
    weights = []
    for j, name in enumerate(names):
        e = effects[name].to_numpy()[rows] if j < effects.shape[1] else latent[rows, j - effects.shape[1]]
        c, r = _cause_codes(name, medicare)
        weights.append(np.expm1(np.maximum(e, 0.0)) * ((c == carc) & (r == rem)))
    bg = np.zeros(len(rows))
    for i, (code, r, ptype) in enumerate(zip(carc, rem, frame["payer_type"].to_numpy(dtype=object)[rows])):
        mix = BACKGROUND_REASONS.get(ptype, BACKGROUND_REASONS["other"])
        if r == schema.LIST_SEP.join(BACKGROUND_REMARKS.get(code, ())):
            bg[i] = mix.get(code, 0.0) / sum(mix.values())
    w = np.stack([*weights, bg], axis=1)
    w[w.sum(axis=1) == 0, -1] = 1.0
    cum = np.cumsum(w, axis=1)
    pick = np.minimum((cum < (rng.random(len(rows)) * cum[:, -1])[:, None]).sum(axis=1), w.shape[1] - 1)
    out = np.full(len(frame), "", dtype=object)
    out[rows] = np.array([*names, BACKGROUND], dtype=object)[pick]
    return out


@dataclass
class ReworkWorld:
    frame: pd.DataFrame  # the claims as first adjudicated, with `adjudication_date`
    cause: np.ndarray  # per line: the true cause of its denial ("" when paid)
    payable: np.ndarray  # per line: what the payer pays when it pays
    work: pd.DataFrame  # per denied line (frame index): the rules' and the team's actions, dates, outcome
    team: Team = field(default_factory=Team)


def rules_actions(frame: pd.DataFrame) -> pd.DataFrame:
    """The rules' decision for each denied line on the day its remit came (nothing has passed yet)."""
    out = []
    for row in frame.to_dict("records"):
        facts = rules.line_facts(row)
        d = rules.decide(facts, pd.Timestamp(row["adjudication_date"]))
        out.append({"rule_action": d.rule_action, "deadline": d.deadline})
    return pd.DataFrame(out, index=frame.index, columns=["rule_action", "deadline"])
