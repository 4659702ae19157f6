"""The fix effects' refit counts in the memory budget (issue 23): when the kept training lines and every
later line do not fit the refit's room, it reads a time-aware, weighted sample of the later lines;
when they fit, it reads every one of them as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.modeling import periods, sampling
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.latest import refit_slices


def _lines(n=30_000, seed=1):
    rng = np.random.default_rng(seed)
    day = np.datetime64("2024-01-01") + rng.integers(0, 600, n).astype("timedelta64[D]")
    return day, rng.random(n) < 0.12


@pytest.fixture()
def refit_room(monkeypatch):
    """A 1GB budget that holds every training line but only 25k lines in the refit."""
    cost = sampling.TrainCost(
        fixed=0.0, per_train_line=1.0, per_later_line=0.0, per_held_line=0.0, per_refit_line=2**30 / 25_000
    )
    for module in (sampling, periods):
        monkeypatch.setattr(module, "COST", cost)
    return cost


def test_every_later_line_is_refitted_when_they_fit():
    day, denied = _lines()
    plan = periods.plan_periods(day, denied, TrainConfig(), budget=2**40)
    later = plan.sample.later
    assert not later.sampled and len(later.keep) == (plan.period != periods.TRAIN).sum()
    assert (later.weight == 1).all()


def test_the_refit_samples_the_later_lines_to_its_room(refit_room):
    day, denied = _lines()
    plan = periods.plan_periods(day, denied, TrainConfig(), budget=2**30)
    assert not plan.sample.sampled  # the classifier's lines all fit
    later_pos = plan.order[plan.period[plan.order] != periods.TRAIN]
    later = plan.sample.later
    room = 25_000 - len(plan.sample.keep)
    assert later.sampled and abs(len(later.keep) - room) < 0.05 * room
    # the most recent remits are read whole, the rest stand for their lines by their weights
    recent = day[later_pos] >= np.datetime64(later.params["sample_recent_from"])
    assert np.isin(np.flatnonzero(recent), later.keep).all()
    assert abs(later.weight.sum() - len(later_pos)) / len(later_pos) < 0.03
    d = denied[later_pos]
    assert abs(later.weight[d[later.keep]].sum() - d.sum()) / d.sum() < 0.05


def test_the_refit_slices_split_the_later_sample_at_the_holdout(refit_room):
    day, denied = _lines()
    plan = periods.plan_periods(day, denied, TrainConfig(), budget=2**30)
    frame = pd.DataFrame({"service_date": day, "i": np.arange(len(day))})
    train, calib, hold = (frame.iloc[plan.positions(k)] for k in (0, 1, 2))
    slices, weight = refit_slices(train, calib, hold, plan.sample)
    later = np.concatenate([calib["i"].to_numpy(), hold["i"].to_numpy()])
    np.testing.assert_array_equal(
        np.concatenate([s["i"].to_numpy() for s in slices[1:]]), later[plan.sample.later.keep]
    )
    assert slices[1]["service_date"].max() < slices[2]["service_date"].min()
    assert len(weight) == sum(map(len, slices)) and (weight[: len(train)] == 1).all()
    # unsampled: the three periods as they are, no weights
    whole = periods.plan_periods(day, denied, TrainConfig(), budget=2**40)
    same, none = refit_slices(train, calib, hold, whole.sample)
    assert none is None and [len(s) for s in same] == [len(train), len(calib), len(hold)]


def test_a_fit_whose_refit_is_sampled_logs_it_and_still_learns_the_effects(claims_frame, monkeypatch):
    from denial_risk.modeling.train import fit_model

    later = int(len(claims_frame) * 0.3)
    cost = sampling.TrainCost(
        fixed=0.0,
        per_train_line=1.0,
        per_later_line=0.0,
        per_held_line=0.0,
        per_refit_line=2**30 / (len(claims_frame) - later // 2),
    )
    for module in (sampling, periods):
        monkeypatch.setattr(module, "COST", cost)
    result = fit_model(claims_frame, TrainConfig(small_data_rows=0), memory_budget="1GB")
    p = result.params
    assert not p["sampled"] and p["fix_effects_later_sampled"] is True
    assert p["fix_effects_later_rows_train_sampled"] < later
    effects = result.model.fix_effects
    assert "later lines sampled too" in effects.info["slices"] and len(effects.keys) > 0
    assert effects.info["lines"] == p["rows_train"] + p["fix_effects_later_rows_train_sampled"]
