"""The rework world: the same claims as simulate_claims, causes that fit the remit, deadlines that bind,
and X12 that ingest-x12 links to the same history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.synth import simulate
from denial_risk.synth.mechanism import _cause_codes
from denial_risk.synth.rework import BACKGROUND, RECOVERY, true_recovery
from denial_risk.synth.rework_team import history_table, simulate_rework


@pytest.fixture(scope="module")
def world():
    return simulate_rework(3000, 8, "2024-01-01", 24)


def test_the_claims_are_simulate_claims_draws(world):
    plain = simulate.simulate_claims(3000, 8, "2024-01-01", 24)
    pd.testing.assert_frame_equal(world.frame.drop(columns="adjudication_date"), plain)
    assert (world.frame["adjudication_date"] > world.frame["submission_date"]).all()


def test_each_true_cause_sends_the_carc_and_remarks_on_the_remit(world):
    f = world.frame
    denied = f["denied"].astype(bool).to_numpy()
    assert (world.cause[denied] != "").all() and (world.cause[~denied] == "").all()
    for i in np.flatnonzero(denied & (world.cause != BACKGROUND))[:400]:
        carc, remarks = _cause_codes(world.cause[i], np.array([f["payer_type"].iloc[i] == "medicare"]))
        sent = f["remark_codes"].iloc[i]
        assert carc[0] == f["denial_reason"].iloc[i]
        assert remarks[0] == ("" if pd.isna(sent) else sent)


def test_missed_deadlines_and_unworked_lines_recover_nothing(world):
    w = world.work
    assert w["late"].any() and (~w["worked"]).any()
    assert not w.loc[w["late"] | ~w["worked"], "recovered"].any()
    assert not w.loc[w["rule_action"] == "no_rework", "worked"].any()


def test_the_oracle_rewards_the_right_action_for_a_fixable_cause():
    p = true_recovery(np.array(["missing_side", "missing_side", "gz_no_abn", ""], dtype=object),
                      ["corrected_claim", "appeal", "appeal", "appeal"])  # fmt: skip
    assert p[0] > p[1] > p[2] and p[3] == 0
    assert all(0 <= v <= 1 for row in RECOVERY.values() for v in row.values())


def test_history_and_its_x12_tell_the_same_story(world, tmp_path):
    from denial_risk.synth.rework_x12 import write_rework_x12
    from denial_risk.x12 import ingest

    history = history_table(world)
    write_rework_x12(world, tmp_path)
    lab = ingest(sorted(tmp_path.glob("*.837")), sorted(tmp_path.glob("*.835"))).labelled
    for link in ("reversal", "replacement"):
        assert (history["rework_link"] == link).sum() == (lab["rework_link"] == link).sum() > 0, link
    won_h = (history["rework_link"].notna() & ~history["denied"].astype(bool)).sum()
    won_x = (lab["rework_link"].notna() & ~lab["denied"].astype(bool)).sum()
    assert won_h == won_x > 0
