"""Training within a memory budget: the time-aware sample keeps every denied line and the recent months,
weights the sampled paid lines, logs itself, and reading the file twice gives the same fit as holding it."""

from __future__ import annotations

import numpy as np
import pytest

from denial_risk.errors import UserError
from denial_risk.modeling import sampling
from denial_risk.modeling.config import TrainConfig


def _period(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    days = np.datetime64("2024-01-01") + rng.integers(0, 540, n).astype("timedelta64[D]")
    denied = rng.random(n) < 0.15
    return days, denied


def test_everything_is_kept_when_it_fits():
    days, denied = _period()
    plan = sampling.plan_sample(days, denied, 20_000)
    assert not plan.sampled and len(plan.keep) == 20_000 and (plan.weight == 1).all()
    assert plan.params["rows_train_sampled"] == 20_000


def test_the_sample_keeps_every_denied_line_and_the_recent_months():
    days, denied = _period()
    plan = sampling.plan_sample(days, denied, 8_000)
    kept = np.zeros(len(days), dtype=bool)
    kept[plan.keep] = True
    assert plan.sampled and kept[denied].all()
    recent = days >= np.datetime64(plan.params["sample_recent_from"])
    assert kept[recent].all() and recent.sum() > 1000
    assert abs(len(plan.keep) - 8_000) < 400  # the budget, within sampling noise
    # sampled paid lines carry 1 / rate, the rest 1: the weights stand for the whole period
    sampled = ~denied[plan.keep] & ~recent[plan.keep]
    rate = plan.params["sample_paid_rate"]
    np.testing.assert_allclose(plan.weight[sampled], 1 / rate, rtol=1e-4)
    assert (plan.weight[~sampled] == 1).all()
    assert abs(plan.weight.sum() - len(days)) / len(days) < 0.03
    assert plan.params["sample_denied_kept"] == denied.sum()


def test_the_recent_window_shrinks_when_it_alone_overfills_the_budget():
    days, denied = _period()
    plan = sampling.plan_sample(days, denied, 3_500)
    assert len(plan.keep) < 4_000
    assert np.datetime64(plan.params["sample_recent_from"]) > days.max() - np.timedelta64(92, "D")


def test_denials_past_half_the_budget_are_sampled_too_and_weighted_like_paid_lines(caplog):
    days, denied = _period()  # about 3,000 denied lines of 20,000
    with caplog.at_level("INFO", logger="denial_risk.modeling.sampling"):
        plan = sampling.plan_sample(days, denied, 4_000)
    p = plan.params
    kept = np.zeros(len(days), dtype=bool)
    kept[plan.keep] = True
    recent = days >= np.datetime64(p["sample_recent_from"])
    assert kept[recent].all()  # the recent months stay whole, denials included
    assert 0 < p["sample_denied_rate"] < 1 and 0 < p["sample_paid_rate"] < 1
    assert abs(p["sample_denied_kept"] - 2_000) < 150  # half the budget, within sampling noise
    assert abs(len(plan.keep) - 4_000) < 250
    older_denied = denied[plan.keep] & ~recent[plan.keep]
    np.testing.assert_allclose(plan.weight[older_denied], 1 / p["sample_denied_rate"], rtol=1e-4)
    # each class's weights stand for its lines in the whole period
    for cls in (True, False):
        mine = denied[plan.keep] == cls
        assert abs(plan.weight[mine].sum() - (denied == cls).sum()) / (denied == cls).sum() < 0.05
    line = next(r.getMessage() for r in caplog.records if "memory budget:" in r.getMessage())
    assert "older denied lines at" in line and "older paid lines at" in line


@pytest.mark.parametrize(
    "text,bytes_", [("6GB", 6 * 2**30), ("512MB", 512 * 2**20), ("1.5g", int(1.5 * 2**30))]
)
def test_budget_sizes(text, bytes_):
    assert sampling.parse_budget(text) == bytes_


@pytest.mark.parametrize("text", ["lots", "10MB", "-1GB"])
def test_a_bad_budget_is_a_users_mistake(text):
    with pytest.raises(UserError, match="--memory-budget"):
        sampling.parse_budget(text)


def test_the_default_budget_is_half_the_machine():
    assert sampling.parse_budget(None) == sampling.machine_memory() // 2


@pytest.fixture()
def small_cost(monkeypatch):
    """A cost model whose budget holds about 5k training lines at 1GB (the real one holds far more)."""
    from denial_risk.modeling import periods

    cost = sampling.TrainCost(fixed=0.0, per_train_line=2**30 / 5_000, per_later_line=0.0)
    for module in (sampling, periods):
        monkeypatch.setattr(module, "COST", cost)
    return cost


def test_a_sampled_fit_logs_its_sample_and_still_learns(claims_frame, small_cost):
    from denial_risk.modeling.train import fit_model

    result = fit_model(claims_frame, TrainConfig(small_data_rows=0), memory_budget="1GB")
    p = result.params
    assert p["sampled"] is True and p["rows_train_sampled"] < p["rows_train_available"]
    assert p["rows_train"] == p["rows_train_sampled"]
    assert p["sample_denied_kept"] > 0 and 0 < p["sample_paid_rate"] < 1
    assert result.model.info["training_sample"]["sampled"]
    assert result.metrics["roc_auc"] > 0.75 and result.metrics["ece"] < 0.05


def test_reading_the_file_twice_fits_what_holding_it_fits(claims_frame, claims_csv, small_cost):
    """The streamed path (train_and_register on a large file) keeps the same lines in the same order."""
    from denial_risk.jobs.train import _fit_streamed
    from denial_risk.modeling.train import fit_model

    held = fit_model(claims_frame, TrainConfig(), memory_budget="1GB")
    streamed, train, rejected = _fit_streamed(str(claims_csv), TrainConfig(), sampling.parse_budget("1GB"))
    for key in (
        "rows_train",
        "rows_calibration",
        "rows_holdout",
        "sample_denied_kept",
        "sample_paid_kept",
        "data_fingerprint",
        "date_min",
        "date_max",
        "rows_labelled",
    ):
        assert streamed.params[key] == held.params[key], key
    np.testing.assert_allclose(streamed.holdout_proba, held.holdout_proba, rtol=0, atol=1e-12)


def test_the_training_run_logs_the_sampling(claims_csv, small_cost, mlflow_store):
    import mlflow

    from denial_risk.jobs.train import train_and_register

    out = train_and_register(str(claims_csv), memory_budget="1GB")
    params = mlflow.get_run(out["run_id"]).data.params
    assert params["sampled"] == "True" and float(params["sample_paid_rate"]) < 1
    assert int(params["sample_denied_kept"]) > 0 and params["memory_budget_gb"] == "1.0"
