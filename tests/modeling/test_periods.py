"""The training period is planned once (`modeling.periods`): the in-memory split and the plan the
streamed and Spark-read fits follow cut the same periods, and every fit counts the extra columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.errors import UserError
from denial_risk.modeling import periods
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.train import time_split


def _lines(n=30_000, seed=1):
    rng = np.random.default_rng(seed)
    day = np.datetime64("2024-01-01") + rng.integers(0, 600, n).astype("timedelta64[D]")
    return day, rng.random(n) < 0.12


def test_the_split_and_the_plan_cut_the_same_periods_in_the_same_order():
    day, denied = _lines()
    frame = pd.DataFrame({"service_date": pd.to_datetime(day), "i": np.arange(len(day))})
    plan = periods.plan_periods(day, denied, TrainConfig(), budget=2**40)
    for k, part in enumerate(time_split(frame, 0.15, 0.15)):
        np.testing.assert_array_equal(part["i"].to_numpy(), plan.positions(k))
        assert (np.diff(part["service_date"].to_numpy()) >= np.timedelta64(0)).all()
    train, calib, hold = (plan.positions(k) for k in (0, 1, 2))
    assert day[train].max() < day[calib].min() and day[calib].max() < day[hold].min()
    assert abs(len(hold) / len(day) - 0.15) < 0.01


def test_extra_columns_shrink_the_sample_for_every_fit():
    day, denied = _lines()
    budget = int(
        periods.COST.fixed + 9_000 * periods.COST.per_train_line + 9_000 * periods.COST.per_later_line
    )
    plain = periods.plan_periods(day, denied, TrainConfig(), budget)
    wide = periods.plan_periods(
        day, denied, TrainConfig(extra_numeric=tuple(f"x{i}" for i in range(30))), budget
    )
    assert plain.sample.sampled and wide.sample.sampled
    assert len(wide.sample.keep) < len(plain.sample.keep)
    kept = (wide.rank >= 0) & (wide.period == periods.TRAIN)
    assert kept.sum() == len(wide.sample.keep)
    rows = 40_000
    later = int(rows * 0.3)
    just_fits = int(periods.COST.fixed + (rows - later) * periods.COST.per_train_line + later * 900.0) + 2**20
    assert not periods.needs_sample(rows, TrainConfig(), just_fits)
    assert periods.needs_sample(rows, TrainConfig(extra_numeric=("a", "b", "c")), just_fits)


def test_one_service_date_cannot_be_split():
    day = np.full(500, np.datetime64("2025-03-01"))
    with pytest.raises(UserError, match="too few distinct service dates"):
        periods.time_slices(day, 0.15, 0.15)
