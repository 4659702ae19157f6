"""The team at work on the simulated denials, and the labelled table it leaves (synth/rework.py).

A worked claim is reworked one way: by a reversal and re-adjudication (a reopening
or an appeal the payer grants: a refused one leaves no 835), by a replacement claim
(frequency 7, other payers' corrected claims), or by a new claim of the returned lines
(Medicare's unprocessable, MA130; a new claim for any other adjudicated Medicare line is
denied as a duplicate and pays nothing: domain.md). Lines of a claim worked another way than the
claim's largest worked line wait (project judgement: one rework per claim at a time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.rework.recovery import LEARNED_ACTIONS
from denial_risk.synth.rework import (
    REWORK_STREAM,
    ReworkWorld,
    Team,
    denial_causes,
    payable,
    rules_actions,
    true_recovery,
)
from denial_risk.x12.links import UNPROCESSABLE


def _mode(action: str, payer_type: str, remarks) -> str:
    if action in ("reopening", "appeal"):
        return "reversal"
    if action == "corrected_claim" and payer_type != "medicare":
        return "replacement"
    if action == "corrected_claim":  # a DME MAC takes a new claim only for returned (MA130) lines
        return "resubmission" if UNPROCESSABLE in str(remarks or "") else "duplicate"
    return "patient"  # bill_patient: the patient's payment is in no 835


def work_denials(world: ReworkWorld, rng: np.random.Generator) -> pd.DataFrame:
    """Per denied line: rule action and deadline, whether and how the team worked it, the outcome."""
    team, frame = world.team, world.frame
    denied = frame[frame["denied"].fillna(False).astype(bool)]
    work = rules_actions(denied)
    n = len(work)
    can = (work["rule_action"] != "no_rework").to_numpy()
    worked = can & (rng.random(n) < team.work_share)
    action = work["rule_action"].to_numpy(dtype=object).copy()
    other = rng.random(n) >= team.right_action
    alt = np.array(LEARNED_ACTIONS, dtype=object)[rng.integers(0, len(LEARNED_ACTIONS), n)]
    swap = other & (alt != action) & np.isin(action, LEARNED_ACTIONS)
    action[swap] = alt[swap]
    delay = np.round(rng.lognormal(np.log(team.delay_median_days), team.delay_sigma, n))
    work_date = pd.to_datetime(denied["adjudication_date"]).to_numpy() + pd.to_timedelta(delay, unit="D")
    late = work["deadline"].notna().to_numpy() & (work_date > pd.to_datetime(work["deadline"]).to_numpy())
    ptypes = denied["payer_type"].astype("string").fillna("other").to_numpy(dtype=object)
    remarks = denied["remark_codes"].astype("string").fillna("").to_numpy(dtype=object)
    mode = np.array([_mode(*t) for t in zip(action, ptypes, remarks, strict=True)], dtype=object)
    worked = _one_mode_per_claim(denied, worked, mode)
    # a new claim for an adjudicated Medicare line is denied as a duplicate (CO-18): nothing paid
    p = true_recovery(world.cause[frame.index.get_indexer(denied.index)], action) * (worked & ~late)
    p[mode == "duplicate"] = 0.0
    recovered = rng.random(n) < p
    resolved = rng.integers(team.resolution_days[0], team.resolution_days[1] + 1, n)
    work["worked"] = worked
    work["action"] = action
    work["mode"] = mode
    work["work_date"] = work_date
    work["late"] = late
    work["recovered"] = recovered
    work["outcome_date"] = work_date + pd.to_timedelta(resolved, unit="D")
    return work


def _one_mode_per_claim(denied: pd.DataFrame, worked: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """Keep, per claim, the worked lines of the mode of its largest worked line."""
    df = pd.DataFrame(
        {"claim": denied["claim_id"].to_numpy(), "billed": denied["billed_amount"].to_numpy(), "mode": mode}
    )
    df = df[worked]
    lead = df.sort_values("billed", ascending=False, kind="stable").groupby("claim")["mode"].first()
    keep = worked.copy()
    claim_mode = denied["claim_id"].map(lead).to_numpy(dtype=object)
    keep &= claim_mode == mode
    return keep


def history_table(world: ReworkWorld) -> pd.DataFrame:
    """The lines' final labels with the links ingest-x12 makes and the team's log (`rework_attempted`)."""
    frame = world.frame.copy()
    work = world.work
    out = frame.copy()
    for c in ("rework_link", "initial_denial_reason", "initial_remark_codes", "replaced_by"):
        out[c] = pd.array([None] * len(out), dtype="string")
    out["initial_adjudication_date"] = pd.NaT
    out["rework_attempted"] = pd.array([False] * len(out), dtype="boolean")
    out.loc[work.index, "rework_attempted"] = work["worked"].to_numpy()
    linked = _linked_lines(frame, work)
    idx = linked.index
    out.loc[idx, "rework_link"] = linked["link"].to_numpy()
    out.loc[idx, "initial_denial_reason"] = frame.loc[idx, "denial_reason"]
    out.loc[idx, "initial_remark_codes"] = frame.loc[idx, "remark_codes"]
    out.loc[idx, "initial_adjudication_date"] = frame.loc[idx, "adjudication_date"]
    won = linked.index[linked["recovered"].to_numpy(dtype=bool)]
    out.loc[won, "denied"] = False
    out.loc[won, "denial_reason"] = pd.NA
    out.loc[won, "remark_codes"] = pd.NA
    out.loc[won, "paid_amount"] = world.payable[frame.index.get_indexer(won)]
    out.loc[idx, "adjudication_date"] = linked["date"].to_numpy()
    return out


def _linked_lines(frame: pd.DataFrame, work: pd.DataFrame) -> pd.DataFrame:
    """Denied lines an 835 links to a later outcome: every denied line of a claim re-adjudicated after
    a granted reversal or replaced; the resubmitted lines of a Medicare new claim."""
    w = work[
        work["worked"] & ~work["late"] & work["mode"].isin(("reversal", "replacement", "resubmission"))
    ].copy()
    w["claim"] = frame.loc[w.index, "claim_id"].to_numpy()
    rev = w[w["mode"] == "reversal"]
    granted = rev.groupby("claim")["recovered"].any()
    rev_claims = set(granted.index[granted])
    rep_claims = set(w.loc[w["mode"] == "replacement", "claim"])
    date = w.groupby("claim")["outcome_date"].max()
    rows = []
    claim_of = frame.loc[work.index, "claim_id"]
    for i in work.index:
        c = claim_of[i]
        if c in rev_claims:
            rows.append((i, "reversal", c))
        elif c in rep_claims:
            rows.append((i, "replacement", c))
        elif i in w.index and w.at[i, "mode"] == "resubmission":
            rows.append((i, "resubmission", c))
    out = pd.DataFrame(rows, columns=["i", "link", "claim"]).set_index("i")
    out["recovered"] = work.loc[out.index, "recovered"].to_numpy() & work.loc[out.index, "worked"].to_numpy()
    out["date"] = out["claim"].map(date).to_numpy()
    return out


def simulate_rework(
    rows: int,
    seed: int,
    start: str = "2024-01-01",
    months: int = 24,
    team: Team | None = None,
    *,
    world: str = "plain",
) -> ReworkWorld:
    """The claims of `simulate_claims(rows, seed, start, months, world=world)`, their denials worked
    by a team."""
    from denial_risk.synth.simulate import _simulate

    team = team or Team()
    frame, _, details = _simulate(rows, seed, start, months, world)
    rng = np.random.default_rng([seed, REWORK_STREAM])
    claims = frame["claim_id"].to_numpy(dtype=object)
    codes, first = np.unique(claims, return_inverse=True)
    days = rng.integers(team.turnaround_days[0], team.turnaround_days[1] + 1, len(codes))[first]
    frame = frame.copy()
    frame["adjudication_date"] = frame["submission_date"] + pd.to_timedelta(days, unit="D")
    cause = denial_causes(frame, details, rng)
    world = ReworkWorld(frame, cause, payable(frame), pd.DataFrame(), team)
    world.work = work_denials(world, rng)
    return world
