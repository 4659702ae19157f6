"""The queue: every denied line once, the schema's columns, ranks by expected recovery, amounts capped."""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.rework.queue import QUEUE_COLUMNS, rework_queue
from denial_risk.rework.rules import ACTIONS


def _check_queue(q: pd.DataFrame, frame: pd.DataFrame) -> None:
    denied = frame[frame["denied"].fillna(False).astype(bool)]
    assert list(q.columns) == list(QUEUE_COLUMNS)
    keys = list(zip(q["claim_id"], q["line_number"], strict=True))
    assert len(keys) == len(set(keys)) == len(denied)
    assert set(keys) == set(zip(denied["claim_id"], denied["line_number"], strict=True))
    assert set(q["action"]) <= set(ACTIONS)
    assert list(q["rework_rank"]) == list(range(1, len(q) + 1))
    assert (q["expected_recovery"] <= q["billed_amount"] + 1e-9).all()
    assert (np.diff(q["expected_recovery"].to_numpy()) <= 1e-9).all()
    none = q["action"] == "no_rework"
    assert (q.loc[none, "recovery_probability"] == 0).all() and q.loc[none, "deadline"].isna().all()
    assert q.loc[~none, "deadline"].notna().all()
    assert ((q["recovery_probability"] >= 0) & (q["recovery_probability"] <= 1)).all()
    assert q["denial_words"].str.len().gt(0).all()


def test_queue_of_a_simulated_remit(rework_world):
    frame = rework_world.frame
    as_of = pd.Timestamp("2025-06-30")
    q = rework_queue(frame, as_of)
    _check_queue(q, frame)
    open_ = q[q["action"] != "no_rework"]
    assert (open_["days_left"] >= 0).all()
    days = (pd.to_datetime(open_["deadline"]) - as_of).dt.days
    assert (days.to_numpy() == open_["days_left"].to_numpy(dtype=int)).all()


def test_queue_with_the_learned_model_differs_from_the_prior_but_keeps_the_rules(
    rework_world, recovery_model
):
    frame = rework_world.frame
    prior = rework_queue(frame, "2025-06-30")
    learned = rework_queue(frame, "2025-06-30", recovery_model)
    _check_queue(learned, frame)
    a = prior.set_index(["claim_id", "line_number"]).sort_index()
    b = learned.set_index(["claim_id", "line_number"]).sort_index()
    assert (a["action"] == b["action"]).all() and (a["deadline"].fillna(0) == b["deadline"].fillna(0)).all()
    acted = a["action"].isin(["corrected_claim", "reopening", "appeal"])
    assert (a.loc[acted, "recovery_probability"] - b.loc[acted, "recovery_probability"]).abs().max() > 0.05


def test_no_denials_is_an_empty_queue_with_the_columns(rework_world):
    paid = rework_world.frame[~rework_world.frame["denied"].astype(bool)].head(50)
    q = rework_queue(paid, "2025-06-30")
    assert q.empty and list(q.columns) == list(QUEUE_COLUMNS)


def test_a_replaced_line_is_no_rework_naming_its_replacement(rework_world):
    frame = rework_world.frame[rework_world.frame["denied"].astype(bool)].head(5).copy()
    frame["replaced_by"] = pd.array([None, "X#2", None, None, None], dtype="string")
    q = rework_queue(frame, "2024-06-30").set_index(["claim_id", "line_number"])
    row = q.loc[(frame["claim_id"].iloc[1], frame["line_number"].iloc[1])]
    assert row["action"] == "no_rework" and "X#2" in row["action_text"] and row["expected_recovery"] == 0


def test_action_text_lists_only_fixes_the_action_can_carry_after_delivery(rework_world):
    q = rework_queue(rework_world.frame, "2024-03-01")
    reopen = q.loc[q["action"] == "reopening", "action_text"]
    assert len(reopen) and not reopen.str.contains("attach|add KX|remove KX").any()
    assert not q["action_text"].str.contains("obtain prior authorization").any()
    fixed = q[
        q["action"].isin(["corrected_claim", "reopening", "appeal"]) & q["action_text"].str.contains(": ")
    ]
    assert len(fixed) > 0.2 * (q["action"] != "no_rework").sum()  # most corrections name what to change


def test_a_missing_side_reads_add_rt_or_lt():
    from denial_risk.contract.normalize import normalize_chunk

    raw = pd.DataFrame({"claim_id": ["S1"], "service_date": ["2026-01-05"], "payer_type": ["medicare"],
                        "payer_id": ["MCRJB"], "hcpcs_code": ["L1833"], "modifiers": ["KX"],
                        "diagnosis_codes": ["M1711"], "billed_amount": [400.0], "denied": ["true"],
                        "denial_reason": ["CO-4"], "adjudication_date": ["2026-01-20"]})  # fmt: skip
    clean, rejects = normalize_chunk(raw)
    assert rejects.empty
    (text,) = rework_queue(clean, "2026-02-01")["action_text"]
    assert text.startswith("ask for a reopening") and "add RT or LT" in text
