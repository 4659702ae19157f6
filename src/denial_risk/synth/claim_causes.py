"""The opt-in claim-level cause: a claim returned whole (`simulate_claims(..., shared_claim_causes=True)`).

A payer rejects a claim as a whole when what every line shares is wrong: the member's
coverage or ID (CO-31), the claim-level data (CO-16 with MA130, "your claim contains
incomplete and/or invalid information ... resubmit as a new claim": CMS RARC list), or its
filing date. Every line of such a claim is then denied together, so the lines' denials are
not independent, and `1 - prod(1 - p_line)` over-states a multi-line claim's risk.

Per claim, from what its lines share (project judgement, not a payer's figures)::

    logit = CLAIM_BASE + ELIGIBILITY_TERM * (eligibility not verified or unknown)
            + LATE_TERM * (filed more than LATE_DAYS after service)
            + ORDER_TERM * (no standard written order on file on its first line)
            - HABIT_TERM * supplier's documentation habit (careful suppliers are returned less)
    P(returned whole) = sigmoid(logit)

The return is drawn from its own random stream (`np.random.default_rng([seed, STREAM])`),
after the default world's draws, so the default world (and data/sample) is unchanged. A
returned claim's lines are denied (CO-31 when its eligibility was not verified, else CO-16
with MA130), paid 0; `true_denial_probability` becomes q + (1 - q) p_line, exact. The
world's oracle (`World.true_denial_probability`) still judges lines without this cause
(fix benchmarks run on the default world).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.synth.oracle import World, sigmoid
from denial_risk.synth.world import TRUTH_COLUMN

STREAM = 21  # the random stream of this mechanism, after the world's seed
CLAIM_BASE = -4.2
ELIGIBILITY_TERM = 1.6
LATE_TERM = 1.2
LATE_DAYS = 90
ORDER_TERM = 1.0
HABIT_TERM = 0.8


def return_probability(frame: pd.DataFrame, world: World) -> tuple[np.ndarray, np.ndarray]:
    """(claim code per line, P(the claim is returned whole) per claim) from the claim's first line."""
    codes, _ = pd.factorize(frame["claim_id"], sort=False)
    first = np.unique(codes, return_index=True)[1]
    head = frame.iloc[first]
    unverified = ~head["eligibility_verified"].fillna(False).to_numpy(dtype=bool)
    lag = (head["submission_date"] - head["service_date"]).dt.days.to_numpy(dtype=float, na_value=np.nan)
    late = np.nan_to_num(lag, nan=0.0) > LATE_DAYS
    no_order = ~head["has_prescription"].fillna(True).to_numpy(dtype=bool)
    index = {npi: i for i, npi in enumerate(world.suppliers.npi)}
    quality = np.array(
        [
            world.suppliers.doc_quality[index[v]] if v in index else 0.0
            for v in head["provider_id"].astype(str)
        ]
    )
    logit = (
        CLAIM_BASE
        + ELIGIBILITY_TERM * unverified
        + LATE_TERM * late
        + ORDER_TERM * no_order
        - HABIT_TERM * quality
    )
    return codes, sigmoid(logit)


def return_whole_claims(frame: pd.DataFrame, world: World, seed: int) -> pd.DataFrame:
    """The table with some claims returned whole: labels, payment and truth updated (see the module)."""
    if not len(frame):
        return frame
    codes, q = return_probability(frame, world)
    returned = (np.random.default_rng([seed, STREAM]).random(len(q)) < q)[codes]
    out = frame.copy()
    p = out[TRUTH_COLUMN].to_numpy(dtype=float)
    out[TRUTH_COLUMN] = q[codes] + (1.0 - q[codes]) * p
    unverified = ~out["eligibility_verified"].fillna(False).to_numpy(dtype=bool)
    reason = np.where(unverified, "CO-31", "CO-16")
    remarks = np.where(unverified, pd.NA, "MA130")
    newly = returned & ~out["denied"].to_numpy(dtype=bool)
    out["denied"] = pd.array(out["denied"].to_numpy(dtype=bool) | returned, dtype="boolean")
    out.loc[newly, "denial_reason"] = reason[newly]
    out.loc[newly, "remark_codes"] = remarks[newly]
    out.loc[returned, "paid_amount"] = 0.0
    return out
