"""Promotion refuses a worse challenger, accepts a better one; rollback works."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from denial_risk.jobs.promote import compare, promote
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.train import fit_model
from denial_risk.registry import tracking

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worse_model(claims_frame):
    """Built on purpose to be worse: trained on labels shuffled within the training file."""
    frame = claims_frame.copy()
    frame["denied"] = frame["denied"].to_numpy()[np.random.default_rng(3).permutation(len(frame))]
    return fit_model(frame, TrainConfig(small_data_rows=0)).model


def _holdout(fitted):
    return fitted.holdout


def test_a_worse_challenger_is_refused(fitted, worse_model):
    result = compare(_holdout(fitted), fitted.model, worse_model, "1", "2", margin=0.005, rounds=60)
    assert not result.promoted
    assert result.table.set_index("metric").loc["roc_auc", "gain"] < 0


def test_a_better_challenger_is_accepted(fitted, worse_model):
    result = compare(_holdout(fitted), worse_model, fitted.model, "1", "2", margin=0.005, rounds=60)
    assert result.promoted, result.reason
    assert result.interval["roc_auc"][0] > 0
    assert result.reason.startswith("the AUC gain +") and "reaches the margin 0.0050" in result.reason
    assert "5th percentile +" in result.reason and "is above 0" in result.reason
    assert not result.table.isna().any().any()  # no NaN columns
    better = result.table.set_index("metric")["better"]
    assert better["roc_auc"] == "challenger" and set(better) <= {"challenger", "champion", "same"}


def test_an_equal_challenger_does_not_win_by_the_margin(fitted):
    result = compare(_holdout(fitted), fitted.model, fitted.model, "1", "2", margin=0.005, rounds=30)
    assert not result.promoted


def test_promote_through_the_registry_and_roll_back(mlflow_store, claims_csv, tmp_path, monkeypatch):
    from denial_risk.jobs.train import train_and_register

    cfg = tmp_path / "fast.toml"
    cfg.write_text("[training]\nsmall_data_rows = 0\n")
    train_and_register(str(claims_csv), config_path=str(cfg))
    train_and_register(str(claims_csv), config_path=str(cfg))
    # the same data and seed give an equal challenger: it must not be promoted
    result = promote(margin=0.005)
    assert not result.promoted and tracking.alias_version("champion") == "1"
    # rollback / manual choice: any version can be set as champion
    # the promote logger's own records, whatever handlers earlier tests left on its parents
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = seen.append
    logger = logging.getLogger("denial_risk.jobs.promote")
    monkeypatch.setattr(logger, "level", logging.INFO)
    logger.addHandler(handler)
    try:
        promote(version="2")
        assert tracking.alias_version("champion") == "2"
        promote(version="1")
        assert tracking.alias_version("champion") == "1"
    finally:
        logger.removeHandler(handler)
    moves = [r.getMessage() for r in seen if "@champion is now" in r.getMessage()]
    assert moves == [
        "@champion is now version 2 (forward from version 1)",
        "@champion is now version 1 (rollback from version 2)",
    ]


def test_promote_without_a_challenger_is_a_user_error(mlflow_store):
    from denial_risk.errors import UserError

    with pytest.raises(UserError, match="no MLflow store"):
        promote()
    with tracking.run("setup"):  # creates the store
        pass
    with pytest.raises(UserError, match="no registered versions"):
        promote()
