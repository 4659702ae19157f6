"""The sample worklist is pinned: an unintended change to any score, rank, reason or fix fails here.

`scripts/pin_sample_worklist.py` writes the pinned file; run it only for an intended change.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("pin", ROOT / "scripts" / "pin_sample_worklist.py")
pin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pin)


@pytest.mark.slow
def test_the_sample_worklist_is_unchanged(tmp_path):
    got = pin.sample_worklist(tmp_path)
    want = pd.read_csv(pin.GOLDEN, dtype=str, keep_default_na=False)
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for col in ("denial_probability", "expected_loss"):  # numbers to 1e-9 (summation order may differ)
        np.testing.assert_allclose(got[col].astype(float), want[col].astype(float), rtol=1e-9, atol=1e-12)
    for col in [c for c in want.columns if c not in ("denial_probability", "expected_loss")]:
        diff = got[col] != want[col]
        assert not diff.any(), (
            f"{col} differs on {int(diff.sum())} lines, first: {got.loc[diff, col].iloc[0]!r}"
        )


def test_the_sample_worklists_fixes_are_true_in_its_world():
    """Every fix the README's first lines show lowers the sample world's own risk a point; so do
    almost all of the pinned worklist's fixes (the world judges, not the model: jobs/fix_truth.py)."""
    from denial_risk.jobs.fix_truth import MIN_TRUE_DROP, judge_worklist
    from denial_risk.synth.simulate import SAMPLE, simulate_world

    want = pd.read_csv(pin.GOLDEN, dtype=str, keep_default_na=False)
    frame, world = simulate_world(SAMPLE["rows"], SAMPLE["seed"], SAMPLE["start"], SAMPLE["months"])
    judged = judge_worklist(want, world, frame)
    assert len(judged) > 200
    top = set(want.loc[want["risk_rank"].astype(int) <= 10, "claim_id"])
    first = judged[judged["claim_id"].isin(top)]
    assert len(first) >= 3 and (first["true_drop"] >= MIN_TRUE_DROP).all(), first
    assert (judged["true_drop"] >= MIN_TRUE_DROP).mean() >= 0.95
