"""The rework world as X12: what `simulate --x12` writes, so `ingest-x12` links the reworks itself.

| file | what |
|---|---|
| `claims.837` | the claims as first sent |
| `remits.835` | their first adjudication, one transaction per payer and remit date |
| `claims.rework.837` | replacement claims (CLM05-3 = 7, REF*F8 = the payer's claim number, CLP07) |
|   | of other payers' corrected claims; new claims of Medicare's returned (MA130) lines |
| `remits.rework.835` | reversals (CLP02 = 22) of the claims a reopening or appeal won, each followed by |
|   | the claim adjudicated again; the replacement and new claims' adjudication |

A refused reopening or appeal leaves no 835 (the contractor answers by letter), and a
patient's payment (`bill_patient`) is in none. Files sort in the order they must be
read (`ingest-x12` reads a folder in name order).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from denial_risk.synth.rework import ReworkWorld
from denial_risk.synth.rework_team import _linked_lines
from denial_risk.x12.write import REVERSAL, write_835, write_837p


def _outcomes(world: ReworkWorld, rows: pd.DataFrame, linked: pd.DataFrame) -> pd.DataFrame:
    """`rows` adjudicated again: the linked lines won are paid, the rest keep their first outcome."""
    out = rows.copy()
    won = linked.index[linked["recovered"].to_numpy(dtype=bool)].intersection(out.index)
    out.loc[won, "denied"] = False
    out.loc[won, "denial_reason"] = pd.NA
    out.loc[won, "remark_codes"] = pd.NA
    out.loc[won, "paid_amount"] = world.payable[world.frame.index.get_indexer(won)]
    dates = linked.groupby("claim")["date"].max()
    out["adjudication_date"] = out["claim_id"].map(dates).to_numpy()
    return out


def write_rework_x12(world: ReworkWorld, folder: str | Path) -> dict[str, list[Path]]:
    """Write the four files into `folder`; returns the paths written, by file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame = world.frame
    written = {
        "claims": write_837p(frame, folder / "claims.837"),
        "remits": write_835(frame, folder / "remits.835"),
    }
    linked = _linked_lines(frame, world.work)
    claims_of = {how: set(linked.loc[linked["link"] == how, "claim"]) for how in ("reversal", "replacement")}
    granted = frame[frame["claim_id"].isin(claims_of["reversal"])]
    replaced = frame[frame["claim_id"].isin(claims_of["replacement"])].copy()
    resent = frame.loc[linked.index[linked["link"] == "resubmission"]].copy()
    for new in (replaced, resent):
        sent = world.work.loc[world.work.index.intersection(new.index), "work_date"]
        day = pd.Series(sent.to_numpy(), index=sent.index).groupby(new.loc[sent.index, "claim_id"]).max()
        new["submission_date"] = new["claim_id"].map(day)
    replaced["claim_frequency"] = "7"
    replaced["original_claim_ref"] = replaced["claim_id"]  # the 835's CLP07 (write_835 writes the claim id)
    again = pd.concat([replaced, resent])
    if len(again):
        written["rework_claims"] = write_837p(again, folder / "claims.rework.837")
    again_paid = _outcomes(world, again, linked)
    second = _outcomes(world, granted, linked)
    reversal = granted.assign(remit_status=REVERSAL, adjudication_date=second["adjudication_date"].to_numpy())
    remits = pd.concat([reversal, second, again_paid])  # each reversal before its claim's new adjudication
    if len(remits):
        written["rework_remits"] = write_835(remits, folder / "remits.rework.835")
    return written


__all__ = ["write_rework_x12"]
