"""The rolling backtest never trains on a month it tests."""

from __future__ import annotations

import pytest

from denial_risk.jobs.backtest import folds


def test_folds_train_only_on_earlier_months(claims_frame):
    plan = folds(claims_frame, 6)
    assert len(plan) == 6
    for fold, train, test in plan:
        test_months = set(test.service_date.dt.to_period("M").astype(str))
        assert test_months == {fold.test_month}
        assert train.service_date.max() < test.service_date.min()
        assert fold.test_month not in set(train.service_date.dt.to_period("M").astype(str))
    months = [f.test_month for f, _, _ in plan]
    assert months == sorted(months) and len(set(months)) == len(months)


def test_too_short_a_history_is_a_user_error(claims_frame):
    from denial_risk.errors import UserError

    short = claims_frame[
        claims_frame.service_date < claims_frame.service_date.min() + __import__("pandas").Timedelta(days=60)
    ]
    with pytest.raises(UserError, match="at least 4"):
        folds(short, 3)


@pytest.mark.slow
def test_backtest_logs_nested_runs_and_shows_the_frozen_model_ageing(mlflow_store, claims_frame):
    import mlflow

    from denial_risk.jobs.backtest import run_backtest
    from denial_risk.modeling.config import TrainConfig

    table = run_backtest(claims_frame, 3, TrainConfig(small_data_rows=0))
    assert len(table) == 3
    assert table["retrained_roc_auc"].between(0.5, 1).all()
    # the frozen model is the first fold's model: the same scores there, other scores later
    first, later = table.iloc[0], table.iloc[1:]
    assert first["frozen_roc_auc"] == first["retrained_roc_auc"]
    assert first["frozen_mean_probability"] == first["retrained_mean_probability"]
    assert (later["frozen_mean_probability"] != later["retrained_mean_probability"]).all()
    # ageing: trained on fewer, older months, it never beats the retrained model by a margin
    assert (later["retrained_roc_auc"] - later["frozen_roc_auc"]).mean() > -0.01
    runs = mlflow.search_runs(experiment_names=["denial-risk/backtest"])
    nested = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert len(nested) == 3
