"""Property: whatever a contract-conforming table holds (any share of denials, rare and singleton
CARCs, optional columns absent, columns constant or empty), training and then scoring it either works
or stops with one line (`UserError`): never a traceback.

Hypothesis draws the tables (derandomised: the same examples on every run, no example database
written); the number of examples bounds the time (each fit is a few seconds).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from denial_risk.claims.table import load_claims
from denial_risk.contract import schema
from denial_risk.errors import UserError
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.train import fit_model
from denial_risk.scoring.worklist import score_file
from denial_risk.testing import make_claims

# Real CARCs (X12 Claim Adjustment Reason Codes), so the reason model's classes are codes it can word.
CARCS = ("CO-16", "CO-50", "CO-97", "CO-4", "CO-197", "CO-167", "CO-11", "CO-B7", "CO-18", "CO-29", "PR-96")
_HELD = set(make_claims(20).columns)  # the columns the tables are drawn from
OPTIONAL = tuple(c for c in schema.OPTIONAL if c in _HELD and c != "line_number")  # keys stay unique
FEATURE_COLUMNS = (*(c for c in schema.REQUIRED if c not in ("claim_id", "service_date")), *OPTIONAL)
# Shares of denied lines (Hypothesis leans to the first: a usual one); the last leave a class too few
# lines in a time slice (one line, exit 2).
SHARES = (0.3, 0.15, 0.5, 0.7, 0.9, 0.05, 0.97)
# Now and then a column without which no row scores (every row rejected: one line, exit 2).
FATAL = (None, None, None, None, None, None, "service_date", "claim_id", "billed_amount")


@st.composite
def claim_tables(draw) -> tuple[pd.DataFrame, dict]:
    seed = draw(st.integers(0, 10_000))
    frame = make_claims(draw(st.integers(500, 1300)), seed)
    rng = np.random.default_rng(seed)
    share = draw(st.sampled_from(SHARES))
    denied = rng.random(len(frame)) < share
    codes = draw(st.lists(st.sampled_from(CARCS), min_size=1, max_size=len(CARCS), unique=True))
    skew = draw(st.floats(0.3, 4.0))  # Zipf-like: the last codes get one line or none
    weights = 1.0 / np.arange(1, len(codes) + 1) ** skew
    reasons = rng.choice(np.array(codes), size=len(frame), p=weights / weights.sum())
    frame["denied"] = denied
    frame["denial_reason"] = np.where(denied, reasons, "")
    frame["paid_amount"] = np.where(denied, 0.0, frame["billed_amount"] * 0.8).round(2)
    dropped = draw(st.sets(st.sampled_from(OPTIONAL), max_size=6))
    constant = draw(st.sets(st.sampled_from(FEATURE_COLUMNS), max_size=4))
    empty = draw(st.sets(st.sampled_from(FEATURE_COLUMNS), max_size=2)) | {draw(st.sampled_from(FATAL))} - {
        None
    }
    for c in constant:
        frame[c] = frame[c].iloc[0]
    for c in empty:
        frame[c] = None
    frame = frame.drop(columns=sorted(dropped))
    return frame, {"share": share, "codes": codes, "dropped": dropped, "constant": constant, "empty": empty}


def _one_line(exc: UserError) -> None:
    assert str(exc) and "\n" not in str(exc), repr(exc)


@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(claim_tables())
def test_any_table_trains_and_scores_or_stops_with_one_line(table):
    frame, drawn = table
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        labelled, backlog = folder / "labelled.csv", folder / "backlog.csv"
        frame.to_csv(labelled, index=False)
        frame.drop(columns=list(schema.LABELS)).to_csv(backlog, index=False)
        try:
            rows, _ = load_claims(labelled)
            model = fit_model(rows, TrainConfig()).model
        except UserError as exc:  # too few lines of a class, nothing scorable, nothing learnable
            _one_line(exc)
            return
        try:
            result = score_file(backlog, folder / "worklist.csv", model, progress=False)
        except UserError as exc:  # every row rejected
            _one_line(exc)
            return
        worklist = pd.read_csv(folder / "worklist.csv", dtype={"risk_rank": "int64"})
    assert result.scored == len(worklist) and result.scored + result.rejected == len(frame), drawn
    p = worklist["denial_probability"].to_numpy(dtype=float)
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all(), drawn
    assert sorted(worklist["risk_rank"]) == list(range(1, len(worklist) + 1)), drawn
