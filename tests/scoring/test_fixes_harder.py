"""The worklist's fixes on a small harder world (late rule change, relaxed rule, amount and code rules),
judged by that world's own mechanism on another seed's later months: floors for issue 20's targets
(benchmarks/bench_fixes.py --world harder measures them at 150k lines)."""

from __future__ import annotations

import pytest

from denial_risk.contract import schema
from denial_risk.contract.normalize import normalize_chunk
from denial_risk.testing import fix_truth

pytestmark = pytest.mark.slow
START, MONTHS = "2024-01-01", 30


@pytest.fixture(scope="module")
def trained():
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model
    from denial_risk.synth.simulate import simulate_claims

    frame, _ = normalize_chunk(simulate_claims(50_000, 31, START, MONTHS, world="harder"))
    return fit_model(frame[frame["service_date"] < "2026-01-01"], TrainConfig())


@pytest.fixture(scope="module")
def judged(trained):
    from denial_risk.synth.simulate import simulate_world

    frame, world = simulate_world(25_000, 32, START, MONTHS, world="harder")
    late = frame[frame["service_date"] >= "2026-01-01"].reset_index(drop=True)
    judged = fix_truth.judge(
        trained.model, world, late.drop(columns=list(schema.OUTCOME_COLUMNS)), naive=False, as_of="2025-12-31"
    )  # a worklist before delivery, as bench_fixes.py runs it: prior authorization can still be obtained
    medium = trained.model.tiers["medium"]
    explained = (judged["probability"] >= medium) | judged["always_explained"]
    return judged.assign(listed=judged["listed"] & explained), medium


def test_the_deployed_effects_know_the_latest_remits(trained):
    span = trained.model.info["fix_effects_fitted_on"]
    assert span["slices"] == "train+calibration+holdout"
    assert span["to"] == trained.model.info["holdout_end"] > trained.model.info["train_end"]
    assert trained.params["fix_effects_lines"] == trained.params["rows_labelled"]
    months = {c["month"] for c in trained.model.fix_effects.changes if c["payer"] == "COM303"}
    assert months & {"2025-08", "2025-09", "2025-10"}  # the late change (2025-09), within a month


def test_fixes_hold_their_floors_on_the_harder_world(judged):
    judged, medium = judged
    ours = fix_truth.figures(judged, explained_from=medium)
    assert ours.listed >= 300
    assert ours.precision >= 0.93  # measured 0.970 (0.98 at 150k lines)
    assert ours.recall_explained >= 0.75  # measured 0.857 (0.98 at 150k lines: more cells learned)
    # measured +0.0325 with the shrink chosen on the held-out lines (0.96 here) and small cells pooled
    # (+0.035 to +0.037 with kappa fixed at 0.85). The floor leaves 0.0075 (about 1.5 standard errors of
    # the mean over ~1,000 fixes) for what another machine's float rounding moves; the target (<= 0.01)
    # is held at 150k lines by bench_fixes
    assert abs(ours.overclaim) <= 0.04
    assert ours.error <= ours.model_error + 0.01  # measured 0.134 against 0.148


def test_the_payers_evidence_after_its_rule_change_names_the_month(trained):
    """A knee orthosis line at COM303 without prior authorization, after the late change: its reason
    gives the payer's figures since the change month, not over all its remits (issue 20)."""
    from denial_risk.contract.facts import LineFacts
    from denial_risk.scoring.findings import findings
    from denial_risk.synth.simulate import simulate_claims

    (change,) = [
        c
        for c in trained.model.fix_effects.changes
        if c["payer"] == "COM303" and c["remedy"] == "obtain_prior_auth" and c["direction"] == "started"
    ]
    frame, _ = normalize_chunk(simulate_claims(25_000, 32, START, MONTHS, world="harder"))
    late = frame[
        (frame["service_date"] >= "2026-01-01")
        & frame["payer_id"].eq("COM303")
        & frame["has_prior_auth"].eq(False)
    ].reset_index(drop=True)
    facts = LineFacts.of(late)
    late = late[(facts.policy["policy_group"] == "knee_orthosis").to_numpy()].reset_index(drop=True)
    assert len(late) >= 5
    text = findings(late, effects=trained.model.fix_effects)["text"]
    evidence = text[text.str.startswith("no prior authorization: this payer denied")]
    assert len(evidence) == len(late)
    assert evidence.str.contains(f" since {change['month']} (", regex=False).all(), evidence.iloc[0]
