"""Payer rule changes found in the remits, and effects that vary inside a cell, on a small harder world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract.normalize import normalize_chunk
from denial_risk.modeling import changes
from denial_risk.modeling.effects import FixEffects, fit_fix_effects
from denial_risk.synth.simulate import simulate_claims


@pytest.fixture(scope="module")
def effects() -> FixEffects:
    """Effects on the first 24 of 30 months of 60k harder-world lines (the late change: 2025-09)."""
    frame, _ = normalize_chunk(simulate_claims(60_000, 21, "2024-01-01", 30, world="harder"))
    lines = frame[frame["service_date"] < "2026-01-01"].reset_index(drop=True)
    return fit_fix_effects(lines, lines["denied"].astype(bool).to_numpy(), lines["denial_reason"])


def test_one_changepoint_is_found_where_the_rate_moves_and_not_where_it_does_not():
    rng = np.random.default_rng(0)
    n = np.full(24, 40.0)
    k = rng.binomial(40, np.where(np.arange(24) >= 18, 0.35, 0.02)).astype(float)
    at, lr = changes.best_split(n, k)
    assert at == 18 and lr >= changes.MIN_LR
    flat = [changes.best_split(n, rng.binomial(40, 0.1, 24).astype(float))[1] for _ in range(200)]
    assert max(flat) < changes.MIN_LR  # a constant rate's best split stays below the bar


def test_the_late_rule_change_and_the_relaxed_rule_are_named_with_their_month(effects):
    found = {(c["payer"], c["scope"], c["remedy"]): c for c in effects.changes}
    late = found[("COM303", "knee_orthosis", "obtain_prior_auth")]
    assert late["direction"] == "started" and late["month"] in ("2025-09", "2025-10")
    assert late["rate_after"] > 0.15 and late["rate_before"] < 0.03
    relaxed = found[("MA101", "spinal_orthosis", "obtain_prior_auth")]
    assert relaxed["direction"] == "stopped" and relaxed["month"] in ("2025-06", "2025-07", "2025-08")
    text = changes.describe(late)
    assert text.startswith("COM303 started denying knee orthoses without prior authorization as CO-197")
    assert f"from {late['month']}:" in text and "(n = " in text
    # after the change the effect is read from the later lines: a strong effect, not the diluted average
    i = effects.keys.index("obtain_prior_auth|present|COM303|knee_orthosis")
    assert effects.recent[i] and effects.beta[i] - 2.33 * effects.se[i] > 1.0


def test_an_effect_above_an_amount_or_for_some_codes_is_learned_inside_its_cell(effects):
    split = effects.detail
    assert len(split) <= 6, sorted(split)  # hundreds of cells tested; homogeneous ones stay whole
    pa = split["obtain_prior_auth|present|COM301|ankle_foot_orthosis"]
    assert pa["by"] == "code" and "L1906" in pa["codes"]
    cells = np.array(["COM301|ankle_foot_orthosis"] * 2)
    lines = pd.DataFrame({"hcpcs_code": ["L1906", "L1902"], "billed_amount": [700.0, 700.0]})
    fig = effects.lookup("obtain_prior_auth", "present", cells, lines)
    assert fig["beta"][0] - 2.33 * fig["se"][0] > 1.0 > fig["beta"][1] + 0.5
    pooled = effects.lookup("obtain_prior_auth", "present", cells)  # without the lines: the cell's average
    assert np.allclose(pooled["beta"], pooled["beta"][0], rtol=0, atol=1e-12)
    assert abs(fig["beta_stated"][0] - effects.info["stated_shrink"] * fig["beta"][0]) < 1e-12


def test_the_changes_and_splits_are_plain_data_that_skops_saves(effects, tmp_path):
    import skops.io as sio

    path = tmp_path / "effects.skops"
    sio.dump(effects, path)
    assert sio.get_untrusted_types(file=path) == ["denial_risk.modeling.effects.FixEffects"]
    back = sio.load(path, trusted=["denial_risk.modeling.effects.FixEffects"])
    assert back.changes == effects.changes and back.detail.keys() == effects.detail.keys()
    assert changes.table(back.changes)["change"].tolist() == [changes.describe(c) for c in effects.changes]
