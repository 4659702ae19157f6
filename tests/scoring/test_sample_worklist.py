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
